// Recordings in the console, in real Chromium against `madoguchi demo` (after console.mjs,
// on the same server): find the recorded call the Rust side placed, by its caller number;
// play it (the audio element plays and its time advances, the waveform is drawn); download
// it and compare its SHA-256 with the API's; the audit page shows the listen under the
// user's name; a viewer cannot play (403, and the page says so). Screenshots in
// target/browser/console-recording*.png. Run by tests/tests/browser_console.rs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { run } from './lib/harness.mjs';
import { login, textOf } from './lib/console.mjs';

run('console-recordings', async ({ page, newContext, env, shot, until, api, assert }) => {
  const { CALLER: caller, CONSOLE_USER: admin = 'admin', CONSOLE_PASSWORD: password } = env.vars;
  assert.ok(caller && password, 'CALLER and CONSOLE_PASSWORD are set');
  await login(page, env, until, admin, password);

  // 1. Find the recorded call by its caller number.
  await page.click('nav a[data-page=recordings]');
  await page.waitForSelector('#rec-caller');
  await page.fill('#rec-caller', caller);
  await page.click('#rec-search');
  await until('the recording found by caller', async () => (await page.$$('#rec-results tbody tr.clickable')).length === 1
    && (await textOf(page, '#rec-results tbody')).includes(caller), 20_000);
  await shot(page, 'console-recordings');
  await page.click('#rec-results tbody tr.clickable');
  await page.waitForSelector('#rec-play');
  const id = decodeURIComponent(new URL(page.url()).hash.replace('#/recordings/', ''));
  assert.equal(await textOf(page, '#rec-caller-value'), caller);

  // 2. Play it in the page: the element plays and its time advances.
  await page.click('#rec-play');
  await until('the audio playing', () => page.evaluate(() => {
    const a = document.getElementById('rec-audio');
    return a && !a.paused && a.currentTime > 0;
  }), 20_000);
  const t1 = await page.$eval('#rec-audio', (a) => a.currentTime);
  await until('the playback time advancing', async () => (await page.$eval('#rec-audio', (a) => a.currentTime)) > t1 + 0.5, 10_000);
  // The waveform was drawn from the file (something brighter than the background).
  const lit = await page.$eval('#waveform', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 120) n += 1;
    return n;
  });
  assert.ok(lit > 500, `waveform drawn (${lit} bright pixels)`);
  await shot(page, 'console-recording-playing');

  // 3. Download it: the file's SHA-256 is the one the API (and the page) gives.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rec-download')]);
  const bytes = readFileSync(await download.path());
  const sha = createHash('sha256').update(bytes).digest('hex');
  const meta = await api('GET', `/api/v1/recordings/${encodeURIComponent(id)}`);
  assert.equal(meta.status, 200, meta.text);
  assert.equal(sha, meta.json.sha256, 'downloaded file matches the API SHA-256');
  assert.equal((await textOf(page, '#rec-sha256')).trim(), sha);
  assert.match(download.suggestedFilename(), /\.wav$/);

  // 4. The audit page shows the listen under the user's name.
  await page.goto(`${env.http}/console/#/audit/${encodeURIComponent(`action=recording.listen&object=${id}`)}`);
  await until('the listen in the audit log', async () => {
    const t = await textOf(page, '#audit-results tbody');
    return t.includes('recording.listen') && t.includes(admin);
  }, 20_000);
  await shot(page, 'console-recording-audit');

  // 5. A viewer cannot play: the page says 403, and the audio route answers 403.
  const viewerPass = 'viewer-pass-0467';
  const created = await api('POST', '/api/v1/console-users', { name: 'viewer1', role: 'viewer', password: viewerPass });
  assert.ok([200, 201].includes(created.status), created.text);
  const vctx = await newContext();
  const vpage = await vctx.newPage();
  await login(vpage, env, until, 'viewer1', viewerPass);
  await vpage.goto(`${env.http}/console/#/recordings/${encodeURIComponent(id)}`);
  await vpage.waitForSelector('#rec-play');
  assert.equal(await vpage.$('#rec-download'), null, 'no download link for a viewer');
  await vpage.click('#rec-play');
  await until('the 403 shown', async () => /403/.test(await textOf(vpage, '#rec-status')), 10_000);
  const status = await vpage.evaluate((u) => fetch(u).then((r) => r.status), `/api/v1/recordings/${encodeURIComponent(id)}/audio`);
  assert.equal(status, 403);
  assert.equal(await vpage.$eval('#rec-audio', (a) => a.currentSrc), '', 'nothing was loaded');
  await shot(vpage, 'console-viewer-refused');
  await vctx.close();

});
