// The workload model shared by the crash harness (tests/crash,
// docs/crashtest.md) and the multi-node tests (tests/server/multinode_*):
// what a client sent to the archive and what the archive acknowledged, one
// value per record, version, file and loan. The client operations that
// fill it are in tests/workload/client.h.
//
// Thread safety: plain values; whoever holds them guards them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace custos::workload {

// A file as a client uploaded it.
struct FileModel {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex of the uploaded bytes
  std::string id;      // from the acknowledgement; "" until then
};

// One version a client sent: the check-in (version 1) or a later one.
struct VersionModel {
  std::string note;  // the note of a new version ("" for the check-in)
  std::vector<FileModel> files;
  int node = 0;  // the node it was sent to (0 where there is one node)
  bool acked = false;
  // From the acknowledgement:
  int number = 0;
  int64_t log_index = -1;
  std::string manifest_hash;
};

// One record a client checked in (or tried to).
struct RecordModel {
  std::string title;  // unique per run
  std::string type;   // general or contract
  std::string classification = "internal";
  int owner = -1;  // the worker that checked it in
  std::string id;  // "" until the check-in is acknowledged
  // The versions sent (or, where only acknowledged ones are kept, those),
  // the check-in first.
  std::vector<VersionModel> versions;
  bool in_batch = false;       // proposed for destruction (its fate may be in flight)
  bool destroy_acked = false;  // an acknowledged execute destroyed it
  bool acked() const { return !id.empty(); }
};

// One loan a client asked for.
struct LoanModel {
  std::string id;  // "" while the request is unacknowledged
  std::string record_id;
  std::string kind;      // digital or physical
  std::string borrower;  // the user who asked
  std::string state;     // the state in the last acknowledged answer
  // The state a step sent but not acknowledged would lead to ("" if none):
  // afterwards the loan must be in `state` or in this one.
  std::string pending;
  int steps = 0;  // acknowledged steps, the request included
  // True while the loan has a step left (requested, approved, checked out).
  bool open() const {
    return state == "requested" || state == "approved" || state == "checked_out";
  }
};

// The next step of an open loan: who takes it, the action in
// POST /v1/loans/{id}/{action}, and the state it leads to. A digital loan
// goes out on approval; a digital loan is returned by its borrower, a
// physical one by an archivist.
struct LoanStep {
  enum class By { kApprover, kArchivist, kBorrower };
  By by = By::kApprover;
  std::string action;
  std::string next;
};
LoanStep NextLoanStep(const LoanModel& loan);

}  // namespace custos::workload
