// Building the page from DOM nodes. Everything the server sends is put into
// the page as text (text nodes, textContent, attribute values): nothing here
// ever parses a string as HTML, so a title such as "<img onerror=…>" shows as
// those characters. h() refuses inline handlers, style attributes and links
// that are not local, so the Content-Security-Policy never has to block them.

import { t, lang, formatInstant, formatDay } from './i18n.js';

const BOOLEAN_PROPS = new Set([
  'hidden', 'disabled', 'required', 'checked', 'selected', 'multiple', 'readOnly', 'open',
]);

function safeHref(value) {
  const v = String(value);
  if (v.startsWith('#') || v.startsWith('blob:') || /^\/(?!\/)/.test(v)) return v;
  throw new Error(`refused link target ${v}`);
}

// h('tag', {props}, ...children): children are nodes, strings (as text),
// numbers, arrays of those, or null/false (skipped).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'on') {
        for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
      } else if (key === 'class') {
        el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
      } else if (key === 'for') {
        el.htmlFor = value;
      } else if (key === 'text') {
        el.textContent = String(value);
      } else if (key === 'dataset') {
        for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
      } else if (key === 'value') {
        el.value = String(value);
      } else if (BOOLEAN_PROPS.has(key)) {
        el[key] = Boolean(value);
      } else if (key === 'href') {
        el.setAttribute('href', safeHref(value));
      } else if (key === 'style' || /^on/i.test(key) || key === 'innerHTML' || key === 'srcdoc') {
        throw new Error(`refused attribute ${key}`);
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let idCounter = 0;
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ---- formatting ---------------------------------------------------------

function locale() {
  return lang() === 'zh' ? 'zh-CN' : 'en-GB';
}

// Instants and dates, in one format per language (i18n.js formatInstant:
// zh 2026-12-07 14:30, en 7 Dec 2026 14:30), in the viewer's time zone.
function instant(iso, opts) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return formatInstant(d, opts);
}

// An RFC 3339 instant with seconds (log entries, events).
export function fmtTime(iso) { return instant(iso, { seconds: true }); }

// An instant to the minute (lists, due dates).
export function fmtTimeShort(iso) { return instant(iso); }

// The day of an instant, in the viewer's time zone (for narrow columns).
export function fmtDay(iso) { return instant(iso, { dayOnly: true }); }

// The viewer's time zone name, shown once in the footer so that every time
// on the page is unambiguous.
export function timeZoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// A calendar date (YYYY-MM-DD) has no time zone: the same day, in the
// language's format.
export function fmtDate(ymd) {
  if (!ymd) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(ymd));
  return m ? formatDay(Number(m[1]), Number(m[2]), Number(m[3])) : String(ymd);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

// An ISO 8601 period (P10Y, P1Y6M, P14D) in words.
export function fmtPeriod(p) {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/.exec(p || '');
  if (!m) return p || '—';
  const parts = [];
  const names = ['years', 'months', 'weeks', 'days'];
  m.slice(1).forEach((v, i) => { if (v && v !== '0') parts.push(t(`period.${names[i]}`, { n: v })); });
  return parts.length ? parts.join(' ') : t('period.zero');
}

// A retention rule in words: "Contract end + 10 y → Destroy".
export function fmtRule(r) {
  if (r.action === 'permanent') return t('action.permanent');
  return `${t(`trigger.${r.trigger}`)} + ${fmtPeriod(r.period)} → ${t(`action.${r.action}`)}`;
}

// A value from the local <input type="datetime-local"> as RFC 3339 UTC.
export function localInputToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function isoToLocalInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// ---- small building blocks ---------------------------------------------

export function badge(text, variant = 'neutral', title) {
  return h('span', { class: `badge badge-${variant}`, title }, text);
}

const STATE_VARIANTS = {
  active: 'ok', on_hold: 'warn', disposition_due: 'alert', destroyed: 'dark',
  requested: 'info', approved: 'info', checked_out: 'ok', returned: 'neutral',
  rejected: 'alert', revoked: 'alert', expired: 'neutral',
  proposed: 'info', executed: 'dark', released: 'neutral',
  pending: 'info',
  text: 'ok', no_text: 'neutral', retry: 'warn',
  valid: 'ok', invalid: 'alert', none: 'neutral',
  queued: 'neutral', running: 'info', done: 'ok', failed: 'alert',
};

export function stateBadge(ns, value) {
  return badge(t(`${ns}.${value}`), STATE_VARIANTS[value] || 'neutral');
}

const CLASS_VARIANTS = { public: 'neutral', internal: 'info', confidential: 'warn', secret: 'alert' };
export function classBadge(value) {
  return badge(t(`class.${value}`), CLASS_VARIANTS[value] || 'neutral');
}

export function hash(hex, full = false) {
  if (!hex) return h('span', { class: 'muted' }, '—');
  return h('code', { class: full ? 'hash hash-full' : 'hash', title: hex }, full ? hex : `${hex.slice(0, 16)}…`);
}

