// The superior platforms under the camera tree, as the admin sees them:
// waits until platform SE_PLATFORM is shown registered, then prints one
// JSON line: each row's state, dot, name and facts as the page has them,
// elements a name written as markup would have made, and CSP violations.
// node upstream.mjs URL (SE_USER/SE_PASS sign in).
import { launch, signIn, shot } from './lib.mjs';

const [url] = process.argv.slice(2);
const b = await launch({ viewport: { width: 1600, height: 900 } });
const out = {};
let code = 0;
try {
  const { page } = b;
  await b.ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('dialog', d => { out.dialog = d.message(); d.dismiss(); });
  await signIn(page, url, process.env.SE_USER, process.env.SE_PASS);
  await page.waitForSelector(`#upstream li[data-id="${process.env.SE_PLATFORM}"][data-state="registered"]`, { timeout: 20000 });
  out.rows = await page.$$eval('#upstream li', els => els.map(li => ({ id: li.dataset.id, state: li.dataset.state,
    dot: li.querySelector('.dot').className, name: li.querySelector('.nm').textContent, facts: li.querySelector('.l2').textContent,
    error: li.querySelector('.err') ? li.querySelector('.err').textContent : '' })));
  out.visible = await page.$eval('#upstreampanel', el => !el.classList.contains('hidden') && el.getBoundingClientRect().height > 0);
  out.injected = await page.$$eval('[data-xss]', els => els.length);
  out.csp = await page.evaluate(() => window.__csp);
  await shot(page, 'wall-upstream');
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await b.close();
  process.exit(code);
}
