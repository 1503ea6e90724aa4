// PDF: the text layer of each page (poppler-cpp, physical layout off). A
// page with fewer than kMinTextLayerChars non-blank characters is taken as
// scanned: with OCR on it is rendered in 8-bit grey at kOcrDpi (less if the
// page would exceed max_pixels) and OCRed.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "extract/parsers.h"

namespace custos::extract {
namespace {

void Quiet(const std::string&, void*) {}

std::string PageText(poppler::page& page) {
  poppler::byte_array utf8 = page.text().to_utf8();
  std::string text(utf8.begin(), utf8.end());
  // poppler ends a page with its own newline and form feed; we add ours.
  while (!text.empty() && (text.back() == '\f' || text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Renders and OCRs one page; "" (and a warning) if it cannot be rendered.
std::string OcrPage(poppler::page& page, const ParseLimits& limits, OcrEngine& ocr,
                    Extraction& out) {
  poppler::rectf box = page.page_rect(poppler::media_box);
  double width_in = std::max(box.width(), 1.0) / 72.0;
  double height_in = std::max(box.height(), 1.0) / 72.0;
  double dpi = kOcrDpi;
  double pixels = width_in * dpi * height_in * dpi;
  if (pixels > static_cast<double>(limits.max_pixels)) {
    dpi = std::floor(dpi * std::sqrt(static_cast<double>(limits.max_pixels) / pixels));
    out.warnings.push_back("page_rendered_below_300_dpi");
    if (dpi < 20) return "";
  }
  poppler::page_renderer renderer;
  renderer.set_image_format(poppler::image::format_gray8);
  renderer.set_render_hints(poppler::page_renderer::antialiasing |
                            poppler::page_renderer::text_antialiasing);
  poppler::image image = renderer.render_page(&page, dpi, dpi);
  if (!image.is_valid()) {
    out.warnings.push_back("page_not_rendered");
    return "";
  }
  return ocr.Gray8(reinterpret_cast<const unsigned char*>(image.const_data()), image.width(),
                   image.height(), image.bytes_per_row(), static_cast<int>(dpi));
}

}  // namespace

Extraction ExtractPdf(std::string_view bytes, const ParseLimits& limits) {
  poppler::set_debug_error_function(Quiet, nullptr);
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(
      bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX))));
  if (!doc) throw UnreadableDocument("pdf: cannot open");
  if (doc->is_locked()) throw UnreadableDocument("pdf: encrypted");
  Extraction out;
  int pages = doc->pages();
  if (pages > limits.max_pages) {
    out.warnings.push_back("pages_over_cap");
    pages = limits.max_pages;
  }
  int text_pages = 0, ocr_pages = 0;
  OcrEngine ocr;
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) {
      out.warnings.push_back("page_damaged");
      continue;
    }
    std::string text = PageText(*page);
    if (CountNonBlank(text) < static_cast<size_t>(kMinTextLayerChars) && limits.ocr) {
      if (ocr_pages >= limits.max_ocr_pages) {
        out.warnings.push_back("ocr_pages_over_cap");
      } else {
        ++ocr_pages;
        std::string scanned = OcrPage(*page, limits, ocr, out);
        if (CountNonBlank(scanned) > CountNonBlank(text)) text = std::move(scanned);
      }
    } else {
      ++text_pages;
    }
    if (i > 0) out.text += '\f';  // pages are separated by a form feed
    out.text += text;
    out.text += '\n';
    if (out.text.size() > limits.max_text_bytes) break;
  }
  out.pages = doc->pages();
  out.method = ocr_pages == 0 ? kMethodPdfText : text_pages == 0 ? kMethodOcr : kMethodPdfTextAndOcr;
  // The "ocr_pages_over_cap" warning once is enough.
  std::sort(out.warnings.begin(), out.warnings.end());
  out.warnings.erase(std::unique(out.warnings.begin(), out.warnings.end()), out.warnings.end());
  Finish(limits, out);
  if (out.status == kStatusNoText) out.method = kMethodNone;
  return out;
}

}  // namespace custos::extract
