// A grid worker's phone (390x844, geolocation mocked) and the command
// centre's desk side by side, two people in two browsers: the phone lists
// the nearest cameras first and plays one; the worker accepts, starts and
// resolves a case with a photo (a file that is not a photo refused first);
// the desk's queue and notification feed follow without a reload, and the
// dispatcher verifies the case there.
// Then the worker's own cells, a grid report handled on the spot, and a
// camera opened directly by /m/?camera=ID (and one outside the cell, not).
// node screens-phone.mjs URL '{"point": {lat, lon}, "case": ID, "photo": PATH, "notphoto": PATH,
//   "direct": ID, "forbidden": ID}'
// (SE_WORKER/SE_WORKER_PASS, SE_DESK/SE_DESK_PASS, SE_SHOTS). Prints one JSON line.
import { launch, signIn, frames, shot, sleep, upload } from './lib.mjs';

const [url, arg] = process.argv.slice(2);
const want = JSON.parse(arg);
const out = {};
const desk = await launch({ viewport: { width: 1920, height: 1080 } });
const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  geolocation: { latitude: want.point.lat, longitude: want.point.lon }, permissions: ['geolocation'] });
let code = 0;
const card = `#mycases li.mcase[data-case-id="${want.case}"]`;
// act takes one action from the case card: the button, then its form.
async function act(p, action, fill) {
  await p.click(`${card} button.act.${action}`);
  await p.waitForSelector(`${card} form.actform[data-action=${action}]`);
  if (fill) await fill(p);
  await p.click(`${card} form.actform button[type=submit]`);
}
try {
  // The desk, open on the queue before anything happens.
  await signIn(desk.page, new URL('/#desk', url).href, process.env.SE_DESK, process.env.SE_DESK_PASS);
  await desk.page.waitForSelector(`#queue li.case[data-case-id="${want.case}"]`, { timeout: 10000 });
  await desk.page.evaluate(() => { window.__noReload = true; });
  out.desk_before = await desk.page.$eval(`#queue li.case[data-case-id="${want.case}"]`, e => e.dataset.state);

  // The phone: nearby cameras, nearest first, and one tap plays one.
  const p = phone.page;
  await signIn(p, new URL('/m/', url).href, process.env.SE_WORKER, process.env.SE_WORKER_PASS);
  await p.waitForSelector('#nearby li.mcam', { timeout: 10000 });
  out.nearby = await p.$$eval('#nearby li.mcam', els => els.map(e => ({ id: e.dataset.id, dist: e.querySelector('.dist').textContent })));
  await shot(p, 'phone-nearby');
  await p.tap('#nearby li.mcam');
  let f = [0];
  for (let i = 0; i < 100 && !(f[0] > 0); i++) { await sleep(100); f = await frames(p); }
  out.playing = { camera: await p.$eval('#mplayer .tile', e => e.dataset.cameraId), frames: f[0] };
  await sleep(500);
  await shot(p, 'phone-playing');

  // My cases: accept, start, then resolve with a photo.
  await p.tap('.mtabs button[data-tab=myCases]');
  await p.waitForSelector(card, { timeout: 10000 });
  out.time_left = await p.$eval(`${card} .left`, e => e.textContent);
  await act(p, 'accept');
  await p.waitForSelector(`${card}[data-state=accepted]`);
  await act(p, 'start');
  await p.waitForSelector(`${card}[data-state=in_progress]`);
  await act(p, 'resolve', async (pg) => {
    await pg.fill(`${card} form.actform textarea[name=note]`, '占道摊位已劝离，现场已清理');
    await pg.setInputFiles(`${card} form.actform input[type=file]`, upload(want.notphoto));
  });
  await p.waitForFunction(sel => (document.querySelector(sel)?.textContent || '').length > 0, `${card} .formmsg`, { timeout: 10000 });
  out.refused = await p.$eval(`${card} .formmsg`, e => e.textContent);
  out.state_after_refusal = await p.$eval(card, e => e.dataset.state);
  await shot(p, 'phone-photo-refused');
  await p.setInputFiles(`${card} form.actform input[type=file]`, upload(want.photo));
  const t0 = Date.now();
  await p.click(`${card} form.actform button[type=submit]`);
  await p.waitForSelector(`${card}[data-state=verifying]`, { timeout: 10000 });
  await shot(p, 'phone-resolved');

  // The desk follows: queue row and notification, no reload.
  const d = desk.page;
  await d.waitForSelector(`#queue li.case[data-case-id="${want.case}"][data-state=verifying]`, { timeout: 10000 });
  out.desk_queue_ms = Date.now() - t0;
  // The feed keeps the notification (the list is drawn when it opens).
  await d.waitForFunction(id => window.__sharpeyes.feed.items.some(n => n.case_id === id && n.kind === 'verification'), want.case, { timeout: 10000, polling: 20 });
  out.desk_notification_ms = Date.now() - t0;
  out.unread = await d.$eval('#notifycount', e => e.textContent);
  await d.click('#bell');
  await d.waitForSelector(`#notifications li[data-case-id="${want.case}"][data-kind=verification]`, { timeout: 5000 });
  await shot(d, 'desk-notification');
  await d.click(`#notifications li[data-case-id="${want.case}"]`);
  await d.waitForSelector('#casephotos a', { timeout: 10000 });
  out.desk_photos = await d.$$eval('#casephotos a', els => els.length);
  await sleep(800);
  await shot(d, 'desk-case-resolved');
  const before = await d.$eval('#casestate', e => e.textContent);
  await d.click('#casepage button.act.verify');
  await d.selectOption('#casepage form.actform select[name=pass]', 'true');
  await d.click('#casepage form.actform button[type=submit]');
  await d.waitForFunction(id => !document.querySelector(`#queue li.case[data-case-id="${id}"]`), want.case, { timeout: 10000 });
  await d.waitForFunction(b => document.querySelector('#casestate').textContent !== b, before, { timeout: 10000 });
  out.desk_state = await d.$eval('#casestate', e => e.textContent);
  out.no_reload = await d.evaluate(() => window.__noReload === true);
  await shot(d, 'desk-verified');

  // My cells: the worker's cameras, and none of the next cell's.
  await p.tap('.mtabs button[data-tab=myCells]');
  await p.waitForSelector('#mycams li.mcam', { timeout: 10000 });
  out.my_cells = await p.$$eval('#mycams li.mcam', els => els.map(e => e.dataset.id).sort());
  // A grid report handled on the spot (即办), placed by the phone, with a photo.
  await p.tap('.mtabs button[data-tab=report]');
  await p.waitForSelector('#newcase');
  await p.selectOption('#newcase select[name=category]', 'environment');
  await p.fill('#newcase input[name=title]', '井盖缺失');
  await p.selectOption('#newcase select[name=handling]', 'immediate');
  await p.fill('#newcase textarea[name=resolution]', '已设置围挡并通知维修');
  await p.setInputFiles('#newcase input[type=file]', upload(want.photo));
  await p.tap('#newcase button[type=submit]');
  await p.waitForFunction(() => /C\d/.test(document.querySelector('#newcase .formmsg')?.textContent || ''), null, { timeout: 10000 });
  out.reported = (await p.$eval('#newcase .formmsg', e => e.textContent)).split(' ').pop();
  await shot(p, 'phone-report');
  // /m/?camera=ID opens a camera directly; one outside the cell does not play.
  await p.goto(new URL(`/m/?camera=${want.direct}`, url).href);
  f = [0];
  for (let i = 0; i < 100 && !(f[0] > 0); i++) { await sleep(100); f = await frames(p); }
  out.direct = { camera: await p.$eval('#mplayer .tile', e => e.dataset.cameraId || ''), frames: f[0] };
  await p.goto(new URL(`/m/?camera=${want.forbidden}`, url).href);
  await p.waitForSelector('#mycams li.mcam', { timeout: 10000 });
  out.forbidden = { camera: await p.$eval('#mplayer .tile', e => e.dataset.cameraId || ''), hidden: await p.$eval('#mplayer', e => e.classList.contains('hidden')) };
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await phone.close();
  await desk.close();
}
process.exit(code);
