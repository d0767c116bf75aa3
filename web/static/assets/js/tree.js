// The camera tree: grid cells (street → community → cell) with each
// camera under its cell, then each GB/T 28181 device with its channels; a
// status dot per camera, search, and cameras that can be dragged onto the
// wall (dataTransfer type text/x-camera-id).
import { h } from './dom.js';
import { t } from './i18n.js';
import { stateOf, statusTitle } from './status.js';

export const DRAG_TYPE = 'text/x-camera-id';

export class CameraTree {
  constructor({ onPick, onCell } = {}) {
    this.onPick = onPick || (() => {});
    this.onCell = onCell || (() => {});
    this.cameras = [];
    this.cells = {};
    this.status = {};
    this.open = new Set();
    this.search = h('input', { type: 'search', id: 'filter', dataset: { i18nPlaceholder: 'filter' }, placeholder: t('filter') });
    this.search.oninput = () => this.render();
    this.summary = h('div.treesum');
    this.list = h('ul.tree', { id: 'tree' });
    this.el = h('div.camtree', {}, this.search, this.summary, this.list);
  }

  setData(cameras, cells) {
    this.cameras = cameras;
    this.cells = cells;
    // A street's few dozen cameras are all shown; a larger tree opens at
    // the top level only.
    if (!this.opened && Object.keys(cells).length) { // once the cells are known
      this.opened = true;
      for (const c of Object.values(cells)) if (cameras.length <= 100 || !c.parent || !cells[c.parent]) this.open.add(c.code);
    }
    this.refresh();
  }

  setStatus(status) { this.status = status; this.refresh(); }

  // refresh redraws the tree when what it shows changed: the store hands
  // over the same cameras every few seconds, mostly unchanged, and a
  // change of state alone recolours the dots where they are.
  refresh() {
    const key = JSON.stringify([Object.values(this.cells).map(c => [c.code, c.name, c.parent, c.kind]),
      this.cameras.map(c => [c.id, c.name, this.baseOf(c), c.gb ? [c.gb.device_id, !!c.gb.gone] : 0, c.tags || 0])]);
    if (key !== this.shownKey) { this.shownKey = key; this.render(); return; }
    let on = 0;
    for (const li of this.list.querySelectorAll('li.cam')) {
      const st = this.stateOf(li.dataset.id);
      const title = this.titleOf(li.dataset.id);
      if (li.dataset.state === st && li.title === title) continue;
      li.dataset.state = st;
      li.title = title;
      li.querySelector('.dot').className = `dot ${st}`;
    }
    for (const c of this.cameras) if (this.stateOf(c.id) === 'online') on++;
    this.summary.textContent = t('summary', on, this.cameras.length);
  }

  stateOf(id) { return stateOf(this.status[id]); }

  // titleOf is a camera's hover text: its id, its state and, when it is
  // offline, why (a probe's reason, its GB/T 28181 device unregistered,
  // its channel off) and since when.
  titleOf(id) { return statusTitle(id, this.status[id]); }

  // baseOf is the cell a camera is listed under: its base cell when that
  // cell is known, else none (listed at the top).
  baseOf(cam) {
    const base = (cam.cells || {}).base || cam.grid;
    return base && this.cells[base] ? base : '';
  }

  render() {
    const q = this.search.value.trim().toLowerCase();
    const match = (c) => !q || c.name.toLowerCase().includes(q) || c.id.toLowerCase().includes(q) || (c.tags || []).some(x => x.toLowerCase().includes(q));
    const on = this.cameras.filter(c => this.stateOf(c.id) === 'online').length;
    this.summary.textContent = t('summary', on, this.cameras.length);
    const byCell = {};
    for (const cam of this.cameras.filter(match)) (byCell[this.baseOf(cam)] ||= []).push(cam);
    const kids = {};
    for (const c of Object.values(this.cells)) if (c.kind !== 'special') (kids[c.parent && this.cells[c.parent] ? c.parent : ''] ||= []).push(c);
    Object.values(kids).forEach(l => l.sort((a, b) => a.code.localeCompare(b.code)));
    const count = {};
    const countOf = (code) => count[code] ??= (byCell[code] || []).length + (kids[code] || []).reduce((n, k) => n + countOf(k.code), 0);
    const items = [];
    const camItem = (cam, depth) => {
      const st = this.stateOf(cam.id);
      const li = h('li.cam', { dataset: { id: cam.id, state: st }, draggable: 'true', title: this.titleOf(cam.id),
        style: `padding-left:${12 + depth * 14}px`, onclick: () => this.onPick(cam) },
      h(`span.dot.${st}`), h('span.name', {}, cam.name), cam.gb && cam.gb.gone ? h('span.gone', {}, t('gb.gone')) : null);
      li.ondragstart = (e) => { e.dataTransfer.setData(DRAG_TYPE, cam.id); e.dataTransfer.effectAllowed = 'copy'; };
      items.push(li);
    };
    const walk = (parent, depth) => {
      for (const c of kids[parent] || []) {
        const n = countOf(c.code);
        if (!n) continue;
        const open = this.open.has(c.code) || !!q;
        items.push(h('li.cell', { dataset: { cell: c.code }, title: c.code, style: `padding-left:${4 + depth * 14}px`,
          onclick: () => { this.open.has(c.code) ? this.open.delete(c.code) : this.open.add(c.code); this.onCell(c); this.render(); } },
        h('span.caret', {}, open ? '▾' : '▸'), h('span.name', {}, c.name), h('span.n', {}, n)));
        if (!open) continue;
        walk(c.code, depth + 1);
        (byCell[c.code] || []).forEach(cam => camItem(cam, depth + 1));
      }
    };
    (byCell[''] || []).forEach(cam => camItem(cam, 0));
    walk('', 0);
    // GB/T 28181 devices, each with its channels.
    const byDevice = {};
    for (const cam of this.cameras.filter(match)) if (cam.gb) (byDevice[cam.gb.device_id] ||= []).push(cam);
    for (const dev of Object.keys(byDevice).sort()) {
      const key = `gb:${dev}`;
      const open = this.open.has(key) || !!q;
      const chans = byDevice[dev].sort((a, b) => a.id.localeCompare(b.id));
      items.push(h('li.cell.gbdev', { dataset: { device: dev }, title: dev,
        onclick: () => { this.open.has(key) ? this.open.delete(key) : this.open.add(key); this.render(); } },
      h('span.caret', {}, open ? '▾' : '▸'), h('span.name', {}, t('gb.device', dev)), h('span.n', {}, chans.length)));
      if (open) chans.forEach(cam => camItem(cam, 1));
    }
    if (!this.cameras.length) items.push(h('li.none', {}, t('noCameras')));
    this.list.replaceChildren(...items);
  }

  // visible lists the cameras matching the search, in tree order.
  visible() {
    const q = this.search.value.trim().toLowerCase();
    return this.cameras.filter(c => !q || c.name.toLowerCase().includes(q) || c.id.toLowerCase().includes(q));
  }
}
