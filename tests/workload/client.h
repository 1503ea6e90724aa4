// The client side of the workload model (tests/workload/model.h), shared by
// the crash harness and the multi-node tests: each operation sends one
// request as a named user, checks the acknowledgement against what was sent
// and fills the model; the comparisons of what the archive serves
// afterwards with what it acknowledged.
//
// An operation never decides what an unanswered request means: after a
// crash or a node kill it is lost, otherwise it is an error. That judgement
// is the caller's, the one thing a crash trial and a node kill do
// differently.
//
// Thread safety: the functions are stateless; a Send and the models passed
// in belong to the calling thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/testutil/https_client.h"
#include "tests/workload/model.h"

namespace custos::workload {

using testing::HttpResult;
using testing::HttpsClient;

// ------------------------------------------------------------------ helpers

// Lower-case hex SHA-256.
std::string Sha256Hex(const std::string& data);
// `n` bytes of a pattern seeded by `seed` (xorshift; fast, incompressible).
std::string PatternBytes(size_t n, uint64_t seed);
// An RFC 3339 UTC instant `days` from now.
std::string DaysFromNow(int days);
// "HTTP 409 {...}" or "transport: ..." for failure messages.
std::string Describe(const HttpResult& r);
// True if the whole answer arrived: a status, and as many body bytes as
// Content-Length announced (the test client already reports a body cut
// short as a transport failure, status 0).
bool ResponseComplete(const HttpResult& r);

// Sends one request as `user` (the caller holds the tokens and picks the
// connection) and returns the answer.
using Send = std::function<HttpResult(const std::string& user, const std::string& method,
                                      const std::string& path, const std::string& body,
                                      const std::string& content_type)>;

// A file to upload: its model (id still "") and its bytes.
struct Upload {
  FileModel model;
  std::string bytes;
};
// `size` pattern bytes seeded by `seed`, named `name`.
Upload NewUpload(const std::string& name, size_t size, uint64_t seed);

// The metadata of a check-in of `record` (type, title, classification) in
// `department`; a contract also gets a counterparty, `contract_number` and
// a signing date.
std::string CheckInMetadata(const RecordModel& record, const std::string& department,
                            const std::string& contract_number);

// ---------------------------------------------------------------- operations

// What came of one operation.
struct Outcome {
  enum class Kind {
    kAcked,       // the expected answer, matching what was sent
    kUnanswered,  // no complete answer with the expected status: lost or an error
    kWrong,       // acknowledged, but not as what was sent: always an error
  };
  Kind kind = Kind::kUnanswered;
  std::string what;     // the operation, for messages ("check-in <title>")
  HttpResult answer;    // the answer received
  std::string problem;  // kWrong: what + how the acknowledgement differs
  bool acked() const { return kind == Kind::kAcked; }
};

// `answer` to the operation `what`: acknowledged if it is complete with
// status `want`, else unanswered. For operations of a harness's own.
Outcome Expect(std::string what, HttpResult answer, int want);

// POST /v1/records as `user` with `metadata` and `files`. `*v` gets the
// files' models before the request is sent. Acknowledged: 201 with an id
// and version 1 holding the files as sent (name, size, sha256); then *id,
// and v's ids, number, log index and manifest hash are set and v->acked.
Outcome CheckIn(const Send& send, const std::string& user, const std::string& what,
                const std::string& metadata, const std::vector<Upload>& files, std::string* id,
                VersionModel* v);

// POST /v1/records/{record_id}/versions as `user`: an amendment with note
// v->note and `files`. Acknowledged: 201 for this record, a number from 2,
// the files as sent; `v` is filled as by CheckIn.
Outcome AddVersion(const Send& send, const std::string& user, const std::string& record_id,
                   const std::vector<Upload>& files, VersionModel* v);

// GET one file of version `number` of `record_id` as `user`. Acknowledged:
// 200 with the bytes uploaded (size and sha256 of `file`).
Outcome ReadFile(const Send& send, const std::string& user, const std::string& why,
                 const std::string& record_id, int number, const FileModel& file);

// POST /v1/loans as loan->borrower for loan->record_id and loan->kind, due
// in 7 days. loan->pending is "requested" while it is unanswered.
// Acknowledged: 201 in state requested with an id; then loan->id and state
// are set, pending cleared and steps 1.
Outcome RequestLoan(const Send& send, const std::string& purpose, LoanModel* loan);

// POST /v1/loans/{id}/{step.action} as `user`. loan->pending is step.next
// while it is unanswered. Acknowledged: 200 in state step.next; then
// loan->state is step.next, pending cleared and steps one more.
Outcome TakeLoanStep(const Send& send, const std::string& user, const LoanStep& step,
                     LoanModel* loan);

// ------------------------------------------------------------------- checks

// How `served` (an object of a record's "versions", as the archive serves
// it) differs from `v`: the files' names, sizes and sha256 as sent, and,
// when v was acknowledged, the number, log index, manifest hash and file
// ids as acknowledged. One message per difference, each starting with
// `where`; empty when it holds v.
std::vector<std::string> CompareServedVersion(const std::string& where,
                                              const Poco::JSON::Object::Ptr& served,
                                              const VersionModel& v);

// How `served` (a loan as the archive serves it) differs from the
// acknowledged `loan`: its record, kind and borrower, and its state, which
// must be the acknowledged one or the one a step in flight leads to
// (loan.pending). "" when it matches, else one message starting with
// `where`.
std::string CompareServedLoan(const std::string& where, const Poco::JSON::Object::Ptr& served,
                              const LoanModel& loan);

// How a download of `file` differs from it: "" when `got` is a complete
// 200 with its size and sha256, else one message starting with `where`.
std::string CompareDownload(const std::string& where, const HttpResult& got,
                            const FileModel& file);

}  // namespace custos::workload
