// Sign-in (password, then a second factor when the account has one), the
// first-time set-up with a one-time code, the enrolment of a TOTP second
// factor (QR code drawn in the page by qr.js), and the password change the
// server demands of passwords older than the configured age.

import { h, field, pageHeader, notice, button, clear, section } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash, homeFor } from '../nav.js';
import { statusArea, onSubmit } from '../widgets.js';
import { drawQr } from '../qr.js';

// Starts the session a sign-in answered and goes where it must: enrolment
// of a second factor (a restricted session), a due password change, or the
// role's home page.
function finishSignIn(res) {
  const mustEnrol = Boolean(res.mustEnrolSecondFactor);
  const user = { ...res.user };
  if (res.mustChangePassword) user.mustChangePassword = true;
  session.start(res.token, user, { mustEnrolSecondFactor: mustEnrol });
  if (mustEnrol) navigate('#/enrol');
  else navigate(user.mustChangePassword ? '#/password' : homeFor(user));
}

function signInCard(title, subtitle, ...body) {
  return h('div', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' },
        h('span', { class: 'brand-mark brand-mark-lg', 'aria-hidden': 'true' }, 'C'),
        h('div', null, h('h1', { id: 'page-title', tabindex: '-1' }, title), h('p', { class: 'muted' }, subtitle))),
      body));
}

// Step 2 of a sign-in: the code of the authenticator app, or one of the
// recovery codes. The password stays in this closure only, for the second
// POST /v1/session (the API keeps no half-signed-in state).
function secondFactorForm(credentials, status, back) {
  let useRecovery = false;
  const holder = h('div');
  function draw() {
    const input = useRecovery
      ? h('input', { name: 'recoveryCode', id: 'recovery-code', autocomplete: 'off', required: true, autocapitalize: 'none', spellcheck: 'false', class: 'mono' })
      : h('input', { name: 'totp', id: 'totp-code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '6', required: true, class: 'mono' });
    const form = h('form', { class: 'form signin-form', 'aria-labelledby': 'factor-title' },
      h('h2', { id: 'factor-title' }, t('signin.factorTitle')),
      h('p', { class: 'hint' }, t(useRecovery ? 'signin.recoveryHint' : 'signin.totpHint')),
      field(t(useRecovery ? 'signin.recoveryCode' : 'signin.totpCode'), input),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'sign-in-factor' }, t('signin.verify'))),
      h('p', null,
        button(t(useRecovery ? 'signin.useTotp' : 'signin.useRecovery'), () => { useRecovery = !useRecovery; status.clear(); draw(); }, 'link', { id: useRecovery ? 'use-totp' : 'use-recovery' }),
        ' · ',
        button(t('signin.back'), back, 'link', { id: 'sign-in-back' })),
      status.el);
    onSubmit(form, status, async (fd) => {
      const body = { ...credentials };
      if (useRecovery) body.recoveryCode = String(fd.get('recoveryCode')).trim();
      else body.totp = String(fd.get('totp')).trim();
      try {
        const res = await api.post('/v1/session', body);
        const left = res.user && res.user.secondFactor ? res.user.secondFactor.recoveryCodesLeft : undefined;
        if (useRecovery && typeof left === 'number') flash(t('signin.recoveryLeft', { n: left }), left <= 2 ? 'warn' : 'info');
        finishSignIn(res);
      } catch (err) {
        input.value = '';
        throw err;
      }
    });
    clear(holder).appendChild(form);
    setTimeout(() => input.focus(), 0);
  }
  draw();
  return holder;
}

export async function signInPage() {
  const status = statusArea();
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'form signin-form', 'aria-labelledby': 'page-title' },
    field(t('signin.username'), username),
    field(t('signin.password'), password),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'sign-in' }, t('signin.submit'))),
    status.el);
  const step = h('div', null, form);
  const back = () => {
    password.value = '';
    status.clear();
    clear(step).appendChild(form);
    setTimeout(() => password.focus(), 0);
  };
  onSubmit(form, status, async (fd) => {
    const credentials = { username: String(fd.get('username')).trim(), password: fd.get('password') };
    try {
      finishSignIn(await api.post('/v1/session', credentials));
    } catch (err) {
      if (err.code !== 'second_factor_required') throw err;
      const factorStatus = statusArea();
      clear(step).appendChild(secondFactorForm(credentials, factorStatus, back));
    }
  });
  setTimeout(() => username.focus(), 0);
  return signInCard(t('signin.title'), t('signin.subtitle'),
    step,
    h('p', { class: 'signin-setup' }, h('a', { href: '#/setup', id: 'setup-link' }, t('signin.haveSetupCode'))),
    h('p', { class: 'hint signin-note' }, t('signin.note')));
}

