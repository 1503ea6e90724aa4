// Two versions of a record side by side (GET /v1/records/{id}/compare,
// docs/api.md "Version comparison"): for each pair of files the old text
// with its removed runs in <del> and the new text with its added runs in
// <ins>, each run also named in words for screen readers; the files added,
// removed and changed; the catalogue changes logged between the two
// check-ins. Every segment goes into the page as text. Comparing is a read
// of both versions' texts, which the server logs (logIndexes).

import {
  h, pageHeader, section, table, badge, stateBadge, mono, fmtTime, fmtBytes, field, select, hash, notice, emptyState,
} from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import { navigate } from '../nav.js';
import { statusArea, onSubmit } from '../widgets.js';

const enc = encodeURIComponent;

const CHANGE_VARIANTS = { added: 'ok', removed: 'alert', changed: 'warn', unchanged: 'neutral' };

// One side of a text difference: `keep` is the op shown marked on this
// side ("delete" on the old side, "insert" on the new), the other changed
// op is left out.
function sideText(segments, keep, label) {
  const tag = keep === 'delete' ? 'del' : 'ins';
  const srWord = t(keep === 'delete' ? 'compare.srRemoved' : 'compare.srAdded');
  const srEnd = t(keep === 'delete' ? 'compare.srRemovedEnd' : 'compare.srAddedEnd');
  const parts = [];
  for (const s of segments) {
    if (s.op === 'equal') parts.push(String(s.text));
    else if (s.op === keep) {
      parts.push(h(tag, null, h('span', { class: 'sr-only' }, srWord), String(s.text), h('span', { class: 'sr-only' }, srEnd)));
    }
  }
  return h('div', { class: ['diff-text', `diff-${keep === 'delete' ? 'old' : 'new'}`], tabindex: '0', role: 'region', 'aria-label': label }, parts);
}

function counts(segments) {
  let removed = 0;
  let added = 0;
  for (const s of segments) {
    if (s.op === 'delete') removed += 1;
    if (s.op === 'insert') added += 1;
  }
  return { removed, added };
}

// The text part of one file pair: side by side, or why there is nothing.
function textPart(c, file) {
  const text = file.text || {};
  if (text.state !== 'diff') {
    const state = ['pending', 'no_text', 'failed'].includes(text.state) ? text.state : 'pending';
    return notice(t(`compare.state.${state}`), state === 'failed' ? 'warn' : 'info');
  }
  const segments = Array.isArray(text.segments) ? text.segments : [];
  const n = counts(segments);
  const fromLabel = t('compare.sideFrom', { n: c.from.number, name: file.name });
  const toLabel = t('compare.sideTo', { n: c.to.number, name: file.name });
  // A side without the file says so instead of showing an empty box.
  const side = (n, f, keep, label, absent) => h('div', { class: 'diff-side' },
    h('h4', null, t('record.versionN', { n })),
    f ? sideText(segments, keep, label) : h('p', { class: 'muted diff-absent' }, t(absent, { n })));
  const sides = h('div', { class: 'diff-sides' },
    side(c.from.number, file.from, 'delete', fromLabel, 'compare.notInFrom'),
    side(c.to.number, file.to, 'insert', toLabel, 'compare.notInTo'));
  const same = !n.removed && !n.added;
  return h('div', { class: 'diff' },
    h('p', { class: 'small muted diff-summary' },
      same ? t('compare.sameText') : t('compare.runs', { removed: n.removed, added: n.added }),
      text.level && text.level !== 'unit' ? [' ', t(`compare.level.${text.level}`, {}, '')] : null),
    // The same text twice is folded away; it opens on demand.
    same ? h('details', { class: 'diff-same' }, h('summary', null, t('compare.showSame')), sides) : sides);
}

function fileFacts(f) {
  if (!f) return h('span', { class: 'muted' }, '—');
  return h('div', null, h('span', null, fmtBytes(f.size)), ' ', hash(f.sha256));
}

function filesTable(c) {
  return table([
    { label: t('record.fileName'), cell: (f) => h('span', { class: 'file-name' }, f.name), class: 'wrap' },
    { label: t('compare.change'), cell: (f) => h('span', { class: 'file-change', dataset: { change: f.change } }, badge(t(`compare.change.${f.change}`), CHANGE_VARIANTS[f.change] || 'neutral')) },
    { label: t('record.versionN', { n: c.from.number }), cell: (f) => fileFacts(f.from) },
    { label: t('record.versionN', { n: c.to.number }), cell: (f) => fileFacts(f.to) },
    { label: t('compare.textState'), cell: (f) => stateBadge('compare.textShort', (f.text && f.text.state) || 'pending') },
  ], c.files, t('record.noFiles'), { class: 'compact', label: t('compare.files') });
}

