#include "server/services/events.h"

#include <cstdio>
#include <string>

namespace custos::services {

storage::LogEvent MakeEvent(const std::string& action, const Principal& who,
                            const std::string& subject, domain::Time at) {
  storage::LogEvent e;
  e.action = action;
  e.actor = who.username.value;
  e.subject = subject;
  e.at = at;
  return e;
}

StatusOr<std::string> NextDocumentId(storage::Transaction& tx, const std::string& prefix,
                                     domain::Time now) {
  int year = std::stoi(domain::FormatTime(now).substr(0, 4));
  CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.documents().NextNumber(prefix, year));
  char id[48];
  std::snprintf(id, sizeof id, "%s-%04d-%06llu", prefix.c_str(), year,
                static_cast<unsigned long long>(n));
  return std::string(id);
}

StatusOr<std::vector<storage::Document>> ListAllDocuments(storage::Transaction& tx,
                                                          storage::DocumentQuery q) {
  q.limit = 1000;
  std::vector<storage::Document> out;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> page, tx.documents().List(q));
    bool more = page.size() == q.limit;
    if (more) q.after_id = page.back().id;
    for (auto& d : page) out.push_back(std::move(d));
    if (!more) return out;
  }
}

}  // namespace custos::services
