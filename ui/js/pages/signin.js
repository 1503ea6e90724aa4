// Sign-in, and the password change the server demands of new accounts,
// reset passwords and passwords older than the configured age.

import { h, field, pageHeader, notice } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash, homeFor } from '../nav.js';
import { statusArea, onSubmit } from '../widgets.js';

export async function signInPage() {
  const status = statusArea();
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'form signin-form', 'aria-labelledby': 'page-title' },
    field(t('signin.username'), username),
    field(t('signin.password'), password),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'sign-in' }, t('signin.submit'))),
    status.el);
  onSubmit(form, status, async (fd) => {
    const res = await api.post('/v1/session', { username: fd.get('username'), password: fd.get('password') });
    session.start(res.token, res.user);
    navigate(res.user.mustChangePassword ? '#/password' : homeFor(res.user));
  });
  setTimeout(() => username.focus(), 0);
  return h('div', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' },
        h('span', { class: 'brand-mark brand-mark-lg', 'aria-hidden': 'true' }, 'C'),
        h('div', null, h('h1', { id: 'page-title', tabindex: '-1' }, t('signin.title')), h('p', { class: 'muted' }, t('signin.subtitle')))),
      form,
      h('p', { class: 'hint signin-note' }, t('signin.note'))));
}

export async function passwordPage({ user }) {
  const status = statusArea();
  const current = h('input', { name: 'current', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { name: 'next', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const again = h('input', { name: 'again', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const form = h('form', { class: 'form narrow' },
    field(t('password.current'), current),
    field(t('password.new'), next, { hint: t('password.rules') }),
    field(t('password.again'), again),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'change-password' }, t('password.submit'))),
    status.el);
  onSubmit(form, status, async (fd) => {
    if (fd.get('next') !== fd.get('again')) {
      status.error(new Error(t('password.mismatch')));
      return;
    }
    await api.post('/v1/me/password', { currentPassword: fd.get('current'), newPassword: fd.get('next') });
    const me = await api.get('/v1/me');
    session.setUser(me);
    flash(t('password.changed'));
    navigate(homeFor(me));
  });
  return h('div', null,
    pageHeader(t('password.title'), user.username),
    user.mustChangePassword ? notice(t('password.required'), 'warn') : null,
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' }, form)));
}
