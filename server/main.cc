// custosd: the Custos archive server. The composition root: it reads the
// configuration once, builds every object, wires them together and serves
// until SIGTERM or SIGINT.
//
//   custosd --data DIR [--listen HOST:PORT]
//
// Exit codes: 0 clean stop, 2 could not start (bad arguments, configuration,
// certificate, address in use, unwritable data directory).
#include <Poco/Net/SSLManager.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "server/http/api_routes.h"
#include "server/http/ops_routes.h"
#include "server/http/router.h"
#include "server/http/server.h"
#include "server/http/ui_assets.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"
#include "server/services/account_policy.h"
#include "server/services/clock.h"
#include "server/services/content_pipeline.h"
#include "server/services/evidence_bundle.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/fresh_reads.h"
#include "server/services/health.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/services/row_integrity.h"
#include "server/services/second_factor.h"
#include "server/services/verify_schedule.h"
#include "server/services/destruction_service.h"
#include <sys/stat.h>
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "storage/integrity.h"
#include "storage/replay.h"
#include "storage/search_index.h"
#include "storage/text_tokens.h"

namespace {

constexpr int kExitStartFailure = 2;

struct Flags {
  std::string data_dir;
  std::optional<std::string> listen;
};

const char kUsage[] = "usage: custosd --data DIR [--listen HOST:PORT]\n";

int StartFailure(const std::string& message) {
  std::cerr << "custosd: " << message << "\n";
  return kExitStartFailure;
}

std::optional<Flags> ParseFlags(int argc, char** argv, std::string& error) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        error = std::string(name) + " needs a value";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (a == "--data") {
      auto v = value("--data");
      if (!v) return std::nullopt;
      f.data_dir = *v;
    } else if (a == "--listen") {
      auto v = value("--listen");
      if (!v) return std::nullopt;
      f.listen = *v;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      error = "unknown argument '" + a + "'";
      return std::nullopt;
    }
  }
  if (f.data_dir.empty()) {
    error = "--data DIR is required";
    return std::nullopt;
  }
  return f;
}

std::string InDataDir(const custos::storage::DataDir& dir, const std::string& path) {
  return !path.empty() && path.front() == '/' ? path : dir.root() + "/" + path;
}

// DATA/custosd.conf with --listen applied; the error names what is wrong.
std::optional<custos::Config> LoadConfig(const custos::storage::DataDir& data_dir, const Flags& flags,
                                         std::string& error) {
  auto text = custos::storage::ReadSmallFile(data_dir.ConfigFile());
  if (!text.ok()) {
    error = text.status().message();
    return std::nullopt;
  }
  auto parsed = custos::ParseConfig(*text);
  if (!parsed.ok()) {
    error = data_dir.ConfigFile() + ": " + parsed.status().message();
    return std::nullopt;
  }
  custos::Config config = std::move(parsed).value();
  if (flags.listen) {
    if (auto s = custos::SetConfigValue(config, "server.listen", *flags.listen); !s.ok()) {
      error = "--listen: " + s.message();
      return std::nullopt;
    }
  }
  return config;
}

// Blocks the stop signals in every thread (main waits for them), ignores
// SIGPIPE and SIGXFSZ, and raises the open-file limit. Returns the stop
// signals.
sigset_t PrepareProcess() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);  // a file-size limit becomes EFBIG → 507, not a dead server
  // One socket per open connection (server.threads of them): the usual soft
  // limit of 1,024 descriptors would refuse connections long before that.
  struct rlimit files {};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &files);
  }
  return stop_signals;
}

// Trusted CAs for contract signatures: every PEM in DATA/trust (optional;
// null when the folder does not exist).
custos::StatusOr<std::shared_ptr<const custos::crypto::TrustStore>> LoadTrustStore(
    const custos::storage::DataDir& data_dir) {
  std::shared_ptr<const custos::crypto::TrustStore> trust;
  struct stat trust_stat {};
  std::string trust_dir = data_dir.root() + "/trust";
  if (::stat(trust_dir.c_str(), &trust_stat) == 0) {
    auto loaded = custos::crypto::TrustStore::LoadDirectory(trust_dir);
    if (!loaded.ok()) return custos::Status(loaded.status().code(), trust_dir + ": " + loaded.status().message());
    trust = std::make_shared<custos::crypto::TrustStore>(std::move(loaded).value());
  }
  return trust;
}

