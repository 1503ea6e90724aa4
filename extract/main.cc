// custos-extract: the document extraction worker (docs/formats/extraction.md).
//
//   custos-extract [--claimed-type MIME] [--ocr on|off] [--max-bytes N]
//
// Reads one document from stdin, identifies it from its bytes, extracts its
// text and writes one JSON object to stdout. It reads no file but its stdin
// and read-only system data (the magic database, poppler-data, tesseract's
// language data), opens no network and writes nothing to disk. It is run
// by server/services/extraction_runner.h under resource limits and a
// timeout; it trusts nothing in the document.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>
#include <string>

#include "extract/parsers.h"
#include "extract/worker_io.h"

// The parsers' libraries (fontconfig through poppler, tesseract) keep
// caches they never free at exit; under AddressSanitizer that would fail
// every run of the worker. The worker is a short-lived process whose memory
// the kernel reclaims, so leak detection is off here, and only here.
// AddressSanitizer cannot run under RLIMIT_AS (its shadow memory reserves
// terabytes of address space), so the runner sets none in such builds and
// the worker caps its own resident memory instead (the runner reports
// "rss limit exhausted" as extraction_limit).
extern "C" const char* __asan_default_options() { return "detect_leaks=0:hard_rss_limit_mb=1024"; }

namespace custos::extract {
namespace {

constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

struct Options {
  std::string claimed_type;
  bool ocr = true;
  size_t max_bytes = kDefaultMaxBytes;
};

Options ParseArguments(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Fail(kExitUsage, "usage: custos-extract [--claimed-type MIME] [--ocr on|off] [--max-bytes N]");
    std::string value = argv[++i];
    if (arg == "--claimed-type") {
      options.claimed_type = value;
    } else if (arg == "--ocr" && (value == "on" || value == "off")) {
      options.ocr = value == "on";
    } else if (arg == "--max-bytes" && !value.empty() &&
               value.find_first_not_of("0123456789") == std::string::npos && value.size() < 19) {
      options.max_bytes = std::stoull(value);
    } else {
      Fail(kExitUsage, "bad argument " + arg + " " + value);
    }
  }
  return options;
}

bool HasPrefix(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

// Chooses the parser from the identified type (never from the claimed one).
Extraction Dispatch(const std::string& mime, std::string_view bytes, const ParseLimits& limits) {
  if (bytes.empty()) return Extraction{};
  if (mime == "application/pdf") return ExtractPdf(bytes, limits);
  if (mime == "image/png" || mime == "image/jpeg" || mime == "image/tiff") {
    return ExtractImage(bytes, limits);
  }
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    ZipKind kind = ClassifyZip(bytes, limits);
    if (kind == ZipKind::kOfd) return ExtractOfd(bytes, limits);
    if (kind != ZipKind::kNone) return ExtractOffice(bytes, kind, limits);
  }
  if (HasPrefix(mime, "text/")) return ExtractPlainText(bytes, limits);
  Extraction unsupported;
  unsupported.status = kStatusUnsupported;
  return unsupported;
}

// JSON string escaping; invalid UTF-8 (which no parser should produce)
// becomes U+FFFD so the output always parses.
void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else if (c < 0x80) {
          out += static_cast<char>(c);
        } else {
          size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
          std::string_view seq = s.substr(i, n);
          if (n > 1 && seq.size() == n && IsValidUtf8(seq)) {
            out += seq;
            i += n - 1;
          } else {
            out += "\xEF\xBF\xBD";
          }
        }
    }
  }
  out += '"';
}

std::string ToJson(const Identified& id, const Extraction& e) {
  std::string out = "{\"version\":1,\"identified\":{\"mime\":";
  AppendJsonString(out, id.mime);
  out += ",\"description\":";
  AppendJsonString(out, id.description);
  out += "},\"status\":";
  AppendJsonString(out, e.status);
  out += ",\"method\":";
  AppendJsonString(out, e.method);
  out += ",\"pages\":" + std::to_string(e.pages) + ",\"text\":";
  AppendJsonString(out, e.text);
  out += ",\"warnings\":[";
  for (size_t i = 0; i < e.warnings.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, e.warnings[i]);
  }
  out += "]}\n";
  return out;
}

int Run(int argc, char** argv) {
  Options options = ParseArguments(argc, argv);
  std::string document = ReadStdin(options.max_bytes);
  ParseLimits limits;
  limits.ocr = options.ocr;
  Identified id = Identify(document);
  Extraction extraction = Dispatch(id.mime, document, limits);
  WriteStdout(ToJson(id, extraction));
  return kExitOk;
}

}  // namespace
}  // namespace custos::extract

int main(int argc, char** argv) {
  return custos::extract::RunWorkerMain("custos-extract", custos::extract::Run, argc, argv);
}
