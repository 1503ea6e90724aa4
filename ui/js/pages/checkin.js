// Check-in of a new record with several files (each with an optional
// detached signature), and new versions of an existing record. Files come
// in through a drop zone (drag and drop, or a button that opens the file
// chooser) into a list with a remove button and a signature slot per file.
// The form is checked before anything is sent: required fields, dates,
// amounts and currencies by the server's own rules, each error shown on its
// field; the server's refusals are marked on their field too. Uploads go
// through XMLHttpRequest so that large files show their progress.

import { h, field, select, pageHeader, section, linkButton, fmtBytes, clear, progressBar, dl, hash, uid } from '../dom.js';
import { t, errorText } from '../i18n.js';
import * as api from '../api.js';
import { navigate, flash } from '../nav.js';
import { statusArea, onSubmit, clearFieldErrors, markField } from '../widgets.js';
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

// ---- the files: a drop zone and the list --------------------------------

const SIGNATURE_EXT = /\.(p7s|p7m)$/i;

// The listed file a dropped signature belongs to: "合同.pdf.p7s" or
// "合同.p7s" signs "合同.pdf" when that file is listed without a signature.
function signedFile(items, sig) {
  if (!SIGNATURE_EXT.test(sig.name)) return null;
  const base = sig.name.replace(SIGNATURE_EXT, '');
  const stem = (name) => name.replace(/\.[^.]*$/, '');
  return items.find((it) => !it.signature && it.file.name === base)
    || items.find((it) => !it.signature && stem(it.file.name) === base)
    || null;
}

// The files of a check-in or new version: a drop zone that also opens the
// file chooser (button, Enter or Space), and a list of what will be sent,
// each file with its size and type, a slot for its detached signature
// (.p7s) and a remove button. The list keeps the order in which the parts
// are sent. Returns {el, items, appendTo(fd), totalBytes(), markEmpty()}.
export function fileDrop({ inputId = 'files' } = {}) {
  const items = [];
  const tbody = h('tbody');
  const tableEl = h('table', { class: 'grid compact', hidden: true, 'aria-label': t('checkin.fileListLabel') },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('checkin.fileName')),
      h('th', { scope: 'col', class: 'num' }, t('checkin.fileSize')),
      h('th', { scope: 'col' }, t('checkin.fileType')),
      h('th', { scope: 'col' }, t('checkin.signature')),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
    tbody);
  const summary = h('p', { class: 'hint file-summary', 'aria-live': 'polite' }, t('checkin.noFiles'));
  const hintId = uid('hint');
  const errorId = uid('ferr');
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });

  const picker = h('input', { type: 'file', multiple: true, id: inputId, name: 'files', class: 'sr-only', tabindex: '-1', 'aria-describedby': hintId });
  const choose = h('button', { type: 'button', class: 'btn btn-secondary', id: `${inputId}-choose`, 'aria-describedby': hintId }, t('checkin.chooseFiles'));
  choose.addEventListener('click', () => picker.click());
  const zone = h('div', { class: 'drop-zone', id: `${inputId}-zone`, role: 'group', 'aria-label': t('checkin.dropZone') },
    h('p', { class: 'drop-text' }, t('checkin.dropHere'), ' ', choose),
    h('p', { class: 'hint', id: hintId }, t('checkin.dropHint')),
    h('label', { for: inputId, class: 'sr-only' }, t('checkin.addFiles')),
    picker, error);

  function add(fileListLike) {
    const dropped = [...fileListLike];
    // Files first, then signatures, so that a signature dropped together
    // with its file finds it.
    for (const f of dropped.filter((x) => !SIGNATURE_EXT.test(x.name))) items.push({ file: f, signature: null });
    for (const f of dropped.filter((x) => SIGNATURE_EXT.test(x.name))) {
      const owner = signedFile(items, f);
      if (owner) owner.signature = f;
      else items.push({ file: f, signature: null });
    }
    draw();
  }
  picker.addEventListener('change', () => { add(picker.files); picker.value = ''; });

  let depth = 0;
  zone.addEventListener('dragenter', (e) => { e.preventDefault(); depth += 1; zone.classList.add('is-over'); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; });
  zone.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (depth === 0) zone.classList.remove('is-over'); });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('is-over');
    if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) add(e.dataTransfer.files);
  });

  function signatureCell(item) {
    if (item.signature) {
      return h('span', { class: 'sig-chosen' }, h('span', { class: 'sig-name' }, item.signature.name), ' ',
        h('button', { type: 'button', class: 'btn btn-link', 'aria-label': t('checkin.removeSignatureNamed', { name: item.file.name }), on: { click: () => { item.signature = null; draw(); } } }, t('checkin.removeSignature')));
    }
    const sigId = uid('sig');
    const sigInput = h('input', { type: 'file', id: sigId, accept: '.p7s,.p7m,.pem,.der,application/pkcs7-signature', class: 'sr-only sig-input', tabindex: '-1' });
    sigInput.addEventListener('change', () => { item.signature = sigInput.files[0] || null; draw(); });
    return h('span', { class: 'sig-pick' },
      h('label', { for: sigId, class: 'sr-only' }, t('checkin.signatureFor', { name: item.file.name })),
      sigInput,
      h('button', { type: 'button', class: 'btn btn-link sig-add', 'aria-label': t('checkin.addSignatureNamed', { name: item.file.name }), on: { click: () => sigInput.click() } }, t('checkin.addSignature')));
  }

  function draw() {
    clear(tbody);
    items.forEach((item, i) => {
      tbody.appendChild(h('tr', { dataset: { file: item.file.name } },
        h('td', { class: 'wrap file-name' }, item.file.name),
        h('td', { class: 'num' }, fmtBytes(item.file.size)),
        h('td', null, item.file.type || 'application/octet-stream'),
        h('td', null, signatureCell(item)),
        h('td', null, h('button', {
          type: 'button', class: 'btn btn-link file-remove', 'aria-label': t('checkin.removeFileNamed', { name: item.file.name }),
          on: { click: () => { items.splice(i, 1); draw(); choose.focus(); } },
        }, t('checkin.removeFile')))));
    });
    tableEl.hidden = items.length === 0;
    summary.textContent = items.length === 0
      ? t('checkin.noFiles')
      : t('checkin.filesSummary', { n: items.length, size: fmtBytes(totalBytes()) });
    if (items.length) { error.hidden = true; zone.classList.remove('is-invalid'); }
  }

  function totalBytes() {
    return items.reduce((s, it) => s + it.file.size + (it.signature ? it.signature.size : 0), 0);
  }

  return {
    el: h('div', { class: 'file-list' }, zone, summary, h('div', { class: 'table-wrap' }, tableEl)),
    items,
    // Appends the file (and signature) parts in order.
    appendTo(fd) {
      for (const it of items) {
        fd.append('file', it.file, it.file.name);
        if (it.signature) fd.append('signature', it.signature, it.signature.name);
      }
    },
    totalBytes,
    // "No file chosen", shown in the zone; the chooser gets the focus.
    markEmpty() {
      error.textContent = t('err.no_files');
      error.hidden = false;
      zone.classList.add('is-invalid');
      choose.focus();
    },
  };
}

