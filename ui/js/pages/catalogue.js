// Catalogue search for the day's work: full text over archive number,
// title, description, type metadata, version notes, file names and (for
// readers) the files' extracted text, with filters. Everything that shapes
// the list lives in the URL (filters, sort, order, page size, page), so a
// search can be bookmarked, saved and reloaded, and the back button works.
//
// - Sorting is the server's (GET /v1/records sort=/order=): a column header
//   is a button; its <th> carries aria-sort.
// - With a type chosen, that type's own fields become columns.
// - Each hit says where it matched (docs/search.md "API": `matches`), with
//   the snippet's matched words in <mark> elements built here; a snippet
//   is only text.
// - Saved searches are kept per user in localStorage (savedSearches below).
// - Rows can be selected (one checkbox each, one for the page) for the bulk
//   actions the role may take: export, add to a legal hold, propose a
//   destruction; the outcome is shown per record.

import { h, clear, append, field, select, pageHeader, recordLink, classBadge, stateBadge, fmtTimeShort, fmtDate, fmtNumber, linkButton, notice, snippet, uid, emptyState } from '../dom.js';
import { t, errorText } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { navigate } from '../nav.js';
import { statusArea, onSubmit } from '../widgets.js';
import { TYPES, CLASSIFICATIONS, RECORD_STATES, departments } from '../model.js';
import { thumbnailCell } from '../thumbs.js';

const enc = encodeURIComponent;
export const PAGE_SIZES = [20, 50, 100, 200];
const DEFAULT_PAGE_SIZE = 20;
const FILTERS = ['q', 'type', 'department', 'classification', 'state', 'createdFrom', 'createdTo', 'expiringWithin'];
// What a saved search keeps: the filters and the list's shape, not the page.
const SHAPE = [...FILTERS, 'sort', 'order', 'pageSize'];

const MATCH_FIELDS = ['title', 'description', 'metadata', 'archiveNumber', 'note', 'fileName', 'content'];

// The columns of each type's own fields: [metadata key, kind]. Every key is
// one the server sorts by (docs/api.md "Finding records").
const TYPE_COLUMNS = {
  contract: [['counterparty', 'text'], ['contractNumber', 'text'], ['endDate', 'date']],
  qualification: [['issuer', 'text'], ['certificateNumber', 'text'], ['validUntil', 'date']],
  product_dossier: [['productModel', 'text'], ['documentKind', 'text']],
  customer_file: [['customerName', 'text'], ['customerId', 'text']],
  general: [],
};

// ---- the URL ------------------------------------------------------------

function pageSizeOf(query) {
  const n = parseInt(query.pageSize || '', 10);
  return PAGE_SIZES.includes(n) ? n : DEFAULT_PAGE_SIZE;
}

// The hash of the catalogue with `query` changed by `changes` (a value of
// '' or null drops the key; defaults are left out).
function catalogueHash(query, changes = {}) {
  const next = { ...query, ...changes };
  const qs = new URLSearchParams();
  for (const k of SHAPE) {
    const v = next[k];
    if (v === undefined || v === null || String(v) === '') continue;
    if (k === 'pageSize' && Number(v) === DEFAULT_PAGE_SIZE) continue;
    if (k === 'order' && !next.sort) continue;
    qs.set(k, String(v));
  }
  const page = parseInt(next.page || '1', 10);
  if (page > 1) qs.set('page', String(page));
  const s = qs.toString();
  return `#/records${s ? `?${s}` : ''}`;
}

function shapeOf(query) {
  const qs = new URLSearchParams();
  for (const k of SHAPE) if (query[k]) qs.set(k, query[k]);
  return qs.toString();
}

// ---- saved searches -----------------------------------------------------
// Kept in this browser's localStorage under custos.savedSearches.<username>
// as [{name, query}] (query: the URL's query without the page). They hold
// no record data, only what was typed into the search form.

function savedKey(user) { return `custos.savedSearches.${user.username}`; }

export function savedSearches(user) {
  try {
    const list = JSON.parse(localStorage.getItem(savedKey(user)) || '[]');
    return Array.isArray(list) ? list.filter((s) => s && typeof s.name === 'string' && typeof s.query === 'string') : [];
  } catch (_) { return []; }
}