// The time rules on accounts that changed hands (auth.approver_cooling_days,
// auth.fresh_account_days).
custos::services::AccountPolicyOptions AccountPolicyOf(const custos::Config& config) {
  custos::services::AccountPolicyOptions o;
  o.cooling = std::chrono::hours(24) * config.approver_cooling_days;
  o.fresh = std::chrono::hours(24) * config.fresh_account_days;
  return o;
}

// `fresh_reads`, `index_key` and `pipeline` must outlive the record service.
custos::services::RecordOptions RecordOptionsOf(const custos::Config& config, const std::string& data_dir,
                                                custos::services::FreshReadLog& fresh_reads,
                                                const custos::storage::IndexKey& index_key,
                                                custos::services::ContentPipeline& pipeline) {
  custos::services::RecordOptions o;
  // Loan copies (loans.stamp_classifications, loans.stamp_worker): the
  // stamp worker runs under the extraction limits, at normal priority,
  // since a borrower waits for it.
  for (const std::string& name : config.loan_stamp_classifications) {
    if (auto c = custos::domain::ParseClassification(name); c.ok()) o.stamp_classifications.push_back(*c);
  }
  const std::string program_dir = custos::services::ProgramDirectory();
  const std::string& stamp = config.stamp_worker;
  o.stamp_worker = stamp.empty() ? (program_dir.empty() ? std::string(".") : program_dir) + "/custos-stamp"
                   : stamp.front() == '/' ? stamp
                                          : data_dir + "/" + stamp;
  o.stamp_limits = custos::services::PipelineOptionsOf(config, data_dir, program_dir).limits;
  o.stamp_limits.nice = 0;
  // Previews: custos-render beside custosd, under the same limits and
  // priority (a reader waits for it).
  o.render_worker = (program_dir.empty() ? std::string(".") : program_dir) + "/custos-render";
  o.render_limits = o.stamp_limits;
  o.index_key = &index_key;
  o.pipeline = &pipeline;
  o.max_file_bytes = static_cast<uint64_t>(config.max_body_bytes);
  o.reject_invalid_contract_signatures = config.reject_invalid_contract_signatures;
  o.account_policy = AccountPolicyOf(config);
  o.fresh_reads = &fresh_reads;
  return o;
}

custos::services::PipelineOptions ServerPipelineOptions(const custos::Config& config,
                                                    const custos::storage::DataDir& data_dir,
                                                    custos::Counter& runs, custos::Logger& logger) {
  custos::services::PipelineOptions o =
      custos::services::PipelineOptionsOf(config, data_dir.root(), custos::services::ProgramDirectory());
  o.on_file_run = [&runs](std::string_view result) { runs.Inc({std::string(result)}); };
  o.logger = &logger;
  return o;
}

// The pipeline's gauges: files per extraction state, records queued.
void AddPipelineGauges(custos::MetricsRegistry& metrics, custos::storage::MetadataStore& store) {
  auto counts = [&store] {
    custos::storage::TextCounts c;
    (void)store.Read([&c](custos::storage::Transaction& tx) -> custos::Status {
      CUSTOS_ASSIGN_OR_RETURN(c, tx.texts().Counts());
      return custos::Status::Ok();
    });
    return c;
  };
  metrics.AddCallbackGaugeFamily("custos_extraction_files", "Stored files per text extraction state", "state",
                                 [counts] {
                                   custos::storage::TextCounts c = counts();
                                   return std::vector<std::pair<std::string, double>>{
                                       {"pending", static_cast<double>(c.pending)},
                                       {"text", static_cast<double>(c.text)},
                                       {"no_text", static_cast<double>(c.no_text)},
                                       {"retry", static_cast<double>(c.retry)},
                                       {"failed", static_cast<double>(c.failed)}};
                                 });
  metrics.AddCallbackGauge("custos_search_queue_records", "Records waiting for the content pipeline",
                           [counts] { return static_cast<double>(counts().queued_records); });
}

