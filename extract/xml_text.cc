#include "extract/xml_text.h"

#include <libxml/xmlreader.h>

#include <memory>

namespace custos::extract {
namespace {

struct ReaderCloser {
  void operator()(xmlTextReader* r) const { xmlFreeTextReader(r); }
};

std::string_view LocalName(xmlTextReaderPtr reader) {
  const xmlChar* name = xmlTextReaderConstLocalName(reader);
  return name ? std::string_view(reinterpret_cast<const char*>(name)) : std::string_view();
}

// libxml2 reports errors through a global handler; keep them off stderr.
void Silent(void*, const char*, ...) {}

}  // namespace

bool AppendXmlText(std::string_view xml, const XmlTextRules& rules, std::string& out) {
  xmlSetGenericErrorFunc(nullptr, Silent);
  std::unique_ptr<xmlTextReader, ReaderCloser> reader(xmlReaderForMemory(
      xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_COMPACT));
  if (!reader) return false;
  int inside = 0;  // depth of open text elements
  for (;;) {
    int r = xmlTextReaderRead(reader.get());
    if (r == 0) return true;
    if (r < 0) return false;
    int type = xmlTextReaderNodeType(reader.get());
    if (type == XML_READER_TYPE_ELEMENT) {
      std::string_view name = LocalName(reader.get());
      bool empty = xmlTextReaderIsEmptyElement(reader.get()) == 1;
      if (rules.tab_elements.count(name)) out += '\t';
      if (rules.newline_elements.count(name)) out += '\n';
      if (rules.text_elements.count(name) && !empty) ++inside;
      if (empty && rules.break_after.count(name)) out += '\n';
    } else if (type == XML_READER_TYPE_END_ELEMENT) {
      std::string_view name = LocalName(reader.get());
      if (rules.text_elements.count(name) && inside > 0) --inside;
      if (rules.break_after.count(name)) out += '\n';
    } else if (inside > 0 && (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
                              type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
                              type == XML_READER_TYPE_WHITESPACE)) {
      const xmlChar* value = xmlTextReaderConstValue(reader.get());
      if (value) out += reinterpret_cast<const char*>(value);
    }
  }
}

}  // namespace custos::extract
