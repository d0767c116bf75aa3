// The gateway over HTTPS in Chromium, trusting the test's self-signed
// certificate by its public key (SE_SPKI, never "ignore all errors"): the
// wall signs in and plays a camera (WebRTC is unchanged by TLS), the page
// is a secure context, the session cookie is Secure and HttpOnly; then a
// grid worker's phone gets its location (only secure pages may) and lists
// the cameras nearby. node https.mjs URL (SE_USER/SE_PASS, SE_WORKER/
// SE_WORKER_PASS, SE_LAT/SE_LON). Prints one JSON line.
import { ARGS, launch, signIn, frames, sleep } from './lib.mjs';

const [url] = process.argv.slice(2);
const spki = [`--ignore-certificate-errors-spki-list=${process.env.SE_SPKI}`];
const out = {};
let code = 0;
try {
  const wall = await launch({ viewport: { width: 1920, height: 1080 }, args: spkiArgs() });
  try {
    const { page, ctx } = wall;
    await signIn(page, url + '/?layout=1', process.env.SE_USER, process.env.SE_PASS);
    out.secure_context = await page.evaluate(() => window.isSecureContext);
    out.protocol = await page.evaluate(() => location.protocol);
    let f = [];
    for (let i = 0; i < 100; i++) { f = await frames(page); if (f[0] > 0) break; await sleep(100); }
    out.wall_frames = f[0] || 0;
    out.wall_msg = await page.evaluate(() => { const p = window.__sharpeyes.tiles[0]; return p ? (p.cam ? p.cam.id : '-') + ' ' + p.msg.textContent : 'no tile'; });
    const c = (await ctx.cookies()).find(x => x.name === 'sharpeyes_session');
    out.cookie = c ? { secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite } : null;
    out.cookie_visible_to_script = await page.evaluate(() => document.cookie.includes('sharpeyes_session'));
  } finally { await wall.close(); }

  const phone = await launch({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, args: spkiArgs(),
    geolocation: { latitude: +process.env.SE_LAT, longitude: +process.env.SE_LON }, permissions: ['geolocation'] });
  try {
    const { page } = phone;
    await signIn(page, url + '/m/', process.env.SE_WORKER, process.env.SE_WORKER_PASS);
    out.phone_secure_context = await page.evaluate(() => window.isSecureContext);
    await page.waitForSelector('#nearby li.mcam', { timeout: 15000 });
    out.nearby = await page.$$eval('#nearby li.mcam', els => els.map(e => e.dataset.id));
  } finally { await phone.close(); }
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  process.exit(code);
}

function spkiArgs() {
  return [...ARGS, ...spki];
}
