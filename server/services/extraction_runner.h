// Runs the document extraction worker (custos-extract,
// docs/formats/extraction.md) on one document in a separate process under
// limits, and reads its answer. The parsers of untrusted documents never
// run inside the server: a crash, a hang or a memory blow-up in them ends
// only the worker, and comes back here as a Status with its own reason.
//
// The child gets:
//   - a cleared environment: PATH=/usr/bin:/bin, LANG=C.UTF-8,
//     OMP_THREAD_LIMIT=1, and TESSDATA_PREFIX when limits.tessdata_prefix
//     is set;
//   - as working directory an empty private directory (mode 0700) made for
//     this run and removed after it, whatever the worker left in it;
//   - stdin: the document (written from the poll loop, so a worker that
//     never reads cannot block the caller); stdout and stderr: pipes; every
//     other descriptor closed;
//   - its own process group, killed as a whole (SIGKILL) at the wall-clock
//     deadline;
//   - setrlimit: RLIMIT_CPU, RLIMIT_AS (not in AddressSanitizer builds,
//     whose shadow memory needs terabytes of address space; there the
//     worker caps its own resident memory), RLIMIT_FSIZE 0
//     (SIGXFSZ ignored, so a write fails with EFBIG), RLIMIT_NOFILE,
//     RLIMIT_CORE 0;
//   - the CPU niceness limits.nice, so that a busy worker yields the CPU to
//     the server's requests.
//
// Thread safety: RunExtraction and RunWorker keep no state; any number may
// run at once from different threads (each waits for its own child only).
// The process must not set SIGCHLD to SIG_IGN (children would not be
// waitable; a run then ends as extraction_failed).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos::services {

// Reasons of the failures of RunExtraction (Status::reason()), stable for
// the pipeline that records them and retries with backoff.
inline constexpr const char* kExtractionCrashed = "extraction_crashed";      // killed by a signal (SEGV, ABRT, ...) or a sanitizer report
inline constexpr const char* kExtractionTimeout = "extraction_timeout";      // the wall-clock deadline passed; the group was killed
inline constexpr const char* kExtractionLimit = "extraction_limit";          // SIGXCPU, SIGKILL not ours, out of memory, input too large
inline constexpr const char* kExtractionBadOutput = "extraction_bad_output"; // exit 0 but no valid answer, or stdout over the cap
inline constexpr const char* kExtractionUnreadable = "extraction_unreadable";  // the worker says the document is damaged (exit 3): do not retry
inline constexpr const char* kExtractionFailed = "extraction_failed";        // any other exit code, or the worker could not be started

struct ExtractionLimits {
  std::chrono::seconds cpu{30};                 // RLIMIT_CPU (soft; the hard limit is 5 s more)
  uint64_t address_space_bytes = uint64_t{1} << 30;  // RLIMIT_AS; 0 = none
  int open_files = 32;                          // RLIMIT_NOFILE
  std::chrono::milliseconds wall{60'000};       // then SIGKILL to the process group
  size_t max_output_bytes = size_t{64} << 20;   // stdout; more is bad output
  size_t max_stderr_bytes = 64 << 10;           // stderr kept (the rest is read and dropped)
  size_t max_document_bytes = size_t{256} << 20;  // passed as --max-bytes
  bool ocr = true;                              // passed as --ocr on|off
  std::string tessdata_prefix;                  // TESSDATA_PREFIX for the child, if not empty
  std::string temp_root;                        // where the private directory goes; "" = $TMPDIR or /tmp
  int nice = 0;                                 // the child's CPU niceness (setpriority; 0..19)
};

// The worker's answer (docs/formats/extraction.md).
struct ExtractionResult {
  std::string identified_mime;         // from the bytes (libmagic)
  std::string identified_description;
  std::string status;                  // "text", "no_text" or "unsupported"
  std::string method;                  // "pdf_text", "ocr", "docx", ... or "none"
  int pages = 0;
  std::string text;                    // UTF-8
  std::vector<std::string> warnings;
  double seconds = 0;                  // wall time of the run
};

// How one run of a program under the limits ended (the raw layer under
// RunExtraction; tests use it to see what a child sees).
struct WorkerRun {
  bool started = false;
  bool timed_out = false;       // we killed the group at the deadline
  bool output_over_cap = false; // stdout passed max_output_bytes (group killed)
  bool exited = false;
  int exit_code = -1;           // when exited
  int signal = 0;               // when killed by a signal
  std::string out;              // stdout (at most max_output_bytes)
  std::string err;              // stderr (at most max_stderr_bytes)
  double seconds = 0;
};

// Runs argv[0] (a path, not searched in PATH) with argv, `input` on stdin,
// under `limits`. Returns started=false (and err saying why) if it could not
// be started. Never throws; returns after the child and its group are gone
// and the private directory is removed, at most about limits.wall later.
[[nodiscard]] WorkerRun RunWorker(const ExtractionLimits& limits, const std::vector<std::string>& argv,
                                  std::string_view input);

// The Status of a run that did not end with exit 0 and a full answer
// (started, not timed out, output within the cap), reason one of the
// kExtraction* above, as RunExtraction reports it; for the other workers
// (custos-render), whose own exit codes the caller reads first.
[[nodiscard]] Status ClassifyWorkerRun(const WorkerRun& run);

// Runs worker_path on `document` (claimed_type is passed as --claimed-type
// when not empty; it is a hint only, the worker identifies the bytes) and
// returns its parsed answer, or a Status whose reason is one of the
// kExtraction* above and whose message carries the worker's stderr line.
[[nodiscard]] StatusOr<ExtractionResult> RunExtraction(const ExtractionLimits& limits,
                                                       const std::string& worker_path,
                                                       std::string_view document,
                                                       const std::string& claimed_type);

// Parses the worker's JSON answer; Status kExtractionBadOutput if it is not
// one (wrong version, missing or mistyped field, unknown status).
[[nodiscard]] StatusOr<ExtractionResult> ParseExtractionOutput(std::string_view json);

}  // namespace custos::services
