// Small DOM helpers shared by the screens.
import { lang, t } from './i18n.js';

// h builds an element: h('div.tile', {dataset: {...}, onclick}, child, …).
export function h(tag, props, ...kids) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') el.style.cssText = v;
    else if (k.startsWith('on')) el[k] = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// escapeHTML is for the one place a library insists on HTML (Leaflet's
// attribution): everything else is built with h() and text nodes.
export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// mediaLink shows an event's media URL: the gateway's own pictures
// (/api/v1/media/…) as a picture; an http(s) address elsewhere as a link
// naming its host, never loaded by the page; anything else not at all.
export function mediaLink(u, alt) {
  let url;
  try { url = new URL(u, location.origin); } catch (e) { return null; }
  if (url.origin === location.origin && url.pathname.startsWith('/api/v1/media/')) {
    return h('a', { href: url.pathname, target: '_blank', rel: 'noopener' }, h('img.thumb', { src: url.pathname, alt }));
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  return h('a.extlink', { href: url.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, `${alt} (${url.host})`);
}
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export const pct = (x) => `${(100 * (x || 0)).toFixed(1)}%`;
// when formats a time. One formatter per language: toLocaleString builds
// a new one per call, which was most of a burst's main-thread time.
const formats = {};
export function when(s) {
  if (!s) return '';
  const l = lang();
  formats[l] ||= new Intl.DateTimeFormat(l === 'zh' ? 'zh-CN' : 'en-GB', { year: 'numeric', month: 'numeric', day: 'numeric',
    hour: 'numeric', minute: 'numeric', second: 'numeric', hour12: false });
  return formats[l].format(new Date(s));
}

export function distance(m) {
  if (m === undefined || m === null) return '';
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

export function bitrate(b) {
  if (!b) return '0';
  return b >= 1e6 ? `${(b / 1e6).toFixed(2)} Mbit/s` : `${Math.round(b / 1e3)} kbit/s`;
}

// timeLeft formats the time until a deadline (negative: overdue).
export function timeLeft(deadline, now = Date.now()) {
  const ms = new Date(deadline).getTime() - now;
  const abs = Math.abs(ms), d = Math.floor(abs / 864e5), hr = Math.floor((abs % 864e5) / 36e5), min = Math.floor((abs % 36e5) / 6e4);
  const text = d ? t('dur.dh', d, hr) : hr ? t('dur.hm', hr, min) : t('dur.m', min);
  return { overdue: ms < 0, text, ms };
}

// beep sounds an alarm tone (Web Audio), at most once every 2 s however
// many alarms arrive. Browsers play sound only after the page was clicked,
// so the audio context is made then, not by the first alarm (making it
// costs tens of milliseconds of the page's main thread).
let audio = null;
let lastBeep = 0;
document.addEventListener('pointerdown', () => {
  try { audio = audio || new AudioContext(); } catch (e) { /* no audio device */ }
}, { once: true, capture: true });
export function beep() {
  if (!audio || performance.now() - lastBeep < 2000) return;
  lastBeep = performance.now();
  try {
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.2, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.6);
  } catch (e) { /* no audio device */ }
}
