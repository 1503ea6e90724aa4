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
  let s = MESSAGES[current][key];
  if (s === undefined) s = MESSAGES.en[key];
  if (s === undefined) return fallback !== undefined ? fallback : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (vars[name] !== undefined ? String(vars[name]) : m));
  return s;
}

export function eventLabel(action) {
  return t(`ev.${action}`, {}, action);
}

// Codes whose server message carries a detail the user needs (which field,
// which loan, which hold): the message is shown after the translation.
const DETAIL_CODES = new Set([
  'invalid_metadata', 'loan_exists', 'invalid_loan_state', 'original_out', 'record_on_hold', 'record_not_due',
  'record_in_batch', 'record_destroyed', 'missing_field', 'invalid_field', 'unknown_field', 'forbidden',
  'invalid_batch_state', 'export_failed', 'weak_password', 'invalid_file_name', 'malformed_multipart',
  'unknown_department', 'invalid_due_date', 'record_not_found', 'invalid_change_state',
]);

export function errorText(err) {
  if (!err) return '';
  if (!err.code) return err.message || String(err);
  const key = `err.${err.code}`;
  if (has(key) || MESSAGES.en[key] !== undefined) {
    const base = t(key);
    const detail = DETAIL_CODES.has(err.code) && err.message ? ` — ${err.message}` : '';
    return `${base}${detail}`;
  }
  return t('err.generic', { code: err.code, status: err.status, message: err.message || '' });
}