function storeSearches(user, list) {
  try { localStorage.setItem(savedKey(user), JSON.stringify(list)); } catch (_) { /* storage unavailable: nothing kept */ }
}

function savedPanel(user, query) {
  const status = statusArea();
  const list = savedSearches(user);
  const items = list.map((s) => h('li', { class: 'saved-search' },
    h('a', { href: `#/records${s.query ? `?${s.query}` : ''}`, class: 'saved-apply', title: s.query, dataset: { name: s.name } }, s.name),
    h('button', {
      type: 'button', class: 'btn btn-link btn-small saved-delete', 'aria-label': t('catalogue.savedDeleteNamed', { name: s.name }),
      on: { click: () => { storeSearches(user, savedSearches(user).filter((x) => x.name !== s.name)); navigate(catalogueHash(query)); } },
    }, t('catalogue.savedDelete'))));
  const nameInput = h('input', { name: 'name', maxlength: '80', id: 'saved-name', autocomplete: 'off' });
  const form = h('form', { class: 'inline-form saved-form' },
    field(t('catalogue.savedName'), nameInput, { class: 'grow' }),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary', id: 'saved-save' }, t('catalogue.savedSave'))));
  onSubmit(form, status, async (fd) => {
    const name = String(fd.get('name') || '').trim();
    if (!name) throw Object.assign(new Error(t('catalogue.savedNameMissing')), { params: { field: 'name' } });
    const rest = savedSearches(user).filter((x) => x.name !== name);
    storeSearches(user, [...rest, { name, query: shapeOf(query) }].sort((a, b) => a.name.localeCompare(b.name)));
    navigate(catalogueHash(query));
  });
  return h('div', { class: 'saved-searches' },
    h('h3', { id: 'saved-title' }, t('catalogue.saved')),
    items.length
      ? h('ul', { class: 'saved-list', 'aria-labelledby': 'saved-title', id: 'saved-list' }, items)
      : h('p', { class: 'hint', id: 'saved-list' }, t('catalogue.savedNone')),
    form, status.el);
}

// ---- hits ---------------------------------------------------------------

// One place a hit matched: the field's name, the version and file where
// given, and the snippet.
function matchItem(m) {
  const where = [];
  if (m.version) where.push(t('search.matchVersion', { v: m.version }));
  if (m.fileName) where.push(m.fileName);
  const name = MATCH_FIELDS.includes(m.field) ? m.field : 'other';
  return h('li', { class: 'hit-match', dataset: { field: name } },
    h('span', { class: 'match-field' }, MATCH_FIELDS.includes(m.field) ? t(`match.${m.field}`) : String(m.field)),
    where.length ? h('span', { class: 'match-where' }, where.join(' · ')) : null,
    snippet(m.snippet));
}

// The title, with its matched words marked when the title match's snippet
// is the whole title (then that match needs no line of its own).
function titleAndMatches(r) {
  const matches = Array.isArray(r.matches) ? r.matches : [];
  const whole = matches.find((m) => m.field === 'title' && Array.isArray(m.snippet) && m.snippet.join('') === r.title && m.snippet.length > 1);
  const rest = whole ? matches.filter((m) => m !== whole) : matches;
  return [
    h('span', { class: 'title-cell' }, whole ? snippet(whole.snippet) : r.title),
    rest.length ? h('ul', { class: 'hit-matches', 'aria-label': t('search.matches') }, rest.map(matchItem)) : null,
  ];
}

function metaCell(r, key, kind) {
  const v = r.metadata && typeof r.metadata[key] === 'string' ? r.metadata[key] : '';
  if (!v) return h('span', { class: 'muted' }, '—');
  return kind === 'date' ? fmtDate(v) : v;
}

// ---- the table ----------------------------------------------------------

// Columns: {key (sort key or null), label, cell(r), class}.
function columnsFor(query) {
  const cols = [
    { key: 'id', label: t('field.archiveNumber'), cell: (r) => recordLink(r.id), class: 'nowrap' },
    { key: 'title', label: t('field.title'), cell: titleAndMatches, class: 'wrap title-col' },
  ];
  const typeCols = TYPE_COLUMNS[query.type];
  if (typeCols) {
    for (const [key, kind] of typeCols) cols.push({ key, label: t(`meta.${key}`), cell: (r) => metaCell(r, key, kind), class: kind === 'date' ? 'nowrap' : 'wrap' });
  } else {
    cols.push({ key: 'type', label: t('field.type'), cell: (r) => t(`type.${r.type}`), class: 'nowrap' });
  }
  cols.push(
    { key: 'department', label: t('field.department'), cell: (r) => r.department },
    { key: 'classification', label: t('field.classification'), cell: (r) => classBadge(r.classification) },
    { key: 'state', label: t('field.state'), cell: (r) => stateBadge('state', r.state) },
    { key: 'createdAt', label: t('field.createdAt'), cell: (r) => fmtTimeShort(r.createdAt), class: 'nowrap' });
  return cols;
}

// A sortable header: a button that asks the server for the list in that
// order (ascending first, then the other way), with aria-sort on the <th>.
function sortHeader(col, query) {
  const active = query.sort === col.key;
  const desc = active && query.order === 'desc';
  const next = active && !desc ? 'desc' : 'asc';
  const th = h('th', { scope: 'col', class: col.class, 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none', dataset: { sort: col.key } });
  const btn = h('button', {
    type: 'button', class: ['sort-btn', active ? 'is-sorted' : null],
    title: t(next === 'asc' ? 'catalogue.sortAsc' : 'catalogue.sortDesc', { column: col.label }),
    on: { click: () => navigate(catalogueHash(query, { sort: col.key, order: next, page: 1 })) },
  }, col.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (desc ? '▼' : '▲') : '↕'));
  th.appendChild(btn);
  return th;
}

function resultTable(records, query, selection) {
  const cols = columnsFor(query);
  const thumbs = records.map((r) => { try { return thumbnailCell(r); } catch (_) { return null; } });
  const withThumbs = thumbs.some(Boolean);

  const headCells = [];
  if (selection) {
    const allId = uid('pick');
    selection.all = h('input', { type: 'checkbox', id: allId, class: 'pick-all' });
    selection.all.addEventListener('change', () => selection.setAll(selection.all.checked));
    headCells.push(h('th', { scope: 'col', class: 'pick' }, selection.all, h('label', { for: allId, class: 'sr-only' }, t('catalogue.selectPage'))));
  }
  if (withThumbs) headCells.push(h('th', { scope: 'col', class: 'thumb-col' }, h('span', { class: 'sr-only' }, t('catalogue.thumbnail'))));
  for (const c of cols) headCells.push(c.key ? sortHeader(c, query) : h('th', { scope: 'col', class: c.class }, c.label));

  const rows = records.map((r, i) => {
    const cells = [];
    if (selection) {
      const id = uid('pick');
      const cb = h('input', { type: 'checkbox', id, class: 'pick-row', value: r.id, dataset: { record: r.id } });
      cb.addEventListener('change', () => selection.set(r.id, cb.checked));
      selection.boxes.push(cb);
      cells.push(h('td', { class: 'pick' }, cb, h('label', { for: id, class: 'sr-only' }, t('catalogue.selectNamed', { id: r.id }))));
    }
    if (withThumbs) cells.push(h('td', { class: 'thumb-col' }, thumbs[i]));
    // data-label: the phone layout shows each row as a card of labelled cells.
    for (const c of cols) cells.push(h('td', { class: c.class, 'data-label': c.label }, c.cell(r)));
    return h('tr', { dataset: { record: r.id } }, cells);
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid catalogue-grid', 'aria-label': t('search.results'), id: 'catalogue-table' },
      h('thead', null, h('tr', null, headCells)),
      h('tbody', null, rows)));
}

// ---- paging -------------------------------------------------------------

function pager(query, page, pages, exact) {
  const link = (p) => catalogueHash(query, { page: p });
  const disabled = (label) => h('span', { class: 'btn btn-secondary is-disabled', 'aria-disabled': 'true' }, label);
  const jumpInput = h('input', { type: 'number', name: 'page', min: '1', max: exact ? String(pages) : null, step: '1', value: String(page), class: 'short', id: 'jump-page' });
  const status = statusArea();
  const jump = h('form', { class: 'inline-form jump-form', novalidate: true },
    field(t('catalogue.jumpTo'), jumpInput),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary', id: 'jump-go' }, t('catalogue.jumpGo'))));
  onSubmit(jump, status, async (fd) => {
    const p = parseInt(String(fd.get('page') || ''), 10);
    if (!(p >= 1) || (exact && p > pages)) {
      // An error without a code: its text as it is, marked on the field.
      throw Object.assign(new Error(exact ? t('catalogue.jumpRange', { pages }) : t('catalogue.jumpMin')), { params: { field: 'page' } });
    }
    navigate(link(p));
  });
  return h('nav', { class: 'pager', 'aria-label': t('search.pages') },
    page > 1 ? linkButton(t('common.prev'), link(page - 1), 'secondary', { id: 'page-prev' }) : disabled(t('common.prev')),
    h('span', { class: 'pager-pos', id: 'pager-pos' }, t('search.pageOf', { page, pages: exact ? pages : `${pages}+` })),
    page < pages ? linkButton(t('common.next'), link(page + 1), 'secondary', { id: 'page-next' }) : disabled(t('common.next')),
    pages > 1 ? jump : null, status.el);
}

function pageSizeChoice(query) {
  const s = select('pageSize', PAGE_SIZES.map((n) => [String(n), String(n)]), String(pageSizeOf(query)), { id: 'page-size' });
  s.addEventListener('change', () => navigate(catalogueHash(query, { pageSize: s.value, page: 1 })));
  return h('div', { class: 'page-size' }, h('label', { for: 'page-size' }, t('catalogue.pageSize')), s);
}

// ---- bulk actions -------------------------------------------------------

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// The outcome of a bulk action, one row per record: ok (with a text) or
// the error in words.
function resultsTable(holder, title, rows) {
  clear(holder);
  append(holder, [
    h('h3', { id: 'bulk-results-title' }, title),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid compact', 'aria-labelledby': 'bulk-results-title', id: 'bulk-results-table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('field.archiveNumber')),
        h('th', { scope: 'col' }, t('catalogue.outcome')))),
      h('tbody', null, rows.map((r) => h('tr', { dataset: { record: r.id, outcome: r.ok ? 'ok' : 'failed' } },
        h('td', { class: 'nowrap', 'data-label': t('field.archiveNumber') }, recordLink(r.id)),
        h('td', { 'data-label': t('catalogue.outcome') }, h('span', { class: ['badge', r.ok ? 'badge-ok' : 'badge-alert'] }, r.ok ? t('catalogue.outcomeOk') : t('catalogue.outcomeFailed')), ' ', r.text)))))),
  ]);
  holder.hidden = false;
  holder.focus();
}

