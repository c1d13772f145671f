// A connected byte stream (TCP, optionally TLS) handed over after an HTTP Upgrade or opened by a
// client for one. Reads and writes block; fd() and Pending() let one thread poll() several
// connections and only read when a read will not wait.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace kumo::http {

// Owned by one thread at a time; Shutdown() may be called from any thread.
class Conn {
 public:
  virtual ~Conn() = default;
  // The socket, for poll(POLLIN).
  virtual int fd() const = 0;
  // True when bytes can be read without waiting on the socket (TLS or codec buffers).
  virtual bool Pending() const = 0;
  // Reads up to `n` bytes, waiting for at least one. 0: the peer closed the stream.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Writes all of `data`.
  virtual Status Write(std::string_view data) = 0;
  // Ends the stream in both directions; a Read blocked in another thread returns.
  virtual void Shutdown() = 0;
};

}  // namespace kumo::http
