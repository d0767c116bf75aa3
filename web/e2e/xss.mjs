// Script injection, tried on every screen. The test has written a payload
// (markup with data-xss, an onerror alert) into every string a user, a
// device or an integrator can set. This visits the wall (tree, tiles, tour
// box, an alarm that arrives live), the map with every tooltip open, the
// case desk and a case page, the reviews, the notifications, and the
// phone's tabs, and after each counts: dialogs, elements carrying
// data-xss, CSP violations, and whether the payload is on the screen as
// text. Prints "ready" once the wall is up (the test then posts an alarm
// and writes a line to stdin), then one JSON line.
// node xss.mjs URL CASE_ID (SE_USER/SE_PASS the dispatcher, SE_WORKER/
// SE_WORKER_PASS the grid worker, SE_LAT/SE_LON the phone's place).
import { createInterface } from 'node:readline';
import { launch, signIn, sleep } from './lib.mjs';

const [url, caseId] = process.argv.slice(2);
const out = { dialogs: [], checks: [] };
let code = 0;

async function guard(b) {
  await b.ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`));
  });
  b.page.on('dialog', d => { out.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
}

async function check(page, where) {
  await sleep(300);
  const r = await page.evaluate(() => ({
    injected: document.querySelectorAll('[data-xss]').length,
    scripts: [...document.querySelectorAll('script')].filter(s => !s.src).length,
    shown: document.body.innerText.includes('data-xss'),
    csp: window.__csp.slice(),
  }));
  out.checks.push({ where, ...r });
}

try {
  const centre = await launch({ viewport: { width: 1920, height: 1080 } });
  await guard(centre);
  try {
    const { page } = centre;
    await signIn(page, url + '/?wall=' + encodeURIComponent('巡查'), process.env.SE_USER, process.env.SE_PASS);
    await page.waitForSelector('#tree li.cam');
    await page.waitForSelector('#wall .tile[data-camera-id]');
    await page.click('#tours');
    await page.waitForSelector('#tourbox li[data-tour]');
    await page.hover('#wall .tile[data-camera-id]');
    const lines = createInterface({ input: process.stdin });
    const posted = new Promise(resolve => lines.once('line', resolve));
    console.log('ready');
    await posted;
    await page.waitForSelector('#alarms li.alarmitem', { timeout: 15000 });
    await check(page, 'wall');

    await page.evaluate(() => { location.hash = '#map'; });
    await page.waitForSelector('#map .leaflet-interactive', { timeout: 15000 });
    await page.waitForFunction(() => { const m = window.__sharpeyes.map; let n = 0; m.caseLayer.eachLayer(() => n++); return n > 0; }, null, { timeout: 10000 });
    const opened = await page.evaluate(() => {
      const m = window.__sharpeyes.map;
      let n = 0;
      for (const layer of [m.cellLayer, m.camLayer, m.caseLayer]) layer.eachLayer(l => { if (l.getTooltip()) { l.openTooltip(); n++; } });
      return n;
    });
    out.tooltips = opened;
    await page.click('#maplist li');
    await check(page, 'map');

    await page.evaluate(id => { location.hash = `#desk/${id}`; }, caseId);
    await page.waitForSelector('#casepage h2', { timeout: 15000 });
    await page.waitForSelector('#audit tr');
    const act = await page.$('#casepage button.act');
    if (act) await act.click();
    await check(page, 'desk');

    await page.evaluate(() => { location.hash = '#reports'; });
    await page.waitForSelector('#report tbody tr', { timeout: 15000 });
    await check(page, 'reports');

    await page.click('#bell');
    await page.waitForSelector('#notifications li[data-case-id]', { timeout: 15000 });
    await check(page, 'notifications');
  } finally { await centre.close(); }

  const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    geolocation: { latitude: +process.env.SE_LAT, longitude: +process.env.SE_LON }, permissions: ['geolocation'] });
  await guard(phone);
  try {
    const { page } = phone;
    await signIn(page, url + '/m/', process.env.SE_WORKER, process.env.SE_WORKER_PASS);
    await page.waitForSelector('#nearby li.mcam', { timeout: 15000 });
    await page.click('#nearby li.mcam');
    await check(page, 'phone nearby');
    await page.click('nav.mtabs button[data-tab="myCells"]');
    await page.waitForSelector('#mycams li.mcam');
    await check(page, 'phone my cells');
    await page.click('nav.mtabs button[data-tab="myCases"]');
    await page.waitForSelector('#mycases li.mcase');
    await check(page, 'phone my cases');
    await page.click('nav.mtabs button[data-tab="report"]');
    await page.waitForSelector('#newcase');
    await page.click('#bell');
    await check(page, 'phone report and notifications');
  } finally { await phone.close(); }
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  process.exit(code);
}
