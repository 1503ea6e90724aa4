// Fuzz target for MultipartReader (server/http/multipart.h), the streaming
// multipart/form-data reader behind every upload. The boundary is fixed
// (kBoundary); the input chooses how the body is read and then is the body.
//
// Input layout:
//   byte 0   bits 0-3: the read-size plan (kReadPlans); bit 4: shift the
//            body by a preamble of about 64 KiB, so that byte 1 moves the
//            rest of the body across the reader's 64 KiB block boundary
//            (a delimiter or part header split between two blocks);
//   byte 1   the preamble length adjustment (used with bit 4 only);
//   rest     the body.
// Properties, each checked with abort():
//   * the parts' bytes together never exceed the body's size;
//   * reading the body with the planned read sizes, in 64 KiB reads and (for
//     bodies without the preamble) one byte at a time gives the same parts,
//     headers, bytes and outcome (error reason); skipping the part bodies
//     (NextPart only) gives the same parts, headers and outcome;
//   * round trip: the rest of the input is also cut into parts (a length
//     byte, then that many bytes) and assembled into a well-formed body;
//     reading it gives back exactly those parts and names, with no error,
//     whenever no part contains the delimiter.
#include <Poco/Net/MessageHeader.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/multipart.h"

namespace {

using custos::http::MultipartReader;

constexpr char kBoundary[] = "CustosFuzzBoundary";
constexpr size_t kBlock = 64 * 1024;  // MultipartReader's read block

// Read sizes, used in turn; the last plan reads whole blocks.
const std::vector<std::vector<size_t>> kReadPlans = {
    {1},          {2},           {3, 1, 7},       {5},       {13, 2},   {16},
    {31},         {64},          {100, 1},        {255},     {512, 3},  {1024},
    {4096},       {8191, 1, 2},  {65535},         {kBlock},
};

void Check(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::vector<std::string> headers;  // each part's header fields, in order
  std::vector<std::string> bodies;   // each part's bytes (empty when skipped)
  bool ok = true;                    // ended at the closing delimiter
  std::string reason;                // the failure's reason otherwise
  size_t bytes = 0;                  // part bytes read in all
};

std::string HeaderText(const Poco::Net::MessageHeader& header) {
  std::string out;
  for (const auto& [name, value] : header) out += name + ": " + value + "\n";
  return out;
}

// Reads `body` part by part. An empty `sizes` skips every part body.
Outcome ReadBody(const std::string& body, const std::vector<size_t>& sizes) {
  std::istringstream in(body);
  MultipartReader reader(in, kBoundary);
  Outcome out;
  std::vector<uint8_t> buf(kBlock);
  size_t turn = 0;
  while (true) {
    Poco::Net::MessageHeader header;
    auto more = reader.NextPart(header);
    if (!more.ok()) {
      out.ok = false;
      out.reason = more.status().reason();
      return out;
    }
    if (!*more) return out;
    out.headers.push_back(HeaderText(header));
    out.bodies.emplace_back();
    if (sizes.empty()) continue;
    while (true) {
      size_t want = sizes[turn++ % sizes.size()];
      auto got = reader.Read(buf.data(), want);
      if (!got.ok()) {
        out.ok = false;
        out.reason = got.status().reason();
        return out;
      }
      Check(*got <= want);
      if (*got == 0) break;
      out.bodies.back().append(reinterpret_cast<const char*>(buf.data()), *got);
      out.bytes += *got;
      Check(out.bytes <= body.size());
    }
  }
}

void CheckSameReads(const std::string& body, const std::vector<size_t>& plan) {
  const Outcome planned = ReadBody(body, plan);
  const Outcome blocks = ReadBody(body, {kBlock});
  const Outcome skipped = ReadBody(body, {});
  std::vector<const Outcome*> others = {&blocks};
  // One byte at a time costs a call per byte: only for bodies without the
  // 64 KiB preamble (the plans include small reads for those).
  Outcome bytewise;
  if (body.size() <= kBlock / 8) {
    bytewise = ReadBody(body, {1});
    others.push_back(&bytewise);
  }
  for (const Outcome* o : others) {
    Check(o->headers == planned.headers);
    Check(o->bodies == planned.bodies);
    Check(o->ok == planned.ok && o->reason == planned.reason);
  }
  Check(skipped.headers == planned.headers);
  Check(skipped.ok == planned.ok && skipped.reason == planned.reason);
  size_t total = 0;
  for (const std::string& b : planned.bodies) total += b.size();
  Check(total == planned.bytes && total <= body.size());
}

// Cuts `data` into parts (a length byte, then up to that many bytes), writes
// them as a well-formed body and reads it back.
void CheckRoundTrip(std::string_view data, const std::vector<size_t>& plan) {
  const std::string delimiter = std::string("\r\n--") + kBoundary;
  std::vector<std::string> parts;
  while (!data.empty() && parts.size() < 64) {
    size_t n = std::min<size_t>(static_cast<uint8_t>(data[0]), data.size() - 1);
    parts.emplace_back(data.substr(1, n));
    data.remove_prefix(1 + n);
  }
  std::string body;
  for (size_t i = 0; i < parts.size(); ++i) {
    // A part that holds the delimiter cannot be sent in this body at all.
    if (parts[i].find(delimiter) != std::string::npos) return;
    body += std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"p" +
            std::to_string(i) + "\"\r\n\r\n" + parts[i] + "\r\n";
  }
  body += std::string("--") + kBoundary + "--\r\n";
  const Outcome o = ReadBody(body, plan);
  Check(o.ok);
  Check(o.bodies == parts);
  for (size_t i = 0; i < parts.size(); ++i) {
    Check(o.headers[i] ==
          "Content-Disposition: form-data; name=\"p" + std::to_string(i) + "\"\n");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::vector<size_t>& plan = kReadPlans[data[0] & 0x0f];
  const bool shifted = (data[0] & 0x10) != 0;
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  if (shifted) {
    // Filler without a delimiter: a preamble, skipped before the first
    // boundary line, that puts the body's byte (256 - data[1]) at the first
    // block boundary (the reader sees "\r\n" before the body).
    body.insert(0, std::string(kBlock - 256 + data[1], 'x'));
  }
  CheckSameReads(body, plan);
  CheckRoundTrip(std::string_view(reinterpret_cast<const char*>(data + 2), size - 2), plan);
  return 0;
}
