// The one API client: every request is the signed-in user's (session
// cookie); writes echo the CSRF token given at sign-in. A 401 means the
// session ended, and onSignedOut is told.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
  }
}

export const session = { me: null, csrf: '', iceServers: [], onSignedOut: () => {} };

// The DTLS certificate every peer connection of the page uses, made while
// the page still loads: the first connection does not wait for the key.
const certificate = typeof RTCPeerConnection === 'undefined' ? Promise.resolve(null)
  : RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' }).catch(() => null);

const can = (scope) => !!session.me && (session.me.scopes || []).includes(scope);
export { can };

function withCSRF(opts = {}) {
  const method = (opts.method || 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return opts;
  return { ...opts, headers: { ...(opts.headers || {}), 'X-CSRF-Token': session.csrf } };
}

export async function request(path, opts = {}) {
  const r = await fetch(path, withCSRF(opts));
  if (r.status === 401) { session.onSignedOut(); throw new ApiError(401, null); }
  if (!r.ok) {
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, body);
  }
  if (r.status === 204) return null;
  const type = r.headers.get('Content-Type') || '';
  return type.includes('json') ? r.json() : r.text();
}

const json = (method) => (path, body) => request(path, { method, headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body || {}) });
export const get = (path) => request(path);
export const post = json('POST');
export const put = json('PUT');
export const del = (path) => request(path, { method: 'DELETE' });

// qs builds a query string from the non-empty values of params.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

// upload sends photos as multipart/form-data `file` parts.
export function upload(path, files) {
  const fd = new FormData();
  for (const f of files) fd.append('file', f, f.name);
  return request(path, { method: 'POST', body: fd });
}

// signIn posts the credentials; it answers null or a message key.
export async function signIn(username, password) {
  const r = await fetch('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }) });
  if (r.status === 429) return { key: 'tooMany', arg: r.headers.get('Retry-After') || '?' };
  if (r.status === 401) return { key: 'badLogin' };
  if (!r.ok) return { key: 'loginFailed', arg: r.status };
  return null;
}

export async function signOut() {
  try { await fetch('/api/v1/logout', withCSRF({ method: 'POST' })); } catch (e) { /* ended anyway */ }
}

// loadMe reads who is signed in (false when nobody is), then the STUN/TURN
// servers the gateway announces to callers with credentials (WHEP Link
// headers, RFC 9725 4.4): phones behind a carrier's NAT need the TURN one.
export async function loadMe() {
  const ice = fetch('/api/v1/whep/_', { method: 'OPTIONS' }).then(o => parseIceLinks(o.headers.get('Link') || '')).catch(() => []);
  const r = await fetch('/api/v1/me');
  if (r.status !== 200) return false;
  session.me = await r.json();
  session.csrf = session.me.csrf_token || '';
  session.iceServers = await ice;
  return true;
}

export function parseIceLinks(link) {
  const out = [];
  for (const m of link.matchAll(/<([^>]+)>([^,]*)/g)) {
    const params = Object.fromEntries([...m[2].matchAll(/;\s*([\w-]+)="?([^";]*)"?/g)].map(p => [p[1], p[2]]));
    if (params.rel !== 'ice-server') continue;
    const srv = { urls: m[1] };
    if (params.username) { srv.username = params.username; srv.credential = params.credential; }
    out.push(srv);
  }
  return out;
}

// nextTask resolves in a task of its own, after what is waiting (input,
// frames) had its turn.
const nextTask = () => new Promise(resolve => setTimeout(resolve, 0));

// Spare peer connections, each with its video transceiver, made while the
// page is idle: a tile switch takes one and so skips `new
// RTCPeerConnection` and `addTransceiver`, the two steps that wait on the
// browser's WebRTC threads (the longest tasks of a wall in an alarm
// burst). A spare has no local description yet, so it gathers nothing and
// holds no socket; two are kept for the page, refilled after each use.
const spareMax = 2;
const spares = [];
const spareStats = { warm: 0, cold: 0, warmMs: [], coldMs: [] };
let refilling = false;
// madeWith is the ICE server list each spare was made with: one made before
// sign-in (when the list was not known) is not used.
const madeWith = new WeakMap();
// Only in idle time (no timeout): under load a spare made late is worth
// less than a task that does not run.
const idle = (fn) => (typeof requestIdleCallback === 'function' ? requestIdleCallback(fn) : setTimeout(fn, 50));

async function newVideoPC() {
  const cert = await certificate;
  // Each step is a task of its own, so no switch holds the page for all.
  await nextTask();
  const pc = new RTCPeerConnection({ iceServers: session.iceServers, ...(cert ? { certificates: [cert] } : {}) });
  await nextTask();
  pc.addTransceiver('video', { direction: 'recvonly' });
  madeWith.set(pc, session.iceServers);
  return pc;
}

// refill makes spares one per idle period until there are spareMax.
function refill() {
  if (refilling || typeof RTCPeerConnection === 'undefined') return;
  refilling = true;
  const one = () => idle(async () => {
    if (spares.length >= spareMax || document.hidden) { refilling = false; return; }
    try { spares.push(await newVideoPC()); } catch (e) { refilling = false; return; }
    one();
  });
  one();
}

// takePC is a video-only peer connection (a spare if there is one) and
// whether it was a spare.
async function takePC() {
  const pc = spares.shift();
  refill();
  if (pc && pc.signalingState === 'stable' && pc.connectionState === 'new' && madeWith.get(pc) === session.iceServers) return [pc, true];
  if (pc) pc.close();
  return [await newVideoPC(), false];
}

// whepStats says how many offers took a spare (warm) or made a peer
// connection (cold), and the milliseconds from the call to the offer
// ready to send: median and longest of each.
export const whepStats = () => {
  const sum = (xs) => { const s = [...xs].sort((a, b) => a - b); return { median: s.length ? Math.round(s[s.length >> 1]) : 0, max: Math.round(s.length ? s[s.length - 1] : 0) }; };
  return { warm: spareStats.warm, cold: spareStats.cold, warm_ms: sum(spareStats.warmMs), cold_ms: sum(spareStats.coldMs), spares: spares.length };
};

// warmUp fills the spares ahead of the first switches (a wall about to
// open its tiles).
export function warmUp() { refill(); }

if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => { while (spares.length) spares.pop().close(); });
}

