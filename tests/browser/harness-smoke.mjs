// The harness checks itself: chromium starts with the team's flags, reaches the real
// server on loopback, renders Japanese with a CJK font (fonts-noto-cjk), and writes a
// screenshot. It also opens the console's login page (embedded in the binary, nothing
// fetched from outside). Run by tests/tests/browser_harness.rs.
import { run } from './lib/harness.mjs';

run('harness-smoke', async ({ page, env, shot, assert, until }) => {
  const res = await page.request.get(env.http + '/api/v1/health');
  assert.equal(res.status(), 200, 'the health route answers the browser');
  const outside = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(env.http)) outside.push(r.url());
  });
  // `/` leads to the console; without a session it shows the login form, in Japanese.
  await page.goto(env.http + '/');
  assert.equal(new URL(page.url()).pathname, '/console/');
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  await page.waitForSelector('#login-user', { timeout: 20_000 });
  assert.match(await page.textContent('form.login'), /ログイン/);
  await until('the CJK font', () => page.evaluate(() => document.fonts.check('16px "Noto Sans CJK JP"')), 5_000);
  // A glyph the fallback (tofu) box would draw narrow: a CJK font gives each of the 12
  // characters a full-width advance.
  const width = await page.$eval('form.login h1', (e) => {
    const r = document.createRange();
    r.selectNodeContents(e);
    return r.getBoundingClientRect().width;
  });
  assert.ok(width > 150, `Japanese text laid out (${width}px)`);
  await shot(page, 'console-login');
  assert.deepEqual(outside, [], 'nothing is fetched from outside the server');
});
