// The dispatcher's 16-tile wall through an event burst. Signs in, waits
// for every tile to decode, prints "ready"; the test then sends its burst
// and writes one JSON line to stdin: {"alarms": [case ids], "burst_ms": N}.
// Meanwhile the page's long tasks are recorded (PerformanceObserver) and a
// script call is timed every 100 ms. At the end every tile must still
// decode, and every alarm case be in the wall's alarm list. Prints one
// JSON line. node burst.mjs URL (SE_USER/SE_PASS sign in).
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { launch, signIn, frames, shot, sleep } from './lib.mjs';

const [url] = process.argv.slice(2);
const b = await launch({ viewport: { width: 1920, height: 1080 } });
const out = {};
let code = 0;
try {
  const { page } = b;
  // Long tasks from the very start of every page load.
  await b.ctx.addInitScript(() => {
    window.__longtasks = [];
    try {
      new PerformanceObserver(l => l.getEntries().forEach(e => window.__longtasks.push({ at: e.startTime, ms: e.duration })))
        .observe({ type: 'longtask', buffered: true });
    } catch (e) { window.__longtasks = null; }
    // What the long frames ran (Long Animation Frames): kept for the log.
    window.__loaf = [];
    try {
      new PerformanceObserver(l => l.getEntries().forEach(e => {
        if (e.duration < 100) return;
        window.__loaf.push({ at: Math.round(e.startTime), ms: Math.round(e.duration), block: Math.round(e.blockingDuration),
          render: Math.round(e.renderStart ? e.startTime + e.duration - e.renderStart : 0),
          layout: Math.round(e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0),
          scripts: e.scripts.map(x => ({ ms: Math.round(x.duration), fn: x.sourceFunctionName, src: (x.sourceURL || '').split('/').pop() + ':' + x.sourceCharPosition, by: x.invoker, forced: Math.round(x.forcedStyleAndLayoutDuration) })) });
      })).observe({ type: 'long-animation-frame', buffered: true });
    } catch (e) { /* not in this browser */ }
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await signIn(page, url, process.env.SE_USER, process.env.SE_PASS);
  await page.waitForSelector('#wall .tile[data-camera-id]');
  let f = [];
  for (let i = 0; i < 300; i++) { f = await frames(page); if (f.length === 16 && f.every(n => n > 0)) break; await sleep(100); }
  out.tiles_before = f.filter(n => n > 0).length;
  const lines = createInterface({ input: process.stdin });
  const said = new Promise(resolve => lines.once('line', l => resolve(JSON.parse(l))));
  const t0 = await page.evaluate(() => performance.now());
  // SE_PROFILE=file.cpuprofile: Chromium's sampling profile of the page
  // through the burst (for finding what a long task was).
  let cdp = null;
  if (process.env.SE_PROFILE) {
    cdp = await b.ctx.newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
  }
  // SE_TRACE=file.json: a Chromium trace (every thread's tasks, native
  // calls included) through the burst.
  let tracer = null;
  if (process.env.SE_TRACE) {
    tracer = await b.ctx.newCDPSession(page);
    const events = [];
    tracer.on('Tracing.dataCollected', (e) => events.push(...e.value));
    const complete = new Promise(resolve => tracer.once('Tracing.tracingComplete', resolve));
    await tracer.send('Tracing.start', { transferMode: 'ReportEvents',
      traceConfig: { includedCategories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'v8', 'webrtc', 'media', 'cc', 'renderer.scheduler'] } });
    tracer.finish = async () => { await tracer.send('Tracing.end'); await complete; writeFileSync(process.env.SE_TRACE, JSON.stringify(events)); };
  }
  // Between the tiles' first frames and the burst the page idles: a spare
  // peer connection is made then, for the burst's first switch.
  await page.waitForFunction(() => window.__sharpeyes.whepStats().spares > 0, null, { timeout: 30000 });
  console.log('ready');

  // A script call every 100 ms while the burst runs: how long the page
  // takes to answer.
  let probing = true;
  const rtts = [];
  const probe = (async () => {
    while (probing) {
      const s = Date.now();
      await page.evaluate(() => document.querySelectorAll('#alarms li').length);
      rtts.push(Date.now() - s);
      await sleep(100);
    }
  })();
  const burst = await said;
  // Every alarm of the burst reaches the list.
  const want = new Set(burst.alarms);
  let listed = 0;
  for (let i = 0; i < 200; i++) {
    listed = await page.evaluate(ids => window.__sharpeyes.alarms.filter(a => ids.includes(a.case_id)).length, [...want]);
    if (listed === want.size) break;
    await sleep(100);
  }
  out.alarms_expected = want.size;
  out.alarms_listed = listed;
  out.alarm_rows = await page.$$eval('#alarms li.alarmitem', els => els.length);
  out.alarm_more = await page.$eval('#alarmmore', e => e.textContent);
  // The tiles alarms took settle; then every tile must decode, and go on.
  await sleep(6000);
  probing = false;
  await probe;
  out.probe_max_ms = Math.max(...rtts);
  out.probe_n = rtts.length;
  const a = await frames(page);
  await sleep(2000);
  const z = await frames(page);
  out.tiles_decoding = z.filter((n, i) => n > (a[i] || 0)).length;
  out.tiles = z.length;
  out.alarm_tiles = await page.$$eval('#wall .tile[data-alarm]', els => els.length);
  out.switches = await page.evaluate(() => window.__sharpeyes.alarms.filter(x => x.tile >= 0).length);
  out.switch_log = await page.evaluate(() => window.__sharpeyes.switchLog);
  out.whep = await page.evaluate(() => window.__sharpeyes.whepStats());
  const tasks = await page.evaluate(() => window.__longtasks);
  out.longtasks_supported = tasks !== null;
  const during = (tasks || []).filter(x => x.at >= t0);
  out.longtasks = during.length;
  out.longtask_max_ms = Math.round(Math.max(0, ...during.map(x => x.ms)));
  out.csp = await page.evaluate(() => window.__csp);
  out.long_frames = (await page.evaluate(() => window.__loaf)).filter(x => x.at >= t0).sort((x, y) => y.ms - x.ms).slice(0, 5);
  if (tracer) await tracer.finish();
  if (cdp) {
    const { profile } = await cdp.send('Profiler.stop');
    writeFileSync(process.env.SE_PROFILE, JSON.stringify(profile));
  }
  await shot(page, 'wall-after-burst');
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await b.close();
  process.exit(code);
}
