// The live wall: 1/4/9/16/25 tiles, cameras dropped or clicked onto tiles,
// saved layouts per user, tours (轮巡), per-tile status on hover, main
// stream full screen on double-click, and alarm linkage: a case opened by
// an alarm in the user's jurisdiction puts its camera on the wall,
// highlighted, with the alarm listed.
import { get, put, del, can } from './api.js';
import { h, when, beep } from './dom.js';
import { t, apply, caseTitle } from './i18n.js';
import { Player } from './player.js';
import { CameraTree, DRAG_TYPE } from './tree.js';
import { UpstreamPanel } from './upstream.js';

export const SPLITS = [1, 4, 9, 16, 25];
// An alarm keeps its tile at least this long before a newer one may take it:
// long enough to see what set it off (each switch also closes a peer
// connection and opens another).
const ALARM_HOLD_MS = 10000;
const MAX_ALARMS = 10000;  // kept in the list (newest first)
const SWITCH_GAP_MS = 40;  // between the tile switches of one batch
const SWITCH_WAIT_MS = 400; // at most, for a switch's first frame before the next
const ALARMS_SHOWN = 100;  // drawn at once
const TILE_TYPE = 'text/x-tile';

export class Wall {
  constructor({ store, onOpenCase, canAlarms }) {
    this.store = store;
    this.onOpenCase = onOpenCase || (() => {});
    this.players = [];
    this.selected = 0;
    this.alarmTile = -1; // -1: the first free tile
    this.tours = [];     // the current layout's tours
    this.running = null; // {tour, timer, pos}
    this.alarms = [];
    this.rows = new Map(); // alarm → its row in the list, for those shown
    this.tourLog = [];
    this.switchLog = []; // per batch of alarms: how many tiles it took
    this.switches = [];  // tile switches waiting for their turn
    this.sound = localStorage.getItem('alarmSound') !== 'off';
    this.tree = new CameraTree({ onPick: (cam) => this.assign(this.selected, cam, true) });
    this.grid = h('section.wall', { id: 'wall' });
    this.alarmList = h('ul.alarmlist', { id: 'alarms' });
    this.layoutSel = h('select', { id: 'layoutsel', onchange: () => this.loadLayout(this.layoutSel.value) });
    this.alarmSel = h('select', { id: 'alarmtile', onchange: () => { this.alarmTile = +this.alarmSel.value; } });
    this.tourBox = h('div.tourbox.hidden', { id: 'tourbox' });
    this.splitButtons = SPLITS.map(n => h('button', { dataset: { layout: n }, onclick: () => this.build(n) }, n));
    const soundBtn = h('button', { id: 'sound', onclick: () => { this.sound = !this.sound; localStorage.setItem('alarmSound', this.sound ? 'on' : 'off'); soundBtn.classList.toggle('on', this.sound); } }, t('sound'));
    soundBtn.classList.toggle('on', this.sound);
    soundBtn.dataset.i18n = 'sound';
    const bar = h('div.wallbar', {},
      h('div.layouts', { role: 'group' }, ...this.splitButtons),
      this.layoutSel,
      h('button', { id: 'savelayout', onclick: () => this.saveLayout(), dataset: { i18n: 'saveLayout' } }),
      h('button', { id: 'dellayout', onclick: () => this.deleteLayout(), dataset: { i18n: 'deleteLayout' } }),
      h('button', { id: 'tours', onclick: () => this.toggleTours(), dataset: { i18n: 'tours' } }),
      h('label.inline', {}, h('span', { dataset: { i18n: 'alarmTile' } }), this.alarmSel),
      soundBtn);
    // Who manages cameras sees how the street's superior platforms stand.
    this.upstream = can('cameras:write') ? new UpstreamPanel() : null;
    const side = h('aside.side', {}, this.tree.el, this.upstream && this.upstream.el);
    this.alarmCount = h('span.count', { id: 'alarmcount' });
    this.alarmMore = h('div.more', { id: 'alarmmore' });
    const alarmPane = h('aside.alarmpane', { id: 'alarmpane' }, h('h3', {}, h('span', { dataset: { i18n: 'alarms' } }), this.alarmCount), this.alarmList, this.alarmMore);
    if (!canAlarms) alarmPane.classList.add('hidden');
    this.renderAlarms();
    this.el = h('div.screen.wallscreen', { id: 'wallscreen' }, side, h('div.wallmain', {}, bar, this.tourBox, this.grid), alarmPane);
    this.full = new Player({ stream: 'main' });
    this.fullEl = h('div.full.hidden', { id: 'full' }, this.full.el,
      h('button.fullclose', { onclick: () => this.closeFull(), dataset: { i18n: 'close' } }));
    document.body.append(this.fullEl);
    document.addEventListener('keydown', e => { if (e.key === 'Escape') this.closeFull(); });
    document.addEventListener('fullscreenchange', () => { if (!document.fullscreenElement && !this.fullEl.classList.contains('hidden')) this.closeFull(); });
    store.subscribe(() => { this.tree.setData(store.cameras, store.cells); this.tree.setStatus(store.status); this.refreshStatus(); });
  }

