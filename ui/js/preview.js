// Previews of a file's content (docs/ui.md "Previews"): the page images the
// server renders (GET …/preview?page=P&size=thumb|page, a content read it
// logs like a download), a first-page thumbnail, a page viewer, and the
// download of a file that may come back as a copy stamped for a loan.
//
// The images arrive with the bearer token (fetch with an Authorization
// header) and go into <img> as data: URLs: the UI's Content-Security-Policy
// allows images from 'self' and data: only, not blob:. Nothing of an image
// is written to storage; a data: URL lives as long as its element.

import { h, clear, append, button, notice } from './dom.js';
import { t, errorText } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';

const enc = encodeURIComponent;

export function filePath(recordId, version, fileId) {
  return `/v1/records/${enc(recordId)}/versions/${version}/files/${enc(fileId)}`;
}

// The number of pages a file can be previewed in, or 0 when it cannot
// (the record detail gives `preview: {pages}` for PDFs and images once the
// content pipeline has seen them).
export function previewPages(file) {
  const p = file && !file.destroyed && file.preview ? Number(file.preview.pages) : 0;
  return Number.isFinite(p) && p > 0 ? p : 0;
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener('load', () => resolve(String(reader.result)));
    reader.addEventListener('error', () => reject(reader.error));
    reader.readAsDataURL(blob);
  });
}

// Thumbnails already fetched in this session, by path, so that a page
// drawn again (after an action, a language switch) does not read and log
// the same thumbnail again. Page images are not kept. At most THUMBS_KEPT.
const THUMBS_KEPT = 60;
const thumbs = new Map();
let thumbsToken = null;  // the session the kept thumbnails belong to

// One page image: {src (a data: URL), pages (from X-Custos-Pages), logIndex}.
export async function pageImage(recordId, version, fileId, page, size = 'page') {
  // Another session (sign-out, another user) drops what the last one saw.
  if (session.token() !== thumbsToken) { thumbs.clear(); thumbsToken = session.token(); }
  const key = `${recordId}|${version}|${fileId}|${page}|${size}`;
  if (size === 'thumb' && thumbs.has(key)) return thumbs.get(key);
  const { blob, headers } = await api.fetchBlob(`${filePath(recordId, version, fileId)}/preview`, { page, size });
  const image = {
    src: await dataUrl(blob),
    pages: Number(headers.get('X-Custos-Pages')) || 0,
    logIndex: headers.get('X-Custos-Log-Index'),
  };
  if (size === 'thumb' && session.token() === thumbsToken) {
    if (thumbs.size >= THUMBS_KEPT) thumbs.delete(thumbs.keys().next().value);
    thumbs.set(key, image);
  }
  return image;
}

// Runs `load` once the element comes near the viewport (or at once where
// IntersectionObserver is missing).
export function whenVisible(el, load) {
  if (typeof IntersectionObserver !== 'function') { load(); return; }
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      observer.disconnect();
      load();
    }
  }, { rootMargin: '200px' });
  observer.observe(el);
}

// A first-page thumbnail of a file, loaded when it comes into view. With
// `onOpen` it is a button that opens the viewer; else a plain image.
export function thumbnail(recordId, version, file, { onOpen, href } = {}) {
  const alt = t('record.thumbAlt', { name: file.name });
  const img = h('img', { class: 'thumb-img', alt, width: '72', hidden: true });
  const holder = h('span', { class: 'thumb-holder', 'aria-hidden': 'true' });
  const label = t('record.previewNamed', { name: file.name });
  let wrap;
  if (onOpen) wrap = button([holder, img], onOpen, 'ghost', { class: 'thumb', 'aria-label': label, dataset: { action: 'thumb', file: file.name, version } });
  else if (href) wrap = h('a', { class: 'thumb', href, 'aria-label': label }, holder, img);
  else wrap = h('span', { class: 'thumb' }, holder, img);
  wrap.classList.add('thumb');
  whenVisible(wrap, async () => {
    try {
      const image = await pageImage(recordId, version, file.id, 1, 'thumb');
      img.src = image.src;
      img.hidden = false;
      holder.remove();
      wrap.dataset.state = 'loaded';
    } catch (err) {
      holder.textContent = '—';
      holder.removeAttribute('aria-hidden');
      wrap.title = errorText(err);
      wrap.dataset.state = 'failed';
    }
  });
  return wrap;
}

