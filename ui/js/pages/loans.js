// Loans: my loans, the approvals inbox of an approver, the archivist's desk
// for handing paper originals out and taking them back, overdue originals,
// every loan and the borrowing register; and one loan with its events.

import {
  h, pageHeader, table, badge, stateBadge, classBadge, mono, fmtTime, fmtTimeShort, fmtBytes, field, select,
  loanLink, recordLink, dl, section, sectionWithActions, localInputToIso, isoToLocalInput, notice,
} from '../dom.js';
import { t, eventLabel, errorText } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash, reload } from '../nav.js';
import { statusArea, onSubmit, actionButton, confirmedActionButton } from '../widgets.js';
import { LOAN_STATES } from '../model.js';
import { previewPages, thumbnail, pageViewer, textViewer, downloadFile } from '../preview.js';

const enc = encodeURIComponent;

function views() {
  const v = [['mine', t('nav.myLoans')]];
  if (session.can('approveLoans')) v.push(['inbox', t('nav.inbox')]);
  if (session.can('desk')) v.push(['desk', t('nav.desk')]);
  if (session.can('allLoans') || session.can('approveLoans')) v.push(['overdue', t('loans.overdue')]);
  if (session.can('allLoans')) v.push(['all', t('nav.allLoans')]);
  return v;
}

function dueCell(l) {
  return h('span', { class: 'nowrap' }, fmtTimeShort(l.dueAt), l.overdue ? [' ', badge(t('loan.overdue'), 'alert')] : null,
    l.renewal ? [' ', badge(t('loan.renewalPending'), 'info', t('loan.renewalTo', { due: fmtTimeShort(l.renewal.dueAt) }))] : null);
}

function baseColumns() {
  return [
    { label: t('loan.id'), cell: (l) => loanLink(l.id), class: 'nowrap' },
    { label: t('loan.record'), cell: (l) => h('div', null, recordLink(l.recordId), h('div', { class: 'small wrap' }, l.recordTitle)), class: 'wrap' },
    { label: t('loan.kind'), cell: (l) => t(`loanKind.${l.kind}`), class: 'nowrap' },
    { label: t('loan.state'), cell: (l) => stateBadge('loanState', l.state) },
    { label: t('loan.borrower'), cell: (l) => l.borrower },
    { label: t('loan.requestedAt'), cell: (l) => fmtTimeShort(l.requestedAt), class: 'nowrap' },
    { label: t('loan.due'), cell: dueCell },
  ];
}

function tabs(current) {
  if (views().length < 2) return null;
  return h('nav', { class: 'tabs', 'aria-label': t('loans.views') },
    views().map(([key, label]) => h('a', {
      href: `#/loans?view=${key}`, class: key === current ? 'tab active' : 'tab', 'aria-current': key === current ? 'page' : null,
    }, label)));
}

async function mineView(user) {
  const status = statusArea();
  const { loans } = await api.get('/v1/loans', { mine: 'true' });
  const columns = [...baseColumns(), {
    label: h('span', { class: 'sr-only' }, t('common.actions')),
    cell: (l) => (l.kind === 'digital' && l.state === 'checked_out' && l.borrower === user.username
      ? actionButton(t('loan.return'), async () => { await api.post(`/v1/loans/${enc(l.id)}/return`); flash(t('loan.returned', { id: l.id })); reload(); }, status)
      : null),
  }];
  return section(t('nav.myLoans'), status.el,
    h('div', { class: 'flush' }, table(columns, loans, t('loans.noneMine'), { label: t('nav.myLoans') })),
    h('p', { class: 'hint' }, t('loans.mineHint')));
}

