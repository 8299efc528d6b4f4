// A queue call rings the browser of a logged-in member: a sipp caller dials the Zama DID
// and presses 2; city hall's queue (member 1001) rings the page, which shows the caller's
// number and the IVR path from the host's X-Madoguchi-Path header, answers and receives the
// caller's RTP until it hangs up.
import { run, until, assert } from './lib/harness.mjs';
import { writeFileSync } from 'node:fs';

const v = process.env;
run('softphone-queue', async ({ page, env, shot }) => {
  await page.goto(env.http + '/phone/');
  await page.fill('#ext', '1001');
  await page.fill('#pw', 'zama1001');
  await page.click('#signin');
  await until('registration', () => page.evaluate(() => window.phone.registered), 30_000);
  writeFileSync(v.SOFTPHONE_READY, 'registered\n');
  await until('the queue to ring the page', () => page.evaluate(() => window.phone.state === 'ringing'), 60_000);
  assert.match(await page.textContent('#caller'), /0462001234/);
  const path = await page.textContent('#path');
  console.log(`[softphone-queue] ringing: ${await page.textContent('#caller')} / ${path}`);
  assert.match(path, /2 → queue:mynumber/);
  // The page's waiting count (GET /phone/status.json with the SIP password) counts the
  // caller whose offer rings it.
  await until('the waiting count', async () => (await page.textContent('#waiting')) === '1', 15_000);
  await shot(page, 'softphone-queue-ringing');
  await page.click('#answer');
  await until('the call to be up', () => page.evaluate(() => window.phone.state === 'talking'), 20_000);
  // The sipp IVR caller sends silence (its keys are RFC 4733): packets, not energy.
  const s = await until('the caller\'s RTP', async () => {
    const x = await page.evaluate(() => window.phone.inboundStats());
    return x && x.packets >= 50 ? x : null;
  }, 20_000);
  console.log(`[softphone-queue] inbound ${s.packets} packets, energy ${s.energy.toFixed(4)}`);
  await page.click('#lang');
  await shot(page, 'softphone-queue-talking-en');
  assert.equal(await page.textContent('#hangup'), 'Hang up');
  assert.match(await page.textContent('#inpath'), /^IVR path: 2 → queue:mynumber/);
  await until('the caller to hang up', () => page.evaluate(() => window.phone.state === 'idle'), 60_000);
}, {
  args: [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${v.SOFTPHONE_WAV}`,
    '--allow-loopback-in-peer-connection',
  ],
  context: { permissions: ['microphone'] },
});
