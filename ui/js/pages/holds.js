// Legal holds: legal places them on records (which then cannot be destroyed
// nor have their retention shortened), adds and removes records, releases.

import { h, pageHeader, section, table, stateBadge, recordLink, fmtTime, fmtTimeShort, field, dl, mono, linkButton } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate, flash, reload } from '../nav.js';
import { statusArea, onSubmit, actionButton, confirmedActionButton } from '../widgets.js';

const enc = encodeURIComponent;

// Archive numbers typed or pasted: separated by spaces, commas or lines.
function parseIds(text) {
  return [...new Set(String(text || '').split(/[\s,;，；]+/).map((s) => s.trim().toUpperCase()).filter(Boolean))];
}

export async function holdsPage() {
  const { holds } = await api.get('/v1/holds');
  const columns = [
    { label: t('holds.id'), cell: (x) => h('a', { href: `#/holds/${enc(x.id)}`, class: 'mono-link' }, x.id), class: 'nowrap' },
    { label: t('holds.name'), cell: (x) => x.name, class: 'wrap' },
    { label: t('holds.caseRef'), cell: (x) => x.caseRef || '—' },
    { label: t('holds.records'), cell: (x) => String(x.recordIds.length), class: 'num' },
    { label: t('field.state'), cell: (x) => stateBadge('holdState', x.state) },
    { label: t('holds.createdAt'), cell: (x) => `${fmtTimeShort(x.createdAt)} · ${x.createdBy}`, class: 'small nowrap' },
  ];
  let create = null;
  if (session.can('editHolds')) {
    const status = statusArea();
    const form = h('form', { class: 'form' },
      h('div', { class: 'form-grid' },
        field(t('holds.name'), h('input', { name: 'name', required: true, maxlength: '200', id: 'hold-name' })),
        field(t('holds.caseRef'), h('input', { name: 'caseRef', maxlength: '200' })),
        field(t('holds.reason'), h('textarea', { name: 'reason', rows: '2', required: true, maxlength: '2000' }), { class: 'span-2' }),
        field(t('holds.recordIds'), h('textarea', { name: 'recordIds', rows: '3', id: 'hold-records', placeholder: 'CT-2026-000001\nCT-2026-000002' }), { class: 'span-2', hint: t('holds.recordIdsHint') })),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-hold' }, t('holds.create'))),
      status.el);
    onSubmit(form, status, async (fd) => {
      const body = { name: String(fd.get('name')).trim(), reason: String(fd.get('reason')).trim() };
      const caseRef = String(fd.get('caseRef') || '').trim();
      if (caseRef) body.caseRef = caseRef;
      const ids = parseIds(fd.get('recordIds'));
      if (ids.length) body.recordIds = ids;
      const hold = await api.post('/v1/holds', body);
      flash(t('holds.placed', { name: hold.name, id: hold.id, n: hold.recordIds.length }));
      navigate(`#/holds/${enc(hold.id)}`);
    });
    create = section(t('holds.new'), form);
  }
  return h('div', null,
    pageHeader(t('holds.title'), t('holds.subtitle')),
    section(t('holds.list'), h('div', { class: 'flush' }, table(columns, [...holds].reverse(), t('holds.empty')))),
    create);
}

export async function holdPage({ params }) {
  const hold = await api.get(`/v1/holds/${enc(params[0])}`);
  const status = statusArea();
  const editable = session.can('editHolds') && hold.state === 'active';
  const columns = [
    { label: t('field.archiveNumber'), cell: (id) => recordLink(id) },
    editable ? {
      label: h('span', { class: 'sr-only' }, t('common.actions')),
      cell: (id) => actionButton(t('holds.remove'), async () => {
        await api.del(`/v1/holds/${enc(hold.id)}/records/${enc(id)}`);
        flash(t('holds.removed', { id }), 'info');
        reload();
      }, status, 'link'),
    } : null,
  ].filter(Boolean);
  let add = null;
  if (editable) {
    const form = h('form', { class: 'inline-form' },
      field(t('holds.addRecords'), h('input', { name: 'ids', required: true, placeholder: 'CT-2026-000001, …' }), { class: 'grow' }),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('holds.add'))));
    onSubmit(form, status, async (fd) => {
      await api.post(`/v1/holds/${enc(hold.id)}/records`, { recordIds: parseIds(fd.get('ids')) });
      flash(t('holds.added'));
      reload();
    });
    add = form;
  }
  const actions = editable ? [confirmedActionButton(t('holds.release'), {
    title: t('confirm.releaseTitle', { name: hold.name }),
    body: t('confirm.releaseBody', { n: hold.recordIds.length }),
  }, async () => {
    await api.post(`/v1/holds/${enc(hold.id)}/release`);
    flash(t('holds.released', { id: hold.id }), 'info');
    reload();
  }, status, 'danger', { id: 'release-hold' })] : [linkButton(t('common.back'), '#/holds', 'ghost')];
  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/holds' }, t('holds.title')), ' / ', h('span', null, hold.id)),
    pageHeader(hold.name, hold.id, actions),
    status.el,
    section(t('holds.details'), dl([
      [t('field.state'), stateBadge('holdState', hold.state)],
      [t('holds.reason'), h('span', { class: 'pre' }, hold.reason)],
      [t('holds.caseRef'), hold.caseRef],
      [t('holds.createdAt'), `${fmtTime(hold.createdAt)} · ${hold.createdBy}`],
      hold.releasedAt ? [t('holds.releasedAt'), `${fmtTime(hold.releasedAt)} · ${hold.releasedBy}`] : null,
      [t('holds.id'), mono(hold.id)],
    ])),
    section(t('holds.recordsN', { n: hold.recordIds.length }), add, h('div', { class: 'flush' }, table(columns, hold.recordIds, t('holds.noRecords'), { class: 'compact' }))));
}
