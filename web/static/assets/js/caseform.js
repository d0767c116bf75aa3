// Case forms: the actions the signed-in user may take on a case (the
// server lists them in `actions`), each with the fields it needs; and the
// form that files a case by hand (hotline, walk-in, grid report).
import { post, upload } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const REASON = new Set(['reject', 'return', 'extend', 'suspend', 'reopen']);
export const DEPARTMENTS = ['police', 'law_enforcement', 'property', 'legal', 'housing'];
export const CELL_ROLES = ['grid_worker', 'chief', 'police', 'law_enforcement', 'property', 'legal', 'discipline'];
export const CATEGORIES = ['environment', 'public_order', 'public_security', 'fire_safety', 'device_fault', 'device_tamper', 'other'];

function photoInput() {
  const input = h('input', { type: 'file', name: 'photos', accept: 'image/jpeg,image/png,image/heic,image/*', multiple: true });
  input.setAttribute('capture', 'environment');
  return input;
}

function fieldsFor(act, cs) {
  const f = {};
  const rows = [];
  if (act === 'dispatch') {
    const opts = [...CELL_ROLES.map(r => [`role:${r}`, `${t('grid')} · ${t(`cellRoles.${r}`)}`]),
      ...DEPARTMENTS.map(d => [d, t(`departments.${d}`)]), ['', t('assignOther')]];
    f.assignee = h('select', { name: 'assignee' }, ...opts.map(([v, l]) => h('option', { value: v }, l)));
    f.other = h('input', { name: 'assignee_other', placeholder: t('assignOther') });
    rows.push([t('assignTo'), f.assignee], ['', f.other]);
  }
  if (act === 'evaluate') {
    f.rating = h('select', { name: 'rating' }, ...[5, 4, 3, 2, 1].map(n => h('option', { value: n }, '★'.repeat(n))));
    rows.push([t('rating'), f.rating]);
  }
  if (act === 'verify') {
    f.pass = h('select', { name: 'pass' }, h('option', { value: 'true' }, t('pass')), h('option', { value: 'false' }, t('fail')));
    rows.push([t('actions.verify'), f.pass]);
  }
  if (act === 'extend') {
    f.days = h('input', { name: 'extend_days', type: 'number', min: '1', max: '30', value: '2' });
    rows.push([t('extendDays'), f.days]);
  }
  if (REASON.has(act)) {
    f.reason = h('input', { name: 'reason', required: true, maxlength: '500' });
    rows.push([t('reason'), f.reason]);
  }
  f.note = h('textarea', { name: 'note', rows: 2, maxlength: '2000' });
  rows.push([t('note'), f.note]);
  if (act === 'resolve') {
    f.photos = photoInput();
    rows.push([t('photosF'), f.photos]);
  }
  return { f, rows };
}

// actionsPanel shows a button per allowed action; a button opens that
// action's form, and a submitted action calls onDone(updated case).
export function actionsPanel(cs, onDone) {
  const box = h('div.actions', { dataset: { caseId: cs.id } });
  const msg = h('div.formmsg', { role: 'alert' });
  const formHost = h('div');
  const buttons = (cs.actions || []).map(act => h(`button.act.${act}`, { type: 'button', dataset: { action: act },
    onclick: () => { openForm(act); } }, t(`actions.${act}`)));
  function openForm(act) {
    const { f, rows } = fieldsFor(act, cs);
    const form = h('form.actform', { dataset: { action: act } },
      ...rows.map(([l, input]) => h('label', {}, h('span', {}, l), input)),
      h('div.row', {}, h('button', { type: 'submit' }, t(`actions.${act}`)), h('button', { type: 'button', onclick: () => formHost.replaceChildren() }, t('cancel'))));
    form.onsubmit = async (e) => {
      e.preventDefault();
      msg.textContent = '';
      const body = { note: f.note.value.trim() };
      if (f.reason) { body.reason = f.reason.value.trim(); if (!body.reason) { msg.textContent = t('needReason'); return; } }
      if (f.assignee) body.assignee = f.assignee.value || f.other.value.trim();
      if (f.rating) body.rating = +f.rating.value;
      if (f.pass) body.pass = f.pass.value === 'true';
      if (f.days) body.extend_days = +f.days.value;
      form.querySelectorAll('button').forEach(b => { b.disabled = true; });
      try {
        // Photos first: a refused photo leaves the case as it was.
        if (f.photos && f.photos.files.length) await upload(`/api/v1/cases/${encodeURIComponent(cs.id)}/attachments`, f.photos.files);
        const updated = await post(`/api/v1/cases/${encodeURIComponent(cs.id)}/${act}`, body);
        formHost.replaceChildren();
        msg.textContent = t('done');
        onDone(updated);
      } catch (err) {
        msg.textContent = err.message;
        form.querySelectorAll('button').forEach(b => { b.disabled = false; });
      }
    };
    formHost.replaceChildren(form);
    const first = form.querySelector('input,select,textarea');
    if (first) first.focus();
  }
  box.append(h('div.buttons', {}, ...buttons), formHost, msg);
  return box;
}

