// One record: catalogue data, retention and disposition date, holds, open
// loans, the versions as a timeline (files with hashes, signature status,
// the content pipeline's extraction status and identified type, and for
// readers the extracted text; receipts) and the record's audit history with
// log indices. Also the loan
// request form and the archivist's edit form.

import {
  h, dl, pageHeader, section, sectionWithActions, table, badge, stateBadge, classBadge, hash, mono,
  fmtTime, fmtTimeShort, fmtDay, fmtDate, fmtBytes, fmtRule, field, select, button, linkButton, loanLink,
  notice, localInputToIso, isoToLocalInput, clear, append, emptyState, uid,
} from '../dom.js';
import { t, eventLabel } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash } from '../nav.js';
import { statusArea, onSubmit, actionButton } from '../widgets.js';
import { TYPE_FIELDS, CLASSIFICATIONS, TRIGGERS, ACTIONS } from '../model.js';
import { previewPages, thumbnail, pageViewer, textViewer, downloadFile } from '../preview.js';

const enc = encodeURIComponent;

function metadataPairs(record) {
  const known = (TYPE_FIELDS[record.type] || []).map(([k]) => k);
  const keys = [...known.filter((k) => k in (record.metadata || {})),
    ...Object.keys(record.metadata || {}).filter((k) => !known.includes(k)).sort()];
  return keys.map((k) => [t(`meta.${k}`, {}, k), record.metadata[k]]);
}

function signatureCell(sig) {
  if (!sig || sig.status === 'none') return h('span', { class: 'muted' }, t('sig.none'));
  const parts = [stateBadge('sig', sig.status)];
  if (sig.status === 'invalid' && sig.reason) parts.push(h('span', { class: 'sig-reason' }, t(`sigReason.${sig.reason}`, {}, sig.reason)));
  if (sig.signer) parts.push(h('div', { class: 'sig-signer' }, sig.signer));
  if (sig.signingTime) parts.push(h('div', { class: 'muted small' }, t('record.signedAt', { time: fmtTime(sig.signingTime) })));
  return h('div', { class: 'sig' }, parts);
}

// The claimed media type, the type identified from the bytes beside it and,
// when they differ, a visible warning.
function typeCell(f) {
  const x = f.extraction;
  const claimed = (x && x.claimedType) || f.mediaType;
  return h('div', { class: 'extraction' },
    h('span', { class: 'muted' }, claimed),
    x && x.identifiedType ? h('span', { class: 'small identified-type' }, t('record.identifiedType', { type: x.identifiedType })) : null,
    x && x.typeMismatch ? h('div', { class: 'type-mismatch', role: 'note' },
      t('record.typeMismatch', { claimed, identified: x.identifiedType || '—' })) : null);
}

// The file's extraction status (docs/search.md "API"); absent until the
// pipeline has seen the file, which is shown as pending.
function extractionCell(f) {
  const x = f.extraction;
  const state = x && x.state ? x.state : 'pending';
  const parts = [h('span', { class: 'extraction-state', dataset: { state } }, stateBadge('extr', state))];
  if (x && state === 'text') {
    const method = t(`method.${x.method}`, {}, x.method || '');
    parts.push(h('span', { class: 'muted small' }, x.pages
      ? t('record.extractionDetail', { method, pages: x.pages, count: x.pages, size: fmtBytes(x.textBytes) })
      : t('record.extractionDetailNoPages', { method, size: fmtBytes(x.textBytes) })));
  }
  if (x && (state === 'retry' || state === 'failed')) {
    if (x.reason) parts.push(h('span', { class: 'muted small' }, t('record.extractionReason', { reason: t(`extrReason.${x.reason}`, {}, x.reason) })));
    if (x.attempts) parts.push(h('span', { class: 'muted small' }, t('record.extractionAttempts', { n: x.attempts })));
  }
  return h('div', { class: 'extraction' }, parts);
}

// The extracted text of one file, shown in the viewer's place in a
// scrollable <pre> as text (textContent), never parsed. GET …/text is a
// content read the server logs.
async function showText(record, v, f, area, textStatus) {
  clear(area);  // a refusal must not stand above another file's text
  const viewer = await textViewer(record.id, v.number, f, { onClose: () => { clear(area); textStatus.clear(); } });
  clear(area);
  append(area, [viewer]);
  textStatus.ok(t('record.textShown', { name: f.name }));
}

