// The case desk: the three rates for the user's jurisdiction, a queue by
// state and 督办 level with filters, a case page (live camera, alarm
// pictures and photos, the place on the map, the audit trail, every action
// the user's role allows), and the form for a hotline or walk-in case. The
// queue follows the event stream: no reload.
import { get, qs, can } from './api.js';
import { h, pct, when, timeLeft, mediaLink } from './dom.js';
import { t, caseTitle, caseDescription, auditNote, actorName } from './i18n.js';
import { Player } from './player.js';
import { actionsPanel, newCaseForm, CATEGORIES } from './caseform.js';
import { miniMap } from './map.js';
import { clipSection } from './clips.js';

// QUEUES group states the way a dispatcher works through them.
export const QUEUES = [
  ['all', null],
  ['received', ['received']],
  ['registered', ['registered', 'returned']],
  ['dispatched', ['dispatched']],
  ['in_progress', ['accepted', 'in_progress', 'extended', 'suspended']],
  ['verifying', ['verifying']],
  ['escalated', null],
];

const OPEN = new Set(['received', 'registered', 'dispatched', 'accepted', 'in_progress', 'verifying', 'returned', 'extended', 'suspended']);

export class Desk {
  constructor({ store }) {
    this.store = store;
    this.queue = 'all';
    this.cases = [];
    this.dirty = new Set();
    this.changeTimer = 0;
    this.open = '';
    this.rates = h('div.rates', { id: 'rates' });
    this.tabs = h('div.queues', { id: 'queues' });
    const sel = (id, anyKey, opts) => h('select', { id, onchange: () => this.load() }, h('option', { value: '' }, t(anyKey)), ...opts);
    this.f = {
      grid: sel('f-grid', 'anyGrid', []),
      category: sel('f-category', 'anyCategory', CATEGORIES.map(c => h('option', { value: c }, t(`categories.${c}`)))),
      source: sel('f-source', 'anySource', ['event', 'hotline', 'walk-in', 'grid-report', 'open311'].map(s => h('option', { value: s }, t(`sources.${s}`)))),
      escalation: sel('f-level', 'anyLevel', [1, 2, 3].map(n => h('option', { value: n }, t('level', n)))),
      from: h('input', { id: 'f-from', type: 'date', onchange: () => this.load() }),
      to: h('input', { id: 'f-to', type: 'date', onchange: () => this.load() }),
    };
    this.list = h('ul.queue', { id: 'queue' });
    this.page = h('section.casepage', { id: 'casepage' }, h('div.none', {}, t('pickCase')));
    this.player = new Player({ stream: 'sub' });
    const newBtn = h('button', { id: 'newcasebtn', onclick: () => this.showNew() }, t('newCase'));
    if (!can('cases:write')) newBtn.classList.add('hidden');
    this.el = h('div.screen.deskscreen.hidden', { id: 'deskscreen' },
      h('div.deskleft', {}, this.rates, h('div.row', {}, this.tabs, newBtn),
        h('div.filters', {}, this.f.grid, this.f.category, this.f.source, this.f.escalation,
          h('label.inline', {}, h('span', {}, t('from')), this.f.from), h('label.inline', {}, h('span', {}, t('to')), this.f.to)),
        this.list),
      this.page);
    store.subscribe(() => this.fillGrids());
  }

  fillGrids() {
    const cur = this.f.grid.value;
    const cells = Object.values(this.store.cells).filter(c => c.kind !== 'special').sort((a, b) => a.code.localeCompare(b.code));
    this.f.grid.replaceChildren(h('option', { value: '' }, t('anyGrid')), ...cells.map(c => h('option', { value: c.code }, `${'  '.repeat(Math.max(0, (c.level || 1) - 1))}${c.name}`)));
    this.f.grid.value = cur;
  }

  async show() {
    this.el.classList.remove('hidden');
    await Promise.all([this.loadRates(), this.load()]);
  }

  hide() { this.el.classList.add('hidden'); this.player.play(null); }

  async loadRates() {
    try {
      const dash = await get('/api/v1/dashboard'), d = dash.cases, cams = dash.cameras;
      const tiles = [[t('cases30'), d.cases], [t('response'), pct(d.response_rate)], [t('resolutionRate'), pct(d.resolution_rate)],
        [t('satisfaction'), pct(d.satisfaction_rate)]];
      if (cams) tiles.push([t('hr.period30'), cams.period.rate === null ? '—' : pct(cams.period.rate)]);
      this.rates.replaceChildren(...tiles.map(([l, v]) => h('div.rate', {}, h('div.v', {}, v), h('div.l', {}, l))));
    } catch (e) { /* no cases store */ }
  }