// Export: one package of the chosen records (POST /v1/exports), waited
// on, then downloaded; per record, what of it the package holds.
async function bulkExport(ids, progress, holder, isCurrent) {
  const started = await api.post('/v1/exports', { recordIds: ids, format: 'zip', includeContent: true });
  progress.textContent = t('catalogue.exportRunning', { id: started.id });
  let job = started;
  while (job.state === 'queued' || job.state === 'running') {
    if (!isCurrent()) return;
    await sleep(400);
    job = await api.get(`/v1/exports/${enc(started.id)}/job`);
  }
  if (job.state === 'failed') throw new Error(t('audit.exportFailed', { error: job.error || '' }));
  if (!isCurrent()) return;
  const res = await api.download(`/v1/exports/${enc(job.id)}`, `${job.id}.zip`);
  progress.textContent = t('catalogue.exportSaved', { name: res.name });
  const withheld = (job.package && Array.isArray(job.package.withheld)) ? job.package.withheld : [];
  resultsTable(holder, t('catalogue.exportResults', { id: job.id }), ids.map((id) => {
    const left = withheld.filter((w) => w.recordId === id);
    return {
      id,
      ok: true,
      text: left.length
        ? t('catalogue.exportWithheld', { n: left.length, count: left.length, reasons: [...new Set(left.map((w) => t(`withheld.${w.reason}`, {}, w.reason)))].join('、') })
        : t('catalogue.exportIncluded'),
    };
  }));
}