// The approvals inbox: what waits for this approver, each row with its
// own reason (sent with that row's approval or rejection and kept in the
// log), a checkbox per row, "select all" and "approve selected". A bulk
// approval approves the ticked rows one after the other, each with its
// row's reason, and shows each row's result in that row; rejections are
// per row, each confirmed.
async function inboxView(user) {
  const status = statusArea();
  const { loans } = await api.get('/v1/loans');
  const waiting = loans.filter((l) => l.borrower !== user.username
    && (l.state === 'requested' || (l.renewal && ['approved', 'checked_out'].includes(l.state)))
    && !(l.renewal ? l.renewal.approvals : l.approvals).some((a) => a.by === user.username));
  const rows = new Map(waiting.map((l) => [l.id, inboxRow(l)]));
  const selectAll = h('input', { type: 'checkbox', id: 'inbox-select-all', class: 'pick-all' });
  const approveSelected = h('button', { type: 'button', class: 'btn btn-primary', id: 'approve-selected', disabled: true }, t('loans.approveSelected'));
  const pending = () => [...rows.values()].filter((r) => !r.done);
  const sync = () => {
    const open = pending();
    const ticked = open.filter((r) => r.pick.checked).length;
    selectAll.checked = open.length > 0 && ticked === open.length;
    selectAll.indeterminate = ticked > 0 && ticked < open.length;
    approveSelected.disabled = ticked === 0;
  };
  selectAll.addEventListener('change', () => { pending().forEach((r) => { r.pick.checked = selectAll.checked; }); sync(); });
  rows.forEach((r) => r.pick.addEventListener('change', sync));
  approveSelected.addEventListener('click', async () => {
    const chosen = pending().filter((r) => r.pick.checked);
    if (chosen.length === 0) { status.warn(t('loans.noneSelected')); return; }
    approveSelected.disabled = true;
    status.clear();
    let ok = 0;
    for (const r of chosen) {
      if (await r.approve()) ok += 1;
    }
    const failed = chosen.length - ok;
    if (failed) status.warn(t('loans.bulkDone', { ok, failed }));
    else status.ok(t('loans.bulkDone', { ok, failed }));
    sync();
  });

  const columns = [
    {
      label: h('span', null, selectAll, h('label', { for: 'inbox-select-all', class: 'sr-only' }, t('loans.selectAll'))),
      dataLabel: t('loans.select'),
      cell: (l) => h('span', null, rows.get(l.id).pick, h('label', { for: rows.get(l.id).pick.id, class: 'sr-only' }, t('loans.selectRow', { id: l.id }))),
      class: 'pick',
    },
    // The request time is left out: the due date and the purpose decide.
    ...baseColumns().filter((c) => c.label !== t('loan.requestedAt')),
    { label: t('loan.purpose'), cell: (l) => h('span', { class: 'wrap small' }, l.purpose || '—'), class: 'wrap' },
    { label: t('loan.approvals'), cell: (l) => `${(l.renewal ? l.renewal.approvals : l.approvals).length}/${l.approvalsNeeded}`, class: 'num' },
    {
      label: t('loans.reasonAndDecision'),
      cell: (l) => h('div', { class: 'decide' }, rows.get(l.id).reason, rows.get(l.id).actions, rows.get(l.id).result),
      class: 'decide-cell',
    }];
  return section(t('nav.inbox'),
    h('p', { class: 'hint' }, t('loans.inboxHint', { dept: user.department })),
    waiting.length ? h('div', { class: 'bulk-bar' }, approveSelected, h('span', { class: 'hint' }, t('loans.reasonHint'))) : null,
    status.el,
    h('div', { class: 'flush' }, table(columns, waiting, t('loans.inboxEmpty'), {
      label: t('nav.inbox'), class: 'inbox-table', rowData: (l) => ({ loan: l.id }),
    })));
}