// The page viewer of a previewable file in the version's viewer area.
function showPages(record, v, f, area, textStatus) {
  clear(area);
  textStatus.clear();
  const opener = document.activeElement;
  const viewer = pageViewer(record.id, v.number, f, {
    onClose: () => { clear(area); if (opener && opener.isConnected) opener.focus(); },
  });
  append(area, [viewer]);
  viewer.focus();
}

// For a caller who may not read the content: the download button is
// there but disabled, with the reason in words and, right beside it, the
// way to a loan (docs/ui.md "Previews").
function noReadActions(record, f) {
  const reasonId = uid('noread');
  return h('div', { class: 'file-actions no-read' },
    h('button', {
      type: 'button', class: 'btn btn-secondary', disabled: true, 'aria-describedby': reasonId,
      'aria-label': t('record.downloadNamed', { name: f.name }), dataset: { action: 'download', file: f.name },
    }, t('record.download')),
    session.can('borrow') ? linkButton(t('record.borrow'), `#/records/${enc(record.id)}/borrow`, 'link',
      { class: 'btn btn-link borrow-link', dataset: { action: 'borrow-link', file: f.name } }) : null,
    h('span', { class: 'small muted no-read-reason', id: reasonId }, t('record.noReadReason')));
}

function fileActions(record, v, f, status, area, textStatus) {
  if (!session.mayReadContent(record)) return noReadActions(record, f);
  const pages = previewPages(f);
  return h('div', { class: 'file-actions' },
    actionButton(t('record.download'), async () => {
      const info = await downloadFile(record.id, v.number, f);
      status.ok(info.message);
    }, status, 'secondary', { dataset: { action: 'download', file: f.name, version: v.number }, 'aria-label': t('record.downloadNamed', { name: f.name }) }),
    pages ? button(t('record.preview'), () => showPages(record, v, f, area, textStatus), 'secondary',
      { dataset: { action: 'preview', file: f.name, version: v.number }, 'aria-label': t('record.previewNamed', { name: f.name }) }) : null,
    actionButton(t('record.showText'), () => showText(record, v, f, area, textStatus), textStatus, 'secondary',
      { dataset: { action: 'show-text', file: f.name, version: v.number }, 'aria-label': t('record.showTextNamed', { name: f.name }) }));
}

