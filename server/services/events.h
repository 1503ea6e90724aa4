// Building audit events (storage/log_leaf.h) for the services: every change
// a service makes is described by one event appended in the same
// transaction.
#pragma once

#include <string>

#include "server/services/principal.h"
#include "storage/log_leaf.h"
#include "storage/metadata_store.h"

namespace custos::services {

// An event by `who` about `subject` at `at`, with an empty details object.
storage::LogEvent MakeEvent(const std::string& action, const Principal& who,
                            const std::string& subject, domain::Time at);

// The next id of a workflow document: "<prefix>-YYYY-NNNNNN" from the
// (prefix, year) counter of `tx` (write transactions only).
StatusOr<std::string> NextDocumentId(storage::Transaction& tx, const std::string& prefix,
                                     domain::Time now);

// Every document `q` matches, however many (List() pages by id).
StatusOr<std::vector<storage::Document>> ListAllDocuments(storage::Transaction& tx,
                                                          storage::DocumentQuery q);

// The actor name of changes the archive makes by itself (a loan running
// out). Not a valid username (usernames cannot contain ':').
inline constexpr const char* kSystemActor = "system:custos";

}  // namespace custos::services
