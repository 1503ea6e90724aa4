// The auditor's page: the current signed checkpoint and the log's verifier
// key, a background verification of the whole archive with its progress and
// report, audit-package exports, and a browser over the log's entries.

import {
  h, pageHeader, section, sectionWithActions, table, dl, mono, fmtTime, fmtNumber, field, select,
  checkbox, progressBar, notice, clear, append, recordLink, emptyState,
} from '../dom.js';
import { t, eventLabel } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { statusArea, onSubmit, actionButton } from '../widgets.js';
import { TYPES } from '../model.js';

const enc = encodeURIComponent;
const LAST_VERIFY = 'custos.lastVerification';
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// A signed note: text, a blank line, signature lines "— name base64".
function parseCheckpoint(text) {
  const [body, sigs = ''] = text.split('\n\n');
  const [origin, size, root, ...extra] = body.split('\n');
  return {
    origin, size, root, extra: extra.filter(Boolean),
    signatures: sigs.split('\n').filter(Boolean).map((l) => l.replace(/^—\s*/, '')),
  };
}

async function checkpointPanel() {
  const status = statusArea();
  let body;
  try {
    const [text, key] = await Promise.all([api.get('/v1/log/checkpoint'), api.get('/v1/log/key')]);
    const cp = parseCheckpoint(text);
    body = [
      dl([
        [t('audit.origin'), mono(cp.origin)],
        [t('audit.treeSize'), h('strong', { id: 'checkpoint-size' }, cp.size)],
        [t('audit.rootHash'), h('code', { class: 'hash hash-full' }, cp.root)],
        [t('audit.signatures'), h('ul', { class: 'plain-list' }, cp.signatures.map((s) => h('li', null, h('code', { class: 'hash hash-full' }, s))))],
        [t('audit.verifierKey'), h('ul', { class: 'plain-list' }, key.split('\n').filter(Boolean).map((k) => h('li', null, h('code', { class: 'hash hash-full' }, k))))],
      ]),
      h('div', { class: 'form-actions' },
        actionButton(t('audit.saveCheckpoint'), async () => { api.saveText(text, `checkpoint-${cp.size}.txt`); }, status),
        actionButton(t('audit.saveKey'), async () => { api.saveText(key, 'log.key'); }, status)),
      h('p', { class: 'hint' }, t('audit.checkpointHint')),
    ];
  } catch (err) {
    if (err.code !== 'no_checkpoint') throw err;
    body = [emptyState(t('audit.noCheckpoint'))];
  }
  return section(t('audit.checkpoint'), body, status.el);
}

function reportView(job) {
  const out = [];
  if (job.state === 'failed') {
    out.push(notice(t('audit.verifyFailed', { error: job.error }), 'error'));
    return out;
  }
  const report = job.report || {};
  out.push(job.clean
    ? h('div', { class: 'verdict verdict-ok', id: 'verify-verdict', role: 'status' }, h('strong', null, t('audit.clean')), h('span', null, t('audit.cleanDetail', { time: fmtTime(job.finishedAt) })))
    : h('div', { class: 'verdict verdict-bad', id: 'verify-verdict', role: 'alert' }, h('strong', null, t('audit.findingsN', { n: (report.findings || []).length })), h('span', null, fmtTime(job.finishedAt))));
  const counts = report.counts || {};
  out.push(dl(Object.keys(counts).map((k) => [t(`audit.count.${k}`, {}, k), fmtNumber(counts[k])]), 'facts facts-inline'));
  if (report.findings && report.findings.length) {
    out.push(table([
      { label: t('audit.object'), cell: (f) => mono(String(f.object ?? '')) },
      { label: t('audit.problem'), cell: (f) => String(f.problem ?? ''), class: 'wrap' },
      { label: t('audit.code'), cell: (f) => mono(String(f.code ?? '')) },
    ], report.findings, '', { class: 'compact' }));
  }
  out.push(dl([
    [t('audit.job'), mono(job.id)],
    [t('record.logIndex'), job.logIndex === null ? '—' : mono(String(job.logIndex))],
    [t('audit.startedBy'), `${job.owner} · ${fmtTime(job.createdAt)}`],
  ], 'facts facts-inline'));
  return out;
}