function versionCard(record, v, status, latest) {
  const canRead = !record.tombstone;
  const mayRead = session.mayReadContent(record);
  const textStatus = statusArea();
  const textArea = h('div', { class: 'text-area viewer-area' });
  // First-page thumbnails only for a caller who may read the content.
  const thumbs = mayRead && canRead && v.files.some((f) => previewPages(f) > 0);
  const columns = [
    thumbs ? {
      label: h('span', { class: 'sr-only' }, t('record.thumbColumn')),
      cell: (f) => (previewPages(f) ? thumbnail(record.id, v.number, f, { onOpen: () => showPages(record, v, f, textArea, textStatus) }) : null),
      class: 'thumb-col',
    } : null,
    { label: t('record.fileName'), cell: (f) => h('span', { class: 'file-name' }, f.name), class: 'wrap' },
    { label: t('record.fileSize'), cell: (f) => fmtBytes(f.size), class: 'num nowrap' },
    { label: t('record.mediaType'), cell: typeCell },
    { label: t('record.extraction'), cell: extractionCell },
    { label: 'SHA-256', cell: (f) => h('div', null, hash(f.sha256, true), f.sm3 ? h('div', { class: 'muted small' }, 'SM3 ', hash(f.sm3)) : null), class: 'hash-col' },
    { label: t('record.signature'), cell: (f) => signatureCell(f.signature) },
    {
      label: h('span', { class: 'sr-only' }, t('common.actions')),
      cell: (f) => (f.destroyed || !canRead
        ? badge(t('record.contentDestroyed'), 'dark')
        : fileActions(record, v, f, status, textArea, textStatus)),
      class: 'nowrap',
    },
  ].filter(Boolean);
  return h('li', { class: ['timeline-item', latest ? 'is-latest' : null], id: `version-${v.number}` },
    h('div', { class: 'timeline-marker', 'aria-hidden': 'true' }, String(v.number)),
    h('div', { class: 'timeline-body' },
      h('div', { class: 'timeline-head' },
        h('h3', null, t('record.versionN', { n: v.number })),
        badge(t(`kind.${v.kind}`), v.kind === 'original' ? 'info' : 'purple'),
        latest ? badge(t('record.current'), 'ok') : null,
        h('span', { class: 'muted' }, t('record.versionBy', { time: fmtTime(v.createdAt), who: v.createdBy })),
        h('span', { class: 'spacer' }),
        actionButton(t('record.receipt'), async () => {
          await api.download(`/v1/records/${enc(record.id)}/versions/${v.number}/receipt`, `${record.id}-v${v.number}.tlog-proof`);
          status.ok(t('record.receiptSaved', { n: v.number }));
        }, status, 'secondary', { dataset: { action: 'receipt', version: v.number } })),
      v.note ? h('p', { class: 'version-note' }, v.note) : null,
      dl([
        [t('record.logIndex'), mono(String(v.logIndex))],
        [t('record.manifestHash'), hash(v.manifestHash, true)],
        [t('record.prevManifestHash'), v.prevManifestHash ? hash(v.prevManifestHash, true) : h('span', { class: 'muted' }, t('record.firstVersion'))],
      ], 'facts facts-inline'),
      table(columns, v.files, t('record.noFiles'), { class: 'compact', label: t('record.filesOf', { n: v.number }) }),
      textStatus.el,
      textArea));
}

// "field: old → new" for each value a record.update changed: the kept
// fields from its details, the personal ones from the entry's `change`
// (served while the record lives; docs/api.md).
function updateValues(d, change) {
  const before = { ...(d.before || {}) };
  const after = { ...(d.after || {}) };
  if (change) {
    for (const side of ['before', 'after']) {
      const values = change[side] || {};
      const into = side === 'before' ? before : after;
      for (const [k, v] of Object.entries(values)) {
        if (k !== 'metadata') { into[k] = v; continue; }
        let fields = {};
        try { fields = JSON.parse(v || '{}'); } catch (e) { fields = {}; }
        for (const [mk, mv] of Object.entries(fields)) into[`metadata.${mk}`] = mv;
      }
    }
  }
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => (before[k] || '') !== (after[k] || ''));
  return keys.map((k) => {
    const meta = k.startsWith('metadata.') ? k.slice('metadata.'.length) : k;
    return `${t(`field.${k}`, {}, t(`meta.${meta}`, {}, meta))}: ${before[k] || '—'} → ${after[k] || '—'}`;
  }).join('; ');
}

function historySummary(ev, fileNames, change) {
  const d = ev.details || {};
  switch (ev.action) {
    case 'record.checkin':
    case 'record.version':
      return t('hist.version', { n: d.version, files: (d.files || []).length, count: (d.files || []).length, kind: t(`kind.${d.kind}`, {}, d.kind || '') });
    case 'content.read':
      // "derived": "text" is a read of the extracted text, not of the bytes.
      // "preview" a page image (details.page), "compare" names the other
      // version of a comparison, "stamped" a copy made for a loan.
      if (d.derived === 'text' && d.compare) return t('hist.readTextCompare', { v: d.version, file: fileNames.get(d.file) || d.file, other: d.compare });
      if (d.derived === 'text') return t(d.loan ? 'hist.readTextLoan' : 'hist.readText', { v: d.version, file: fileNames.get(d.file) || d.file, loan: d.loan });
      if (d.derived === 'preview') return t(d.loan ? 'hist.readPreviewLoan' : 'hist.readPreview', { v: d.version, file: fileNames.get(d.file) || d.file, loan: d.loan, page: d.page ?? '—' });
      if (d.stamped) return t('hist.readStamped', { v: d.version, file: fileNames.get(d.file) || d.file, loan: d.loan });
      return t(d.loan ? 'hist.readLoan' : 'hist.read', { v: d.version, file: fileNames.get(d.file) || d.file, loan: d.loan });
    case 'content.snippet':
      return t('hist.snippet', { v: d.version, file: fileNames.get(d.file) || d.file });
    case 'record.update':
      // details.changed names every changed field (metadata ones as
      // "metadata.<key>"); older entries only had before/after.
      return t('hist.update', { fields: (d.changed || Object.keys(d.after || {})).map((k) => {
        const meta = k.startsWith('metadata.') ? k.slice('metadata.'.length) : k;
        return t(`field.${k}`, {}, t(`meta.${meta}`, {}, meta));
      }).join(', ') }) + (updateValues(d, change) ? ` (${updateValues(d, change)})` : '');
    case 'record.state':
      return d.from && d.to ? `${t(`state.${d.from}`, {}, d.from)} → ${t(`state.${d.to}`, {}, d.to)}` : '';
    default:
      if (ev.action.startsWith('loan.')) return [d.loan, d.kind ? t(`loanKind.${d.kind}`, {}, d.kind) : null, d.state ? t(`loanState.${d.state}`, {}, d.state) : null].filter(Boolean).join(' · ');
      if (d.hold) return d.hold;
      if (d.batch) return d.batch;
      return '';
  }
}

