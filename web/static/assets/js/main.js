// The command centre's page: live wall, map, case desk and reviews, each
// shown only to a user whose role may use it. #wall, #map, #desk[/ID],
// #reports, #health (设备在线率) address the screens.
import { session, can, follow, CASE_TOPICS, whepStats } from './api.js';
import { h, $ } from './dom.js';
import { t, apply, toggle, onChange } from './i18n.js';
import { requireSession, logout } from './login.js';
import { CameraStore } from './store.js';
import { Wall } from './wall.js';
import { MapScreen } from './map.js';
import { Desk } from './desk.js';
import { Reports } from './reports.js';
import { Feed } from './notify.js';
import { HealthScreen } from './health.js';

async function main() {
  const params = new URLSearchParams(location.search);
  if (matchMedia('(max-width: 700px)').matches && !params.has('desk')) { location.replace('/m/' + location.search); return; }
  $('#lang').onclick = toggle;
  apply();
  performance.mark('modules');
  const store = new CameraStore();
  // The cameras are asked for with /me (a 401 shows the sign-in either way).
  const loaded = store.start();
  loaded.catch(() => {});
  const me = await requireSession();
  performance.mark('me');
  const screens = {};
  const openCase = (id) => { location.hash = `#desk/${id}`; };
  const wall = new Wall({ store, onOpenCase: openCase, canAlarms: can('cases:read') });
  screens.wall = wall;
  screens.map = new MapScreen({ store, onOpenCase: openCase, canCases: can('cases:read') });
  if (can('cases:read')) {
    screens.desk = new Desk({ store });
    screens.reports = new Reports({ store });
  }
  if (can('cameras:read')) screens.health = new HealthScreen({ store });
  const feed = can('cases:read') ? new Feed({ onOpenCase: openCase }) : null;
  const main = $('main');
  for (const s of Object.values(screens)) main.append(s.el);
  $('#nav').replaceChildren(...Object.keys(screens).map(k => h('button', { dataset: { view: k, i18n: k }, onclick: () => { location.hash = `#${k}`; } })));
  $('#who').textContent = `${me.display_name || me.username} · ${t(`roles.${me.role}`)}`;
  if (feed) $('#feedslot').replaceWith(feed.el);
  $('#logout').classList.remove('hidden');
  $('#logout').onclick = logout;
  // Switching the language redraws every screen: the page reloads, the
  // wall coming back as it was.
  onChange(() => { sessionStorage.setItem('wall', JSON.stringify(wall.current())); location.reload(); });
  apply();
  window.__sharpeyes = { store, wall, desk: screens.desk, map: screens.map, health: screens.health, feed, session,
    get tiles() { return wall.players; }, get csrf() { return session.csrf; }, get alarms() { return wall.alarms; }, get tourLog() { return wall.tourLog; },
    get switchLog() { return wall.switchLog; }, whepStats };

  let current = '';
  const route = async () => {
    const [view, arg] = location.hash.slice(1).split('/');
    const want = screens[view] ? view : (me.role === 'department' && screens.desk ? 'desk' : 'wall');
    if (want !== current) {
      for (const [k, s] of Object.entries(screens)) {
        if (k === want) continue;
        if (s.hide) s.hide(); else s.el.classList.add('hidden');
      }
      current = want;
      document.querySelectorAll('#nav button').forEach(b => b.classList.toggle('on', b.dataset.view === want));
      if (screens[want].show) await screens[want].show(); else screens[want].el.classList.remove('hidden');
    }
    if (want === 'desk' && arg) screens.desk.openCase(decodeURIComponent(arg));
  };
  window.addEventListener('hashchange', route);

  try { await loaded; } catch (e) { $('#who').textContent += ` · ${e.message}`; }
  performance.mark('cameras');
  await wall.start(+(params.get('layout') || 4), params.get('wall'));
  route();

  // One event stream: alarms for the wall, case changes for the desk,
  // notifications for the feed, each handed over in batches.
  if (can('events:read') || can('cases:read')) {
    follow([...CASE_TOPICS, 'notify'], (batch) => {
      const notes = [], created = [], changed = new Set();
      for (const { type, data } of batch) {
        if (type === 'notify') { notes.push(data); continue; }
        if (type === 'case.create') created.push(data);
        if (data.case_id) changed.add(data.case_id);
      }
      if (feed && notes.length) feed.pushMany(notes);
      if (created.length) wall.onCasesCreated(created);
      if (screens.desk && changed.size) screens.desk.changed(changed);
    });
    if (feed) feed.load();
  }
}

main();