  // start builds the wall and fills it with the first cameras (or the
  // layout named ?wall=NAME), and listens for alarms.
  async start(n, layoutName) {
    this.build(SPLITS.includes(n) ? n : 4);
    if (this.upstream) this.upstream.start();
    const listed = this.listLayouts(); // the first frame does not wait for it
    if (layoutName && (await listed, await this.loadLayout(layoutName))) return;
    const kept = sessionStorage.getItem('wall'); // the wall as it was before a language switch
    if (kept) {
      sessionStorage.removeItem('wall');
      try { this.apply(JSON.parse(kept)); return; } catch (e) { /* start afresh */ }
    }
    this.store.cameras.slice(0, this.players.length).forEach((c, i) => this.assign(i, c));
    if (!this.store.cameras.length) this.players.forEach(p => p.setMsg(t('noCameras')));
    this.select(0);
  }

  build(n) {
    const old = this.players;
    this.players = [];
    this.grid.className = `wall n${n}`;
    this.grid.replaceChildren();
    for (let i = 0; i < n; i++) {
      const p = old[i] || new Player({ onDblClick: (pl) => pl.cam && this.openFull(pl.cam) });
      p.index = i;
      p.el.dataset.tile = i;
      p.el.onclick = () => this.select(i);
      p.el.draggable = true;
      p.el.ondragstart = (e) => { e.dataTransfer.setData(TILE_TYPE, String(i)); };
      p.el.ondragover = (e) => {
        if (e.dataTransfer.types.includes(DRAG_TYPE) || e.dataTransfer.types.includes(TILE_TYPE)) { e.preventDefault(); p.el.classList.add('over'); }
      };
      p.el.ondragleave = () => p.el.classList.remove('over');
      p.el.ondrop = (e) => {
        e.preventDefault();
        p.el.classList.remove('over');
        const id = e.dataTransfer.getData(DRAG_TYPE);
        if (id && this.store.byId[id]) { this.assign(i, this.store.byId[id]); return; }
        const from = e.dataTransfer.getData(TILE_TYPE);
        if (from !== '' && +from !== i) this.swap(+from, i);
      };
      this.grid.append(p.el);
      this.players.push(p);
    }
    old.slice(n).forEach(p => { p.stop(); p.cam = null; });
    this.splitButtons.forEach(b => b.classList.toggle('on', +b.dataset.layout === n));
    if (this.alarmTile >= n) this.alarmTile = -1;
    this.renderAlarmSel();
    this.select(Math.min(this.selected, n - 1));
    const url = new URL(location.href);
    url.searchParams.set('layout', n);
    history.replaceState(null, '', url);
  }

  select(i) {
    this.selected = i;
    this.players.forEach((p, j) => p.el.classList.toggle('sel', i === j));
  }

  // assign puts a camera on tile i; advance moves the selection on, as a
  // VMS does when cameras are clicked one after another.
  assign(i, cam, advance = false) {
    const p = this.players[i];
    if (!p) return Promise.resolve(-1);
    if (!p.alarm || !cam || p.alarm.camera_id !== cam.id) p.reviewAt = null;
    const done = p.play(cam);
    p.setStatus(cam ? this.store.status[cam.id] : null);
    if (advance) this.select((i + 1) % this.players.length);
    return done;
  }

  swap(a, b) {
    const ca = this.players[a].cam, cb = this.players[b].cam;
    this.assign(a, cb);
    this.assign(b, ca);
  }

  refreshStatus() {
    for (const p of this.players) if (p.cam) p.setStatus(this.store.status[p.cam.id]);
  }

  renderAlarmSel() {
    this.alarmSel.replaceChildren(h('option', { value: -1 }, t('firstFree')),
      ...this.players.map((_, i) => h('option', { value: i }, t('tileN', i + 1))));
    this.alarmSel.value = String(this.alarmTile);
  }

