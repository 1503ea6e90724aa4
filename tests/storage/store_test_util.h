// Shared pieces of the storage tests: a throwaway checkpoint signer and a
// few domain values.
#pragma once

#include <memory>
#include <string>

#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "storage/keyring.h"
#include "storage/log_leaf.h"
#include "domain/model.h"

namespace custos::storage::testing {

inline constexpr const char* kOrigin = "test.example/custos";

// An Ed25519 signer generated for the test run, with its verifier.
struct TestSigner {
  TestSigner()
      : signer(crypto::note::KeySigner::Create(
                   kOrigin, crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519).value())
                   .value()),
        checkpoint(kOrigin, {&signer}) {}
  crypto::note::KeySigner signer;
  NoteCheckpointSigner checkpoint;
  std::vector<const crypto::note::Verifier*> verifiers() const { return {&signer.verifier()}; }
};

inline LogEvent Event(const std::string& action, const std::string& subject, int n = 0) {
  LogEvent e;
  e.action = action;
  e.actor = "alice";
  e.at = domain::TruncateToMillis(std::chrono::system_clock::now());
  e.subject = subject;
  e.details.Set("n", n);
  return e;
}

inline domain::Record MakeRecord(const std::string& id, const std::string& title) {
  domain::Record r;
  r.id = domain::RecordId{id};
  r.type = domain::RecordType::kContract;
  r.title = title;
  r.department = "sales";
  r.classification = domain::Classification::kInternal;
  r.custodian = "alice";
  r.created_at = r.updated_at = domain::TruncateToMillis(std::chrono::system_clock::now());
  r.created_by = "alice";
  return r;
}

}  // namespace custos::storage::testing
