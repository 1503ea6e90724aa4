#include "server/services/verify_schedule.h"

#include <algorithm>
#include <exception>
#include <string>

namespace custos::services {

namespace {

// Whole seconds: a gauge renders with nine significant digits.
double UnixSeconds(domain::Time t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// "code object: problem; …" for the first `n` findings.
std::string FindingSample(const std::vector<storage::Finding>& findings, size_t n) {
  std::string out;
  for (size_t i = 0; i < findings.size() && i < n; ++i) {
    if (!out.empty()) out += "; ";
    out += findings[i].code + " " + findings[i].object + ": " + findings[i].problem;
  }
  return out;
}

}  // namespace

VerifySchedule::VerifySchedule(IncrementalVerifyFn verify, Clock& clock, Logger& logger,
                               MetricsRegistry& metrics, VerifyScheduleOptions options)
    : verify_(std::move(verify)),
      clock_(clock),
      logger_(logger),
      options_(options),
      last_success_(metrics.AddGauge("custos_verify_last_success_timestamp_seconds",
                                     "End of the last scheduled verification with no finding (Unix "
                                     "time; 0 before the first)")),
      last_run_(metrics.AddGauge("custos_verify_last_run_timestamp_seconds",
                                 "End of the latest scheduled verification (Unix time; 0 before the "
                                 "first)")),
      findings_(metrics.AddGauge("custos_verify_findings",
                                 "Findings of the latest scheduled verification (a verifier that "
                                 "could not run counts as one)")),
      duration_(metrics.AddGauge("custos_verify_duration_seconds",
                                 "Duration of the latest scheduled verification")),
      runs_(metrics.AddCounter("custos_verify_runs_total",
                               "Scheduled verifications by result: clean, findings or failed",
                               {"result"})) {
  if (options_.interval.count() > 0) thread_ = std::thread([this] { Run(); });
}

VerifySchedule::~VerifySchedule() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void VerifySchedule::Run() {
  std::chrono::seconds wait = std::min<std::chrono::seconds>(options_.interval, kFirstPassAtMost);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, wait, [&] { return stopping_; })) {
    lock.unlock();
    RunOnce();
    lock.lock();
    wait = options_.interval;
  }
}

void VerifySchedule::RunOnce() {
  std::lock_guard<std::mutex> pass(pass_mu_);
  auto started = std::chrono::steady_clock::now();
  bool full = !last_full_start_ || content_from_ == 0 ||
              started - *last_full_start_ >= options_.full_interval;
  if (full) last_full_start_ = started;
  SetRunning(true);
  bool failed = false;
  std::optional<storage::VerifyReport> report = Attempt(full ? 0 : content_from_, failed);
  SetRunning(false);
  if (!report) {
    logger_.Info("scheduled verification stopped", {{"full", full}});
    return;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (report->clean()) content_from_ = report->log_entries;
  Publish(*report, full, failed, seconds);
}

void VerifySchedule::SetRunning(bool running) {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = running;
}

bool VerifySchedule::Stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

std::optional<storage::VerifyReport> VerifySchedule::Attempt(uint64_t content_from, bool& failed) {
  std::string error;
  try {
    StatusOr<storage::VerifyReport> report = verify_(content_from, [this] { return Stopping(); });
    if (report.ok()) return std::move(report).value();
    if (report.status().reason() == "verify_stopped" && Stopping()) return std::nullopt;
    error = report.status().ToString();
  } catch (const std::exception& e) {
    error = std::string("exception: ") + e.what();
  } catch (...) {
    error = "unknown exception";
  }
  failed = true;
  storage::VerifyReport report;
  report.findings.push_back({"verifier", "verification could not run: " + error, "verifier_failed"});
  return report;
}

void VerifySchedule::Publish(const storage::VerifyReport& report, bool full, bool failed,
                             double seconds) {
  domain::Time now = clock_.Now();
  const char* result = failed ? "failed" : report.clean() ? "clean" : "findings";
  // Logged first: whoever sees the run in the metrics or alerts also
  // finds its line in the server log.
  std::vector<LogField> fields = {{"result", result},
                                  {"full", full},
                                  {"findings", static_cast<uint64_t>(report.findings.size())},
                                  {"logEntries", report.log_entries},
                                  {"files", report.files},
                                  {"filesUnread", report.files_unread},
                                  {"contentBytes", report.content_bytes},
                                  {"seconds", seconds}};
  if (report.clean()) {
    logger_.Info("scheduled verification", fields);
  } else {
    fields.emplace_back("sample", FindingSample(report.findings, kLoggedFindings));
    logger_.Error("scheduled verification", fields);
  }

  runs_.Inc({result});
  findings_.Set(static_cast<double>(report.findings.size()));
  last_run_.Set(UnixSeconds(now));
  duration_.Set(seconds);
  if (report.clean()) last_success_.Set(UnixSeconds(now));

  VerificationAlert alert;
  alert.finished_at = now;
  alert.full = full;
  alert.log_size = report.log_entries;
  alert.finding_count = report.findings.size();
  alert.findings.assign(report.findings.begin(),
                        report.findings.begin() +
                            static_cast<std::ptrdiff_t>(std::min(report.findings.size(), kAlertFindings)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (report.clean()) last_success_at_ = now;
    alert.last_success = last_success_at_;
    latest_ = std::move(alert);
  }
}

namespace {

bool MaySeeVerification(const Principal& who) {
  return who.role == domain::Role::kAuditor || who.role == domain::Role::kSysAdmin ||
         who.role == domain::Role::kSecurityAuditor;
}

}  // namespace

std::optional<VerificationState> VerifySchedule::StateFor(const Principal& who) const {
  if (!MaySeeVerification(who)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  return VerificationState{running_, latest_};
}

std::optional<VerificationAlert> VerifySchedule::AlertFor(const Principal& who) const {
  if (!MaySeeVerification(who)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  if (!latest_ || latest_->finding_count == 0) return std::nullopt;
  return latest_;
}

}  // namespace custos::services
