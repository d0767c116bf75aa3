// The grid worker's phone (/m/): nearby cameras from the browser's
// geolocation, nearest first; the cameras of my cells; those of them
// offline now, longest first; my cases with the
// time left and their actions (resolve with photos); a grid report
// (即办/申办) with the place and photos. One tap plays the sub stream;
// /m/?camera=ID opens a camera directly.
import { get, can, follow, CASE_TOPICS, qs } from './api.js';
import { h, $, distance, timeLeft, pct } from './dom.js';
import { t, apply, toggle, onChange, caseTitle } from './i18n.js';
import { requireSession, logout } from './login.js';
import { Player } from './player.js';
import { actionsPanel, newCaseForm } from './caseform.js';
import { clipSection } from './clips.js';
import { Feed } from './notify.js';
import { stateOf, statusTitle } from './status.js';
import { downFor } from './health.js';

const TABS = ['nearby', 'myCells', 'myOffline', 'myCases', 'report'];

class Phone {
  constructor(me) {
    this.me = me;
    this.player = new Player({ stream: 'sub' });
    this.playerBox = h('div.mplayer.hidden', { id: 'mplayer' }, this.player.el,
      h('button.mclose', { onclick: () => this.closePlayer() }, '✕'));
    this.body = h('div.mbody', { id: 'mbody' });
    this.tab = '';
    this.position = null;
    this.tabs = h('nav.mtabs', {}, ...TABS.filter(k => (k !== 'myCases' && k !== 'report') || can('cases:read'))
      .map(k => h('button', { dataset: { tab: k }, onclick: () => this.show(k) }, t(k))));
    this.feed = can('cases:read') ? new Feed({ onOpenCase: () => this.show('myCases') }) : null;
  }

  mount() {
    $('#who').textContent = this.me.display_name || this.me.username;
    if (this.feed) $('#feedslot').replaceWith(this.feed.el);
    document.body.append(this.playerBox, this.body, this.tabs);
  }

  show(tab) {
    this.tab = tab;
    this.tabs.querySelectorAll('button').forEach(b => b.classList.toggle('on', b.dataset.tab === tab));
    ({ nearby: () => this.nearby(), myCells: () => this.myCells(), 'myOffline': () => this.myOffline(), myCases: () => this.myCases(), report: () => this.report() })[tab]();
  }

  play(cam) {
    this.playerBox.classList.remove('hidden');
    this.player.play(cam);
    this.player.setStatus(cam.status);
    this.body.querySelectorAll('li.mcam').forEach(li => li.classList.toggle('on', li.dataset.id === cam.id));
  }

  closePlayer() { this.playerBox.classList.add('hidden'); this.player.play(null); }

