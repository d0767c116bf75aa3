// sharpeyes live wall: camera list with status, 1/4/9/16 split, WHEP playback.
'use strict';

const I18N = {
  zh: { title: '雪亮工程 · 视频汇聚网关', filter: '搜索摄像机', close: '关闭', lang: 'English',
        online: '在线', offline: '离线', connecting: '连接中', idle: '按需', empty: '点击左侧摄像机播放',
        loading: '正在连接…', failed: '无法播放', retry: '秒后重试', summary: (on, all) => `在线 ${on} / 共 ${all}`,
        grids: '网格', all: '全部', wall: '视频墙', casesTab: '事件与工单', incidents: '事件', openCases: '在办工单',
        response: '响应率', resolution: '办结率', satisfaction: '满意率', cases30: '近30天工单', level: '督办',
        username: '用户名', password: '密码', signin: '登录', logout: '退出', badLogin: '用户名或密码错误',
        tooMany: (s) => `登录失败次数过多，请 ${s} 秒后再试`, loginFailed: '登录失败', noCameras: '您的辖区内没有摄像机',
        roles: { admin: '管理员', dispatcher: '指挥中心', grid_worker: '网格员', department: '职能部门', viewer: '只看视频' } },
  en: { title: 'Sharp Eyes · Video Gateway', filter: 'Search cameras', close: 'Close', lang: '中文',
        online: 'online', offline: 'offline', connecting: 'connecting', idle: 'on demand', empty: 'Pick a camera on the left',
        loading: 'Connecting…', failed: 'Cannot play', retry: 's to retry', summary: (on, all) => `${on} of ${all} online`,
        grids: 'Grids', all: 'All', wall: 'Live wall', casesTab: 'Incidents & cases', incidents: 'Incidents', openCases: 'Open cases',
        response: 'Response', resolution: 'Resolution', satisfaction: 'Satisfaction', cases30: 'Cases, 30 days', level: 'Escalation',
        username: 'Username', password: 'Password', signin: 'Sign in', logout: 'Sign out', badLogin: 'Wrong username or password',
        tooMany: (s) => `Too many failed sign-ins; try again in ${s} s`, loginFailed: 'Sign-in failed', noCameras: 'No cameras in your jurisdiction',
        roles: { admin: 'admin', dispatcher: 'command centre', grid_worker: 'grid worker', department: 'department', viewer: 'viewer' } },
};
let lang = localStorage.getItem('lang') || 'zh';
const t = (k) => I18N[lang][k];

const state = { cameras: [], status: {}, layout: 4, tiles: [], selected: 0, cells: {}, grid: '', me: null, csrf: '', iceServers: [] };
window.__sharpeyes = state; // for tests and debugging

function applyLang() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll('[data-i18n]').forEach(e => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll('[data-i18n-placeholder]').forEach(e => { e.placeholder = t(e.dataset.i18nPlaceholder); });
  document.getElementById('lang').textContent = t('lang');
  document.getElementById('lang2').textContent = t('lang');
  document.title = t('title');
  renderWho();
  renderList(); renderSummary();
  state.tiles.forEach(tile => tile.cam || setMsg(tile, t('empty')));
  if (!document.getElementById('casesView').classList.contains('hidden')) loadCasesView();
}

// Every request is the signed-in user's (session cookie); writes echo the
// CSRF token given at sign-in. A 401 means the session ended: sign in again.
async function api(path, opts = {}) {
  const r = await fetch(path, withCSRF(opts));
  if (r.status === 401) { showLogin(); throw new Error('401'); }
  if (!r.ok) throw new Error(`${r.status}`);
  return r.status === 204 ? null : r.json();
}

