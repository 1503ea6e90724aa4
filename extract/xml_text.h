// The text of chosen elements of an XML part, read with libxml2's streaming
// reader (no DOM, no network, no external entities, no DTD loading).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace custos::extract {

struct XmlTextRules {
  // Local names (namespace prefix ignored) whose character data is text,
  // e.g. {"t"} for w:t, a:t and the t of shared strings.
  std::set<std::string, std::less<>> text_elements;
  // Local names after whose end a newline is written (paragraphs, rows).
  std::set<std::string, std::less<>> break_after;
  // Local names of empty elements that stand for a tab or a line break.
  std::set<std::string, std::less<>> tab_elements;
  std::set<std::string, std::less<>> newline_elements;
};

// Appends the text of `xml` to `out`. Returns false if the XML is not
// well-formed (what was read before the error is kept).
bool AppendXmlText(std::string_view xml, const XmlTextRules& rules, std::string& out);

}  // namespace custos::extract