// A search snippet: alternating segments, plain text first; the segments
// at odd positions are the matched words and go into <mark>. Every segment
// is text (docs/search.md "API"): nothing in a snippet is markup.
export function snippet(segments) {
  if (!Array.isArray(segments) || segments.length === 0) return null;
  return h('span', { class: 'snippet' },
    segments.map((seg, i) => (i % 2 === 1 ? h('mark', null, String(seg)) : String(seg))));
}

export function mono(text) {
  return h('code', { class: 'mono' }, text);
}

export function recordLink(id, text) {
  return h('a', { href: `#/records/${encodeURIComponent(id)}`, class: 'mono-link' }, text ?? id);
}

export function loanLink(id) {
  return h('a', { href: `#/loans/${encodeURIComponent(id)}`, class: 'mono-link' }, id);
}

// A definition list from [label, value] pairs; values may be nodes.
export function dl(pairs, cls = 'facts') {
  return h('dl', { class: cls },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v === '' || v === null || v === undefined ? '—' : v)]));
}

// The text of a column's label for its cells' data-label (the narrow
// layout shows it before each cell): `dataLabel` when given, else the
// label's text.
function columnLabel(c) {
  if (c.dataLabel !== undefined) return c.dataLabel;
  if (c.label instanceof Node) return c.label.textContent.trim();
  return c.label === undefined || c.label === null ? '' : String(c.label);
}

// A table: columns are {label, cell(row) → node|string, class, dataLabel};
// an empty list shows `empty` instead of an empty table. Every cell carries
// its column's label in data-label, so that the phone layout (app.css,
// max-width 600px) can show each row as a card of labelled cells.
export function table(columns, rows, empty, opts = {}) {
  if (!rows || rows.length === 0) return emptyState(empty);
  const labels = columns.map(columnLabel);
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['grid', opts.class], 'aria-label': opts.label },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', null, rows.map((r) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null, dataset: opts.rowData ? opts.rowData(r) : null },
        columns.map((c, i) => h('td', { class: c.class, 'data-label': labels[i] || null }, c.cell(r))))))));
}

export function emptyState(text) {
  return h('div', { class: 'empty' }, h('p', null, text));
}

export function section(title, ...body) {
  const id = uid('sec');
  return h('section', { class: 'panel', 'aria-labelledby': id },
    h('div', { class: 'panel-head' }, h('h2', { id }, title)),
    h('div', { class: 'panel-body' }, body));
}

export function sectionWithActions(title, actions, ...body) {
  const id = uid('sec');
  return h('section', { class: 'panel', 'aria-labelledby': id },
    h('div', { class: 'panel-head' }, h('h2', { id }, title), h('div', { class: 'panel-actions' }, actions)),
    h('div', { class: 'panel-body' }, body));
}

// The page heading, focused after every navigation so keyboard and screen
// reader users start at the top of the new page.
export function pageHeader(title, subtitle, actions) {
  return h('header', { class: 'page-head' },
    h('div', { class: 'page-titles' },
      h('h1', { tabindex: '-1', id: 'page-title' }, title),
      subtitle ? h('p', { class: 'page-sub' }, subtitle) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

export function button(label, onClick, variant = 'secondary', extra = {}) {
  return h('button', { type: 'button', class: `btn btn-${variant}`, ...extra, on: { click: onClick } }, label);
}

export function linkButton(label, href, variant = 'secondary', extra = {}) {
  return h('a', { href, class: `btn btn-${variant}`, ...extra }, label);
}

// A labelled form control. `control` is an <input>/<select>/<textarea>
// without an id; one is given so the <label> points at it.
export function field(label, control, opts = {}) {
  if (!control.id) control.id = uid('in');
  const hintId = opts.hint ? uid('hint') : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: ['field', opts.class, control.required ? 'is-required' : null] },
    h('label', { for: control.id }, label),
    control,
    opts.hint ? h('p', { class: 'hint', id: hintId }, opts.hint) : null);
}

export function select(name, options, value, props = {}) {
  const el = h('select', { name, ...props },
    options.map(([v, label]) => h('option', { value: v }, label)));
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

export function checkbox(label, props = {}) {
  const input = h('input', { type: 'checkbox', ...props });
  if (!input.id) input.id = uid('cb');
  return h('div', { class: 'check' }, input, h('label', { for: input.id }, label));
}

// A message box. role=alert for errors so they are announced.
export function notice(text, variant = 'info') {
  return h('div', { class: `notice notice-${variant}`, role: variant === 'error' ? 'alert' : 'status' }, text);
}

export function spinner(text) {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spin', 'aria-hidden': 'true' }), text);
}

// A progress bar with a text label that screen readers read.
export function progressBar(labelText) {
  const bar = h('progress', { max: '100', value: '0' });
  const label = h('span', { class: 'progress-text' }, labelText || '');
  const wrap = h('div', { class: 'progress', role: 'group' }, bar, label);
  return {
    el: wrap,
    set(fraction, text) {
      wrap.classList.remove('progress-failed');
      if (fraction === null) bar.removeAttribute('value');
      else bar.value = Math.max(0, Math.min(100, fraction * 100));
      label.textContent = text || '';
    },
    // The operation ended in failure: the bar stops and says so.
    fail(text) {
      wrap.classList.add('progress-failed');
      bar.value = 0;
      label.textContent = text || '';
    },
  };
}