  // Saved layouts (/api/v1/layouts): the split, the tiles, the alarm tile
  // and the tours, per user.
  async listLayouts() {
    let items = [];
    try { items = (await get('/api/v1/layouts')).items; } catch (e) { /* none */ }
    this.layoutSel.replaceChildren(h('option', { value: '' }, t('noLayout')), ...items.map(l => h('option', { value: l.name }, l.name)));
  }

  async loadLayout(name) {
    if (!name) return false;
    let l;
    try { l = await get(`/api/v1/layouts/${encodeURIComponent(name)}`); } catch (e) { return false; }
    this.apply(l);
    this.layoutSel.value = name;
    return true;
  }

  // apply shows a layout: split, tiles, alarm tile and tours.
  apply(l) {
    this.stopTour();
    this.build(l.layout);
    this.alarmTile = l.alarm_tile ?? -1;
    this.renderAlarmSel();
    this.tours = l.tours || [];
    (l.tiles || []).forEach((id, i) => this.assign(i, id && this.store.byId[id] ? this.store.byId[id] : null));
    this.renderTours();
  }

  current() {
    const body = { layout: this.players.length, tiles: this.players.map(p => (p.cam ? p.cam.id : '')), tours: this.tours };
    while (body.tiles.length && body.tiles[body.tiles.length - 1] === '') body.tiles.pop();
    if (this.alarmTile >= 0) body.alarm_tile = this.alarmTile;
    return body;
  }

  async saveLayout() {
    const name = (prompt(t('layoutName'), this.layoutSel.value || '') || '').trim();
    if (!name) return;
    try {
      await put(`/api/v1/layouts/${encodeURIComponent(name)}`, this.current());
      await this.listLayouts();
      this.layoutSel.value = name;
    } catch (e) { alert(e.field ? `${e.field}: ${e.message}` : e.message); }
  }

  async deleteLayout() {
    const name = this.layoutSel.value;
    if (!name) return;
    try { await del(`/api/v1/layouts/${encodeURIComponent(name)}`); } catch (e) { /* gone already */ }
    await this.listLayouts();
  }

  // Tours (轮巡): a named group of cameras cycling through one tile or the
  // whole wall (page by page) every interval_s seconds. Alarmed tiles are
  // left alone until the alarm is acknowledged.
  toggleTours() {
    this.tourBox.classList.toggle('hidden');
    this.renderTours();
  }

  renderTours() {
    const name = h('input', { id: 'tourname', placeholder: t('tourName'), maxlength: '64' });
    const interval = h('input', { id: 'tourinterval', type: 'number', min: '5', max: '3600', value: '10' });
    const target = h('select', { id: 'tourtarget' }, h('option', { value: -1 }, t('wholeWall')),
      ...this.players.map((_, i) => h('option', { value: i }, t('tileN', i + 1))));
    target.value = String(this.players.length > 1 ? this.selected : -1);
    const picks = this.tree.visible().map(c => h('label.pick', {}, h('input', { type: 'checkbox', value: c.id }), c.name));
    const msg = h('span.formmsg');
    const add = h('button', { id: 'tourstart', onclick: () => {
      const cams = picks.map(l => l.querySelector('input')).filter(x => x.checked).map(x => x.value);
      if (cams.length < 2) { msg.textContent = t('pickTwo'); return; }
      const tour = { name: name.value.trim() || `${t('tours')} ${this.tours.length + 1}`, cameras: cams,
        interval_s: Math.max(5, +interval.value || 10), tile: +target.value };
      this.tours = [...this.tours.filter(x => x.name !== tour.name), tour];
      this.startTour(tour);
    } }, t('startTour'));
    const saved = this.tours.map(tour => h('li', { dataset: { tour: tour.name } },
      h('span', {}, `${tour.name} · ${tour.cameras.length} · ${tour.interval_s}s · ${tour.tile < 0 ? t('wholeWall') : t('tileN', tour.tile + 1)}`),
      this.running && this.running.tour === tour
        ? h('button', { onclick: () => this.stopTour() }, t('stopTour'))
        : h('button', { onclick: () => this.startTour(tour) }, t('startTour'))));
    this.tourBox.replaceChildren(h('ul.tours', {}, ...saved),
      h('div.row', {}, name, h('label.inline', {}, h('span', {}, t('interval')), interval), h('label.inline', {}, h('span', {}, t('target')), target), add, msg),
      h('div.picks', {}, ...picks));
  }

