#include "server/services/checkpoint_attester.h"

#include <algorithm>
#include <exception>

#include "crypto/timestamp.h"

namespace custos::services {

namespace {

double UnixSeconds(domain::Time t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

std::string CheckpointText(const std::string& signed_note) {
  const size_t blank = signed_note.rfind("\n\n");
  return blank == std::string::npos ? signed_note : signed_note.substr(0, blank + 1);
}

CheckpointAttester::CheckpointAttester(storage::MetadataStore& store, Clock& clock, Logger& logger,
                                       MetricsRegistry& metrics, AttesterOptions options)
    : store_(store),
      clock_(clock),
      logger_(logger),
      options_(std::move(options)),
      requests_(metrics.AddCounter("custos_attestation_requests_total",
                                   "Checkpoints offered to witnesses and time-stamping authorities, by outcome "
                                   "(cosigned, timestamped, unreachable, refused, conflict, invalid)",
                                   {"party", "result"})) {
  metrics.AddCallbackGaugeFamily(
      "custos_attestation_last_success_timestamp_seconds",
      "When each witness or time-stamping authority last attested a checkpoint (0: not since start)", "party",
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<std::pair<std::string, double>> out;
        for (const auto& [party, v] : published_) out.emplace_back(party, v.second);
        return out;
      });
  metrics.AddCallbackGaugeFamily(
      "custos_attestation_lag_entries",
      "Log entries after the newest checkpoint each witness or time-stamping authority attested", "party",
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<std::pair<std::string, double>> out;
        for (const auto& [party, v] : published_) {
          out.emplace_back(party, static_cast<double>(log_size_ > v.first ? log_size_ - v.first : 0));
        }
        return out;
      });
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const WitnessEndpoint& w : options_.witnesses) published_[w.key.name] = {0, 0};
    for (const TsaEndpoint& t : options_.tsas) published_[t.name] = {0, 0};
  }
  if (options_.start_thread && (!options_.witnesses.empty() || !options_.tsas.empty())) {
    thread_ = std::thread([this] { Run(); });
  }
}

CheckpointAttester::~CheckpointAttester() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckpointAttester::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void CheckpointAttester::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.poll, [this] { return stopping_ || notified_; });
      if (stopping_) return;
      notified_ = false;
    }
    try {
      RunOnce();
    } catch (const std::exception& e) {
      logger_.Error("checkpoint attestation failed", {{"error", e.what()}});
    }
  }
}

bool CheckpointAttester::Due(const PartyState& st) const {
  return !st.retry_at || std::chrono::steady_clock::now() >= *st.retry_at;
}

void CheckpointAttester::RunOnce() {
  std::lock_guard<std::mutex> round(round_mu_);
  std::optional<storage::StoredCheckpoint> latest;
  Status read = store_.Read([&](storage::Transaction& tx) -> Status {
    StatusOr<storage::StoredCheckpoint> cp = tx.log().LatestCheckpoint();
    if (!cp.ok()) return cp.status().code() == ErrorCode::kNotFound ? Status::Ok() : cp.status();
    latest = std::move(cp).value();
    if (loaded_) return Status::Ok();
    // What each party attested before this start.
    auto load = [&](const std::string& name) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, tx.log().LastSignedSize(name));
      PartyState& st = states_[name];
      if (!size) return Status::Ok();
      st.done_size = *size;
      CUSTOS_ASSIGN_OR_RETURN(auto lines, tx.log().CheckpointSignatures(*size));
      for (const auto& l : lines) {
        if (l.name != name) continue;
        // The steady clock has no past before the start: count the
        // interval from the stored line's age.
        const auto age = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::max(clock_.Now() - l.created_at, domain::Time::duration::zero()));
        st.last_stamp = std::chrono::steady_clock::now() - age;
      }
      return Status::Ok();
    };
    for (const WitnessEndpoint& w : options_.witnesses) CUSTOS_RETURN_IF_ERROR(load(w.key.name));
    for (const TsaEndpoint& t : options_.tsas) CUSTOS_RETURN_IF_ERROR(load(t.name));
    loaded_ = true;
    return Status::Ok();
  });
  if (!read.ok()) {
    logger_.Warn("checkpoint attestation cannot read the log", {{"error", read.ToString()}});
    return;
  }
  if (!latest) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_size_ = latest->size;
    for (const auto& [name, st] : states_) {
      auto it = published_.find(name);
      if (it != published_.end()) it->second.first = std::max(it->second.first, st.done_size);
    }
  }
  for (const WitnessEndpoint& w : options_.witnesses) {
    PartyState& st = states_[w.key.name];
    if (latest->size > st.done_size && Due(st)) Witness(w, *latest);
  }
  for (const TsaEndpoint& t : options_.tsas) {
    PartyState& st = states_[t.name];
    const bool interval_over =
        !st.last_stamp || std::chrono::steady_clock::now() - *st.last_stamp >= options_.timestamp_interval;
    if (latest->size > st.done_size && interval_over && Due(st)) Timestamp(t, *latest);
  }
}

