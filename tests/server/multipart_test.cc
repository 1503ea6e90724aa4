#include "server/http/multipart.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace custos::http {
namespace {

const std::string kBoundary = "xYzBoundary42";

struct Part {
  std::string name;
  std::string body;
};

std::string Body(const std::vector<Part>& parts, bool close = true) {
  std::string out;
  for (const Part& p : parts) {
    out += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"\r\n\r\n";
    out += p.body + "\r\n";
  }
  if (close) out += "--" + kBoundary + "--\r\n";
  return out;
}

struct ReadPart {
  std::string name;
  std::string body;
};

// Reads every part with reads of `chunk` bytes; the status of the first
// failure, if any, goes to `error`.
std::vector<ReadPart> ReadAll(const std::string& body, size_t chunk, Status* error = nullptr) {
  std::istringstream in(body);
  MultipartReader reader(in, kBoundary);
  std::vector<ReadPart> out;
  std::vector<uint8_t> buf(chunk);
  while (true) {
    Poco::Net::MessageHeader header;
    auto more = reader.NextPart(header);
    if (!more.ok()) {
      if (error) *error = more.status();
      return out;
    }
    if (!*more) return out;
    ReadPart p;
    std::string disposition = header.get("Content-Disposition", "");
    size_t at = disposition.find("name=\"");
    if (at != std::string::npos) p.name = disposition.substr(at + 6, disposition.size() - at - 7);
    while (true) {
      auto got = reader.Read(buf.data(), buf.size());
      if (!got.ok()) {
        if (error) *error = got.status();
        return out;
      }
      if (*got == 0) break;
      p.body.append(reinterpret_cast<const char*>(buf.data()), *got);
    }
    out.push_back(std::move(p));
  }
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(MultipartReader, PartsComeBackExactlyWhateverTheReadSize) {
  std::vector<Part> parts = {{"metadata", "{\"title\":\"x\"}"},
                             {"file", Random(200000, 1)},
                             {"empty", ""},
                             {"signature", Random(3000, 2)}};
  for (size_t chunk : {1, 7, 4096, 65536, 1 << 20}) {
    Status error;
    auto got = ReadAll(Body(parts), chunk, &error);
    ASSERT_TRUE(error.ok()) << chunk << ": " << error.ToString();
    ASSERT_EQ(got.size(), parts.size()) << chunk;
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_EQ(got[i].name, parts[i].name);
      EXPECT_EQ(got[i].body, parts[i].body) << "part " << i << ", reads of " << chunk;
    }
  }
}

// The reader fills 64 KiB at a time: a delimiter split across two fills, at
// every offset, must still end the part in the right place.
TEST(MultipartReader, DelimiterAcrossReadBlocks) {
  for (size_t size = 65536 - 140; size < 65536 + 20; ++size) {
    std::vector<Part> parts = {{"file", Random(size, static_cast<uint32_t>(size))}, {"tail", "end"}};
    Status error;
    auto got = ReadAll(Body(parts), 65536, &error);
    ASSERT_TRUE(error.ok()) << size << ": " << error.ToString();
    ASSERT_EQ(got.size(), 2u) << size;
    EXPECT_EQ(got[0].body, parts[0].body) << size;
    EXPECT_EQ(got[1].body, "end") << size;
  }
}

// Reads of 64 KiB or more go straight into the caller's buffer: a
// delimiter anywhere in such a read, or split between two, ends the part
// in the right place; the next part's bytes read past it are handed out
// with that part and not left in the caller's buffer past the count.
TEST(MultipartReader, LargeReadsEndPartsExactlyAndLeaveNothingPastTheCount) {
  const size_t kRead = 256 * 1024;
  for (size_t size : {size_t{0}, size_t{1}, size_t{65536}, kRead - 20, kRead - 1, kRead, kRead + 7,
                      2 * kRead - 10, 3 * kRead + 1}) {
    std::vector<Part> parts = {{"file", Random(size, static_cast<uint32_t>(size))},
                               {"file", Random(size / 2 + 100, 7)},
                               {"tail", "end"}};
    std::string body = Body(parts);
    std::istringstream in(body);
    MultipartReader reader(in, kBoundary);
    std::vector<uint8_t> buf(kRead);
    for (size_t i = 0; i < parts.size(); ++i) {
      Poco::Net::MessageHeader header;
      auto more = reader.NextPart(header);
      ASSERT_TRUE(more.ok() && *more) << size << " part " << i;
      std::string got;
      while (true) {
        std::fill(buf.begin(), buf.end(), uint8_t{0});
        auto n = reader.Read(buf.data(), buf.size());
        ASSERT_TRUE(n.ok()) << n.status().ToString();
        if (*n == 0) break;
        got.append(reinterpret_cast<const char*>(buf.data()), *n);
        EXPECT_TRUE(std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(*n), buf.end(),
                                [](uint8_t b) { return b == 0; }))
            << size << " part " << i;
      }
      EXPECT_EQ(got, parts[i].body) << size << " part " << i;
    }
    Poco::Net::MessageHeader header;
    auto more = reader.NextPart(header);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);
  }
}