// One row of the inbox: its checkbox, reason, buttons and result. approve()
// resolves true when the loan was approved; the result stays in the row.
function inboxRow(l) {
  const row = { done: false };
  row.pick = h('input', { type: 'checkbox', id: `pick-${l.id}`, class: 'pick-row', dataset: { loan: l.id } });
  row.reason = h('input', {
    type: 'text', name: 'reason', maxlength: '2000', class: 'row-reason', dataset: { loan: l.id },
    'aria-label': t('loans.reasonFor', { id: l.id }),
  });
  row.result = h('div', { class: 'row-result', dataset: { loan: l.id }, 'aria-live': 'polite' });
  const rowStatus = {
    error(err) { row.result.className = 'row-result row-result-error'; row.result.textContent = errorText(err); },
    clear() { row.result.className = 'row-result'; row.result.textContent = ''; },
  };
  const body = () => {
    const r = row.reason.value.trim();
    return r ? { reason: r } : {};
  };
  const finish = (text) => {
    row.done = true;
    row.pick.checked = false;
    row.pick.disabled = true;
    row.reason.disabled = true;
    row.actions.replaceChildren();  // decided: nothing more to do in this row
    row.result.className = 'row-result row-result-ok';
    row.result.textContent = text;
  };
  row.approve = async () => {
    rowStatus.clear();
    try {
      const after = await api.post(`/v1/loans/${enc(l.id)}/approve`, body());
      finish(t('loans.rowApproved', { state: t(`loanState.${after.state}`) }));
      return true;
    } catch (err) {
      rowStatus.error(err);
      return false;
    }
  };
  row.actions = h('div', { class: 'row-actions' },
    actionButton(t('loan.approve'), async () => {
      const after = await api.post(`/v1/loans/${enc(l.id)}/approve`, body());
      flash(t('loan.approved', { id: l.id, state: t(`loanState.${after.state}`) }));
      reload();
    }, rowStatus, 'primary', { dataset: { action: 'approve', loan: l.id } }),
    confirmedActionButton(t('loan.reject'), () => (l.renewal
      ? { title: t('confirm.rejectRenewalTitle', { id: l.id }), body: t('confirm.rejectRenewalBody') }
      : { title: t('confirm.rejectLoanTitle', { id: l.id }), body: t('confirm.rejectLoanBody') }), async () => {
      await api.post(`/v1/loans/${enc(l.id)}/reject`, body());
      finish(t('loans.rowRejected'));
    }, rowStatus, 'danger', { dataset: { action: 'reject', loan: l.id } }));
  return row;
}

async function deskView() {
  const status = statusArea();
  const [approved, out] = await Promise.all([
    api.get('/v1/loans', { state: 'approved' }),
    api.get('/v1/loans', { state: 'checked_out' }),
  ]);
  const toHandOut = approved.loans.filter((l) => l.kind === 'physical');
  const outside = out.loans.filter((l) => l.kind === 'physical');
  const handCols = [...baseColumns(), {
    label: h('span', { class: 'sr-only' }, t('common.actions')),
    cell: (l) => actionButton(t('loan.handOut'), async () => {
      await api.post(`/v1/loans/${enc(l.id)}/checkout`);
      flash(t('loan.handedOut', { id: l.id, who: l.borrower }));
      reload();
    }, status, 'primary', { dataset: { action: 'checkout', loan: l.id } }),
  }];
  const backCols = [...baseColumns(), {
    label: h('span', { class: 'sr-only' }, t('common.actions')),
    cell: (l) => actionButton(t('loan.takeBack'), async () => {
      await api.post(`/v1/loans/${enc(l.id)}/return`);
      flash(t('loan.takenBack', { id: l.id }));
      reload();
    }, status, 'secondary', { dataset: { action: 'return', loan: l.id } }),
  }];
  return h('div', null, status.el,
    section(t('loans.toHandOut'), h('div', { class: 'flush' }, table(handCols, toHandOut, t('loans.noneToHandOut')))),
    section(t('loans.outside'), h('div', { class: 'flush' }, table(backCols, outside, t('loans.noneOutside'), { rowClass: (l) => (l.overdue ? 'row-alert' : null) }))));
}

async function overdueView() {
  const { loans } = await api.get('/v1/loans', { overdue: 'true' });
  return section(t('loans.overdue'), h('p', { class: 'hint' }, t('loans.overdueHint')),
    h('div', { class: 'flush' }, table(baseColumns(), loans, t('loans.noneOverdue'), { rowClass: () => 'row-alert' })));
}

