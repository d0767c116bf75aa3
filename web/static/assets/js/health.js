// 设备在线率: a grid's online rate today and over 30 days (a plot, a bar a
// day), its cells one level down, and the cameras offline now, longest
// first, with why. A click on a cell goes down into it; the panel reloads
// every minute while it is shown.
import { get, qs } from './api.js';
import { h, pct, timeLeft } from './dom.js';
import { t } from './i18n.js';
import { when } from './status.js';

const SVG = 'http://www.w3.org/2000/svg';

// s builds an SVG element (attributes as strings; children appended).
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids) if (kid) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

const rateText = (sh) => (sh && sh.rate !== null && sh.rate !== undefined ? pct(sh.rate) : '—');

// plot draws the days' rates as bars (0–100 %), a grey stub for a day
// nothing was known; each bar's title says the day, its rate and the
// camera-hours offline.
export function plot(days) {
  const W = 620, H = 160, L = 36, B = 20, T = 8;
  const n = Math.max(days.length, 1), bw = (W - L) / n;
  const y = (r) => T + (H - T - B) * (1 - r);
  const g = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rateplot', role: 'img', 'aria-label': t('hr.plot') });
  for (const r of [0, 0.5, 0.9, 1]) {
    g.append(s('line', { x1: L, x2: W, y1: y(r), y2: y(r), class: r === 0.9 ? 'goal' : 'grid' }),
      s('text', { x: L - 4, y: y(r) + 4, 'text-anchor': 'end', class: 'axis' }, `${Math.round(r * 100)}%`));
  }
  days.forEach((d, i) => {
    const x = L + i * bw + 1, w = Math.max(bw - 2, 1);
    const known = d.rate !== null && d.rate !== undefined;
    const bar = s('rect', known
      ? { x, y: y(d.rate), width: w, height: Math.max(y(0) - y(d.rate), 1), class: d.rate >= 0.9 ? 'bar ok' : 'bar low' }
      : { x, y: y(0) - 2, width: w, height: 2, class: 'bar none' });
    bar.dataset.date = d.date;
    if (known) bar.dataset.rate = String(d.rate);
    bar.append(s('title', {}, `${d.date} · ${known ? pct(d.rate) : t('hr.nothingKnown')} · ${t('hr.offlineHours', (d.offline_s / 3600).toFixed(1))}`));
    g.append(bar);
    if (i % 5 === 0 || i === days.length - 1) {
      g.append(s('text', { x: x + w / 2, y: H - 5, 'text-anchor': 'middle', class: 'axis' }, d.date.slice(5)));
    }
  });
  return g;
}

export class HealthScreen {
  constructor({ store }) {
    this.store = store;
    this.grid = h('select', { id: 'hr-grid', onchange: () => this.load() });
    this.figures = h('div.rates', { id: 'hr-figures' });
    this.chart = h('div.rateplotbox', { id: 'hr-plot' });
    this.cells = h('table.report', { id: 'hr-cells' });
    this.offline = h('table.report', { id: 'hr-offline' });
    this.el = h('div.screen.reportscreen.healthscreen.hidden', { id: 'healthscreen' },
      h('div.row', {}, h('label.inline', {}, h('span', {}, t('grid')), this.grid)),
      this.figures, h('h3', {}, t('hr.days30')), this.chart,
      h('h3', {}, t('hr.cells')), this.cells, h('h3', {}, t('hr.offlineNow')), this.offline);
    this.timer = 0;
  }

  fillGrids() {
    const cur = this.grid.value;
    const cells = Object.values(this.store.cells).filter(c => c.kind !== 'special').sort((a, b) => a.code.localeCompare(b.code));
    this.grid.replaceChildren(h('option', { value: '' }, t('all')),
      ...cells.map(c => h('option', { value: c.code }, `${'  '.repeat(Math.max(0, (c.level || 1) - 1))}${c.name}`)));
    this.grid.value = cur;
  }

  async show() {
    this.el.classList.remove('hidden');
    this.fillGrids();
    await this.load();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.load(), 60000);
  }

  hide() { this.el.classList.add('hidden'); clearInterval(this.timer); }

  // open shows a cell's rate (a click on a row of the cells).
  open(code) {
    if (![...this.grid.options].some(o => o.value === code)) this.grid.append(h('option', { value: code }, code));
    this.grid.value = code;
    this.load();
  }

  async load() {
    let r;
    try { r = await get(`/api/v1/health/online-rate${qs({ grid: this.grid.value, days: 30 })}`); } catch (e) {
      this.figures.replaceChildren(h('div.rate', {}, h('div.l', {}, e.message)));
      return;
    }
    this.data = r;
    const offlineNow = r.offline.length;
    this.figures.replaceChildren(...[
      ['hr-today', t('hr.today'), rateText(r.today)], ['hr-period', t('hr.period30'), rateText(r.period)],
      ['hr-cameras', t('hr.cameras'), r.cameras], ['hr-offline-n', t('hr.offlineN'), offlineNow],
    ].map(([id, l, v]) => h('div.rate', { id }, h('div.v', {}, v), h('div.l', {}, l))));
    this.chart.replaceChildren(plot(r.days));
    const name = (code) => (this.store.cells[code] || {}).name || code;
    this.cells.replaceChildren(
      h('thead', {}, h('tr', {}, ...[t('grid'), t('hr.cameras'), t('hr.offlineN'), t('hr.today'), t('hr.period30')].map(x => h('th', {}, x)))),
      h('tbody', {}, ...r.cells.map(c => h('tr.clickable', { dataset: { grid: c.code }, onclick: () => this.open(c.code) },
        h('td', {}, c.name || name(c.code)), h('td', {}, c.cameras), h('td', {}, c.offline), h('td', {}, rateText(c.today)), h('td', {}, rateText(c.period))))));
    const now = Date.now();
    this.offline.replaceChildren(
      h('thead', {}, h('tr', {}, ...[t('camera'), t('grid'), t('reason'), t('hr.since'), t('hr.down')].map(x => h('th', {}, x)))),
      h('tbody', {}, ...(r.offline.length ? r.offline.map(c => h('tr', { dataset: { camera: c.id } },
        h('td', {}, c.name || c.id), h('td', {}, name(c.grid)), h('td', {}, c.reason ? t(`offlineWhy.${c.reason}`) : ''),
        h('td', {}, when(c.since)), h('td', {}, downFor(c.since, now))))
        : [h('tr', {}, h('td', { colSpan: 5 }, t('hr.allOnline')))])));
  }
}

// downFor is how long a camera has been offline.
export function downFor(since, now = Date.now()) {
  const d = new Date(since);
  if (!since || isNaN(d) || d.getFullYear() < 2000) return '';
  return timeLeft(now, d.getTime()).text;
}