// First-time set-up (or after a reset): the holder of the account sets a
// password nobody else saw, with the one-time code the security officer
// issued, and is then signed in.
export async function setupPage() {
  const status = statusArea();
  const username = h('input', { name: 'username', id: 'setup-username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const code = h('input', { name: 'code', id: 'setup-code', autocomplete: 'off', required: true, autocapitalize: 'none', spellcheck: 'false', class: 'mono' });
  const next = h('input', { name: 'password', id: 'setup-password', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const again = h('input', { name: 'again', id: 'setup-again', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const form = h('form', { class: 'form signin-form', 'aria-labelledby': 'page-title' },
    field(t('signin.username'), username),
    field(t('setup.code'), code, { hint: t('setup.codeHint') }),
    field(t('password.new'), next, { hint: t('password.rules') }),
    field(t('password.again'), again),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'setup-submit' }, t('setup.submit'))),
    status.el);
  onSubmit(form, status, async (fd) => {
    if (fd.get('password') !== fd.get('again')) {
      status.error(new Error(t('password.mismatch')));
      return;
    }
    const name = String(fd.get('username')).trim();
    await api.post('/v1/setup', { username: name, code: String(fd.get('code')).trim(), password: fd.get('password') });
    let res;
    try {
      res = await api.post('/v1/session', { username: name, password: fd.get('password') });
    } catch (err) {
      // Set, but the sign-in needs more (a second factor): sign in by hand.
      flash(t('setup.doneSignIn'), 'success');
      navigate('#/signin');
      return;
    }
    flash(t('setup.done'), 'success');
    finishSignIn(res);
  });
  setTimeout(() => username.focus(), 0);
  return signInCard(t('setup.title'), t('setup.subtitle'),
    form,
    h('p', { class: 'signin-setup' }, h('a', { href: '#/signin', id: 'signin-link' }, t('setup.backToSignIn'))));
}

// The enrolment of a TOTP second factor: a secret from POST /v1/me/totp,
// shown as a QR code drawn here and as text; the first code confirms it and
// the server answers the ten recovery codes, shown once. The pending secret
// and the recovery codes live in this module's memory only, so that a redraw
// (language switch) shows the same ones; a reload starts a new enrolment.
let enrolment = null;

function groupSecret(secret) {
  return String(secret).replace(/(.{4})(?=.)/g, '$1 ');
}

function recoveryCodesView(user, codes) {
  const list = h('ol', { class: 'recovery-codes', id: 'recovery-codes' }, codes.map((c) => h('li', null, h('code', { class: 'mono' }, c))));
  const status = statusArea();
  const cont = button(t('enrol.continue'), async () => {
    enrolment = null;
    try {
      const me = await api.get('/v1/me');
      session.enrolled(me);
      flash(t('enrol.done'), 'success');
      navigate(me.mustChangePassword ? '#/password' : homeFor(me));
    } catch (err) {
      // The server ended the restricted session: sign in with the factor.
      session.end();
      flash(t('enrol.signInAgain'), 'info');
      navigate('#/signin');
    }
  }, 'primary', { id: 'enrol-continue' });
  return h('div', null,
    pageHeader(t('enrol.codesTitle'), user.username),
    h('div', { class: 'notice notice-warn', role: 'alert', id: 'recovery-notice' }, t('enrol.saveNow', { n: codes.length })),
    section(t('enrol.codes', { n: codes.length }),
      list,
      h('div', { class: 'form-actions' },
        button(t('enrol.download'), () => api.saveText(`${codes.join('\n')}\n`, `custos-recovery-${user.username}.txt`), 'secondary', { id: 'recovery-download' }),
        cont),
      status.el));
}

export async function enrolPage({ user }) {
  if (enrolment && enrolment.username === user.username && enrolment.recoveryCodes) {
    return recoveryCodesView(user, enrolment.recoveryCodes);
  }
  if (!enrolment || enrolment.username !== user.username) {
    const res = await api.post('/v1/me/totp');
    enrolment = { username: user.username, secret: res.secret, otpauthUri: res.otpauthUri };
  }
  const canvas = h('canvas', { id: 'totp-qr', class: 'qr', role: 'img', 'aria-label': t('enrol.qrLabel') });
  drawQr(canvas, enrolment.otpauthUri, 5);
  const status = statusArea();
  const code = h('input', { name: 'code', id: 'enrol-code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '6', required: true, class: 'mono short' });
  const form = h('form', { class: 'form narrow' },
    field(t('enrol.code'), code, { hint: t('enrol.codeHint') }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'enrol-confirm' }, t('enrol.confirm'))),
    status.el);
  const container = h('div');
  onSubmit(form, status, async (fd) => {
    const res = await api.post('/v1/me/totp/confirm', { code: String(fd.get('code')).trim() });
    enrolment.recoveryCodes = Array.isArray(res.recoveryCodes) ? res.recoveryCodes : [];
    clear(container).appendChild(recoveryCodesView(user, enrolment.recoveryCodes));
    const heading = document.getElementById('page-title');
    if (heading) heading.focus();
  });
  container.appendChild(h('div', null,
    pageHeader(t('enrol.title'), user.username),
    user.mustEnrolSecondFactor ? notice(t('enrol.required'), 'warn') : null,
    section(t('enrol.scan'),
      h('ol', { class: 'steps' },
        h('li', null, t('enrol.step1')),
        h('li', null, t('enrol.step2')),
        h('li', null, t('enrol.step3'))),
      h('div', { class: 'qr-box' }, canvas),
      h('p', null, t('enrol.secretText'), ' ', h('code', { class: 'mono secret', id: 'totp-secret' }, groupSecret(enrolment.secret)))),
    section(t('enrol.confirmTitle'), form)));
  return container;
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
