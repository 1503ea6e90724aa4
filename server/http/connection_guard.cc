#include "server/http/connection_guard.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace custos::http {

namespace {
// How often the watchdog looks; a deadline is enforced this much late at most.
constexpr std::chrono::milliseconds kScanInterval{200};
}  // namespace

thread_local ConnectionGuard::Entry* ConnectionGuard::current_ = nullptr;

ConnectionGuard::ConnectionGuard(GuardLimits limits) : limits_(limits) {
  watchdog_ = std::thread([this] { Watch(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  watchdog_.join();
}

std::string ConnectionGuard::AddressKey(const std::string& host) {
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return host;  // IPv4 (or a name)
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char text[INET6_ADDRSTRLEN];
  if (std::memcmp(v6.s6_addr, kMapped, sizeof kMapped) == 0) {
    return ::inet_ntop(AF_INET, v6.s6_addr + 12, text, sizeof text) ? text : host;
  }
  std::memset(v6.s6_addr + 8, 0, 8);
  return ::inet_ntop(AF_INET6, &v6, text, sizeof text) ? std::string(text) + "/64" : host;
}

bool ConnectionGuard::MayAccept(const std::string& address_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_address_.find(address_key);
  if (it == per_address_.end() || it->second < limits_.max_per_address) return true;
  ++refused_;
  return false;
}

ConnectionGuard::Scope::Scope(ConnectionGuard& guard, int fd, std::string address_key)
    : guard_(guard) {
  std::lock_guard<std::mutex> lock(guard_.mu_);
  int& count = guard_.per_address_[address_key];
  admitted_ = count < guard_.limits_.max_per_address;
  if (admitted_) {
    ++count;
  } else {
    ++guard_.refused_;
    if (count == 0) guard_.per_address_.erase(address_key);
  }
  Entry e{fd, std::move(address_key)};
  e.deadline = Clock::now() + guard_.limits_.header_timeout;
  e.guard = &guard_;
  it_ = guard_.entries_.insert(guard_.entries_.end(), std::move(e));
  current_ = &*it_;
}

ConnectionGuard::Scope::~Scope() {
  std::lock_guard<std::mutex> lock(guard_.mu_);
  if (admitted_) {
    auto count = guard_.per_address_.find(it_->address);
    if (count != guard_.per_address_.end() && --count->second <= 0) guard_.per_address_.erase(count);
  }
  guard_.entries_.erase(it_);
  current_ = nullptr;
}

void ConnectionGuard::RequestStarted(bool has_body) {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->busy = true;
  e->in_body = has_body;
  e->body_start = Clock::now();
  e->body_read = 0;
}

void ConnectionGuard::BodyRead(int64_t n) {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->body_read += n;
}

void ConnectionGuard::BodyDone() {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->in_body = false;
}

void ConnectionGuard::RequestFinished() {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->busy = false;
  e->in_body = false;
  e->deadline = Clock::now() + e->guard->limits_.keep_alive_timeout + e->guard->limits_.header_timeout;
}

uint64_t ConnectionGuard::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

uint64_t ConnectionGuard::body_timeouts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return body_timeouts_;
}

uint64_t ConnectionGuard::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

size_t ConnectionGuard::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

int ConnectionGuard::busiest_address() const {
  std::lock_guard<std::mutex> lock(mu_);
  int most = 0;
  for (const auto& [address, count] : per_address_) most = std::max(most, count);
  return most;
}

bool ConnectionGuard::Expired(const Entry& e, Clock::time_point now) const {
  if (!e.busy) return now >= e.deadline;
  if (!e.in_body) return false;
  auto elapsed = now - e.body_start;
  if (elapsed >= limits_.body_timeout) return true;
  auto owed = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed) - limits_.header_timeout;
  return owed.count() > 0 && e.body_read * 1000 < owed.count() * limits_.body_min_rate;
}

void ConnectionGuard::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kScanInterval);
    Clock::time_point now = Clock::now();
    for (Entry& e : entries_) {
      if (e.shut || !Expired(e, now)) continue;
      // The fd is open: its Scope, which ends before the socket is closed,
      // cannot end while we hold the lock. shutdown(2), unlike close, is
      // safe beside the connection thread's blocked read, which now fails.
      ::shutdown(e.fd, SHUT_RDWR);
      e.shut = true;
      ++(e.busy ? body_timeouts_ : closed_);
    }
  }
}

}  // namespace custos::http