custos::services::LoanOptions LoanOptionsOf(const custos::Config& config) {
  custos::services::LoanOptions o;
  o.max_days = config.loan_max_days;
  o.certificate_horizons = config.certificate_horizons_days;
  return o;
}

custos::services::DestructionOptions DestructionOptionsOf(const custos::Config& config) {
  custos::services::DestructionOptions o;
  o.approver_roles.clear();
  for (const std::string& role : config.destruction_approver_roles) {
    o.approver_roles.push_back(*custos::domain::ParseRole(role));
  }
  o.account_policy = AccountPolicyOf(config);
  return o;
}

custos::services::VerifyScheduleOptions VerifyScheduleOptionsOf(const custos::Config& config) {
  custos::services::VerifyScheduleOptions o;
  o.interval = std::chrono::seconds(config.verify_interval_s);
  o.full_interval = std::chrono::seconds(config.full_verify_interval_s);
  return o;
}

// The witnesses and time-stamping authorities of log.witnesses and log.tsa
// (docs/operations.md "Witnesses and timestamps"); a bad key or an
// unreadable root file stops the start.
custos::StatusOr<custos::services::AttesterOptions> AttesterOptionsOf(const custos::Config& config,
                                                                      const custos::storage::DataDir& data_dir) {
  custos::services::AttesterOptions o;
  const std::string witness_ca = config.witness_ca.empty() ? "" : InDataDir(data_dir, config.witness_ca);
  for (const std::string& entry : config.witnesses) {
    const size_t space = entry.find(' ');
    auto key = custos::crypto::cosig::ParseWitnessKey(std::string_view(entry).substr(0, space));
    if (!key.ok()) return key.status().WithContext("log.witnesses");
    o.witnesses.push_back({*key, entry.substr(space + 1), witness_ca});
  }
  for (const std::string& entry : config.tsas) {
    const size_t space = entry.find(' ');
    o.tsas.push_back({entry.substr(0, space), entry.substr(space + 1), ""});
  }
  if (!config.tsa_ca.empty()) {
    CUSTOS_ASSIGN_OR_RETURN(o.tsa_ca_pem, custos::storage::ReadSmallFile(InDataDir(data_dir, config.tsa_ca)));
  }
  o.timestamp_interval = std::chrono::seconds(config.timestamp_interval_s);
  return o;
}

// Housekeeping: records loans whose time ran out as expired, and records
// whose retention ran out as disposition_due, in the log, once a minute on
// a thread of its own until destroyed. Access never waits for this (every
// read checks the due date itself). The retention sweep reads every record;
// in a large catalogue it runs less often, so that it takes at most about
// 5% of one core (a sweep of 100,000 records takes about a second).
class Housekeeping {
 public:
  Housekeeping(custos::services::LoanService& loans, custos::services::RetentionService& retention,
               custos::Logger& logger)
      : loans_(loans), retention_(retention), logger_(logger), thread_([this] { Run(); }) {}

  ~Housekeeping() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    auto next_sweep = std::chrono::steady_clock::now();
    while (!cv_.wait_for(lock, std::chrono::seconds(60), [&] { return stopping_; })) {
      lock.unlock();
      ExpireLoans();
      auto started = std::chrono::steady_clock::now();
      if (started >= next_sweep) {
        SweepRetention();
        auto took = std::chrono::steady_clock::now() - started;
        next_sweep = started + std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(60), took * 20);
      }
      lock.lock();
    }
  }

  void ExpireLoans() {
    auto expired = loans_.ExpireDue();
    if (!expired.ok()) {
      logger_.Warn("loan expiry failed", {{"error", expired.status().message()}});
    } else if (*expired > 0) {
      logger_.Info("loans expired", {{"count", *expired}});
    }
  }

  void SweepRetention() {
    auto swept = retention_.SweepStates();
    if (!swept.ok()) {
      logger_.Warn("retention sweep failed", {{"error", swept.status().message()}});
    } else if (*swept > 0) {
      logger_.Info("record states updated", {{"count", *swept}});
    }
  }

  custos::services::LoanService& loans_;
  custos::services::RetentionService& retention_;
  custos::Logger& logger_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;     // last: starts once the members above exist
};

