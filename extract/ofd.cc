// OFD (GB/T 33190-2016), China's fixed-layout format: a zip whose root holds
// OFD.xml and whose pages are Doc_N/Pages/Page_N/Content.xml. The text of a
// page is in its ofd:TextCode elements (one run each); a newline ends each
// ofd:TextObject. Text drawn as glyph outlines only, or in an embedded
// font without a usable code, is not plain text and is not recovered.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "extract/parsers.h"
#include "extract/xml_text.h"
#include "extract/zip_entries.h"

namespace custos::extract {
namespace {

// (document number, page number) of "Doc_0/Pages/Page_3/Content.xml".
bool PageNumbers(const std::string& name, long& doc, long& page) {
  char tail[16] = {};
  int used = 0;
  if (std::sscanf(name.c_str(), "Doc_%ld/Pages/Page_%ld/Content.xm%1[l]%n", &doc, &page, tail,
                  &used) != 3) {
    return false;
  }
  return static_cast<size_t>(used) == name.size();
}

}  // namespace

Extraction ExtractOfd(std::string_view bytes, const ParseLimits& limits) {
  Extraction out;
  out.method = kMethodOfd;
  ZipContents zip = ReadZip(bytes, limits, [](const std::string& name) {
    long doc, page;
    return PageNumbers(name, doc, page);
  });
  out.warnings = zip.warnings;
  std::vector<std::tuple<long, long, std::string>> pages;
  for (const auto& [name, content] : zip.entries) {
    long doc, page;
    if (PageNumbers(name, doc, page)) pages.emplace_back(doc, page, name);
  }
  std::sort(pages.begin(), pages.end());
  XmlTextRules rules{{"TextCode"}, {"TextObject"}, {}, {}};
  for (const auto& [doc, page, name] : pages) {
    if (out.pages >= limits.max_pages) {
      out.warnings.push_back("pages_over_cap");
      break;
    }
    if (!AppendXmlText(zip.entries.at(name), rules, out.text)) out.warnings.push_back("xml_damaged");
    out.text += '\n';
    ++out.pages;
  }
  Finish(limits, out);
  return out;
}

}  // namespace custos::extract
