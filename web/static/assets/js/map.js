// The map: grid cells from the grid GeoJSON, camera markers coloured by
// status, open cases coloured by 督办 level. Click a camera to play it, a
// cell to show only what lies in it. Leaflet is vendored (assets/vendor);
// background tiles only when the configuration names a tile server.
import { get, session } from './api.js';
import { h, escapeHTML } from './dom.js';
import { t, caseTitle } from './i18n.js';
import { Player } from './player.js';
import { stateOf, statusTitle } from './status.js';

let leaflet = null;

// loadLeaflet loads the vendored Leaflet once, when a map is first shown.
export function loadLeaflet() {
  if (leaflet) return leaflet;
  leaflet = new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/assets/vendor/leaflet/leaflet.css' }));
    const s = h('script', { src: '/assets/vendor/leaflet/leaflet.js' });
    s.onload = () => resolve(window.L);
    s.onerror = reject;
    document.head.append(s);
  });
  return leaflet;
}

export const STATUS_COLOURS = { online: '#2fbf71', offline: '#e5484d', connecting: '#f5a524', stalled: '#f5a524', unknown: '#8a93a6' };
export const LEVEL_COLOURS = ['#3e8ef7', '#f5a524', '#f76808', '#e5484d'];

// baseMap makes a Leaflet map in el with the configured tiles, if any.
export async function baseMap(el, opts = {}) {
  const L = await loadLeaflet();
  const map = L.map(el, { zoomControl: true, attributionControl: true, ...opts });
  const tiles = (session.me && session.me.map) || {};
  // Leaflet writes attributions as HTML: configured text stays text.
  if (tiles.tiles) L.tileLayer(tiles.tiles, { maxZoom: 20, attribution: escapeHTML(tiles.attribution || '') }).addTo(map);
  else map.attributionControl.addAttribution(escapeHTML(t('noTiles')));
  return { L, map };
}

let gridsGeo = null;
export function gridGeoJSON() {
  gridsGeo = gridsGeo || get('/api/v1/grids?format=geojson').catch(() => ({ type: 'FeatureCollection', features: [] }));
  return gridsGeo;
}

export class MapScreen {
  constructor({ store, onOpenCase, canCases }) {
    this.store = store;
    this.onOpenCase = onOpenCase;
    this.canCases = canCases;
    this.cell = '';
    this.mapEl = h('div.mapview', { id: 'map' });
    this.player = new Player({ stream: 'sub' });
    this.info = h('div.mapinfo');
    this.list = h('ul.maplist', { id: 'maplist' });
    this.el = h('div.screen.mapscreen.hidden', { id: 'mapscreen' }, this.mapEl,
      h('aside.mapside', {}, this.player.el, this.info, this.list));
    store.subscribe(() => this.drawCameras());
  }

  async show() {
    this.el.classList.remove('hidden');
    if (!this.map) {
      const { L, map } = await baseMap(this.mapEl);
      this.L = L;
      this.map = map;
      this.cellLayer = L.geoJSON(null, {
        style: (f) => ({ color: f.properties.kind === 'special' ? '#b084f5' : '#3e8ef7', weight: f.properties.level >= 4 ? 1 : 2,
          fillOpacity: f.properties.level >= 4 ? 0.06 : 0, dashArray: f.properties.kind === 'special' ? '4 4' : null }),
        onEachFeature: (f, layer) => {
          // Leaflet puts a string into the tooltip as HTML: give it an
          // element holding the name as text.
          layer.bindTooltip(h('span', {}, f.properties.name || f.properties.code), { sticky: true });
          layer.on('click', () => this.filter(f.properties.code));
        },
      }).addTo(map);
      this.camLayer = L.layerGroup().addTo(map);
      this.caseLayer = L.layerGroup().addTo(map);
      L.control.layers(null, { [t('layersGrids')]: this.cellLayer, [t('layersCameras')]: this.camLayer, [t('layersCases')]: this.caseLayer }).addTo(map);
      const geo = await gridGeoJSON();
      const mine = new Set(Object.keys(this.store.cells));
      this.cellLayer.addData({ ...geo, features: geo.features.filter(f => mine.has(f.properties.code)) });
      const b = this.cellLayer.getBounds();
      if (b.isValid()) map.fitBounds(b); else map.setView([32.4, 119.42], 14);
    }
    this.map.invalidateSize();
    this.drawCameras();
    await this.drawCases();
  }

