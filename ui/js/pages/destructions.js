// Destruction batches: proposed by an archivist, approved by one person of
// each required role (never the proposer), executed by an archivist, then
// proven by a signed certificate that verifies offline.

import { h, pageHeader, section, table, stateBadge, recordLink, fmtTime, fmtTimeShort, fmtDate, fmtPeriod, fmtBytes, dl, mono, hash, linkButton, notice } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { flash, reload } from '../nav.js';
import { statusArea, actionButton, confirmedActionButton } from '../widgets.js';

const enc = encodeURIComponent;

export async function destructionsPage() {
  const { destructions } = await api.get('/v1/destructions');
  const columns = [
    { label: t('destr.batch'), cell: (b) => h('a', { href: `#/destructions/${enc(b.id)}`, class: 'mono-link' }, b.id), class: 'nowrap' },
    { label: t('field.state'), cell: (b) => stateBadge('batchState', b.state) },
    { label: t('destr.records'), cell: (b) => String(b.records.length), class: 'num' },
    { label: t('destr.reason'), cell: (b) => b.reason || '—', class: 'wrap' },
    { label: t('destr.proposed'), cell: (b) => `${fmtTimeShort(b.proposedAt)} · ${b.proposedBy}`, class: 'small nowrap' },
    { label: t('destr.approvals'), cell: (b) => b.approvals.map((a) => `${a.by} (${t(`role.${a.role}`)})`).join(', ') || '—', class: 'small' },
    { label: t('destr.certificate'), cell: (b) => (b.hasCertificate ? stateBadge('batchState', 'executed') : '—') },
  ];
  return h('div', null,
    pageHeader(t('destr.title'), t('destr.subtitle'),
      session.can('proposeDestruction') ? linkButton(t('disposition.title'), '#/disposition', 'secondary') : null),
    section(t('destr.list'), h('div', { class: 'flush' }, table(columns, destructions, t('destr.empty')))));
}

export async function destructionPage({ params, user }) {
  const b = await api.get(`/v1/destructions/${enc(params[0])}`);
  const status = statusArea();
  const actions = [];
  if (b.state === 'proposed' && session.can('approveDestruction') && b.proposedBy !== user.username && !b.approvals.some((a) => a.by === user.username)) {
    actions.push(actionButton(t('destr.approve'), async () => {
      const after = await api.post(`/v1/destructions/${enc(b.id)}/approve`);
      flash(t('destr.approved', { state: t(`batchState.${after.state}`) }));
      reload();
    }, status, 'primary', { id: 'approve-destruction' }));
  }
  if ((b.state === 'approved' || (b.state === 'executed' && !b.hasCertificate)) && session.can('executeDestruction')) {
    // Destroys content for good: the batch id must be typed to go on.
    actions.push(confirmedActionButton(t('destr.execute'), {
      title: t('confirm.executeTitle', { id: b.id }),
      body: t('confirm.executeBody', { n: b.records.length }),
      typed: b.id,
      typedLabel: t('confirm.executeTyped', { id: b.id }),
    }, async () => {
      await api.post(`/v1/destructions/${enc(b.id)}/execute`);
      flash(t('destr.executed'));
      reload();
    }, status, 'danger', { id: 'execute-destruction' }));
  }
  if (b.hasCertificate) {
    actions.push(actionButton(t('destr.downloadCertificate'), async () => {
      await api.download(`/v1/destructions/${enc(b.id)}/certificate`, `${b.id}-certificate.txt`);
      status.ok(t('destr.certificateSaved'));
    }, status, 'secondary', { id: 'certificate' }));
  }
  const fileRows = b.records.flatMap((r) => r.files.map((f) => ({ ...f, recordId: r.recordId })));
  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/destructions' }, t('destr.title')), ' / ', h('span', null, b.id)),
    pageHeader(t('destr.batchTitle', { id: b.id }), b.reason, actions),
    status.el,
    b.state === 'approved' ? notice(t('destr.executeWarning'), 'warn') : null,
    section(t('destr.details'), dl([
      [t('field.state'), stateBadge('batchState', b.state)],
      [t('destr.proposed'), `${fmtTime(b.proposedAt)} · ${b.proposedBy}`],
      [t('destr.approvals'), b.approvals.length ? h('ul', { class: 'plain-list' }, b.approvals.map((a) => h('li', null, `${a.by} (${t(`role.${a.role}`)}) · ${fmtTime(a.at)} · #${a.logIndex}`))) : t('destr.noApprovals')],
      b.executedAt ? [t('destr.executedAt'), `${fmtTime(b.executedAt)} · ${b.executedBy}`] : null,
      [t('destr.logIndices'), mono(b.logIndices.join(' '))],
    ])),
    section(t('destr.recordsN', { n: b.records.length }), h('div', { class: 'flush' }, table([
      { label: t('field.archiveNumber'), cell: (r) => recordLink(r.recordId), class: 'nowrap' },
      { label: t('field.title'), cell: (r) => r.title, class: 'wrap' },
      { label: t('field.type'), cell: (r) => t(`type.${r.type}`) },
      { label: t('retention.rule'), cell: (r) => `${t(`trigger.${r.retention.trigger}`)} + ${fmtPeriod(r.retention.period)}`, class: 'small' },
      { label: t('retention.dispositionDate'), cell: (r) => fmtDate(r.retention.dispositionDate), class: 'nowrap' },
      { label: t('destr.eventIndex'), cell: (r) => (r.eventIndex === null ? '—' : mono(String(r.eventIndex))), class: 'num' },
    ], b.records, t('common.none')))),
    section(t('destr.files'), h('div', { class: 'flush' }, table([
      { label: t('field.archiveNumber'), cell: (f) => mono(f.recordId), class: 'nowrap' },
      { label: t('record.versionShort'), cell: (f) => String(f.version), class: 'num' },
      { label: t('record.fileName'), cell: (f) => f.name, class: 'wrap' },
      { label: t('record.fileSize'), cell: (f) => fmtBytes(f.size), class: 'num' },
      { label: 'SHA-256', cell: (f) => hash(f.sha256, true) },
    ], fileRows, t('record.noFiles'), { class: 'compact' }))));
}
