// Catalogue search: full text over archive number, title, description,
// type metadata, version notes, file names and (for readers) the files'
// extracted text, with filters; the filters live in the URL so that a search
// can be bookmarked and the back button works. Each hit says where it
// matched (docs/search.md "API": `matches`), with the snippet's matched
// words in <mark> elements built here; the snippet itself is only text.

import { h, field, select, pageHeader, table, recordLink, classBadge, stateBadge, fmtTimeShort, fmtNumber, linkButton, notice, snippet } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate } from '../nav.js';
import { TYPES, CLASSIFICATIONS, RECORD_STATES, departments } from '../model.js';

const PAGE_SIZE = 25;
const FILTERS = ['q', 'type', 'department', 'classification', 'state', 'createdFrom', 'createdTo', 'expiringWithin'];

const MATCH_FIELDS = ['title', 'description', 'metadata', 'archiveNumber', 'note', 'fileName', 'content'];

// One place a hit matched: the field's name, the version and file where
// given, and the snippet.
function matchItem(m) {
  const where = [];
  if (m.version) where.push(t('search.matchVersion', { v: m.version }));
  if (m.fileName) where.push(m.fileName);
  const field = MATCH_FIELDS.includes(m.field) ? m.field : 'other';
  return h('li', { class: 'hit-match', dataset: { field } },
    h('span', { class: 'match-field' }, MATCH_FIELDS.includes(m.field) ? t(`match.${m.field}`) : String(m.field)),
    where.length ? h('span', { class: 'match-where' }, where.join(' · ')) : null,
    snippet(m.snippet));
}

function matchList(r) {
  if (!Array.isArray(r.matches) || r.matches.length === 0) return null;
  return h('ul', { class: 'hit-matches', 'aria-label': t('search.matches') }, r.matches.map(matchItem));
}

export async function cataloguePage({ query }) {
  const page = Math.max(1, parseInt(query.page || '1', 10) || 1);
  const params = { page, pageSize: PAGE_SIZE };
  for (const k of FILTERS) if (query[k]) params[k] = query[k];

  const [result, depts] = await Promise.all([api.get('/v1/records', params), departments()]);

  const form = h('form', { class: 'search-form', role: 'search' },
    h('div', { class: 'search-main' },
      field(t('search.text'), h('input', { type: 'search', name: 'q', value: query.q || '', id: 'search-q', placeholder: t('search.placeholder') }), { class: 'grow' }),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'search-submit' }, t('search.submit')))),
    h('div', { class: 'filters' },
      field(t('field.type'), select('type', [['', t('common.any')], ...TYPES.map((v) => [v, t(`type.${v}`)])], query.type || '')),
      field(t('field.department'), select('department', [['', t('common.any')], ...depts.map((d) => [d.name, d.name])], query.department || '')),
      field(t('field.classification'), select('classification', [['', t('common.any')], ...CLASSIFICATIONS.map((v) => [v, t(`class.${v}`)])], query.classification || '')),
      field(t('field.state'), select('state', [['', t('common.any')], ...RECORD_STATES.map((v) => [v, t(`state.${v}`)])], query.state || '')),
      field(t('search.createdFrom'), h('input', { type: 'date', name: 'createdFrom', value: query.createdFrom || '' })),
      field(t('search.createdTo'), h('input', { type: 'date', name: 'createdTo', value: query.createdTo || '' })),
      field(t('search.expiringWithin'), h('input', { type: 'number', min: '0', step: '1', name: 'expiringWithin', value: query.expiringWithin || '', class: 'short' }))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const qs = new URLSearchParams();
    for (const k of FILTERS) { const v = String(fd.get(k) || '').trim(); if (v) qs.set(k, v); }
    navigate(`#/records${qs.toString() ? `?${qs}` : ''}`);
  });
  for (const s of form.querySelectorAll('select')) s.addEventListener('change', () => form.requestSubmit());

  const columns = [
    { label: t('field.archiveNumber'), cell: (r) => recordLink(r.id), class: 'nowrap' },
    { label: t('field.title'), cell: (r) => [h('span', { class: 'title-cell' }, r.title), matchList(r)], class: 'wrap' },
    { label: t('field.type'), cell: (r) => t(`type.${r.type}`), class: 'nowrap' },
    { label: t('field.department'), cell: (r) => r.department },
    { label: t('field.classification'), cell: (r) => classBadge(r.classification) },
    { label: t('field.state'), cell: (r) => stateBadge('state', r.state) },
    { label: t('field.createdAt'), cell: (r) => fmtTimeShort(r.createdAt), class: 'nowrap' },
  ];
  const anyFilter = FILTERS.some((k) => query[k]);
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  const count = result.totalExact
    ? t('search.count', { n: fmtNumber(result.total), count: result.total })
    : t('search.countAtLeast', { n: fmtNumber(result.total), count: result.total });

  const pageLink = (p) => {
    const qs = new URLSearchParams();
    for (const k of FILTERS) if (query[k]) qs.set(k, query[k]);
    if (p > 1) qs.set('page', String(p));
    return `#/records${qs.toString() ? `?${qs}` : ''}`;
  };
  const pager = result.total > PAGE_SIZE ? h('nav', { class: 'pager', 'aria-label': t('search.pages') },
    page > 1 ? linkButton(t('common.prev'), pageLink(page - 1), 'secondary') : h('span', { class: 'btn btn-secondary is-disabled', 'aria-disabled': 'true' }, t('common.prev')),
    h('span', { class: 'pager-pos' }, t('search.pageOf', { page, pages: result.totalExact ? pages : `${pages}+` })),
    page < pages ? linkButton(t('common.next'), pageLink(page + 1), 'secondary') : h('span', { class: 'btn btn-secondary is-disabled', 'aria-disabled': 'true' }, t('common.next'))) : null;

  return h('div', null,
    pageHeader(t('search.title'), t('search.subtitle'),
      session.can('checkIn') ? linkButton(t('nav.checkin'), '#/checkin', 'primary', { id: 'go-checkin' }) : null),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body' }, form)),
    h('section', { class: 'panel', 'aria-label': t('search.results') },
      h('div', { class: 'panel-head' }, h('h2', null, t('search.results')), h('span', { class: 'muted', id: 'result-count' }, count)),
      h('div', { class: 'panel-body flush' },
        table(columns, result.records, anyFilter ? t('search.noMatch') : t('search.emptyCatalogue'), { label: t('search.results') })),
      pager),
    !result.totalExact ? notice(t('search.capped'), 'info') : null);
}
