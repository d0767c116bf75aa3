// A case's evidence clips (证据录像): each made once from the incident's
// pre-roll to its post-roll, kept with the case, listed with its SHA-256,
// played here and downloaded as exactly those bytes. A clip still waiting
// for its post-roll is looked at again until it is made.
import { get, post, can } from './api.js';
import { h, when } from './dom.js';
import { t } from './i18n.js';

const POLL_MS = 10000;

// clipSection answers the section for case id; on a phone (tap: true) a
// clip plays when tapped, on the desk its player is there at once.
export function clipSection(caseId, { tap = false, cameraId = '' } = {}) {
  const list = h('ul.clips');
  const el = h('div.clipsection', { dataset: { caseId } }, h('h3', {}, t('clips')), list);
  let timer = 0;
  // Whoever may export footage asks for a clip of any window of the
  // case's camera (from the gateway's footage, else its device's).
  const ask = can('recordings:export') && cameraId ? askForm(caseId, () => load()) : null;
  if (ask) el.append(ask);
  const load = async () => {
    clearTimeout(timer);
    let items = [];
    try { items = (await get(`/api/v1/cases/${encodeURIComponent(caseId)}/clips`)).items; } catch (e) { /* no recordings here */ }
    el.classList.toggle('hidden', !items.length && !ask);
    list.replaceChildren(...items.map(c => clipItem(c, tap)));
    if (items.some(c => c.state === 'pending')) timer = setTimeout(() => { if (el.isConnected) load(); }, POLL_MS);
  };
  el.classList.add('hidden');
  el.ready = load();
  return el;
}

// askForm is a start time and a length (1 to 10 minutes) to clip.
function askForm(caseId, done) {
  const start = h('input', { type: 'datetime-local', step: 1, name: 'start', required: true });
  const mins = h('select', { name: 'minutes' }, ...[1, 2, 5, 10].map(m => h('option', { value: m }, t('clipMinutes', m))));
  const msg = h('span.formmsg');
  const form = h('form.clipask', { onsubmit: async (e) => {
    e.preventDefault();
    const from = new Date(start.value);
    if (isNaN(from)) { msg.textContent = t('clipNeedsStart'); return; }
    try {
      await post(`/api/v1/cases/${encodeURIComponent(caseId)}/clips`, { start: from.toISOString(), end: new Date(+from + mins.value * 6e4).toISOString() });
      msg.textContent = t('clipAsked');
      done();
    } catch (err) { msg.textContent = err.message; }
  } }, h('span', {}, t('clipAsk')), start, mins, h('button', { type: 'submit' }, t('submit')), msg);
  return form;
}

function clipItem(c, tap) {
  const range = `${when(c.start)} – ${when(c.end).split(' ').pop()}`;
  const size = c.bytes ? ` · ${(c.bytes / 1048576).toFixed(1)} MB` : '';
  const kids = [h('div.l1', {}, h(`span.badge.c-${c.state}`, {}, t(`clipStates.${c.state}`)), h('span', {}, `${range}${size}`))];
  if (c.state === 'ready' && c.url) {
    const player = () => h('video.clipvideo', { controls: true, preload: 'metadata', playsInline: true, muted: true, src: c.url });
    if (tap) {
      const btn = h('button.mplay', { onclick: () => { const v = player(); v.autoplay = true; btn.replaceWith(v); } }, `▶ ${t('clipPlay')}`);
      kids.push(btn);
    } else kids.push(player());
    kids.push(h('div.hash', {}, h('span', {}, t('sha256')), h('code.sha', {}, c.sha256)),
      h('a.button.clipdl', { href: `${c.url}?download=1`, download: '' }, t('download')));
  }
  // Footage the gateway did not record says where it came from (the
  // camera's NVR, its channel and the window asked for).
  if (c.provenance) kids.push(h('div.prov', {}, h('span', {}, t('clipFromDevice')), h('span.provtext', {}, c.provenance)));
  return h('li.clip', { dataset: { clip: c.id, state: c.state, source: c.provenance ? 'device' : 'gateway' } }, ...kids);
}
