#include "server/services/events.h"

namespace custos::services {

storage::LogEvent MakeEvent(const std::string& action, const Principal& who,
                            const std::string& subject, storage::Time at) {
  storage::LogEvent e;
  e.action = action;
  e.actor = who.username.value;
  e.subject = subject;
  e.at = at;
  e.details = new Poco::JSON::Object;
  return e;
}

}  // namespace custos::services