// Serves the routes until a stop signal, then stops gracefully. Returns the
// exit code.
int Serve(const custos::Config& config, const custos::storage::DataDir& data_dir,
          const custos::services::HealthService& health, custos::MetricsRegistry& metrics,
          custos::Logger& logger, const custos::http::ApiServices& api, const sigset_t& stop_signals,
          custos::services::ContentPipeline& pipeline) {
  custos::http::Router router;
  custos::http::HttpsServer* server_ptr = nullptr;
  custos::http::AddOperationsRoutes(router, health, metrics,
                                    [&server_ptr] { return server_ptr && server_ptr->draining(); });
  custos::http::ApiServices routes = api;
  routes.public_tile_entries = config.public_entries;
  custos::http::AddApiRoutes(router, routes);
  custos::http::AddUiRoutes(router);
  custos::http::HttpsServer server(
      config, {InDataDir(data_dir, config.tls_certificate), InDataDir(data_dir, config.tls_private_key),
               config.tls_client_ca.empty() ? "" : InDataDir(data_dir, config.tls_client_ca),
               config.tls_client_crl.empty() ? "" : InDataDir(data_dir, config.tls_client_crl)},
      router, logger, metrics);
  server_ptr = &server;
  if (auto s = server.Start(); !s.ok()) return StartFailure(s.message());
  custos::ListenAddress bound = config.listen;
  bound.port = server.port();
  logger.Info("listening", {{"address", bound.ToString()},
                            {"port", static_cast<int>(server.port())},
                            {"dataDir", data_dir.root()}});
  pipeline.Start();
  int sig = 0;
  sigwait(&stop_signals, &sig);
  logger.Info("stopping", {{"signal", std::string(strsignal(sig))}, {"inFlight", server.OpenConnections()}});
  server.Stop(config.shutdown_grace_s);
  pipeline.Stop();
  logger.Info("stopped");
  return 0;
}

}  // namespace

// The start-up check (docs/operations.md "Start-up check"): "" when the
// seals of the small authority tables and the log's tail agree, else why
// custosd refuses to start.
std::string StartupCheckFailure(custos::storage::ArchiveStorage& archive, custos::Logger& logger) {
  const auto started = std::chrono::steady_clock::now();
  auto findings = archive.CheckAtStart();
  if (!findings.ok()) return "start-up check could not run: " + findings.status().message();
  if (findings->empty()) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    logger.Info("start-up check passed", {{"milliseconds", static_cast<int64_t>(ms.count())}});
    return "";
  }
  std::string why = "refusing to start: the start-up check found " + std::to_string(findings->size()) +
                    " disagreement(s) (run custosctl verify for the whole archive):";
  for (const custos::storage::Finding& f : *findings) {
    why += "\n  " + f.object + ": " + f.problem + " (" + f.code + ")";
  }
  return why;
}

