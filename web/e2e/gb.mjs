// A GB/T 28181 channel on the wall: picked from the camera tree (its
// device's branch), it plays over WHEP (the gateway INVITEs it on this
// first viewer); its tile shows the PTZ pad, and holding ◀ moves the
// camera until released; its 回放 draws the device's recordings (设备录像)
// on a lane of their own beside the gateway's, as the API lists them.
// Prints one JSON line.
//   SE_BASE, SE_USER/SE_PASS (a dispatcher), SE_CAMERA (the channel), SE_DEVICE
import { launch, signIn, sleep, frames, shot } from './lib.mjs';

const base = process.env.SE_BASE, cam = process.env.SE_CAMERA, dev = process.env.SE_DEVICE;
const out = {};
const b = await launch({ viewport: { width: 1400, height: 900 } });
try {
  const page = b.page;
  await signIn(page, `${base}/?layout=1`, process.env.SE_USER, process.env.SE_PASS);
  // The device's branch of the tree lists the channel.
  await page.click(`li.gbdev[data-device="${dev}"]`);
  const item = `li.gbdev[data-device="${dev}"] ~ li.cam[data-id="${cam}"]`;
  await page.waitForSelector(item, { timeout: 15000 });
  await page.evaluate(() => { const t = window.__sharpeyes.tiles[0]; t.firstFrameMs = undefined; });
  await page.click(item);
  await page.waitForFunction((cam) => { const t = window.__sharpeyes.tiles[0]; return t.cam?.id === cam && t.firstFrameMs > 0; }, cam, { timeout: 20000 });
  out.firstFrameMs = await page.evaluate(() => window.__sharpeyes.tiles[0].firstFrameMs);
  await sleep(1500);
  out.framesDecoded = (await frames(page))[0];
  await page.hover('.tile[data-tile="0"]');
  out.ptzShown = await page.evaluate(() => { const p = document.querySelector('.tile[data-tile="0"] .ptz'); return !!p && getComputedStyle(p).display !== 'none'; });
  const btn = await page.$('.tile[data-tile="0"] .ptz [data-ptz="left"]');
  const box = await btn.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await sleep(400);
  await page.mouse.up();
  await sleep(500);
  await shot(page, 'wall-gb-ptz');
  // 回放: the device's spans, as /recordings?source=device has them.
  await page.click('.tile[data-tile="0"] .pbopen');
  await page.waitForFunction(() => window.__sharpeyes.tiles[0].pb?.deviceSpans.length > 0, null, { timeout: 20000 });
  out.deviceSpans = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.deviceSpans.length);
  out.apiDeviceSpans = await page.evaluate(async (cam) => {
    const pb = window.__sharpeyes.tiles[0].pb, to = Math.min(Date.now(), pb.end + 864e5), from = pb.end - pb.span - 864e5;
    const r = await fetch(`/api/v1/cameras/${cam}/recordings?source=device&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
    return (await r.json()).items.length;
  }, cam);
  out.legend = await page.$eval('.tile[data-tile="0"] .pblegend', e => e.textContent).catch(() => '');
  // The lower lane is painted blue where the device keeps footage.
  out.laneColour = await page.evaluate(() => {
    // The span nearest the middle of the view: away from the playhead.
    const pb = window.__sharpeyes.tiles[0].pb, c = pb.canvas, mid = pb.end - pb.span / 2;
    const s = pb.deviceSpans.reduce((a, b) => Math.abs((b.start + b.end) / 2 - mid) < Math.abs((a.start + a.end) / 2 - mid) ? b : a);
    pb.draw(); // as it is now (a resize clears the canvas until its next draw)
    const w = c.clientWidth, x = Math.round(pb.xOf((s.start + s.end) / 2, w)), dpr = window.devicePixelRatio || 1;
    const y = c.clientHeight - 5;
    const px = c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return [px[0], px[1], px[2]];
  });
  await shot(page, 'wall-gb-device-recordings');
  // A click on the device's lane plays its footage from there (the
  // gateway recorded none): the first picture, then 1x, then 4x.
  const target = await page.evaluate(() => {
    const pb = window.__sharpeyes.tiles[0].pb, done = pb.deviceSpans.filter(s => s.end < Date.now() - 60000);
    const s = done[done.length - 1];
    return s.start + 2 * 60000 + 7000;
  });
  const seekNo = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.seekLog.length);
  await page.evaluate((t) => window.__sharpeyes.tiles[0].pb.seek(t), target);
  await page.waitForFunction((n) => window.__sharpeyes.tiles[0].pb.seekLog.length > n, seekNo, { timeout: 20000 });
  out.deviceSeek = await page.evaluate(() => { const pb = window.__sharpeyes.tiles[0].pb; return { ...pb.seekLog[pb.seekLog.length - 1], source: pb.source, target: 0 }; });
  out.deviceSeek.target = target;
  const rateOf = async () => {
    const a = await page.evaluate(() => [performance.now(), window.__sharpeyes.tiles[0].pb.now()]);
    await sleep(2000);
    const b = await page.evaluate(() => [performance.now(), window.__sharpeyes.tiles[0].pb.now()]);
    return (b[1] - a[1]) / (b[0] - a[0]);
  };
  await sleep(500);
  out.deviceRate1 = await rateOf();
  const n4 = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.seekLog.length);
  await page.click('.tile[data-tile="0"] .pbspeed[data-speed="4"]');
  await page.waitForFunction((n) => window.__sharpeyes.tiles[0].pb.seekLog.length > n, n4, { timeout: 20000 });
  await sleep(500);
  out.deviceRate4 = await rateOf();
  out.deviceSrc = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.video.src);
  await shot(page, 'wall-gb-device-playback');
  // Back to live: the device's playback session is left.
  await page.click('.tile[data-tile="0"] .pblive');
  await sleep(300);
} finally {
  await b.close();
}
console.log(JSON.stringify(out));