function verifyPanel(isCurrent) {
  const status = statusArea();
  const progress = progressBar();
  progress.el.hidden = true;
  const result = h('div', { class: 'verify-result', 'aria-live': 'polite' });

  async function follow(id) {
    progress.el.hidden = false;
    for (;;) {
      if (!isCurrent()) return;
      const job = await api.get(`/v1/audit/verify/${enc(id)}`);
      if (job.state === 'done' || job.state === 'failed') {
        progress.set(1, t('audit.finished'));
        clear(result);
        append(result, reportView(job));
        run.disabled = false;
        return;
      }
      const p = job.progress || {};
      const phase = p.phase ? t(`audit.phase.${p.phase}`, {}, p.phase) : t(`jobState.${job.state}`);
      if (p.total > 0) progress.set(p.done / p.total, `${phase}: ${fmtNumber(p.done)} / ${fmtNumber(p.total)}`);
      else progress.set(null, p.done ? `${phase}: ${fmtNumber(p.done)}` : phase);
      await sleep(300);
    }
  }

  const run = h('button', { type: 'button', class: 'btn btn-primary', id: 'run-verification' }, t('audit.run'));
  run.addEventListener('click', async () => {
    run.disabled = true;
    status.clear();
    clear(result);
    try {
      const job = await api.post('/v1/audit/verify');
      try { sessionStorage.setItem(LAST_VERIFY, job.id); } catch (_) { /* not kept */ }
      await follow(job.id);
    } catch (err) {
      status.error(err);
      run.disabled = false;
    }
  });
  const last = (() => { try { return sessionStorage.getItem(LAST_VERIFY); } catch (_) { return null; } })();
  if (last) {
    follow(last).catch(() => { progress.el.hidden = true; run.disabled = false; });
  }
  return sectionWithActions(t('audit.verification'), run,
    h('p', { class: 'hint' }, t('audit.verifyHint')), progress.el, status.el, result);
}

// What the downloaded package holds, in words: never "downloaded" with
// content when it holds none, and every file whose content was withheld,
// with the reason (GET /v1/exports/{id}/job: package.filesWithContent,
// package.withheld).
function exportOutcome(status, holder, name, job, asked) {
  const summary = job.package || {};
  const records = typeof summary.records === 'number' ? summary.records : 0;
  const withContent = typeof summary.filesWithContent === 'number' ? summary.filesWithContent : 0;
  const withheld = Array.isArray(summary.withheld) ? summary.withheld : [];
  if (!asked) status.ok(t('audit.exportSavedMetadataOnly', { name, records }));
  else if (withContent === 0) status.warn(t('audit.exportSavedNoContent', { name, records }));
  else status.ok(t('audit.exportSavedContent', { name, records, n: withContent }));
  clear(holder);
  if (withheld.length === 0) return;
  append(holder, [
    h('h3', null, t('audit.withheld', { n: withheld.length })),
    h('div', { class: 'flush' }, table([
      { label: t('field.archiveNumber'), cell: (w) => recordLink(w.recordId), class: 'nowrap' },
      { label: t('record.versionShort'), cell: (w) => String(w.version), class: 'num' },
      { label: t('record.fileName'), cell: (w) => w.name, class: 'wrap' },
      { label: t('audit.withheldReason'), cell: (w) => t(`withheld.${w.reason}`, {}, w.reason) },
    ], withheld, t('common.none'), { class: 'compact' })),
  ]);
}

