// The shared helper of madoguchi's browser tests: Debian's chromium (/usr/bin/chromium)
// driven by playwright-core, against a real server the Rust test started.
//
// A test file is an ES module that calls `run` once:
//
//   import { run, assert } from './lib/harness.mjs';
//   run('my-page', async ({ page, env, shot, newPage }) => {
//     await page.goto(env.http + '/console/');
//     await shot(page, 'my-page');            // target/browser/my-page.png
//     assert.equal(await page.title(), '…');
//   });
//
// `run` launches one browser (a fresh, empty profile: playwright makes a new temporary
// --user-data-dir for every launch), gives the test a page in a Japanese, Asia/Tokyo
// context, and exits 0 when the body resolves, 1 when it throws (after a screenshot of
// every open page, named `<test>-failure-N.png`) or when it runs past its time limit. The
// Rust side (tests/src/browser.rs) fails the cargo test on any non-zero exit.
//
// Environment (set by tests/src/browser.rs):
//   MADOGUCHI_HTTP        base URL of the server's HTTP port, e.g. http://127.0.0.1:41234
//   MADOGUCHI_SIP         the server's SIP address, host:port
//   MADOGUCHI_TOKEN       an admin bearer token for API calls outside the browser (optional)
//   MADOGUCHI_SHOTS       where screenshots go (default: <repo>/target/browser)
//   MADOGUCHI_BROWSER_MS  the whole test's time limit in ms (default 180000)
//   MADOGUCHI_SIPP_PORTS  "sip:media,…" port pairs for placeCall (BrowserTest::sipp_ports)
//   plus any test-specific variables the Rust test passes (read them from env.vars).

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export { assert };

/// The flags every run uses (TEAM.md): no sandbox (root in CI), no GPU, nothing that would
/// reach the network by itself (a closed-network product is tested like one).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A test plays audio with no user gesture and no sound card.
  '--autoplay-policy=no-user-gesture-required',
  // Chromium's own widgets (date pickers, file inputs) in Japanese, as a user here sees them.
  '--lang=ja',
];

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');

export const env = {
  http: (process.env.MADOGUCHI_HTTP || '').replace(/\/$/, ''),
  sip: process.env.MADOGUCHI_SIP || '',
  token: process.env.MADOGUCHI_TOKEN || '',
  shots: process.env.MADOGUCHI_SHOTS || path.join(repo, 'target', 'browser'),
  vars: process.env,
};

/// Launches chromium with the team's flags. `extraArgs` are appended (e.g. fake media
/// devices for a softphone test).
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.MADOGUCHI_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    // Chromium takes its UI language from the environment on Linux (--lang alone is not
    // enough headless): date pickers and file inputs then read as a Japanese user sees them.
    env: { ...process.env, LANG: 'ja_JP.UTF-8', LANGUAGE: 'ja' },
    timeout: 60_000,
  });
}

/// A new isolated context (own cookies) in Japanese, Japan time, with downloads allowed.
export async function newContext(browser, options = {}) {
  return browser.newContext({
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    ...options,
  });
}

/// Writes a full-page PNG to `<shots>/<name>.png` and returns its path.
export async function shot(page, name) {
  mkdirSync(env.shots, { recursive: true });
  const file = path.join(env.shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`[browser] screenshot ${file}`);
  return file;
}

/// Polls `fn` (sync or async) until it returns a truthy value; throws `what` after `ms`.
export async function until(what, fn, ms = 15_000, every = 100) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms) {
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/// A bearer-token call to the server's API from Node (not the browser): for set-up and for
/// checking what the page shows against what the API says.
export async function api(method, route, body, token = env.token) {
  const headers = { Authorization: `Bearer ${token}` };
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      payload = body;
    } else {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
  }
  const res = await fetch(env.http + route, { method, headers, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}

const sippPorts = (process.env.MADOGUCHI_SIPP_PORTS || '').split(',').filter(Boolean);

/// Places one call with Debian's sipp (its built-in `uac` scenario: INVITE, ACK, hold
/// `holdMs`, BYE) to `number` on the server, with Call-ID `callId`; resolves when sipp exits
/// 0, rejects with sipp's output otherwise. Each call takes a port pair the Rust side
/// reserved (`BrowserTest::sipp_ports(n)`).
export function placeCall(number, callId, holdMs = 1500) {
  const pair = sippPorts.shift();
  if (!pair) return Promise.reject(new Error('no sipp ports left: reserve more with BrowserTest::sipp_ports(n)'));
  const [port, media] = pair.split(':');
  const args = [env.sip, '-sn', 'uac', '-s', number, '-i', '127.0.0.1', '-p', port, '-mp', media,
    '-m', '1', '-d', String(holdMs), '-cid_str', `${callId}-%u`, '-nostdin', '-timeout', '40s', '-timeout_error'];
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out = (out + d).slice(-4000); });
    child.stderr.on('data', (d) => { out = (out + d).slice(-4000); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(`${callId}-1`) : reject(new Error(`sipp exited ${code}: ${out}`))));
  });
}

/// Runs one browser test (see the top of this file). Call it once per file.
/// `options.args`: extra Chromium flags (e.g. `--use-fake-device-for-media-stream`);
/// `options.context`: options of the first context (e.g. `{ permissions: ['microphone'] }`).
export function run(name, body, options = {}) {
  const limit = Number(process.env.MADOGUCHI_BROWSER_MS || 180_000);
  let browser;
  const pages = [];
  const timer = setTimeout(async () => {
    console.error(`[browser] ${name}: time limit of ${limit} ms reached`);
    await failureShots(name, pages);
    process.exit(2);
  }, limit);
  (async () => {
    if (!env.http) throw new Error('MADOGUCHI_HTTP is not set (run through tests/src/browser.rs)');
    browser = await launch(options.args || []);
    const context = await newContext(browser, options.context || {});
    const newPage = async (ctx = context) => {
      const p = await ctx.newPage();
      pages.push(p);
      p.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      p.on('console', (m) => {
        if (m.type() === 'error') console.error(`[console error] ${m.text()}`);
      });
      return p;
    };
    const page = await newPage();
    const ctx = { browser, context, page, newPage, newContext: (o) => newContext(browser, o), env, shot, until, api, assert, placeCall };
    await body(ctx);
  })()
    .then(async () => {
      clearTimeout(timer);
      await browser?.close();
      console.log(`[browser] ${name}: passed`);
      process.exit(0);
    })
    .catch(async (e) => {
      clearTimeout(timer);
      console.error(`[browser] ${name}: FAILED\n${e?.stack || e}`);
      await failureShots(name, pages);
      await browser?.close().catch(() => {});
      process.exit(1);
    });
}

async function failureShots(name, pages) {
  let n = 0;
  for (const p of pages) {
    n += 1;
    try {
      if (!p.isClosed()) await shot(p, `${name}-failure-${n}`);
    } catch {
      /* best effort */
    }
  }
}