// Each record is added on its own (POST /v1/holds/{id}/records), so that
// one refusal (a destroyed record) does not keep the others out.
async function addEach(hold, ids) {
  const rows = [];
  for (const id of ids) {
    try {
      await api.post(`/v1/holds/${enc(hold.id)}/records`, { recordIds: [id] });
      rows.push({ id, ok: true, text: t('catalogue.holdAdded', { name: hold.name, hold: hold.id }) });
    } catch (err) {
      rows.push({ id, ok: false, text: errorText(err) });
    }
  }
  return rows;
}

// The form of "add to a hold": an active hold, or a new one (name, reason,
// case reference) placed first and then given the records.
async function holdForm(ids, holder, done) {
  const { holds } = await api.get('/v1/holds');
  const active = holds.filter((x) => x.state === 'active');
  const status = statusArea();
  const NEW = '__new__';
  const choice = select('hold', [...active.map((x) => [x.id, `${x.name} (${x.id})`]), [NEW, t('catalogue.holdNew')]], active.length ? active[active.length - 1].id : NEW, { id: 'bulk-hold-choice' });
  const newFields = h('div', { class: 'form-grid', id: 'bulk-hold-new' },
    field(t('holds.name'), h('input', { name: 'name', maxlength: '200', id: 'bulk-hold-name' })),
    field(t('holds.caseRef'), h('input', { name: 'caseRef', maxlength: '200', id: 'bulk-hold-case' })),
    field(t('holds.reason'), h('textarea', { name: 'reason', rows: '2', maxlength: '2000', id: 'bulk-hold-reason' }), { class: 'span-2' }));
  const showNew = () => {
    newFields.hidden = choice.value !== NEW;
    for (const el of newFields.querySelectorAll('input[name=name], textarea')) el.required = choice.value === NEW;
  };
  choice.addEventListener('change', showNew);
  showNew();
  const form = h('form', { class: 'form bulk-form', id: 'bulk-hold-form' },
    h('h3', null, t('catalogue.holdTitle', { n: ids.length, count: ids.length })),
    field(t('catalogue.holdChoose'), choice),
    newFields,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'bulk-hold-submit' }, t('catalogue.holdSubmit')),
      h('button', { type: 'button', class: 'btn btn-ghost', on: { click: () => done(null) } }, t('common.cancel'))),
    status.el);
  onSubmit(form, status, async (fd) => {
    let hold;
    if (choice.value === NEW) {
      const body = { name: String(fd.get('name') || '').trim(), reason: String(fd.get('reason') || '').trim() };
      const caseRef = String(fd.get('caseRef') || '').trim();
      if (caseRef) body.caseRef = caseRef;
      hold = await api.post('/v1/holds', body);
    } else {
      hold = active.find((x) => x.id === choice.value);
    }
    const rows = await addEach(hold, ids);
    done(null);
    resultsTable(holder, t('catalogue.holdResults', { name: hold.name, hold: hold.id }), rows);
    append(holder, [h('p', null, h('a', { href: `#/holds/${enc(hold.id)}`, id: 'bulk-hold-link' }, t('catalogue.holdOpen', { hold: hold.id })))]);
  });
  return form;
}

