// A browser that vanishes mid-call: the page answers a call, media flows, then the page is
// closed without hanging up (no BYE). The host must end the call by itself once the
// browser's RTP stops (tests/tests/softphone.rs times it and checks the recording).
import { run, until } from './lib/harness.mjs';
import { writeFileSync } from 'node:fs';

const v = process.env;
run('softphone-vanish', async ({ page, env, context }) => {
  await page.goto(env.http + '/phone/');
  await page.fill('#ext', '1001');
  await page.fill('#pw', 'zama1001');
  await page.click('#signin');
  await until('registration', () => page.evaluate(() => window.phone.registered), 30_000);
  writeFileSync(v.SOFTPHONE_READY, 'registered\n');
  await until('an incoming call', () => page.evaluate(() => window.phone.state === 'ringing'), 60_000);
  await page.click('#answer');
  await until('media', async () => {
    const x = await page.evaluate(() => window.phone.inboundStats());
    return x && x.packets >= 50;
  }, 20_000);
  // Gone: no BYE, no more RTP, no more ICE consent checks.
  await context.close();
  writeFileSync(v.SOFTPHONE_GONE, 'gone\n');
}, {
  args: [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${v.SOFTPHONE_WAV}`,
    '--allow-loopback-in-peer-connection',
  ],
  context: { permissions: ['microphone'] },
});
