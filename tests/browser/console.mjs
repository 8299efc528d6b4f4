// The console in real Chromium against a real server (`madoguchi demo`), as issue 10's
// "Shown by" lists: log in (a wrong password refused); find the recorded call the Rust side
// placed by its caller number; play it (the audio element plays and its time advances);
// download it and compare its SHA-256 with the API's; the audit page shows the listen under
// the user's name; a viewer cannot play (403); publish and roll back a scenario from the
// console and see a call take each version; the calendar shows 2027-01-01 and 12/31 closed.
// Every page is screenshotted to target/browser/console-*.png.
// Run by tests/tests/browser_console.rs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { run } from './lib/harness.mjs';

const textOf = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => '');

async function login(page, env, until, user, password) {
  await page.goto(`${env.http}/console/`);
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await until(`${user} logged in`, () => page.$('#current-user'), 20_000);
}

run('console', async ({ page, newContext, env, shot, until, api, assert, placeCall }) => {
  const { CALLER: caller, DID: did, CONSOLE_USER: admin = 'admin', CONSOLE_PASSWORD: password } = env.vars;
  assert.ok(caller && did && password, 'CALLER, DID and CONSOLE_PASSWORD are set');

  // 1. Log in: a wrong password is refused in words, the right one opens the dashboard.
  await page.goto(`${env.http}/console/`);
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', admin);
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-submit');
  await until('the refusal', async () => /ユーザー名またはパスワードが違います/.test(await textOf(page, '#login-message')));
  assert.equal(await page.$('#current-user'), null, 'a wrong password does not log in');
  await shot(page, 'console-login-refused');
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#dashboard-body .cards', { timeout: 20_000 });
  assert.match(await textOf(page, '#current-user'), new RegExp(admin));
  await shot(page, 'console-dashboard');

  // 2. Find the recorded call by its caller number.
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

  // 3. Play it in the page: the element plays and its time advances.
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

  // 4. Download it: the file's SHA-256 is the one the API (and the page) gives.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rec-download')]);
  const bytes = readFileSync(await download.path());
  const sha = createHash('sha256').update(bytes).digest('hex');
  const meta = await api('GET', `/api/v1/recordings/${encodeURIComponent(id)}`);
  assert.equal(meta.status, 200, meta.text);
  assert.equal(sha, meta.json.sha256, 'downloaded file matches the API SHA-256');
  assert.equal((await textOf(page, '#rec-sha256')).trim(), sha);
  assert.match(download.suggestedFilename(), /\.wav$/);

  // 5. The audit page shows the listen under the user's name.
  await page.goto(`${env.http}/console/#/audit/${encodeURIComponent(`action=recording.listen&object=${id}`)}`);
  await until('the listen in the audit log', async () => {
    const t = await textOf(page, '#audit-results tbody');
    return t.includes('recording.listen') && t.includes(admin);
  }, 20_000);
  await shot(page, 'console-audit');

  // 6. A viewer cannot play: the page says 403, and the audio route answers 403.
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

  // 7. Publish a new version from the console, see a call take it; roll back, see a call
  // take the old one.
  const live = await api('GET', '/api/v1/scenarios/zama-mynumber');
  const v1 = live.json.live.version;
  const doc = (await api('GET', `/api/v1/scenarios/zama-mynumber/versions/${v1}`)).json;
  doc.title = `${doc.title} (ブラウザ試験)`;
  const up = await api('POST', `/api/v1/scenarios?why=${encodeURIComponent('browser test v2')}`, JSON.stringify(doc));
  assert.equal(up.status, 201, up.text);
  const v2 = up.json.version;
  await page.goto(`${env.http}/console/#/scenarios/zama-mynumber`);
  await page.waitForSelector(`button[data-action=publish][data-version="${v2}"]`);
  await page.waitForSelector('#scenario-graph');
  await page.fill('#scenario-why', 'ブラウザ試験: 新しい版を公開');
  await page.click(`button[data-action=publish][data-version="${v2}"]`);
  await until('the publish confirmed', async () => (await textOf(page, '#scenario-message')).includes(`v${v2}`), 20_000);
  await shot(page, 'console-scenario-published');
  const versionOf = async (callId) => until(`the call record of ${callId}`, async () => {
    const r = await api('GET', `/api/v1/calls/${encodeURIComponent(callId)}`);
    return r.status === 200 && r.json.scenario_version;
  }, 30_000);
  assert.equal(await versionOf(await placeCall(did, 'console-v2')), v2, 'a new call takes the published version');
  await page.selectOption('#diff-a', String(v1));
  await page.selectOption('#diff-b', String(v2));
  await page.click('#diff-show');
  await until('the diff', async () => (await textOf(page, '#diff')).includes('ブラウザ試験'));
  await page.fill('#scenario-why', 'ブラウザ試験: 元の版に戻す');
  await page.click(`button[data-action=rollback][data-version="${v1}"]`);
  await until('the rollback confirmed', async () => (await textOf(page, '#scenario-message')).includes(`v${v1}`), 20_000);
  assert.equal(await versionOf(await placeCall(did, 'console-v1')), v1, 'a new call takes the version rolled back to');
  await page.selectOption('#diff-a', String(v1));
  await page.selectOption('#diff-b', String(v2));
  await page.click('#diff-show');
  await until('the diff', async () => (await textOf(page, '#diff')).includes('ブラウザ試験'));
  await shot(page, 'console-scenario');

  // 8. The calendar: 2027-01-01 and 2026-12-31 closed (year-end) for every destination.
  for (const [month, day] of [['2027-01', '2027-01-01'], ['2026-12', '2026-12-31']]) {
    await page.goto(`${env.http}/console/#/hours/${encodeURIComponent(`scenario=zama-mynumber&month=${month}`)}`);
    await page.waitForSelector(`td[data-date="${day}"]`, { timeout: 20_000 });
    const states = await page.$$eval(`td[data-date="${day}"]`, (tds) => tds.map((t) => t.dataset.state));
    assert.ok(states.length >= 2, `${day} shown for each destination`);
    assert.deepEqual([...new Set(states)], ['year_end'], `${day} is a year-end closure: ${states}`);
    await shot(page, `console-hours-${month}`);
  }
  const open = await page.$$eval('td[data-date="2026-12-28"]', (tds) => tds.map((t) => t.dataset.state));
  assert.deepEqual([...new Set(open)], ['open'], 'a working Monday before the closure is open');

  // 9. The other pages, each screenshotted once it has its data.
  await page.goto(`${env.http}/console/#/calls/${encodeURIComponent(`caller=${caller}`)}`);
  await until('the call listed', async () => (await textOf(page, '#calls-results tbody')).includes(caller), 20_000);
  await shot(page, 'console-calls');
  await page.click('#calls-results tbody tr.clickable');
  await page.waitForSelector('#timeline li');
  await page.waitForSelector('#ladder-wrap :is(svg, p)');
  await shot(page, 'console-call');
  for (const [p, sel] of [['prompts', 'button[data-prompt]'], ['queues', '[data-queue]'], ['users', '#console-users table'], ['scenarios', 'table.grid tbody tr.clickable'], ['dashboard', '#dashboard-body .cards']]) {
    await page.goto(`${env.http}/console/#/${p}`);
    await page.waitForSelector(sel, { timeout: 20_000 });
    await shot(page, `console-${p}`);
  }
  // English switch, then log out.
  await page.click('#lang');
  await page.waitForSelector('nav a[data-page=dashboard]:text("Dashboard")');
  await shot(page, 'console-dashboard-en');
  await page.click('#lang');
  await page.click('#logout');
  await page.waitForSelector('#login-user');
});