// The form of "propose a destruction": a reason, then one batch. The
// server takes the batch whole or not at all and names the first record it
// refuses; the others are then "not proposed".
function destructionForm(ids, holder, done) {
  const status = statusArea();
  const form = h('form', { class: 'form bulk-form', id: 'bulk-destroy-form' },
    h('h3', null, t('catalogue.destroyTitle', { n: ids.length, count: ids.length })),
    h('p', { class: 'hint' }, t('catalogue.destroyHint')),
    field(t('destr.reason'), h('textarea', { name: 'reason', rows: '2', maxlength: '2000', id: 'bulk-destroy-reason' })),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-danger', id: 'bulk-destroy-submit' }, t('disposition.propose')),
      h('button', { type: 'button', class: 'btn btn-ghost', on: { click: () => done(null) } }, t('common.cancel'))),
    status.el);
  onSubmit(form, status, async (fd) => {
    try {
      const batch = await api.post('/v1/destructions', { recordIds: ids, reason: String(fd.get('reason') || '').trim() });
      done(null);
      resultsTable(holder, t('catalogue.destroyResults', { batch: batch.id }),
        ids.map((id) => ({ id, ok: true, text: t('catalogue.destroyProposed', { batch: batch.id }) })));
      append(holder, [h('p', null, h('a', { href: `#/destructions/${enc(batch.id)}` }, t('catalogue.destroyOpen', { batch: batch.id })))]);
    } catch (err) {
      // A refusal about the records (409) is shown per record: the one the
      // server names with its reason, the others as not proposed; when it
      // names none (record_not_due), every record with the reason.
      if (!err || err.status !== 409) throw err;
      const named = err.params && typeof err.params.recordId === 'string' && ids.includes(err.params.recordId) ? err.params.recordId : null;
      done(null);
      const rows = ids.map((id) => {
        if (!named) return { id, ok: false, text: t('catalogue.destroyNotProposedWhy', { reason: errorText(err) }) };
        return id === named
          ? { id, ok: false, text: errorText(err) }
          : { id, ok: false, text: t('catalogue.destroyNotProposed', { id: named }) };
      });
      resultsTable(holder, t('catalogue.destroyRefused'), rows);
    }
  });
  return form;
}