function exportPanel(query, isCurrent) {
  const status = statusArea();
  const progress = progressBar();
  progress.el.hidden = true;
  const withheldHolder = h('div', { class: 'withheld', id: 'export-withheld' });
  const form = h('form', { class: 'form' },
    h('div', { class: 'form-grid' },
      field(t('audit.exportRecords'), h('textarea', { name: 'recordIds', rows: '2', id: 'export-records', value: query.records || '' }), { class: 'span-2', hint: t('audit.exportRecordsHint') }),
      field(t('audit.exportQuery'), h('input', { name: 'q', id: 'export-q' })),
      field(t('field.type'), select('type', [['', t('common.any')], ...TYPES.map((v) => [v, t(`type.${v}`)])], '')),
      field(t('audit.format'), select('format', [['tar.gz', 'tar.gz'], ['zip', 'zip']], 'tar.gz')),
      checkbox(t('audit.includeContent'), { name: 'includeContent', checked: true })),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-secondary', id: 'start-export' }, t('audit.exportStart'))),
    progress.el, status.el, withheldHolder);
  onSubmit(form, status, async (fd) => {
    const ids = String(fd.get('recordIds') || '').split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
    const body = { format: fd.get('format'), includeContent: fd.get('includeContent') === 'on' };
    if (ids.length) body.recordIds = ids;
    else {
      const q = {};
      if (String(fd.get('q') || '').trim()) q.q = String(fd.get('q')).trim();
      if (fd.get('type')) q.type = fd.get('type');
      body.query = q;
    }
    clear(withheldHolder);
    const started = await api.post('/v1/exports', body);
    progress.el.hidden = false;
    // Wait on the job (its answer says what the package holds), then fetch it.
    let job = started;
    while (job.state === 'queued' || job.state === 'running') {
      if (!isCurrent()) return;
      const p = job.progress || {};
      if (p.total > 0) progress.set(p.done / p.total, `${p.phase || ''} ${fmtNumber(p.done)} / ${fmtNumber(p.total)}`);
      else progress.set(null, t(`jobState.${job.state}`));
      await sleep(400);
      job = await api.get(`/v1/exports/${enc(started.id)}/job`);
    }
    if (job.state === 'failed') {
      progress.fail(t('audit.exportFailed', { error: job.error || '' }));
      return;
    }
    if (!isCurrent()) return;
    const res = await api.download(`/v1/exports/${enc(job.id)}`, `${job.id}.${body.format}`);
    progress.set(1, t('audit.exportReady'));
    exportOutcome(status, withheldHolder, res.name, job, body.includeContent);
  });
  return section(t('audit.export'), h('p', { class: 'hint' }, t('audit.exportHint')), form);
}

function logPanel() {
  const status = statusArea();
  const out = h('div', { class: 'flush' });
  const form = h('form', { class: 'inline-form' },
    field(t('audit.logStart'), h('input', { type: 'number', name: 'start', min: '0', value: '0', required: true, class: 'short' })),
    field(t('audit.logCount'), h('input', { type: 'number', name: 'count', min: '1', max: '1000', value: '50', required: true, class: 'short' })),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('audit.logShow'))));
  onSubmit(form, status, async (fd) => {
    const start = Number(fd.get('start'));
    const end = start + Number(fd.get('count'));
    const entries = await api.get('/v1/log/entries', { start, end });
    clear(out).appendChild(table([
      { label: t('record.logIndex'), cell: (e) => mono(String(e.index)), class: 'num' },
      { label: t('hist.time'), cell: (e) => fmtTime(e.event.at), class: 'nowrap' },
      { label: t('hist.action'), cell: (e) => h('span', { title: e.event.action }, eventLabel(e.event.action)) },
      { label: t('hist.actor'), cell: (e) => e.event.actor },
      { label: t('audit.subject'), cell: (e) => (/^(CT|PD|CF|QC|GN)-\d{4}-\d+$/.test(e.event.subject) ? recordLink(e.event.subject) : mono(e.event.subject || '')) },
    ], entries, t('audit.noEntries'), { class: 'compact' }));
  });
  return section(t('audit.log'), form, status.el, out);
}

export async function auditPage({ query, isCurrent }) {
  return h('div', null,
    pageHeader(t('audit.title'), t('audit.subtitle')),
    await checkpointPanel(),
    session.can('verify') ? verifyPanel(isCurrent) : null,
    session.can('exportPackage') ? exportPanel(query, isCurrent) : null,
    session.can('readLog') ? logPanel() : null);
}
