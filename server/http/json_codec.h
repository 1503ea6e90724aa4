// JSON at the edge: one codec per resource (DESIGN §4 shapes, camelCase).
// Decoding reports 400 "malformed_json" for text that is not JSON or not an
// object, and 400 "invalid_field" naming the field for a wrong type.
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/model.h"
#include "server/services/auth_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"

namespace custos::http {

// Parses a JSON object (strictly: no duplicate keys, no trailing garbage).
StatusOr<Poco::JSON::Object::Ptr> ParseObject(const std::string& text);

// Typed field access; absent → nullopt; present with the wrong type → 400.
StatusOr<std::optional<std::string>> OptString(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<std::string> ReqString(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<std::optional<bool>> OptBool(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<Poco::JSON::Object::Ptr> OptObject(const Poco::JSON::Object::Ptr& o, const std::string& key);
// Rejects keys outside `allowed` (400 "unknown_field").
Status OnlyKeys(const Poco::JSON::Object::Ptr& o, const std::vector<std::string>& allowed);

std::string Stringify(const Poco::Dynamic::Var& v);

Poco::JSON::Object::Ptr UserJson(const domain::User& u);
Poco::JSON::Object::Ptr DepartmentJson(const domain::Department& d);
Poco::JSON::Object::Ptr FileJson(const domain::StoredFile& f);
Poco::JSON::Object::Ptr VersionJson(const domain::Version& v);
Poco::JSON::Object::Ptr RecordJson(const domain::Record& r);
// A record's retention: {trigger, period, action, source, triggerDate,
// dispositionDate, due}.
Poco::JSON::Object::Ptr DispositionJson(const services::Disposition& d);
Poco::JSON::Object::Ptr RecordDetailJson(const services::RecordDetail& d);
// A log entry: {"index","leaf":b64,"event":{…}}; the event is the leaf itself.
// The one storage type the HTTP layer names: the log API serves the leaves
// byte for byte as the store keeps them (LogService::Entries).
Poco::JSON::Object::Ptr EntryJson(const storage::LogEntry& e);

StatusOr<services::RecordInput> DecodeRecordInput(const std::string& text);
StatusOr<services::RecordPatch> DecodeRecordPatch(const std::string& text);

}  // namespace custos::http
