// The sign-in overlay, shared by the desk and the phone: every screen is
// somebody's, so a page without a session shows only this.
import { signIn, signOut, loadMe, session } from './api.js';
import { h, $ } from './dom.js';
import { t, apply, toggle } from './i18n.js';

function overlay() {
  if ($('#login')) return; // already asking
  const msg = h('div.loginmsg', { id: 'loginmsg', role: 'alert' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, maxlength: '64' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: '256' });
  const form = h('form', { id: 'loginform', autocomplete: 'on' },
    h('h2', { dataset: { i18n: 'title' } }),
    h('label', {}, h('span', { dataset: { i18n: 'username' } }), user),
    h('label', {}, h('span', { dataset: { i18n: 'password' } }), pass),
    h('button', { type: 'submit', id: 'loginbtn', dataset: { i18n: 'signin' } }),
    msg,
    h('button.lang2', { type: 'button', id: 'lang2', onclick: toggle, dataset: { i18n: 'lang' } }));
  form.onsubmit = async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const err = await signIn(user.value.trim(), pass.value);
    pass.value = '';
    if (err) { msg.textContent = t(err.key, err.arg); return; }
    location.reload(); // start clean as the new user
  };
  const el = h('div.login', { id: 'login' }, form);
  document.body.append(el);
  apply(el);
  user.focus();
}

// requireSession resolves with the signed-in user, or shows the sign-in
// overlay and never resolves. A session that ends later brings it back.
export async function requireSession() {
  session.onSignedOut = overlay;
  if (await loadMe()) return session.me;
  overlay();
  return new Promise(() => {});
}

export async function logout() {
  await signOut();
  location.reload();
}
