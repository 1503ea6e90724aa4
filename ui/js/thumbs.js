// Catalogue thumbnails (issue #25): the first page of a record's newest
// previewable file, for callers who may read it. The catalogue calls
// thumbnailCell(record) for every hit and shows a thumbnail column only
// when at least one answer is not null; null means "no thumbnail".
//
// A search hit carries no files and no loans, so the decision is made from
// what the hit has (session.mayReadContent: an archivist below secret,
// legal for contracts); a reader through a loan gets no thumbnail in the
// catalogue (the record and loan pages show one). Nothing is fetched until
// the cell comes into view: then the record's detail, and the thumbnail of
// the newest version's first previewable file (a logged content read,
// kept for the tab so that drawing the page again reads it once).

import { h } from './dom.js';
import { t } from './i18n.js';
import * as api from './api.js';
import * as session from './session.js';
import { previewPages, pageImage, whenVisible } from './preview.js';

const enc = encodeURIComponent;

// The newest version's first previewable file, or null.
async function firstPreviewable(recordId) {
  const detail = await api.get(`/v1/records/${enc(recordId)}`);
  for (const v of [...detail.versions].reverse()) {
    const f = v.files.find((x) => previewPages(x) > 0);
    if (f) return { version: v.number, file: f };
  }
  return null;
}

// record: one entry of GET /v1/records `records`. Returns a node (or
// null); it must not throw.
export function thumbnailCell(record) {
  try {
    if (!record || !session.mayReadContent(record)) return null;
    // An image, not a link: the row's archive number already leads to the
    // record, and a second link would be a second tab stop per row.
    const link = h('span', { class: 'thumb thumb-small', dataset: { record: record.id, state: 'waiting' } });
    whenVisible(link, async () => {
      try {
        const found = await firstPreviewable(record.id);
        if (!found) { link.dataset.state = 'none'; return; }
        const image = await pageImage(record.id, found.version, found.file.id, 1, 'thumb');
        link.append(h('img', { class: 'thumb-img', src: image.src, alt: t('catalogue.thumbOf', { id: record.id, name: found.file.name }), width: '60' }));
        link.dataset.state = 'loaded';
      } catch (_) {
        link.dataset.state = 'failed';  // no thumbnail: the row says the rest
      }
    });
    return link;
  } catch (_) {
    return null;
  }
}
