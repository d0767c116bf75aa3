// Reviews (日点评 / 周小结 / 月通报): per grid the cases received, closed on
// time, overdue, escalated, the three rates, the top categories and its
// cameras' online rate, ranked (by resolution or by online rate), with the
// same table as a CSV download.
import { get, qs } from './api.js';
import { h, pct } from './dom.js';
import { t } from './i18n.js';

export class Reports {
  constructor({ store }) {
    this.store = store;
    this.period = h('select', { id: 'r-period', onchange: () => this.load() }, ...['day', 'week', 'month'].map(p => h('option', { value: p }, t(p))));
    this.period.value = 'month';
    this.date = h('input', { id: 'r-date', type: 'date', onchange: () => this.load() });
    this.rankBy = h('select', { id: 'r-rank', onchange: () => this.load() },
      h('option', { value: 'resolution' }, t('hr.byResolution')), h('option', { value: 'online_rate' }, t('hr.byOnlineRate')));
    this.csv = h('a.button', { id: 'r-csv', download: '' }, t('csv'));
    this.table = h('table.report', { id: 'report' });
    this.el = h('div.screen.reportscreen.hidden', { id: 'reportscreen' },
      h('div.row', {}, h('label.inline', {}, h('span', {}, t('period')), this.period), h('label.inline', {}, h('span', {}, t('date')), this.date),
        h('label.inline', {}, h('span', {}, t('hr.rankBy')), this.rankBy), this.csv),
      this.table);
  }

  async show() { this.el.classList.remove('hidden'); await this.load(); }

  hide() { this.el.classList.add('hidden'); }

  async load() {
    const q = { period: this.period.value, date: this.date.value, rank_by: this.rankBy.value };
    this.csv.href = `/api/v1/reports${qs({ ...q, format: 'csv' })}`;
    let r;
    try { r = await get(`/api/v1/reports${qs(q)}`); } catch (e) { this.table.replaceChildren(h('caption', {}, e.message)); return; }
    const head = [t('rank'), t('grid'), t('received'), t('onTime'), t('overdueN'), t('escalated'), t('response'), t('resolutionRate'), t('satisfaction'), t('topCategories'), t('hr.cameras'), t('hr.byOnlineRate')];
    this.table.replaceChildren(
      h('caption', {}, `${new Date(r.from).toLocaleDateString()} – ${new Date(new Date(r.to) - 1).toLocaleDateString()}`),
      h('thead', {}, h('tr', {}, ...head.map(x => h('th', {}, x)))),
      h('tbody', {}, ...r.items.map(g => h('tr', { dataset: { grid: g.grid } }, h('td', {}, g.rank), h('td', {}, (this.store.cells[g.grid] || {}).name || g.grid),
        h('td', {}, g.received), h('td', {}, g.closed_on_time), h('td', {}, g.overdue), h('td', {}, g.escalated),
        h('td', {}, pct(g.response_rate)), h('td', {}, pct(g.resolution_rate)), h('td', {}, pct(g.satisfaction_rate)),
        h('td', {}, (g.top_categories || []).map(c => t(`categories.${c}`)).join('、')),
        h('td', {}, g.cameras || 0), h('td.onlinerate', {}, g.online_rate === null || g.online_rate === undefined ? '—' : pct(g.online_rate))))));
  }
}
