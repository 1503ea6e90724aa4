// Starting the real programs (custosd, custosctl) from tests.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace custos::testing {

// A child process with stdout and stderr redirected to files.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs and reaps the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) with the given arguments; stdin is /dev/null.
  bool Start(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path);
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  void Signal(int sig) const;
  // Waits up to `timeout_ms`; returns the exit code, 128+signal if killed by
  // a signal, or -1 on time-out (the child is left running).
  int Wait(int timeout_ms);

 private:
  pid_t pid_ = -1;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a program to completion (time-out 60 s) and captures its output.
RunResult RunProgram(const std::vector<std::string>& argv);

// Sets configuration lines ("key = value", one per line) in a custos.conf,
// replacing a key's existing line or appending it; other lines are kept
// as they are (so a bad line can be planted on purpose).
void SetConfigLines(const std::string& conf_path, const std::string& lines);

// A started custosd on a fresh data directory.
class ServerProcess {
 public:
  // Runs custosctl init on `data_dir` unless it already exists, then applies
  // `extra_config` (lines appended to custos.conf) before starting.
  // Starts custosd with --listen 127.0.0.1:0 and waits for its "listening"
  // log line (up to 20 s).
  bool Start(const std::string& data_dir, const std::string& extra_config = "");
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string Log() const;  // everything the server wrote to stderr so far
  ChildProcess& process() { return child_; }
  // SIGTERM and wait; returns the exit code.
  int Stop(int timeout_ms = 30000);

 private:
  ChildProcess child_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
};

}  // namespace custos::testing
