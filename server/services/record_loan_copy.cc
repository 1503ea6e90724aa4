// RecordService: stamped loan copies (docs/security.md "Loan copies").
//
// A caller who may read a record's content only through a checked-out
// digital loan, of a record whose classification is configured for it,
// gets a copy stamped on every page with the borrower, the loan, its due
// date and the time it was made. The plaintext is read into memory, the
// worker custos-stamp (docs/formats/stamp.md) makes the copy in its own
// process under the extraction limits, and the copy's SHA-256 goes into
// the content.read event, written in the transaction that decides the
// right, before a byte is served. Nothing of it touches the disk.
#include <algorithm>
#include <csignal>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "server/services/loan.h"
#include "server/services/record_service.h"

namespace custos::services {

using domain::Time;
using storage::LogEvent;
using storage::Transaction;

namespace {

// custos-stamp's exit codes (docs/formats/stamp.md).
constexpr int kStampOk = 0;
constexpr int kStampUnreadable = 3;
constexpr int kStampOutOfMemory = 4;
constexpr int kStampTooLarge = 5;
constexpr int kStampUnsupported = 6;
constexpr std::string_view kStampHeader = "custos-stamp/1 ";

Status CopyFailed(const std::string& why, const std::string& reason) {
  return Unavailable("the loan copy could not be made: " + why, "copy_failed")
      .WithParam("reason", reason);
}

// The server's local time, for the stamp next to the UTC time.
std::string LocalTime(Time t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

std::string Cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // a character boundary
  return s.substr(0, n) + "...";
}

// The stamp: what a copy found outside must say about where it came from.
std::vector<std::string> StampLines(const Principal& who, const domain::Loan& loan, int version,
                                    const domain::StoredFile& file, Time now) {
  return {
      "Custos loan copy 借阅副本 - " + loan.id + " - not the original",
      "Borrower: " + who.username.value + " (" + Cut(who.department, 60) + ")",
      "Loan " + loan.id + " due " + domain::FormatTime(loan.due_at),
      "Made " + domain::FormatTime(now) + " (server time " + LocalTime(now) + ")",
      "Record " + loan.record_id.value + " version " + std::to_string(version) + " file " +
          file.id.value,
  };
}

StatusOr<std::string> ReadWhole(ByteSource& source, uint64_t size, size_t max) {
  if (size > max) return CopyFailed("the file is larger than the copy limit", "too_large");
  std::string bytes(static_cast<size_t>(size), '\0');
  CUSTOS_ASSIGN_OR_RETURN(size_t got,
                          ReadFull(source, reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()));
  if (got != bytes.size()) return DataLoss("content ended early", "content_truncated");
  uint8_t extra = 0;
  CUSTOS_ASSIGN_OR_RETURN(size_t more, source.Read(&extra, 1));
  if (more != 0) return DataLoss("content longer than recorded", "content_truncated");
  return bytes;
}

// Runs custos-stamp and turns every way it can end into the copy or a
// Status (copy_unsupported, copy_failed with a reason).
StatusOr<LoanCopy> RunStamp(const RecordOptions& options, const std::string& plaintext,
                            const std::vector<std::string>& lines) {
  ExtractionLimits limits = options.stamp_limits;
  limits.max_document_bytes = std::max(limits.max_document_bytes, plaintext.size());
  // A stamped PDF is the original plus a page's worth of overlay; an image
  // becomes a PNG, which may be larger than a JPEG.
  limits.max_output_bytes =
      std::max(limits.max_output_bytes, plaintext.size() * 4 + (size_t{16} << 20));
  std::vector<std::string> argv = {options.stamp_worker, "--max-bytes",
                                   std::to_string(limits.max_document_bytes)};
  for (const std::string& line : lines) {
    argv.push_back("--line");
    argv.push_back(line);
  }
  WorkerRun run = RunWorker(limits, argv, plaintext);
  if (!run.started) return CopyFailed("the stamp worker could not be started", "failed");
  if (run.timed_out) return CopyFailed("the stamp worker ran out of time", "timeout");
  if (run.output_over_cap) return CopyFailed("the copy is larger than the output limit", "limit");
  if (!run.exited)
    return CopyFailed("the stamp worker crashed",
                      run.signal == SIGXCPU || run.signal == SIGKILL ? "limit" : "crashed");
  if (run.err.find("AddressSanitizer") != std::string::npos)
    return CopyFailed("the stamp worker crashed", "crashed");
  if (run.err.find("rss limit exhausted") != std::string::npos)
    return CopyFailed("the stamp worker ran out of memory", "limit");
  switch (run.exit_code) {
    case kStampOk:
      break;
    case kStampUnsupported:
      return Unprocessable(
          "a loan copy of this file's type cannot be stamped, and an unstamped copy is not given",
          "copy_unsupported");
    case kStampUnreadable:
      return CopyFailed("the document is damaged", "unreadable");
    case kStampOutOfMemory:
    case kStampTooLarge:
      return CopyFailed("the document is over the stamp worker's limits", "limit");
    default:
      return CopyFailed("the stamp worker failed", "failed");
  }
  size_t eol = run.out.find('\n');
  if (eol == std::string::npos || run.out.compare(0, kStampHeader.size(), kStampHeader) != 0) {
    return CopyFailed("the stamp worker's answer has no header", "bad_output");
  }
  LoanCopy copy;
  copy.media_type = run.out.substr(kStampHeader.size(), eol - kStampHeader.size());
  if (copy.media_type != "application/pdf" && copy.media_type != "image/png") {
    return CopyFailed("the stamp worker's answer names an unknown type", "bad_output");
  }
  copy.bytes = run.out.substr(eol + 1);
  if (copy.bytes.empty()) return CopyFailed("the stamp worker's copy is empty", "bad_output");
  copy.sha256 = crypto::HexEncode(crypto::Sha256Of(copy.bytes));
  return copy;
}

}  // namespace

StatusOr<std::optional<domain::Loan>> RecordService::LoanNeedingCopy(const Principal& who,
                                                                     const LiveFile& live) {
  if (!LentAsCopies(live.record)) return std::optional<domain::Loan>();
  std::optional<domain::Loan> out;
  const Time now = clock_.Now();
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    std::string via_loan;
    CUSTOS_ASSIGN_OR_RETURN(bool may, MayReadContentNow(tx, who, live.record, now, &via_loan));
    if (!may) {
      return PermissionDenied("reading this record's content needs an active digital loan",
                              "content_forbidden");
    }
    if (via_loan.empty()) return Status::Ok();  // a direct reader reads the original
    CUSTOS_ASSIGN_OR_RETURN(
        std::vector<domain::Loan> loans,
        LoansOfRecord(tx, live.record.id, who.username.value, {domain::LoanState::kCheckedOut}));
    for (domain::Loan& l : loans) {
      if (l.id == via_loan) out = std::move(l);
    }
    if (!out) return Internal("the loan " + via_loan + " vanished while it was read");
    return Status::Ok();
  }));
  return out;
}

