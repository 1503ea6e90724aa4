// Reading chosen entries of a zip held in memory (libarchive), with the
// caps of ParseLimits against zip bombs: entries looked at, bytes of one
// inflated entry, bytes of all entries read.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "extract/extraction.h"

namespace custos::extract {

struct ZipContents {
  std::vector<std::string> names;              // every entry name seen, in order
  std::map<std::string, std::string> entries;  // the wanted ones, inflated
  std::vector<std::string> warnings;           // "zip_entry_over_cap", ...
};

// Lists the zip and inflates the entries for which want(name) is true.
// An entry over max_entry_bytes, or past max_zip_total_bytes, is left out
// with a warning; more than max_zip_entries entries stops the listing with
// a warning. Throws UnreadableDocument if `bytes` is not a readable zip.
ZipContents ReadZip(std::string_view bytes, const ParseLimits& limits,
                    const std::function<bool(const std::string&)>& want);

}  // namespace custos::extract
