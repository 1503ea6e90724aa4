// The parsers of custos-extract, one per format family, each in its own
// file. Each takes the whole document in memory and the caps of
// extraction.h, returns an Extraction (status text or no_text) and throws
// UnreadableDocument for a recognised but damaged document. None reads a
// file (but read-only system data: the magic database, poppler-data,
// tesseract's language data), opens the network or writes to disk.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "extract/extraction.h"

struct Pix;  // leptonica's image
namespace tesseract {
class TessBaseAPI;
}

namespace custos::extract {

// identify.cc: the MIME type and a description of `bytes` (libmagic,
// MAGIC_MIME_TYPE and the default description).
struct Identified {
  std::string mime;
  std::string description;
};
Identified Identify(std::string_view bytes);

// pdf.cc: the text layer page by page (poppler-cpp); pages with (nearly) no
// text layer are rendered and OCRed when limits.ocr.
Extraction ExtractPdf(std::string_view bytes, const ParseLimits& limits);

// image_ocr.cc: PNG, JPEG, TIFF (every page up to max_ocr_pages) through
// tesseract with kOcrLanguages.
Extraction ExtractImage(std::string_view bytes, const ParseLimits& limits);

// Tesseract with kOcrLanguages, its language data loaded on the first page
// and reused for the other pages of the same document. Not thread-safe: one
// per document. Results are UTF-8 with JoinCjkSpaces applied. Throws
// std::runtime_error if the language data cannot be loaded.
class OcrEngine {
 public:
  OcrEngine();
  ~OcrEngine();
  OcrEngine(const OcrEngine&) = delete;
  OcrEngine& operator=(const OcrEngine&) = delete;

  // One 8-bit grey raster (a rendered PDF page) at `dpi`.
  std::string Gray8(const unsigned char* pixels, int width, int height, int bytes_per_line, int dpi);
  // One decoded image; an image without a resolution is taken as kOcrDpi.
  std::string Image(Pix* pix);

 private:
  tesseract::TessBaseAPI& Api();
  std::string Recognise(tesseract::TessBaseAPI& api);

  std::unique_ptr<tesseract::TessBaseAPI> api_;  // null until the first page
};

// office.cc: which zip-based format a zip holds, by its entry names.
enum class ZipKind { kNone, kDocx, kXlsx, kPptx, kOfd };
ZipKind ClassifyZip(std::string_view bytes, const ParseLimits& limits);
// DOCX, XLSX, PPTX text (libarchive + libxml2).
Extraction ExtractOffice(std::string_view bytes, ZipKind kind, const ParseLimits& limits);

// ofd.cc: OFD (GB/T 33190) text in ofd:TextCode, page by page.
Extraction ExtractOfd(std::string_view bytes, const ParseLimits& limits);

// plain_text.cc: UTF-8 (with or without BOM), else GBK/GB18030 (iconv).
Extraction ExtractPlainText(std::string_view bytes, const ParseLimits& limits);

}  // namespace custos::extract
