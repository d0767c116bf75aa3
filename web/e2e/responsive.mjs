// A newcomer opening the wall the moment a gateway starts: sign in, then
// for SECONDS time a script call into the page every 100 ms and record
// the page's long tasks. Prints one JSON line: the slowest answer, the
// longest task, the tiles decoding at the end.
// node responsive.mjs URL SECONDS (SE_USER/SE_PASS sign in).
import { launch, signIn, frames, sleep } from './lib.mjs';

const [url, seconds] = process.argv.slice(2);
const b = await launch({ viewport: { width: 1920, height: 1080 } });
const out = {};
let code = 0;
try {
  const { page } = b;
  await b.ctx.addInitScript(() => {
    window.__longtasks = [];
    new PerformanceObserver(l => l.getEntries().forEach(e => window.__longtasks.push(e.duration))).observe({ type: 'longtask', buffered: true });
  });
  const t0 = Date.now();
  await signIn(page, url, process.env.SE_USER, process.env.SE_PASS);
  out.signed_in_ms = Date.now() - t0;
  const rtts = [];
  const until = Date.now() + 1000 * +seconds;
  while (Date.now() < until) {
    const s = Date.now();
    await page.evaluate(() => document.querySelectorAll('#wall .tile').length);
    rtts.push(Date.now() - s);
    await sleep(100);
  }
  out.probes = rtts.length;
  out.probe_max_ms = Math.max(...rtts);
  out.longtask_max_ms = Math.round(Math.max(0, ...await page.evaluate(() => window.__longtasks)));
  out.tiles_decoding = (await frames(page)).filter(n => n > 0).length;
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await b.close();
  process.exit(code);
}