  // load reads the open cases (all cases when a date range is set) with
  // the filters, then shows the chosen queue.
  async load() {
    const f = this.f;
    const params = { grid: f.grid.value, category: f.category.value, source: f.source.value, escalation: f.escalation.value,
      from: f.from.value, to: f.to.value ? nextDay(f.to.value) : '', limit: 1000 };
    this.openOnly = !f.from.value && !f.to.value;
    if (this.openOnly) params.open = 'true';
    try {
      const items = [];
      let cursor = '';
      do {
        const page = await get(`/api/v1/cases${qs({ ...params, cursor })}`);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && items.length < 5000);
      this.cases = items;
    } catch (e) { this.cases = []; }
    this.render();
  }

  inQueue(cs, q) {
    const def = QUEUES.find(x => x[0] === q);
    if (q === 'escalated') return cs.escalation > 0;
    return !def[1] || def[1].includes(cs.state);
  }

  render() {
    this.tabs.replaceChildren(...QUEUES.map(([q]) => {
      const n = this.cases.filter(cs => this.inQueue(cs, q)).length;
      return h(`button${q === this.queue ? '.on' : ''}`, { dataset: { queue: q, n }, onclick: () => { this.queue = q; this.render(); } },
        q === 'all' ? t('all') : q === 'escalated' ? t('escalation') : t(`states_.${q}`), h('span.n', {}, n));
    }));
    const rows = this.cases.filter(cs => this.inQueue(cs, this.queue))
      .sort((a, b) => b.escalation - a.escalation || a.priority - b.priority || b.created_at.localeCompare(a.created_at));
    this.list.replaceChildren(...(rows.length ? rows.slice(0, 300).map(cs => this.row(cs)) : [h('li.none', {}, t('noCases'))]));
  }

  row(cs) {
    const left = cs.deadline ? timeLeft(cs.deadline) : null;
    return h(`li.case${cs.id === this.open ? '.on' : ''}`, { dataset: { caseId: cs.id, state: cs.state, escalation: cs.escalation }, onclick: () => this.openCase(cs.id) },
      h('div.l1', {}, h(`span.badge.s-${cs.state}`, {}, t(`states_.${cs.state}`)),
        cs.escalation ? h(`span.badge.e${cs.escalation}`, {}, t('level', cs.escalation)) : null,
        h('span.title', {}, caseTitle(cs, this.store.byId))),
      h('div.l2', {}, h('span', {}, `${t(`sources.${cs.source}`)} · ${t(`categories.${cs.category}`)} · ${(this.store.cells[cs.grid] || {}).name || cs.grid || '—'}`),
        left ? h(`span.left${left.overdue ? '.over' : ''}`, {}, left.overdue ? t('overdue', left.text) : t('left', left.text)) : h('span.t', {}, when(cs.created_at))));
  }

  // changed takes the cases the event stream says changed. A few are read
  // one by one; a burst is one reload of the queue, at most once a second,
  // so a storm of alarms or a hotline batch costs a redraw a second.
  changed(ids) {
    for (const id of ids) this.dirty.add(id);
    if (this.changeTimer) return;
    this.changeTimer = setTimeout(() => this.applyChanges(), this.dirty.size > 20 ? 1000 : 150);
  }

  async applyChanges() {
    const ids = [...this.dirty];
    this.dirty.clear();
    if (this.el.classList.contains('hidden')) { this.changeTimer = 0; return; } // show() loads afresh
    try {
      if (ids.length > 20) await this.load();
      else {
        const got = await Promise.all(ids.map(id => get(`/api/v1/cases/${encodeURIComponent(id)}`).catch(() => null)));
        ids.forEach((id, n) => this.put(id, got[n]));
        this.render();
      }
      if (ids.includes(this.open)) this.refreshOpen();
      this.ratesSoon();
    } finally {
      this.changeTimer = 0;
      if (this.dirty.size) this.changed([]);
    }
  }

  // put applies one case as read (null: no longer visible) to the queue.
  put(caseId, cs) {
    const i = this.cases.findIndex(c => c.id === caseId);
    const keep = cs && (!this.openOnly || OPEN.has(cs.state));
    if (keep && i >= 0) this.cases[i] = cs; else if (keep) this.cases.push(cs); else if (i >= 0) this.cases.splice(i, 1);
  }

  // The open case follows too, unless the user is filling in an action.
  async refreshOpen() {
    if (!this.open || this.page.querySelector('form.actform')) return;
    const id = this.open;
    try { const cs = await get(`/api/v1/cases/${encodeURIComponent(id)}`); if (this.open === id) this.renderCase(cs); } catch (e) { /* gone */ }
  }

  ratesSoon() {
    clearTimeout(this.ratesTimer);
    this.ratesTimer = setTimeout(() => this.loadRates(), 1000);
  }

  // update applies one case changed here (an action taken, a case filed).
  async update(caseId) {
    let cs = null;
    try { cs = await get(`/api/v1/cases/${encodeURIComponent(caseId)}`); } catch (e) { /* no longer visible */ }
    this.put(caseId, cs);
    this.render();
    if (this.open === caseId && cs && !this.page.querySelector('form.actform')) this.renderCase(cs);
    this.ratesSoon();
  }