function metadataTable(c) {
  const label = (k) => {
    const meta = k.startsWith('metadata.') ? k.slice('metadata.'.length) : k;
    return t(`field.${k}`, {}, t(`meta.${meta}`, {}, meta));
  };
  return table([
    { label: t('record.logIndex'), cell: (m) => mono(String(m.index)), class: 'num' },
    { label: t('hist.time'), cell: (m) => fmtTime(m.at), class: 'nowrap' },
    { label: t('hist.actor'), cell: (m) => m.actor },
    { label: t('compare.fields'), cell: (m) => (m.fields || []).map(label).join(', '), class: 'wrap' },
  ], c.metadataChanges, t('compare.noMetadataChanges'), { class: 'compact', label: t('compare.metadata') });
}

function versionFacts(v) {
  return h('div', { class: 'compare-version' },
    h('h3', null, t('record.versionN', { n: v.number }), ' ', badge(t(`kind.${v.kind}`), v.kind === 'original' ? 'info' : 'purple')),
    h('p', { class: 'muted small' }, t('record.versionBy', { time: fmtTime(v.createdAt), who: v.createdBy })),
    v.note ? h('p', { class: 'version-note' }, v.note) : null);
}

function chooser(record, from, to) {
  const options = record.versions.map((v) => [String(v.number), t('record.versionN', { n: v.number })]);
  const status = statusArea();
  const form = h('form', { class: 'inline-form compare-form', id: 'compare-form' },
    field(t('compare.from'), select('from', options, String(from), { id: 'compare-from' })),
    field(t('compare.to'), select('to', options, String(to), { id: 'compare-to' })),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary', id: 'compare-submit' }, t('record.compare'))));
  onSubmit(form, status, async (fd) => {
    if (fd.get('from') === fd.get('to')) {
      status.error({ code: 'invalid_compare', params: {} });
      return;
    }
    navigate(`#/records/${enc(record.id)}/compare?from=${enc(fd.get('from'))}&to=${enc(fd.get('to'))}`);
  });
  return h('div', null, form, status.el);
}

export async function comparePage({ params, query }) {
  const id = params[0];
  const record = await api.get(`/v1/records/${enc(id)}`);
  const numbers = record.versions.map((v) => v.number);
  const from = parseInt(query.from || '', 10) || numbers[numbers.length - 2] || 1;
  const to = parseInt(query.to || '', 10) || numbers[numbers.length - 1] || 1;
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': t('app.breadcrumbs') },
    h('a', { href: '#/records' }, t('nav.catalogue')), ' / ', h('a', { href: `#/records/${enc(id)}` }, record.id), ' / ', h('span', null, t('compare.title')));
  const head = pageHeader(t('compare.title'), `${record.id} · ${record.title}`);
  let c;
  try {
    c = await api.get(`/v1/records/${enc(id)}/compare`, { from, to });
  } catch (err) {
    // The choice stays on the page, so that another pair can be asked for.
    const status = statusArea();
    status.error(err);
    return h('div', { class: 'compare-page' }, crumbs, head, section(t('compare.choose'), chooser(record, from, to)), status.el);
  }
  const changed = c.files.filter((f) => f.change !== 'unchanged' || (f.text && f.text.state === 'diff' && f.text.segments.some((s) => s.op !== 'equal')));
  return h('div', { class: 'compare-page' },
    crumbs, head,
    section(t('compare.choose'), chooser(record, c.from.number, c.to.number)),
    h('div', { class: 'compare-versions' }, versionFacts(c.from), versionFacts(c.to)),
    (c.logIndexes || []).length ? h('p', { class: 'hint', id: 'compare-logged' }, t('compare.logged', { indexes: c.logIndexes.join(', ') })) : null,
    section(t('compare.files'), h('div', { class: 'flush' }, filesTable(c))),
    section(t('compare.texts'),
      c.files.length === 0 ? emptyState(t('record.noFiles')) : null,
      changed.length === 0 && c.files.length ? h('p', { class: 'muted' }, t('compare.noTextChanges')) : null,
      c.files.map((f) => h('article', { class: 'compare-file', dataset: { file: f.name, change: f.change } },
        h('h3', null, f.name, ' ', badge(t(`compare.change.${f.change}`), CHANGE_VARIANTS[f.change] || 'neutral')),
        textPart(c, f)))),
    section(t('compare.metadata'), h('p', { class: 'hint' }, t('compare.metadataHint')), h('div', { class: 'flush' }, metadataTable(c))));
}
