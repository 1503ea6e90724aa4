// The one way custosd opens a connection of its own (to witnesses and
// time-stamping authorities, docs/operations.md "Witnesses and
// timestamps"): plain HTTP, or TLS 1.2+ with forward-secret AEAD suites,
// checking the peer's certificate and name against `ca_file` (PEM) or, when
// it is empty, the system's roots.
//
// Thread safety: each call makes its own session; safe from any thread.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <memory>
#include <string>

namespace custos::services {

// A session to `uri`'s host and port; `uri`'s scheme is "http" or "https"
// (callers check it).
std::unique_ptr<Poco::Net::HTTPClientSession> OpenOutboundSession(const Poco::URI& uri,
                                                                  const std::string& ca_file);

}  // namespace custos::services
