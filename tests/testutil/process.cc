#include "tests/testutil/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/testutil/testutil.h"

namespace custos::testing {

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& stdout_path,
                         const std::string& stderr_path) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  return true;
}

void ChildProcess::Signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ChildProcess::Wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

RunResult RunProgram(const std::vector<std::string>& argv) {
  TempDir tmp;
  ChildProcess child;
  RunResult result;
  if (!child.Start(argv, tmp.Sub("out"), tmp.Sub("err"))) return result;
  result.exit_code = child.Wait(60000);
  result.out = ReadFileOrDie(tmp.Sub("out"));
  result.err = ReadFileOrDie(tmp.Sub("err"));
  return result;
}

void SetConfigLines(const std::string& conf_path, const std::string& lines) {
  std::string text = ReadFileOrDie(conf_path);
  std::istringstream in(lines);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      text += line + "\n";
      continue;
    }
    std::string key = line.substr(0, line.find_first_of(" =")) + " =";
    size_t at = text.find("\n" + key);
    if (at == std::string::npos) {
      text += line + "\n";
    } else {
      size_t end = text.find('\n', at + 1);
      text.replace(at + 1, end - at - 1, line);
    }
  }
  std::ofstream(conf_path, std::ios::trunc) << text;
}

bool ServerProcess::Start(const std::string& data_dir, const std::string& extra_config) {
  data_dir_ = data_dir;
  if (!std::filesystem::exists(data_dir)) {
    // The first accounts hashed at the floor too (below).
    RunResult init =
        RunProgram({BinDir() + "/custosctl", "init", "--data", data_dir, "--password-memory-kib", "19456"});
    if (init.exit_code != 0) {
      ADD_FAILURE() << "custosctl init failed: " << init.err;
      return false;
    }
  }
  // Password hashes at the configurable floor: a suite signs in thousands of
  // times, and at the default 64 MiB the hashing was most of its CPU time.
  // A test's own lines come after, so they can set it back.
  SetConfigLines(data_dir + "/custos.conf", "auth.password_memory_kib = 19456\n" + extra_config);
  log_path_ = data_dir + "/../custosd-" + std::to_string(::getpid()) + "-" +
              std::to_string(reinterpret_cast<uintptr_t>(this) & 0xFFFF) + ".log";
  // A restart reuses the log path: empty it first, so the previous run's
  // "listening" line is never mistaken for this one's.
  std::filesystem::remove(log_path_);
  std::filesystem::remove(log_path_ + ".out");
  if (!child_.Start({BinDir() + "/custosd", "--data", data_dir, "--listen", "127.0.0.1:0"},
                    log_path_ + ".out", log_path_)) {
    return false;
  }
  static const std::regex kListening("\"msg\":\"listening\".*\"port\":([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string log = Log();
    if (std::regex_search(log, m, kListening)) {
      port_ = std::stoi(m[1]);
      return true;
    }
    int code = child_.Wait(0);
    if (code != -1) {
      ADD_FAILURE() << "custosd exited with " << code << ": " << Log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "custosd did not start listening: " << Log();
  return false;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int ServerProcess::Stop(int timeout_ms) {
  child_.Signal(SIGTERM);
  return child_.Wait(timeout_ms);
}

}  // namespace custos::testing