int main(int argc, char** argv) {
  std::string error;
  std::optional<Flags> flags = ParseFlags(argc, argv, error);
  if (!flags) return StartFailure(error + "\n" + kUsage);

  custos::storage::DataDir data_dir(flags->data_dir);
  if (auto s = data_dir.CheckWritable(); !s.ok()) return StartFailure(s.message());
  std::optional<custos::Config> loaded_config = LoadConfig(data_dir, *flags, error);
  if (!loaded_config) return StartFailure(error);
  const custos::Config& config = *loaded_config;

  // One server per SQLite archive; several may share a PostgreSQL one.
  auto lock = custos::storage::DataDirLock::Acquire(
      data_dir, config.storage_backend == "sqlite" ? custos::storage::DataDirLock::Mode::kExclusive
                                                   : custos::storage::DataDirLock::Mode::kShared);
  if (!lock.ok()) return StartFailure(lock.status().message());
  const sigset_t stop_signals = PrepareProcess();

  custos::Logger logger(2, custos::ParseLogLevel(config.log_level));
  custos::MetricsRegistry metrics;
  custos::services::HealthService health;
  health.AddCheck("data_dir", [&data_dir] { return data_dir.CheckWritable(); });
  health.AddCheck("disk_space", [&data_dir, &config] {
    return data_dir.CheckFreeSpace(static_cast<uint64_t>(config.min_free_bytes));
  });

  uint64_t swept = 0;
  auto opened = custos::storage::ArchiveStorage::Open(data_dir, config, /*sweep_orphans=*/true, &swept);
  if (!opened.ok()) return StartFailure("cannot open the archive: " + opened.status().message());
  std::unique_ptr<custos::storage::ArchiveStorage> archive = std::move(opened).value();
  logger.Info("archive opened", {{"origin", archive->origin()},
                                 {"suite", config.suite},
                                 {"orphanBlobsRemoved", swept}});
  if (std::string why = StartupCheckFailure(*archive, logger); !why.empty()) return StartFailure(why);
  health.AddCheck("database", [&archive] {
    return archive->store().Read([](custos::storage::Transaction& tx) {
      return tx.log().Size().status();
    });
  });
  // Advisory: an archive without signing custody serves reads, signs nothing
  // (storage/custody.h); /readyz names why.
  health.AddCheck(
      "signing",
      [&archive] {
        const auto& custody = archive->custody();
        return custody.held ? custos::Status::Ok()
                            : custos::Unavailable("not promoted: " + custody.why_not,
                                                  std::string(custos::storage::kSigningNotPromoted));
      },
      /*advisory=*/true);
  if (!archive->custody().held) {
    logger.Warn("signing not promoted: serving reads only, every change is refused until "
                "custosctl promote",
                {{"why", archive->custody().why_not}});
  }
  // A log written before state images gets its baseline before anything
  // else writes (storage/replay.h); a copy without custody signs nothing,
  // and its original has done it.
  if (archive->custody().held) {
    auto baseline = custos::storage::AppendStateBaseline(
        archive->store(), custos::domain::TruncateToMillis(std::chrono::system_clock::now()));
    if (!baseline.ok()) return StartFailure("cannot log the state baseline: " + baseline.status().message());
    if (*baseline > 0) logger.Info("state baseline logged", {{"events", *baseline}});
    // Records written before salts get theirs (storage/integrity.h).
    auto salted = custos::storage::SaltUnsaltedRecords(
        archive->store(), custos::domain::TruncateToMillis(std::chrono::system_clock::now()));
    if (!salted.ok()) return StartFailure("cannot salt the older records: " + salted.status().message());
    if (*salted > 0) logger.Info("older records salted", {{"records", *salted}});
  }
  auto trust = LoadTrustStore(data_dir);
  if (!trust.ok()) return StartFailure(trust.status().message());

  custos::services::SystemClock clock;
  // Every row refused for a bad seal is counted, logged and alerted; the
  // observer is cleared before the monitor goes.
  custos::services::RowIntegrityMonitor row_integrity(clock, logger, metrics);
  custos::storage::SetRowIntegrityObserver(
      [&row_integrity](const std::string& table, const std::string& key) { row_integrity.Report(table, key); });
  struct ClearObserver {
    ~ClearObserver() { custos::storage::SetRowIntegrityObserver({}); }
  } clear_observer;
  custos::services::LogService log_service(archive->store(), archive->keyring().VerifierKeys());
  auto factor_key = custos::services::SecondFactor::LoadOrCreateKey(data_dir.root());
  if (!factor_key.ok()) return StartFailure("cannot load the factor key: " + factor_key.status().message());
  const custos::services::SecondFactor factors(std::move(factor_key).value(),
                                               custos::services::TotpOptions{config.totp_skew_steps});
  if (config.second_factor_roles.empty()) {
    logger.Warn("second factors are off: auth.second_factor_roles is empty, every role signs in "
                "with a password alone");
  }
  custos::services::AuthService auth(archive->store(), clock, custos::services::AuthOptionsOf(config), &factors);
  // The pre-split "admin" accounts become system administrators before
  // anyone signs in; a copy without custody writes nothing (its original
  // has done it).
  if (archive->custody().held) {
    auto migrated = auth.MigrateLegacyAdmins("custosd");
    if (!migrated.ok()) return StartFailure("cannot migrate admin accounts: " + migrated.status().message());
    if (*migrated > 0) {
      logger.Info("admin accounts migrated to sysadmin", {{"count", static_cast<uint64_t>(*migrated)}});
    }
  }
  custos::services::FreshReadLog fresh_reads(metrics);
  // The content index (docs/search.md): its key, and the pipeline that
  // extracts and indexes stored files in the background.
  auto index_key = custos::storage::IndexKey::LoadOrCreate(data_dir);
  if (!index_key.ok()) return StartFailure("cannot load the index key: " + index_key.status().message());
  if (auto ready = custos::storage::TextTokensReady(); !ready.ok()) {
    logger.Warn("traditional Chinese is not folded to simplified in the content index; queries in one "
                "form will not find text in the other",
                {{"error", ready.message()}});
  }
  custos::Counter& extraction_runs = metrics.AddCounter(
      "custos_extraction_runs_total", "Text extraction runs of stored files by result", {"result"});
  custos::services::ContentPipeline pipeline(archive->store(), archive->content(), **index_key, clock,
                                             ServerPipelineOptions(config, data_dir, extraction_runs, logger));
  AddPipelineGauges(metrics, archive->store());
  custos::Counter& preview_renders = metrics.AddCounter(
      "custos_preview_renders_total", "Preview worker runs by result", {"result"});
  custos::services::RecordOptions record_options =
      RecordOptionsOf(config, data_dir.root(), fresh_reads, **index_key, pipeline);
  record_options.on_render = [&preview_renders](std::string_view result) {
    preview_renders.Inc({std::string(result)});
  };
  const std::vector<custos::domain::Classification> stamp_classifications = record_options.stamp_classifications;
  custos::services::RecordService records(archive->store(), archive->content(), archive->blobs(),
                                          log_service, clock, *trust, std::move(record_options));
  custos::services::LoanService loans(archive->store(), clock, LoanOptionsOf(config));
  custos::services::RetentionService retention(archive->store(), clock, AccountPolicyOf(config));
  custos::services::DestructionService destruction(archive->store(), archive->blobs(), log_service,
                                                   archive->keyring().log_signers(), clock,
                                                   DestructionOptionsOf(config));
  // A destruction cut short by a crash is finished before serving: its
  // records' keys are gone already, their ciphertext must go too.
  auto finished = destruction.FinishInterrupted();
  if (!finished.ok()) {
    return StartFailure("cannot finish interrupted destructions: " + finished.status().message());
  }
  if (*finished > 0) logger.Info("finished interrupted destructions", {{"batches", *finished}});

  custos::services::PackageExporter exporter(archive->store(), archive->content(),
                                             archive->keyring().VerifierKeys(), clock);
  exporter.FlagFreshReads(AccountPolicyOf(config), &fresh_reads);
  custos::services::EvidenceService evidence(archive->store(), archive->content(),
                                            archive->keyring().VerifierKeys(), clock,
                                            {stamp_classifications, AccountPolicyOf(config), &fresh_reads});
  custos::services::AuditService audit(
      archive->store(),
      [&archive](const std::function<void(const custos::storage::VerifyProgress&)>& progress) {
        return archive->Verify(progress);
      },
      exporter, archive->content(), archive->blobs(), data_dir.root() + "/exports", clock, logger);
  // No package outlives its lifetime, a crash included; none of an older
  // version lies in clear.
  auto exports_swept = audit.SweepAtStart();
  if (!exports_swept.ok()) {
    return StartFailure("cannot sweep stored exports: " + exports_swept.status().message());
  }
  if (*exports_swept > 0) logger.Info("expired exports removed", {{"count", *exports_swept}});

  auto attester_options = AttesterOptionsOf(config, data_dir);
  if (!attester_options.ok()) return StartFailure(attester_options.status().message());

  int exit_code = 0;
  {
    Housekeeping housekeeping(loans, retention, logger);
    custos::services::VerifySchedule verification(
        [&archive](uint64_t content_from, const std::function<bool()>& stop) {
          return archive->Verify({}, content_from, stop);
        },
        clock, logger, metrics, VerifyScheduleOptionsOf(config));
    Poco::Net::initializeSSL();
    custos::services::CheckpointAttester attester(archive->store(), clock, logger, metrics, *attester_options);
    exit_code = Serve(config, data_dir, health, metrics, logger,
                      {auth, records, log_service, loans, retention, destruction, audit, &verification,
                       &row_integrity, &fresh_reads, true, &attester, &evidence},
                      stop_signals, pipeline);
  }
  Poco::Net::uninitializeSSL();
  return exit_code;
}
