#include "server/http/multipart.h"

#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>
#include <string_view>

namespace custos::http {

namespace {

Status Malformed(const std::string& what) {
  return InvalidArgument("malformed multipart body: " + what, "malformed_multipart");
}

Status Truncated() {
  return InvalidArgument("upload ended before its closing multipart boundary", "truncated_upload");
}

bool IsFieldNamed(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  return true;
}

// Does a quoted string opened in `value` stay open at its end?
bool EndsInsideQuotes(std::string_view value) {
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    if (quoted && value[i] == '\\' && i + 1 < value.size() && (value[i + 1] == '"' || value[i + 1] == '\\')) {
      ++i;
    } else if (value[i] == '"') {
      quoted = !quoted;
    }
  }
  return quoted;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// The body is read as if it began with "\r\n", so the first boundary line
// is found by the same search as every later delimiter.
MultipartReader::MultipartReader(std::istream& in, const std::string& boundary)
    : in_(in), delimiter_("\r\n--" + boundary), buf_("\r\n") {}

bool MultipartReader::Fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    clear_until_ -= std::min(clear_until_, pos_);
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kBlock);
  in_.read(buf_.data() + old, static_cast<std::streamsize>(kBlock));
  size_t got = static_cast<size_t>(in_.gcount());
  buf_.resize(old + got);
  if (got == 0) eof_ = true;
  return got > 0;
}

void MultipartReader::Want(size_t n) {
  while (Available() < n && Fill()) {
  }
}

size_t MultipartReader::FindDelimiter() {
  size_t from = std::max(pos_, clear_until_);
  size_t at = std::string_view(buf_).find(delimiter_, from);
  if (at == std::string_view::npos) {
    // No delimiter starts before the last (delimiter - 1) bytes.
    size_t tail = delimiter_.size() - 1;
    clear_until_ = buf_.size() > tail ? std::max(from, buf_.size() - tail) : from;
  }
  return at;
}

StatusOr<bool> MultipartReader::NextPart(Poco::Net::MessageHeader& header) {
  if (finished_) return false;
  // Skip the rest of the current part (or the preamble) up to a delimiter.
  while (true) {
    size_t at = FindDelimiter();
    if (at != std::string::npos) {
      pos_ = at + delimiter_.size();
      clear_until_ = pos_;
      break;
    }
    pos_ = std::max(pos_, clear_until_);
    if (!Fill()) return started_ ? Truncated() : Malformed("no boundary line");
  }
  started_ = true;
  in_part_ = false;
  Want(2);
  if (buf_.compare(pos_, 2, "--") == 0) {
    finished_ = true;  // the epilogue, if any, is ignored (RFC 2046)
    return false;
  }
  // Transport padding, then the end of the boundary line.
  while (true) {
    Want(1);
    if (Available() == 0) return Truncated();
    if (buf_[pos_] != ' ' && buf_[pos_] != '\t') break;
    ++pos_;
  }
  Want(2);
  if (buf_.compare(pos_, 2, "\r\n") != 0) {
    return Available() < 2 ? Truncated() : Malformed("garbage after a boundary");
  }
  pos_ += 2;

  // The part's header: lines up to an empty line.
  size_t end;
  Want(2);
  if (buf_.compare(pos_, 2, "\r\n") == 0) {
    end = pos_;  // no header fields
  } else {
    while ((end = buf_.find("\r\n\r\n", pos_)) == std::string::npos) {
      if (Available() > kMaxHeader) return Malformed("part header over 16 KiB");
      if (!Fill()) return Truncated();
    }
    end += 2;
    if (end - pos_ > kMaxHeader) return Malformed("part header over 16 KiB");
  }
  // Every line a "name: value" field (no continuation lines, RFC 7578 §4.8).
  // Content-Disposition is kept byte for byte, outside `header`: Poco's
  // parser would end it at a bare CR or LF and unescape backslashes, which
  // changes a file name instead of letting the service refuse it.
  disposition_.clear();
  std::string others;
  for (size_t line = pos_; line < end;) {
    size_t eol = buf_.find("\r\n", line);
    std::string_view text(buf_.data() + line, eol - line);
    if (IsFieldNamed(text, "Content-Disposition")) {
      disposition_ = std::string(Trim(text.substr(text.find(':') + 1)));
      if (EndsInsideQuotes(disposition_)) {
        return Unprocessable("a file name may not contain control characters: a quoted value in "
                             "Content-Disposition does not end on its line (a line break in the name)",
                             "invalid_file_name")
            .WithParam("field", "filename")
            .WithParam("rule", "control_character");
      }
      line = eol + 2;
      continue;
    }
    size_t colon = text.find(':');
    if (colon == 0 || colon == std::string_view::npos || text[0] == ' ' || text[0] == '\t') {
      return Malformed("part header line is not a field");
    }
    others.append(text).append("\r\n");
    line = eol + 2;
  }
  header.clear();
  try {
    std::istringstream text(others + "\r\n");
    header.read(text);
  } catch (const Poco::Exception& e) {
    return Malformed("bad part header: " + e.message());
  }
  if (!disposition_.empty()) header.set("Content-Disposition", disposition_);
  pos_ = end + 2;
  clear_until_ = pos_;
  in_part_ = true;
  return true;
}