void CheckpointAttester::Witness(const WitnessEndpoint& w, const storage::StoredCheckpoint& cp) {
  const std::string& name = w.key.name;
  PartyState& st = states_[name];
  uint64_t old_size = std::max(st.done_size, st.known_size);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (old_size > cp.size) {
      // Another node of the same archive (PostgreSQL) may have submitted a
      // newer checkpoint meanwhile: only a tree larger than any this log
      // has signed is a rollback.
      uint64_t newest = 0;
      Status s = store_.Read([&](storage::Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint latest, tx.log().LatestCheckpoint());
        newest = latest.size;
        return Status::Ok();
      });
      if (s.ok() && newest >= old_size) {
        st.known_size = 0;
        return;  // the next round submits the newer checkpoint
      }
      Problem(name, "witness_ahead",
              "the witness knows a tree of " + std::to_string(old_size) + " entries; this log has " +
                  std::to_string(cp.size),
              cp.size, st);
      return;
    }
    std::vector<crypto::Digest32> proof;
    if (old_size > 0 && old_size < cp.size) {
      Status s = store_.Read([&](storage::Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(proof, tx.log().ConsistencyProof(old_size, cp.size));
        return Status::Ok();
      });
      if (!s.ok()) {
        logger_.Warn("checkpoint attestation cannot make a consistency proof",
                     {{"party", name}, {"error", s.ToString()}});
        return;
      }
    }
    WitnessResult r = SubmitCheckpoint(w, old_size, proof, cp.note, options_.request_timeout);
    switch (r.kind) {
      case WitnessResult::kCosigned: {
        if (r.lines.empty()) {
          Problem(name, "witness_refused", "the witness answered without a cosignature", cp.size, st);
          return;
        }
        Status s = Store(name, storage::kCosignatureKind, cp.size, r.lines.front());
        if (!s.ok() && s.reason() != "checkpoint_signature_exists") {
          logger_.Warn("cannot store a cosignature", {{"party", name}, {"error", s.ToString()}});
          return;
        }
        Succeeded(name, st, cp.size, "cosigned");
        return;
      }
      case WitnessResult::kConflict:
        requests_.Inc({name, "conflict"});
        st.known_size = r.witness_size;
        if (attempt == 0 && r.witness_size != old_size) {
          old_size = r.witness_size;
          continue;
        }
        Problem(name, "witness_refused",
                "the witness keeps answering that it knows a tree of " + std::to_string(r.witness_size) +
                    " entries" + (r.detail.empty() ? "" : ": " + r.detail),
                cp.size, st);
        return;
      case WitnessResult::kRefused:
        Problem(name, "witness_refused", r.detail, cp.size, st);
        return;
      case WitnessResult::kUnreachable:
        Failed(name, st, "unreachable", r.detail);
        return;
    }
  }
}