function withCSRF(opts) {
  const method = (opts.method || 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return opts;
  return { ...opts, headers: { ...(opts.headers || {}), 'X-CSRF-Token': state.csrf } };
}

// The STUN/TURN servers the gateway announces (WHEP Link headers, RFC 9725
// 4.4), so viewers behind a carrier's NAT can connect through TURN.
async function loadIceServers() {
  try {
    const r = await fetch('/api/v1/whep/_', { method: 'OPTIONS' });
    const out = [];
    for (const m of (r.headers.get('Link') || '').matchAll(/<([^>]+)>([^,]*)/g)) {
      const params = Object.fromEntries([...m[2].matchAll(/;\s*([\w-]+)="?([^";]*)"?/g)].map(p => [p[1], p[2]]));
      if (params.rel !== 'ice-server') continue;
      const srv = { urls: m[1] };
      if (params.username) { srv.username = params.username; srv.credential = params.credential; }
      out.push(srv);
    }
    state.iceServers = out;
  } catch (e) { state.iceServers = []; }
}

const can = (scope) => !!state.me && (state.me.scopes || []).includes(scope);

function renderWho() {
  const el = document.getElementById('who');
  if (!state.me) { el.textContent = ''; return; }
  el.textContent = `${state.me.display_name || state.me.username} · ${(I18N[lang].roles || {})[state.me.role] || state.me.role}`;
}

function showLogin(msg) {
  state.me = null;
  document.getElementById('login').classList.remove('hidden');
  document.getElementById('logout').classList.add('hidden');
  document.getElementById('loginmsg').textContent = msg || '';
  state.tiles.forEach(stopTile);
  if (stream) { stream.close(); stream = null; }
  document.getElementById('username').focus();
}

async function signIn(e) {
  e.preventDefault();
  const msg = document.getElementById('loginmsg');
  msg.textContent = '';
  const r = await fetch('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: document.getElementById('username').value.trim(), password: document.getElementById('password').value }) });
  document.getElementById('password').value = '';
  if (r.status === 429) { msg.textContent = t('tooMany')(r.headers.get('Retry-After') || '?'); return; }
  if (r.status === 401) { msg.textContent = t('badLogin'); return; }
  if (!r.ok) { msg.textContent = `${t('loginFailed')} (${r.status})`; return; }
  location.reload(); // start clean as the new user
}

async function signOut() {
  try { await fetch('/api/v1/logout', withCSRF({ method: 'POST' })); } catch (e) { /* ended anyway below */ }
  location.reload();
}

async function loadCameras() {
  const page = await api('/api/v1/cameras?limit=1000');
  state.cameras = page.items;
  renderList();
}

async function loadStatus() {
  await Promise.all(state.cameras.map(async c => {
    try { state.status[c.id] = await api(`/api/v1/cameras/${encodeURIComponent(c.id)}/status`); } catch (e) { /* keep last */ }
  }));
  renderList(); renderSummary(); refreshDots();
}

function renderSummary() {
  const on = state.cameras.filter(c => (state.status[c.id] || {}).state === 'online').length;
  document.getElementById('summary').textContent = I18N[lang].summary(on, state.cameras.length);
}

// within tells whether cell code lies in root's subtree.
function within(code, root) {
  for (let c = state.cells[code]; c; c = state.cells[c.parent]) if (c.code === root) return true;
  return false;
}

function inGrid(cam, root) {
  const cells = cam.cells || {};
  return (cells.base && within(cells.base, root)) || (cells.special || []).some(s => within(s, root));
}

async function loadGrids() {
  const page = await api('/api/v1/grids');
  state.cells = Object.fromEntries(page.items.map(c => [c.code, c]));
  renderTree();
}

function renderTree() {
  const ul = document.getElementById('tree');
  const kids = {};
  Object.values(state.cells).forEach(c => { (kids[c.parent || ''] = kids[c.parent || ''] || []).push(c); });
  Object.values(kids).forEach(l => l.sort((a, b) => (a.kind === b.kind ? a.code.localeCompare(b.code) : a.kind === 'base' ? -1 : 1)));
  const items = [];
  const walk = (parent, depth) => (kids[parent] || []).forEach(c => {
    const li = document.createElement('li');
    const n = state.cameras.filter(cam => inGrid(cam, c.code)).length;
    li.style.paddingLeft = `${10 + depth * 14}px`;
    li.className = (c.kind === 'special' ? 'special' : '') + (state.grid === c.code ? ' on' : '');
    li.textContent = c.name;
    const count = document.createElement('span');
    count.className = 'n';
    count.textContent = n;
    li.appendChild(count);
    li.title = c.code;
    li.onclick = () => { state.grid = state.grid === c.code ? '' : c.code; renderTree(); renderList(); };
    items.push(li);
    if (depth < 2 || state.grid === c.code || (state.grid && within(state.grid, c.code))) walk(c.code, depth + 1);
  });
  walk('', 0);
  ul.replaceChildren(...items);
}

function renderList() {
  const ul = document.getElementById('cameras');
  const q = document.getElementById('filter').value.trim().toLowerCase();
  ul.replaceChildren(...state.cameras
    .filter(c => !state.grid || inGrid(c, state.grid))
    .filter(c => !q || c.name.toLowerCase().includes(q) || c.id.includes(q) || (c.tags || []).some(x => x.includes(q)))
    .map(c => {
      const st = (state.status[c.id] || {}).state || 'idle';
      const li = document.createElement('li');
      li.dataset.id = c.id;
      li.title = t(st);
      li.innerHTML = `<span class="dot ${st}"></span><span><span class="name"></span><span class="id"></span></span>`;
      li.querySelector('.name').textContent = c.name;
      li.querySelector('.id').textContent = c.id;
      li.onclick = () => assign(state.selected, c);
      return li;
    }));
}

function setMsg(tile, text) { tile.msg.textContent = text; tile.msg.style.display = text ? 'flex' : 'none'; }

// WHEP (RFC 9725): POST the offer, get the answer and a session URL.
async function whep(video, cameraId, stream) {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.ontrack = (e) => { if (!video.srcObject) video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  // No trickle and no wait for gathering: the server learns this browser's
  // address from its first connectivity check (a peer-reflexive candidate).
  performance.mark(`whep-post:${cameraId}`);
  const r = await fetch(`/api/v1/whep/${encodeURIComponent(cameraId)}?stream=${stream}`, withCSRF({
    method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp }));
  if (r.status !== 201) {
    pc.close();
    let msg = `${r.status}`;
    try { msg += ' ' + (await r.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  performance.mark(`whep-answer:${cameraId}`);
  pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'connected') performance.mark(`connected:${cameraId}`); });
  const location = r.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  return { pc, close: () => { pc.close(); if (location) fetch(location, withCSRF({ method: 'DELETE' })).catch(() => {}); } };
}

function stopTile(tile) {
  clearTimeout(tile.retry);
  if (tile.session) tile.session.close();
  tile.session = null;
  tile.video.srcObject = null;
}

async function play(tile) {
  stopTile(tile);
  const cam = tile.cam;
  if (!cam) return;
  setMsg(tile, t('loading'));
  try {
    const s = await whep(tile.video, cam.id, 'sub');
    if (tile.cam !== cam) { s.close(); return; }
    tile.session = s;
    s.pc.addEventListener('connectionstatechange', () => {
      if (['failed', 'closed', 'disconnected'].includes(s.pc.connectionState) && tile.session === s) scheduleRetry(tile, t('failed'));
    });
    tile.video.onplaying = () => setMsg(tile, '');
  } catch (e) {
    scheduleRetry(tile, `${t('failed')} (${e.message})`);
  }
}

function scheduleRetry(tile, why) {
  stopTile(tile);
  setMsg(tile, `${why} · 3${t('retry')}`);
  tile.retry = setTimeout(() => play(tile), 3000);
}

function assign(i, cam) {
  const tile = state.tiles[i];
  tile.cam = cam;
  tile.name.textContent = cam.name;
  play(tile);
  select((i + 1) % state.tiles.length);
}

function select(i) {
  state.selected = i;
  state.tiles.forEach((tile, j) => tile.el.classList.toggle('sel', i === j));
}

function buildWall(n) {
  const old = state.tiles;
  state.tiles = [];
  const wall = document.getElementById('wall');
  wall.className = `wall n${n}`;
  wall.replaceChildren();
  for (let i = 0; i < n; i++) {
    const el = document.createElement('div');
    el.className = 'tile';
    el.innerHTML = '<video autoplay muted playsinline></video><div class="label"><span class="dot"></span><span class="nm"></span></div><div class="msg"></div>';
    const tile = { el, video: el.querySelector('video'), name: el.querySelector('.nm'), dot: el.querySelector('.dot'), msg: el.querySelector('.msg'), cam: null };
    el.onclick = () => select(i);
    el.ondblclick = () => tile.cam && openFull(tile.cam);
    wall.appendChild(el);
    state.tiles.push(tile);
    const prev = old[i];
    if (prev && prev.cam) { tile.cam = prev.cam; tile.name.textContent = prev.cam.name; prev.session && prev.session.close(); play(tile); }
    else setMsg(tile, t('empty'));
  }
  old.slice(n).forEach(stopTile);
  document.querySelectorAll('.layouts button').forEach(b => b.classList.toggle('on', +b.dataset.layout === n));
  select(0);
}

let full = null;
async function openFull(cam) {
  document.getElementById('full').classList.remove('hidden');
  document.getElementById('fullname').textContent = cam.name;
  const v = document.getElementById('fullvideo');
  v.srcObject = null;
  try { full = await whep(v, cam.id, 'main'); } catch (e) { document.getElementById('fullname').textContent = `${cam.name} · ${t('failed')} (${e.message})`; }
}
function closeFull() {
  document.getElementById('full').classList.add('hidden');
  if (full) full.close();
  full = null;
}

function refreshDots() {
  state.tiles.forEach(tile => { if (tile.cam) tile.dot.className = 'dot ' + ((state.status[tile.cam.id] || {}).state || 'idle'); });
}

// Incidents and cases: the dashboard rates, recent incidents and open cases,
// kept current by the server-sent-event stream.
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const when = (s) => new Date(s).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });

async function loadCasesView() {
  try {
    const d = (await api('/api/v1/dashboard')).cases;
    const r = document.getElementById('rates');
    r.replaceChildren(...[[t('cases30'), d.cases], [t('response'), pct(d.response_rate)], [t('resolution'), pct(d.resolution_rate)],
      [t('satisfaction'), pct(d.satisfaction_rate)]].map(([l, v]) => {
      const el = document.createElement('div');
      el.className = 'rate';
      el.innerHTML = '<div class="v"></div><div class="l"></div>';
      el.querySelector('.v').textContent = v;
      el.querySelector('.l').textContent = l;
      return el;
    }));
    const inc = await api('/api/v1/incidents?limit=30');
    document.getElementById('incidents').replaceChildren(...inc.items.map(incidentItem));
    const open = (await api('/api/v1/cases?open=true&limit=1000')).items;
    open.sort((a, b) => b.escalation - a.escalation || b.created_at.localeCompare(a.created_at));
    document.getElementById('caselist').replaceChildren(...open.slice(0, 50).map(caseItem));
  } catch (e) { /* cases not enabled or API down: leave as is */ }
}

function li(parts) {
  const el = document.createElement('li');
  for (const [cls, text] of parts) {
    const s = document.createElement('span');
    if (cls) s.className = cls;
    s.textContent = text;
    el.appendChild(s);
  }
  return el;
}

function incidentItem(i) {
  return li([[`badge ${i.state}`, i.state], ['', `${i.kind} · ${i.camera_id}${i.count > 1 ? ' ×' + i.count : ''}`], ['t', when(i.last_seen)]]);
}

function caseItem(c) {
  return li([[`badge e${c.escalation}`, c.escalation ? `${t('level')} ${c.escalation}` : c.state], ['', `${c.title} · ${c.grid || ''}`], ['t', when(c.created_at)]]);
}

let stream = null;
function followStream() {
  if (!can('events:read') && !can('cases:read')) return;
  const es = new EventSource('/api/v1/stream');
  stream = es;
  let pending = null;
  es.onmessage = () => {};
  const refresh = (ev) => {
    // Flash the newest incident at once; reload the lists shortly after a burst.
    if (ev.type.startsWith('incident.')) {
      const item = incidentItem(JSON.parse(ev.data));
      item.classList.add('flash');
      document.getElementById('incidents').prepend(item);
    }
    clearTimeout(pending);
    pending = setTimeout(loadCasesView, 800);
  };
  for (const topic of ['incident.opened', 'incident.reopened', 'incident.closed', 'case.create', 'case.register', 'case.dispatch',
    'case.accept', 'case.return', 'case.start', 'case.resolve', 'case.verify', 'case.evaluate', 'case.reopen', 'case.escalate', 'case.join']) {
    es.addEventListener(topic, refresh);
  }
}

function showView(v) {
  document.querySelectorAll('.views button').forEach(b => b.classList.toggle('on', b.dataset.view === v));
  document.getElementById('wall').classList.toggle('hidden', v !== 'wall');
  document.getElementById('casesView').classList.toggle('hidden', v !== 'cases');
  if (v === 'cases') loadCasesView();
}

async function main() {
  document.querySelectorAll('.layouts button').forEach(b => { b.onclick = () => buildWall(+b.dataset.layout); });
  const toggle = () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('lang', lang); applyLang(); };
  document.getElementById('lang').onclick = toggle;
  document.getElementById('lang2').onclick = toggle;
  document.getElementById('loginform').onsubmit = signIn;
  document.getElementById('logout').onclick = signOut;
  applyLang();
  const r = await fetch('/api/v1/me');
  if (r.status !== 200) { showLogin(); return; }
  state.me = await r.json();
  state.csrf = state.me.csrf_token || '';
  await loadIceServers();
  document.getElementById('logout').classList.remove('hidden');
  // Only what the user may use is shown.
  document.querySelector('.views button[data-view=cases]').classList.toggle('hidden', !can('cases:read'));
  document.getElementById('filter').oninput = renderList;
  document.getElementById('fullclose').onclick = closeFull;
  document.getElementById('allgrids').onclick = () => { state.grid = ''; renderTree(); renderList(); };
  document.querySelectorAll('.views button').forEach(b => { b.onclick = () => showView(b.dataset.view); });
  followStream();
  document.addEventListener('keydown', e => { if (e.key === 'Escape') closeFull(); });
  const n = +(new URLSearchParams(location.search).get('layout') || 4);
  buildWall([1, 4, 9, 16].includes(n) ? n : 4);
  applyLang();
  try { await loadCameras(); } catch (e) { document.getElementById('summary').textContent = e.message; }
  if (!state.cameras.length) state.tiles.forEach(tile => setMsg(tile, t('noCameras')));
  state.cameras.slice(0, state.tiles.length).forEach((c, i) => assign(i, c));
  select(0);
  loadStatus();
  loadGrids().catch(() => { /* no grids imported yet */ });
  setInterval(async () => { if (!state.me) return; try { await loadCameras(); await loadStatus(); renderTree(); } catch (e) { /* API unreachable: keep playing */ } }, 3000);
}
main();