StatusOr<size_t> MultipartReader::Read(uint8_t* p, size_t n) {
  if (!in_part_ || n == 0) return size_t{0};
  while (true) {
    size_t at = FindDelimiter();
    // Bytes before a delimiter, or before the tail that might start one.
    size_t ready = (at != std::string::npos ? at : std::max(pos_, clear_until_)) - pos_;
    if (ready > 0) {
      size_t k = std::min(n, ready);
      std::memcpy(p, buf_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    if (at != std::string::npos) return size_t{0};  // the part ends here
    if (n >= kBlock && !eof_) {
      size_t got = ReadDirect(p, n);
      if (got > 0) return got;
      continue;
    }
    if (!Fill()) return Truncated();
  }
}

// Called when none of the unread bytes can be handed out yet (fewer than
// the delimiter's length, all of which might start one): reads the body
// straight into the caller's buffer behind them, so a large read copies
// each byte once instead of through buf_. What may not be handed out (a
// delimiter and all after it, or a tail that might start one) goes back
// into buf_ and is cleared from the caller's buffer.
size_t MultipartReader::ReadDirect(uint8_t* p, size_t n) {
  const size_t kept = Available();
  std::memcpy(p, buf_.data() + pos_, kept);
  in_.read(reinterpret_cast<char*>(p) + kept, static_cast<std::streamsize>(n - kept));
  const size_t len = kept + static_cast<size_t>(in_.gcount());
  if (len == kept) {
    eof_ = true;
    std::memset(p, 0, kept);
    return 0;
  }
  std::string_view got(reinterpret_cast<const char*>(p), len);
  size_t at = got.find(delimiter_);
  size_t tail = delimiter_.size() - 1;
  size_t give = at != std::string_view::npos ? at : (len > tail ? len - tail : 0);
  buf_.assign(got.substr(give));
  pos_ = 0;
  clear_until_ = 0;
  std::memset(p + give, 0, len - give);
  return give;
}

StatusOr<ContentDisposition> ParseContentDisposition(std::string_view value) {
  ContentDisposition out;
  size_t i = value.find(';');
  out.type = std::string(Trim(value.substr(0, i)));
  bool has_name = false;
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) {
      if (Trim(value.substr(i)).empty()) break;  // a trailing ';'
      return Malformed("Content-Disposition parameter without a value");
    }
    std::string key(Trim(value.substr(i, eq - i)));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string v;
    if (i < value.size() && value[i] == '"') {
      bool closed = false;
      for (++i; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size() && (value[i + 1] == '"' || value[i + 1] == '\\')) {
          v += value[++i];
        } else if (value[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          v += value[i];
        }
      }
      if (!closed) return Malformed("unterminated quoted value in Content-Disposition");
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
      if (i < value.size() && value[i] != ';') return Malformed("text after a quoted value in Content-Disposition");
    } else {
      size_t semi = value.find(';', i);
      v = std::string(Trim(value.substr(i, semi == std::string_view::npos ? std::string_view::npos : semi - i)));
      i = semi;
    }
    if (key == "name") {
      if (has_name) return Malformed("Content-Disposition names the part twice");
      has_name = true;
      out.name = v;
    } else if (key == "filename") {
      if (out.filename) return Malformed("Content-Disposition gives filename twice");
      out.filename = v;
    }
    if (i != std::string_view::npos && i >= value.size()) break;
  }
  return out;
}

}  // namespace custos::http