async function allView(query) {
  const { loans } = await api.get('/v1/loans', { state: query.state || '' });
  const filter = h('form', { class: 'inline-form' },
    field(t('loan.state'), select('state', [['', t('common.any')], ...LOAN_STATES.map((s) => [s, t(`loanState.${s}`)])], query.state || '', { id: 'loan-state-filter' })));
  filter.querySelector('select').addEventListener('change', (e) => navigate(`#/loans?view=all${e.target.value ? `&state=${enc(e.target.value)}` : ''}`));
  filter.addEventListener('submit', (e) => e.preventDefault());
  const regStatus = statusArea();
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const register = h('form', { class: 'inline-form' },
    field(t('loans.registerFrom'), from), field(t('loans.registerTo'), to),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('loans.registerCsv'))));
  onSubmit(register, regStatus, async (fd) => {
    const q = { format: 'csv' };
    if (fd.get('from')) q.from = new Date(`${fd.get('from')}T00:00:00`).toISOString();
    if (fd.get('to')) q.to = new Date(`${fd.get('to')}T23:59:59.999`).toISOString();
    await api.download('/v1/loans/register', 'loan-register.csv', { query: q });
    regStatus.ok(t('loans.registerSaved'));
  });
  return h('div', null,
    sectionWithActions(t('nav.allLoans'), filter, h('div', { class: 'flush' }, table(baseColumns(), loans, t('loans.noneAll')))),
    session.can('register') ? section(t('loans.register'), h('p', { class: 'hint' }, t('loans.registerHint')), register, regStatus.el) : null);
}

export async function loansPage({ query, user }) {
  const allowed = views().map(([k]) => k);
  const view = allowed.includes(query.view) ? query.view : 'mine';
  let body;
  if (view === 'inbox') body = await inboxView(user);
  else if (view === 'desk') body = await deskView();
  else if (view === 'overdue') body = await overdueView();
  else if (view === 'all') body = await allView(query);
  else body = await mineView(user);
  return h('div', null, pageHeader(t('loans.title'), t('loans.subtitle')), tabs(view), body);
}

// ---- one loan -----------------------------------------------------------

function loanActions(loan, user, status) {
  const me = user.username;
  const mine = loan.borrower === me;
  const out = [];
  const pendingApprovals = loan.renewal ? loan.renewal.approvals : loan.approvals;
  const decidable = loan.state === 'requested' || (loan.renewal && ['approved', 'checked_out'].includes(loan.state));
  if (session.can('approveLoans') && !mine && decidable && !pendingApprovals.some((a) => a.by === me)) {
    out.push(actionButton(loan.renewal ? t('loan.approveRenewal') : t('loan.approve'), async () => {
      await api.post(`/v1/loans/${enc(loan.id)}/approve`); flash(t('loan.approvedShort')); reload();
    }, status, 'primary', { dataset: { action: 'approve', loan: loan.id } }));
    out.push(confirmedActionButton(loan.renewal ? t('loan.rejectRenewal') : t('loan.reject'), loan.renewal
      ? { title: t('confirm.rejectRenewalTitle', { id: loan.id }), body: t('confirm.rejectRenewalBody') }
      : { title: t('confirm.rejectLoanTitle', { id: loan.id }), body: t('confirm.rejectLoanBody') }, async () => {
      await api.post(`/v1/loans/${enc(loan.id)}/reject`, {}); flash(t('loan.rejectedShort'), 'info'); reload();
    }, status, 'danger'));
  }
  if (session.can('desk') && loan.kind === 'physical' && loan.state === 'approved') {
    out.push(actionButton(t('loan.handOut'), async () => {
      await api.post(`/v1/loans/${enc(loan.id)}/checkout`); flash(t('loan.handedOut', { id: loan.id, who: loan.borrower })); reload();
    }, status, 'primary'));
  }
  if (loan.state === 'checked_out' && ((loan.kind === 'digital' && (mine || session.can('desk'))) || (loan.kind === 'physical' && session.can('desk')))) {
    out.push(actionButton(loan.kind === 'physical' ? t('loan.takeBack') : t('loan.return'), async () => {
      await api.post(`/v1/loans/${enc(loan.id)}/return`); flash(t('loan.returned', { id: loan.id })); reload();
    }, status, 'secondary', { dataset: { action: 'return', loan: loan.id } }));
  }
  const revocable = ['requested', 'approved'].includes(loan.state) || (loan.state === 'checked_out' && loan.kind === 'digital');
  if (session.can('revokeLoans') && revocable) {
    out.push(actionButton(t('loan.revoke'), async () => {
      await api.post(`/v1/loans/${enc(loan.id)}/revoke`, {}); flash(t('loan.revoked'), 'info'); reload();
    }, status, 'danger'));
  }
  return out;
}

