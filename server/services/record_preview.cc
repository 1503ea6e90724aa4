// RecordService::Preview: page images of PDFs and images
// (docs/api.md "Previews", docs/security.md "Previews"). The file is
// decrypted in memory and rendered by the worker custos-render
// (docs/formats/render.md) under the extraction limits, never in this
// process; the PNG is sealed under the file's own data key and cached in
// derived_cache, so a destruction, which deletes that key and the rows,
// shreds it with the file.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "server/services/record_service.h"
#include "storage/derived_cache.h"
#include "storage/file_texts.h"

namespace custos::services {

using domain::StoredFile;
using storage::Transaction;

namespace {

// custos-render's own exit codes (docs/formats/render.md; extract/extraction.h).
constexpr int kRenderExitUnsupported = 6;
constexpr int kRenderExitNoSuchPage = 7;

bool IsPreviewImage(const std::string& mime) {
  return mime == "image/png" || mime == "image/jpeg" || mime == "image/tiff" ||
         mime == "image/gif" || mime == "image/bmp" || mime == "image/x-ms-bmp" ||
         mime == "image/webp";
}

Status Failed(std::string_view reason, const std::string& message) {
  return Unavailable("the preview could not be made: " + message, "preview_failed")
      .WithParam("reason", std::string(reason));
}

Status InvalidPreview(const std::string& message) {
  return Unprocessable(message, "invalid_preview");
}

// The plaintext of a stored file, at most `max` bytes.
StatusOr<std::string> ReadWhole(storage::ContentStore& content, const StoredFile& file,
                                size_t max) {
  if (file.size > max)
    return Failed(kExtractionLimit, "the file is larger than the worker's input cap");
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, content.Open(file));
  std::string out;
  out.reserve(static_cast<size_t>(file.size));
  std::vector<uint8_t> buf(storage::kContentCopyBufferSize);
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t n, source->Read(buf.data(), buf.size()));
    if (n == 0) return out;
    if (out.size() + n > max)
      return Failed(kExtractionLimit, "the file is larger than the worker's input cap");
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

// Runs custos-render on `document`; the PNG, or the Status of Preview's
// contract. Tells options.on_render how the run ended.
StatusOr<std::string> Render(const RecordOptions& options, std::string_view document, int page,
                             int width) {
  auto told = [&](std::string_view result) {
    if (options.on_render) options.on_render(result);
  };
  const std::vector<std::string> argv = {options.render_worker,
                                         "--page",
                                         std::to_string(page),
                                         "--width",
                                         std::to_string(width),
                                         "--max-bytes",
                                         std::to_string(options.render_limits.max_document_bytes)};
  WorkerRun run = RunWorker(options.render_limits, argv, document);
  if (run.started && !run.timed_out && !run.output_over_cap && run.exited) {
    if (run.exit_code == 0 && !run.out.empty()) {
      told("ok");
      return std::move(run.out);
    }
    if (run.exit_code == kRenderExitUnsupported) {
      told("unsupported");
      return Unprocessable("this file's type has no preview", "preview_unsupported");
    }
    if (run.exit_code == kRenderExitNoSuchPage) {
      told("no_such_page");
      return InvalidPreview("the file has no page " + std::to_string(page));
    }
  }
  Status failure =
      run.started && run.exited && run.exit_code == 0
          ? Status(ErrorCode::kUnprocessable, "worker wrote no image", kExtractionBadOutput)
          : ClassifyWorkerRun(run);
  told(failure.reason());
  return Failed(failure.reason(), failure.message());
}

}  // namespace

int PreviewPages(const storage::FileText& t) {
  const std::string& mime = t.identified_type;
  // A PDF the pipeline could not count (a failed or retried extraction)
  // shows its first page, if the worker can render it.
  if (mime == "application/pdf") return std::max(t.pages, 1);
  if (mime == "image/tiff") return std::max(t.pages, 1);
  if (IsPreviewImage(mime)) return 1;
  return 0;
}

