#include "storage/replay.h"

#include <algorithm>
#include <map>

#include "crypto/hash.h"
#include "storage/log_leaf.h"

namespace custos::storage {

namespace {

constexpr std::string_view kImageTable = "table";
constexpr std::string_view kImageKey = "key";
constexpr std::string_view kImageColumns = "columns";
constexpr std::string_view kImageDeleted = "deleted";
// Longest value a finding quotes whole; longer ones are quoted around
// their first difference.
constexpr size_t kQuoteWhole = 160;
constexpr size_t kQuoteBefore = 40;
constexpr size_t kQuoteAfter = 100;

std::string MapKey(std::string_view table, std::string_view key) {
  std::string k;
  k.reserve(table.size() + key.size() + 1);
  k.append(table);
  k.push_back('\0');
  k.append(key);
  return k;
}

std::string RowName(std::string_view table, std::string_view key) {
  return "row " + std::string(table) + " " + std::string(key);
}

std::string EntryText(uint64_t index) { return "entry " + std::to_string(index); }

Status Malformed(const std::string& why) {
  return InvalidArgument("state image: " + why, "state_image_malformed");
}

// Moves `at` back to the start of a UTF-8 character.
size_t CharStart(std::string_view s, size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return std::min(at, s.size());
}

// `value` quoted for a finding; a long one shown around byte `diff`.
std::string Quote(std::string_view value, size_t diff) {
  if (value.size() <= kQuoteWhole) return "'" + std::string(value) + "'";
  size_t from = CharStart(value, diff > kQuoteBefore ? diff - kQuoteBefore : 0);
  size_t to = CharStart(value, std::min(value.size(), diff + kQuoteAfter));
  return std::string("'") + (from > 0 ? "…" : "") + std::string(value.substr(from, to - from)) +
         (to < value.size() ? "…" : "") + "' (" + std::to_string(value.size()) + " bytes)";
}

size_t FirstDifference(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// The columns of an image by name.
std::map<std::string, std::string> ColumnMap(const RowImage& image) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : image.columns) out[name] = value;
  return out;
}

}  // namespace

domain::DetailValue ImageDetail(const RowImage& image) {
  domain::EventDetails o;
  o.Set(kImageTable, image.table);
  o.Set(kImageKey, image.key);
  if (image.deleted) {
    o.Set(kImageDeleted, true);
  } else {
    domain::EventDetails columns;
    for (const auto& [name, value] : image.columns) columns.Set(name, value);
    o.Set(kImageColumns, std::move(columns));
  }
  return o;
}

domain::DetailValue ImagesDetail(const std::vector<RowImage>& images) {
  domain::DetailValue::Array out;
  out.reserve(images.size());
  for (const RowImage& image : images) out.push_back(ImageDetail(image));
  return out;
}

StatusOr<RowImage> ImageFromDetail(const domain::DetailValue& value) {
  const domain::EventDetails* o = value.AsObject();
  if (o == nullptr) return Malformed("an element of rows is not an object");
  std::optional<std::string> table = o->String(kImageTable);
  std::optional<std::string> key = o->String(kImageKey);
  if (!table || !key || table->empty()) return Malformed("an image lacks its table or key");
  RowImage image;
  image.table = std::move(*table);
  image.key = std::move(*key);
  if (o->Has(kImageDeleted)) {
    if (o->Bool(kImageDeleted) != true || o->size() != 3) {
      return Malformed("image of " + image.table + " " + image.key + ": a deleted row has only table and key");
    }
    image.deleted = true;
    return image;
  }
  const domain::EventDetails* columns = o->Object(kImageColumns);
  if (columns == nullptr || o->size() != 3) {
    return Malformed("image of " + image.table + " " + image.key + " has no columns");
  }
  image.columns.reserve(columns->size());
  for (const auto& [name, v] : columns->members()) {
    const std::string* text = v.AsString();
    if (text == nullptr) {
      return Malformed("image of " + image.table + " " + image.key + ": column " + name + " is not text");
    }
    image.columns.emplace_back(name, *text);
  }
  return image;
}

size_t ImageJsonBytes(const RowImage& image) {
  size_t n = 48 + image.table.size() + image.key.size();
  for (const auto& [name, value] : image.columns) n += name.size() + value.size() + 6;
  return n;
}