// newCaseForm files a case by hand. sources: the sources offered (a grid
// worker files grid reports; the centre hotline and walk-in cases).
// place() gives {lat, lon} or {grid}; onDone(case) after it is filed.
export function newCaseForm({ sources, grids = [], place, withHandling = false, onDone }) {
  const f = {
    source: h('select', { name: 'source' }, ...sources.map(s => h('option', { value: s }, t(`sources.${s}`)))),
    category: h('select', { name: 'category' }, ...CATEGORIES.map(c => h('option', { value: c }, t(`categories.${c}`)))),
    title: h('input', { name: 'title', required: true, maxlength: '200' }),
    description: h('textarea', { name: 'description', rows: 3, maxlength: '4000' }),
    grid: h('select', { name: 'grid' }, h('option', { value: '' }, '—'), ...grids.map(c => h('option', { value: c.code }, c.name))),
    reporter: h('input', { name: 'reporter', maxlength: '200' }),
    limit: h('input', { name: 'limit_days', type: 'number', min: '1', max: '60', value: '5' }),
    handling: h('select', { name: 'handling' }, h('option', { value: 'file' }, t('file')), h('option', { value: 'immediate' }, t('immediate'))),
    resolution: h('textarea', { name: 'resolution', rows: 2, maxlength: '2000' }),
    photos: photoInput(),
  };
  const msg = h('div.formmsg', { role: 'alert' });
  const rows = [[t('source'), f.source], [t('category'), f.category], [t('titleF'), f.title], [t('description'), f.description]];
  if (grids.length) rows.push([t('grid'), f.grid]);
  if (!withHandling) rows.push([t('reporter'), f.reporter], [t('limitDays'), f.limit]);
  if (withHandling) rows.push([t('handling'), f.handling], [t('resolutionF'), f.resolution]);
  rows.push([t('photosF'), f.photos]);
  const form = h('form.caseform', { id: 'newcase' }, ...rows.map(([l, input]) => h('label', {}, h('span', {}, l), input)),
    h('div.row', {}, h('button', { type: 'submit' }, t('submit'))), msg);
  const toggle = () => { f.resolution.closest('label').style.display = f.handling.value === 'immediate' ? '' : 'none'; };
  if (withHandling) { f.handling.onchange = toggle; toggle(); }
  form.onsubmit = async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const body = { source: f.source.value, category: f.category.value, title: f.title.value.trim(), description: f.description.value.trim() };
    if (f.grid.value) body.grid = f.grid.value;
    if (!withHandling) { body.limit_days = +f.limit.value; if (f.reporter.value.trim()) body.reporter = f.reporter.value.trim(); }
    if (withHandling) { body.handling = f.handling.value; if (body.handling === 'immediate') body.resolution = f.resolution.value.trim(); }
    Object.assign(body, (place && await place()) || {});
    form.querySelectorAll('button').forEach(b => { b.disabled = true; });
    try {
      const cs = await post('/api/v1/cases', body);
      if (f.photos.files.length) await upload(`/api/v1/cases/${encodeURIComponent(cs.id)}/attachments`, f.photos.files);
      form.reset();
      if (withHandling) toggle();
      msg.textContent = `${t('filed')} ${cs.id}`;
      onDone && onDone(cs);
    } catch (err) {
      msg.textContent = err.field ? `${err.field}: ${err.message}` : err.message;
    } finally {
      form.querySelectorAll('button').forEach(b => { b.disabled = false; });
    }
  };
  return form;
}
