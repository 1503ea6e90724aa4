// Retention schedules per record type (archivists change them; a shortening
// waits for legal), the retention changes, and the disposition queue from
// which archivists propose destruction batches.

import {
  h, pageHeader, section, table, badge, stateBadge, classBadge, recordLink, fmtTimeShort, fmtDate,
  fmtRule, field, select, mono, button, clear, uid,
} from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash, reload } from '../nav.js';
import { statusArea, onSubmit, actionButton, confirmedActionButton } from '../widgets.js';
import { TRIGGERS, ACTIONS } from '../model.js';

const enc = encodeURIComponent;


function editRow(s, status, colspan) {
  const form = h('form', { class: 'inline-form' },
    field(t('retention.trigger'), select('trigger', TRIGGERS.map((x) => [x, t(`trigger.${x}`)]), s.trigger)),
    field(t('retention.period'), h('input', { name: 'period', value: s.period, required: true, class: 'short' }), { hint: t('retention.periodHint') }),
    field(t('retention.action'), select('action', ACTIONS.map((x) => [x, t(`action.${x}`)]), s.action)),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'))));
  onSubmit(form, status, async (fd) => {
    const res = await api.put(`/v1/retention/schedules/${enc(s.type)}`, {
      trigger: fd.get('trigger'), period: String(fd.get('period')).trim().toUpperCase(), action: fd.get('action'),
    });
    if (res && res.httpStatus === 202) flash(t('retention.pendingCreated', { id: res.id }), 'info');
    else flash(t('retention.applied'));
    reload();
  });
  return h('tr', { class: 'edit-row' }, h('td', { colspan: String(colspan) }, form));
}

function schedulesPanel(schedules) {
  const status = statusArea();
  const canEdit = session.can('editRetention');
  const tbody = h('tbody');
  const colspan = canEdit ? 6 : 5;
  function draw(editing) {
    clear(tbody);
    for (const s of schedules) {
      tbody.appendChild(h('tr', null,
        h('td', null, h('strong', null, t(`type.${s.type}`))),
        h('td', null, fmtRule(s)),
        h('td', null, mono(s.period)),
        h('td', null, s.isDefault ? badge(t('retention.default'), 'neutral') : badge(t('retention.changed'), 'info')),
        h('td', { class: 'small' }, s.updatedAt ? `${fmtTimeShort(s.updatedAt)} · ${s.updatedBy}` : '—'),
        canEdit ? h('td', null, button(editing === s.type ? t('common.cancel') : t('retention.change'), () => draw(editing === s.type ? null : s.type), 'link')) : null));
      if (editing === s.type) tbody.appendChild(editRow(s, status, colspan));
    }
  }
  draw(null);
  return section(t('retention.schedules'),
    h('p', { class: 'hint' }, t('retention.schedulesHint')),
    status.el,
    h('div', { class: 'table-wrap flush' }, h('table', { class: 'grid' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('field.type')), h('th', { scope: 'col' }, t('retention.rule')), h('th', { scope: 'col' }, t('retention.period')),
        h('th', { scope: 'col' }, t('retention.origin')), h('th', { scope: 'col' }, t('retention.updated')),
        canEdit ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))) : null)),
      tbody)));
}