function renewForm(loan, status) {
  const next = new Date(new Date(loan.dueAt).getTime() + 14 * 86400000);
  const form = h('form', { class: 'inline-form' },
    field(t('loan.newDue'), h('input', { type: 'datetime-local', name: 'dueAt', required: true, value: isoToLocalInput(next) })),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('loan.renew'))));
  onSubmit(form, status, async (fd) => {
    await api.post(`/v1/loans/${enc(loan.id)}/renew`, { dueAt: localInputToIso(fd.get('dueAt')) });
    flash(t('loan.renewRequested'));
    reload();
  });
  return form;
}

// The record's files on the page of a checked-out digital loan: download
// (a copy stamped for this loan when the record's classification asks for
// one: the answer says X-Custos-Copy: stamped), page previews and the
// extracted text, for the current version (docs/ui.md "Loan page").
async function loanFiles(loan) {
  const record = await api.get(`/v1/records/${enc(loan.recordId)}`);
  const v = record.versions[record.versions.length - 1];
  if (!v || record.tombstone) return section(t('loan.files'), h('p', { class: 'muted' }, t('record.contentDestroyed')));
  const status = statusArea();
  const area = h('div', { class: 'viewer-area' });
  const closeArea = (opener) => () => { while (area.firstChild) area.firstChild.remove(); if (opener && opener.isConnected) opener.focus(); };
  const openPages = (f) => {
    const opener = document.activeElement;
    const viewer = pageViewer(record.id, v.number, f, { onClose: closeArea(opener) });
    area.replaceChildren(viewer);
    viewer.focus();
  };
  const openText = async (f) => {
    const opener = document.activeElement;
    const viewer = await textViewer(record.id, v.number, f, { onClose: closeArea(opener) });
    area.replaceChildren(viewer);
    viewer.focus();
  };
  const columns = [
    {
      label: h('span', { class: 'sr-only' }, t('record.thumbColumn')),
      cell: (f) => (previewPages(f) ? thumbnail(record.id, v.number, f, { onOpen: () => openPages(f) }) : null),
      class: 'thumb-col',
    },
    { label: t('record.fileName'), cell: (f) => h('span', { class: 'file-name' }, f.name), class: 'wrap' },
    { label: t('record.fileSize'), cell: (f) => fmtBytes(f.size), class: 'num nowrap' },
    {
      label: h('span', { class: 'sr-only' }, t('common.actions')),
      cell: (f) => (f.destroyed ? badge(t('record.contentDestroyed'), 'dark') : h('div', { class: 'file-actions' },
        actionButton(t('record.download'), async () => {
          const info = await downloadFile(record.id, v.number, f);
          if (info.stamped) status.warn(info.message);
          else status.ok(info.message);
        }, status, 'primary', { dataset: { action: 'download', file: f.name }, 'aria-label': t('record.downloadNamed', { name: f.name }) }),
        previewPages(f) ? actionButton(t('record.preview'), () => openPages(f), status, 'secondary',
          { dataset: { action: 'preview', file: f.name }, 'aria-label': t('record.previewNamed', { name: f.name }) }) : null,
        actionButton(t('record.showText'), () => openText(f), status, 'secondary',
          { dataset: { action: 'show-text', file: f.name }, 'aria-label': t('record.showTextNamed', { name: f.name }) }))),
      class: 'nowrap',
    },
  ];
  return section(t('loan.files'),
    h('p', { class: 'hint' }, t('loan.filesHint', { n: v.number })),
    h('div', { class: 'flush' }, table(columns, v.files, t('record.noFiles'), { class: 'compact', label: t('loan.files') })),
    status.el,
    area);
}

