// The cameras and grid cells the signed-in user may see, with every
// camera's status, kept current (one request every few seconds) and shared
// by the screens. The server filters by jurisdiction: what is not here is
// not shown anywhere.
import { get } from './api.js';

export class CameraStore {
  constructor({ every = 3000 } = {}) {
    this.cameras = [];
    this.byId = {};
    this.status = {};
    this.cells = {};
    this.every = every;
    this.subs = [];
  }

  subscribe(f) { this.subs.push(f); }

  async loadCells() {
    try {
      const page = await get('/api/v1/grids');
      this.cells = Object.fromEntries(page.items.map(c => [c.code, c]));
    } catch (e) { this.cells = {}; }
  }

  async loadCameras() {
    const items = [];
    let cursor = '';
    do {
      const page = await get(`/api/v1/cameras?include=status&limit=1000${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    this.cameras = items;
    this.byId = Object.fromEntries(items.map(c => [c.id, c]));
    this.status = Object.fromEntries(items.map(c => [c.id, c.status || { state: 'unknown' }]));
    this.subs.forEach(f => f(this));
  }

  // start loads the cameras (what the wall waits for); the cells follow
  // and tell the subscribers again.
  async start() {
    this.loadCells().then(() => this.subs.forEach(f => f(this)));
    await this.loadCameras();
    this.timer = setInterval(() => this.loadCameras().catch(() => { /* API unreachable: keep playing */ }), this.every);
  }

  // inCell tells whether a camera lies in the subtree of cell code.
  inCell(cam, code) {
    const within = (c) => { for (let x = this.cells[c]; x; x = this.cells[x.parent]) if (x.code === code) return true; return false; };
    const cells = cam.cells || {};
    return (cells.base && within(cells.base)) || (cells.special || []).some(within);
  }
}
