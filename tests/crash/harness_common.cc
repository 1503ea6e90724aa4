#include "tests/crash/harness_common.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace custos::crash {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kArchivist:
      return "archivist";
    case Role::kStaff:
      return "staff";
    case Role::kApprover:
      return "approver";
    case Role::kLegal:
      return "legal";
  }
  return "";
}

const char* RoleDepartment(Role role) { return role == Role::kLegal ? "legal" : "sales"; }

// ------------------------------------------------------------------ caller

Caller::Caller(int port, const std::string& ca_file, const Tokens& tokens)
    : client_(port, ca_file), tokens_(tokens) {}

HttpResult Caller::Call(Role role, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& content_type) {
  return As(RoleName(role), method, path, body, content_type);
}

HttpResult Caller::As(const std::string& user, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& content_type) {
  return client_.Request(method, path, body, content_type,
                         {{"Authorization", "Bearer " + tokens_.by_user.at(user)}});
}

HttpResult Caller::Json(Role role, const std::string& method, const std::string& path,
                        const std::string& json) {
  return Call(role, method, path, json, "application/json");
}

workload::Send Caller::Sender() {
  return [this](const std::string& user, const std::string& method, const std::string& path,
                const std::string& body, const std::string& content_type) {
    return As(user, method, path, body, content_type);
  };
}

// ------------------------------------------------------------------ daemon

Daemon::Daemon(std::string bin_dir, std::string data_dir, std::string log_prefix)
    : bin_dir_(std::move(bin_dir)),
      data_dir_(std::move(data_dir)),
      log_prefix_(std::move(log_prefix)) {}

bool Daemon::Start(std::string* error) {
  ++runs_;
  log_path_ = log_prefix_ + "-" + std::to_string(runs_) + ".log";
  if (!child_.Start({bin_dir_ + "/custosd", "--data", data_dir_, "--listen", "127.0.0.1:0"},
                    log_path_ + ".out", log_path_)) {
    *error = "cannot start " + bin_dir_ + "/custosd";
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
      // 127: the child could not execute the program (see ChildProcess).
      *error = code == 127
                   ? "cannot execute " + bin_dir_ + "/custosd"
                   : "custosd exited with " + std::to_string(code) + " at start: " + LogTail(10);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "custosd did not start listening within 20 s: " + LogTail(10);
  Kill();
  return false;
}

void Daemon::Kill() {
  if (!child_.running()) return;
  child_.Signal(SIGKILL);
  child_.Wait(30000);
}

int Daemon::Stop() {
  if (!child_.running()) return -1;
  child_.Signal(SIGTERM);
  int code = child_.Wait(30000);
  if (code == -1) Kill();
  return code;
}

std::string Daemon::Log() const { return ReadFile(log_path_); }

std::string Daemon::LogTail(size_t lines) const { return LastLines(Log(), lines); }

// ------------------------------------------------------------------ counts

OpCounts& OpCounts::operator+=(const OpCounts& o) {
  checkins += o.checkins;
  versions += o.versions;
  files += o.files;
  bytes += o.bytes;
  reads += o.reads;
  loan_steps += o.loan_steps;
  batches_executed += o.batches_executed;
  records_destroyed += o.records_destroyed;
  batch_steps += o.batch_steps;
  unacked += o.unacked;
  return *this;
}

// ----------------------------------------------------------------- helpers

std::string LastLines(const std::string& text, size_t lines) {
  // Start of the last `lines` lines: walk back over that many line ends,
  // not counting the final one.
  size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;
  for (size_t n = 0; n < lines && start > 0; ++n) {
    size_t nl = text.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool WriteFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0;
}

}  // namespace custos::crash