  startTour(tour) {
    this.stopTour();
    if (tour.tile >= this.players.length) tour = { ...tour, tile: -1 };
    this.running = { tour, pos: 0 };
    this.stepTour();
    this.running.timer = setInterval(() => this.stepTour(), tour.interval_s * 1000);
    this.renderTours();
  }

  stopTour() {
    if (this.running) clearInterval(this.running.timer);
    this.running = null;
  }

  // stepTour shows the tour's next camera (or the next page of cameras),
  // logging how long each switch took to paint.
  stepTour() {
    const r = this.running;
    if (!r) return;
    const cams = r.tour.cameras.map(id => this.store.byId[id]).filter(Boolean);
    if (!cams.length) return;
    const tiles = r.tour.tile >= 0 ? [r.tour.tile] : this.players.map((_, i) => i);
    for (const i of tiles) {
      if (this.players[i].alarm || this.players[i].pb) continue;
      const cam = cams[r.pos % cams.length];
      r.pos++;
      const at = performance.now();
      this.assign(i, cam).then(ms => this.tourLog.push({ tile: i, camera: cam.id, ms, at: Math.round(at) }));
    }
  }

  // Alarm linkage. The event stream hands over the cases created, in
  // batches; a case with a camera this user may watch is an alarm. Every
  // alarm goes to the list, newest first. The newest reach the tiles: at
  // most one per tile per batch, and a tile an alarm took less than
  // ALARM_HOLD_MS ago is not taken again, so a storm never makes the wall
  // switch faster than it can show a picture.
  onCasesCreated(rows) {
    const arrived = performance.now();
    const fresh = [];
    for (const row of rows) {
      const d = row.detail || {};
      const cam = d.camera_id && this.store.byId[d.camera_id];
      if (!cam) continue; // not a camera alarm, or not a camera this user may watch
      fresh.push({ case_id: row.case_id, camera_id: cam.id, camera: cam.name, category: d.category,
        title: caseTitle({ kind: d.kind, title: d.title, camera_id: cam.id }, this.store.byId),
        at: row.at || new Date().toISOString(), tile: -1, arrivedMs: Math.round(arrived) });
    }
    if (!fresh.length) return;
    fresh.reverse(); // newest first
    this.alarms = fresh.concat(this.alarms);
    if (this.alarms.length > MAX_ALARMS) this.alarms.length = MAX_ALARMS;
    this.raiseOnTiles(fresh, arrived);
    this.renderAlarms();
    if (this.sound) beep();
  }

  // raise puts one case's camera up as an alarm (a case known already).
  raise(cs, cam, arrived = performance.now()) {
    this.onCasesCreated([{ case_id: cs.id, at: new Date().toISOString(),
      detail: { camera_id: cam.id, category: cs.category, title: cs.title, kind: cs.kind } }]);
  }

  raiseOnTiles(newestFirst, arrived) {
    const now = performance.now();
    const used = new Set();
    const cams = new Set();
    const n = this.players.length;
    const touring = this.running && this.running.tour.tile >= 0 ? this.running.tour.tile : -2;
    const held = (p) => p.alarm && now - p.alarm.raisedAt < ALARM_HOLD_MS;
    // A tile in playback is somebody reviewing footage: alarms and tours
    // leave it alone (one of the same camera is only highlighted).
    const pick = (ok) => this.players.findIndex((p, j) => !used.has(j) && !p.pb && ok(p, j));
    for (const a of newestFirst) {
      if (used.size >= n) break;
      if (cams.has(a.camera_id)) continue; // the newest alarm of a camera speaks for it
      cams.add(a.camera_id);
      let i = this.players.findIndex((p, j) => !used.has(j) && p.cam && p.cam.id === a.camera_id);
      if (i < 0 && this.alarmTile >= 0 && this.alarmTile < n) {
        const p = this.players[this.alarmTile];
        if (!used.has(this.alarmTile) && !held(p) && !p.pb) i = this.alarmTile;
      } else if (i < 0) {
        i = pick(p => !p.cam);
        if (i < 0) i = pick((p, j) => !p.alarm && j !== touring);
        if (i < 0) i = pick(p => !p.alarm);
        if (i < 0) { // the oldest alarm not just raised gives way
          let oldest = -1;
          this.players.forEach((p, j) => {
            if (!used.has(j) && !held(p) && !p.pb && (oldest < 0 || p.alarm.raisedAt < this.players[oldest].alarm.raisedAt)) oldest = j;
          });
          i = oldest;
        }
      }
      if (i < 0) continue; // listed; no tile can show it yet
      used.add(i);
      this.showAlarm(i, a, arrived);
    }
    this.switchLog.push({ at: Math.round(now), alarms: newestFirst.length, tiles: used.size });
    if (this.switchLog.length > 500) this.switchLog.splice(0, 100);
  }

