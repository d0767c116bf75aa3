// Signs in to the live wall as SE_USER/SE_PASS in headless Chromium and
// reports what the user is shown, then forges a WHEP offer for another
// camera from inside the signed-in page: node wall.mjs URL FORGED_CAMERA_ID
// Prints one JSON line: {"listed": [...], "tiles": [...], "playing": N,
// "forged_status": N, "login_shown_before": bool}.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, forged] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'sharpeyes-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--autoplay-policy=no-user-gesture-required'],
});
let code = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', m => { if (m.type() === 'error' && !m.text().includes('401')) console.error('page:', m.text()); });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#login:not(.hidden)', { timeout: 10000 });
  const loginShown = true;
  await page.fill('#username', process.env.SE_USER);
  await page.fill('#password', process.env.SE_PASS || '');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#loginbtn')]);
  await page.waitForSelector('#cameras li[data-id]', { timeout: 10000 });
  // Wait until a tile decodes video.
  const playing = await page.evaluate(async () => {
    const deadline = performance.now() + 15000;
    while (performance.now() < deadline) {
      let n = 0;
      for (const tile of (window.__sharpeyes?.tiles || [])) {
        if (!tile.session) continue;
        const stats = await tile.session.pc.getStats();
        stats.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) n++; });
      }
      if (n > 0) return n;
      await new Promise(r => setTimeout(r, 50));
    }
    return 0;
  });
  const listed = await page.$$eval('#cameras li[data-id]', els => els.map(e => e.dataset.id));
  const tiles = await page.evaluate(() => window.__sharpeyes.tiles.filter(t => t.cam).map(t => t.cam.id));
  // A forged offer for a camera outside the user's cells, with the session and its CSRF token.
  const forgedStatus = await page.evaluate(async (id) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const r = await fetch(`/api/v1/whep/${encodeURIComponent(id)}`, { method: 'POST',
      headers: { 'Content-Type': 'application/sdp', 'X-CSRF-Token': window.__sharpeyes.csrf }, body: pc.localDescription.sdp });
    pc.close();
    return r.status;
  }, forged);
  console.log(JSON.stringify({ listed, tiles, playing, forged_status: forgedStatus, login_shown_before: loginShown }));
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