function bulkBar(records, isCurrent) {
  const actions = [];
  if (session.can('exportPackage')) actions.push(['export', t('catalogue.bulkExport')]);
  if (session.can('editHolds')) actions.push(['hold', t('catalogue.bulkHold')]);
  if (session.can('proposeDestruction')) actions.push(['destroy', t('catalogue.bulkDestroy')]);
  if (actions.length === 0 || records.length === 0) return null;

  const chosen = new Set();
  const count = h('span', { class: 'bulk-count', id: 'bulk-count', 'aria-live': 'polite' }, t('catalogue.selectedNone'));
  const progress = h('p', { class: 'hint', 'aria-live': 'polite', id: 'bulk-progress' });
  const formHolder = h('div', { class: 'bulk-form-holder' });
  const results = h('div', { class: 'bulk-results', id: 'bulk-results', tabindex: '-1', hidden: true, 'aria-live': 'polite' });
  const status = statusArea();
  const buttons = [];
  const selection = {
    boxes: [],
    all: null,
    set(id, on) { if (on) chosen.add(id); else chosen.delete(id); this.update(); },
    setAll(on) { for (const b of this.boxes) { b.checked = on; if (on) chosen.add(b.value); else chosen.delete(b.value); } this.update(); },
    // A changed selection closes an open action form: it names the records
    // chosen when it was opened.
    update() {
      clear(formHolder);
      const n = chosen.size;
      count.textContent = n ? t('catalogue.selected', { n, count: n }) : t('catalogue.selectedNone');
      if (this.all) {
        this.all.checked = n > 0 && n === this.boxes.length;
        this.all.indeterminate = n > 0 && n < this.boxes.length;
      }
      for (const b of buttons) b.disabled = n === 0;
    },
  };
  const ids = () => records.map((r) => r.id).filter((id) => chosen.has(id));
  const closeForm = () => { clear(formHolder); };

  const run = async (kind, btn) => {
    status.clear();
    progress.textContent = '';
    closeForm();
    const chosenIds = ids();
    if (chosenIds.length === 0) return;
    btn.disabled = true;
    try {
      if (kind === 'export') await bulkExport(chosenIds, progress, results, isCurrent);
      else if (kind === 'hold') formHolder.appendChild(await holdForm(chosenIds, results, closeForm));
      else if (kind === 'destroy') formHolder.appendChild(destructionForm(chosenIds, results, closeForm));
      const first = formHolder.querySelector('select, input, textarea');
      if (first) first.focus();
    } catch (err) {
      status.error(err);
    } finally {
      btn.disabled = chosen.size === 0;
    }
  };
  for (const [kind, label] of actions) {
    const b = h('button', { type: 'button', class: `btn ${kind === 'destroy' ? 'btn-danger' : 'btn-secondary'}`, id: `bulk-${kind}`, disabled: true }, label);
    b.addEventListener('click', () => run(kind, b));
    buttons.push(b);
  }
  const el = h('div', { class: 'bulk', role: 'region', 'aria-label': t('catalogue.bulk') },
    h('div', { class: 'bulk-bar' }, count, h('div', { class: 'bulk-actions' }, buttons)),
    formHolder, progress, status.el, results);
  return { el, selection };
}

