// The home page (#/home), the first page after sign-in for every role:
// what is waiting for the signed-in user, from GET /v1/me/summary (the
// same answer the navigation's counts come from). Each part the server
// sends becomes a card linking to the page that handles it; a part the
// role may not see is not sent, so it is not shown.

import { h, pageHeader, section, table, badge, stateBadge, loanLink, recordLink, fmtTimeShort, emptyState } from '../dom.js';
import { t } from '../i18n.js';
import * as session from '../session.js';
import { currentSummary } from '../nav.js';

// One card: a count and what it counts, as a link to the page that deals
// with it. `urgent` cards with a count above zero are marked.
function card(id, count, label, href, { urgent = false, note = null } = {}) {
  const alert = urgent && count > 0;
  return h('a', {
    href, id: `home-${id}`, class: ['home-card', alert ? 'home-card-alert' : null, count === 0 ? 'home-card-zero' : null],
    dataset: { count },
  },
  h('span', { class: 'home-count' }, String(count)),
  h('span', { class: 'home-label' }, label),
  note ? h('span', { class: 'home-note small' }, note) : null);
}

function approvalCards(a) {
  const cards = [];
  if (a.loans !== undefined) cards.push(card('approve-loans', a.loans, t('home.approveLoans'), '#/loans?view=inbox', { urgent: true }));
  if (a.destructions !== undefined) cards.push(card('approve-destructions', a.destructions, t('home.approveDestructions'), '#/destructions', { urgent: true }));
  if (a.retentionChanges !== undefined) cards.push(card('approve-retention', a.retentionChanges, t('home.approveRetention'), '#/retention', { urgent: true }));
  if (a.grants !== undefined) cards.push(card('approve-grants', a.grants, t('home.approveGrants'), '#/admin/grants', { urgent: true }));
  return cards;
}

function workCards(s) {
  const cards = [];
  if (s.overdueOriginals !== undefined) {
    cards.push(card('overdue-originals', s.overdueOriginals, t('home.overdueOriginals'), '#/loans?view=overdue', { urgent: true }));
  }
  if (s.expiringCertificates !== undefined) {
    cards.push(card('expiring-certificates', s.expiringCertificates, t('home.expiringCertificates'), '#/alerts', { urgent: true }));
  }
  if (s.dispositionQueue !== undefined) {
    cards.push(card('disposition-queue', s.dispositionQueue, t('home.dispositionQueue'), '#/disposition'));
  }
  if (s.pendingRetentionChanges !== undefined) {
    cards.push(card('pending-retention', s.pendingRetentionChanges, t('home.pendingRetention'), '#/retention'));
  }
  return cards;
}

function verificationCard(v) {
  const href = session.can('audit') ? '#/audit' : '#/alerts';
  const text = v.result === 'findings' ? t('home.verifyFindings', { n: v.findings, count: v.findings }) : t(`home.verify.${v.result}`);
  return h('a', {
    href, id: 'home-verification', dataset: { result: v.result },
    class: ['home-card', 'home-card-wide', v.result === 'findings' ? 'home-card-alert' : null],
  },
  h('span', { class: 'home-label' }, t('home.lastVerification')),
  h('span', { class: 'home-verdict' }, text),
  v.at ? h('span', { class: 'home-note small' }, t('home.verifiedAt', { time: fmtTimeShort(v.at) })) : null);
}

function myLoans(loans) {
  const columns = [
    { label: t('loan.id'), cell: (l) => loanLink(l.id), class: 'nowrap' },
    { label: t('loan.record'), cell: (l) => h('div', null, recordLink(l.recordId), h('div', { class: 'small wrap' }, l.title)), class: 'wrap' },
    { label: t('loan.state'), cell: (l) => stateBadge('loanState', l.state) },
    {
      label: t('loan.due'),
      cell: (l) => h('span', { class: 'nowrap' }, fmtTimeShort(l.dueAt), l.overdue ? [' ', badge(t('loan.overdue'), 'alert')] : null),
      class: 'nowrap',
    },
  ];
  return section(t('home.myLoans'),
    loans.length
      ? h('div', { class: 'flush' }, table(columns, loans, '', { label: t('home.myLoans'), class: 'home-loans', rowClass: (l) => (l.overdue ? 'row-alert' : null) }))
      : emptyState(t('home.noLoans')),
    h('p', { class: 'hint' }, h('a', { href: '#/loans?view=mine' }, t('home.allMyLoans'))));
}

export async function homePage({ user }) {
  const s = await currentSummary();
  const parts = [pageHeader(t('home.title'), t('home.subtitle', { name: user.username }))];
  const approvals = s.approvals ? approvalCards(s.approvals) : [];
  if (approvals.length) {
    parts.push(section(t('home.approvals'), h('div', { class: 'home-cards', id: 'home-approvals' }, approvals)));
  }
  const work = workCards(s);
  if (s.lastVerification) work.push(verificationCard(s.lastVerification));
  if (work.length) parts.push(section(t('home.work'), h('div', { class: 'home-cards', id: 'home-work' }, work)));
  if (s.myLoans) parts.push(myLoans(s.myLoans));
  if (parts.length === 1) parts.push(emptyState(t('home.nothing')));
  return h('div', { class: 'home' }, parts);
}
