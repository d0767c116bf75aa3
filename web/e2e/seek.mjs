// Seeking into recorded footage, the gateway beside mediamtx in one run:
//   timeline  a click on the wall tile's 回放 timeline → the first frame at
//             the new time painted (Playback.seekLog: click to
//             requestVideoFrameCallback)
//   video     the gateway's /playback URL set on a plain <video>
//   mediamtx  mediamtx's playback server /get URL set on a plain <video>
// The same SE_SEEKS targets (a fixed pseudo-random spread over the footage
// both recorded) for each, one after another. Prints one JSON line.
//   SE_BASE, SE_USER, SE_PASS (an admin: every camera is in view), SE_CAMERA, SE_MTX (the
//   playback server's base URL), SE_MTX_PATH, SE_SEEKS (20), SE_DURATION
//   (seconds asked of each plain <video>, 3600).
import { launch, signIn, sleep } from './lib.mjs';

const base = process.env.SE_BASE, cam = process.env.SE_CAMERA;
const mtx = process.env.SE_MTX, mtxPath = process.env.SE_MTX_PATH;
const n = +(process.env.SE_SEEKS || 20), duration = +(process.env.SE_DURATION || 3600);
const tile = '.tile[data-tile="0"]';

// A fixed spread of targets in [from, to): the same on every run.
function targets(from, to) {
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => Math.round(from + rnd() * (to - from)));
}

const stats = (xs) => {
  const v = xs.filter(x => x >= 0).sort((a, b) => a - b);
  const q = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  return { n: v.length, failed: xs.length - v.length, median: q(0.5), p95: q(0.95), max: v[v.length - 1], min: v[0] };
};

// plain sets url(ms) on a fresh <video> per target and times the first
// painted frame; it also reports that frame's media time. The <video> is
// as large as the tile's picture, so each way paints as many pixels
// (without a GPU, Chromium scales and composites in software).
async function plain(page, list, url, size) {
  return page.evaluate(async ({ list, urls, size }) => {
    const out = [];
    for (let i = 0; i < list.length; i++) {
      const v = document.createElement('video');
      v.muted = true;
      v.autoplay = true;
      v.playsInline = true;
      Object.assign(v.style, { position: 'fixed', left: '0', top: '0', width: `${size.w}px`, height: `${size.h}px`, zIndex: 100 });
      document.body.append(v);
      const r = await new Promise(resolve => {
        const t0 = performance.now();
        v.requestVideoFrameCallback((now, meta) => resolve({ ms: Math.round(performance.now() - t0), offset: meta.mediaTime }));
        v.onerror = () => resolve({ ms: -1, error: v.error && v.error.message });
        setTimeout(() => resolve({ ms: -1, error: 'timeout' }), 10000);
        v.src = urls[i];
      });
      v.removeAttribute('src');
      v.load();
      v.remove();
      out.push(r);
      await new Promise(r => setTimeout(r, 300));
    }
    return out;
  }, { list, urls: list.map(url), size });
}

const out = { seeks: n };
const b = await launch({ viewport: { width: 1400, height: 900 } });
try {
  const page = b.page;
  await signIn(page, `${base}/?layout=1`, process.env.SE_USER, process.env.SE_PASS);
  await page.waitForFunction(() => window.__sharpeyes?.tiles[0]?.firstFrameMs > 0, null, { timeout: 20000 });
  await page.hover(tile);
  await page.click(`${tile} .pbopen`);
  await page.waitForFunction(() => window.__sharpeyes.tiles[0].pb?.seekLog.length > 0, null, { timeout: 20000 });
  const spans = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.spans);
  const span = spans.reduce((a, s) => (s.end - s.start > a.end - a.start ? s : a));
  out.footage = { start: new Date(span.start).toISOString(), minutes: +((span.end - span.start) / 6e4).toFixed(1), spans: spans.length };
  // Targets keep 2 minutes clear of either end (mediamtx's newest segment
  // is still being written and not yet served).
  const list = targets(span.start + 60000, span.end - 120000);

  // The timeline, zoomed in until about an hour fills it.
  for (let i = 0; i < 8; i++) {
    const s = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.span);
    if (s <= 2 * 3600e3) break;
    await page.click(`${tile} button[data-zoom="in"]`);
  }
  out.viewMinutes = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.span / 6e4);
  const timeline = [];
  for (const target of list) {
    const { x, y, k } = await page.evaluate((target) => {
      const pb = window.__sharpeyes.tiles[0].pb;
      pb.end = Math.min(Date.now(), target + pb.span / 2);
      pb.draw();
      const r = pb.canvas.getBoundingClientRect();
      return { x: r.left + pb.xOf(target, r.width), y: r.top + r.height * 0.7, k: pb.seekLog.length };
    }, target);
    await page.mouse.click(x, y);
    await page.waitForFunction((k) => window.__sharpeyes.tiles[0].pb.seekLog.length > k, k, { timeout: 15000 });
    const got = await page.evaluate(() => { const l = window.__sharpeyes.tiles[0].pb.seekLog; return l[l.length - 1]; });
    timeline.push({ ms: got.ms, at: got.at, target, offset: got.offset, error: got.error });
    await sleep(500);
  }
  out.timeline = { ...stats(timeline.map(s => s.ms)), samples: timeline.map(s => s.ms),
    maxMissSeconds: Math.max(...timeline.map(s => Math.abs(s.at - s.target) / 1000)) };
  const size = await page.$eval(`${tile} .pbvideos video`, v => { const r = v.getBoundingClientRect(); return { w: Math.round(r.width), h: Math.round(r.height) }; });
  out.pictureSize = size;
  await page.click(`${tile} .pblive`);
  await sleep(500);

  // The same targets as plain <video>s of the gateway's /playback.
  const ours = await plain(page, list, (ms) => `/api/v1/cameras/${encodeURIComponent(cam)}/playback?start=${encodeURIComponent(new Date(ms).toISOString())}&duration=${duration}`, size);
  out.video = { ...stats(ours.map(s => s.ms)), samples: ours.map(s => s.ms), firstOffsets: ours.slice(0, 3).map(s => s.offset), errors: ours.filter(s => s.error).map(s => s.error).slice(0, 3) };

  // And of mediamtx's /get, from a page of its playback server (an opaque
  // about:blank may not load from loopback: Private Network Access).
  await page.goto(`${mtx}/list?path=${encodeURIComponent(mtxPath)}`);
  const theirs = await plain(page, list, (ms) => `${mtx}/get?path=${encodeURIComponent(mtxPath)}&start=${encodeURIComponent(new Date(ms).toISOString())}&duration=${duration}&format=fmp4`, size);
  out.mediamtx = { ...stats(theirs.map(s => s.ms)), samples: theirs.map(s => s.ms), firstOffsets: theirs.slice(0, 3).map(s => s.offset), errors: theirs.filter(s => s.error).map(s => s.error).slice(0, 3) };
} finally {
  await b.close();
}
console.log(JSON.stringify(out));
