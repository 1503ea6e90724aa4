// custos-stamp: the loan copy worker (docs/formats/stamp.md).
//
//   custos-stamp --line TEXT [--line TEXT ...] [--max-bytes N]
//
// Reads one document from stdin, identifies it from its bytes (libmagic,
// as custos-extract does) and writes a copy stamped with the given lines
// to stdout, after a one-line header naming the copy's media type:
//
//   PDF    every page gets an overlay content stream (qpdf): the lines in
//          small grey type along the bottom margin, the first line again
//          along the top, upright however the page is rotated and placed
//          inside its CropBox (else MediaBox). ASCII runs are set in
//          Helvetica (WinAnsi), other characters in the non-embedded CJK
//          font STSong-Light (UniGB-UCS2-H), so a text extractor with the
//          Adobe-GB1 CMaps reads them back.
//   PNG, JPEG, TIFF, GIF, BMP, WebP (one page)
//          a white band below the image with the lines in a bitmap font
//          (leptonica; ASCII only, every other character becomes '?'),
//          written as PNG.
//   other  exit kExitUnsupported, nothing on stdout.
//
// It reads no file but its stdin and read-only system data, opens no
// network and writes nothing to disk; the runner
// (server/services/extraction_runner.h) sets its limits.
#include <leptonica/allheaders.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>
#include <string>
#include <vector>

#include "extract/parsers.h"
#include "extract/worker_io.h"

// As in custos-extract (extract/main.cc): the libraries keep caches they
// never free at exit, and AddressSanitizer cannot run under RLIMIT_AS, so
// leak detection is off and the worker caps its own resident memory.
extern "C" const char* __asan_default_options() { return "detect_leaks=0:hard_rss_limit_mb=1024"; }

