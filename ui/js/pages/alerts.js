// What needs attention: paper originals out past their due date,
// qualification certificates that expired or expire soon, and (auditors)
// the findings of the latest scheduled verification, the rows refused
// for a bad seal and the witnesses that refused a checkpoint; (security auditors) content read by accounts soon after
// their set-up, reset or role grant.

import { h, pageHeader, section, table, badge, recordLink, loanLink, fmtTime, fmtTimeShort, fmtDate, mono } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';

export async function alertsPage() {
  const alerts = await api.get('/v1/alerts');
  const loanCols = [
    { label: t('loan.id'), cell: (l) => loanLink(l.id), class: 'nowrap' },
    { label: t('loan.record'), cell: (l) => h('div', null, recordLink(l.recordId), h('div', { class: 'small' }, l.recordTitle)), class: 'wrap' },
    { label: t('loan.borrower'), cell: (l) => l.borrower },
    { label: t('field.department'), cell: (l) => l.department },
    { label: t('loan.checkedOutAt'), cell: (l) => fmtTimeShort(l.checkedOutAt), class: 'nowrap' },
    { label: t('loan.due'), cell: (l) => h('strong', null, fmtTimeShort(l.dueAt)), class: 'nowrap' },
  ];
  const certCols = [
    { label: t('field.archiveNumber'), cell: (c) => recordLink(c.recordId), class: 'nowrap' },
    { label: t('field.title'), cell: (c) => c.title, class: 'wrap' },
    { label: t('field.department'), cell: (c) => c.department },
    { label: t('meta.validUntil'), cell: (c) => fmtDate(c.validUntil), class: 'nowrap' },
    {
      label: t('alerts.status'),
      cell: (c) => (c.expired
        ? badge(t('alerts.expiredDays', { n: -c.daysLeft }), 'alert')
        : badge(t('alerts.daysLeft', { n: c.daysLeft }), c.daysLeft <= 7 ? 'alert' : (c.daysLeft <= 30 ? 'warn' : 'info'))),
    },
    { label: t('alerts.horizon'), cell: (c) => (c.horizonDays === null ? '—' : t('alerts.withinDays', { n: c.horizonDays })) },
  ];
  const v = alerts.verification;
  const findingCols = [
    { label: t('audit.code'), cell: (f) => badge(f.code, 'alert'), class: 'nowrap' },
    { label: t('audit.object'), cell: (f) => f.object, class: 'wrap' },
    { label: t('audit.problem'), cell: (f) => f.problem, class: 'wrap' },
  ];
  const verification = v ? section(t('alerts.verification'),
    h('p', null, t('alerts.verificationAt', {
      kind: t(v.full ? 'alerts.verificationFull' : 'alerts.verificationIncremental'),
      time: fmtTime(v.finishedAt), n: v.findingCount, shown: v.findings.length,
    })),
    h('div', { class: 'flush' }, table(findingCols, v.findings, '', { rowClass: () => 'row-alert' }))) : null;
  const r = alerts.rowIntegrity;
  const rowCols = [
    { label: t('alerts.rowTable'), cell: (x) => badge(x.table, 'alert'), class: 'nowrap' },
    { label: t('alerts.rowKey'), cell: (x) => x.key, class: 'wrap' },
    { label: t('alerts.rowAt'), cell: (x) => fmtTime(x.at), class: 'nowrap' },
  ];
  const rowIntegrity = r ? section(t('alerts.rowIntegrity'),
    h('p', null, t('alerts.rowIntegrityText', { n: r.count, shown: r.rows.length })),
    h('div', { class: 'flush' }, table(rowCols, r.rows, '', { rowClass: () => 'row-alert' }))) : null;
  const att = alerts.attestation;
  const attCols = [
    { label: t('alerts.attParty'), cell: (x) => mono(x.party), class: 'wrap' },
    { label: t('audit.code'), cell: (x) => badge(t(`alerts.att.${x.code}`, {}, x.code), 'alert'), class: 'nowrap' },
    { label: t('alerts.attSize'), cell: (x) => mono(String(x.size)), class: 'num' },
    { label: t('audit.problem'), cell: (x) => x.detail, class: 'wrap' },
    { label: t('alerts.rowAt'), cell: (x) => fmtTime(x.at), class: 'nowrap' },
  ];
  const attestation = att ? section(t('alerts.attestation'),
    h('p', null, t('alerts.attestationText', { n: att.count, shown: att.problems.length })),
    h('div', { class: 'flush' }, table(attCols, att.problems, '', { rowClass: () => 'row-alert' }))) : null;
  const fresh = Array.isArray(alerts.freshAccountReads) ? alerts.freshAccountReads : [];
  const freshCols = [
    { label: t('alerts.freshUser'), cell: (x) => h('div', null, mono(x.username), h('div', { class: 'small' }, t(`role.${x.role}`, {}, x.role))) },
    { label: t('field.archiveNumber'), cell: (x) => h('span', null, mono(x.recordId), ` v${x.version}`), class: 'nowrap' },
    { label: t('alerts.freshAt'), cell: (x) => fmtTime(x.at), class: 'nowrap' },
    { label: t('alerts.freshSince'), cell: (x) => fmtTime(x.accountSince), class: 'nowrap' },
    { label: t('record.logIndex'), cell: (x) => mono(String(x.logIndex)), class: 'num' },
  ];
  const freshReads = fresh.length || session.user().role === 'security_auditor' ? section(t('alerts.freshReads'),
    h('p', null, t('alerts.freshReadsText', { n: fresh.length })),
    h('div', { class: 'flush' }, table(freshCols, fresh, t('common.none'), { rowClass: () => 'row-alert' }))) : null;
  return h('div', null,
    pageHeader(t('alerts.title'), t('alerts.generated', { time: fmtTime(alerts.generatedAt) })),
    freshReads,
    rowIntegrity,
    attestation,
    verification,
    h('div', { class: 'stat-row' },
      h('div', { class: ['stat', alerts.overdueLoans.length ? 'stat-alert' : null] }, h('span', { class: 'stat-n' }, String(alerts.overdueLoans.length)), h('span', { class: 'stat-l' }, t('alerts.overdueLoans'))),
      h('div', { class: ['stat', alerts.certificates.some((c) => c.expired) ? 'stat-alert' : null] }, h('span', { class: 'stat-n' }, String(alerts.certificates.length)), h('span', { class: 'stat-l' }, t('alerts.certificates')))),
    section(t('alerts.overdueLoans'), h('div', { class: 'flush' }, table(loanCols, alerts.overdueLoans, t('alerts.noOverdue'), { rowClass: () => 'row-alert' }))),
    section(t('alerts.certificates'), h('div', { class: 'flush' }, table(certCols, alerts.certificates, t('alerts.noCertificates')))));
}
