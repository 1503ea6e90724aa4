// The API views of workflow resources (server/http/json_codec.h) are each
// resource's one codec (its stored body) with what only a reader sees
// added: a fault here is an API field that drifted from the stored form, or
// a stored-only field (a blob id, the certificate) that leaked out.
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include <chrono>
#include <string>

#include "domain/loan.h"
#include "server/http/json_codec.h"
#include "server/services/destruction_service.h"
#include "server/services/retention_service.h"

namespace custos::http {
namespace {

using std::chrono::hours;

domain::Time At(const char* text) { return *domain::ParseTime(text); }

domain::Loan DigitalLoanOut() {
  domain::Loan l;
  l.id = "LN-2026-000001";
  l.record_id = domain::RecordId{"CT-2026-000007"};
  l.record_title = "供货合同 2026";
  l.department = "法务部";
  l.kind = domain::LoanKind::kDigital;
  l.state = domain::LoanState::kCheckedOut;
  l.borrower = "zhang";
  l.requested_at = At("2026-03-01T08:00:00Z");
  l.due_at = At("2026-03-10T08:00:00Z");
  l.checked_out_at = At("2026-03-02T08:00:00Z");
  l.checked_out_by = "zhang";
  l.closed_by = "nobody-sees-this";
  l.events.push_back({"loan.request", "zhang", l.requested_at, 11});
  l.events.push_back({"loan.checkout", "zhang", *l.checked_out_at, 15});
  return l;
}

TEST(ApiCodec, LoanViewIsTheStoredBodyAtReadingTime) {
  domain::Loan l = DigitalLoanOut();
  Poco::JSON::Object::Ptr stored = domain::LoanObject(l);
  Poco::JSON::Object::Ptr before_due = LoanJson(l, l.due_at - hours(1));
  Poco::JSON::Object::Ptr after_due = LoanJson(l, l.due_at + hours(1));

  EXPECT_EQ(stored->getValue<std::string>("state"), "checked_out");
  EXPECT_EQ(before_due->getValue<std::string>("state"), "checked_out");
  EXPECT_EQ(after_due->getValue<std::string>("state"), "expired");  // a digital loan ends with time
  EXPECT_EQ(after_due->getValue<std::string>("recordTitle"), "供货合同 2026");
  EXPECT_EQ(after_due->getValue<std::string>("checkedOutAt"), stored->getValue<std::string>("checkedOutAt"));
  EXPECT_TRUE(stored->has("closedBy"));
  EXPECT_FALSE(after_due->has("closedBy"));
  EXPECT_FALSE(stored->has("returnedAt"));
  ASSERT_TRUE(after_due->has("returnedAt"));
  EXPECT_TRUE(after_due->isNull("returnedAt"));
  EXPECT_TRUE(after_due->isNull("renewal"));
  EXPECT_FALSE(after_due->getValue<bool>("overdue"));
  Poco::JSON::Array::Ptr indices = after_due->getArray("logIndices");
  ASSERT_TRUE(indices);
  ASSERT_EQ(indices->size(), 2u);
  EXPECT_EQ(indices->getElement<Poco::UInt64>(0), 11u);
  EXPECT_EQ(indices->getElement<Poco::UInt64>(1), 15u);
}

TEST(ApiCodec, HoldViewShowsAnUnreleasedHoldWithNullReleasedAt) {
  services::Hold h;
  h.id = "LH-2026-000001";
  h.name = "诉讼保全";
  h.state = domain::HoldState::kActive;
  h.record_ids = {"CT-2026-000007"};
  h.created_at = At("2026-03-01T08:00:00Z");
  EXPECT_FALSE(services::HoldObject(h)->has("releasedAt"));
  Poco::JSON::Object::Ptr view = HoldJson(h);
  EXPECT_EQ(view->getValue<std::string>("state"), "active");
  EXPECT_EQ(view->getValue<std::string>("name"), "诉讼保全");
  EXPECT_TRUE(view->isNull("releasedAt"));

  h.state = domain::HoldState::kReleased;
  h.released_at = At("2026-04-01T08:00:00Z");
  view = HoldJson(h);
  EXPECT_EQ(view->getValue<std::string>("state"), "released");
  EXPECT_EQ(view->getValue<std::string>("releasedAt"), services::HoldObject(h)->getValue<std::string>("releasedAt"));
}

TEST(ApiCodec, BatchViewLeavesStoredOnlyFieldsOut) {
  services::DestructionBatch b;
  b.id = "DB-2026-000001";
  b.state = domain::BatchState::kApproved;
  b.proposed_at = At("2026-03-01T08:00:00Z");
  b.certificate = "secret note";
  b.event_indices = {3, 4};
  services::DestructionItem item;
  item.record_id = "CT-2026-000007";
  item.title = "供货合同";
  item.files.push_back({"f1", 1, "合同.pdf", 10, "ab", "cd", "blob-1"});
  b.items.push_back(item);

  Poco::JSON::Object::Ptr stored = services::DestructionBatchObject(b);
  EXPECT_TRUE(stored->has("certificate"));
  EXPECT_TRUE(stored->has("items"));
  Poco::JSON::Object::Ptr view = BatchJson(b);
  EXPECT_EQ(view->getValue<std::string>("state"), "approved");
  for (const char* stored_only : {"certificate", "items", "eventIndices"}) EXPECT_FALSE(view->has(stored_only)) << stored_only;
  EXPECT_TRUE(view->getValue<bool>("hasCertificate"));
  EXPECT_TRUE(view->isNull("executedAt"));
  ASSERT_EQ(view->getArray("logIndices")->size(), 2u);
  Poco::JSON::Object::Ptr record = view->getArray("records")->getObject(0);
  EXPECT_TRUE(record->isNull("eventIndex"));  // not executed yet
  Poco::JSON::Object::Ptr file = record->getArray("files")->getObject(0);
  EXPECT_EQ(file->getValue<std::string>("name"), "合同.pdf");
  EXPECT_FALSE(file->has("blobId"));
  EXPECT_TRUE(stored->getArray("items")->getObject(0)->getArray("files")->getObject(0)->has("blobId"));
}

}  // namespace
}  // namespace custos::http