// ---- checks before the upload -------------------------------------------
// The server's own rules (docs/api.md "Checking in a contract"), so that a
// mistake is shown on its field before a large upload starts; the server
// checks everything again.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const AMOUNT = /^-?[0-9]{1,15}(\.[0-9]{1,4})?$/;
const CURRENCY = /^[A-Z]{3}$/;
// [later, earlier]: the first may not be before the second.
const DATE_ORDER = [['effectiveDate', 'signedDate'], ['endDate', 'signedDate'], ['endDate', 'effectiveDate'], ['validUntil', 'issuedDate']];

function isDate(s) {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

// An error as the API would answer it (code, params), so that errorText
// gives the same words the server's refusal would get.
function fieldError(code, field, rule, extra) {
  return { code, params: { field, rule, ...extra } };
}

// The problem of one type field, or null. `input` is its <input>.
function typeFieldProblem(key, inputType, required, input) {
  const v = String(input.value || '').trim();
  // A date field with only part of a date typed has no value at all: it is
  // unfinished, not empty.
  if (inputType === 'date' && input.validity && input.validity.badInput) {
    return { message: t('checkin.dateIncomplete', { field: t(`meta.${key}`) }), params: { field: key } };
  }
  if (!v) return required ? fieldError('invalid_metadata', key, 'required') : null;
  if (inputType === 'date' && !isDate(v)) return fieldError('invalid_metadata', key, 'date');
  if (key === 'amount' && !AMOUNT.test(v)) return fieldError('invalid_metadata', key, 'decimal');
  if (key === 'currency' && !CURRENCY.test(v)) return fieldError('invalid_metadata', key, 'currency');
  return null;
}

// Every problem of the form: [{control, err}], in the form's order.
function formProblems(form, type) {
  const problems = [];
  const control = (name) => [...form.elements].find((c) => c.name === name);
  const title = control('title');
  if (title && !String(title.value || '').trim()) problems.push({ control: title, err: fieldError('invalid_title', 'title', 'required') });
  const fields = TYPE_FIELDS[type] || [];
  const bad = new Set();
  for (const [key, inputType, required] of fields) {
    const input = control(`meta.${key}`);
    if (!input) continue;
    const err = typeFieldProblem(key, inputType, required, input);
    if (err) { problems.push({ control: input, err }); bad.add(key); }
  }
  for (const [later, earlier] of DATE_ORDER) {
    const a = control(`meta.${later}`);
    const b = control(`meta.${earlier}`);
    if (!a || !b || bad.has(later) || bad.has(earlier) || !a.value || !b.value) continue;
    if (a.value < b.value && !problems.some((p) => p.control === a)) {
      problems.push({ control: a, err: { message: t('checkin.dateOrder', { field: t(`meta.${later}`), other: t(`meta.${earlier}`), date: b.value }), params: { field: later } } });
    }
  }
  return problems;
}

// Marks one control: aria-invalid, and the message under it, linked with
// aria-describedby (the same marks as widgets.js markField, which marks
// one field at a time).
function markControl(control, err) {
  const id = uid('ferr');
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
  control.after(h('p', { class: 'field-error', id }, errorText(err)));
}

function unmarkControl(control) {
  control.removeAttribute('aria-invalid');
  const kept = (control.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.startsWith('ferr-'));
  for (const id of (control.getAttribute('aria-describedby') || '').split(' ')) {
    if (id.startsWith('ferr-')) { const el = document.getElementById(id); if (el) el.remove(); }
  }
  if (kept.length) control.setAttribute('aria-describedby', kept.join(' '));
  else control.removeAttribute('aria-describedby');
}

// Checks the form; marks every field in error and throws the first error
// (for the status area), with the count of the others. Nothing is sent.
function checkForm(form, type, files) {
  clearFieldErrors(form);
  const problems = formProblems(form, type);
  for (const p of problems) markControl(p.control, p.err);
  if (problems.length) {
    problems[0].control.focus();
    const first = errorText(problems[0].err);
    const more = problems.length - 1;
    throw new Error(more ? `${first} ${t('checkin.moreProblems', { n: more, count: more })}` : first);
  }
  if (files.items.length === 0) {
    files.markEmpty();
    throw new Error(t('err.no_files'));
  }
}

// A marked field checked again as it is typed into: its mark goes once it
// is right. Marks come and go only with the submit and with typing, never
// as the focus leaves a field: a message appearing or going then would move
// the button the pointer is pressing.
function checkOnChange(form, typeSelect) {
  form.addEventListener('input', (e) => {
    const c = e.target;
    if (!c || !c.name || !(c.name.startsWith('meta.') || c.name === 'title')) return;
    const problems = formProblems(form, typeSelect.value);
    const fieldsInError = new Set(problems.map((p) => p.control));
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
      if (!fieldsInError.has(el)) unmarkControl(el);
    }
  });
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
  const files = fileDrop({ inputId: 'checkin-files' });
  const progress = progressBar();
  progress.el.hidden = true;
  const typeHolder = h('div', { class: 'type-fields' });
  const typeSelect = select('type', TYPES.map((v) => [v, t(`type.${v}`)]), 'contract', { id: 'checkin-type', required: true });
  typeSelect.addEventListener('change', () => typeFieldset(typeSelect.value, typeHolder));
  typeFieldset('contract', typeHolder);

  // novalidate: the checks below show their message on the field, in the
  // chosen language, instead of the browser's bubble.
  const form = h('form', { class: 'form', id: 'checkin-form', novalidate: true },
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

  checkOnChange(form, typeSelect);
  onSubmit(form, status, async (fd) => {
    checkForm(form, typeSelect.value, files);
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
    let record;
    try {
      record = await sendUpload('/v1/records', metadata, files, progress);
    } catch (err) {
      // The server's refusal names its field (invalid_metadata: params
      // field "amount"; invalid_title: "title"): marked there.
      markField(form, err);
      throw err;
    }
    flash(t('checkin.checkedIn', { id: record.id, n: record.versions[0].files.length }));
    navigate(`#/records/${enc(record.id)}`);
  });
  // The handler marks fields itself (every field in error, not only the
  // first), so the status area only says what went wrong.
  status.form = null;

  return h('div', null,
    pageHeader(t('checkin.title'), t('checkin.subtitle')),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' }, form)));
}

export async function newVersionPage({ params }) {
  const id = params[0];
  const record = await api.get(`/v1/records/${enc(id)}`);
  const status = statusArea();
  const files = fileDrop({ inputId: 'version-files' });
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
    if (files.items.length === 0) {
      files.markEmpty();
      throw new Error(t('err.no_files'));
    }
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
