// custos-render: the preview worker (docs/formats/render.md).
//
//   custos-render --page N --width W [--max-bytes N]
//
// Reads one document from stdin, identifies it from its bytes (libmagic,
// identify.cc), renders page N of a PDF (poppler-cpp) or of an image
// (leptonica; the pages of a multi-page TIFF), scales it to W pixels wide
// with its aspect kept (a page taller than kMaxAspect times its width is
// scaled down further, so the image is narrower) and writes the PNG on
// stdout, nothing else. Like custos-extract it reads no file but its stdin
// and read-only system data (the magic database, poppler-data, fonts),
// opens no network and writes nothing to disk; it is run by the server
// under the extraction limits (server/services/extraction_runner.h
// RunWorker) and trusts nothing in the document.
#include <leptonica/allheaders.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "extract/parsers.h"
#include "extract/worker_io.h"

// As in custos-extract (extract/main.cc): the libraries' caches are never
// freed at exit, and under AddressSanitizer the worker caps its own
// resident memory since the runner sets no RLIMIT_AS there.
extern "C" const char* __asan_default_options() { return "detect_leaks=0:hard_rss_limit_mb=1024"; }

namespace custos::extract {
namespace {

constexpr size_t kDefaultMaxBytes = size_t{256} << 20;
// The widths a caller may ask for.
constexpr int kMinWidth = 16;
constexpr int kMaxWidth = 4000;
// The tallest image relative to its width; taller pages are scaled down.
constexpr int kMaxAspect = 4;
// A decoded image (or one TIFF page) over this many pixels is not decoded.
constexpr int64_t kMaxSourcePixels = 40'000'000;

struct Options {
  int page = 0;   // from 1
  int width = 0;  // pixels
  size_t max_bytes = kDefaultMaxBytes;
};

struct PixCloser {
  void operator()(Pix* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<Pix, PixCloser>;

// A decimal number of at most 9 digits, or -1.
long long Number(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(s);
}

Options ParseArguments(int argc, char** argv) {
  const std::string usage = "usage: custos-render --page N --width W [--max-bytes N]";
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Fail(kExitUsage, usage);
    std::string value = argv[++i];
    long long n = Number(value);
    if (arg == "--page" && n >= 1) {
      options.page = static_cast<int>(n);
    } else if (arg == "--width" && n >= kMinWidth && n <= kMaxWidth) {
      options.width = static_cast<int>(n);
    } else if (arg == "--max-bytes" && !value.empty() &&
               value.find_first_not_of("0123456789") == std::string::npos && value.size() < 19) {
      options.max_bytes = std::stoull(value);
    } else {
      Fail(kExitUsage, "bad argument " + arg + " " + value);
    }
  }
  if (options.page == 0 || options.width == 0) Fail(kExitUsage, usage);
  return options;
}

// The scale that brings a width x height source to `width` pixels wide,
// or less when the result would be taller than kMaxAspect times `width`.
double ScaleFor(double source_width, double source_height, int width) {
  double scale = width / std::max(source_width, 1.0);
  const double max_height = static_cast<double>(width) * kMaxAspect;
  if (source_height * scale > max_height) scale = max_height / std::max(source_height, 1.0);
  return scale;
}

// `pix` as 32 bpp, scaled to `width` (or less: ScaleFor).
PixPtr Fit(Pix* pix, int width) {
  PixPtr rgb(pixConvertTo32(pix));
  if (!rgb) throw std::runtime_error("cannot convert the image to RGB");
  const int w = pixGetWidth(rgb.get()), h = pixGetHeight(rgb.get());
  const double scale = ScaleFor(w, h, width);
  const int out_w = std::max(1, static_cast<int>(std::lround(w * scale)));
  const int out_h = std::max(1, static_cast<int>(std::lround(h * scale)));
  if (out_w == w && out_h == h) return rgb;
  PixPtr scaled(pixScaleToSize(rgb.get(), out_w, out_h));
  if (!scaled) throw std::runtime_error("cannot scale the image");
  return scaled;
}

void Quiet(const std::string&, void*) {}

// Page `page` of a PDF, rendered at the resolution that gives `width`
// pixels (ScaleFor), as a 32 bpp Pix.
PixPtr RenderPdfPage(std::string_view bytes, int page, int width) {
  poppler::set_debug_error_function(Quiet, nullptr);
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(
      bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX))));
  if (!doc) throw UnreadableDocument("pdf: cannot open");
  if (doc->is_locked()) throw UnreadableDocument("pdf: encrypted");
  if (page > doc->pages())
    Fail(kExitNoSuchPage, "the document has " + std::to_string(doc->pages()) + " pages");
  std::unique_ptr<poppler::page> p(doc->create_page(page - 1));
  if (!p) throw UnreadableDocument("pdf: damaged page");
  poppler::rectf box = p->page_rect(poppler::crop_box);
  const double points_w = std::max(box.width(), 1.0), points_h = std::max(box.height(), 1.0);
  const bool turned =
      p->orientation() == poppler::page::landscape || p->orientation() == poppler::page::seascape;
  const double shown_w = turned ? points_h : points_w, shown_h = turned ? points_w : points_h;
  const double dpi = 72.0 * ScaleFor(shown_w, shown_h, width);
  poppler::page_renderer renderer;
  renderer.set_image_format(poppler::image::format_argb32);
  renderer.set_render_hints(poppler::page_renderer::antialiasing |
                            poppler::page_renderer::text_antialiasing |
                            poppler::page_renderer::text_hinting);
  poppler::image image = renderer.render_page(p.get(), dpi, dpi);
  if (!image.is_valid()) throw UnreadableDocument("pdf: the page cannot be rendered");
  const int w = image.width(), h = image.height();
  PixPtr pix(pixCreate(w, h, 32));
  if (!pix) throw std::bad_alloc();
  // poppler's argb32 is one native 0xAARRGGBB word per pixel (opaque: the
  // paper is white); leptonica's 32 bpp is 0xRRGGBBAA.
  l_uint32* rows = pixGetData(pix.get());
  const int wpl = pixGetWpl(pix.get());
  for (int y = 0; y < h; ++y) {
    const auto* in = reinterpret_cast<const uint32_t*>(
        image.const_data() + static_cast<size_t>(y) * image.bytes_per_row());
    l_uint32* out = rows + static_cast<size_t>(y) * wpl;
    for (int x = 0; x < w; ++x) out[x] = (in[x] << 8) | 0xFF;
  }
  pixSetSpp(pix.get(), 3);
  return Fit(pix.get(), width);
}

