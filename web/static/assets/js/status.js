// A camera's health as the screens show it: its state (online, offline,
// connecting, unknown) and, on hover, why it is offline and since when.
import { t } from './i18n.js';

// stateOf is a status's state; a camera with none is unknown (never
// checked yet).
export const stateOf = (s) => (s && s.state) || 'unknown';

// when formats a time of day, with the date when it is not today.
export function when(iso, now = new Date()) {
  const d = new Date(iso);
  if (!iso || isNaN(d) || d.getFullYear() < 2000) return '';
  const p = (n) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? hm : `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}`;
}

// statusTitle is the hover text of a camera: its id, state, the reason
// when offline, and since when it has been so.
export function statusTitle(id, s) {
  const st = stateOf(s);
  const parts = [id, t(`state.${st}`)];
  if (st === 'offline' && s.reason) parts.push(t(`offlineWhy.${s.reason}`));
  const since = when(s && s.since);
  if (since && st !== 'unknown') parts.push(t('sinceAt', since));
  return parts.join(' · ');
}