TEST(MultipartReader, AlmostDelimitersAreContent) {
  std::string tricky = "a\r\n--" + kBoundary.substr(0, 5) + "b\r\n-" + kBoundary + "\r\n--x" +
                       "\r\n--" + kBoundary.substr(0, kBoundary.size() - 1);
  auto got = ReadAll(Body({{"file", tricky}}), 3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, tricky);
}

TEST(MultipartReader, PreambleEpilogueAndPaddingAreIgnored) {
  std::string body = "this is a preamble\r\n--" + kBoundary + " \t\r\n" +
                     "Content-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--" + kBoundary +
                     "--\r\nepilogue\r\n--" + kBoundary + "\r\nnot a part";
  Status error;
  auto got = ReadAll(body, 100, &error);
  ASSERT_TRUE(error.ok()) << error.ToString();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "value");
}

TEST(MultipartReader, CutOffBodiesAreTruncatedNotShort) {
  std::string full = Body({{"metadata", "{}"}, {"file", Random(150000, 3)}});
  // Every cut inside the body, from inside the file to just before the end
  // of the closing delimiter.
  for (size_t cut : {size_t{60}, size_t{1000}, size_t{70000}, full.size() - 30, full.size() - 10,
                     full.size() - 5, full.size() - 3}) {
    Status error;
    ReadAll(full.substr(0, cut), 65536, &error);
    EXPECT_EQ(error.reason(), "truncated_upload") << "cut at " << cut << ": " << error.ToString();
  }
  Status error;
  ReadAll(Body({{"file", "abc"}}, /*close=*/false), 10, &error);
  EXPECT_EQ(error.reason(), "truncated_upload") << error.ToString();
}

TEST(MultipartReader, GarbageIsMalformed) {
  Status error;
  ReadAll(Random(5000, 4), 100, &error);
  EXPECT_EQ(error.reason(), "malformed_multipart");

  error = Status::Ok();
  ReadAll("--" + kBoundary + "junk\r\n\r\nx\r\n--" + kBoundary + "--", 100, &error);
  EXPECT_EQ(error.reason(), "malformed_multipart");

  error = Status::Ok();
  std::string huge_header = "--" + kBoundary + "\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\nx\r\n--" +
                            kBoundary + "--\r\n";
  ReadAll(huge_header, 100, &error);
  EXPECT_EQ(error.reason(), "malformed_multipart");

  error = Status::Ok();
  ReadAll("--" + kBoundary + "\r\nno colon here\r\n\r\nx\r\n--" + kBoundary + "--\r\n", 100, &error);
  EXPECT_EQ(error.reason(), "malformed_multipart") << error.ToString();
}

TEST(MultipartReader, PartWithoutHeaders) {
  std::string body = "--" + kBoundary + "\r\n\r\nbare\r\n--" + kBoundary + "--";
  std::istringstream in(body);
  MultipartReader reader(in, kBoundary);
  Poco::Net::MessageHeader header;
  auto more = reader.NextPart(header);
  ASSERT_TRUE(more.ok() && *more) << more.status().ToString();
  EXPECT_TRUE(header.empty());
  uint8_t buf[16];
  auto got = reader.Read(buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *got), "bare");
  more = reader.NextPart(header);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

}  // namespace
}  // namespace custos::http