std::vector<std::vector<RowImage>> ChunkImages(std::vector<RowImage> images) {
  std::vector<std::vector<RowImage>> chunks;
  size_t bytes = 0;
  for (RowImage& image : images) {
    size_t n = ImageJsonBytes(image);
    if (chunks.empty() || (bytes + n > kStateChunkBytes && !chunks.back().empty())) {
      chunks.emplace_back();
      bytes = 0;
    }
    chunks.back().push_back(std::move(image));
    bytes += n;
  }
  return chunks;
}

LogEvent StateRowsEvent(const std::vector<RowImage>& images, domain::Time at) {
  LogEvent e;
  e.action = std::string(kStateRowsAction);
  e.actor = std::string(kStateActor);
  e.at = at;
  // The subject is the first image's key (a leaf's subject has at most
  // kMaxLeafFieldBytes and must not be empty).
  std::string subject = images.front().key.substr(0, CharStart(images.front().key, kMaxLeafFieldBytes));
  e.subject = subject.empty() ? std::string(kStateBaselineSubject) : subject;
  e.details.Set(kDetailRows, ImagesDetail(images));
  return e;
}

crypto::Digest32 ImageDigest(const RowImage& image) {
  RowImage sorted;
  sorted.table = image.table;
  sorted.key = image.key;
  sorted.columns = image.columns;
  std::sort(sorted.columns.begin(), sorted.columns.end());
  return crypto::Sha256Of(SealInput(sorted));
}

void StateReplay::Fold(uint64_t index, const LogEvent& event) {
  if (event.action == kStateBaselineAction) baseline_seen_ = true;
  const domain::DetailValue::Array* rows = event.details.Array(kDetailRows);
  if (index == 0 && rows != nullptr) first_entry_has_rows_ = true;
  if (rows == nullptr) {
    if (event.details.Has(kDetailRows)) {
      fold_findings_.push_back({"log entry " + std::to_string(index), "details.rows is not an array",
                                "state_image_malformed"});
    }
    return;
  }
  // Parsed whole first: a malformed entry changes nothing.
  std::vector<RowImage> images;
  images.reserve(rows->size());
  for (const domain::DetailValue& v : *rows) {
    StatusOr<RowImage> image = ImageFromDetail(v);
    if (!image.ok()) {
      fold_findings_.push_back({"log entry " + std::to_string(index), image.status().message(),
                                image.status().reason()});
      return;
    }
    images.push_back(std::move(*image));
  }
  for (const RowImage& image : images) {
    std::string key = MapKey(image.table, image.key);
    if (image.deleted) {
      rows_.erase(key);
    } else {
      rows_[std::move(key)] = {ImageDigest(image), index};
    }
  }
}

Status StateReplay::Compare(Transaction& tx, std::vector<Finding>& findings, uint64_t& compared) {
  compared = 0;
  if (!covers_state()) return Status::Ok();
  std::vector<Finding> not_in_log;
  CUSTOS_RETURN_IF_ERROR(tx.ForEachLogImage([&](const RowImage& stored) -> Status {
    ++compared;
    auto it = rows_.find(MapKey(stored.table, stored.key));
    if (it == rows_.end()) {
      not_in_log.push_back({RowName(stored.table, stored.key),
                            "the log never created this row (no event carries its image)",
                            "row_not_in_log"});
      return Status::Ok();
    }
    if (ImageDigest(stored) != it->second.digest) {
      CUSTOS_RETURN_IF_ERROR(CompareRow(tx, stored, it->second, findings));
    }
    rows_.erase(it);
    return Status::Ok();
  }));
  findings.insert(findings.end(), not_in_log.begin(), not_in_log.end());
  // What is left the log created and nothing deleted: the row is missing.
  std::vector<std::pair<std::string, uint64_t>> missing;
  missing.reserve(rows_.size());
  for (const auto& [key, logged] : rows_) missing.emplace_back(key, logged.index);
  std::sort(missing.begin(), missing.end());
  for (const auto& [key, index] : missing) {
    size_t zero = key.find('\0');
    findings.push_back({RowName(key.substr(0, zero), key.substr(zero + 1)),
                        "the log created this row and never deleted it (" + EntryText(index) +
                            "), but it is missing",
                        "row_missing"});
  }
  rows_.clear();
  return Status::Ok();
}

