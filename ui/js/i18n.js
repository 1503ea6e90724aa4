// Simplified Chinese (default) and English. The choice is kept in
// localStorage; switching redraws the current page. Error messages are chosen
// by the API's stable error code, never parsed from the server's text.

import { MESSAGES } from './messages.js';

const KEY = 'custos.lang';
const listeners = [];

function initial() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch (_) { /* storage unavailable: default */ }
  return 'zh';
}

let current = initial();

export function lang() { return current; }

export function setLang(l) {
  if (l !== 'zh' && l !== 'en') return;
  current = l;
  try { localStorage.setItem(KEY, l); } catch (_) { /* kept for this page only */ }
  listeners.forEach((fn) => fn(l));
}

export function onLangChange(fn) { listeners.push(fn); }

export function has(key) {
  return Object.prototype.hasOwnProperty.call(MESSAGES[current], key);
}

// t('loan.approved', {id: 'LN-…'}): the message with {placeholders} filled
// in as plain text. An unknown key falls back to `fallback`, then the key.
export function t(key, vars, fallback) {
  key = pluralKey(key, vars);
  let s = MESSAGES[current][key];
  if (s === undefined) s = MESSAGES.en[key];
  if (s === undefined) return fallback !== undefined ? fallback : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (vars[name] !== undefined ? String(vars[name]) : m));
  return s;
}

// ---- dates: one format per language (docs/ui.md "Languages and time") --
// Chinese: 2026-12-07 14:30; English: 7 Dec 2026 14:30. Instants are shown
// in the viewer's own time zone (named once in the footer), 24-hour clock;
// calendar dates (YYYY-MM-DD, no zone) as the same day. Every page formats
// through these (dom.js fmtTime, fmtTimeShort, fmtDay, fmtDate).
const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n) => String(n).padStart(2, '0');

// The day `year`-`month` (1-12)-`day` in the chosen language.
export function formatDay(year, month, day) {
  return current === 'zh'
    ? `${year}-${pad2(month)}-${pad2(day)}`
    : `${day} ${MONTHS_EN[month - 1]} ${year}`;
}

// A Date in the viewer's time zone: the day, then hours:minutes (and
// :seconds with `seconds`); only the day with `dayOnly`.
export function formatInstant(d, { seconds = false, dayOnly = false } = {}) {
  const day = formatDay(d.getFullYear(), d.getMonth() + 1, d.getDate());
  if (dayOnly) return day;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
  return `${day} ${time}`;
}

export function eventLabel(action) {
  return t(`ev.${action}`, {}, action);
}

// Plural forms: t(key, {n}) looks for `key.one` / `key.other` (by
// Intl.PluralRules of the current language) before `key`, so English says
// "1 file" and "2 files"; Chinese needs no forms and has only `key`.
const pluralRules = {};
// The count is vars.count when given (n may be a formatted string), else vars.n.
function pluralKey(key, vars) {
  const n = vars && typeof vars.count === 'number' ? vars.count : (vars ? vars.n : undefined);
  if (typeof n !== 'number') return key;
  const rules = pluralRules[current] || (pluralRules[current] = new Intl.PluralRules(current === 'zh' ? 'zh-CN' : 'en-US'));
  const form = `${key}.${rules.select(n)}`;
  return MESSAGES[current][form] !== undefined ? form : key;
}

// An error's text in the chosen language, from its code and params
// (docs/api.md "Errors"): `err.<code>.<rule>` when params.rule names a
// variant, else `err.field.<rule>` for a rule on a named field, else
// `err.<code>.<param>` for the first param that has such a form, else
// `err.<code>`; {placeholders} come from params ({field} as the field's
// label, {state} in words, {maxBytes} in KiB/MiB). The server's own
// (English) message is shown only for a code the UI does not know.
const FIELD_LABELS = {
  title: 'field.title', description: 'field.description', department: 'field.department',
  custodian: 'field.custodian', location: 'field.location', classification: 'field.classification',
  type: 'field.type', purpose: 'loan.purpose', reason: 'holds.reason', dueAt: 'loan.due',
  name: 'holds.name', caseRef: 'holds.caseRef', recordIds: 'holds.recordIds', note: 'version.note',
  username: 'signin.username', password: 'signin.password', filename: 'field.fileName',
};

export function fieldLabel(name) {
  if (!name) return '';
  const bare = String(name).replace(/^metadata\./, '');
  if (has(`meta.${bare}`)) return t(`meta.${bare}`);
  if (FIELD_LABELS[bare] && has(FIELD_LABELS[bare])) return t(FIELD_LABELS[bare]);
  return bare;
}

const STATE_NAMES = { invalid_loan_state: 'loanState', invalid_batch_state: 'batchState', invalid_change_state: 'changeState' };

function errorKey(code, params) {
  const rule = typeof params.rule === 'string' ? params.rule : '';
  const candidates = [];
  if (rule) candidates.push(`err.${code}.${rule}`);
  if (rule && params.field) candidates.push(`err.field.${rule}`);
  for (const name of Object.keys(params)) if (name !== 'rule') candidates.push(`err.${code}.${name}`);
  candidates.push(`err.${code}`);
  if (params.field && code.startsWith('invalid_')) candidates.push('err.field.invalid');
  return candidates.find((k) => MESSAGES.en[k] !== undefined) || null;
}

function fmtSize(n) {
  if (typeof n !== 'number') return String(n);
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

export function errorText(err) {
  if (!err) return '';
  if (!err.code) return err.message || String(err);
  const params = err.params || {};
  const key = errorKey(err.code, params);
  if (key) {
    const vars = { ...params };
    if (params.field !== undefined) vars.field = fieldLabel(params.field);
    if (typeof params.maxBytes === 'number') vars.maxBytes = fmtSize(params.maxBytes);
    if (typeof params.state === 'string' && STATE_NAMES[err.code]) vars.state = t(`${STATE_NAMES[err.code]}.${params.state}`, {}, params.state);
    // Instants (a loan's due date, the end of an approver's cooling period)
    // in the viewer's time zone.
    for (const name of ['dueAt', 'until', 'since']) {
      if (typeof params[name] !== 'string') continue;
      const d = new Date(params[name]);
      if (!Number.isNaN(d.getTime())) vars[name] = formatInstant(d);
    }
    return t(key, vars);
  }
  return t('err.generic', { code: err.code, status: err.status, message: err.message || '' });
}
