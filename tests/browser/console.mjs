// The console in real Chromium against a real server (`madoguchi demo`), as issue 10's
// "Shown by" lists: log in (a wrong password refused); publish and roll back a scenario from
// the console and see a call take each version, with both changes in the audit log under the
// user's name; the calendar shows 2027-01-01 and 12/31 closed; every other page loads (in
// Japanese, and once in English). Recordings: console-recordings.mjs. Every page is
// screenshotted to target/browser/console-*.png. Run by tests/tests/browser_console.rs.
import { run } from './lib/harness.mjs';
import { textOf } from './lib/console.mjs';

run('console', async ({ page, env, shot, until, api, assert, placeCall }) => {
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

  // 2. Publish a new version from the console, see a call take it; roll back, see a call
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
  // Both changes are in the audit log under the user's name, with the reason.
  await page.goto(`${env.http}/console/#/audit/${encodeURIComponent('action=scenario.')}`);
  await until('the publish and rollback in the audit log', async () => {
    const t = await textOf(page, '#audit-results tbody');
    return t.includes('scenario.publish') && t.includes('scenario.rollback') && t.includes(admin);
  }, 20_000);
  await shot(page, 'console-audit');

  // 3. The calendar: 2027-01-01 and 2026-12-31 closed (year-end) for every destination.
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

  // 4. The other pages, each screenshotted once it has its data.
  await page.goto(`${env.http}/console/#/calls/${encodeURIComponent(`caller=${caller}`)}`);
  await until('the call listed', async () => (await textOf(page, '#calls-results tbody')).includes(caller), 20_000);
  await shot(page, 'console-calls');
  await page.click('#calls-results tbody tr.clickable');
  await page.waitForSelector('#timeline li');
  await page.waitForSelector('#ladder-wrap :is(svg, p)');
  await shot(page, 'console-call');
  for (const [p, sel] of [['prompts', 'button[data-prompt]'], ['queues', '[data-queue]'], ['users', '#staff-users td:text-is("1001")'], ['scenarios', 'table.grid tbody tr.clickable'], ['dashboard', '#dashboard-body .cards']]) {
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
