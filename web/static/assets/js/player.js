// The player tile: one camera over WHEP in a <video>, with its status,
// a retry on failure, and a seamless switch (the old picture stays until
// the new camera's first frame is painted). 回放 turns the tile to the
// camera's recordings (playback.js) until 直播 brings it back live.
import { whep, can, post } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { Playback } from './playback.js';

export class Player {
  constructor({ stream = 'sub', onDblClick } = {}) {
    this.stream = stream;
    this.cam = null;
    this.video = h('video', { autoplay: true, muted: true, playsInline: true });
    this.video.muted = true;
    this.name = h('span.nm');
    this.dot = h('span.dot');
    this.msg = h('div.msg');
    this.stats = h('div.stats');
    // reviewAt (ms) is where 回放 starts: the alarm's or the case's time.
    this.reviewAt = null;
    this.pbButton = can('recordings:read') ? h('button.pbopen', { title: t('pb.open'), onclick: (e) => { e.stopPropagation(); this.openPlayback(); } }, t('pb.open')) : null;
    this.ptz = can('cameras:ptz') ? this.ptzPad() : null;
    this.el = h('div.tile', {}, this.video, h('div.label', {}, this.dot, this.name, this.pbButton), this.msg, this.stats, this.ptz);
    if (onDblClick) this.el.ondblclick = () => onDblClick(this);
    this.setMsg(t('empty'));
  }

  // ptzPad is the PTZ pad of a GB/T 28181 channel that takes PTZ: a button
  // held moves the camera, released stops it.
  ptzPad() {
    const send = (action) => {
      if (!this.cam) return;
      post(`/api/v1/cameras/${encodeURIComponent(this.cam.id)}/ptz`, { action, speed: 96 })
        .catch(e => this.setMsg(`${t('ptz.failed')} (${e.message})`));
    };
    const button = (action, label) => {
      const b = h('button.ptzbtn', { title: t(`ptz.${action}`), dataset: { ptz: action } }, label);
      b.addEventListener('pointerdown', (e) => { e.stopPropagation(); b.setPointerCapture(e.pointerId); send(action); });
      b.addEventListener('pointerup', (e) => { e.stopPropagation(); send('stop'); });
      b.addEventListener('dblclick', (e) => e.stopPropagation());
      return b;
    };
    const pad = h('div.ptz', {}, button('up', '▲'), button('left', '◀'), button('right', '▶'), button('down', '▼'),
      button('zoom_in', '+'), button('zoom_out', '−'));
    pad.hidden = true;
    return pad;
  }

  setMsg(text) { this.msg.textContent = text; this.msg.style.display = text ? 'flex' : 'none'; }

  // session is the newest WHEP session (the one switching in, or shown).
  get session() { return (this.incoming || this.shown || {}).s || null; }

  // play shows cam (null: empty). Resolves with the milliseconds from the
  // call to the new camera's first painted frame, or -1 if it did not play.
  async play(cam) {
    this.closePlayback();
    clearTimeout(this.retry);
    const started = performance.now();
    this.cam = cam;
    if (this.incoming) { // a switch overtaken by another
      this.incoming.s.close();
      this.incoming.video.remove();
      this.video = this.shown.video;
      this.incoming = null;
    }
    if (cam) this.el.dataset.cameraId = cam.id; else this.el.removeAttribute('data-camera-id');
    if (this.ptz) this.ptz.hidden = !(cam && cam.gb && cam.gb.ptz);
    this.name.textContent = cam ? cam.name : '';
    this.firstFrameMs = undefined;
    if (!cam) { this.stop(); this.setMsg(t('empty')); return -1; }
    if (!this.shown) this.setMsg(t('loading'));
    // A fresh <video> for the new camera, under the old picture until it
    // paints: a tour or a switch never flashes black.
    const video = h('video', { autoplay: true, muted: true, playsInline: true });
    video.muted = true;
    let s;
    try {
      s = await whep(video, cam.id, this.stream);
    } catch (e) {
      if (this.cam === cam) this.scheduleRetry(`${t('failed')} (${e.message})`);
      return -1;
    }
    if (this.cam !== cam || this.incoming) { s.close(); return -1; }
    const mine = { s, video };
    s.pc.addEventListener('connectionstatechange', () => {
      if (['failed', 'closed'].includes(s.pc.connectionState) && this.shown === mine) this.scheduleRetry(t('failed'));
    });
    const painted = new Promise(resolve => {
      const done = () => resolve(performance.now() - started);
      if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(done);
      else video.addEventListener('playing', done, { once: true });
      setTimeout(() => resolve(-1), 10000);
    });
    if (this.shown) {
      video.className = 'next';
      this.el.insertBefore(video, this.video);
      this.incoming = mine;
    } else {
      this.video.replaceWith(video);
      this.shown = mine;
    }
    this.video = video;
    const ms = await painted;
    if (this.incoming === mine) {
      this.drop(this.shown);
      this.shown = mine;
      this.incoming = null;
      video.className = '';
    }
    if (this.shown !== mine) return -1;
    if (ms >= 0) { this.firstFrameMs = Math.round(ms); this.setMsg(''); }
    return ms >= 0 ? this.firstFrameMs : -1;
  }

