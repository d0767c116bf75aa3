// Opens the incidents & cases view in headless Chromium, prints "ready",
// then waits for a live incident (pushed over server-sent events) whose
// text contains the given kind: node cases.mjs URL KIND
// Prints one JSON line: {"seen_ms": N, "rates": [...]}.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, kind] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'sharpeyes-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(url, { waitUntil: 'load' });
  if (process.env.SE_USER) { // sign in through the page; it reloads as the user
    await page.fill('#username', process.env.SE_USER);
    await page.fill('#password', process.env.SE_PASS || '');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#loginbtn')]);
  }
  await page.click('button[data-view=cases]');
  await page.waitForSelector('#rates .rate');
  await page.waitForTimeout(1000); // the event stream is open
  console.log('ready');
  const t0 = Date.now();
  await page.waitForFunction(k => [...document.querySelectorAll('#incidents li')].some(li => li.textContent.includes(k)), kind, { timeout: 10000 });
  const rates = await page.$$eval('#rates .rate .v', els => els.map(e => e.textContent));
  console.log(JSON.stringify({ seen_ms: Date.now() - t0, rates }));
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
