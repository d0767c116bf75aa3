// Recordings in the browser: 回放 on a wall tile (the timeline, seeks by
// click, speed, back to live), an exported MP4 in a <video>, the case
// page's evidence clip with its hash, 回放 from the map, and the phone
// playing a case's clip. Prints one JSON line of what it measured.
//   SE_BASE, SE_CAMERA, SE_CASE, SE_USER/SE_PASS (dispatcher),
//   SE_WORKER/SE_WORKER_PASS (the case cell's grid worker), SE_SEEKS.
import { launch, signIn, sleep, shot } from './lib.mjs';

const base = process.env.SE_BASE, cam = process.env.SE_CAMERA, caseId = process.env.SE_CASE;
const seeks = +(process.env.SE_SEEKS || 10);
const out = {};
const tile = (i = 0) => `.tile[data-tile="${i}"]`;

const desk = await launch({ viewport: { width: 1400, height: 900 } });
try {
  const page = desk.page;
  await signIn(page, `${base}/?layout=1`, process.env.SE_USER, process.env.SE_PASS);
  await page.waitForFunction(() => window.__sharpeyes?.tiles[0]?.firstFrameMs > 0, null, { timeout: 20000 });

  // 回放 on the tile.
  await page.hover(tile());
  await page.click(`${tile()} .pbopen`);
  await page.waitForFunction(() => window.__sharpeyes.tiles[0].pb?.seekLog.length > 0, null, { timeout: 20000 });
  out.first = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.seekLog[0]);
  for (let i = 0; i < 4; i++) await page.click(`${tile()} button[data-zoom="in"]`);
  out.viewMinutes = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.span / 6e4);
  const span = await page.evaluate(() => { const s = window.__sharpeyes.tiles[0].pb.spans; return s[s.length - 1]; });
  out.span = span;

  // Seeks: clicks on the timeline at times spread over the span.
  out.seeks = [];
  // (A click near an alarm or case marker plays from before it: the
  // targets keep clear of them.)
  for (let k = 0; k < seeks; k++) {
    const target = span.start + ((k + 0.5) / seeks) * (span.end - span.start - 1500);
    const { x, y, n, nearMark } = await page.evaluate((target) => {
      const pb = window.__sharpeyes.tiles[0].pb;
      pb.end = Math.max(pb.end, target + pb.span / 4); // keep the target in view
      pb.draw();
      const r = pb.canvas.getBoundingClientRect();
      const x = pb.xOf(target, r.width);
      return { x: r.left + x, y: r.top + r.height * 0.7, n: pb.seekLog.length, nearMark: pb.marks.some(m => Math.abs(pb.xOf(m.at, r.width) - x) < 12) };
    }, target);
    if (nearMark) continue;
    const asked = await page.evaluate(({ x }) => { const pb = window.__sharpeyes.tiles[0].pb, r = pb.canvas.getBoundingClientRect(); return pb.end - pb.span + ((x - r.left) / r.width) * pb.span; }, { x });
    await page.mouse.click(x, y);
    await page.waitForFunction((n) => window.__sharpeyes.tiles[0].pb.seekLog.length > n, n, { timeout: 10000 });
    const got = await page.evaluate(() => { const pb = window.__sharpeyes.tiles[0].pb; return pb.seekLog[pb.seekLog.length - 1]; });
    out.seeks.push({ ms: got.ms, offset: got.offset, asked: Math.round(asked), at: got.at });
    await sleep(300);
  }
  await shot(page, 'wall-playback');

  // A click on the alarm's marker plays from ten seconds before it.
  const mark = await page.evaluate(() => {
    const pb = window.__sharpeyes.tiles[0].pb, m = pb.marks.find(m => m.kind === 'alarm');
    if (!m) return null;
    pb.end = Math.min(Date.now(), m.at + pb.span / 2);
    pb.draw();
    const r = pb.canvas.getBoundingClientRect();
    return { at: m.at, want: pb.snap(m.at - 10000), x: r.left + pb.xOf(m.at, r.width) + 2, y: r.top + r.height * 0.7, n: pb.seekLog.length };
  });
  if (mark) {
    await page.mouse.click(mark.x, mark.y);
    await page.waitForFunction((n) => window.__sharpeyes.tiles[0].pb.seekLog.length > n, mark.n, { timeout: 10000 });
    out.markSeek = { mark: mark.at, want: mark.want, at: await page.evaluate(() => { const l = window.__sharpeyes.tiles[0].pb.seekLog; return l[l.length - 1].at; }) };
  }

  // 4×: the playhead moves four seconds a second.
  await page.evaluate((t) => window.__sharpeyes.tiles[0].pb.seek(t), span.start + 500);
  await page.click(`${tile()} .pbspeed[data-speed="4"]`);
  await sleep(500);
  const t0 = await page.evaluate(() => [performance.now(), window.__sharpeyes.tiles[0].pb.now()]);
  await sleep(2000);
  const t1 = await page.evaluate(() => [performance.now(), window.__sharpeyes.tiles[0].pb.now(), window.__sharpeyes.tiles[0].pb.video.playbackRate]);
  out.speed = { rate: t1[2], played: (t1[1] - t0[1]) / (t1[0] - t0[0]) };

  // The export link names an MP4 that plays in a <video>.
  out.exportHref = await page.evaluate(() => window.__sharpeyes.tiles[0].pb.exportHref());
  out.exported = await page.evaluate(async ({ cam, span }) => {
    const start = new Date(span.start + 1000).toISOString();
    const v = document.createElement('video');
    v.muted = true;
    v.playbackRate = 4;
    v.src = `/api/v1/cameras/${cam}/playback?start=${encodeURIComponent(start)}&duration=4&format=mp4`;
    document.body.append(v);
    const ok = await new Promise(resolve => {
      v.onended = () => resolve(true);
      v.onerror = () => resolve(false);
      v.onloadedmetadata = () => { v.playbackRate = 4; v.play(); };
      setTimeout(() => resolve(false), 15000);
    });
    const r = { ok, duration: v.duration, frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.code, width: v.videoWidth };
    v.remove();
    return r;
  }, { cam, span });

  // 直播: back to live.
  await page.click(`${tile()} .pblive`);
  await page.waitForFunction(() => !window.__sharpeyes.tiles[0].pb && window.__sharpeyes.tiles[0].firstFrameMs > 0, null, { timeout: 15000 });
  out.backLive = true;

  // The case page plays its clip and shows its hash.
  await page.evaluate((id) => { location.hash = `#desk/${id}`; }, caseId);
  await page.waitForSelector('li.clip video', { timeout: 15000 });
  out.clip = await page.evaluate(async () => {
    const v = document.querySelector('li.clip video');
    v.playbackRate = 4;
    await v.play();
    await new Promise(r => setTimeout(r, 1500));
    return { frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.code, duration: v.duration,
      sha256: document.querySelector('li.clip code.sha').textContent, download: document.querySelector('li.clip a.clipdl').getAttribute('href') };
  });
  await shot(page, 'desk-clip');

  // A camera's recordings from the map.
  await page.evaluate(() => { location.hash = '#map'; });
  await page.waitForSelector(`#maplist li[data-id="${cam}"]`, { timeout: 15000 });
  await page.click(`#maplist li[data-id="${cam}"]`);
  await page.waitForFunction(() => window.__sharpeyes.map.player.firstFrameMs > 0, null, { timeout: 15000 });
  await page.hover('.mapside .tile');
  await page.click('.mapside .tile .pbopen');
  await page.waitForFunction(() => window.__sharpeyes.map.player.pb?.seekLog.length > 0, null, { timeout: 15000 });
  out.mapSeek = await page.evaluate(() => window.__sharpeyes.map.player.pb.seekLog[0].ms);
} finally {
  await desk.close();
}

// The phone: the grid worker's case card plays the clip.
const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
try {
  const page = phone.page;
  await signIn(page, `${base}/m/`, process.env.SE_WORKER, process.env.SE_WORKER_PASS);
  await page.click('nav.mtabs button[data-tab="myCases"]');
  const btn = `li.mcase[data-case-id="${caseId}"] li.clip button.mplay`;
  await page.waitForSelector(btn, { timeout: 15000 });
  await page.click(btn);
  await page.waitForSelector(`li.mcase[data-case-id="${caseId}"] video.clipvideo`, { timeout: 5000 });
  await sleep(1500);
  out.phone = await page.evaluate((id) => {
    const v = document.querySelector(`li.mcase[data-case-id="${id}"] video.clipvideo`);
    return { frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.code, playing: !v.paused };
  }, caseId);
  await shot(page, 'phone-clip');
} finally {
  await phone.close();
}
console.log(JSON.stringify(out));
