// Playback (回放) on a player tile: a timeline of the camera's recorded
// spans with its alarms and cases, click or drag to seek, 1×/2×/4×/8×, a
// five-minute export, back to live. The footage is fragmented MP4 from
// /cameras/{id}/playback, an hour at a time, in a plain <video> whose time
// 0 is the time asked for (the gateway starts on that frame).
import { get, can, qs } from './api.js';
import { h, when } from './dom.js';
import { t } from './i18n.js';

const HOUR = 36e5;
const DAY = 24 * HOUR;
const WINDOW_S = 3600;         // one playback request (the gateway's most)
const DEVICE_WINDOW_S = 600;   // one device playback (its session ends with the request)
const EXPORT_S = 300;          // what 导出 downloads from the playhead
const SPEEDS = [1, 2, 4, 8];
const ZOOMS = [DAY, 6 * HOUR, HOUR, 15 * 6e4, 3 * 6e4]; // what the timeline shows
const REFRESH_MS = 30000;      // the last span grows while recording goes on
const MARK_PX = 6;             // a click this near a marker plays from it
const LEAD_MS = 10000;         // a marker plays from this long before it
const LIVE_EDGE_MS = 60000;    // footage ending this near now: back to live
const TICKS = [6e4, 5 * 6e4, 15 * 6e4, 30 * 6e4, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR];
const COLOURS = { bg: '#10151c', span: '#2fbf71', device: '#5b8def', alarm: '#e5484d', case: '#f5a524', head: '#ffffff', scrub: '#3e8ef7', text: '#9aa6b2' };

const clock = new Map(); // one formatter per language and step
function hhmm(ms, withSeconds) {
  const k = withSeconds ? 's' : 'm';
  if (!clock.has(k)) clock.set(k, new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined, hour12: false }));
  return clock.get(k).format(new Date(ms));
}

