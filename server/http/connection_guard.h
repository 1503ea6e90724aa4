// The header deadline: a connection must deliver each complete request
// header in bounded time, or it is closed.
//
// The server runs one thread per connection, so a client that opens a
// connection and then sends its header a byte at a time (or never finishes
// the TLS handshake) holds a thread for as long as it likes: the socket's
// receive timeout restarts with every byte. ConnectionGuard gives every
// connection a deadline instead: `header_timeout` after it was accepted for
// the first request, and `keep_alive_timeout + header_timeout` after a
// response for the next one. A watchdog thread shuts down the socket of any
// connection whose deadline passed while it was not inside a request
// handler; the blocked read then fails and the connection's thread is free.
//
// Use: the connection's thread holds a ConnectionGuard::Scope for the
// connection's whole life; the request handler, running in the same thread,
// calls RequestStarted() once the header is parsed and RequestFinished()
// after the response.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

namespace custos::http {

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;

 private:
  // One open connection; its thread and the watchdog share it under mu_.
  struct Entry {
    int fd;
    bool busy = false;
    bool shut = false;
    Clock::time_point deadline;
    ConnectionGuard* guard;
  };

 public:
  ConnectionGuard(std::chrono::milliseconds header_timeout,
                  std::chrono::milliseconds keep_alive_timeout);
  ~ConnectionGuard();  // stops the watchdog
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // Registers the socket `fd` for the lifetime of the scope and makes it the
  // calling thread's current connection. The fd must stay open until the
  // scope ends.
  class Scope {
   public:
    Scope(ConnectionGuard& guard, int fd);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ConnectionGuard& guard_;
    std::list<Entry>::iterator it_;
  };

  // The calling thread's connection has a complete header and is being
  // served: no deadline until RequestFinished(). No-op outside a Scope.
  static void RequestStarted();
  // The response is sent; the next header is due within
  // keep_alive_timeout + header_timeout. No-op outside a Scope.
  static void RequestFinished();

  // Connections closed for missing their deadline so far.
  uint64_t closed() const;
  // Connections registered now.
  size_t open() const;

 private:

  void Watch();

  const std::chrono::milliseconds header_timeout_;
  const std::chrono::milliseconds keep_alive_timeout_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::list<Entry> entries_;  // stable addresses: threads keep pointers
  uint64_t closed_ = 0;
  bool stopping_ = false;
  std::thread watchdog_;

  static thread_local Entry* current_;
};

}  // namespace custos::http
