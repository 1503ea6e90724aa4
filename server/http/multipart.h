// A streaming multipart/form-data reader (RFC 7578, RFC 2046 §5.1) for
// uploads of any size: it reads the body in 64 KiB blocks and finds each
// delimiter ("\r\n--" boundary) with a substring search, so a part's bytes
// are copied once and never inspected one by one. A Read() of 64 KiB or more
// reads the body straight into the caller's buffer when the reader's own
// holds nothing it may hand out.
//
// Usage:
//   MultipartReader reader(body, boundary);
//   while (true) {
//     CUSTOS_ASSIGN_OR_RETURN(bool more, reader.NextPart(header));
//     if (!more) break;                         // closing delimiter seen
//     reader.Read(p, n) …                       // 0 at the end of the part
//   }
//
// Errors (kInvalidArgument): "malformed_multipart" for a body that does not
// start with the boundary, a part header over 16 KiB or garbage after a
// delimiter; "truncated_upload" when the body ends inside a part or before
// the closing delimiter. A part's body is never shorter than what was sent
// without one of these errors, so a cut-off upload cannot pass for a short
// file.
//
// Thread safety: none; one reader per request.
#pragma once

#include <Poco/Net/MessageHeader.h>

#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/byte_stream.h"

namespace custos::http {

class MultipartReader final : public ByteSource {
 public:
  MultipartReader(std::istream& in, const std::string& boundary);

  // Skips what is left of the current part and reads the next part's
  // header. Returns false after the closing delimiter. Content-Disposition
  // is read by our own code, not Poco's (which ends a field at a bare CR or
  // LF): Disposition() has it exactly as sent, and so has `header`. A
  // Content-Disposition whose quoted value runs past
  // its line (a line break inside a file name) is kUnprocessable
  // "invalid_file_name".
  StatusOr<bool> NextPart(Poco::Net::MessageHeader& header);

  // The current part's Content-Disposition value, byte for byte ("" if the
  // part has none). Parse it with ParseContentDisposition.
  const std::string& Disposition() const { return disposition_; }

  // Reads the current part's body; 0 at its end.
  StatusOr<size_t> Read(uint8_t* p, size_t n) override;

 private:
  static constexpr size_t kBlock = 64 * 1024;
  static constexpr size_t kMaxHeader = 16 * 1024;

  // Reads more of the body into buf_; false at end of input.
  bool Fill();
  // Makes at least `n` unread bytes available if the input has them.
  void Want(size_t n);
  // Reads into the caller's buffer directly (see multipart.cc); returns the
  // bytes of the part it may hand out, possibly 0.
  size_t ReadDirect(uint8_t* p, size_t n);
  // The offset of the next delimiter at or after pos_, or npos; remembers
  // how far the buffer is known to hold none (clear_until_).
  size_t FindDelimiter();
  size_t Available() const { return buf_.size() - pos_; }

  std::istream& in_;
  const std::string delimiter_;  // "\r\n--" + boundary
  std::string buf_;
  size_t pos_ = 0;
  size_t clear_until_ = 0;  // no delimiter starts in [pos_, clear_until_)
  bool eof_ = false;
  bool started_ = false;   // the first delimiter was read
  bool in_part_ = false;   // between a part's header and its delimiter
  bool finished_ = false;  // the closing delimiter was read
  std::string disposition_;  // of the current part
};

// A part's Content-Disposition (RFC 7578 §4.2): `form-data; name="…";
// filename="…"`. Values are kept as sent: nothing is dropped or rewritten
// (a file name is checked, and refused if need be, by the service, never
// sanitized here). Inside a quoted value only \" and \\ are escapes (for "
// and \); any other backslash is kept as it is, so "C:\x.pdf" stays
// "C:\x.pdf". filename* (RFC 5987) is not read.
struct ContentDisposition {
  std::string type;                     // "form-data"
  std::string name;                     // the name parameter ("" if none)
  std::optional<std::string> filename;  // the filename parameter, if given
};
// kInvalidArgument "malformed_multipart" for an unterminated quoted value or
// a parameter given twice.
StatusOr<ContentDisposition> ParseContentDisposition(std::string_view value);

}  // namespace custos::http
