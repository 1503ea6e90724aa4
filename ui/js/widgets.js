// Behaviour shared by the pages: forms that call the API, buttons that run
// one action, and the list of files of a check-in.

import { h, clear, notice, fmtBytes, field, uid, button } from './dom.js';
import { t, errorText } from './i18n.js';

// A status area under a form or a panel: errors are role=alert.
export function statusArea() {
  const el = h('div', { class: 'status-area', 'aria-live': 'polite' });
  return {
    el,
    error(err) { clear(el).appendChild(notice(errorText(err), 'error')); },
    ok(text) { clear(el).appendChild(notice(text, 'success')); },
    info(text) { clear(el).appendChild(notice(text, 'info')); },
    clear() { clear(el); },
  };
}

// Wires a <form>: the browser never submits it (the page's CSP has
// form-action 'none'); the handler runs instead, with the submit button
// disabled meanwhile and any error shown in `status`.
export function onSubmit(form, status, handler) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submitters = form.querySelectorAll('button[type=submit]');
    submitters.forEach((b) => { b.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    status.clear();
    try {
      await handler(new FormData(form));
    } catch (err) {
      status.error(err);
    } finally {
      submitters.forEach((b) => { b.disabled = false; });
      form.removeAttribute('aria-busy');
    }
  });
  return form;
}

// A button that runs one API action; errors go to `status`.
export function actionButton(label, action, status, variant = 'secondary', extra = {}) {
  const b = button(label, async () => {
    b.disabled = true;
    if (status) status.clear();
    try {
      await action();
    } catch (err) {
      if (status) status.error(err);
    } finally {
      b.disabled = false;
    }
  }, variant, extra);
  return b;
}

// The files of a check-in or new version: a multiple file picker that adds
// to a list, and per file an optional detached signature (.p7s). The list
// keeps the order in which the parts are sent.
export function fileList({ inputId = 'files' } = {}) {
  const items = [];
  const tbody = h('tbody');
  const tableEl = h('table', { class: 'grid compact', hidden: true },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('checkin.fileName')),
      h('th', { scope: 'col', class: 'num' }, t('checkin.fileSize')),
      h('th', { scope: 'col' }, t('checkin.fileType')),
      h('th', { scope: 'col' }, t('checkin.signature')),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
    tbody);
  const summary = h('p', { class: 'hint', 'aria-live': 'polite' }, t('checkin.noFiles'));

  const picker = h('input', { type: 'file', multiple: true, id: inputId, name: 'files' });
  picker.addEventListener('change', () => {
    for (const f of picker.files) items.push({ file: f, signature: null });
    picker.value = '';
    draw();
  });

  function draw() {
    clear(tbody);
    items.forEach((item, i) => {
      const sigId = uid('sig');
      const sigInput = h('input', { type: 'file', id: sigId, accept: '.p7s,.p7m,.pem,.der,application/pkcs7-signature', class: 'sig-input' });
      sigInput.addEventListener('change', () => { item.signature = sigInput.files[0] || null; draw(); });
      tbody.appendChild(h('tr', null,
        h('td', { class: 'wrap' }, item.file.name),
        h('td', { class: 'num' }, fmtBytes(item.file.size)),
        h('td', null, item.file.type || 'application/octet-stream'),
        h('td', null, item.signature
          ? h('span', null, item.signature.name, ' ', button(t('checkin.removeSignature'), () => { item.signature = null; draw(); }, 'link'))
          : h('span', { class: 'sig-pick' },
            h('label', { for: sigId, class: 'sr-only' }, t('checkin.signatureFor', { name: item.file.name })),
            sigInput)),
        h('td', null, button(t('checkin.removeFile'), () => { items.splice(i, 1); draw(); }, 'link', { 'aria-label': t('checkin.removeFileNamed', { name: item.file.name }) }))));
    });
    tableEl.hidden = items.length === 0;
    const total = items.reduce((s, it) => s + it.file.size + (it.signature ? it.signature.size : 0), 0);
    summary.textContent = items.length === 0
      ? t('checkin.noFiles')
      : t('checkin.filesSummary', { n: items.length, size: fmtBytes(total) });
  }

  return {
    el: h('div', { class: 'file-list' },
      field(t('checkin.addFiles'), picker, { hint: t('checkin.addFilesHint') }),
      summary,
      h('div', { class: 'table-wrap' }, tableEl)),
    items,
    // Appends the file (and signature) parts in order.
    appendTo(fd) {
      for (const it of items) {
        fd.append('file', it.file, it.file.name);
        if (it.signature) fd.append('signature', it.signature, it.signature.name);
      }
    },
    totalBytes() {
      return items.reduce((s, it) => s + it.file.size + (it.signature ? it.signature.size : 0), 0);
    },
  };
}
