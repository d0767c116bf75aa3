// The notification feed: new assignments, 督办 warnings and overdue
// notices, evaluations, and for the centre reports to register and cases
// to verify. Loaded once, then live from the event stream (event: notify).
import { get } from './api.js';
import { h, when } from './dom.js';
import { t, caseTitle } from './i18n.js';

export class Feed {
  constructor({ onOpenCase }) {
    this.onOpenCase = onOpenCase || (() => {});
    this.items = [];
    this.unread = 0;
    this.count = h('span.count', { id: 'notifycount' });
    this.list = h('ul.feed', { id: 'notifications' });
    this.panel = h('div.notifypanel.hidden', { id: 'notifypanel' }, h('h3', {}, t('notifications')), this.list);
    this.button = h('button.bell', { id: 'bell', title: t('notifications'), onclick: () => this.toggle() }, '✉', this.count);
    this.el = h('span.notify', {}, this.button, this.panel);
  }

  async load() {
    try { this.items = (await get('/api/v1/notifications?limit=50')).items; } catch (e) { this.items = []; }
    this.render();
  }

  // pushMany adds live notifications (newest first, no duplicates, the
  // latest 200 kept) with one redraw.
  pushMany(list) {
    const seen = new Set(this.items.map(x => `${x.kind}:${x.seq}`));
    const fresh = list.filter(n => !seen.has(`${n.kind}:${n.seq}`));
    if (!fresh.length) return;
    this.items = [...fresh.reverse(), ...this.items].slice(0, 200);
    this.unread += fresh.length;
    this.render();
  }

  toggle() {
    this.panel.classList.toggle('hidden');
    this.unread = 0;
    this.render();
  }

  // render updates the count; the list is drawn only while it is open
  // (and when it opens), so a burst of notifications costs a number.
  render() {
    this.count.textContent = this.unread ? String(this.unread) : '';
    if (this.panel.classList.contains('hidden')) return;
    this.list.replaceChildren(...(this.items.length ? this.items.map(n => h(`li.n-${n.kind}`, { dataset: { caseId: n.case_id, kind: n.kind },
      onclick: () => { this.panel.classList.add('hidden'); this.onOpenCase(n.case_id); } },
    h('div.l1', {}, h(`span.badge.k-${n.kind}`, {}, t(`notify.${n.kind}`)), n.level ? h(`span.badge.e${n.level}`, {}, t('level', n.level)) : null, h('span.t', {}, when(n.at))),
    h('div.l2', {}, caseTitle({ kind: n.case_kind, title: n.title, camera_id: n.camera_id })))) : [h('li.none', {}, t('noNotifications'))]));
  }
}