namespace custos::extract {
namespace {

constexpr size_t kDefaultMaxBytes = size_t{256} << 20;
constexpr size_t kMaxLines = 8;
constexpr size_t kMaxLineBytes = 300;
constexpr int kMaxPdfPages = 5000;
constexpr int64_t kMaxPixels = 40'000'000;
// The first line of stdout: "custos-stamp/1 <media type>\n".
constexpr const char* kHeaderPrefix = "custos-stamp/1 ";

// PDF type: points, grey level and margins of the stamp.
constexpr double kFontSize = 7;
constexpr double kMinFontSize = 3;
constexpr double kMargin = 12;
constexpr double kLeading = 1.25;
constexpr const char* kAsciiFont = "/CustosStampA";
constexpr const char* kCjkFont = "/CustosStampC";

struct Options {
  std::vector<std::string> lines;
  size_t max_bytes = kDefaultMaxBytes;
};

Options ParseArguments(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      Fail(kExitUsage, "usage: custos-stamp --line TEXT [--line TEXT ...] [--max-bytes N]");
    std::string value = argv[++i];
    if (arg == "--line" && value.size() <= kMaxLineBytes && IsValidUtf8(value) &&
        value.find_first_of("\r\n") == std::string::npos) {
      options.lines.push_back(value);
    } else if (arg == "--max-bytes" && !value.empty() &&
               value.find_first_not_of("0123456789") == std::string::npos && value.size() < 19) {
      options.max_bytes = std::stoull(value);
    } else {
      Fail(kExitUsage, "bad argument " + arg);
    }
  }
  if (options.lines.empty() || options.lines.size() > kMaxLines)
    Fail(kExitUsage, "give 1 to 8 --line arguments");
  return options;
}

// ------------------------------------------------------------------- PDF

// Decodes UTF-8 (valid: checked at the argument) into code points.
std::vector<char32_t> CodePoints(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// A line as text-showing operators: ASCII runs in the Helvetica font as a
// literal string, other characters in the CJK font as UCS-2 hex (outside
// the BMP: '?'). Sets *em to the line's approximate width in ems.
std::string ShowLine(std::string_view line, double size, double* em) {
  std::string ops;
  *em = 0;
  std::vector<char32_t> cps = CodePoints(line);
  for (size_t i = 0; i < cps.size();) {
    bool ascii = cps[i] >= 0x20 && cps[i] < 0x7F;
    size_t j = i;
    while (j < cps.size() && (cps[j] >= 0x20 && cps[j] < 0x7F) == ascii) ++j;
    char font[64];
    std::snprintf(font, sizeof font, "%s %.2f Tf ", ascii ? kAsciiFont : kCjkFont, size);
    ops += font;
    if (ascii) {
      ops += '(';
      for (size_t k = i; k < j; ++k) {
        char c = static_cast<char>(cps[k]);
        if (c == '(' || c == ')' || c == '\\') ops += '\\';
        ops += c;
      }
      ops += ") Tj ";
      *em += 0.56 * static_cast<double>(j - i);
    } else {
      ops += '<';
      for (size_t k = i; k < j; ++k) {
        char hex[8];
        unsigned code = cps[k] < 0x20 || cps[k] > 0xFFFF ? '?' : static_cast<unsigned>(cps[k]);
        std::snprintf(hex, sizeof hex, "%04X", code);
        ops += hex;
      }
      ops += "> Tj ";
      *em += static_cast<double>(j - i);
    }
    i = j;
  }
  return ops;
}

struct Box {
  double llx = 0, lly = 0, urx = 612, ury = 792;
};

Box BoxOf(QPDFObjectHandle box) {
  Box b;
  if (!box.isArray() || box.getArrayNItems() != 4) return b;
  double v[4];
  for (int i = 0; i < 4; ++i) {
    QPDFObjectHandle n = box.getArrayItem(i);
    if (!n.isNumber()) return b;
    v[i] = n.getNumericValue();
    if (!std::isfinite(v[i])) return b;
  }
  b.llx = std::min(v[0], v[2]);
  b.urx = std::max(v[0], v[2]);
  b.lly = std::min(v[1], v[3]);
  b.ury = std::max(v[1], v[3]);
  if (b.urx - b.llx < 1 || b.ury - b.lly < 1) return Box{};
  return b;
}

// The overlay of one page: a transformation to the page as displayed
// (rotation and box offset undone), then the lines from the bottom margin
// upwards and the first line again at the top.
std::string Overlay(const std::vector<std::string>& lines, const Box& box, int rotate) {
  double w = box.urx - box.llx, h = box.ury - box.lly;
  double a = 1, b = 0, c = 0, d = 1, e = box.llx, f = box.lly;
  if (rotate == 90) {
    a = 0, b = 1, c = -1, d = 0, e = box.urx, f = box.lly;
    std::swap(w, h);
  } else if (rotate == 180) {
    a = -1, b = 0, c = 0, d = -1, e = box.urx, f = box.ury;
  } else if (rotate == 270) {
    a = 0, b = -1, c = 1, d = 0, e = box.llx, f = box.ury;
    std::swap(w, h);
  }
  double margin = std::min(kMargin, std::min(w, h) / 20);
  // One size for every line: the longest must fit between the margins.
  double widest = 0;
  for (const std::string& line : lines) {
    double em = 0;
    (void)ShowLine(line, kFontSize, &em);
    widest = std::max(widest, em);
  }
  double size = kFontSize;
  if (widest > 0) size = std::clamp((w - 2 * margin) / widest, kMinFontSize, kFontSize);
  char buf[256];
  std::string s = "q\n";
  std::snprintf(buf, sizeof buf, "%.4f %.4f %.4f %.4f %.4f %.4f cm\n", a, b, c, d, e, f);
  s += buf;
  s += "0.45 g 0 Tr\n";
  double y = margin;
  for (size_t i = lines.size(); i-- > 0;) {
    double em = 0;
    std::string show = ShowLine(lines[i], size, &em);
    std::snprintf(buf, sizeof buf, "BT 1 0 0 1 %.2f %.2f Tm ", margin, y);
    s += buf + show + "ET\n";
    y += size * kLeading;
  }
  double em = 0;
  std::string top = ShowLine(lines.front(), size, &em);
  std::snprintf(buf, sizeof buf, "BT 1 0 0 1 %.2f %.2f Tm ", margin, h - margin - size);
  s += buf + top + "ET\nQ\n";
  return s;
}

QPDFObjectHandle AsciiFont(QPDF& pdf) {
  return pdf.makeIndirectObject(QPDFObjectHandle::parse(
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"));
}

QPDFObjectHandle CjkFont(QPDF& pdf) {
  QPDFObjectHandle descriptor = pdf.makeIndirectObject(QPDFObjectHandle::parse(
      "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]"
      " /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"));
  QPDFObjectHandle cid = QPDFObjectHandle::parse(
      "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"
      " /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /DW 1000 >>");
  cid.replaceKey("/FontDescriptor", descriptor);
  QPDFObjectHandle font = QPDFObjectHandle::parse(
      "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H >>");
  font.replaceKey("/DescendantFonts", QPDFObjectHandle::newArray({pdf.makeIndirectObject(cid)}));
  return pdf.makeIndirectObject(font);
}

// The page's own font dictionary (a shared one is copied first), with the
// stamp's two fonts added.
void AddFonts(QPDFPageObjectHelper& page, QPDFObjectHandle ascii, QPDFObjectHandle cjk) {
  QPDFObjectHandle dict = page.getObjectHandle();
  QPDFObjectHandle resources = dict.getKey("/Resources");
  resources =
      resources.isDictionary() ? resources.shallowCopy() : QPDFObjectHandle::newDictionary();
  QPDFObjectHandle fonts = resources.getKey("/Font");
  fonts = fonts.isDictionary() ? fonts.shallowCopy() : QPDFObjectHandle::newDictionary();
  fonts.replaceKey(kAsciiFont, ascii);
  fonts.replaceKey(kCjkFont, cjk);
  resources.replaceKey("/Font", fonts);
  dict.replaceKey("/Resources", resources);
}

int PageRotation(QPDFPageObjectHelper& page) {
  QPDFObjectHandle r = page.getAttribute("/Rotate", false);
  if (!r.isInteger()) return 0;
  long long v = r.getIntValue() % 360;
  if (v < 0) v += 360;
  return v == 90 || v == 180 || v == 270 ? static_cast<int>(v) : 0;
}

std::string StampPdf(const std::string& document, const std::vector<std::string>& lines) {
  QPDF pdf;
  pdf.setSuppressWarnings(true);
  try {
    pdf.processMemoryFile("document", document.data(), document.size());
    QPDFPageDocumentHelper pages(pdf);
    pages.pushInheritedAttributesToPage();
    std::vector<QPDFPageObjectHelper> all = pages.getAllPages();
    if (all.empty()) throw UnreadableDocument("the PDF has no pages");
    if (static_cast<int>(all.size()) > kMaxPdfPages) Fail(kExitTooLarge, "pages over the cap");
    QPDFObjectHandle ascii = AsciiFont(pdf), cjk = CjkFont(pdf);
    for (QPDFPageObjectHelper& page : all) {
      Box box = BoxOf(page.getCropBox(false, false));
      AddFonts(page, ascii, cjk);
      // The page's own content runs inside q/Q, so whatever graphics state
      // it leaves does not move or hide the stamp.
      page.addPageContents(QPDFObjectHandle::newStream(&pdf, "q\n"), true);
      page.addPageContents(
          QPDFObjectHandle::newStream(&pdf, "Q\n" + Overlay(lines, box, PageRotation(page))),
          false);
    }
    QPDFWriter writer(pdf);
    writer.setOutputMemory();
    // The document's own streams pass through as they are (no inflating:
    // faster, and a compression bomb stays a small stream); the overlay
    // streams are compressed.
    writer.setDecodeLevel(qpdf_dl_none);
    writer.setCompressStreams(true);
    writer.write();
    std::shared_ptr<Buffer> out = writer.getBufferSharedPointer();
    return std::string(reinterpret_cast<const char*>(out->getBuffer()), out->getSize());
  } catch (const QPDFExc& e) {
    throw UnreadableDocument(std::string("PDF: ") + e.what());
  } catch (const std::logic_error& e) {
    throw UnreadableDocument(std::string("PDF: ") + e.what());
  }
}

// ----------------------------------------------------------------- images

struct PixDeleter {
  void operator()(PIX* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<PIX, PixDeleter>;

// Leptonica's bitmap fonts are ASCII: anything else is '?'.
std::string AsciiText(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty()) text += '\n';
    for (char32_t cp : CodePoints(line))
      text += cp >= 0x20 && cp < 0x7F ? static_cast<char>(cp) : '?';
  }
  return text;
}

std::string StampImage(const std::string& document, const std::vector<std::string>& lines) {
  int format = IFF_UNKNOWN, w = 0, h = 0, bps = 0, spp = 0;
  const auto* data = reinterpret_cast<const l_uint8*>(document.data());
  if (pixReadHeaderMem(data, document.size(), &format, &w, &h, &bps, &spp, nullptr) != 0) {
    throw UnreadableDocument("image header unreadable");
  }
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxPixels)
    Fail(kExitTooLarge, "image over the pixel cap");
  if (format == IFF_TIFF || format == IFF_TIFF_G4 || format == IFF_TIFF_LZW ||
      format == IFF_TIFF_ZIP || format == IFF_TIFF_PACKBITS || format == IFF_TIFF_RLE ||
      format == IFF_TIFF_G3 || format == IFF_TIFF_JPEG) {
    l_int32 pages = 0;
    // fmemopen reads the bytes in memory; nothing touches the disk.
    FILE* f = fmemopen(const_cast<char*>(document.data()), document.size(), "rb");
    if (f == nullptr) throw std::bad_alloc();
    bool counted = tiffGetCount(f, &pages) == 0;
    std::fclose(f);
    if (counted && pages > 1) {
      Fail(kExitUnsupported, "a TIFF of more than one page");  // one PNG cannot carry them
    }
  }
  PixPtr pix(pixReadMem(data, document.size()));
  if (!pix) throw UnreadableDocument("image unreadable");
  PixPtr rgb(pixConvertTo32(pix.get()));
  if (!rgb) throw std::bad_alloc();
  int width = static_cast<int>(pixGetWidth(rgb.get()));
  int font_size = width < 500 ? 6 : width < 1000 ? 8 : width < 2000 ? 12 : 20;
  L_BMF* bmf = bmfCreate(nullptr, font_size);
  if (!bmf) throw std::runtime_error("no bitmap font");
  std::string text = AsciiText(lines);
  PixPtr stamped(pixAddTextlines(rgb.get(), bmf, text.c_str(), 0x40404000, L_ADD_BELOW));
  bmfDestroy(&bmf);
  if (!stamped) throw std::runtime_error("cannot add the text band");
  l_uint8* out = nullptr;
  size_t size = 0;
  if (pixWriteMem(&out, &size, stamped.get(), IFF_PNG) != 0 || out == nullptr) {
    throw std::runtime_error("cannot write PNG");
  }
  std::string png(reinterpret_cast<const char*>(out), size);
  lept_free(out);
  return png;
}

int Run(int argc, char** argv) {
  Options options = ParseArguments(argc, argv);
  std::string document = ReadStdin(options.max_bytes);
  Identified id = Identify(document);
  std::string media_type, copy;
  if (id.mime == "application/pdf") {
    media_type = "application/pdf";
    copy = StampPdf(document, options.lines);
  } else if (IsRasterImage(id.mime)) {
    media_type = "image/png";
    copy = StampImage(document, options.lines);
  } else {
    Fail(kExitUnsupported, "cannot stamp " + id.mime);
  }
  WriteStdout(kHeaderPrefix + media_type + "\n");
  WriteStdout(copy);
  return kExitOk;
}

}  // namespace
}  // namespace custos::extract

int main(int argc, char** argv) {
  setMsgSeverity(L_SEVERITY_NONE);
  return custos::extract::RunWorkerMain("custos-stamp", custos::extract::Run, argc, argv);
}