StatusOr<LoanCopy> RecordService::MakeLoanCopy(const Principal& who, const LiveFile& live, int version,
                                               const domain::Loan& loan) {
  auto stream = content_.Open(live.file);
  if (!stream.ok() && stream.status().reason() == storage::kBlobNotFound) {
    return Internal("the stored content of file " + live.file.id.value + " of " +
                        live.record.id.value + " is missing (run custosctl verify)",
                    "content_missing");
  }
  if (!stream.ok()) return stream.status();
  CUSTOS_ASSIGN_OR_RETURN(
      std::string plaintext,
      ReadWhole(**stream, live.file.size, options_.stamp_limits.max_document_bytes));
  const Time made = clock_.Now();
  CUSTOS_ASSIGN_OR_RETURN(LoanCopy copy, RunStamp(options_, plaintext,
                                                  StampLines(who, loan, version, live.file, made)));
  copy.loan = loan.id;
  return copy;
}

StatusOr<ContentRead> RecordService::OpenLoanCopy(const Principal& who, const LiveFile& live,
                                                  int version, const domain::Loan& loan) {
  CUSTOS_ASSIGN_OR_RETURN(LoanCopy copy, MakeLoanCopy(who, live, version, loan));
  ContentRead out;
  out.file = live.file;
  // The right is decided again in the logging transaction; the copy names
  // its loan, so it is served only while that same loan is the right.
  CUSTOS_ASSIGN_OR_RETURN(
      out.log_index,
      LogContentRead(
          who, live, version, "", nullptr, [&](const std::string& via_loan, LogEvent& e) -> Status {
            if (via_loan != loan.id)
              return CopyFailed("the loan changed while the copy was made", "loan_changed");
            e.details.Set("copySha256", copy.sha256);
            e.details.Set("stamped", true);
            return Status::Ok();
          }));
  out.copy = std::move(copy);
  return out;
}

}  // namespace custos::services
