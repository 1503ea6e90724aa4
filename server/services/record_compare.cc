// RecordService::Compare: two versions of a record side by side — files
// added, removed and changed, the catalogue changes logged between them,
// and the difference of each file pair's extracted texts (docs/api.md
// "Version comparison").
//
// The texts are read as ReadText reads one: the caller's right is decided
// in the write transaction that reads the sealed texts and logs each read
// (one content.read per text, "derived": "text", "compare": the other
// version), and the texts are opened under their files' keys only after
// that transaction committed.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/services/events.h"
#include "server/services/record_service.h"
#include "storage/file_texts.h"
#include "storage/log_leaf.h"
#include "storage/text_diff.h"

namespace custos::services {

using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using domain::Time;
using domain::Version;
using storage::FileText;
using storage::LogEvent;
using storage::TextState;
using storage::Transaction;

namespace {

// What one side of a file pair offers to the comparison.
enum class SideText { kAbsent, kText, kPending, kNoText, kFailed };

SideText SideOf(const std::optional<FileText>& row) {
  if (!row) return SideText::kPending;  // the pipeline has not looked at it yet
  switch (row->state) {
    case TextState::kText:
      return SideText::kText;
    case TextState::kNoText:
      return SideText::kNoText;
    case TextState::kFailed:
      return SideText::kFailed;
    case TextState::kPending:
    case TextState::kRetry:
      return SideText::kPending;
  }
  return SideText::kPending;
}

// The state of a pair: waiting beats failed beats no text (the answer a
// later request may change is the one to give).
CompareState PairState(SideText a, SideText b) {
  auto any = [&](SideText s) { return a == s || b == s; };
  if (any(SideText::kPending)) return CompareState::kPending;
  if (any(SideText::kFailed)) return CompareState::kFailed;
  if (any(SideText::kNoText)) return CompareState::kNoText;
  return CompareState::kDiff;
}

// The files of two versions paired by name, in name order. A version may
// hold two files of one name: the n-th of that name in `from` is paired
// with the n-th in `to`.
std::vector<FileComparison> PairFiles(const Version& from, const Version& to) {
  std::map<std::pair<std::string, int>, FileComparison> by_name;
  std::map<std::string, int> seen_from;
  std::map<std::string, int> seen_to;
  for (const StoredFile& f : from.files) {
    FileComparison& c = by_name[{f.name, seen_from[f.name]++}];
    c.name = f.name;
    c.from = f;
  }
  for (const StoredFile& f : to.files) {
    FileComparison& c = by_name[{f.name, seen_to[f.name]++}];
    c.name = f.name;
    c.to = f;
  }
  std::vector<FileComparison> out;
  for (auto& [name, c] : by_name) {
    c.change = !c.from                          ? FileChange::kAdded
               : !c.to                          ? FileChange::kRemoved
               : c.from->sha256 != c.to->sha256 ? FileChange::kChanged
                                                : FileChange::kUnchanged;
    out.push_back(std::move(c));
  }
  return out;
}

// The record.update events among `entries` logged after `after` and
// before `before` (log indices).
std::vector<MetadataChange> MetadataChanges(const std::vector<HistoryEntry>& entries,
                                            uint64_t after, uint64_t before) {
  std::vector<MetadataChange> out;
  for (const HistoryEntry& h : entries) {
    if (h.entry.index <= after || h.entry.index >= before || h.entry.redacted()) continue;
    auto leaf = storage::DecodeLeaf(h.entry.leaf);
    if (!leaf.ok() || leaf->event.action != "record.update") continue;
    MetadataChange c;
    c.log_index = h.entry.index;
    c.at = leaf->event.at;
    c.actor = leaf->event.actor;
    if (const domain::DetailValue* changed = leaf->event.details.Find("changed")) {
      if (const auto* fields = changed->AsArray()) {
        for (const domain::DetailValue& f : *fields) {
          if (const std::string* name = f.AsString()) c.fields.push_back(*name);
        }
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::string_view Name(FileChange c) {
  switch (c) {
    case FileChange::kAdded:
      return "added";
    case FileChange::kRemoved:
      return "removed";
    case FileChange::kChanged:
      return "changed";
    case FileChange::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

std::string_view Name(CompareState s) {
  switch (s) {
    case CompareState::kDiff:
      return "diff";
    case CompareState::kPending:
      return "pending";
    case CompareState::kNoText:
      return "no_text";
    case CompareState::kFailed:
      return "failed";
  }
  return "pending";
}

StatusOr<VersionComparison> RecordService::Compare(const Principal& who, const RecordId& id,
                                                   int from, int to) {
  if (from < 1 || to < 1 || from == to) {
    return Unprocessable("compare two different versions (from and to are version numbers from 1)",
                         "invalid_compare");
  }
  VersionComparison out;
  CUSTOS_ASSIGN_OR_RETURN(out.record, LoadVisible(who, id));
  std::optional<Version> found_from;
  std::optional<Version> found_to;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(found_from, tx.versions().Find(id, from));
    CUSTOS_ASSIGN_OR_RETURN(found_to, tx.versions().Find(id, to));
    return Status::Ok();
  }));
  for (auto [found, n] : {std::pair{&found_from, from}, std::pair{&found_to, to}}) {
    if (!*found)
      return NotFound("record " + id.value + " has no version " + std::to_string(n),
                      "version_not_found");
  }
  out.from = std::move(*found_from);
  out.to = std::move(*found_to);
  if (out.record.state == domain::RecordState::kDestroyed) return ContentDestroyed(id);
  for (const Version* v : {&out.from, &out.to}) {
    for (const StoredFile& f : v->files) {
      if (f.wrapped_dek.empty()) return ContentDestroyed(id);
    }
  }
  out.files = PairFiles(out.from, out.to);

  // The catalogue changes between the two check-ins, as History shows them
  // to this caller.
  CUSTOS_ASSIGN_OR_RETURN(std::vector<HistoryEntry> history, History(who, id));
  out.metadata_changes = MetadataChanges(history, std::min(out.from.log_index, out.to.log_index),
                                         std::max(out.from.log_index, out.to.log_index));

  // The right, the sealed texts and one content.read per text, in one
  // write transaction.
  struct Side {
    FileComparison* pair;
    const StoredFile* file;
    int version;
    int other;
    std::optional<FileText> row;
    std::optional<uint64_t> log_index;  // set when its text was read
  };
  std::vector<Side> sides;
  for (FileComparison& c : out.files) {
    if (c.from) sides.push_back({&c, &*c.from, from, to, std::nullopt, std::nullopt});
    if (c.to) sides.push_back({&c, &*c.to, to, from, std::nullopt, std::nullopt});
  }
  const Time now = clock_.Now();
  std::optional<Time> fresh_since;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    std::string via_loan;
    CUSTOS_ASSIGN_OR_RETURN(bool may, MayReadContentNow(tx, who, out.record, now, &via_loan));
    if (!may) {
      return PermissionDenied("reading this record's content needs an active digital loan",
                              "content_forbidden");
    }
    if (!via_loan.empty() && LentAsCopies(out.record)) return StampedCopyOnly();
    CUSTOS_ASSIGN_OR_RETURN(fresh_since, FreshAccountSince(tx, who, now, options_.account_policy));
    for (Side& s : sides) {
      CUSTOS_ASSIGN_OR_RETURN(s.row, tx.texts().Find(s.file->id));
      if (SideOf(s.row) != SideText::kText || s.row->sealed_text.empty()) continue;
      LogEvent e = ContentReadEvent(who, id, now, via_loan, fresh_since.has_value(), storage::kTextPurpose,
                                    s.version, *s.file);
      e.details.Set("compare", s.other);
      CUSTOS_ASSIGN_OR_RETURN(s.log_index, tx.log().Append(e));
    }
    return Status::Ok();
  }));
  for (const Side& s : sides) {
    if (!s.log_index) continue;
    out.log_indexes.push_back(*s.log_index);
    if (fresh_since && options_.fresh_reads != nullptr) {
      options_.fresh_reads->Add({who.username.value, who.role, id, s.version, s.file->id, now,
                                 *fresh_since, *s.log_index});
    }
  }

  // The texts, opened under their files' keys, and the diffs.
  std::map<const FileComparison*, std::pair<SideText, SideText>> states;
  std::map<const FileComparison*, std::pair<std::string, std::string>> texts;
  for (FileComparison& c : out.files) {
    states[&c] = {c.from ? SideText::kPending : SideText::kAbsent,
                  c.to ? SideText::kPending : SideText::kAbsent};
  }
  for (Side& s : sides) {
    const bool is_from = s.version == from;
    SideText state = SideOf(s.row);
    if (state == SideText::kText && !s.row->sealed_text.empty()) {
      auto text = content_.OpenDerived(*s.file, storage::kTextPurpose, s.row->sealed_text);
      if (!text.ok() && text.status().reason() == storage::kContentDestroyed)
        return ContentDestroyed(id);
      if (!text.ok()) return text.status();
      (is_from ? texts[s.pair].first : texts[s.pair].second) = std::move(text).value();
    }
    (is_from ? states[s.pair].first : states[s.pair].second) = state;
  }
  for (FileComparison& c : out.files) {
    const auto [a, b] = states[&c];
    c.state = PairState(a, b);
    if (c.state == CompareState::kDiff)
      c.diff = storage::DiffTexts(texts[&c].first, texts[&c].second);
  }
  return out;
}

}  // namespace custos::services
