// Behaviour shared by the pages: forms that call the API, buttons that run
// one action, and the list of files of a check-in.

import { h, clear, notice, fmtBytes, field, uid, button } from './dom.js';
import { t, errorText } from './i18n.js';

// A status area under a form or a panel: errors are role=alert. With a
// `form`, an error whose params name a field (params.field) also marks that
// field: aria-invalid and a visible message under it.
// onSubmit() attaches its form.
export function statusArea(form) {
  const el = h('div', { class: 'status-area', 'aria-live': 'polite' });
  const area = {
    el,
    form: form || null,
    error(err) {
      clear(el).appendChild(notice(errorText(err), 'error'));
      if (area.form) markField(area.form, err);
    },
    ok(text) { clear(el).appendChild(notice(text, 'success')); },
    info(text) { clear(el).appendChild(notice(text, 'info')); },
    warn(text) { clear(el).appendChild(notice(text, 'warn')); },
    clear() { clear(el); },
  };
  return area;
}

// The control of `form` that an error names (params.field: "amount",
// "title", "metadata.amount", "dueAt"…): by name, then by metadata name.
function controlFor(form, name) {
  if (!name) return null;
  const bare = String(name).replace(/^metadata\./, '');
  for (const candidate of [name, `meta.${bare}`, bare]) {
    const el = [...form.elements].find((c) => c.name === candidate);
    if (el) return el;
  }
  return null;
}

export function clearFieldErrors(form) {
  form.querySelectorAll('[aria-invalid="true"]').forEach((c) => {
    c.removeAttribute('aria-invalid');
    const described = (c.getAttribute('aria-describedby') || '').split(' ').filter((id) => !id.startsWith('ferr-'));
    if (described.length) c.setAttribute('aria-describedby', described.join(' '));
    else c.removeAttribute('aria-describedby');
  });
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
}

// Marks the field an error names; returns the control or null.
export function markField(form, err) {
  clearFieldErrors(form);
  const params = (err && err.params) || {};
  const control = controlFor(form, params.field);
  if (!control) return null;
  const id = uid('ferr');
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
  const msg = h('p', { class: 'field-error', id }, errorText(err));
  control.after(msg);
  return control;
}

// Wires a <form>: the browser never submits it (the page's CSP has
// form-action 'none'); the handler runs instead, with the submit button
// disabled meanwhile and any error shown in `status`.
export function onSubmit(form, status, handler) {
  if (!status.form) status.form = form;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submitters = form.querySelectorAll('button[type=submit]');
    submitters.forEach((b) => { b.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    status.clear();
    clearFieldErrors(form);
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

// Asks before an act that cannot be undone: a modal <dialog> (focus moves
// into it, Tab stays inside, Escape cancels) with the consequence in words.
// With `typed`, the confirm button stays disabled until exactly that text
// (e.g. the batch id) is typed. Resolves true when confirmed.
export function confirmDialog({ title, body, confirmLabel, typed, typedLabel, variant = 'danger' }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const bodyId = uid('dlg');
    let answered = false;
    const confirm = h('button', { type: 'button', class: `btn btn-${variant}`, id: 'confirm-ok' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary', id: 'confirm-cancel' }, t('common.cancel'));
    let input = null;
    if (typed) {
      input = h('input', { type: 'text', id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false', class: 'mono' });
      confirm.disabled = true;
      input.addEventListener('input', () => { confirm.disabled = input.value.trim() !== typed; });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !confirm.disabled) { e.preventDefault(); confirm.click(); }
      });
    }
    const dialog = h('dialog', { class: 'confirm-dialog', 'aria-labelledby': titleId, 'aria-describedby': bodyId },
      h('h2', { id: titleId }, title),
      h('p', { id: bodyId }, body),
      input ? field(typedLabel || t('confirm.typeToConfirm', { text: typed }), input) : null,
      h('div', { class: 'form-actions' }, confirm, cancel));
    const finish = (yes) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(yes);
    };
    confirm.addEventListener('click', () => { if (!confirm.disabled) finish(true); });
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', () => finish(false));
    dialog.addEventListener('close', () => finish(false));
    document.body.appendChild(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
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

// actionButton for an irreversible act: runs `action` only after
// confirmDialog(confirmOpts) says yes.
export function confirmedActionButton(label, confirmOpts, action, status, variant = 'danger', extra = {}) {
  return actionButton(label, async () => {
    const opts = typeof confirmOpts === 'function' ? confirmOpts() : confirmOpts;
    if (await confirmDialog({ confirmLabel: label, ...opts })) await action();
  }, status, variant, extra);
}

// Labels every cell of the tables under `root` that has no data-label with
// its column's header text, so that the phone layout (app.css, max-width
// 600px) shows each row as a card of labelled cells also for tables a page
// builds itself rather than with dom.js table(). Rows whose cells do not
// line up with the header (colspan) are left as they are; a header cell
// holding a control of its own (a "select all" box) labels nothing, and
// decoration hidden from screen readers (sort arrows) is left out.
function headerText(th) {
  if (th.querySelector('input, select, textarea')) return '';
  const copy = th.cloneNode(true);
  copy.querySelectorAll('[aria-hidden="true"]').forEach((el) => el.remove());
  return copy.textContent.trim();
}

export function labelTableCells(root) {
  for (const tbl of root.querySelectorAll('table')) {
    const head = tbl.tHead && tbl.tHead.rows[0];
    if (!head) continue;
    const labels = [...head.cells].map(headerText);
    for (const body of tbl.tBodies) {
      for (const row of body.rows) {
        if (row.cells.length !== labels.length) continue;
        [...row.cells].forEach((cell, i) => {
          if (!cell.hasAttribute('data-label') && labels[i]) cell.setAttribute('data-label', labels[i]);
        });
      }
    }
  }
}
