// Signs in to the live wall as SE_USER/SE_PASS and reports what the user is
// shown, then forges a WHEP offer for another camera from inside the
// signed-in page: node wall.mjs URL FORGED_CAMERA_ID
// Prints one JSON line: {"listed": [...], "tiles": [...], "playing": N,
// "forged_status": N, "map": [...]}.
import { launch, signIn, frames, shot, sleep } from './lib.mjs';

const [url, forged] = process.argv.slice(2);
const b = await launch();
let code = 0;
try {
  const { page } = b;
  await signIn(page, url, process.env.SE_USER, process.env.SE_PASS);
  await page.waitForSelector('#tree li.cam[data-id]', { timeout: 10000 });
  let playing = 0;
  for (let i = 0; i < 150 && !playing; i++) { playing = (await frames(page)).filter(n => n > 0).length; if (!playing) await sleep(100); }
  const listed = await page.$$eval('#tree li.cam[data-id]', els => els.map(e => e.dataset.id));
  const tiles = await page.$$eval('#wall .tile[data-camera-id]', els => els.map(e => e.dataset.cameraId));
  await shot(page, 'wall-grid-worker');
  // The map lists the same cameras, no more.
  await page.click('#nav button[data-view=map]');
  await page.waitForSelector('#maplist li[data-id]', { timeout: 10000 });
  const map = await page.$$eval('#maplist li[data-id]', els => els.map(e => e.dataset.id));
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
  console.log(JSON.stringify({ listed: listed.sort(), tiles: tiles.sort(), playing, forged_status: forgedStatus, map: map.sort() }));
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await b.close();
}
process.exit(code);