function historyTable(entries, record) {
  const fileNames = new Map(record.versions.flatMap((v) => v.files.map((f) => [f.id, f.name])));
  const columns = [
    { label: t('record.logIndex'), cell: (e) => mono(String(e.index)), class: 'num' },
    // A redacted entry (its body held values a destruction severed) has
    // only its index and leaf hash.
    { label: t('hist.time'), cell: (e) => (e.redacted ? '' : fmtTime(e.event.at)), class: 'nowrap' },
    { label: t('hist.action'), cell: (e) => (e.redacted ? h('span', { class: 'muted' }, t('hist.redacted')) : h('span', { title: e.event.action }, eventLabel(e.event.action))) },
    { label: t('hist.actor'), cell: (e) => (e.redacted ? '' : e.event.actor) },
    { label: t('hist.details'), cell: (e) => h('span', { class: 'muted' }, e.redacted ? '' : historySummary(e.event, fileNames, e.change)), class: 'wrap' },
  ];
  return table(columns, entries, t('record.noHistory'), { class: 'compact', label: t('record.history') });
}

// A destroyed record shows the rule it was destroyed under (its metadata,
// and with it the trigger date, is gone).
function retentionPanel(record) {
  const r = record.tombstone ? record.tombstone.retention : record.retention;
  if (!r) return section(t('record.retention'), emptyState(t('common.none')));
  return section(t('record.retention'),
    dl([
      [t('retention.rule'), fmtRule(r)],
      [t('retention.source'), t(`retentionSource.${r.source}`)],
      [t('retention.triggerDate'), fmtDate(r.triggerDate)],
      [t('retention.dispositionDate'), h('strong', { id: 'disposition-date' }, r.action === 'permanent' ? t('action.permanent') : fmtDate(r.dispositionDate))],
      record.tombstone ? null : [t('retention.due'), r.due ? badge(t('common.yes'), 'alert') : t('common.no')],
    ]));
}

function holdsPanel(record) {
  const body = record.holds.length === 0
    ? h('p', { class: 'muted' }, t('record.noHolds'))
    : h('ul', { class: 'plain-list' }, record.holds.map((id) => h('li', null,
      session.can('holds') ? h('a', { href: `#/holds/${enc(id)}`, class: 'mono-link' }, id) : mono(id))));
  return section(t('record.holds'), body);
}

function loansPanel(record) {
  const held = record.originalHeldBy;
  const columns = [
    { label: t('loan.id'), cell: (l) => h('div', null, loanLink(l.id), h('div', { class: 'small muted' }, t(`loanKind.${l.kind}`))), class: 'nowrap' },
    { label: t('loan.state'), cell: (l) => stateBadge('loanState', l.state) },
    { label: t('loan.borrower'), cell: (l) => l.borrower },
    { label: t('loan.due'), cell: (l) => h('span', { title: fmtTime(l.dueAt) }, fmtDay(l.dueAt), l.overdue ? [' ', badge(t('loan.overdue'), 'alert')] : null), class: 'nowrap' },
  ];
  return section(t('record.loans'),
    held ? notice(t('record.originalOut', { who: held.borrower, since: fmtTimeShort(held.since), due: fmtTimeShort(held.dueAt) }), record.overdue ? 'error' : 'warn')
      : h('p', { class: 'muted small' }, t('record.originalIn')),
    table(columns, record.loans, t('record.noLoans'), { class: 'compact' }));
}

