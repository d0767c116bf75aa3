// Shared by the end-to-end scripts: Debian's chromium driven by
// playwright-core (never a downloaded browser), sign-in through the page,
// and reading what each tile decodes.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

// launch opens a browser with a profile of its own (its own cookies: one
// person per launch); close() removes the profile.
export async function launch(opts = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'sharpeyes-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: join(dirname(fileURLToPath(import.meta.url)), 'chromium.sh'), headless: true, args: ARGS, ...opts });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', e => console.error('pageerror:', e.message));
  page.on('console', m => { if (m.type() === 'error' && !m.text().includes('401')) console.error('page:', m.text(), m.location().url); });
  return { ctx, page, close: async () => { await ctx.close(); rmSync(profile, { recursive: true, force: true }); } };
}

// signIn loads url, signs in on the sign-in overlay and waits for the
// page to reload as the user.
export async function signIn(page, url, user, pass) {
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#username', { timeout: 10000 });
  await page.fill('#username', user);
  await page.fill('#password', pass || '');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#loginbtn')]);
}

// frames reads framesDecoded of every tile's WHEP session, by tile index.
export function frames(page) {
  return page.evaluate(async () => Promise.all((window.__sharpeyes?.tiles || []).map(async tile => {
    if (!tile.session) return 0;
    let n = 0;
    (await tile.session.pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded || 0; });
    return n;
  })));
}

// shot saves a screenshot into SE_SHOTS (when set) as name.png.
export async function shot(page, name) {
  const dir = process.env.SE_SHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

export const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// upload is a file for setInputFiles, read here and handed over as bytes:
// the browser runs as another user (chromium.sh) and may not read the
// test's temporary files itself.
const TYPES = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif', '.webp': 'image/webp',
  '.txt': 'text/plain', '.pdf': 'application/pdf', '.html': 'text/html', '.svg': 'image/svg+xml' };
export function upload(path) {
  return { name: basename(path), mimeType: TYPES[extname(path).toLowerCase()] || 'application/octet-stream', buffer: readFileSync(path) };
}
