#include "server/services/extraction_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

namespace custos::services {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Sanitizer runtimes intercept the calls the child makes (sigaction...)
// and keep their state in memory a CLONE_VM child would share: under
// either, StartChild forks.
#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

// Exit codes of custos-extract (extract/extraction.h, kept in step by hand:
// the server does not include the worker's headers).
constexpr int kExitUnreadable = 3;
constexpr int kExitOutOfMemory = 4;
constexpr int kExitTooLarge = 5;

// The private working directory of one run, removed with whatever is in it.
class PrivateDir {
 public:
  explicit PrivateDir(const std::string& root) {
    std::string base = root;
    if (base.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string pattern = base + "/custos-extract-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~PrivateDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Descriptors closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Everything the child needs, built before StartChild so that the child calls
// only async-signal-safe functions.
struct ChildPlan {
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::string cwd;
  rlimit cpu{}, as{}, fsize{}, nofile{}, core{};
  int nice = 0;
  bool limit_as = false;
};

ChildPlan MakePlan(const ExtractionLimits& limits, const std::vector<std::string>& argv,
                   const std::string& cwd) {
  ChildPlan plan;
  plan.argv_storage = argv;
  plan.env_storage = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "OMP_THREAD_LIMIT=1"};
  if (!limits.tessdata_prefix.empty()) {
    plan.env_storage.push_back("TESSDATA_PREFIX=" + limits.tessdata_prefix);
  }
  for (auto& a : plan.argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : plan.env_storage) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.cwd = cwd;
  rlim_t cpu = static_cast<rlim_t>(std::max<int64_t>(1, limits.cpu.count()));
  plan.cpu = {cpu, cpu + 5};
  plan.limit_as = limits.address_space_bytes > 0 && !kAddressSanitizer;
  plan.as = {limits.address_space_bytes, limits.address_space_bytes};
  plan.fsize = {0, 0};
  plan.nofile = {static_cast<rlim_t>(limits.open_files), static_cast<rlim_t>(limits.open_files)};
  plan.core = {0, 0};
  plan.nice = std::clamp(limits.nice, 0, 19);
  return plan;
}

// In the child (StartChild): async-signal-safe calls only, on its own stack.
[[noreturn]] void ExecChild(const ChildPlan& plan, int in, int out, int err) {
  ::setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::sigaction(s, &dfl, nullptr);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ign, nullptr);  // a write past RLIMIT_FSIZE fails with EFBIG
  // Every other handled signal back to its default too, before any signal
  // is let through: no handler of the server runs in the child (which,
  // started by StartChild, shares the server's memory until it execs).
  for (int s = 1; s < NSIG; ++s) {
    struct sigaction old {};
    if (::sigaction(s, nullptr, &old) == 0 && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
      ::sigaction(s, &dfl, nullptr);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
  ::close_range(3, ~0U, 0);
  if (::chdir(plan.cwd.c_str()) != 0) ::_exit(126);
  if (::setrlimit(RLIMIT_CPU, &plan.cpu) != 0 || ::setrlimit(RLIMIT_FSIZE, &plan.fsize) != 0 ||
      ::setrlimit(RLIMIT_NOFILE, &plan.nofile) != 0 || ::setrlimit(RLIMIT_CORE, &plan.core) != 0 ||
      (plan.limit_as && ::setrlimit(RLIMIT_AS, &plan.as) != 0)) {
    ::_exit(126);
  }
  if (plan.nice > 0 && ::setpriority(PRIO_PROCESS, 0, plan.nice) != 0) ::_exit(126);
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  static const char kMessage[] = "custos: cannot execute the extraction worker\n";
  [[maybe_unused]] ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
  ::_exit(127);
}

struct ChildStart {
  const ChildPlan* plan;
  int in, out, err;
};

int ChildEntry(void* arg) {
  const ChildStart* c = static_cast<const ChildStart*>(arg);
  ExecChild(*c->plan, c->in, c->out, c->err);
}

// Starts the worker process running ExecChild; its pid, or -1 with errno.
// As posix_spawn does: clone(CLONE_VM | CLONE_VFORK) on a stack of its own,
// this thread waiting until the child has exec'd or exited, with every
// signal blocked meanwhile. fork() would mark every page of the server
// copy-on-write, and each later write of each of its threads would fault:
// about a tenth of custosd's CPU during downloads while the pipeline ran
// (docs/benchmarks.md "Logged reads and record GETs"). Under a sanitizer,
// fork().
pid_t StartChild(const ChildPlan& plan, int in, int out, int err) {
  if (kAddressSanitizer || kThreadSanitizer) {
    pid_t pid = ::fork();
    if (pid == 0) ExecChild(plan, in, out, err);
    return pid;
  }
  constexpr size_t kChildStack = 256 * 1024;
  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  ChildStart start{&plan, in, out, err};
  pid_t pid = ::clone(ChildEntry, static_cast<char*>(stack) + kChildStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(stack, kChildStack);
  errno = saved;
  return pid;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is there from fd into `into` (keeping at most `cap` bytes);
// closes fd at EOF. Returns false if more than cap arrived.
bool Drain(Fd& fd, std::string& into, size_t cap) {
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.fd, buffer, sizeof buffer);
    if (n > 0) {
      size_t room = cap - std::min(cap, into.size());
      into.append(buffer, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) return false;
      continue;
    }
    if (n == 0) fd.Close();
    if (n < 0 && errno == EINTR) continue;
    return true;  // EOF or EAGAIN
  }
}

// Feeds the child's stdin, reads its stdout and stderr, until both close
// or the deadline; returns false at the deadline.
bool Pump(WorkerRun& run, const ExtractionLimits& limits, std::string_view input, Fd& in, Fd& out,
          Fd& err, pid_t pid, Clock::time_point deadline) {
  size_t written = 0;
  if (input.empty()) in.Close();
  while (out.fd >= 0 || err.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[3] = {{in.fd, POLLOUT, 0}, {out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}};
    int ready = ::poll(fds, 3, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    if (in.fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::send(in.fd, input.data() + written, input.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in.Close();
    }
    if (out.fd >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      if (!Drain(out, run.out, limits.max_output_bytes)) {
        run.output_over_cap = true;
        ::kill(-pid, SIGKILL);
        return true;
      }
    }
    if (err.fd >= 0 && (fds[2].revents & (POLLIN | POLLERR | POLLHUP))) {
      std::string& keep = run.err;
      std::string dropped;
      if (!Drain(err, keep, limits.max_stderr_bytes)) {
        // Over the cap: keep reading so the child never blocks on stderr.
        keep.resize(limits.max_stderr_bytes);
      }
    }
  }
  return true;
}

// Waits for the child until the deadline; then kills the group and reaps.
void Reap(WorkerRun& run, pid_t pid, Clock::time_point deadline) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return;
    if (Clock::now() >= deadline) {
      run.timed_out = true;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    ::poll(nullptr, 0, 5);
  }
  ::kill(-pid, SIGKILL);  // anything the worker left behind in its group
  if (WIFEXITED(status)) {
    run.exited = true;
    run.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    run.signal = WTERMSIG(status);
  }
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) : line;
}

Status Failure(ErrorCode code, const char* reason, const std::string& what, const WorkerRun& run) {
  std::string message = what;
  if (!run.err.empty()) message += ": " + FirstLine(run.err);
  return Status(code, message, reason);
}

// Turns a finished run that did not answer properly into its Status.
Status Classify(const WorkerRun& run) {
  if (!run.started) return Failure(ErrorCode::kInternal, kExtractionFailed, "worker not started", run);
  if (run.timed_out) return Failure(ErrorCode::kUnavailable, kExtractionTimeout, "worker timed out", run);
  if (run.output_over_cap) {
    return Failure(ErrorCode::kUnprocessable, kExtractionBadOutput, "worker output over the cap", run);
  }
  if (run.signal != 0) {
    std::string what = std::string("worker killed by signal ") + std::to_string(run.signal) + " (" +
                       ::strsignal(run.signal) + ")";
    if (run.signal == SIGXCPU || run.signal == SIGKILL || run.signal == SIGXFSZ) {
      return Failure(ErrorCode::kResourceExhausted, kExtractionLimit, what, run);
    }
    return Failure(ErrorCode::kInternal, kExtractionCrashed, what, run);
  }
  std::string what = "worker exited with " + std::to_string(run.exit_code);
  // An AddressSanitizer build of the worker caps its memory itself
  // (extract/main.cc); any other sanitizer report is a crash.
  if (run.err.find("rss limit exhausted") != std::string::npos) {
    return Failure(ErrorCode::kResourceExhausted, kExtractionLimit, what, run);
  }
  if (run.err.find("Sanitizer") != std::string::npos) {
    return Failure(ErrorCode::kInternal, kExtractionCrashed, what, run);
  }
  if (run.exit_code == kExitOutOfMemory || run.exit_code == kExitTooLarge) {
    return Failure(ErrorCode::kResourceExhausted, kExtractionLimit, what, run);
  }
  if (run.exit_code == kExitUnreadable) {
    return Failure(ErrorCode::kUnprocessable, kExtractionUnreadable, what, run);
  }
  return Failure(ErrorCode::kInternal, kExtractionFailed, what, run);
}

}  // namespace

WorkerRun RunWorker(const ExtractionLimits& limits, const std::vector<std::string>& argv,
                    std::string_view input) {
  WorkerRun run;
  Clock::time_point start = Clock::now();
  if (argv.empty()) {
    run.err = "no program";
    return run;
  }
  PrivateDir dir(limits.temp_root);
  if (dir.path().empty()) {
    run.err = std::string("cannot make a private directory: ") + std::strerror(errno);
    return run;
  }
  int in_pair[2], out_pipe[2], err_pipe[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    run.err = std::string("socketpair failed: ") + std::strerror(errno);
    return run;
  }
  Fd in_parent{in_pair[0]}, in_child{in_pair[1]};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    run.err = std::string("pipe failed: ") + std::strerror(errno);
    return run;
  }
  Fd out_parent{out_pipe[0]}, out_child{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    run.err = std::string("pipe failed: ") + std::strerror(errno);
    return run;
  }
  Fd err_parent{err_pipe[0]}, err_child{err_pipe[1]};
  ::shutdown(in_parent.fd, SHUT_RD);

  ChildPlan plan = MakePlan(limits, argv, dir.path());
  pid_t pid = StartChild(plan, in_child.fd, out_child.fd, err_child.fd);
  if (pid < 0) {
    run.err = std::string("starting the worker failed: ") + std::strerror(errno);
    return run;
  }
  ::setpgid(pid, pid);  // also here, so a kill(-pid) right away finds the group
  run.started = true;
  in_child.Close();
  out_child.Close();
  err_child.Close();
  SetNonBlocking(out_parent.fd);
  SetNonBlocking(err_parent.fd);
  SetNonBlocking(in_parent.fd);

  Clock::time_point deadline = start + limits.wall;
  if (!Pump(run, limits, input, in_parent, out_parent, err_parent, pid, deadline)) {
    run.timed_out = true;
    ::kill(-pid, SIGKILL);
  }
  in_parent.Close();
  Reap(run, pid, deadline);
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

StatusOr<ExtractionResult> ParseExtractionOutput(std::string_view json) {
  auto bad = [](const std::string& why) {
    return Status(ErrorCode::kUnprocessable, "worker answer: " + why, kExtractionBadOutput);
  };
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(std::string(json));
    auto root = parsed.extract<Poco::JSON::Object::Ptr>();
    if (!root) return bad("not an object");
    if (!root->has("version") || root->getValue<int>("version") != 1) return bad("not version 1");
    auto identified = root->getObject("identified");
    if (!identified) return bad("no identified object");
    ExtractionResult result;
    result.identified_mime = identified->getValue<std::string>("mime");
    result.identified_description = identified->getValue<std::string>("description");
    result.status = root->getValue<std::string>("status");
    static const std::set<std::string> kStatuses = {"text", "no_text", "unsupported"};
    if (!kStatuses.count(result.status)) return bad("unknown status");
    result.method = root->getValue<std::string>("method");
    result.pages = root->getValue<int>("pages");
    result.text = root->getValue<std::string>("text");
    auto warnings = root->getArray("warnings");
    if (!warnings) return bad("no warnings array");
    for (size_t i = 0; i < warnings->size(); ++i) result.warnings.push_back(warnings->getElement<std::string>(i));
    return result;
  } catch (const Poco::Exception& e) {
    return bad(e.displayText());
  } catch (const std::exception& e) {
    return bad(e.what());
  }
}

Status ClassifyWorkerRun(const WorkerRun& run) { return Classify(run); }

StatusOr<ExtractionResult> RunExtraction(const ExtractionLimits& limits, const std::string& worker_path,
                                         std::string_view document, const std::string& claimed_type) {
  std::vector<std::string> argv = {worker_path, "--ocr", limits.ocr ? "on" : "off", "--max-bytes",
                                   std::to_string(limits.max_document_bytes)};
  if (!claimed_type.empty()) {
    argv.push_back("--claimed-type");
    argv.push_back(claimed_type);
  }
  if (document.size() > limits.max_document_bytes) {
    return Status(ErrorCode::kResourceExhausted, "document over the extraction size limit", kExtractionLimit);
  }
  WorkerRun run = RunWorker(limits, argv, document);
  if (!run.started || run.timed_out || run.output_over_cap || !run.exited || run.exit_code != 0) {
    return Classify(run);
  }
  StatusOr<ExtractionResult> result = ParseExtractionOutput(run.out);
  if (result.ok()) result->seconds = run.seconds;
  return result;
}

}  // namespace custos::services
