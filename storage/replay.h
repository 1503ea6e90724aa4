// State as a replay of the audit log (issue 22 item 2; DESIGN §5, §7;
// docs/formats/audit-log.md "State images").
//
// Every write function's row changes ride on its events as kLog row images
// (storage/row_image.h) in the member details.rows:
//
//   "rows":[{"table":"users","key":"bob","columns":{"role":"staff",…}},
//           {"table":"sessions","key":"9f…","deleted":true}]
//
// SqlLog (storage/sql_repositories.cc) puts them there; this file defines
// their JSON form, the `state.rows` and `state.baseline` events that carry
// images no service event could, and the replay: the images of every leaf
// folded in log order into (table, key) → newest image, compared with the
// kLog images of the stored rows, both ways.
//
// Thread safety: the free functions are pure; a StateReplay belongs to one
// thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "domain/event_details.h"
#include "storage/metadata_store.h"
#include "storage/row_image.h"
#include "storage/verifier.h"

namespace custos::storage {

// The details member holding an event's row images.
inline constexpr std::string_view kDetailRows = "rows";
// An event carrying the images of a write function that logged nothing
// itself, or those that did not fit on its last event.
inline constexpr std::string_view kStateRowsAction = "state.rows";
// An event carrying the images of the rows as they were when a log written
// before images existed was first opened by this version; the replay starts
// from it.
inline constexpr std::string_view kStateBaselineAction = "state.baseline";
// Actor of both; subject of state.baseline (a state.rows event's subject
// is the key of its first image).
inline constexpr std::string_view kStateActor = "system:custos";
inline constexpr std::string_view kStateBaselineSubject = "state";
// The most bytes of images one state event carries (estimated before
// encoding: ImageJsonBytes); well under kBundleLeafBytes, so escapes
// (a JSON column value's quotes, at worst doubling it) do not push the leaf
// over what an entry bundle of the tiles read API carries.
inline constexpr size_t kStateChunkBytes = 28 * 1024;

// {"table","key","columns":{…}} or {"table","key","deleted":true}.
domain::DetailValue ImageDetail(const RowImage& image);
// The details' `rows` value for `images`.
domain::DetailValue ImagesDetail(const std::vector<RowImage>& images);
// The image a `rows` element names. kInvalidArgument "state_image_malformed"
// if it is not one of the two forms above (string values only).
StatusOr<RowImage> ImageFromDetail(const domain::DetailValue& value);
// An upper estimate of ImageDetail(image)'s JSON size without escapes.
size_t ImageJsonBytes(const RowImage& image);
// `images` split, in order, into groups of at most kStateChunkBytes
// (estimated); an image larger than that is a group of its own.
std::vector<std::vector<RowImage>> ChunkImages(std::vector<RowImage> images);

// The state.rows event for `images` (non-empty) at `at`.
LogEvent StateRowsEvent(const std::vector<RowImage>& images, domain::Time at);

// The replay. Feed it every leaf in log order (Fold), then Compare.
// Memory: one entry per row the log says exists (key, a digest of its
// image, the index of the entry that wrote it), whatever the log's length.
class StateReplay {
 public:
  // Folds the `rows` of entry `index`; a malformed member is a finding
  // (state_image_malformed) and the entry's images are skipped.
  void Fold(uint64_t index, const LogEvent& event);

  // Whether the log speaks for every row: it holds a state.baseline, or its
  // first entry carries images (an archive written by this version from the
  // start). A log without either was written before images existed and has
  // not been opened by this version for writing; Compare then checks
  // nothing.
  bool covers_state() const { return baseline_seen_ || first_entry_has_rows_; }

  // Compares the folded state with every stored row of the authority tables
  // (Transaction::ForEachLogImage), field by field, both ways; appends
  // findings row_differs, row_not_in_log, row_missing. Reads back the entry
  // that wrote a differing row to name its columns. Returns the number of
  // stored rows compared through `compared`. Fails only when the store
  // cannot be read.
  Status Compare(Transaction& tx, std::vector<Finding>& findings, uint64_t& compared);

  // Findings made while folding.
  std::vector<Finding>& fold_findings() { return fold_findings_; }

 private:
  struct Logged {
    crypto::Digest32 digest;
    uint64_t index;
  };
  Status CompareRow(Transaction& tx, const RowImage& stored, const Logged& logged,
                    std::vector<Finding>& findings);

  std::unordered_map<std::string, Logged> rows_;  // table '\0' key → newest image
  std::vector<Finding> fold_findings_;
  bool baseline_seen_ = false;
  bool first_entry_has_rows_ = false;
};

// The digest the replay compares: SHA-256 over table, key and the columns
// sorted by name (SealInput's framing), so the column order of a log image
// (canonical JSON sorts names) and of a stored one do not matter.
crypto::Digest32 ImageDigest(const RowImage& image);

// Whether `store`'s log needs a state.baseline: it has entries, none is a
// state.baseline and its first entry carries no images.
StatusOr<bool> NeedsStateBaseline(MetadataStore& store);

// Appends state.baseline events carrying the kLog image of every stored
// authority row, chunked under the leaf limit, in one write (one
// checkpoint), if NeedsStateBaseline. `at` is their time. Returns how many
// events it appended (0 when none was needed). The write's failures (on an
// SQLite copy without signing custody: kUnavailable signing_not_promoted).
StatusOr<uint64_t> AppendStateBaseline(MetadataStore& store, domain::Time at);

}  // namespace custos::storage