  // locate asks the browser where the phone is (cached for a minute).
  locate() {
    if (this.position && Date.now() - this.position.at < 60000) return Promise.resolve(this.position);
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => { this.position = { lat: p.coords.latitude, lon: p.coords.longitude, at: Date.now() }; resolve(this.position); },
        () => resolve(null), { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  }

  camItem(cam) {
    const st = stateOf(cam.status);
    return h('li.mcam', { dataset: { id: cam.id, state: st }, title: statusTitle(cam.id, cam.status), onclick: () => this.play(cam) },
      h(`span.dot.${st}`), h('span.name', {}, cam.name),
      cam.distance_m !== undefined ? h('span.dist', {}, distance(cam.distance_m)) : h('span.dist', {}, t(`state.${st}`)));
  }

  async nearby() {
    this.body.replaceChildren(h('div.none', {}, t('locating')));
    const pos = await this.locate();
    if (this.tab !== 'nearby') return;
    if (!pos) { this.body.replaceChildren(h('div.none', {}, t('noLocation'))); return; }
    let items = [];
    try { items = (await get(`/api/v1/cameras${qs({ near: `${pos.lat},${pos.lon}`, radius: 5000, include: 'status', limit: 50 })}`)).items; } catch (e) { /* shown below */ }
    if (this.tab !== 'nearby') return;
    this.body.replaceChildren(items.length ? h('ul.mlist', { id: 'nearby' }, ...items.map(c => this.camItem(c))) : h('div.none', {}, t('noNearby')));
  }

  async myCells() {
    let items = [];
    try { items = (await get('/api/v1/cameras?include=status&limit=1000')).items; } catch (e) { /* none */ }
    if (this.tab !== 'myCells') return;
    this.body.replaceChildren(items.length ? h('ul.mlist', { id: 'mycams' }, ...items.map(c => this.camItem(c))) : h('div.none', {}, t('noCameras')));
  }

  // myOffline lists the cameras of the worker's cells offline now, the
  // longest down first, with why and for how long; a tap plays one (its
  // tile says why it does not).
  async myOffline() {
    let r = null;
    try { r = await get('/api/v1/health/online-rate?days=1'); } catch (e) { /* none */ }
    if (this.tab !== 'myOffline') return;
    if (!r) { this.body.replaceChildren(h('div.none', {}, t('noCameras'))); return; }
    const today = r.today.rate === null ? '—' : pct(r.today.rate);
    const now = Date.now();
    this.body.replaceChildren(h('div.mrate', { id: 'mytoday' }, `${t('hr.today')} ${today} · ${t('hr.offlineN')} ${r.offline.length} / ${r.cameras}`),
      r.offline.length ? h('ul.mlist', { id: 'myoffline' }, ...r.offline.map(c => h('li.mcam', { dataset: { id: c.id, state: 'offline' },
        onclick: async () => {
          try { this.play({ ...(await get(`/api/v1/cameras/${encodeURIComponent(c.id)}`)), status: { state: 'offline', reason: c.reason, since: c.since } }); } catch (e) { /* gone */ }
        } },
      h('span.dot.offline'), h('span.name', {}, c.name || c.id),
      h('span.dist', {}, `${c.reason ? t(`offlineWhy.${c.reason}`) : t('state.offline')} · ${downFor(c.since, now)}`))))
        : h('div.none', {}, t('hr.noMyOffline')));
  }

  async myCases() {
    let items = [];
    try { items = (await get('/api/v1/cases?open=true&limit=200')).items; } catch (e) { /* none */ }
    if (this.tab !== 'myCases') return;
    const me = this.me.username;
    items.sort((a, b) => (b.assignee === me) - (a.assignee === me) || b.escalation - a.escalation || (a.deadline || '').localeCompare(b.deadline || ''));
    this.body.replaceChildren(items.length ? h('ul.mcases', { id: 'mycases' }, ...items.map(cs => this.caseCard(cs))) : h('div.none', {}, t('noMyCases')));
  }

  caseCard(cs) {
    const left = cs.deadline ? timeLeft(cs.deadline) : null;
    return h('li.mcase', { dataset: { caseId: cs.id, state: cs.state } },
      h('div.l1', {}, h(`span.badge.s-${cs.state}`, {}, t(`states_.${cs.state}`)), cs.escalation ? h(`span.badge.e${cs.escalation}`, {}, t('level', cs.escalation)) : null,
        left ? h(`span.left${left.overdue ? '.over' : ''}`, {}, left.overdue ? t('overdue', left.text) : t('left', left.text)) : null),
      h('div.title', {}, caseTitle(cs)),
      h('div.meta', {}, `${t(`categories.${cs.category}`)} · ${t(`sources.${cs.source}`)}`),
      cs.camera_id ? h('button.mplay', { onclick: async () => { try { this.play(await get(`/api/v1/cameras/${encodeURIComponent(cs.camera_id)}`)); } catch (e) { /* not mine */ } } }, `▶ ${t('camera')}`) : null,
      cs.incident_id ? clipSection(cs.id, { tap: true }) : null,
      actionsPanel(cs, () => this.myCases()));
  }

  report() {
    this.body.replaceChildren(h('div.mform', {}, h('h2', {}, t('report')),
      newCaseForm({ sources: ['grid-report'], withHandling: true,
        place: async () => { const p = await this.locate(); return p ? { lat: p.lat, lon: p.lon } : {}; } })));
  }

  // refresh follows case changes: my cases stay current without a reload.
  // A card with a form open is left alone: the worker is typing.
  onCase() {
    if (this.tab !== 'myCases') return;
    clearTimeout(this.pending);
    this.pending = setTimeout(() => { if (this.body.querySelector('form.actform')) this.onCase(); else this.myCases(); }, 300);
  }
}

async function main() {
  $('#lang').onclick = toggle;
  apply();
  const me = await requireSession();
  const phone = new Phone(me);
  phone.mount();
  $('#logout').classList.remove('hidden');
  $('#logout').onclick = logout;
  onChange(() => location.reload()); // every screen redrawn in the other language
  window.__sharpeyes = { phone, get tiles() { return [phone.player]; } };
  const cam = new URLSearchParams(location.search).get('camera');
  if (cam) {
    try { phone.play(await get(`/api/v1/cameras/${encodeURIComponent(cam)}`)); } catch (e) { /* unknown or not mine: the lists still work */ }
  }
  phone.show(cam ? 'myCells' : 'nearby'); // a camera opened directly: the cell's others below it
  if (can('cases:read')) {
    follow([...CASE_TOPICS, 'notify'], (batch) => {
      const notes = batch.filter(m => m.type === 'notify').map(m => m.data);
      if (notes.length) phone.feed.pushMany(notes);
      if (notes.length < batch.length) phone.onCase();
    });
    phone.feed.load();
  }
}

main();
