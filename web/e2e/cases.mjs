// Opens the case desk as SE_USER and reports how long after "ready" a
// case opened by an alarm appears in the queue, without a reload:
// node cases.mjs URL. Prints "ready", then one JSON line:
// {"seen_ms": N, "rates": [...], "case_id": "..."}.
import { launch, signIn } from './lib.mjs';

const [url] = process.argv.slice(2);
const b = await launch();
let code = 0;
try {
  await signIn(b.page, url, process.env.SE_USER, process.env.SE_PASS);
  await b.page.click('#nav button[data-view=desk]');
  await b.page.waitForSelector('#rates .rate');
  await b.page.waitForTimeout(1000); // the event stream is open
  const before = await b.page.$$eval('#queue li.case', els => els.map(e => e.dataset.caseId));
  console.log('ready');
  const t0 = Date.now();
  const handle = await b.page.waitForFunction(seen => {
    const li = [...document.querySelectorAll('#queue li.case')].find(e => !seen.includes(e.dataset.caseId));
    return li && li.dataset.caseId;
  }, before, { timeout: 10000 });
  const caseId = await handle.jsonValue();
  const rates = await b.page.$$eval('#rates .rate .v', els => els.map(e => e.textContent));
  console.log(JSON.stringify({ seen_ms: Date.now() - t0, rates, case_id: caseId }));
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await b.close();
}
process.exit(code);