  async openCase(id) {
    this.open = id;
    this.render();
    let cs;
    try { cs = await get(`/api/v1/cases/${encodeURIComponent(id)}`); } catch (e) { this.page.replaceChildren(h('div.none', {}, e.message)); return; }
    this.renderCase(cs);
  }

  async renderCase(cs) {
    const [audit, atts] = await Promise.all([
      get(`/api/v1/cases/${encodeURIComponent(cs.id)}/audit`).then(r => r.items).catch(() => []),
      get(`/api/v1/cases/${encodeURIComponent(cs.id)}/attachments`).then(r => r.items).catch(() => []),
    ]);
    if (this.open !== cs.id) return;
    const left = cs.deadline ? timeLeft(cs.deadline) : null;
    const cam = cs.camera_id ? this.store.byId[cs.camera_id] : null;
    const facts = [[t('states'), t(`states_.${cs.state}`)], [t('source'), t(`sources.${cs.source}`)], [t('category'), t(`categories.${cs.category}`)],
      [t('grid'), (this.store.cells[cs.grid] || {}).name || cs.grid || '—'], [t('assignee'), cs.assignee || '—'],
      [t('deadline'), cs.deadline ? `${when(cs.deadline)} (${left.overdue ? t('overdue', left.text) : t('left', left.text)})` : '—'],
      [t('reporter'), cs.reporter || '—'], ['ID', cs.id]];
    const mapEl = h('div.minimap', { id: 'casemap' });
    const media = (cs.media || []).map(u => mediaLink(u, t('media'))).filter(Boolean);
    const photos = atts.map(a => {
      const u = `/api/v1/cases/${encodeURIComponent(cs.id)}/attachments/${encodeURIComponent(a.id)}`;
      return h('a', { href: u, target: '_blank', rel: 'noopener', dataset: { attachment: a.id } }, a.content_type === 'image/heic' ? h('span.thumb', {}, a.name || 'HEIC') : h('img.thumb', { src: u, alt: a.name || '' }));
    });
    this.page.replaceChildren(...[
      h('header.casehead', {}, h('h2', {}, caseTitle(cs, this.store.byId)), h(`span.badge.s-${cs.state}`, { id: 'casestate' }, t(`states_.${cs.state}`)),
        cs.escalation ? h(`span.badge.e${cs.escalation}`, {}, t('level', cs.escalation)) : null),
      caseDescription(cs, this.store.byId) ? h('p.desc', {}, caseDescription(cs, this.store.byId)) : null,
      h('div.casegrid', {},
        h('dl.facts', {}, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        cam ? h('div.casecam', {}, this.player.el) : null,
        mapEl),
      media.length ? h('div', {}, h('h3', {}, t('media')), h('div.thumbs', {}, ...media)) : null,
      photos.length ? h('div', {}, h('h3', {}, t('photos')), h('div.thumbs', { id: 'casephotos' }, ...photos)) : null,
      this.clipsOf(cs.id, cs.camera_id),
      h('h3', {}, t('actionsTitle')), actionsPanel(cs, (updated) => this.update(updated.id)),
      h('h3', {}, t('audit')),
      h('table.audit', { id: 'audit' }, h('tbody', {}, ...audit.map(r => h('tr', {}, h('td', {}, when(r.at)), h('td', {}, actorName(r.actor)),
        h('td', {}, t(`actions.${r.action}`)), h('td', {}, r.to ? t(`states_.${r.to}`) : ''), h('td', {}, auditNote(r))))))].filter(Boolean));
    this.player.reviewAt = Date.parse(cs.created_at); // 回放 starts at the alarm
    if (cam) { if (!this.player.cam || this.player.cam.id !== cam.id) this.player.play(cam); } else this.player.play(null);
    const where = cs.lat != null ? { lat: cs.lat, lon: cs.lon, cell: cs.grid } : cam && cam.location ? { ...cam.location, cell: cs.grid } : { cell: cs.grid };
    miniMap(mapEl, where).catch(() => { mapEl.remove(); });
  }

  // clipsOf keeps the open case's clip section across redraws (a clip
  // being watched goes on playing when the case changes).
  clipsOf(id, cameraId) {
    if (!this.clips || this.clips.dataset.caseId !== id) this.clips = clipSection(id, { cameraId });
    return this.clips;
  }

  showNew() {
    this.open = '';
    this.player.play(null);
    const cells = Object.values(this.store.cells).filter(c => c.kind !== 'special' && c.level >= 3).sort((a, b) => a.code.localeCompare(b.code));
    this.page.replaceChildren(h('h2', {}, t('newCase')),
      newCaseForm({ sources: ['hotline', 'walk-in'], grids: cells, onDone: (cs) => { this.update(cs.id); this.openCase(cs.id); } }));
  }
}

function nextDay(d) {
  const x = new Date(`${d}T00:00:00`);
  x.setDate(x.getDate() + 1);
  return `${x.getFullYear()}-${String(x.getMonth() + 1).padStart(2, '0')}-${String(x.getDate()).padStart(2, '0')}`;
}