function tombstonePanel(record) {
  const ts = record.tombstone;
  if (!ts) return null;
  return h('section', { class: 'panel panel-dark' },
    h('div', { class: 'panel-head' }, h('h2', null, t('record.tombstone'))),
    h('div', { class: 'panel-body' }, dl([
      [t('destr.batch'), h('a', { href: `#/destructions/${enc(ts.batch)}`, class: 'mono-link' }, ts.batch)],
      [t('destr.destroyedAt'), fmtTime(ts.destroyedAt)],
      [t('destr.destroyedBy'), ts.destroyedBy],
      [t('record.logIndex'), mono(String(ts.eventIndex))],
      [t('destr.approvals'), ts.approvals.map((a) => `${a.by} (${t(`role.${a.role}`)})`).join(', ')],
    ])));
}

function asOfPanel(record) {
  const status = statusArea();
  const out = h('div', { class: 'as-of-result' });
  const input = h('input', { type: 'datetime-local', name: 'asOf', required: true, id: 'as-of' });
  const form = h('form', { class: 'inline-form' },
    field(t('record.asOf'), input),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('record.asOfShow'))));
  onSubmit(form, status, async (fd) => {
    clear(out);
    const res = await api.get(`/v1/records/${enc(record.id)}/versions`, { asOf: localInputToIso(fd.get('asOf')) });
    const v = res.versions[0];
    append(out, [notice(t('record.asOfAnswer', { n: v.number, kind: t(`kind.${v.kind}`), time: fmtTime(v.createdAt) }), 'info')]);
    const el = document.getElementById(`version-${v.number}`);
    if (el) el.classList.add('highlight');
  });
  return h('div', { class: 'as-of' }, form, status.el, out);
}