// ---- the page -----------------------------------------------------------

export async function cataloguePage({ query, user, isCurrent }) {
  const page = Math.max(1, parseInt(query.page || '1', 10) || 1);
  const pageSize = pageSizeOf(query);
  const params = { page, pageSize };
  for (const k of FILTERS) if (query[k]) params[k] = query[k];
  if (query.sort) {
    params.sort = query.sort;
    params.order = query.order === 'desc' ? 'desc' : 'asc';
  }

  const [result, depts] = await Promise.all([api.get('/v1/records', params), departments()]);

  const form = h('form', { class: 'search-form', role: 'search' },
    h('div', { class: 'search-main' },
      field(t('search.text'), h('input', { type: 'search', name: 'q', value: query.q || '', id: 'search-q', placeholder: t('search.placeholder') }), { class: 'grow' }),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'search-submit' }, t('search.submit')))),
    h('div', { class: 'filters' },
      field(t('field.type'), select('type', [['', t('common.any')], ...TYPES.map((v) => [v, t(`type.${v}`)])], query.type || '', { id: 'filter-type' })),
      field(t('field.department'), select('department', [['', t('common.any')], ...depts.map((d) => [d.name, d.name])], query.department || '')),
      field(t('field.classification'), select('classification', [['', t('common.any')], ...CLASSIFICATIONS.map((v) => [v, t(`class.${v}`)])], query.classification || '')),
      field(t('field.state'), select('state', [['', t('common.any')], ...RECORD_STATES.map((v) => [v, t(`state.${v}`)])], query.state || '')),
      field(t('search.createdFrom'), h('input', { type: 'date', name: 'createdFrom', value: query.createdFrom || '' })),
      field(t('search.createdTo'), h('input', { type: 'date', name: 'createdTo', value: query.createdTo || '' })),
      field(t('search.expiringWithin'), h('input', { type: 'number', min: '0', step: '1', name: 'expiringWithin', value: query.expiringWithin || '', class: 'short' }))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const changes = { page: 1 };
    for (const k of FILTERS) changes[k] = String(fd.get(k) || '').trim();
    // A sort by a type's own field means nothing once that type is gone.
    const typeKeys = Object.values(TYPE_COLUMNS).flat().map(([k]) => k);
    if (query.sort && typeKeys.includes(query.sort) && !(TYPE_COLUMNS[changes.type] || []).some(([k]) => k === query.sort)) {
      changes.sort = '';
      changes.order = '';
    }
    navigate(catalogueHash(query, changes));
  });
  for (const s of form.querySelectorAll('select')) s.addEventListener('change', () => form.requestSubmit());

  const anyFilter = FILTERS.some((k) => query[k]);
  const pages = Math.max(1, Math.ceil(result.total / pageSize));
  const count = result.totalExact
    ? t('search.count', { n: fmtNumber(result.total), count: result.total })
    : t('search.countAtLeast', { n: fmtNumber(result.total), count: result.total });

  const bulk = bulkBar(result.records, isCurrent || (() => true));
  const list = result.records.length
    ? resultTable(result.records, query, bulk ? bulk.selection : null)
    : emptyState(anyFilter ? t('search.noMatch') : t('search.emptyCatalogue'));

  return h('div', null,
    pageHeader(t('search.title'), t('search.subtitle'),
      session.can('checkIn') ? linkButton(t('nav.checkin'), '#/checkin', 'primary', { id: 'go-checkin' }) : null),
    h('section', { class: 'panel' }, h('div', { class: 'panel-body search-panel' }, form, savedPanel(user, query))),
    h('section', { class: 'panel', 'aria-label': t('search.results') },
      h('div', { class: 'panel-head' }, h('h2', null, t('search.results')),
        h('div', { class: 'panel-actions' }, h('span', { class: 'muted', id: 'result-count' }, count), pageSizeChoice(query))),
      bulk ? h('div', { class: 'panel-body bulk-body' }, bulk.el) : null,
      h('div', { class: 'panel-body flush' }, list),
      result.total > pageSize || page > 1 ? pager(query, page, pages, result.totalExact) : null),
    !result.totalExact ? notice(t('search.capped'), 'info') : null);
}
