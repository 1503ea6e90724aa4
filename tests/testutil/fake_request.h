// A request as the HTTP server hands it to a handler, without a socket: for
// driving route handlers in-process (the OpenAPI contract test, the
// json_request fuzz target). Header-only, so that targets which do not link
// the test utilities can use it.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/SocketAddress.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace custos::testing {

class FakeRequest final : public Poco::Net::HTTPServerRequest {
 public:
  FakeRequest(const std::string& method, const std::string& uri, std::string body = "")
      : body_(std::move(body)) {
    setMethod(method);
    setURI(uri);
  }
  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return address_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return address_; }
  const Poco::Net::HTTPServerParams& serverParams() const override {
    throw std::logic_error("no server parameters outside the server");
  }
  Poco::Net::HTTPServerResponse& response() const override {
    throw std::logic_error("handlers return a Response; they never touch the raw one");
  }
  bool secure() const override { return true; }

 private:
  std::istringstream body_;
  Poco::Net::SocketAddress address_;
};

}  // namespace custos::testing