bool IsTiff(l_int32 format) {
  return format == IFF_TIFF || format == IFF_TIFF_G3 || format == IFF_TIFF_G4 ||
         format == IFF_TIFF_LZW || format == IFF_TIFF_ZIP || format == IFF_TIFF_PACKBITS ||
         format == IFF_TIFF_RLE || format == IFF_TIFF_JPEG;
}

// Page `page` of an image (1 for every format but TIFF), scaled.
PixPtr RenderImage(std::string_view bytes, int page, int width) {
  setMsgSeverity(L_SEVERITY_NONE);
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
  if (pixReadHeaderMem(data, bytes.size(), &format, &w, &h, &bps, &spp, &cmap) != 0) {
    throw UnreadableDocument("image: unreadable header");
  }
  if (static_cast<int64_t>(w) * h > kMaxSourcePixels)
    Fail(kExitTooLarge, "image over the pixel cap");
  const bool tiff = IsTiff(format);
  if (!tiff && page != 1) Fail(kExitNoSuchPage, "the image has 1 page");
  PixPtr pix(tiff ? pixReadMemTiff(data, bytes.size(), page - 1) : pixReadMem(data, bytes.size()));
  if (!pix) {
    if (tiff && page > 1) Fail(kExitNoSuchPage, "the image has fewer pages");
    throw UnreadableDocument("image: cannot decode");
  }
  if (static_cast<int64_t>(pixGetWidth(pix.get())) * pixGetHeight(pix.get()) > kMaxSourcePixels) {
    Fail(kExitTooLarge, "image over the pixel cap");
  }
  return Fit(pix.get(), width);
}

int Run(int argc, char** argv) {
  Options options = ParseArguments(argc, argv);
  std::string document = ReadStdin(options.max_bytes);
  Identified id = Identify(document);
  PixPtr pix;
  if (id.mime == "application/pdf") {
    pix = RenderPdfPage(document, options.page, options.width);
  } else if (IsRasterImage(id.mime)) {
    pix = RenderImage(document, options.page, options.width);
  } else {
    Fail(kExitUnsupported, "no preview for " + id.mime);
  }
  l_uint8* png = nullptr;
  size_t size = 0;
  if (pixWriteMem(&png, &size, pix.get(), IFF_PNG) != 0 || png == nullptr) {
    Fail(kExitFailure, "cannot encode the PNG");
  }
  WriteStdout(std::string_view(reinterpret_cast<const char*>(png), size));
  lept_free(png);
  return kExitOk;
}

}  // namespace
}  // namespace custos::extract

int main(int argc, char** argv) {
  return custos::extract::RunWorkerMain("custos-render", custos::extract::Run, argc, argv);
}