  // openPlayback shows the camera's recordings on the tile from at (ms;
  // default: reviewAt less ten seconds, or a minute ago).
  openPlayback(at) {
    const cam = this.cam;
    if (!cam || this.pb) return this.pb;
    clearTimeout(this.retry);
    this.stop();
    this.cam = cam;
    const from = at ?? (this.reviewAt ? this.reviewAt - 10000 : undefined);
    this.pb = new Playback(cam, { at: from, onLive: () => { this.closePlayback(); this.play(cam); } });
    this.el.classList.add('pb');
    this.el.append(this.pb.layer, this.pb.bar);
    this.setMsg('');
    return this.pb;
  }

  closePlayback() {
    if (!this.pb) return;
    this.pb.close();
    this.pb.layer.remove();
    this.pb.bar.remove();
    this.pb = null;
    this.el.classList.remove('pb');
  }

  drop(x) {
    if (!x) return;
    x.s.close();
    x.video.remove();
  }

  stop() {
    clearTimeout(this.retry);
    const blank = h('video', { autoplay: true, muted: true, playsInline: true });
    for (const x of [this.incoming, this.shown]) if (x) { x.s.close(); x.video.remove(); }
    this.incoming = this.shown = null;
    if (this.video.isConnected) this.video.replaceWith(blank); else this.el.prepend(blank);
    this.video = blank;
  }

  scheduleRetry(why) {
    const cam = this.cam;
    this.stop();
    this.cam = cam;
    let left = 3;
    const tick = () => {
      if (this.cam !== cam) return;
      if (left === 0) { this.play(cam); return; }
      this.setMsg(`${why} · ${t('retryIn', left)}`);
      left--;
      this.retry = setTimeout(tick, 1000);
    };
    tick();
  }

  // setStatus colours the dot and fills the hover panel (fps, bitrate,
  // viewers: the gateway's view of the camera).
  setStatus(st) {
    const state = (st && st.state) || 'unknown';
    this.dot.className = `dot ${state}`;
    this.el.dataset.state = state;
    if (!st) { this.stats.textContent = ''; return; }
    this.stats.replaceChildren(
      h('div', {}, `${t(`state.${state}`)}${st.codec ? ' · ' + st.codec : ''}${st.width ? ` · ${st.width}×${st.height}` : ''}`),
      h('div', {}, `${t('fps')} ${(st.fps || 0).toFixed(1)} · ${t('bitrate')} ${st.bitrate >= 1e6 ? (st.bitrate / 1e6).toFixed(2) + ' Mbit/s' : Math.round((st.bitrate || 0) / 1e3) + ' kbit/s'}`),
      h('div', {}, `${t('viewers')} ${st.viewers || 0}`));
  }

  // framesDecoded reads the inbound video counter (0 when not playing).
  async framesDecoded() {
    if (!this.session) return 0;
    let n = 0;
    (await this.session.pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded || 0; });
    return n;
  }
}