Status StateReplay::CompareRow(Transaction& tx, const RowImage& stored, const Logged& logged,
                               std::vector<Finding>& findings) {
  const std::string name = RowName(stored.table, stored.key);
  // Read back the image the entry carries (its last one for this row).
  CUSTOS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries, tx.log().Entries(logged.index, logged.index + 1, 1));
  std::optional<RowImage> implied;
  if (!entries.empty()) {
    if (StatusOr<DecodedLeaf> leaf = DecodeLeaf(entries.front().leaf); leaf.ok()) {
      if (const domain::DetailValue::Array* rows = leaf->event.details.Array(kDetailRows)) {
        for (const domain::DetailValue& v : *rows) {
          StatusOr<RowImage> image = ImageFromDetail(v);
          if (image.ok() && image->table == stored.table && image->key == stored.key) implied = std::move(*image);
        }
      }
    }
  }
  if (!implied) {
    findings.push_back({name, "differs from the image " + EntryText(logged.index) + " carries, which cannot be read back",
                        "row_differs"});
    return Status::Ok();
  }
  std::map<std::string, std::string> have = ColumnMap(stored);
  std::map<std::string, std::string> want = ColumnMap(*implied);
  const std::string absent = "(absent)";
  for (const auto& [column, value] : have) {
    auto w = want.find(column);
    const std::string& expected = w == want.end() ? absent : w->second;
    if (w != want.end() && w->second == value) continue;
    size_t diff = FirstDifference(value, expected);
    findings.push_back({name,
                        "column " + column + " is " + Quote(value, diff) + ", the log implies " +
                            Quote(expected, diff) + " (" + EntryText(logged.index) + ")",
                        "row_differs"});
  }
  for (const auto& [column, value] : want) {
    if (have.count(column) != 0) continue;
    findings.push_back({name,
                        "column " + column + " is " + absent + ", the log implies " + Quote(value, 0) +
                            " (" + EntryText(logged.index) + ")",
                        "row_differs"});
  }
  return Status::Ok();
}

StatusOr<bool> NeedsStateBaseline(MetadataStore& store) {
  bool needed = false;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    if (size == 0) return Status::Ok();
    CUSTOS_ASSIGN_OR_RETURN(std::vector<LogEntry> first, tx.log().Entries(0, 1, 1));
    if (!first.empty()) {
      StatusOr<DecodedLeaf> leaf = DecodeLeaf(first.front().leaf);
      if (leaf.ok() && leaf->event.details.Has(kDetailRows)) return Status::Ok();
    }
    // Baselines are the only events whose subject is "state".
    CUSTOS_ASSIGN_OR_RETURN(std::vector<LogEntry> baselines,
                            tx.log().EntriesForSubject(std::string(kStateBaselineSubject), 16));
    for (const LogEntry& e : baselines) {
      StatusOr<DecodedLeaf> leaf = DecodeLeaf(e.leaf);
      if (leaf.ok() && leaf->event.action == kStateBaselineAction) return Status::Ok();
    }
    needed = true;
    return Status::Ok();
  }));
  return needed;
}

StatusOr<uint64_t> AppendStateBaseline(MetadataStore& store, domain::Time at) {
  CUSTOS_ASSIGN_OR_RETURN(bool needed, NeedsStateBaseline(store));
  if (!needed) return uint64_t{0};
  uint64_t appended = 0;
  CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
    appended = 0;
    std::vector<RowImage> chunk;
    size_t bytes = 0;
    auto append = [&]() -> Status {
      LogEvent e;
      e.action = std::string(kStateBaselineAction);
      e.actor = std::string(kStateActor);
      e.subject = std::string(kStateBaselineSubject);
      e.at = at;
      e.details.Set("part", static_cast<int64_t>(appended + 1));
      e.details.Set(kDetailRows, ImagesDetail(chunk));
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      ++appended;
      chunk.clear();
      bytes = 0;
      return Status::Ok();
    };
    CUSTOS_RETURN_IF_ERROR(tx.ForEachLogImage([&](const RowImage& image) -> Status {
      size_t n = ImageJsonBytes(image);
      if (!chunk.empty() && bytes + n > kStateChunkBytes) CUSTOS_RETURN_IF_ERROR(append());
      chunk.push_back(image);
      bytes += n;
      return Status::Ok();
    }));
    // An archive with no authority row at all still gets one (empty)
    // baseline, so that its replay runs.
    if (!chunk.empty() || appended == 0) CUSTOS_RETURN_IF_ERROR(append());
    return Status::Ok();
  }));
  return appended;
}

}  // namespace custos::storage