export class Playback {
  // cam is the camera; at (ms since the epoch) where to start; onLive is
  // called when the user (or the end of the footage) goes back to live.
  constructor(cam, { at, onLive }) {
    this.cam = cam;
    this.onLive = onLive;
    this.rate = 1;
    this.span = DAY;
    this.end = Date.now();
    this.spans = [];       // the gateway's own footage (中心录像)
    this.deviceSpans = []; // what a GB/T 28181 channel's NVR keeps (设备录像)
    this.deviceNote = '';
    this.source = '';      // whose footage the shown video is: gateway or device
    this.marks = [];
    this.stream = '';
    this.from = 0;        // wall time of the shown video's time 0
    this.video = null;    // the shown <video>
    this.incoming = null; // one loading under it
    this.gen = 0;
    this.seekLog = [];    // {ms: click to first painted frame, offset: its media time}
    this.hover = null;
    this.scrub = null;
    this.layer = h('div.pbvideos');
    this.canvas = h('canvas.timeline', { width: 300, height: 30 });
    this.time = h('span.pbtime');
    this.note = h('span.pbnote');
    this.speedButtons = SPEEDS.map(s => h('button.pbspeed', { dataset: { speed: s }, onclick: () => this.setRate(s) }, `${s}×`));
    const exportLink = can('recordings:export') ? h('a.button.pbexport', { title: t('pb.exportHint'), onclick: (e) => { if (!this.exportHref()) e.preventDefault(); else e.currentTarget.href = this.exportHref(); } }, t('pb.export')) : null;
    this.bar = h('div.pbbar', {},
      this.canvas,
      h('div.pbrow', {}, this.time, this.note, h('span.spacer'),
        this.cam.gb ? h('span.pblegend', {}, h('i.lg.gw'), t('pb.legendGateway'), h('i.lg.dev'), t('pb.legendDevice')) : null,
        h('button', { title: t('pb.earlier'), dataset: { page: 'earlier' }, onclick: () => this.page(-1) }, '‹'),
        h('button', { title: t('pb.zoomOut'), dataset: { zoom: 'out' }, onclick: () => this.zoom(-1) }, '−'),
        h('button', { title: t('pb.zoomIn'), dataset: { zoom: 'in' }, onclick: () => this.zoom(1) }, '+'),
        h('button', { title: t('pb.later'), dataset: { page: 'later' }, onclick: () => this.page(1) }, '›'),
        ...this.speedButtons, exportLink,
        h('button.pblive', { onclick: () => this.onLive() }, t('pb.live'))));
    // The timeline is not the tile: no drag of the tile, no full screen.
    this.bar.addEventListener('dragstart', e => { e.preventDefault(); e.stopPropagation(); });
    this.bar.addEventListener('dblclick', e => e.stopPropagation());
    this.bar.addEventListener('click', e => e.stopPropagation());
    this.canvas.addEventListener('pointerdown', e => this.down(e));
    this.canvas.addEventListener('pointermove', e => this.move(e));
    this.canvas.addEventListener('pointerup', e => this.up(e));
    this.canvas.addEventListener('pointerleave', () => { this.hover = null; this.draw(); });
    this.canvas.addEventListener('wheel', e => { e.preventDefault(); this.zoom(e.deltaY < 0 ? 1 : -1, this.timeAt(e)); }, { passive: false });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.canvas);
    this.setRate(1);
    this.refresh = setInterval(() => this.load(), REFRESH_MS);
    this.ready = this.load().then(() => this.seek(at ?? Date.now() - 60000));
  }

  close() {
    clearInterval(this.refresh);
    clearInterval(this.ticker);
    clearTimeout(this.loadTimer);
    this.resize.disconnect();
    this.gen++;
    for (const v of [this.video, this.incoming]) if (v) drop(v);
    this.video = this.incoming = null;
  }

  // now is the wall time of the frame shown (0: none yet).
  now() { return this.video ? this.from + this.video.currentTime * 1000 : 0; }

  // load reads the spans in view (and a day either side, for paging) and
  // the camera's alarms and cases.
  async load() {
    const id = encodeURIComponent(this.cam.id);
    const to = Math.min(Date.now(), this.end + DAY), from = this.end - this.span - DAY;
    const want = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    // A GB/T 28181 channel's NVR keeps footage of its own: both, told apart.
    const source = this.cam.gb ? 'all' : '';
    const [rec, incidents, cases] = await Promise.all([
      get(`/api/v1/cameras/${id}/recordings${qs({ ...want, source })}`).catch(e => ({ error: e })),
      can('events:read') ? get(`/api/v1/incidents${qs({ camera_id: this.cam.id, limit: 500 })}`).then(r => r.items).catch(() => []) : [],
      can('cases:read') ? get(`/api/v1/cases${qs({ camera_id: this.cam.id, ...want, limit: 500 })}`).then(r => r.items).catch(() => []) : [],
    ]);
    if (rec.error) { this.say(rec.error.message); return; }
    this.stream = rec.stream;
    const span = (s) => ({ start: Date.parse(s.start), end: Date.parse(s.end) });
    this.spans = rec.items.filter(s => s.source !== 'device').map(span);
    this.deviceSpans = rec.items.filter(s => s.source === 'device').map(span);
    this.deviceNote = rec.device_error ? t('pb.deviceAway') : (rec.device_complete === false ? t('pb.deviceIncomplete') : '');
    this.marks = [
      ...incidents.map(i => ({ at: Date.parse(i.first_seen), until: i.ended_at ? Date.parse(i.ended_at) : Date.parse(i.last_seen), kind: 'alarm', label: t(`kinds.${i.kind}`) })),
      ...cases.map(c => ({ at: Date.parse(c.created_at), kind: 'case', label: c.title })),
    ].filter(m => m.at >= from && m.at <= to);
    if (!this.spans.length && !this.video) this.say(this.deviceSpans.length ? t('pb.deviceOnly') : t('pb.none'));
    else if (this.deviceNote) this.say(this.deviceNote);
    this.draw();
  }

  say(text) { this.note.textContent = text || ''; }

  // snap is where playing from ms starts: ms inside a span, else the next
  // span's start; null when nothing is recorded from ms on.
  snap(ms) {
    const p = this.pick(ms);
    return p ? p.at : null;
  }

  // pick is where playing from ms starts and whose footage it is: the
  // gateway's own where it has some (its disk is near), else the
  // device's (a GB/T 28181 channel's NVR); null when neither has any
  // from ms on.
  pick(ms) {
    const next = (spans) => {
      for (const s of spans) {
        if (ms < s.start) return s.start;
        if (ms < s.end) return ms;
      }
      return null;
    };
    const gw = next(this.spans), dev = next(this.deviceSpans);
    if (gw === ms || (gw !== null && (dev === null || gw <= dev))) return { at: gw, source: 'gateway' };
    return dev === null ? null : { at: dev, source: 'device' };
  }

  // seek plays from ms. The picture shown stays until the new one paints.
  seek(ms) {
    const clicked = performance.now();
    const p = this.pick(ms);
    if (p === null) { this.say(t('pb.none')); return Promise.resolve(-1); }
    const at = p.at;
    this.say('');
    const gen = ++this.gen;
    if (this.incoming) drop(this.incoming);
    // The picture shown holds still (its decoder idle) while the new one loads.
    const was = this.video;
    if (was) was.pause();
    const v = h('video', { autoplay: true, muted: true, playsInline: true });
    v.muted = true;
    v.defaultPlaybackRate = v.playbackRate = this.rate;
    // A device's footage comes as fast as the device sends it (MANSRTSP
    // Scale): it is asked at twice the rate it is played (8x at most), so
    // the player stays ahead instead of stalling on every late packet.
    v.src = p.source === 'device'
      ? `/api/v1/cameras/${encodeURIComponent(this.cam.id)}/playback${qs({ source: 'device', start: new Date(at).toISOString(), duration: DEVICE_WINDOW_S, scale: Math.min(8, this.rate * 2) })}`
      : `/api/v1/cameras/${encodeURIComponent(this.cam.id)}/playback${qs({ start: new Date(at).toISOString(), duration: WINDOW_S, stream: this.stream })}`;
    v.dataset.source = p.source;
    v.className = this.video ? 'next' : '';
    this.layer.prepend(v);
    this.incoming = v;
    this.pendingAt = at;
    this.draw();
    return new Promise(resolve => {
      const painted = (_, meta) => {
        if (gen !== this.gen) { resolve(-1); return; }
        const ms = Math.round(performance.now() - clicked);
        this.seekLog.push({ ms, offset: meta ? meta.mediaTime : 0, at });
        if (this.video) drop(this.video);
        v.className = '';
        this.video = v;
        this.incoming = null;
        this.from = at;
        this.source = p.source;
        this.follow(v, gen);
        resolve(ms);
      };
      v.requestVideoFrameCallback(painted);
      v.addEventListener('error', () => {
        if (gen !== this.gen) return;
        this.seekLog.push({ ms: -1, at, error: (v.error && v.error.message) || 'error' });
        drop(v);
        this.incoming = null;
        if (was && this.video === was) was.play().catch(() => {});
        this.say(t('pb.failed'));
        resolve(-1);
      }, { once: true });
    });
  }

  // follow moves the playhead with the video (four times a second),
  // skips gaps and goes on past the end of one request.
  follow(v, gen) {
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      if (gen !== this.gen) return;
      const now = this.now();
      if (this.span < DAY && (now > this.end || now < this.end - this.span)) { this.end = Math.min(Date.now(), now + this.span / 2); this.loadSoon(); }
      const at = this.snap(now);
      if (at !== null && at - now > 1000) { this.seek(at); return; } // a gap: on to the next footage
      this.draw();
    }, 250);
    v.addEventListener('ended', async () => {
      if (gen !== this.gen) return;
      const now = this.now();
      await this.load(); // the footage may have grown since
      if (gen !== this.gen) return;
      const at = this.snap(now + 1);
      if (at !== null) { this.seek(at); return; }
      if (Date.now() - now < LIVE_EDGE_MS) { this.onLive(); return; } // caught up with now
      this.say(t('pb.none'));
    });
  }

  setRate(s) {
    const changed = s !== this.rate;
    this.rate = s;
    // The device sends at the speed it was asked: ask again from here.
    if (changed && this.source === 'device' && this.video) { this.speedButtons.forEach(b => b.classList.toggle('on', +b.dataset.speed === s)); this.seek(this.now()); return; }
    for (const v of [this.video, this.incoming]) if (v) { v.defaultPlaybackRate = s; v.playbackRate = s; }
    this.speedButtons.forEach(b => b.classList.toggle('on', +b.dataset.speed === s));
  }

  exportHref() {
    const now = this.now();
    if (!now) return '';
    return `/api/v1/cameras/${encodeURIComponent(this.cam.id)}/playback${qs({ start: new Date(now).toISOString(), duration: EXPORT_S, stream: this.stream, format: 'mp4' })}`;
  }

  // zoom by one step (in: +1) around a time (default: the playhead).
  zoom(dir, around) {
    const i = Math.max(0, Math.min(ZOOMS.length - 1, ZOOMS.indexOf(this.span) + dir));
    if (ZOOMS[i] === this.span) return;
    const c = around ?? (this.now() || this.end - this.span / 2);
    const frac = (c - (this.end - this.span)) / this.span;
    this.span = ZOOMS[i];
    this.end = Math.min(Date.now(), c + (1 - frac) * this.span);
    this.draw();
    this.loadSoon();
  }

  page(dir) {
    this.end = Math.min(Date.now(), this.end + dir * this.span);
    this.draw();
    this.loadSoon();
  }

  loadSoon() {
    clearTimeout(this.loadTimer);
    this.loadTimer = setTimeout(() => this.load(), 150);
  }

  timeAt(e) {
    const r = this.canvas.getBoundingClientRect();
    return this.end - this.span + ((e.clientX - r.left) / r.width) * this.span;
  }

  xOf(ms, w) { return ((ms - (this.end - this.span)) / this.span) * w; }

  // markAt is the marker drawn within MARK_PX of the pointer, if any.
  markAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    let best = null, bestD = MARK_PX;
    for (const m of this.marks) {
      const d = Math.abs(this.xOf(m.at, r.width) - x);
      if (d <= bestD) { best = m; bestD = d; }
    }
    return best;
  }

  down(e) {
    this.canvas.setPointerCapture(e.pointerId);
    this.scrub = { x: e.clientX, at: this.timeAt(e) };
    this.draw();
  }

  move(e) {
    this.hover = { at: this.timeAt(e), mark: this.markAt(e) };
    if (this.scrub) this.scrub.at = this.hover.at;
    this.draw();
  }

  up(e) {
    if (!this.scrub) return;
    const moved = Math.abs(e.clientX - this.scrub.x) > 3;
    const mark = moved ? null : this.markAt(e);
    const at = mark ? mark.at - LEAD_MS : this.scrub.at;
    this.scrub = null;
    this.seek(at);
  }

  // draw paints the timeline: hour ticks and labels on top, the recorded
  // spans below, alarms (red) and cases (amber) as marks, the playhead
  // white, a drag blue.
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, hgt = c.clientHeight;
    if (!w || !hgt) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr); }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = COLOURS.bg;
    g.fillRect(0, 0, w, hgt);
    const top = 12, barH = hgt - top;
    const from = this.end - this.span;
    // ticks at least 48 px apart
    const step = TICKS.find(s => (s / this.span) * w >= 48) || DAY;
    const off = new Date().getTimezoneOffset() * 6e4;
    g.fillStyle = COLOURS.text;
    g.font = '10px system-ui, sans-serif';
    g.textBaseline = 'top';
    for (let x0 = Math.ceil((from - off) / step) * step + off; x0 < this.end; x0 += step) {
      const x = this.xOf(x0, w);
      g.fillRect(x, top - 3, 1, 3);
      g.fillText(hhmm(x0, step < 6e4), x + 2, 0);
    }
    // The gateway's footage on the upper lane, the device's on the lower
    // (the whole bar when the camera has only one kind).
    const lanes = this.deviceSpans.length ? [[this.spans, COLOURS.span, top + 3, (barH - 8) / 2], [this.deviceSpans, COLOURS.device, top + 5 + (barH - 8) / 2, (barH - 8) / 2]]
      : [[this.spans, COLOURS.span, top + 3, barH - 6]];
    g.globalAlpha = 0.75;
    for (const [spans, colour, y, lh] of lanes) {
      g.fillStyle = colour;
      for (const s of spans) {
        if (s.end < from || s.start > this.end) continue;
        const x = Math.max(0, this.xOf(s.start, w)), x2 = Math.min(w, this.xOf(s.end, w));
        g.fillRect(x, y, Math.max(1, x2 - x), lh);
      }
    }
    g.globalAlpha = 1;
    for (const m of this.marks) {
      const x = this.xOf(m.at, w);
      if (x < -2 || x > w + 2) continue;
      g.fillStyle = COLOURS[m.kind];
      if (m.kind === 'alarm') {
        if (m.until > m.at) g.fillRect(x, top, Math.max(2, this.xOf(m.until, w) - x), 3);
        g.fillRect(x - 1, top, 2, barH);
      } else {
        g.beginPath(); g.moveTo(x, top + barH / 2); g.lineTo(x - 4, hgt); g.lineTo(x + 4, hgt); g.fill();
      }
    }
    const head = this.incoming ? this.pendingAt : this.now();
    if (head) { g.fillStyle = COLOURS.head; g.fillRect(this.xOf(head, w) - 1, top - 2, 2, barH + 2); }
    if (this.scrub) { g.fillStyle = COLOURS.scrub; g.fillRect(this.xOf(this.scrub.at, w) - 1, 0, 2, hgt); }
    const shown = this.scrub ? this.scrub.at : this.hover ? this.hover.at : head;
    const mark = !this.scrub && this.hover && this.hover.mark;
    this.time.textContent = shown ? `${when(new Date(shown).toISOString())}${mark ? ' · ' + mark.label : ''}${this.rate !== 1 ? ` · ${this.rate}×` : ''}` : '';
  }
}

// drop stops a video and its download.
function drop(v) {
  v.pause();
  v.removeAttribute('src');
  v.load();
  v.remove();
}
