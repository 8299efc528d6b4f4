// The harness checks itself: chromium starts with the team's flags, reaches the real
// server on loopback, renders Japanese with a CJK font (fonts-noto-cjk), and writes a
// screenshot. Run by tests/tests/browser_harness.rs.
import { run } from './lib/harness.mjs';

run('harness-smoke', async ({ page, env, shot, assert }) => {
  const res = await page.request.get(env.http + '/api/v1/health');
  assert.equal(res.status(), 200, 'the health route answers the browser');
  await page.setContent(
    '<!doctype html><html lang="ja"><meta charset="utf-8"><body style="font:24px sans-serif">' +
      '<p id="t">窓口 マイナンバーカード 令和9年1月1日</p></body></html>',
  );
  // A glyph the fallback (tofu) box would draw at a fixed width: a CJK font gives a
  // full-width advance close to the font size for each of the 22 characters.
  const width = await page.$eval('#t', (e) => {
    const r = document.createRange();
    r.selectNodeContents(e);
    return r.getBoundingClientRect().width;
  });
  assert.ok(width > 300, `Japanese text laid out (${width}px)`);
  const fonts = await page.evaluate(() => document.fonts.check('24px "Noto Sans CJK JP"'));
  assert.ok(fonts, 'Noto Sans CJK JP is installed (fonts-noto-cjk)');
  await shot(page, 'harness-smoke');
});
