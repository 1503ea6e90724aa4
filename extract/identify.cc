// Format identification from the bytes alone (libmagic). The claimed type
// never decides how a document is parsed.
#include <magic.h>

#include "extract/parsers.h"

namespace custos::extract {
namespace {

std::string Ask(std::string_view bytes, int flags) {
  magic_t cookie = magic_open(flags | MAGIC_ERROR);
  if (!cookie) throw std::runtime_error("libmagic: magic_open failed");
  std::string answer;
  if (magic_load(cookie, nullptr) != 0) {
    std::string error = magic_error(cookie) ? magic_error(cookie) : "?";
    magic_close(cookie);
    throw std::runtime_error("libmagic: cannot load the database: " + error);
  }
  const char* result = magic_buffer(cookie, bytes.data(), bytes.size());
  answer = result ? result : "";
  magic_close(cookie);
  return answer;
}

}  // namespace

Identified Identify(std::string_view bytes) {
  Identified id;
  id.mime = Ask(bytes, MAGIC_MIME_TYPE);
  id.description = Ask(bytes, MAGIC_NONE);
  if (id.mime.empty()) id.mime = "application/octet-stream";
  return id;
}

}  // namespace custos::extract
