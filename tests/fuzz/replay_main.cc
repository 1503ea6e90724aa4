// Corpus replay driver for the fuzz targets, used where libFuzzer is absent
// (the gcc build that `make test` runs, with or without sanitizers).
//
//   fuzz_replay_<name> PATH...
//
// Each PATH is a file or a directory; every regular file directly inside a
// directory is an input (sorted by name, so runs are repeatable). Every input's
// bytes go once to LLVMFuzzerTestOneInput, which must not crash. If the target
// defines LLVMFuzzerInitialize, it runs first, as under libFuzzer.
//
// Prints how many inputs ran from each PATH and in total, and exits 0. Exits 1
// without running anything if a PATH is missing, unreadable or an empty
// directory (a replay that runs nothing must not pass). If an input crashes the
// target, the input's path is written to stderr before the process dies.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
// Optional, this driver's own: called after the last input, before exit, so
// a target can stop the threads it started while everything they use is
// still alive (static objects die at exit in an order no thread waits for).
extern "C" __attribute__((weak)) void CustosFuzzReplayFinish();
// Present only in sanitizer builds: called when a sanitizer reports an error.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

namespace fs = std::filesystem;

constexpr char kProgram[] = "fuzz_replay";

// The input being run, for the crash message. Globals because signal handlers
// and the sanitizer death callback take no argument; set and cleared around
// each input by the program's only thread.
const char* current_input = nullptr;
volatile std::sig_atomic_t crash_reported = 0;

void WriteStderr(const char* text) {
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Async-signal-safe: only write(2).
void ReportCurrentInput() {
  if (crash_reported || current_input == nullptr) return;
  crash_reported = 1;
  WriteStderr(kProgram);
  WriteStderr(": crashed on input ");
  WriteStderr(current_input);
  WriteStderr("\n");
}

void OnFatalSignal(int signal_number) {
  ReportCurrentInput();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// Under a sanitizer, memory faults are reported by the sanitizer's own handler
// (which then calls the death callback); replacing it would lose its report.
void InstallCrashReporting() {
  const bool sanitized = __sanitizer_set_death_callback != nullptr;
  if (sanitized) __sanitizer_set_death_callback(ReportCurrentInput);
  for (int signal_number : {SIGABRT, SIGILL, SIGTRAP}) std::signal(signal_number, OnFatalSignal);
  if (!sanitized) {
    for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE}) std::signal(signal_number, OnFatalSignal);
  }
}

// The inputs named by one command-line PATH, or an empty list after printing
// why there are none.
std::vector<fs::path> ListInputs(const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) return {path};
  if (!fs::is_directory(path, error)) {
    std::fprintf(stderr, "%s: %s: no such file or directory\n", kProgram, path.c_str());
    return {};
  }
  std::vector<fs::path> inputs;
  for (fs::directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) inputs.push_back(it->path());
  }
  if (error) {
    std::fprintf(stderr, "%s: %s: %s\n", kProgram, path.c_str(), error.message().c_str());
    return {};
  }
  if (inputs.empty()) std::fprintf(stderr, "%s: %s: no inputs\n", kProgram, path.c_str());
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

bool ReadInput(const fs::path& path, std::vector<uint8_t>* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// Runs one input. As under libFuzzer, the target gets a fresh heap buffer of
// exactly the input's size (never a null pointer, even for an empty input), so
// that a sanitizer catches any read past the end.
bool RunInput(const fs::path& path) {
  std::vector<uint8_t> bytes;
  if (!ReadInput(path, &bytes)) {
    std::fprintf(stderr, "%s: %s: cannot read\n", kProgram, path.c_str());
    return false;
  }
  std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), exact.get());
  const std::string name = path.string();
  current_input = name.c_str();
  LLVMFuzzerTestOneInput(exact.get(), bytes.size());
  current_input = nullptr;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH...  (files or corpus directories)\n", argv[0]);
    return 1;
  }
  const std::vector<std::string> paths(argv + 1, argv + argc);
  std::vector<std::vector<fs::path>> inputs_per_path;
  for (const std::string& path : paths) {
    inputs_per_path.push_back(ListInputs(path));
    if (inputs_per_path.back().empty()) return 1;
  }

  InstallCrashReporting();
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  size_t total = 0;
  for (size_t i = 0; i < inputs_per_path.size(); ++i) {
    for (const fs::path& input : inputs_per_path[i]) {
      if (!RunInput(input)) return 1;
    }
    std::printf("%s: ran %zu inputs from %s\n", kProgram, inputs_per_path[i].size(),
                paths[i].c_str());
    std::fflush(stdout);
    total += inputs_per_path[i].size();
  }
  if (CustosFuzzReplayFinish != nullptr) CustosFuzzReplayFinish();
  std::printf("%s: ran %zu inputs in total, no crash\n", kProgram, total);
  return 0;
}