export async function loanPage({ params, user }) {
  const loan = await api.get(`/v1/loans/${enc(params[0])}`);
  const status = statusArea();
  const actions = loanActions(loan, user, status);
  const canRenew = loan.borrower === user.username && ['approved', 'checked_out'].includes(loan.state) && !loan.renewal;
  const readable = loan.kind === 'digital' && loan.state === 'checked_out' && loan.borrower === user.username;
  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/loans?view=mine' }, t('loans.title')), ' / ', h('span', null, loan.id)),
    pageHeader(`${loan.id}`, `${loan.recordId} · ${loan.recordTitle}`, actions),
    status.el,
    readable ? notice(t('loan.readNow', { due: fmtTime(loan.dueAt) }), 'success') : null,
    readable ? await loanFiles(loan) : null,
    h('div', { class: loan.renewal || canRenew ? 'cols' : 'cols cols-single' },
      h('div', { class: 'col-main' }, section(t('loan.details'), dl([
        [t('loan.state'), h('span', { id: 'loan-state' }, stateBadge('loanState', loan.state), loan.overdue ? [' ', badge(t('loan.overdue'), 'alert')] : null)],
        [t('loan.record'), h('span', null, recordLink(loan.recordId), ' ', loan.recordTitle)],
        [t('loan.kind'), t(`loanKind.${loan.kind}`)],
        [t('field.department'), loan.department],
        [t('field.classification'), classBadge(loan.classification)],
        [t('loan.borrower'), loan.borrower],
        [t('loan.purpose'), loan.purpose ? h('span', { class: 'pre' }, loan.purpose) : ''],
        [t('loan.requestedAt'), fmtTime(loan.requestedAt)],
        [t('loan.due'), h('span', null, fmtTime(loan.dueAt), loan.renewals ? ` · ${t('loan.renewedTimes', { n: loan.renewals })}` : '')],
        [t('loan.approvals'), `${loan.approvals.length} · ${t('loan.needed', { n: loan.approvalsNeeded })}`],
        loan.checkedOutAt ? [t('loan.checkedOutAt'), `${fmtTime(loan.checkedOutAt)} · ${loan.checkedOutBy}`] : null,
        loan.returnedAt ? [t('loan.returnedAt'), `${fmtTime(loan.returnedAt)} · ${loan.returnedBy}`] : null,
        loan.closedAt ? [t('loan.closedAt'), fmtTime(loan.closedAt)] : null,
        loan.reason ? [t('loan.reason'), loan.reason] : null,
      ]))),
      h('div', { class: 'col-side' },
        loan.renewal ? section(t('loan.renewalPending'), dl([
          [t('loan.newDue'), fmtTime(loan.renewal.dueAt)],
          [t('loan.requestedAt'), fmtTime(loan.renewal.requestedAt)],
          [t('loan.approvals'), `${loan.renewal.approvals.length}/${loan.approvalsNeeded}`],
        ])) : null,
        canRenew ? section(t('loan.renewTitle'), h('p', { class: 'hint' }, t('loan.renewHint')), renewForm(loan, status)) : null)),
    section(t('loan.events'), h('div', { class: 'flush' }, table([
      { label: t('record.logIndex'), cell: (e) => mono(String(e.logIndex)), class: 'num' },
      { label: t('hist.time'), cell: (e) => fmtTime(e.at), class: 'nowrap' },
      { label: t('hist.action'), cell: (e) => eventLabel(e.action) },
      { label: t('hist.actor'), cell: (e) => e.by },
    ], loan.events, t('common.none'), { class: 'compact' }))));
}
