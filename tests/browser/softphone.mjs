// The softphone (/phone/) in real Chromium: registers over SIP WebSocket as 1001 beside a
// sipp desk phone also registered as 1001, rings when a sipp caller dials 1001, answers,
// receives the caller's audio over WebRTC (getStats: packets and energy), and ends when
// the caller hangs up. The Rust side (tests/tests/softphone.rs) checks the sipp device got
// CANCEL and the recording's channels.
import { run, until, assert } from './lib/harness.mjs';
import { writeFileSync } from 'node:fs';

const v = process.env;
run('softphone', async ({ page, env, shot }) => {
  await page.goto(env.http + '/phone/');
  assert.equal(await page.getAttribute('html', 'lang'), 'ja');
  await shot(page, 'softphone-login');
  await page.fill('#ext', '1001');
  await page.fill('#pw', 'zama1001');
  await page.click('#signin');
  await until('registration', () => page.evaluate(() => window.phone.registered), 30_000);
  assert.equal(await page.textContent('#reg'), '登録済み');
  await shot(page, 'softphone-registered');
  writeFileSync(v.SOFTPHONE_READY, 'registered\n');

  await until('an incoming call', () => page.evaluate(() => window.phone.state === 'ringing'), 60_000);
  assert.match(await page.textContent('#caller'), /0462009999/);
  await shot(page, 'softphone-ringing');
  // Let both devices ring a moment, then answer with the browser's voice processing off
  // (the test compares what it sent with the recording).
  await new Promise((r) => setTimeout(r, 1000));
  await page.evaluate(() => { window.phone.rawAudio = true; });
  await page.click('#answer');
  await until('the call to be up', () => page.evaluate(() => window.phone.state === 'talking'), 20_000);
  const stats = await until('inbound audio with energy', async () => {
    const s = await page.evaluate(() => window.phone.inboundStats());
    return s && s.packets >= 100 && s.energy > 0.001 ? s : null;
  }, 20_000);
  console.log(`[softphone] inbound packets ${stats.packets}, energy ${stats.energy.toFixed(4)}, lost ${stats.lost}`);
  await shot(page, 'softphone-talking');
  writeFileSync(v.SOFTPHONE_STATS, JSON.stringify(stats));
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