// whep plays a camera into a <video> (RFC 9725): POST the offer, set the
// answer; close() ends the session on both sides. The page's players are
// all muted (a wall of sixteen cameras has nothing to say aloud), so the
// offer asks for video only unless audio is wanted: a camera's audio
// would be received, decoded and mixed for nobody, on the threads a tile
// switch waits for.
export async function whep(video, cameraId, stream, { audio = false } = {}) {
  const t0 = performance.now();
  let pc, warm = false;
  if (audio) {
    pc = await newVideoPC();
    await nextTask();
    pc.addTransceiver('audio', { direction: 'recvonly' });
  } else {
    [pc, warm] = await takePC();
  }
  await nextTask();
  pc.ontrack = (e) => { if (!video.srcObject) video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  const took = performance.now() - t0;
  if (warm) spareStats.warm++; else spareStats.cold++;
  const ms = warm ? spareStats.warmMs : spareStats.coldMs;
  if (ms.length < 500) ms.push(took);
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
  const location = r.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() });
  // close ends the session on the server first (DELETE), then here: a
  // peer connection closed first may already have ended it there (404).
  return { pc, close: () => {
    if (!location) { pc.close(); return; }
    fetch(location, withCSRF({ method: 'DELETE' })).catch(() => {}).finally(() => pc.close());
  } };
}

// follow opens the event stream and hands onBatch([{type, data}, …]) what
// arrived of the given types, at most once every `every` ms: a burst of
// thousands of messages costs a few calls and one redraw each, not one per
// message. The browser reconnects with Last-Event-ID by itself; a stream
// the gateway ends (the session ended) brings the sign-in back.
export function follow(types, onBatch, every = 250) {
  const es = new EventSource('/api/v1/stream');
  let queue = [];
  let timer = 0;
  const flush = () => {
    timer = 0;
    const batch = queue;
    queue = [];
    try { onBatch(batch); } catch (e) { console.error('event batch', e); }
  };
  for (const type of types) {
    es.addEventListener(type, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; /* bad line */ }
      queue.push({ type, data });
      if (!timer) timer = setTimeout(flush, every);
    });
  }
  es.addEventListener('ended', () => { es.close(); session.onSignedOut(); });
  return es;
}

// CASE_TOPICS are the case changes on the stream.
export const CASE_TOPICS = ['create', 'register', 'reject', 'dispatch', 'accept', 'return', 'start', 'resolve', 'verify',
  'evaluate', 'reopen', 'extend', 'suspend', 'escalate', 'join', 'attach'].map(a => `case.${a}`);
