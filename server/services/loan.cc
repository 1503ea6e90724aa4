#include "server/services/loan.h"

#include <Poco/JSON/Object.h>

#include <utility>

#include "domain/canonical_json.h"

namespace custos::services {

using domain::Loan;
using domain::LoanState;
using domain::Time;

storage::Document ToDocument(const Loan& loan, Time updated_at) {
  Poco::JSON::Object::Ptr o = domain::LoanObject(loan);
  storage::Document d;
  d.kind = kLoanDocument;
  d.id = loan.id;
  d.subject = loan.record_id.value;
  d.owner = loan.borrower;
  d.state = std::string(domain::Name(loan.state));
  d.due_at = loan.due_at;
  d.created_at = loan.requested_at;
  d.updated_at = updated_at;
  auto body = domain::CanonicalJson(o);
  d.body = body.ok() ? *body : "{}";  // every value above is a string or a small integer
  return d;
}

StatusOr<Loan> LoanFromDocument(const storage::Document& d) {
  auto corrupt = [&] { return DataLoss("loan " + d.id + " is stored in a form that does not decode", "loan_corrupt"); };
  auto parsed = domain::ParseJsonStrict(d.body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return corrupt();
  auto loan = domain::LoanFromObject(parsed->extract<Poco::JSON::Object::Ptr>());
  if (!loan.ok() || loan->id != d.id) return corrupt();
  return loan;
}

StatusOr<std::vector<Loan>> LoansOfRecord(storage::Transaction& tx, const domain::RecordId& id,
                                          const std::string& borrower,
                                          const std::vector<LoanState>& states) {
  storage::DocumentQuery q;
  q.kind = kLoanDocument;
  q.subject = id.value;
  q.owner = borrower;
  for (LoanState st : states) q.states.emplace_back(domain::Name(st));
  q.limit = 1000;
  std::vector<Loan> out;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> docs, tx.documents().List(q));
    for (const storage::Document& d : docs) {
      CUSTOS_ASSIGN_OR_RETURN(Loan l, LoanFromDocument(d));
      out.push_back(std::move(l));
    }
    if (docs.size() < q.limit) return out;
    q.after_id = docs.back().id;
  }
}

}  // namespace custos::services
