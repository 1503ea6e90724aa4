// Deadlines and per-address limits for client connections: a connection
// must deliver each request header, and each request body, in bounded time,
// and no client address may hold more than its share of the threads.
//
// The server runs one thread per connection, so a client that opens a
// connection and then sends its header or body a byte at a time (or never
// finishes the TLS handshake) holds a thread for as long as it likes: the
// socket's receive timeout restarts with every byte. ConnectionGuard gives
// every connection deadlines instead, which a watchdog thread enforces by
// shutting down the socket (the blocked read then fails and the thread is
// free):
//   * header: `header_timeout` after the connection was accepted for the
//     first request, and `keep_alive_timeout + header_timeout` after a
//     response for the next one;
//   * body: from the moment the header is parsed, the body must keep up an
//     average of `body_min_rate` bytes/s once `header_timeout` (the grace)
//     has passed — by time t it must have delivered (t - grace) * rate
//     bytes — and arrive whole within `body_timeout`. The deadline ends
//     when the body has been read to its end; a handler working on a body
//     it has read has no deadline.
// And at most `max_per_address` connections from one client address (for
// IPv6, one /64) are served at once; more are closed before the TLS
// handshake (MayAccept() refuses them at accept time already).
//
// Use: the connection's thread holds a ConnectionGuard::Scope for the
// connection's whole life; the request handler, running in the same thread,
// calls RequestStarted() once the header is parsed, BodyRead() as body
// bytes arrive, BodyDone() at the body's end and RequestFinished() after
// the response.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace custos::http {

// Filled from the server.* configuration (common/config.h holds the
// defaults, in one place).
struct GuardLimits {
  std::chrono::milliseconds header_timeout{0};
  std::chrono::milliseconds keep_alive_timeout{0};
  int64_t body_min_rate = 0;  // bytes per second, averaged after the grace
  std::chrono::milliseconds body_timeout{0};
  int max_per_address = 0;
};

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;

 private:
  // One open connection; its thread and the watchdog share it under mu_.
  struct Entry {
    int fd;
    std::string address;
    bool busy = false;     // inside a request handler
    bool in_body = false;  // busy, and the body is still arriving
    bool shut = false;
    Clock::time_point deadline;    // of the header, when not busy
    Clock::time_point body_start;  // when in_body
    int64_t body_read = 0;         // when in_body
    ConnectionGuard* guard;
  };

 public:
  explicit ConnectionGuard(GuardLimits limits);
  ~ConnectionGuard();  // stops the watchdog
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // The key connections are counted under: the IPv4 address, or the first
  // 64 bits of an IPv6 one (an IPv4-mapped IPv6 address counts as IPv4).
  static std::string AddressKey(const std::string& host);

  // False if `address_key` already holds max_per_address connections (the
  // refusal is counted). Called before a connection is queued.
  bool MayAccept(const std::string& address_key);

  // Registers the socket `fd` of a client at `address_key` for the lifetime
  // of the scope and makes it the calling thread's current connection. The
  // fd must stay open until the scope ends. admitted() is false when the
  // address already had max_per_address connections: the caller closes the
  // connection at once (counted as refused).
  class Scope {
   public:
    Scope(ConnectionGuard& guard, int fd, std::string address_key);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    bool admitted() const { return admitted_; }

   private:
    ConnectionGuard& guard_;
    std::list<Entry>::iterator it_;
    bool admitted_ = false;
  };

  // The calling thread's connection has a complete header and is being
  // served; `has_body`: a body follows, under the body deadline until
  // BodyDone(). No-op outside a Scope.
  static void RequestStarted(bool has_body = false);
  // `n` more body bytes have arrived. No-op outside a Scope.
  static void BodyRead(int64_t n);
  // The body has been read to its end (or will not be read). No-op outside
  // a Scope.
  static void BodyDone();
  // The response is sent; the next header is due within
  // keep_alive_timeout + header_timeout. No-op outside a Scope.
  static void RequestFinished();

  // Connections closed for missing a header deadline so far.
  uint64_t closed() const;
  // Connections closed for a body too slow or too long so far.
  uint64_t body_timeouts() const;
  // Connections refused because their address held its share.
  uint64_t refused() const;
  // Connections registered now.
  size_t open() const;
  // The most connections one client address holds now.
  int busiest_address() const;

 private:
  void Watch();
  bool Expired(const Entry& e, Clock::time_point now) const;

  const GuardLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::list<Entry> entries_;                    // GUARDED_BY(mu_); stable addresses
  std::map<std::string, int> per_address_;      // GUARDED_BY(mu_); admitted entries
  uint64_t closed_ = 0;                         // GUARDED_BY(mu_)
  uint64_t body_timeouts_ = 0;                  // GUARDED_BY(mu_)
  uint64_t refused_ = 0;                        // GUARDED_BY(mu_)
  bool stopping_ = false;                       // GUARDED_BY(mu_)
  std::thread watchdog_;

  static thread_local Entry* current_;
};

}  // namespace custos::http
