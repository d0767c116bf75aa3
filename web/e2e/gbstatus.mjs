// The camera tree's dots of a GB/T 28181 device's channels against what
// /status says: opens the device's branch (SE_DEVICE), waits until every
// channel's dot shows the state the API gives it, then prints one JSON
// line: each channel's dot, its data-state, its hover title, and the
// state and reason the API answered (the page's own session asking).
// node gbstatus.mjs URL (SE_USER/SE_PASS sign in).
import { launch, signIn, shot } from './lib.mjs';

const [url] = process.argv.slice(2);
const dev = process.env.SE_DEVICE;
const b = await launch({ viewport: { width: 1600, height: 900 } });
const out = {};
let code = 0;
try {
  const { page } = b;
  await signIn(page, url, process.env.SE_USER, process.env.SE_PASS);
  await page.click(`li.gbdev[data-device="${dev}"]`);
  await page.waitForSelector(`li.gbdev[data-device="${dev}"] ~ li.cam`, { timeout: 15000 });
  const read = () => page.evaluate(async (dev) => {
    const r = await fetch('/api/v1/cameras?include=status&limit=1000');
    const items = (await r.json()).items.filter(c => c.gb && c.gb.device_id === dev);
    return items.map(c => {
      const li = document.querySelector(`li.cam[data-id="${c.id}"]`);
      return { id: c.id, api: c.status.state, reason: c.status.reason || '', error: c.status.last_error || '', dot: li ? li.querySelector('.dot').className : '',
        state: li ? li.dataset.state : '', title: li ? li.title : '' };
    });
  }, dev);
  const deadline = Date.now() + 15000;
  for (;;) {
    out.rows = await read();
    if (out.rows.length && out.rows.every(r => r.dot === `dot ${r.api}`)) break;
    if (Date.now() > deadline) throw new Error('the dots do not match /status: ' + JSON.stringify(out.rows));
    await new Promise(r => setTimeout(r, 500));
  }
  await shot(page, 'wall-gb-status');
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await b.close();
  process.exit(code);
}
