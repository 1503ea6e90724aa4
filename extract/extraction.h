// What a parser of custos-extract returns, and the limits every parser
// honours. The worker's protocol (stdin, argv, the JSON on stdout, exit
// codes) is docs/formats/extraction.md; this header is the inside of that
// worker and is never linked into the server (the layer "extract" is
// included by no server layer: tests/tools/layer_check.py).
//
// Thread safety: plain values; the parsers keep no state between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace custos::extract {

// The "status" field of the worker's answer.
inline constexpr std::string_view kStatusText = "text";
inline constexpr std::string_view kStatusNoText = "no_text";
inline constexpr std::string_view kStatusUnsupported = "unsupported";

// The "method" field: how the text was obtained ("none" when there is none).
inline constexpr std::string_view kMethodNone = "none";
inline constexpr std::string_view kMethodPdfText = "pdf_text";
inline constexpr std::string_view kMethodPdfTextAndOcr = "pdf_text+ocr";
inline constexpr std::string_view kMethodOcr = "ocr";
inline constexpr std::string_view kMethodDocx = "docx";
inline constexpr std::string_view kMethodXlsx = "xlsx";
inline constexpr std::string_view kMethodPptx = "pptx";
inline constexpr std::string_view kMethodOfd = "ofd";
inline constexpr std::string_view kMethodTextUtf8 = "text_utf8";
inline constexpr std::string_view kMethodTextGbk = "text_gbk";

// The OCR languages (tesseract traineddata names, Debian packages
// tesseract-ocr-chi-sim and tesseract-ocr-eng).
inline constexpr const char* kOcrLanguages = "chi_sim+eng";

// Caps inside the worker. The process-level limits (CPU, memory, files,
// wall clock) are the runner's (server/services/extraction_runner.h).
struct ParseLimits {
  bool ocr = true;
  // Pages read from a PDF's text layer, and pages OCRed (PDF or TIFF).
  int max_pages = 2000;
  int max_ocr_pages = 50;
  // Pixels of one image or rendered page; a PDF page is rendered at
  // kOcrDpi or less so that it fits.
  int64_t max_pixels = 40'000'000;
  // A zip (DOCX, XLSX, PPTX, OFD): entries looked at, bytes of one entry
  // once inflated, and bytes of all entries read once inflated.
  int max_zip_entries = 10'000;
  size_t max_entry_bytes = 32u << 20;
  size_t max_zip_total_bytes = 128u << 20;
  // Bytes of extracted text; more is cut at a character boundary.
  size_t max_text_bytes = 16u << 20;
};

inline constexpr int kOcrDpi = 300;
// A PDF page whose text layer holds fewer non-blank characters than this is
// treated as scanned and OCRed (when OCR is on).
inline constexpr int kMinTextLayerChars = 10;

struct Extraction {
  std::string status = std::string(kStatusNoText);
  std::string method = std::string(kMethodNone);
  int pages = 0;          // 0 when the format has no pages (DOCX, text)
  std::string text;       // UTF-8
  std::vector<std::string> warnings;  // short snake_case words, e.g. "entry_over_cap"
};

// Thrown by a parser for a document it recognised but cannot read (bad
// zip, broken PDF): the worker exits kExitUnreadable.
class UnreadableDocument : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The worker's exit codes (docs/formats/extraction.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // internal error
inline constexpr int kExitUsage = 2;        // bad arguments
inline constexpr int kExitUnreadable = 3;   // the document is damaged
inline constexpr int kExitOutOfMemory = 4;  // std::bad_alloc
inline constexpr int kExitTooLarge = 5;     // stdin over --max-bytes
// custos-render and custos-stamp (docs/formats/render.md, stamp.md): a
// type they cannot render or stamp, and a page the document does not have.
inline constexpr int kExitUnsupported = 6;
inline constexpr int kExitNoSuchPage = 7;

// Text helpers shared by the parsers (plain_text.cc).
// True if `bytes` is valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view bytes);
// Sets status to text or no_text from the text's non-blank characters, and
// cuts the text at limits.max_text_bytes (warning "text_truncated").
void Finish(const ParseLimits& limits, Extraction& out);
// Removes the spaces OCR puts between two CJK characters ("价 格" → "价格").
std::string JoinCjkSpaces(std::string_view utf8);
// Number of non-whitespace characters (code points) in UTF-8 text.
size_t CountNonBlank(std::string_view utf8);

}  // namespace custos::extract
