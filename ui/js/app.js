// The application shell: top bar, navigation for the signed-in role, and a
// hash router (#/records/CT-2026-000001) so that the server is only ever
// asked for real files and API calls.

import { h, clear, append, notice, spinner, timeZoneName } from './dom.js';
import { t, lang, setLang, onLangChange, errorText } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { routes } from './routes.js';
import { labelTableCells } from './widgets.js';
import { flash, takeFlash, navigate, homeFor, setRenderer, sidebar, menuButton } from './nav.js';

const app = document.getElementById('app');
let main = null;
let renderSeq = 0;
let lastHash = null;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(queryPart || ''));
  return { path: pathPart, query };
}

function match(path) {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m) return { route, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

// ---- shell ---------------------------------------------------------------

function currentNavHref() {
  const { path, query } = parseHash();
  if (path === '/loans') return `#/loans?view=${query.view || 'mine'}`;
  if (path.startsWith('/records/') || path === '/records') return '#/records';
  if (path.startsWith('/loans/')) return '#/loans?view=mine';
  const top = path.split('/').slice(0, path.startsWith('/admin/') ? 3 : 2).join('/');
  return `#${top}`;
}

function langSwitch() {
  const other = lang() === 'zh' ? 'en' : 'zh';
  return h('button', {
    type: 'button', class: 'btn btn-ghost lang-switch', lang: other === 'zh' ? 'zh-CN' : 'en',
    'aria-label': t('app.switchLanguage'),
    on: { click: () => setLang(other) },
  }, other === 'zh' ? '中文' : 'English');
}

async function signOut() {
  try { await api.del('/v1/session'); } catch (_) { /* the session may be gone already */ }
  session.end();
  flash(t('signin.signedOut'), 'info');
  navigate('#/signin');
}

function shell(user) {
  clear(app);
  const skip = h('button', {
    type: 'button', class: 'skip-link',
    on: { click: () => { const el = document.getElementById('page-title') || main; if (el) el.focus(); } },
  }, t('app.skip'));
  // Until a required password change or second-factor enrolment is done,
  // nothing else is offered.
  const withNav = user && !user.mustChangePassword && !user.mustEnrolSecondFactor;
  const top = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: user ? homeFor(user) : '#/signin' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'C'),
      h('span', { class: 'brand-name' }, 'Custos'),
      h('span', { class: 'brand-sub' }, t('app.tagline'))),
    h('div', { class: 'topbar-right' },
      withNav ? menuButton() : null,
      langSwitch(),
      user ? h('span', { class: 'whoami' },
        h('span', { class: 'whoami-name', id: 'whoami-name' }, user.username),
        h('span', { class: 'whoami-role' }, `${t(`role.${user.role}`)} · ${user.department}`)) : null,
      user && !user.mustEnrolSecondFactor && !(user.secondFactor && user.secondFactor.totp)
        ? h('a', { class: 'btn btn-ghost', href: '#/enrol', id: 'enrol-link' }, t('nav.secondFactor')) : null,
      user && !user.mustEnrolSecondFactor ? h('a', { class: 'btn btn-ghost', href: '#/password' }, t('nav.password')) : null,
      user ? h('button', { type: 'button', class: 'btn btn-ghost', id: 'sign-out', on: { click: signOut } }, t('app.signOut')) : null));

  const body = h('div', { class: withNav ? 'layout' : 'layout layout-bare' });
  if (withNav) body.appendChild(sidebar(currentNavHref()));
  main = h('main', { id: 'main', class: 'content', tabindex: '-1' });
  body.appendChild(main);
  const foot = h('footer', { class: 'footer' },
    h('span', null, t('app.timesIn', { zone: timeZoneName() })),
    h('span', null, 'Custos · /v1'));
  append(app, [skip, top, body, foot]);
}

// ---- rendering -----------------------------------------------------------

async function ensureUser() {
  if (session.user()) return session.user();
  if (!session.token()) return null;
  // A restricted session (second factor to enrol) may not read /v1/me.
  const enrolling = session.enrolling();
  if (enrolling) {
    session.setUser(enrolling);
    return enrolling;
  }
  try {
    const me = await api.get('/v1/me');
    session.setUser(me);
    return me;
  } catch (err) {
    session.end();
    return null;
  }
}

// Pages for nobody signed in: the sign-in and the first-time set-up.
const ANONYMOUS = ['/signin', '/setup'];

// body[data-state] is "loading" while a page is drawn and "ready" once it
// is complete, with body[data-hash] naming it (tests wait for this).
function markState(state) {
  document.body.dataset.state = state;
  document.body.dataset.hash = window.location.hash;
}

async function render() {
  const seq = ++renderSeq;
  markState('loading');
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  const { path, query } = parseHash();
  const user = await ensureUser();
  if (seq !== renderSeq) return;

  if (!user && !ANONYMOUS.includes(path)) { navigate('#/signin'); return; }
  if (user && user.mustEnrolSecondFactor && path !== '/enrol') { navigate('#/enrol'); return; }
  if (user && !user.mustEnrolSecondFactor && user.mustChangePassword && path !== '/password') { navigate('#/password'); return; }
  if (user && (path === '/' || ANONYMOUS.includes(path))) { navigate(homeFor(user)); return; }

  const found = match(path);
  shell(user);
  const target = main;
  const message = takeFlash();
  if (message) target.appendChild(notice(message.text, message.variant));
  if (!found) {
    target.appendChild(notice(t('app.notFound'), 'error'));
    markState('ready');
    return;
  }
  if (found.route.cap && !session.can(found.route.cap)) {
    target.appendChild(notice(t('err.forbidden'), 'error'));
    markState('ready');
    return;
  }
  const loading = spinner(t('common.loading'));
  target.appendChild(loading);
  try {
    const node = await found.route.page({ params: found.params, query, user, isCurrent: () => seq === renderSeq });
    if (seq !== renderSeq) return;
    loading.remove();
    if (node) target.appendChild(node);
    labelTableCells(target);
    document.title = `${(document.getElementById('page-title') || {}).textContent || ''} · Custos`;
    // A new page, or a page drawn again with a message about what just
    // happened, starts at the top; the focus goes to its heading.
    if (message || window.location.hash !== lastHash) window.scrollTo(0, 0);
    lastHash = window.location.hash;
    const heading = document.getElementById('page-title');
    if (heading) heading.focus({ preventScroll: true });
  } catch (err) {
    if (seq !== renderSeq) return;
    loading.remove();
    target.appendChild(notice(errorText(err), 'error'));
  }
  markState('ready');
}

api.onAuthProblem((err) => {
  if (err.code === 'password_change_required') {
    const u = session.user();
    if (u) u.mustChangePassword = true;
    navigate('#/password');
    return;
  }
  if (err.code === 'second_factor_enrolment_required') {
    const u = session.user();
    if (u) u.mustEnrolSecondFactor = true;
    navigate('#/enrol');
    return;
  }
  session.end();
  flash(t(`err.${err.code}`, {}, t('err.session_invalid')), 'error');
  navigate('#/signin');
});

setRenderer(() => render());
onLangChange(() => render());
window.addEventListener('hashchange', () => render());
render();