function changesPanel(changes, user) {
  const status = statusArea();
  const canDecide = session.can('decideRetention');
  const columns = [
    { label: t('retention.changeId'), cell: (c) => mono(c.id), class: 'nowrap' },
    { label: t('retention.target'), cell: (c) => (c.scope === 'record' ? recordLink(c.target) : t(`type.${c.target}`, {}, c.target)) },
    { label: t('retention.from'), cell: (c) => fmtRule(c.from), class: 'wrap' },
    { label: t('retention.to'), cell: (c) => fmtRule(c.to), class: 'wrap' },
    { label: t('retention.requested'), cell: (c) => `${fmtTimeShort(c.requestedAt)} · ${c.requestedBy}`, class: 'small' },
    { label: t('field.state'), cell: (c) => h('span', null, stateBadge('changeState', c.state), c.decidedBy ? h('div', { class: 'small muted' }, `${c.decidedBy} · ${fmtTimeShort(c.decidedAt)}`) : null, c.reason ? h('div', { class: 'small' }, c.reason) : null) },
    canDecide ? {
      label: h('span', { class: 'sr-only' }, t('common.actions')),
      cell: (c) => (c.state === 'pending' && c.requestedBy !== user.username ? h('div', { class: 'row-actions' },
        actionButton(t('common.approve'), async () => { await api.post(`/v1/retention/changes/${enc(c.id)}/approve`); flash(t('retention.changeApproved', { id: c.id })); reload(); }, status, 'primary'),
        confirmedActionButton(t('common.reject'), { title: t('confirm.rejectChangeTitle', { id: c.id }), body: t('confirm.rejectChangeBody') }, async () => { await api.post(`/v1/retention/changes/${enc(c.id)}/reject`, {}); flash(t('retention.changeRejected', { id: c.id }), 'info'); reload(); }, status, 'danger')) : null),
    } : null,
  ].filter(Boolean);
  return section(t('retention.changes'), h('p', { class: 'hint' }, t('retention.changesHint')), status.el,
    h('div', { class: 'flush' }, table(columns, [...changes].reverse(), t('retention.noChanges'))));
}

export async function retentionPage({ user }) {
  const [{ schedules }, { changes }] = await Promise.all([
    api.get('/v1/retention/schedules'),
    api.get('/v1/retention/changes'),
  ]);
  return h('div', null,
    pageHeader(t('retention.title'), t('retention.subtitle')),
    schedulesPanel(schedules),
    changesPanel(changes, user));
}

// ---- disposition queue -------------------------------------------------

export async function dispositionPage() {
  const { records } = await api.get('/v1/disposition/due');
  const status = statusArea();
  const canPropose = session.can('proposeDestruction');
  const chosen = new Set();
  const columns = [
    canPropose ? {
      label: h('span', { class: 'sr-only' }, t('disposition.select')),
      cell: (r) => {
        if (r.retention.action !== 'destroy') return null;
        const id = uid('pick');
        const cb = h('input', { type: 'checkbox', id, value: r.id, dataset: { record: r.id } });
        cb.addEventListener('change', () => { if (cb.checked) chosen.add(r.id); else chosen.delete(r.id); });
        return h('span', null, cb, h('label', { for: id, class: 'sr-only' }, t('disposition.selectNamed', { id: r.id })));
      },
    } : null,
    { label: t('field.archiveNumber'), cell: (r) => recordLink(r.id), class: 'nowrap' },
    { label: t('field.title'), cell: (r) => r.title, class: 'wrap' },
    { label: t('field.type'), cell: (r) => t(`type.${r.type}`) },
    { label: t('field.department'), cell: (r) => r.department },
    { label: t('field.classification'), cell: (r) => classBadge(r.classification) },
    { label: t('retention.rule'), cell: (r) => fmtRule(r.retention), class: 'wrap small' },
    { label: t('retention.dispositionDate'), cell: (r) => h('strong', null, fmtDate(r.retention.dispositionDate)), class: 'nowrap' },
    { label: t('retention.action'), cell: (r) => badge(t(`action.${r.retention.action}`), r.retention.action === 'destroy' ? 'alert' : 'warn') },
  ].filter(Boolean);

  const reason = h('input', { name: 'reason', maxlength: '2000', id: 'destruction-reason' });
  const form = h('form', { class: 'inline-form' },
    field(t('destr.reason'), reason, { class: 'grow' }),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-danger', id: 'propose-destruction' }, t('disposition.propose'))));
  onSubmit(form, status, async (fd) => {
    if (chosen.size === 0) throw new Error(t('disposition.noneChosen'));
    const batch = await api.post('/v1/destructions', { recordIds: [...chosen], reason: String(fd.get('reason') || '') });
    flash(t('disposition.proposed', { id: batch.id, n: batch.records.length }));
    navigate(`#/destructions/${enc(batch.id)}`);
  });

  return h('div', null,
    pageHeader(t('disposition.title'), t('disposition.subtitle')),
    section(t('disposition.due', { n: records.length }),
      h('p', { class: 'hint' }, t('disposition.hint')),
      h('div', { class: 'flush' }, table(columns, records, t('disposition.empty'))),
      canPropose && records.some((r) => r.retention.action === 'destroy') ? h('div', { class: 'panel-foot' }, form, status.el) : null));
}