StatusOr<PagePreview> RecordService::Preview(const Principal& who, const domain::RecordId& id,
                                             int version, const domain::FileId& file_id, int page,
                                             std::string_view size) {
  CUSTOS_ASSIGN_OR_RETURN(LiveFile live, FindLiveFile(who, id, version, file_id));
  const std::string size_name = size.empty() ? "page" : std::string(size);
  if (size_name != "thumb" && size_name != "page")
    return InvalidPreview("size must be thumb or page");
  if (page < 1) return InvalidPreview("pages are counted from 1");
  const int width = size_name == "thumb" ? kThumbPreviewWidth : kPagePreviewWidth;
  const std::string purpose =
      std::string(kPreviewPurpose) + ":" + std::to_string(page) + ":" + size_name;

  // What the pipeline identified, the cached image, and the caller's right
  // now: a caller without it learns nothing more and costs no decryption.
  std::optional<storage::FileText> text;
  std::optional<storage::DerivedEntry> cached;
  bool may = false;
  std::string via_loan;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(may, MayReadContentNow(tx, who, live.record, clock_.Now(), &via_loan));
    if (!may) return Status::Ok();
    CUSTOS_ASSIGN_OR_RETURN(text, tx.texts().Find(file_id));
    CUSTOS_ASSIGN_OR_RETURN(cached, tx.derived().Find(file_id, purpose));
    return Status::Ok();
  }));
  // A borrower of a record lent as stamped copies sees pages of their own
  // stamped copy: rendered each time, never from or into the shared cache.
  const bool from_copy = may && !via_loan.empty() && LentAsCopies(live.record);
  if (from_copy) cached.reset();
  if (!may)
    return PermissionDenied("reading this record's content needs an active digital loan",
                            "content_forbidden");
  if (!text || text->state == storage::TextState::kPending) {
    return Failed("not_identified", "the file has not been identified yet; try again shortly");
  }
  PagePreview out;
  out.page = page;
  // A file the pipeline failed on has no identified type: its first page
  // is tried, and the worker, which identifies the bytes itself, decides.
  out.pages = text->identified_type.empty() ? 1 : PreviewPages(*text);
  if (out.pages == 0)
    return Unprocessable("this file's type has no preview", "preview_unsupported");
  if (page > out.pages) {
    return InvalidPreview("the file has " + std::to_string(out.pages) + " pages")
        .WithParam("pages", out.pages);
  }

  std::vector<uint8_t> sealed;
  std::optional<domain::Loan> copy_loan;
  if (from_copy) {
    if (options_.render_worker.empty())
      return Failed("preview_disabled", "previews are not configured");
    CUSTOS_ASSIGN_OR_RETURN(copy_loan, LoanNeedingCopy(who, live));
    if (!copy_loan) return Failed("loan_changed", "the loan changed while the preview was made");
    CUSTOS_ASSIGN_OR_RETURN(LoanCopy copy, MakeLoanCopy(who, live, version, *copy_loan));
    CUSTOS_ASSIGN_OR_RETURN(out.png, Render(options_, copy.bytes, page, width));
  } else if (cached) {
    auto png = content_.OpenDerived(live.file, purpose, cached->sealed);
    if (!png.ok() && png.status().reason() == storage::kContentDestroyed)
      return ContentDestroyed(id);
    if (png.ok()) {
      out.png = std::move(png).value();
      out.cached = true;
    }
    // A cached image that does not open (damaged) is made again.
  }
  if (!out.cached && !from_copy) {
    if (options_.render_worker.empty())
      return Failed("preview_disabled", "previews are not configured");
    CUSTOS_ASSIGN_OR_RETURN(
        std::string document,
        ReadWhole(content_, live.file, options_.render_limits.max_document_bytes));
    CUSTOS_ASSIGN_OR_RETURN(out.png, Render(options_, document, page, width));
    auto seal = content_.SealDerived(live.file, purpose, out.png);
    if (!seal.ok() && seal.status().reason() == storage::kContentDestroyed)
      return ContentDestroyed(id);
    if (!seal.ok()) return seal.status();
    sealed = std::move(seal).value();
  }

  // The right is decided again in the transaction that logs the read and
  // stores the new image.
  CUSTOS_ASSIGN_OR_RETURN(
      out.log_index, LogContentRead(
                         who, live, version, kPreviewPurpose,
                         [&](Transaction& tx) -> Status {
                           if (sealed.empty()) return Status::Ok();
                           storage::DerivedEntry e;
                           e.file_id = file_id;
                           e.purpose = purpose;
                           e.record_id = id;
                           e.sealed = sealed;
                           e.created_at = clock_.Now();
                           return tx.derived().Put(e);
                         },
                         [&](const std::string& right_via, storage::LogEvent& event) -> Status {
                           if (copy_loan && right_via != copy_loan->id) {
                             return Failed("loan_changed",
                                           "the loan changed while the preview was made");
                           }
                           event.details.Set("page", page);
                           if (copy_loan) event.details.Set("stamped", true);
                           return Status::Ok();
                         }));
  return out;
}

}  // namespace custos::services
