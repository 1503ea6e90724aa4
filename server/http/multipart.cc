#include "server/http/multipart.h"

#include <Poco/Exception.h>

#include <algorithm>
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
  for (size_t line = pos_; line < end;) {
    size_t eol = buf_.find("\r\n", line);
    size_t colon = buf_.find(':', line);
    if (colon == line || colon >= eol || buf_[line] == ' ' || buf_[line] == '\t') {
      return Malformed("part header line is not a field");
    }
    line = eol + 2;
  }
  header.clear();
  try {
    std::istringstream text(buf_.substr(pos_, end - pos_) + "\r\n");
    header.read(text);
  } catch (const Poco::Exception& e) {
    return Malformed("bad part header: " + e.message());
  }
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
    if (!Fill()) return Truncated();
  }
}

}  // namespace custos::http