// The page viewer of one file: the page image with its alt text, previous
// and next, "page n of N" announced politely, the keyboard (← → PageUp
// PageDown Home End on the image; Escape closes). Returns the element;
// call .focus() on it after insertion.
export function pageViewer(recordId, version, file, { onClose, startPage = 1 } = {}) {
  let pages = previewPages(file) || 1;
  let page = Math.min(Math.max(1, startPage), pages);
  let seq = 0;
  const heading = h('h4', { class: 'viewer-title' }, t('record.previewOf', { name: file.name, v: version }));
  const img = h('img', { class: 'viewer-img', alt: '' });
  const frame = h('div', {
    class: 'viewer-frame', tabindex: '0', role: 'group',
    'aria-label': t('record.viewerKeys', { name: file.name }),
  }, img);
  const position = h('span', { class: 'viewer-pos', 'aria-live': 'polite' });
  const problem = h('div', { class: 'viewer-problem' });
  const prev = button(t('record.prevPage'), () => show(page - 1), 'secondary', { class: 'btn btn-secondary viewer-prev', dataset: { action: 'prev-page' } });
  const next = button(t('record.nextPage'), () => show(page + 1), 'secondary', { class: 'btn btn-secondary viewer-next', dataset: { action: 'next-page' } });
  const close = onClose ? button(t('record.closePreview'), onClose, 'link', { class: 'btn btn-link viewer-close', dataset: { action: 'close-preview' } }) : null;
  const el = h('div', { class: 'viewer', dataset: { file: file.id, version } },
    heading, h('div', { class: 'viewer-bar' }, prev, position, next, close), problem, frame);

  function draw() {
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
    position.textContent = t('record.pageOf', { page, pages });
    el.dataset.page = String(page);
  }

  async function show(p) {
    if (p < 1 || p > pages) return;
    page = p;
    const mine = ++seq;
    draw();
    el.setAttribute('aria-busy', 'true');
    clear(problem);
    try {
      const image = await pageImage(recordId, version, file.id, p, 'page');
      if (mine !== seq) return;
      if (image.pages) pages = image.pages;
      img.src = image.src;
      img.alt = t('record.pageAlt', { name: file.name, page: p, pages });
      el.dataset.logIndex = image.logIndex || '';
      el.dataset.loaded = String(p);
      draw();
    } catch (err) {
      if (mine !== seq) return;
      img.removeAttribute('src');
      img.alt = '';
      append(problem, [notice(errorText(err), 'error')]);
    } finally {
      if (mine === seq) el.removeAttribute('aria-busy');
    }
  }

  frame.addEventListener('keydown', (e) => {
    const go = { ArrowLeft: page - 1, PageUp: page - 1, ArrowRight: page + 1, PageDown: page + 1, Home: 1, End: pages }[e.key];
    if (go !== undefined) { e.preventDefault(); show(go); }
  });
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && onClose) { e.preventDefault(); onClose(); }
  });
  el.focus = () => frame.focus();
  draw();
  show(page);
  return el;
}

// The extracted text of a file in the viewer's place: a scrollable <pre>
// filled through textContent (GET …/text, a logged read).
export async function textViewer(recordId, version, file, { onClose } = {}) {
  const res = await api.get(`${filePath(recordId, version, file.id)}/text`);
  const text = typeof res.text === 'string' ? res.text : '';
  const pre = h('pre', { class: 'extracted-text', tabindex: '0', 'aria-label': t('record.textOf', { name: file.name, v: version }) });
  pre.textContent = text;
  const el = h('div', { class: 'file-text', dataset: { file: file.id } },
    h('h4', null, t('record.textOf', { name: file.name, v: version })),
    text ? pre : h('p', { class: 'muted' }, t('record.textEmpty')),
    onClose ? button(t('record.hideText'), onClose, 'link', { class: 'btn btn-link hide-text' }) : null);
  el.focus = () => (text ? pre.focus() : null);
  return el;
}

// Downloads a file's content. The answer may be a copy stamped for the
// caller's loan (X-Custos-Copy: stamped): the message then says that the
// copy is traceable to the loan.
export async function downloadFile(recordId, version, file) {
  const info = await api.download(filePath(recordId, version, file.id), file.name);
  const stamped = info.copy === 'stamped';
  return {
    ...info,
    stamped,
    message: stamped
      ? t('record.downloadedStamped', { name: info.name, loan: info.loan || '—', index: info.logIndex ?? '—' })
      : t('record.downloaded', { name: info.name, index: info.logIndex ?? '—' }),
  };
}
