// Verification that runs by itself (server/services/verify_schedule.h).
//
//   * VerifySchedule against a verifier seam: full and incremental passes,
//     a verifier that fails or throws is a finding, metrics and the log line.
//   * custosd with audit.verify_interval = 1s: a clean archive shows 0
//     findings and a recent success in /metrics; a blob byte changed on disk
//     behind its back shows as a finding in /metrics and in GET /v1/alerts
//     (auditors, admins) within a pass, and the server goes on serving.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "server/services/verify_schedule.h"
#include "tests/server/api_fixture.h"
#include "tests/testutil/testutil.h"

namespace custos::testing::api {
namespace {

namespace fs = std::filesystem;
using services::VerifySchedule;

// The value of the series `series` (name with labels) in exposition `text`,
// or -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  std::string::size_type at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      return std::stod(text.substr(at + series.size() + 1, text.find('\n', at) - at - series.size() - 1));
    }
    at += series.size();
  }
  return -1;
}

double NowSeconds() {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// VerifySchedule with a verifier that answers from `answer`, a server log in
// a file, and no thread (passes run by RunOnce).
class VerifyScheduleTest : public ::testing::Test {
 protected:
  VerifyScheduleTest()
      : log_path_(tmp_.Sub("server.log")),
        log_fd_(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)),
        logger_(log_fd_),
        clock_(std::chrono::system_clock::now()) {}
  ~VerifyScheduleTest() override { ::close(log_fd_); }

  std::unique_ptr<VerifySchedule> Make(std::chrono::seconds full_interval) {
    services::VerifyScheduleOptions o;
    o.interval = std::chrono::seconds(0);
    o.full_interval = full_interval;
    return std::make_unique<VerifySchedule>(
        [this](uint64_t content_from, const std::function<bool()>&) {
          asked_from_.push_back(content_from);
          return answer_(content_from);
        },
        clock_, logger_, metrics_, o);
  }

  static storage::VerifyReport Clean(uint64_t log_entries) {
    storage::VerifyReport r;
    r.log_entries = log_entries;
    return r;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  TempDir tmp_;
  std::string log_path_;
  int log_fd_;
  Logger logger_;
  services::ManualClock clock_;
  MetricsRegistry metrics_;
  std::function<StatusOr<storage::VerifyReport>(uint64_t)> answer_;
  std::vector<uint64_t> asked_from_;
};

const services::Principal kAuditor{domain::Username{"auditor"}, domain::Role::kAuditor, "audit"};
const services::Principal kAdminUser{domain::Username{"admin"}, domain::Role::kSysAdmin, ""};
const services::Principal kArchivist{domain::Username{"archivist"}, domain::Role::kArchivist, "sales"};

TEST_F(VerifyScheduleTest, PassesAfterACleanOneReadOnlyBlobsLoggedSinceUntilTheFullIntervalIsUp) {
  answer_ = [](uint64_t) { return StatusOr<storage::VerifyReport>(Clean(7)); };
  auto schedule = Make(std::chrono::hours(1));
  schedule->RunOnce();
  schedule->RunOnce();
  schedule->RunOnce();
  EXPECT_EQ(asked_from_, (std::vector<uint64_t>{0, 7, 7}));
  auto every_pass_full = Make(std::chrono::seconds(0));
  asked_from_.clear();
  every_pass_full->RunOnce();
  every_pass_full->RunOnce();
  EXPECT_EQ(asked_from_, (std::vector<uint64_t>{0, 0}));
}

TEST_F(VerifyScheduleTest, FindingsAreCountedLoggedAndAlertedToAuditorsAndAdmins) {
  answer_ = [](uint64_t) { return StatusOr<storage::VerifyReport>(Clean(3)); };
  auto schedule = Make(std::chrono::hours(1));
  schedule->RunOnce();
  std::string text = metrics_.Render();
  EXPECT_EQ(MetricValue(text, "custos_verify_findings"), 0) << text;
  EXPECT_NEAR(MetricValue(text, "custos_verify_last_success_timestamp_seconds"), NowSeconds(), 5) << text;
  EXPECT_FALSE(schedule->AlertFor(kAuditor));
  EXPECT_NE(Log().find("\"msg\":\"scheduled verification\",\"result\":\"clean\""), std::string::npos) << Log();

  answer_ = [](uint64_t) {
    storage::VerifyReport r = Clean(4);
    r.findings.push_back({"file f1 (合同.pdf, blob b1)", "content hash differs", "content_hash_mismatch"});
    r.findings.push_back({"record CT-2026-000001", "row differs", "record_row_mismatch"});
    return StatusOr<storage::VerifyReport>(r);
  };
  double success_before = MetricValue(text, "custos_verify_last_success_timestamp_seconds");
  schedule->RunOnce();
  text = metrics_.Render();
  EXPECT_EQ(MetricValue(text, "custos_verify_findings"), 2) << text;
  EXPECT_EQ(MetricValue(text, "custos_verify_runs_total{result=\"findings\"}"), 1) << text;
  EXPECT_EQ(MetricValue(text, "custos_verify_runs_total{result=\"clean\"}"), 1) << text;
  EXPECT_EQ(MetricValue(text, "custos_verify_last_success_timestamp_seconds"), success_before) << text;
  for (const services::Principal& who : {kAuditor, kAdminUser}) {
    std::optional<services::VerificationAlert> alert = schedule->AlertFor(who);
    ASSERT_TRUE(alert);
    EXPECT_EQ(alert->finding_count, 2u);
    EXPECT_EQ(alert->findings[0].code, "content_hash_mismatch");
    EXPECT_TRUE(alert->last_success);
  }
  EXPECT_FALSE(schedule->AlertFor(kArchivist));
  EXPECT_NE(Log().find("\"level\":\"error\",\"msg\":\"scheduled verification\",\"result\":\"findings\""),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("content_hash_mismatch file f1 (合同.pdf, blob b1)"), std::string::npos) << Log();
}

TEST_F(VerifyScheduleTest, AVerifierThatFailsOrThrowsIsAFinding) {
  answer_ = [](uint64_t) -> StatusOr<storage::VerifyReport> {
    return Internal("database is locked", "db_locked");
  };
  auto schedule = Make(std::chrono::hours(1));
  schedule->RunOnce();
  answer_ = [](uint64_t) -> StatusOr<storage::VerifyReport> { throw std::runtime_error("boom"); };
  schedule->RunOnce();
  std::string text = metrics_.Render();
  EXPECT_EQ(MetricValue(text, "custos_verify_runs_total{result=\"failed\"}"), 2) << text;
  EXPECT_EQ(MetricValue(text, "custos_verify_findings"), 1) << text;
  EXPECT_EQ(MetricValue(text, "custos_verify_last_success_timestamp_seconds"), 0) << text;
  std::optional<services::VerificationAlert> alert = schedule->AlertFor(kAuditor);
  ASSERT_TRUE(alert);
  ASSERT_EQ(alert->findings.size(), 1u);
  EXPECT_EQ(alert->findings[0].code, "verifier_failed");
  EXPECT_NE(alert->findings[0].problem.find("boom"), std::string::npos);
  EXPECT_FALSE(alert->last_success);
  EXPECT_NE(Log().find("database is locked"), std::string::npos) << Log();
  // A failed pass moves no mark: the next one is full again.
  EXPECT_EQ(asked_from_, (std::vector<uint64_t>{0, 0}));
}

TEST_F(VerifyScheduleTest, EndingTheScheduleStopsAPassInProgressUncounted) {
  std::atomic<bool> entered{false};
  services::VerifyScheduleOptions o;
  o.interval = std::chrono::seconds(1);
  auto schedule = std::make_unique<VerifySchedule>(
      [&entered](uint64_t, const std::function<bool()>& stop) -> StatusOr<storage::VerifyReport> {
        entered = true;
        while (!stop()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return Unavailable("verification stopped before it ended", "verify_stopped");
      },
      clock_, logger_, metrics_, o);
  for (int i = 0; i < 400 && !entered; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(entered);
  schedule.reset();  // returns: the pass saw stop()
  std::string text = metrics_.Render();
  EXPECT_EQ(MetricValue(text, "custos_verify_last_run_timestamp_seconds"), 0) << text;
  EXPECT_EQ(text.find("custos_verify_runs_total{"), std::string::npos) << text;
  EXPECT_NE(Log().find("scheduled verification stopped"), std::string::npos) << Log();
}

// Generous for a loaded sanitizer run; a pass over this archive takes
// milliseconds, and the polls end as soon as it is seen.
constexpr int kPassDeadlineSeconds = 15;

// Polls /metrics until `done` holds for its text or `seconds` pass; the last
// text.
std::string AwaitMetrics(ApiServer& s, const std::function<bool(const std::string&)>& done, int seconds) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  do {
    HttpResult r = s.NewClient()->Request("GET", "/metrics");
    text = r.body;
    if (r.status == 200 && done(text)) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return text;
}

TEST(ScheduledVerify, APlantedFindingShowsInMetricsAndAlertsWithinAPass) {
  std::unique_ptr<ApiServer> s = ApiServer::Create(
      "audit.verify_interval = 1s\naudit.full_verify_interval = 1s\n",
      {"archivist", "auditor", kSecurityAuditor});
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->CheckInOk("archivist", ContractJson("供货合同 2026", "上海某某贸易有限公司"),
                           {FilePart("合同.pdf", "第一条 contract text")}));
  std::string clean = AwaitMetrics(*s, [](const std::string& t) {
    return MetricValue(t, "custos_verify_runs_total{result=\"clean\"}") >= 1;
  }, kPassDeadlineSeconds);
  EXPECT_EQ(MetricValue(clean, "custos_verify_findings"), 0) << clean;
  EXPECT_NEAR(MetricValue(clean, "custos_verify_last_success_timestamp_seconds"), NowSeconds(), 10) << clean;

  // Change one byte of the only blob behind the server's back.
  fs::path blob;
  for (const auto& e : fs::recursive_directory_iterator(s->data_dir() + "/blobs")) {
    if (e.is_regular_file() && e.path().parent_path().filename() != "tmp") blob = e.path();
  }
  ASSERT_FALSE(blob.empty());
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-5, std::ios::end);
    char c;
    f.get(c);
    f.seekp(-5, std::ios::end);
    f.put(static_cast<char>(c ^ 0x01));
  }
  std::string damaged = AwaitMetrics(*s, [](const std::string& t) {
    return MetricValue(t, "custos_verify_findings") >= 1;
  }, kPassDeadlineSeconds);
  EXPECT_EQ(MetricValue(damaged, "custos_verify_findings"), 1) << damaged;
  EXPECT_GE(MetricValue(damaged, "custos_verify_runs_total{result=\"findings\"}"), 1) << damaged;

  for (const char* role : {"auditor", kAdmin, kSecurityAuditor}) {
    HttpResult alerts = s->As(role, "GET", "/v1/alerts");
    ASSERT_EQ(alerts.status, 200) << Describe(alerts);
    Poco::JSON::Object::Ptr v = JsonObject(alerts.body)->getObject("verification");
    ASSERT_TRUE(v) << alerts.body;
    EXPECT_EQ(Int(v, "findingCount"), 1) << alerts.body;
    Poco::JSON::Object::Ptr finding = v->getArray("findings")->getObject(0);
    EXPECT_EQ(Str(finding, "code"), "envelope_chunk_tag_mismatch") << alerts.body;
    EXPECT_NE(Str(finding, "object").find("合同.pdf"), std::string::npos) << alerts.body;
  }
  for (const char* role : {"archivist", kSecurity}) {
    HttpResult alerts = s->As(role, "GET", "/v1/alerts");
    ASSERT_EQ(alerts.status, 200) << role << ": " << Describe(alerts);
    EXPECT_TRUE(JsonObject(alerts.body)->isNull("verification")) << role << ": " << alerts.body;
  }
  EXPECT_NE(s->process().Log().find("\"msg\":\"scheduled verification\",\"result\":\"findings\""),
            std::string::npos);
}

}  // namespace
}  // namespace custos::testing::api
