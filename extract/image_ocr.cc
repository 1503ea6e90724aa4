// Images (PNG, JPEG, TIFF and the other formats leptonica reads) through
// tesseract with kOcrLanguages. The image header is read before decoding so
// that an image over max_pixels is never decoded; a multi-page TIFF gives
// one page each, up to max_ocr_pages.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <memory>

#include "extract/parsers.h"

namespace custos::extract {
namespace {

struct PixCloser {
  void operator()(Pix* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<Pix, PixCloser>;

}  // namespace

OcrEngine::OcrEngine() = default;

OcrEngine::~OcrEngine() {
  if (api_) api_->End();
}

tesseract::TessBaseAPI& OcrEngine::Api() {
  if (!api_) {
    auto api = std::make_unique<tesseract::TessBaseAPI>();
    if (api->Init(nullptr, kOcrLanguages) != 0) {
      throw std::runtime_error(std::string("tesseract: cannot load ") + kOcrLanguages);
    }
    api->SetPageSegMode(tesseract::PSM_AUTO);
    api_ = std::move(api);
  }
  return *api_;
}

std::string OcrEngine::Recognise(tesseract::TessBaseAPI& api) {
  std::unique_ptr<char[]> text(api.GetUTF8Text());
  api.Clear();
  return text ? JoinCjkSpaces(text.get()) : std::string();
}

std::string OcrEngine::Gray8(const unsigned char* pixels, int width, int height, int bytes_per_line,
                             int dpi) {
  tesseract::TessBaseAPI& api = Api();
  api.SetImage(pixels, width, height, 1, bytes_per_line);
  api.SetSourceResolution(dpi);
  return Recognise(api);
}

std::string OcrEngine::Image(Pix* pix) {
  tesseract::TessBaseAPI& api = Api();
  api.SetImage(pix);
  if (pixGetXRes(pix) < 70) api.SetSourceResolution(kOcrDpi);
  return Recognise(api);
}

Extraction ExtractImage(std::string_view bytes, const ParseLimits& limits) {
  setMsgSeverity(L_SEVERITY_NONE);
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, width = 0, height = 0, bps = 0, spp = 0, cmap = 0;
  if (pixReadHeaderMem(data, bytes.size(), &format, &width, &height, &bps, &spp, &cmap) != 0) {
    throw UnreadableDocument("image: unreadable header");
  }
  Extraction out;
  out.method = kMethodOcr;
  if (static_cast<int64_t>(width) * height > limits.max_pixels) {
    out.warnings.push_back("image_over_pixel_cap");
    Finish(limits, out);
    out.method = kMethodNone;
    return out;
  }
  if (!limits.ocr) {
    out.warnings.push_back("ocr_off");
    Finish(limits, out);
    out.method = kMethodNone;
    return out;
  }
  bool tiff = format == IFF_TIFF || format == IFF_TIFF_G3 || format == IFF_TIFF_G4 ||
              format == IFF_TIFF_LZW || format == IFF_TIFF_ZIP || format == IFF_TIFF_PACKBITS ||
              format == IFF_TIFF_RLE || format == IFF_TIFF_JPEG;
  OcrEngine ocr;
  for (int page = 0;; ++page) {
    if (page >= limits.max_ocr_pages) {
      out.warnings.push_back("ocr_pages_over_cap");
      break;
    }
    PixPtr pix(tiff ? pixReadMemTiff(data, bytes.size(), page) : pixReadMem(data, bytes.size()));
    if (!pix) {
      if (page == 0) throw UnreadableDocument("image: cannot decode");
      break;
    }
    if (static_cast<int64_t>(pixGetWidth(pix.get())) * pixGetHeight(pix.get()) > limits.max_pixels) {
      out.warnings.push_back("image_over_pixel_cap");
      break;
    }
    if (page > 0) out.text += '\f';
    out.text += ocr.Image(pix.get());
    ++out.pages;
    if (!tiff || out.text.size() > limits.max_text_bytes) break;
  }
  Finish(limits, out);
  if (out.status == kStatusNoText) out.method = kMethodNone;
  return out;
}

}  // namespace custos::extract