void CheckpointAttester::Timestamp(const TsaEndpoint& t, const storage::StoredCheckpoint& cp) {
  PartyState& st = states_[t.name];
  const std::string text = CheckpointText(cp.note);
  StatusOr<std::vector<uint8_t>> token = RequestTimestamp(t, text, options_.request_timeout);
  if (!token.ok()) {
    Failed(t.name, st, token.status().code() == ErrorCode::kUnavailable ? "unreachable" : "refused",
           token.status().ToString());
    return;
  }
  if (!options_.tsa_ca_pem.empty()) {
    auto info = crypto::tsa::VerifyToken(*token, text, options_.tsa_ca_pem);
    if (!info.ok()) {
      requests_.Inc({t.name, "invalid"});
      Problem(t.name, "timestamp_invalid", info.status().ToString(), cp.size, st);
      return;
    }
  }
  Status s = Store(t.name, storage::kTimestampKind, cp.size, crypto::tsa::TimestampLine(t.name, *token));
  if (!s.ok() && s.reason() != "checkpoint_signature_exists") {
    logger_.Warn("cannot store a timestamp", {{"party", t.name}, {"error", s.ToString()}});
    return;
  }
  st.last_stamp = std::chrono::steady_clock::now();
  Succeeded(t.name, st, cp.size, "timestamped");
}

Status CheckpointAttester::Store(const std::string& name, const char* kind, uint64_t size,
                                 const std::string& line) {
  storage::CheckpointSignature sig;
  sig.size = size;
  sig.name = name;
  sig.kind = kind;
  sig.line = line;
  sig.created_at = clock_.Now();
  return store_.Write([&](storage::Transaction& tx) { return tx.log().AddCheckpointSignature(sig); });
}

void CheckpointAttester::Succeeded(const std::string& party, PartyState& st, uint64_t size,
                                   const std::string& result) {
  requests_.Inc({party, result});
  st.done_size = size;
  st.known_size = 0;
  st.retry_at.reset();
  st.pause = std::chrono::milliseconds(0);
  if (!st.reachable) logger_.Info("checkpoint attestation works again", {{"party", party}});
  st.reachable = true;
  std::lock_guard<std::mutex> lock(mu_);
  published_[party] = {size, UnixSeconds(clock_.Now())};
}

void CheckpointAttester::Failed(const std::string& party, PartyState& st, const std::string& result,
                                const std::string& detail) {
  requests_.Inc({party, result});
  st.pause = st.pause.count() == 0 ? options_.first_retry : std::min(st.pause * 2, options_.max_retry);
  st.retry_at = std::chrono::steady_clock::now() + st.pause;
  if (st.reachable) {
    logger_.Warn("checkpoint attestation failed; retrying", {{"party", party}, {"result", result}, {"error", detail}});
  }
  st.reachable = false;
}

void CheckpointAttester::Problem(const std::string& party, const std::string& code, const std::string& detail,
                                 uint64_t size, PartyState& st) {
  if (code != "timestamp_invalid") requests_.Inc({party, "refused"});
  logger_.Error("checkpoint attestation refused",
                {{"party", party}, {"code", code}, {"size", std::to_string(size)}, {"detail", detail}});
  // Not again for the same checkpoint until the pause is over.
  st.pause = std::max(options_.first_retry, std::min(st.pause * 2, options_.max_retry));
  st.retry_at = std::chrono::steady_clock::now() + st.pause;
  std::lock_guard<std::mutex> lock(mu_);
  ++problem_count_;
  problems_.insert(problems_.begin(), AttestationProblem{clock_.Now(), party, code, detail, size});
  if (problems_.size() > kAlertProblems) problems_.resize(kAlertProblems);
}

std::optional<AttestationAlert> CheckpointAttester::AlertFor(const Principal& who) const {
  if (who.role != domain::Role::kAuditor && who.role != domain::Role::kSysAdmin &&
      who.role != domain::Role::kSecurityAuditor) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (problem_count_ == 0) return std::nullopt;
  return AttestationAlert{problem_count_, problems_};
}

}  // namespace custos::services
