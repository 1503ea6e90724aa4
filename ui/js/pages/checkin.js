// Check-in of a new record with several files (each with an optional
// detached signature), and new versions of an existing record. Uploads go
// through XMLHttpRequest so that large files show their progress.

import { h, field, select, pageHeader, section, linkButton, fmtBytes, clear, progressBar, dl, hash } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import { navigate, flash } from '../nav.js';
import { statusArea, onSubmit, fileList } from '../widgets.js';
import { TYPES, CLASSIFICATIONS, TYPE_FIELDS, NEW_VERSION_KINDS, departments } from '../model.js';

const enc = encodeURIComponent;

// Sends the multipart body (metadata first, then file/signature parts) and
// drives the progress bar from upload events.
async function sendUpload(path, metadata, files, progress) {
  const fd = new FormData();
  fd.append('metadata', new Blob([JSON.stringify(metadata)], { type: 'application/json' }), 'metadata.json');
  files.appendTo(fd);
  const total = files.totalBytes();
  progress.el.hidden = false;
  progress.set(0, t('checkin.uploading', { done: fmtBytes(0), total: fmtBytes(total) }));
  const started = performance.now();
  let result;
  try {
    result = await api.upload(path, fd, (loaded, all) => {
      const whole = all || total || 1;
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0.5 ? ` · ${fmtBytes(loaded / secs)}/s` : '';
      if (loaded >= whole) progress.set(null, t('checkin.storing'));
      else progress.set(loaded / whole, `${t('checkin.uploading', { done: fmtBytes(loaded), total: fmtBytes(whole) })}${rate}`);
    });
  } catch (err) {
    // Never leave "storing…" behind a refusal: the bar says it failed; the
    // form's status area says why and marks the field the error names.
    progress.fail(t('checkin.failed'));
    throw err;
  }
  progress.set(1, t('checkin.done'));
  return result;
}

function typeFieldset(type, holder) {
  clear(holder);
  const fields = TYPE_FIELDS[type] || [];
  if (fields.length === 0) {
    holder.appendChild(h('p', { class: 'hint' }, t('checkin.noTypeFields')));
    return;
  }
  holder.appendChild(h('div', { class: 'form-grid' },
    fields.map(([k, inputType, required]) => field(t(`meta.${k}`),
      h('input', { type: inputType, name: `meta.${k}`, required, id: `meta-${k}`, maxlength: '1000', placeholder: k === 'currency' ? 'CNY' : (k === 'amount' ? '1250000.00' : null) })))));
}