// "Compare versions": two versions chosen, the comparison page opened
// (only for a caller who may read the content: comparing reads both texts).
function comparePanel(record) {
  const numbers = record.versions.map((v) => v.number);
  const options = numbers.map((n) => [String(n), t('record.versionN', { n })]);
  const from = select('from', options, String(numbers[numbers.length - 2]), { id: 'compare-from' });
  const to = select('to', options, String(numbers[numbers.length - 1]), { id: 'compare-to' });
  const status = statusArea();
  const form = h('form', { class: 'inline-form compare-form', id: 'compare-form' },
    field(t('compare.from'), from), field(t('compare.to'), to),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary', id: 'compare-submit' }, t('record.compare'))));
  onSubmit(form, status, async (fd) => {
    if (fd.get('from') === fd.get('to')) {
      status.error({ code: 'invalid_compare', params: {} });
      return;
    }
    navigate(`#/records/${enc(record.id)}/compare?from=${enc(fd.get('from'))}&to=${enc(fd.get('to'))}`);
  });
  return h('div', { class: 'compare-choose' }, h('h3', null, t('record.compareTitle')), form, status.el);
}

export async function recordPage({ params }) {
  const id = params[0];
  const [record, history] = await Promise.all([
    api.get(`/v1/records/${enc(id)}`),
    api.get(`/v1/records/${enc(id)}/history`),
  ]);
  const status = statusArea();
  const destroyed = record.state === 'destroyed';
  const actions = [
    session.can('borrow') && !destroyed ? linkButton(t('record.borrow'), `#/records/${enc(id)}/borrow`, 'primary', { id: 'borrow' }) : null,
    session.can('checkIn') && !destroyed ? linkButton(t('record.newVersion'), `#/records/${enc(id)}/new-version`, 'secondary', { id: 'new-version' }) : null,
    session.can('editRecord') && !destroyed ? linkButton(t('record.edit'), `#/records/${enc(id)}/edit`, 'secondary') : null,
    session.can('exportPackage') ? linkButton(t('record.export'), `#/audit?records=${enc(id)}`, 'secondary') : null,
    actionButton(t('record.evidence'), async () => {
      await api.download(`/v1/records/${enc(id)}/evidence`, `evidence-${id}.zip`);
      status.ok(t('record.evidenceSaved'));
    }, status, 'secondary', { id: 'evidence' }),
  ];
  const versions = [...record.versions].reverse();
  const latest = record.versions.length ? record.versions[record.versions.length - 1].number : 0;

  return h('div', { class: 'record-page' },
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/records' }, t('nav.catalogue')), ' / ', h('span', null, record.id)),
    pageHeader(record.title, null, actions),
    h('div', { class: 'record-strip' },
      h('span', { class: 'archive-no', id: 'record-id' }, record.id),
      badge(t(`type.${record.type}`), 'info'),
      classBadge(record.classification),
      stateBadge('state', record.state),
      record.overdue ? badge(t('loan.overdue'), 'alert') : null),
    tombstonePanel(record),
    h('div', { class: 'cols' },
      h('div', { class: 'col-main' },
        section(t('record.catalogueData'), dl([
          [t('field.archiveNumber'), mono(record.id)],
          [t('field.type'), t(`type.${record.type}`)],
          [t('field.department'), record.department],
          [t('field.classification'), t(`class.${record.classification}`)],
          [t('field.custodian'), record.custodian],
          [t('field.location'), record.location],
          [t('field.description'), record.description ? h('span', { class: 'pre' }, record.description) : ''],
          ...metadataPairs(record),
          [t('field.createdAt'), `${fmtTime(record.createdAt)} · ${record.createdBy}`],
          [t('field.updatedAt'), fmtTime(record.updatedAt)],
        ]))),
      h('div', { class: 'col-side' }, retentionPanel(record), holdsPanel(record), destroyed ? null : loansPanel(record))),
    sectionWithActions(t('record.versions', { n: record.versions.length }), null,
      status.el,
      versions.length ? h('ol', { class: 'timeline', 'aria-label': t('record.versionsTimeline') },
        versions.map((v) => versionCard(record, v, status, v.number === latest))) : emptyState(t('record.noVersions')),
      record.versions.length >= 2 && session.mayReadContent(record) ? comparePanel(record) : null,
      asOfPanel(record)),
    section(t('record.history'), h('div', { class: 'flush' }, historyTable(history.entries, record))));
}

// ---- loan request -------------------------------------------------------

export async function borrowPage({ params }) {
  const id = params[0];
  const record = await api.get(`/v1/records/${enc(id)}`);
  const status = statusArea();
  const due = new Date(Date.now() + 14 * 86400000);
  due.setHours(17, 0, 0, 0);
  const needsPurpose = record.classification === 'confidential' || record.classification === 'secret';
  const kind = select('kind', [['digital', t('loanKind.digital')], ['physical', t('loanKind.physical')]], 'digital', { id: 'loan-kind' });
  const form = h('form', { class: 'form narrow', id: 'borrow-form' },
    field(t('loan.kind'), kind, { hint: t('borrow.kindHint') }),
    field(t('loan.purpose'), h('textarea', { name: 'purpose', rows: '3', id: 'loan-purpose', required: needsPurpose, maxlength: '2000' }),
      { hint: needsPurpose ? t('borrow.purposeRequired') : t('borrow.purposeOptional') }),
    field(t('loan.due'), h('input', { type: 'datetime-local', name: 'dueAt', required: true, id: 'loan-due', value: isoToLocalInput(due) }), { hint: t('borrow.dueHint') }),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'request-loan' }, t('borrow.submit')),
      linkButton(t('common.cancel'), `#/records/${enc(id)}`, 'ghost')),
    status.el);
  onSubmit(form, status, async (fd) => {
    const loan = await api.post('/v1/loans', {
      recordId: record.id, kind: fd.get('kind'), purpose: String(fd.get('purpose') || ''), dueAt: localInputToIso(fd.get('dueAt')),
    });
    flash(t('borrow.requested', { id: loan.id }));
    navigate(`#/loans/${enc(loan.id)}`);
  });
  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/records' }, t('nav.catalogue')), ' / ', h('a', { href: `#/records/${enc(id)}` }, record.id), ' / ', h('span', null, t('record.borrow'))),
    pageHeader(t('borrow.title'), `${record.id} · ${record.title}`),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' },
      dl([[t('field.department'), record.department], [t('field.classification'), classBadge(record.classification)]], 'facts facts-inline'),
      form)));
}

