// Every camera's health on the screens, against the API:
// 1. the dispatcher's camera tree: every camera's dot is the state
//    /cameras?include=status gives it (waited for, 20 s);
// 2. 设备在线率 (#health): the 30-day plot's bars are the API's days (the
//    rate of each, a known day drawn as a bar, an unknown one as a stub),
//    the offline table lists the API's offline cameras in its order;
// 3. the grid worker's phone (/m/, 离线摄像机): the cameras it lists.
// node health.mjs URL (SE_USER/SE_PASS the dispatcher, SE_WORKER/SE_WORKER_PASS
// the grid worker, SE_SHOTS). Prints one JSON line.
import { launch, signIn, shot, sleep } from './lib.mjs';

const [url] = process.argv.slice(2);
const out = {};
let code = 0;
const desk = await launch({ viewport: { width: 1600, height: 900 } });
const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
try {
  const p = desk.page;
  await signIn(p, url, process.env.SE_USER, process.env.SE_PASS);
  await p.waitForSelector('#tree li.cam', { timeout: 15000 });
  const readTree = () => p.evaluate(async () => {
    const items = (await (await fetch('/api/v1/cameras?include=status&limit=1000')).json()).items;
    return items.map(c => {
      const li = document.querySelector(`#tree li.cam[data-id="${c.id}"]`);
      return { id: c.id, api: c.status.state, reason: c.status.reason || '', dot: li ? li.querySelector('.dot').className : '',
        title: li ? li.title : '' };
    });
  });
  const deadline = Date.now() + 20000;
  for (;;) {
    out.tree = await readTree();
    if (out.tree.length && out.tree.every(r => r.dot === `dot ${r.api}`)) break;
    if (Date.now() > deadline) throw new Error('the tree dots do not match /status: ' + JSON.stringify(out.tree));
    await sleep(500);
  }
  await shot(p, 'wall-health-tree');

  // 设备在线率.
  await p.click('#nav button[data-view=health]');
  await p.waitForSelector('#hr-plot svg.rateplot rect.bar', { timeout: 10000 });
  await p.waitForSelector('#hr-offline tbody tr[data-camera]', { timeout: 10000 });
  const api = await p.evaluate(async () => (await fetch('/api/v1/health/online-rate?days=30')).json());
  out.apiDays = api.days.map(d => ({ date: d.date, rate: d.rate }));
  out.apiOffline = api.offline.map(c => c.id);
  out.bars = await p.$$eval('#hr-plot svg.rateplot rect.bar', els => els.map(e => ({ date: e.dataset.date, rate: e.dataset.rate === undefined ? null : +e.dataset.rate,
    height: +e.getAttribute('height'), cls: e.getAttribute('class'), title: e.querySelector('title').textContent })));
  out.offline = await p.$$eval('#hr-offline tbody tr[data-camera]', els => els.map(e => ({ id: e.dataset.camera, cells: [...e.cells].map(c => c.textContent) })));
  out.today = await p.$eval('#hr-today .v', e => e.textContent);
  await shot(p, 'health-panel');

  // The grid worker's phone.
  const m = phone.page;
  await signIn(m, new URL('/m/', url).href, process.env.SE_WORKER, process.env.SE_WORKER_PASS);
  await m.waitForSelector('.mtabs button[data-tab=myOffline]', { timeout: 10000 });
  await m.tap('.mtabs button[data-tab=myOffline]');
  await m.waitForSelector('#myoffline li.mcam, .none', { timeout: 10000 });
  out.phone = await m.$$eval('#myoffline li.mcam', els => els.map(e => ({ id: e.dataset.id, text: e.textContent })));
  out.phoneHead = await m.$eval('#mytoday', e => e.textContent).catch(() => '');
  await shot(m, 'phone-offline');
} catch (e) {
  out.error = String(e && e.stack || e);
  out.page = await desk.page.evaluate(() => `${location.href} ${(document.querySelector('main') || document.body).innerText.slice(0, 400)}`).catch(() => '');
  await shot(desk.page, 'health-failed').catch(() => {});
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await desk.close();
  await phone.close();
  process.exit(code);
}
