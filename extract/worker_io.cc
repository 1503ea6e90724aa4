#include "extract/worker_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "extract/parsers.h"

namespace custos::extract {

namespace {
const char* program_name = "custos-worker";
}  // namespace

void Fail(int code, const std::string& reason) {
  std::fprintf(stderr, "%s: %s\n", program_name, reason.c_str());
  std::exit(code);
}

std::string ReadStdin(size_t max_bytes) {
  std::string data;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(0, buffer, sizeof buffer);
    if (n == 0) return data;
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(kExitFailure, std::string("cannot read stdin: ") + std::strerror(errno));
    }
    if (data.size() + static_cast<size_t>(n) > max_bytes) Fail(kExitTooLarge, "input over --max-bytes");
    data.append(buffer, static_cast<size_t>(n));
  }
}

void WriteStdout(std::string_view bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(1, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail(kExitFailure, "cannot write stdout");
    done += static_cast<size_t>(n);
  }
}

bool IsRasterImage(const std::string& mime) {
  return mime == "image/png" || mime == "image/jpeg" || mime == "image/tiff" || mime == "image/gif" ||
         mime == "image/bmp" || mime == "image/x-ms-bmp" || mime == "image/webp";
}

int RunWorkerMain(const char* program, int (*run)(int, char**), int argc, char** argv) {
  program_name = program;
  try {
    return run(argc, argv);
  } catch (const UnreadableDocument& e) {
    Fail(kExitUnreadable, e.what());
  } catch (const std::bad_alloc&) {
    Fail(kExitOutOfMemory, "out of memory");
  } catch (const std::exception& e) {
    Fail(kExitFailure, e.what());
  }
}

}  // namespace custos::extract
