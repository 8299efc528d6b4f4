// The softphone places a call: 1001 in Chromium dials the Zama DID, hears the IVR (WebRTC
// inbound audio), presses 2 on the page's keypad (JsSIP sends SIP INFO), is put through the
// city hall queue to 1002 (a sipp device), then holds and resumes from the page (re-INVITEs
// answered by the host's WebRTC leg), and hangs up. tests/tests/softphone.rs checks 1002
// answered and got the BYE, and the call record's key and outcome.
import { run, until, assert } from './lib/harness.mjs';

const v = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
run('softphone-ivr', async ({ page, env, shot, api }) => {
  await page.goto(env.http + '/phone/');
  await page.fill('#ext', '1001');
  await page.fill('#pw', 'zama1001');
  await page.click('#signin');
  await until('registration', () => page.evaluate(() => window.phone.registered), 30_000);
  await page.fill('#dial', v.SOFTPHONE_DID);
  await page.click('#call');
  await until('the IVR to answer', () => page.evaluate(() => window.phone.state === 'talking'), 30_000);
  const t0 = Date.now();
  const heard = await until('the IVR prompts (inbound audio)', async () => {
    const s = await page.evaluate(() => window.phone.inboundStats());
    return s && s.packets >= 50 && s.energy > 0.0001 ? s : null;
  }, 20_000);
  console.log(`[softphone-ivr] IVR audio: ${heard.packets} packets, energy ${heard.energy.toFixed(4)}`);
  await shot(page, 'softphone-ivr-menu');
  // The notice (4.1 s) and the greeting (4.5 s) play first; the main menu collects after
  // them: the key goes 2.4 s into the menu.
  await sleep(Math.max(0, 11_000 - (Date.now() - t0)));
  await page.click('#pad button[data-key="2"]');
  console.log('[softphone-ivr] pressed 2');
  // Transfer announcement, then 1002 answers: wait for the host to report the bridge.
  await until('1002 (queue mynumber) on the call', async () => {
    const q = await api('GET', '/api/v1/queues');
    const members = q.json && q.json.queues[0].live.members;
    return members && members.some(([m, s]) => m === '1002' && s.state === 'on-call');
  }, 40_000, 300);
  await sleep(2000);
  await page.click('#hold');
  await until('hold', () => page.evaluate(() => window.phone.held === true), 15_000);
  await shot(page, 'softphone-ivr-held');
  // On hold (our sendonly, the host's recvonly) the host sends nothing to the page.
  await sleep(500);
  const h1 = await page.evaluate(() => window.phone.inboundStats());
  await sleep(2000);
  const h2 = await page.evaluate(() => window.phone.inboundStats());
  console.log(`[softphone-ivr] packets while held: ${h1.packets} → ${h2.packets}`);
  assert.ok(h2.packets - h1.packets < 20, `audio while held: ${h1.packets} → ${h2.packets}`);
  await page.click('#hold');
  await until('resume', () => page.evaluate(() => window.phone.held === false), 15_000);
  const before = await page.evaluate(() => window.phone.inboundStats());
  await sleep(2000);
  const after = await page.evaluate(() => window.phone.inboundStats());
  console.log(`[softphone-ivr] packets after resume: ${before.packets} → ${after.packets}`);
  assert.ok(after.packets > before.packets + 50, `audio after resume: ${before.packets} → ${after.packets}`);
  await page.click('#hangup');
  await until('the call to end', () => page.evaluate(() => window.phone.state === 'idle'), 15_000);
}, {
  args: [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${v.SOFTPHONE_WAV}`,
    '--allow-loopback-in-peer-connection',
  ],
  context: { permissions: ['microphone'] },
});
