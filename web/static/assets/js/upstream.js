// The superior platforms the street registers with (级联), for those who
// manage them: a dot per platform (registered, registering, failed,
// disabled), its name, its last keepalive, what it plays and shares, and
// the last error as text. Read every few seconds; hidden when the
// gateway has no GB/T 28181 side.
import { get } from './api.js';
import { h, when } from './dom.js';
import { t } from './i18n.js';

const DOTS = { registered: 'online', registering: 'connecting', failed: 'offline', disabled: 'unknown' };

export class UpstreamPanel {
  constructor({ every = 5000 } = {}) {
    this.every = every;
    this.list = h('ul.uplist', { id: 'upstream' });
    this.el = h('div.upstream.hidden', { id: 'upstreampanel' }, h('h4', { dataset: { i18n: 'up.title' } }, t('up.title')), this.list);
    this.shown = '';
  }

  start() {
    this.load();
    this.timer = setInterval(() => this.load(), this.every);
  }

  async load() {
    let items;
    try { items = (await get('/api/v1/gb/upstream')).items; } catch (e) {
      if (e.status === 404) { clearInterval(this.timer); this.el.classList.add('hidden'); }
      return;
    }
    const key = JSON.stringify(items.map(u => [u.id, u.name, u.status]));
    if (key === this.shown) return; // nothing changed: nothing redrawn
    this.shown = key;
    this.el.classList.toggle('hidden', items.length === 0);
    this.list.replaceChildren(...items.map(u => this.row(u)));
  }

  row(u) {
    const st = u.status || {};
    const state = st.state || 'registering';
    const facts = [t(`up.${state}`)];
    if (st.last_keepalive) facts.push(t('up.keepalive', when(st.last_keepalive)));
    if (st.registered) facts.push(t('up.channels', st.channels || 0), t('up.streams', st.streams || 0));
    return h('li', { dataset: { id: u.id, state }, title: `${u.server_id} · ${u.address}` },
      h('div.l1', {}, h(`span.dot.${DOTS[state] || 'unknown'}`), h('span.nm', {}, u.name || u.id)),
      h('div.l2', {}, facts.join(' · ')),
      st.last_error && state !== 'registered' ? h('div.err', {}, st.last_error) : null);
  }
}
