#include "server/http/connection_guard.h"

#include <sys/socket.h>

namespace custos::http {

namespace {
// How often the watchdog looks; a deadline is enforced this much late at most.
constexpr std::chrono::milliseconds kScanInterval{200};
}  // namespace

thread_local ConnectionGuard::Entry* ConnectionGuard::current_ = nullptr;

ConnectionGuard::ConnectionGuard(std::chrono::milliseconds header_timeout,
                                 std::chrono::milliseconds keep_alive_timeout)
    : header_timeout_(header_timeout), keep_alive_timeout_(keep_alive_timeout) {
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

ConnectionGuard::Scope::Scope(ConnectionGuard& guard, int fd) : guard_(guard) {
  std::lock_guard<std::mutex> lock(guard_.mu_);
  it_ = guard_.entries_.insert(guard_.entries_.end(),
                               Entry{fd, false, false, Clock::now() + guard_.header_timeout_, &guard_});
  current_ = &*it_;
}

ConnectionGuard::Scope::~Scope() {
  std::lock_guard<std::mutex> lock(guard_.mu_);
  guard_.entries_.erase(it_);
  current_ = nullptr;
}

void ConnectionGuard::RequestStarted() {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->busy = true;
}

void ConnectionGuard::RequestFinished() {
  Entry* e = current_;
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->guard->mu_);
  e->busy = false;
  e->deadline = Clock::now() + e->guard->keep_alive_timeout_ + e->guard->header_timeout_;
}

uint64_t ConnectionGuard::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

size_t ConnectionGuard::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void ConnectionGuard::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kScanInterval);
    Clock::time_point now = Clock::now();
    for (Entry& e : entries_) {
      if (e.busy || e.shut || now < e.deadline) continue;
      // The fd is open: its Scope, which ends before the socket is closed,
      // cannot end while we hold the lock. shutdown(2), unlike close, is
      // safe beside the connection thread's blocked read, which now fails.
      ::shutdown(e.fd, SHUT_RDWR);
      e.shut = true;
      ++closed_;
    }
  }
}

}  // namespace custos::http
