// A case the gateway opened, read on the desk in each language: its
// title, description, audit notes and time left. node lang.mjs URL CASE_ID
// (SE_USER/SE_PASS). Prints one JSON line: {"zh": {...}, "en": {...}}.
import { launch, signIn } from './lib.mjs';

const [url, caseId] = process.argv.slice(2);
const out = {};
let code = 0;
try {
  for (const lang of ['zh', 'en']) {
    const b = await launch({ viewport: { width: 1600, height: 1000 } });
    try {
      await b.ctx.addInitScript(l => localStorage.setItem('lang', l), lang);
      await signIn(b.page, `${url}/#desk/${caseId}`, process.env.SE_USER, process.env.SE_PASS);
      await b.page.waitForSelector('#casepage h2', { timeout: 15000 });
      await b.page.waitForSelector('#audit tr');
      out[lang] = await b.page.evaluate(() => ({
        title: document.querySelector('#casepage h2').textContent,
        description: (document.querySelector('#casepage p.desc') || {}).textContent || '',
        audit: [...document.querySelectorAll('#audit tr')].map(tr => tr.textContent).join(' | '),
        queue: [...document.querySelectorAll('#queue li.case .title')].map(e => e.textContent).join(' | '),
        left: (document.querySelector('#queue li.case .left') || {}).textContent || '',
      }));
    } finally { await b.close(); }
  }
} catch (e) {
  out.error = String(e && e.stack || e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  process.exit(code);
}
