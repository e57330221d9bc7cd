// Shared helpers of the browser scenarios: Debian's chromium driven by
// playwright-core, every page watched for script errors and for requests
// to any host but the server under test.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.env.PW_DIR.replace(/\/?$/, '/'));
const { chromium: pwChromium } = require('playwright-core');
/** playwright-core's chromium, for a scenario that needs its own flags. */
export const chromium = () => pwChromium;

export const URL_ = process.env.SWE_URL;
export const WORKDIR = process.env.WORKDIR;
export const SHOTS = process.env.SHOTS;
const ORIGIN = new URL(URL_).origin;
const WAIT = 20_000;

export async function launch() {
  return pwChromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

/** A page at `url` (default: a new session), with its errors collected. */
export async function open(browser, url = URL_, contextOptions = {}) {
  const context = contextOptions.context || await browser.newContext({ viewport: { width: 1280, height: 860 }, ...contextOptions });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push('console: ' + m.text()); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== ORIGIN && u.origin.replace(/^ws/, 'http') !== ORIGIN) {
      page.errors.push('request to another host: ' + r.url());
    }
  });
  page.on('dialog', (d) => d.accept());
  await page.goto(url);
  await connected(page);
  return page;
}

export async function connected(page) {
  await page.waitForSelector('#conn[data-state="open"]', { timeout: WAIT });
  // The hello was answered: the URL names the session.
  await page.waitForFunction(() => new URLSearchParams(location.search).get('s'), null, { timeout: WAIT });
}

export function noErrors(page) {
  assert.deepEqual(page.errors, [], 'no script errors and no request to another host');
}

export async function send(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => document.getElementById('input').value === '', null, { timeout: WAIT });
}

/** Waits until `n` turns of this view have ended and everything is rendered. */
export async function ended(page, n, timeout = WAIT) {
  await page.waitForFunction((n) => {
    const t = window.sweSwe?.transcript;
    return t && t.state.ended >= n && t.backlog === 0;
  }, n, { timeout }).catch(async (e) => {
    // Say what the page showed, so a failure explains itself.
    const seen = await page.evaluate(() => {
      const t = window.sweSwe?.transcript;
      return { ended: t?.state.ended, running: t?.state.running, backlog: t?.backlog, lastSeq: t?.lastSeq, url: location.href,
        conn: document.getElementById('conn')?.textContent, tail: document.getElementById('transcript')?.textContent.slice(-300) };
    }).catch(() => 'unreadable');
    throw new Error(`${e.message}; waiting for ${n} ended turns, the page shows ${JSON.stringify(seen)}`);
  });
}

export async function running(page) {
  await page.waitForSelector('#running:not([hidden])', { timeout: WAIT });
}

export const sessionOf = (page) => new URL(page.url()).searchParams.get('s');

// textContent, not innerText: an item that content-visibility has not
// painted yet has no innerText (empty reads failed 1 chat run in 6).
export const text = (page, sel = '#transcript') => page.locator(sel).first().textContent();

export async function count(page, sel) {
  return page.locator(sel).count();
}

export async function shot(page, name) {
  if (!SHOTS) return;
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
  console.log(`screenshot ${SHOTS}/${name}.png`);
}

/** Asks the Rust side (tests/browser.rs) to do `what`, and waits until it is done. */
export async function control(what) {
  process.stdout.write(`CONTROL ${what}\n`);
  // Paused after the previous answer: a 'data' listener alone would not resume it.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('data', resolve));
  // A paused stdin does not keep node alive after the scenario.
  process.stdin.pause();
}

export { assert, WAIT };