  showAlarm(i, a, arrived) {
    const p = this.players[i];
    a.tile = i;
    a.raisedAt = performance.now();
    a.raisedMs = Math.round(a.raisedAt - arrived);
    p.alarm = a;
    p.reviewAt = Date.parse(a.at); // 回放 on this tile starts at the alarm
    p.el.dataset.alarm = a.case_id;
    p.el.classList.add('alarm');
    if (p.cam && p.cam.id === a.camera_id) { a.firstFrameMs = 0; a.shownMs = Math.round(performance.now() - arrived); return; }
    // Each switch (closing one peer connection, opening another) is a
    // task of its own, SWITCH_GAP_MS apart: sixteen in one task blocked
    // the page for a fifth of a second.
    this.switches.push({ i, a, arrived });
    if (this.switches.length === 1) this.nextSwitch();
  }

  // nextSwitch makes the next tile switch once the one before has its
  // first frame (or SWITCH_WAIT_MS passed): switches set up together wait
  // on the browser's WebRTC threads together, and each holds the page
  // longer.
  nextSwitch() {
    const s = this.switches[0];
    if (!s) return;
    let done = Promise.resolve();
    if (this.players[s.i] && this.players[s.i].alarm === s.a) {
      done = this.assign(s.i, this.store.byId[s.a.camera_id]).then(ms => { s.a.firstFrameMs = ms; s.a.shownMs = Math.round(performance.now() - s.arrived); });
    }
    // A switch that failed still hands over to the next (the queue never stalls).
    Promise.race([done, new Promise(r => setTimeout(r, SWITCH_WAIT_MS))]).catch(() => {})
      .then(() => setTimeout(() => { this.switches.shift(); this.nextSwitch(); }, SWITCH_GAP_MS));
  }

  ack(alarm) {
    const p = this.players.find(x => x.alarm === alarm);
    if (p) { p.alarm = null; p.el.removeAttribute('data-alarm'); p.el.classList.remove('alarm'); }
    alarm.acked = true;
    this.renderAlarms();
  }

  // renderAlarms shows the newest ALARMS_SHOWN open alarms and says how
  // many more there are. Each alarm's row is built once; a batch inserts
  // its new rows and drops those pushed past the end, so a burst costs the
  // rows it brings, not a redraw of the whole list per batch.
  renderAlarms() {
    const open = [];
    let total = 0;
    for (const a of this.alarms) {
      if (a.acked) continue;
      total++;
      if (open.length < ALARMS_SHOWN) open.push(a);
    }
    this.alarmCount.textContent = total ? String(total) : '';
    this.alarmMore.textContent = total > open.length ? t('moreAlarms', total - open.length) : '';
    const rows = new Map();
    for (const a of open) rows.set(a, this.rows.get(a) || this.alarmRow(a));
    this.rows = rows; // rows of alarms no longer shown are let go
    const want = open.length ? [...rows.values()] : [this.noAlarms ||= h('li.none', {}, t('noAlarms'))];
    let cur = this.alarmList.firstChild;
    for (const el of want) {
      if (cur === el) { cur = cur.nextSibling; continue; }
      this.alarmList.insertBefore(el, cur);
    }
    while (cur) { const next = cur.nextSibling; cur.remove(); cur = next; }
  }

  alarmRow(a) {
    return h('li.alarmitem', { dataset: { caseId: a.case_id, cameraId: a.camera_id } },
      h('div.l1', {}, h('span.badge.alarm', {}, t(`categories.${a.category}`)), h('span.t', {}, when(a.at))),
      h('div.l2', { onclick: () => this.onOpenCase(a.case_id), title: t('openCase') }, `${a.camera} · ${a.title}`),
      h('div.row', {}, h('button', { onclick: () => this.onOpenCase(a.case_id) }, t('openCase')), h('button', { onclick: () => this.ack(a) }, t('ack'))));
  }

  // Full screen: the main stream, in the browser's Fullscreen API.
  openFull(cam) {
    this.fullEl.classList.remove('hidden');
    this.full.play(cam);
    if (this.fullEl.requestFullscreen) this.fullEl.requestFullscreen().catch(() => { /* not allowed: the overlay stays */ });
  }

  closeFull() {
    if (this.fullEl.classList.contains('hidden')) return;
    this.fullEl.classList.add('hidden');
    this.full.play(null);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
}

