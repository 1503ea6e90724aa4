// Moving between pages, the one-shot message shown on the next page, and
// the navigation itself: the links the signed-in role may follow, their
// counts (badges) from GET /v1/me/summary, read again on every
// navigation, and the menu button that opens the navigation on a phone.
// Kept apart from app.js so that pages can navigate without importing the
// shell that imports them.

import { h } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';

let flashMessage = null;
let rerender = () => {};

export function setRenderer(fn) { rerender = fn; }

// A message shown once, on the next page (e.g. "Checked in as CT-…").
export function flash(text, variant = 'success') {
  flashMessage = { text, variant };
}

export function takeFlash() {
  const f = flashMessage;
  flashMessage = null;
  return f;
}

export function navigate(hash) {
  if (window.location.hash === hash) rerender();
  else window.location.hash = hash;
}

// Draws the current page again (after an action changed what it shows).
export function reload() { rerender(); }

// The first page after sign-in: the home page (#/home) for every role that
// has one; a session that must first enrol a second factor goes there, and
// a pre-split administrator (custosd migrates it to sysadmin) has no rights.
export function homeFor(user) {
  if (!user) return '#/signin';
  if (user.mustEnrolSecondFactor) return '#/enrol';
  if (user.role === 'admin') return '#/password';
  return '#/home';
}

// ---- the summary ---------------------------------------------------------

// One GET /v1/me/summary per navigation, shared by the badges and the home
// page: refreshSummary() starts it (the shell calls it for every page it
// draws), currentSummary() gives the one under way.
let summaryPromise = null;

export function refreshSummary() {
  summaryPromise = api.get('/v1/me/summary');
  // A failure shows no badges; the page that needs the summary reports it.
  summaryPromise.catch(() => {});
  return summaryPromise;
}

export function currentSummary() {
  return summaryPromise || refreshSummary();
}

// The count a navigation entry shows, from the summary (null: none).
// Approvals count what the caller may decide now; the rest what waits.
const BADGES = {
  home: (s) => total(s.approvals),
  approveLoans: (s) => s.approvals && s.approvals.loans,
  destructions: (s) => s.approvals && s.approvals.destructions,
  retention: (s) => s.approvals && s.approvals.retentionChanges,
  grants: (s) => s.approvals && s.approvals.grants,
  borrow: (s) => (s.myLoans ? s.myLoans.length : null),
  alerts: (s) => (s.expiringCertificates || 0) + (s.overdueOriginals || 0)
    + (s.lastVerification && s.lastVerification.result === 'findings' ? 1 : 0),
  disposition: (s) => s.dispositionQueue,
};

// Entries that call for action get the alert colour.
const URGENT = new Set(['home', 'approveLoans', 'destructions', 'retention', 'grants', 'alerts']);

function total(approvals) {
  if (!approvals) return null;
  return Object.values(approvals).reduce((a, b) => a + b, 0);
}

export function badgeCount(key, summary) {
  const fn = BADGES[key];
  const n = fn && summary ? fn(summary) : null;
  return typeof n === 'number' && n > 0 ? n : null;
}

// ---- the navigation ------------------------------------------------------

function navGroups() {
  // The administrative roles have no loans: their alerts go with the rest
  // of their pages.
  const administrative = session.ADMIN_ROLES.includes((session.user() || {}).role);
  const alerts = ['alerts', '#/alerts', t('nav.alerts')];
  const groups = [
    { label: null, items: [['home', '#/home', t('nav.home')]] },
    { label: t('nav.groupRecords'), items: [
      ['catalogue', '#/records', t('nav.catalogue')],
      ['checkIn', '#/checkin', t('nav.checkin')],
    ] },
    { label: t('nav.groupLoans'), items: [
      ['borrow', '#/loans?view=mine', t('nav.myLoans')],
      ['approveLoans', '#/loans?view=inbox', t('nav.inbox')],
      ['desk', '#/loans?view=desk', t('nav.desk')],
      ['allLoans', '#/loans?view=all', t('nav.allLoans')],
      administrative ? null : alerts,
    ] },
    { label: t('nav.groupRetention'), items: [
      ['retention', '#/retention', t('nav.schedules')],
      ['disposition', '#/disposition', t('nav.disposition')],
      ['holds', '#/holds', t('nav.holds')],
      ['destructions', '#/destructions', t('nav.destructions')],
    ] },
    { label: t('nav.groupAudit'), items: [
      ['audit', '#/audit', t('nav.audit')],
    ] },
    { label: t('nav.groupAdmin'), items: [
      ['users', '#/admin/users', t('nav.users')],
      ['grants', '#/admin/grants', t('nav.grants')],
      ['departments', '#/admin/departments', t('nav.departments')],
      administrative ? alerts : null,
    ] },
  ];
  return groups
    .map((g) => ({ label: g.label, items: g.items.filter((item) => item && (item[0] === 'home' || session.can(item[0]))) }))
    .filter((g) => g.items.length > 0);
}

const NAV_ID = 'sidebar-nav';

// Fills in the badges once the summary arrives. Each badge carries its
// meaning for screen readers ("3 waiting").
function fillBadges(nav, summary) {
  for (const link of nav.querySelectorAll('a[data-nav]')) {
    const old = link.querySelector('.nav-count');
    if (old) old.remove();
    const key = link.dataset.nav;
    const n = badgeCount(key, summary);
    if (n === null) continue;
    link.appendChild(h('span', {
      class: URGENT.has(key) ? 'nav-count nav-count-alert' : 'nav-count',
      dataset: { count: n },
    }, h('span', { 'aria-hidden': 'true' }, String(n)), h('span', { class: 'sr-only' }, t('nav.countWaiting', { n, count: n }))));
  }
}

// The navigation of the signed-in role; `current` is the href of the page
// shown (marked aria-current). Starts the summary for this navigation.
export function sidebar(current) {
  const nav = h('nav', { class: 'sidebar', id: NAV_ID, 'aria-label': t('app.navigation') },
    navGroups().map((g) => h('div', { class: 'nav-group' },
      g.label ? h('p', { class: 'nav-group-label' }, g.label) : null,
      h('ul', null, g.items.map(([key, href, label]) => h('li', null,
        h('a', {
          href, class: href === current ? 'nav-link active' : 'nav-link',
          'aria-current': href === current ? 'page' : null, dataset: { nav: key },
        }, h('span', { class: 'nav-label' }, label))))))));
  nav.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && nav.classList.contains('nav-open')) {
      setMenuOpen(nav, false);
      const toggle = document.getElementById('nav-toggle');
      if (toggle) toggle.focus();
    }
  });
  refreshSummary().then((s) => fillBadges(nav, s), () => {});
  return nav;
}

function setMenuOpen(nav, open) {
  nav.classList.toggle('nav-open', open);
  const toggle = document.getElementById('nav-toggle');
  if (toggle) toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
}

// The menu button of the narrow layout (hidden on wide screens by
// app.css): opens and closes the navigation; Escape inside closes it.
export function menuButton() {
  return h('button', {
    type: 'button', class: 'btn btn-ghost nav-toggle', id: 'nav-toggle',
    'aria-controls': NAV_ID, 'aria-expanded': 'false',
    on: {
      click: () => {
        const nav = document.getElementById(NAV_ID);
        if (!nav) return;
        const open = !nav.classList.contains('nav-open');
        setMenuOpen(nav, open);
        if (open) {
          const first = nav.querySelector('a');
          if (first) first.focus();
        }
      },
    },
  }, h('span', { class: 'nav-toggle-bars', 'aria-hidden': 'true' }, '☰'), h('span', { class: 'nav-toggle-text' }, t('app.menu')));
}