  hide() { this.el.classList.add('hidden'); this.player.play(null); }

  filter(code) {
    this.cell = this.cell === code ? '' : code;
    const c = this.store.cells[this.cell];
    this.info.textContent = c ? `${t('grid')}: ${c.name}` : '';
    this.drawCameras();
    this.drawCases();
  }

  cameras() {
    return this.store.cameras.filter(c => c.location && (!this.cell || this.store.inCell(c, this.cell)));
  }

  drawCameras() {
    if (!this.map) return;
    this.camLayer.clearLayers();
    const cams = this.cameras();
    for (const cam of cams) {
      const st = stateOf(this.store.status[cam.id]);
      const m = this.L.circleMarker([cam.location.lat, cam.location.lon], { radius: 7, color: '#fff', weight: 1.5,
        fillColor: STATUS_COLOURS[st] || STATUS_COLOURS.unknown, fillOpacity: 0.95 });
      m.bindTooltip(h('span', {}, `${cam.name} · ${statusTitle(cam.id, this.store.status[cam.id])}`));
      m.on('click', () => this.play(cam));
      m.addTo(this.camLayer);
    }
    this.list.replaceChildren(...cams.map(cam => {
      const st = stateOf(this.store.status[cam.id]);
      return h('li', { dataset: { id: cam.id, state: st }, title: statusTitle(cam.id, this.store.status[cam.id]), onclick: () => this.play(cam) },
        h(`span.dot.${st}`), cam.name);
    }));
  }

  async drawCases() {
    if (!this.map || !this.canCases) return;
    let items = [];
    try { items = (await get(`/api/v1/cases?open=true&limit=1000${this.cell ? '&grid=' + this.cell : ''}`)).items; } catch (e) { return; }
    this.caseLayer.clearLayers();
    const centres = {};
    this.cellLayer.eachLayer(l => { centres[l.feature.properties.code] = l.getBounds().getCenter(); });
    for (const cs of items) {
      // A case filed with a grid but no place is drawn at its cell's centre.
      const at = cs.lat != null && cs.lon != null ? [cs.lat, cs.lon] : centres[cs.grid];
      if (!at) continue;
      const m = this.L.circleMarker(at, { radius: 5 + 2 * cs.escalation, color: LEVEL_COLOURS[cs.escalation] || LEVEL_COLOURS[3],
        weight: 3, fillOpacity: 0.25 });
      m.bindTooltip(h('span', {}, `${caseTitle(cs, this.store.byId)} · ${t(`states_.${cs.state}`)}${cs.escalation ? ' · ' + t('level', cs.escalation) : ''}`));
      m.on('click', () => this.onOpenCase(cs.id));
      m.addTo(this.caseLayer);
    }
  }

  play(cam) { this.player.play(cam); }
}

// miniMap shows one place (a case) with its cell outline.
export async function miniMap(el, { lat, lon, cell }) {
  const { L, map } = await baseMap(el, { zoomControl: false });
  const geo = await gridGeoJSON();
  const f = geo.features.filter(x => x.properties.code === cell);
  const layer = L.geoJSON({ type: 'FeatureCollection', features: f }, { style: { color: '#3e8ef7', weight: 2, fillOpacity: 0.05 } }).addTo(map);
  if (lat != null && lon != null) {
    L.circleMarker([lat, lon], { radius: 8, color: '#e5484d', weight: 3, fillOpacity: 0.5 }).addTo(map);
    map.setView([lat, lon], 17);
  } else if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
  else map.setView([32.4, 119.42], 13);
  return map;
}
