// DOCX, XLSX and PPTX (Office Open XML, ECMA-376): zips of XML parts.
//   DOCX: word/document.xml, then headers, footers, footnotes and endnotes:
//         the w:t runs, a newline after each w:p, w:tab and w:br kept.
//   XLSX: xl/sharedStrings.xml (every string cell's text) and the inline
//         strings (<is><t>) of xl/worksheets/sheetN.xml; a newline per si
//         and per row. Numbers and formulas are not text.
//   PPTX: ppt/slides/slideN.xml in slide order: the a:t runs, a newline
//         after each a:p.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "extract/parsers.h"
#include "extract/xml_text.h"
#include "extract/zip_entries.h"

namespace custos::extract {
namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// The number in "ppt/slides/slide12.xml" after `prefix`, or -1.
long NumberAfter(std::string_view name, std::string_view prefix) {
  if (!StartsWith(name, prefix) || !EndsWith(name, ".xml")) return -1;
  std::string digits(name.substr(prefix.size(), name.size() - prefix.size() - 4));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::strtol(digits.c_str(), nullptr, 10);
}

bool IsDocxPart(const std::string& n) {
  return n == "word/document.xml" || n == "word/footnotes.xml" || n == "word/endnotes.xml" ||
         (StartsWith(n, "word/header") && EndsWith(n, ".xml")) ||
         (StartsWith(n, "word/footer") && EndsWith(n, ".xml"));
}
bool IsXlsxPart(const std::string& n) {
  return n == "xl/sharedStrings.xml" || NumberAfter(n, "xl/worksheets/sheet") >= 0;
}
bool IsPptxPart(const std::string& n) { return NumberAfter(n, "ppt/slides/slide") >= 0; }

// Entry names in the order their numbers say (slide2 before slide10).
std::vector<std::string> Numbered(const ZipContents& zip, std::string_view prefix) {
  std::vector<std::pair<long, std::string>> found;
  for (const auto& [name, content] : zip.entries) {
    long n = NumberAfter(name, prefix);
    if (n >= 0) found.emplace_back(n, name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(std::move(f.second));
  return names;
}

void AppendPart(const ZipContents& zip, const std::string& name, const XmlTextRules& rules,
                Extraction& out) {
  auto it = zip.entries.find(name);
  if (it == zip.entries.end()) return;
  if (!AppendXmlText(it->second, rules, out.text)) out.warnings.push_back("xml_damaged");
}

void Docx(const ZipContents& zip, Extraction& out) {
  XmlTextRules rules{{"t"}, {"p"}, {"tab"}, {"br", "cr"}};
  // ClassifyZip saw word/document.xml; it is missing here only when it was
  // over a cap (a warning says which), and then there is no text to read.
  AppendPart(zip, "word/document.xml", rules, out);
  for (const auto& [name, content] : zip.entries) {
    if (name != "word/document.xml") AppendPart(zip, name, rules, out);
  }
}

void Xlsx(const ZipContents& zip, Extraction& out) {
  AppendPart(zip, "xl/sharedStrings.xml", XmlTextRules{{"t"}, {"si"}, {}, {}}, out);
  // Inline strings only: the t of <is>, never the <v> values.
  XmlTextRules inline_strings{{"is"}, {"row"}, {}, {}};
  std::vector<std::string> sheets = Numbered(zip, "xl/worksheets/sheet");
  for (const auto& name : sheets) AppendPart(zip, name, inline_strings, out);
  out.pages = static_cast<int>(sheets.size());
}

void Pptx(const ZipContents& zip, Extraction& out) {
  std::vector<std::string> slides = Numbered(zip, "ppt/slides/slide");
  for (const auto& name : slides) AppendPart(zip, name, XmlTextRules{{"t"}, {"p"}, {}, {"br"}}, out);
  out.pages = static_cast<int>(slides.size());
}

}  // namespace

ZipKind ClassifyZip(std::string_view bytes, const ParseLimits& limits) {
  ZipContents zip = ReadZip(bytes, limits, [](const std::string&) { return false; });
  bool docx = false, xlsx = false, pptx = false, ofd = false;
  for (const auto& n : zip.names) {
    docx |= n == "word/document.xml";
    xlsx |= n == "xl/workbook.xml";
    pptx |= n == "ppt/presentation.xml";
    ofd |= n == "OFD.xml";
  }
  if (docx) return ZipKind::kDocx;
  if (xlsx) return ZipKind::kXlsx;
  if (pptx) return ZipKind::kPptx;
  if (ofd) return ZipKind::kOfd;
  return ZipKind::kNone;
}

Extraction ExtractOffice(std::string_view bytes, ZipKind kind, const ParseLimits& limits) {
  Extraction out;
  auto want = kind == ZipKind::kDocx ? IsDocxPart : kind == ZipKind::kXlsx ? IsXlsxPart : IsPptxPart;
  ZipContents zip = ReadZip(bytes, limits, want);
  out.warnings = zip.warnings;
  switch (kind) {
    case ZipKind::kDocx: out.method = kMethodDocx; Docx(zip, out); break;
    case ZipKind::kXlsx: out.method = kMethodXlsx; Xlsx(zip, out); break;
    default: out.method = kMethodPptx; Pptx(zip, out); break;
  }
  Finish(limits, out);
  return out;
}

}  // namespace custos::extract