// ---- editing (archivist) ------------------------------------------------

export async function editRecordPage({ params }) {
  const id = params[0];
  const record = await api.get(`/v1/records/${enc(id)}`);
  const status = statusArea();
  const typeFields = TYPE_FIELDS[record.type] || [];
  const form = h('form', { class: 'form' },
    h('div', { class: 'form-grid' },
      field(t('field.title'), h('input', { name: 'title', value: record.title, required: true, maxlength: '500' }), { class: 'span-2' }),
      field(t('field.classification'), select('classification', CLASSIFICATIONS.map((c) => [c, t(`class.${c}`)]), record.classification)),
      field(t('field.custodian'), h('input', { name: 'custodian', value: record.custodian, required: true, maxlength: '64' })),
      field(t('field.location'), h('input', { name: 'location', value: record.location, maxlength: '200' })),
      field(t('field.description'), h('textarea', { name: 'description', rows: '3', maxlength: '10000' }, record.description), { class: 'span-2' })),
    typeFields.length ? h('fieldset', { class: 'form-grid' }, h('legend', null, t(`type.${record.type}`)),
      typeFields.map(([k, type, required]) => field(t(`meta.${k}`), h('input', { type, name: `meta.${k}`, value: record.metadata[k] || '', required })))) : null,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save')),
      linkButton(t('common.cancel'), `#/records/${enc(id)}`, 'ghost')),
    status.el);
  onSubmit(form, status, async (fd) => {
    const body = {};
    for (const k of ['title', 'classification', 'custodian', 'location', 'description']) {
      const v = String(fd.get(k) ?? '');
      if (v !== (record[k] ?? '')) body[k] = v;
    }
    if (typeFields.length) {
      const meta = {};
      for (const [k] of typeFields) { const v = String(fd.get(`meta.${k}`) || '').trim(); if (v) meta[k] = v; }
      const old = record.metadata || {};
      const same = Object.keys(meta).length === Object.keys(old).length && Object.keys(meta).every((k) => meta[k] === old[k]);
      if (!same) body.metadata = meta;
    }
    await api.patch(`/v1/records/${enc(id)}`, body);
    flash(t('edit.saved'));
    navigate(`#/records/${enc(id)}`);
  });

  const r = record.retention;
  const rStatus = statusArea();
  const rForm = h('form', { class: 'form inline-form' },
    field(t('retention.trigger'), select('trigger', TRIGGERS.map((x) => [x, t(`trigger.${x}`)]), r.trigger)),
    field(t('retention.period'), h('input', { name: 'period', value: r.period, required: true, class: 'short', pattern: 'P(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?' }), { hint: t('retention.periodHint') }),
    field(t('retention.action'), select('action', ACTIONS.map((x) => [x, t(`action.${x}`)]), r.action)),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('retention.setOwn'))));
  onSubmit(rForm, rStatus, async (fd) => {
    const res = await api.put(`/v1/records/${enc(id)}/retention`, { trigger: fd.get('trigger'), period: String(fd.get('period')).trim().toUpperCase(), action: fd.get('action') });
    if (res && res.httpStatus === 202) rStatus.info(t('retention.pendingCreated', { id: res.id }));
    else rStatus.ok(t('retention.applied'));
  });

  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/records' }, t('nav.catalogue')), ' / ', h('a', { href: `#/records/${enc(id)}` }, record.id), ' / ', h('span', null, t('record.edit'))),
    pageHeader(t('edit.title'), `${record.id} · ${record.title}`),
    section(t('record.catalogueData'), form),
    section(t('edit.ownRetention'), h('p', { class: 'hint' }, t('edit.ownRetentionHint')), rForm, rStatus.el));
}
