// Opens the live wall in headless Chromium and reports when the first tile
// decodes a frame: node play.mjs URL [screenshot.png]
// Prints one JSON line: {"first_decoded_ms": N, "frames_decoded": N, "tiles_playing": N}.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const [url, shot] = process.argv.slice(2);
if (!url) { console.error('usage: node play.mjs URL [screenshot.png]'); process.exit(2); }

const profile = mkdtempSync(join(tmpdir(), 'sharpeyes-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: join(dirname(fileURLToPath(import.meta.url)), 'chromium.sh'), // CHROMIUM overrides the browser
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--autoplay-policy=no-user-gesture-required'],
  viewport: { width: 1280, height: 800 },
});
let code = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', m => { if (m.type() === 'error') console.error('page:', m.text()); });
  await page.goto(url, { waitUntil: 'load' });
  if (process.env.SE_USER) { // sign in through the page; it reloads as the user
    await page.fill('#username', process.env.SE_USER);
    await page.fill('#password', process.env.SE_PASS || '');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#loginbtn')]);
  }
  // Measured in the page from navigation start, so it includes the load.
  const result = await page.evaluate(async () => {
    const deadline = performance.now() + 15000;
    while (performance.now() < deadline) {
      let frames = 0, playing = 0;
      for (const tile of (window.__sharpeyes?.tiles || [])) {
        if (!tile.session) continue;
        const stats = await tile.session.pc.getStats();
        stats.forEach(s => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) { frames += s.framesDecoded; playing++; }
        });
      }
      if (frames > 0) {
        const marks = {};
        for (const m of performance.getEntriesByType('mark')) if (!(m.name.split(':')[0] in marks)) marks[m.name.split(':')[0]] = Math.round(m.startTime);
        const nav = performance.getEntriesByType('navigation')[0];
        const tile = (window.__sharpeyes?.tiles || []).find(t => t.session);
        const ice_servers = tile ? tile.session.pc.getConfiguration().iceServers.map(s => [].concat(s.urls).join(' ')) : [];
        return { first_decoded_ms: Math.round(performance.now()), frames_decoded: frames, tiles_playing: playing,
                 load_ms: Math.round(nav ? nav.loadEventEnd : 0), marks, ice_servers };
      }
      await new Promise(r => setTimeout(r, 20));
    }
    return { first_decoded_ms: -1, frames_decoded: 0, tiles_playing: 0 };
  });
  if (shot) {
    await page.waitForTimeout(2500);
    await page.screenshot({ path: shot });
  }
  console.log(JSON.stringify(result));
  if (result.first_decoded_ms < 0) code = 1;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
