// Catalogue thumbnails (issue #25): the first page of a record's newest
// previewable file, for callers who may read it. The catalogue calls
// thumbnailCell(record) for every hit and shows a thumbnail column only
// when at least one answer is not null; null means "no thumbnail", and is
// what this placeholder answers until the previews land.

// record: one entry of GET /v1/records `records`. Returns a node (or
// null); it must not throw.
export function thumbnailCell(record) { // eslint-disable-line no-unused-vars
  return null;
}
