// A thin remote control for Debian's chromium, used by the ingest module's browser tests.
// It reads one JSON command per line on stdin and answers one JSON line on stdout:
//   {"op":"open","url":...,"width":1366,"height":860,"scale":1,"mobile":false,"colorScheme":"light"}
//       starts chromium on a fresh profile and opens the page (the last one is closed); answers the status
//   {"op":"eval","js":"..."}                                     the value of an expression in the page
//   {"op":"waitFor","js":"...","timeoutMs":10000}                 waits until the expression is truthy
//   {"op":"screenshot","path":"...","fullPage":true}
//   {"op":"problems"}   console errors, page errors, failed and blocked requests since the page opened
//   {"op":"quit"}
// Answers: {"ok":true,"value":...} or {"ok":false,"error":"..."}. Requests to any other origin than
// the page's are blocked (and reported as problems): the page must need no network.
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// Playwright passes --user-data-dir itself: each page gets a fresh profile folder of its own
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let context = null;
let profile = null;
let page = null;
let problems = [];

function answer(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function closePage() {
  if (context) await context.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  context = null;
  profile = null;
}

/** Starts chromium on a fresh profile with this page's viewport; the last one is closed. */
async function open(cmd) {
  await closePage();
  problems = [];
  profile = mkdtempSync(join(tmpdir(), 'millrace-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args,
    headless: true,
    timeout: 30000,
    viewport: { width: cmd.width || 1366, height: cmd.height || 860 },
    deviceScaleFactor: cmd.scale || 1,
    isMobile: Boolean(cmd.mobile),
    hasTouch: Boolean(cmd.mobile),
    colorScheme: cmd.colorScheme || 'light',
  });
  page = context.pages()[0] || (await context.newPage());
  const origin = new URL(cmd.url).origin;
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + '/') || url.startsWith('data:')) return route.continue();
    problems.push('blocked request to another origin: ' + url);
    return route.abort();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push('console ' + m.type() + ': ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => {
    const f = r.failure();
    if (!(f && f.errorText === 'net::ERR_FAILED' && problems.some((p) => p.includes(r.url())))) {
      problems.push('request failed: ' + r.url() + ' ' + (f ? f.errorText : ''));
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push('HTTP ' + r.status() + ' for ' + r.url());
  });
  const res = await page.goto(cmd.url, { waitUntil: 'load', timeout: cmd.timeoutMs || 15000 });
  return res ? res.status() : null;
}

async function run(cmd) {
  switch (cmd.op) {
    case 'open':
      return open(cmd);
    case 'eval':
      return page.evaluate(cmd.js);
    case 'waitFor': {
      // polls with evaluate (the page's CSP forbids the eval that waitForFunction uses)
      const deadline = Date.now() + (cmd.timeoutMs || 10000);
      for (;;) {
        if (await page.evaluate(cmd.js)) return true;
        if (Date.now() > deadline) throw new Error('not true within ' + (cmd.timeoutMs || 10000) + ' ms');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    case 'screenshot':
      await page.screenshot({ path: cmd.path, fullPage: cmd.fullPage !== false });
      return cmd.path;
    case 'problems':
      return problems;
    default:
      throw new Error('unknown op ' + cmd.op);
  }
}

answer({ ok: true, value: 'driver ready, chromium at ' + executablePath });
const lines = createInterface({ input: process.stdin });
try {
  for await (const line of lines) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      answer({ ok: false, error: 'not JSON: ' + line });
      continue;
    }
    if (cmd.op === 'quit') break;
    try {
      answer({ ok: true, value: (await run(cmd)) ?? null });
    } catch (e) {
      answer({ ok: false, error: String(e && e.message ? e.message : e) });
    }
  }
} finally {
  await closePage();
}