export async function checkInPage({ user }) {
  const depts = await departments();
  const status = statusArea();
  const files = fileList({ inputId: 'checkin-files' });
  const progress = progressBar();
  progress.el.hidden = true;
  const typeHolder = h('div', { class: 'type-fields' });
  const typeSelect = select('type', TYPES.map((v) => [v, t(`type.${v}`)]), 'contract', { id: 'checkin-type', required: true });
  typeSelect.addEventListener('change', () => typeFieldset(typeSelect.value, typeHolder));
  typeFieldset('contract', typeHolder);

  const form = h('form', { class: 'form', id: 'checkin-form' },
    h('fieldset', null, h('legend', null, t('checkin.catalogue')),
      h('div', { class: 'form-grid' },
        field(t('field.type'), typeSelect),
        field(t('field.classification'), select('classification', CLASSIFICATIONS.map((v) => [v, t(`class.${v}`)]), 'internal', { id: 'checkin-classification' })),
        field(t('field.title'), h('input', { name: 'title', required: true, maxlength: '500', id: 'checkin-title' }), { class: 'span-2' }),
        field(t('field.department'), select('department', depts.map((d) => [d.name, d.name]), depts.some((d) => d.name === user.department) ? user.department : (depts[0] || {}).name, { id: 'checkin-department', required: true })),
        field(t('field.custodian'), h('input', { name: 'custodian', maxlength: '64', placeholder: user.username }), { hint: t('checkin.custodianHint') }),
        field(t('field.location'), h('input', { name: 'location', maxlength: '200', id: 'checkin-location' }), { hint: t('checkin.locationHint') }),
        field(t('field.description'), h('textarea', { name: 'description', rows: '2', maxlength: '10000' }), { class: 'span-2' }))),
    h('fieldset', null, h('legend', null, t('checkin.typeFields')), typeHolder),
    h('fieldset', null, h('legend', null, t('checkin.files')), files.el),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'checkin-submit' }, t('checkin.submit')),
      linkButton(t('common.cancel'), '#/records', 'ghost')),
    progress.el,
    status.el);

  onSubmit(form, status, async (fd) => {
    if (files.items.length === 0) throw new Error(t('err.no_files'));
    const metadata = {
      type: fd.get('type'),
      title: String(fd.get('title')).trim(),
      department: fd.get('department'),
      classification: fd.get('classification'),
    };
    for (const k of ['description', 'custodian', 'location']) {
      const v = String(fd.get(k) || '').trim();
      if (v) metadata[k] = v;
    }
    const meta = {};
    for (const [k] of TYPE_FIELDS[metadata.type] || []) {
      const v = String(fd.get(`meta.${k}`) || '').trim();
      if (v) meta[k] = v;
    }
    if (Object.keys(meta).length) metadata.metadata = meta;
    const record = await sendUpload('/v1/records', metadata, files, progress);
    flash(t('checkin.checkedIn', { id: record.id, n: record.versions[0].files.length }));
    navigate(`#/records/${enc(record.id)}`);
  });

  return h('div', null,
    pageHeader(t('checkin.title'), t('checkin.subtitle')),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' }, form)));
}

export async function newVersionPage({ params }) {
  const id = params[0];
  const record = await api.get(`/v1/records/${enc(id)}`);
  const status = statusArea();
  const files = fileList({ inputId: 'version-files' });
  const progress = progressBar();
  progress.el.hidden = true;
  const last = record.versions[record.versions.length - 1];
  const form = h('form', { class: 'form', id: 'version-form' },
    h('div', { class: 'form-grid' },
      field(t('version.kind'), select('kind', NEW_VERSION_KINDS.map((k) => [k, t(`kind.${k}`)]), 'amendment', { id: 'version-kind' })),
      field(t('version.note'), h('textarea', { name: 'note', rows: '2', maxlength: '10000', id: 'version-note' }), { class: 'span-2' })),
    h('fieldset', null, h('legend', null, t('checkin.files')), files.el),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'version-submit' }, t('version.submit')),
      linkButton(t('common.cancel'), `#/records/${enc(id)}`, 'ghost')),
    progress.el,
    status.el);
  onSubmit(form, status, async (fd) => {
    if (files.items.length === 0) throw new Error(t('err.no_files'));
    const metadata = { kind: fd.get('kind') };
    const note = String(fd.get('note') || '').trim();
    if (note) metadata.note = note;
    const v = await sendUpload(`/v1/records/${enc(id)}/versions`, metadata, files, progress);
    flash(t('version.added', { n: v.number, id: record.id }));
    navigate(`#/records/${enc(id)}`);
  });
  return h('div', null,
    h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') }, h('a', { href: '#/records' }, t('nav.catalogue')), ' / ', h('a', { href: `#/records/${enc(id)}` }, record.id), ' / ', h('span', null, t('record.newVersion'))),
    pageHeader(t('version.title'), `${record.id} · ${record.title}`),
    section(t('version.chain'), dl([
      [t('version.next'), String((last ? last.number : 0) + 1)],
      [t('record.prevManifestHash'), last ? hash(last.manifestHash, true) : '—'],
    ], 'facts facts-inline'), h('p', { class: 'hint' }, t('version.chainHint'))),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' }, form)));
}
