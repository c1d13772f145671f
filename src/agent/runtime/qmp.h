// A small client for the QEMU Machine Protocol over a UNIX socket: reads the greeting,
// negotiates capabilities, executes commands (matched by id) and collects asynchronous events.
// Every call takes a timeout, so a wedged or busy QEMU never blocks the agent for long.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace kumo::agent {

// One connection. QEMU serves one QMP client per socket at a time, so keep connections short.
// Owned by the caller; not thread-safe (one thread at a time).
class QmpClient {
 public:
  // Connects, reads the greeting and runs qmp_capabilities, all within `timeout_ms`.
  // `enable_oob`: also turn on out-of-band execution when QEMU offers it (see ExecuteOob).
  // Unavailable when the socket is absent or refuses; Timeout when QEMU does not answer.
  static StatusOr<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path,
                                                      int timeout_ms, bool enable_oob = false);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs `command` with `arguments` and returns its "return" value. A QMP error becomes
  // Internal with QEMU's class and description. Events that arrive meanwhile are queued.
  StatusOr<json::value> Execute(std::string_view command, const json::object& arguments = {},
                                int timeout_ms = 2000);

  // Like Execute, but out of band: QEMU runs it at once on its monitor thread, also while its
  // main loop is stuck (only commands marked allow-oob, such as "yank"). Unavailable when
  // out-of-band execution was not enabled at Connect.
  StatusOr<json::value> ExecuteOob(std::string_view command, const json::object& arguments = {},
                                   int timeout_ms = 2000);
  bool oob() const { return oob_; }

  // The next event ({"event": NAME, "data": ..., "timestamp": ...}), queued or read within
  // `timeout_ms`; Timeout when none arrives.
  StatusOr<json::value> NextEvent(int timeout_ms);

  // The first event, queued or read within `timeout_ms`, that `match` accepts; the events
  // before it are dropped. Timeout when none arrives, Unavailable when QEMU hung up.
  StatusOr<json::value> WaitForEvent(const std::function<bool(const json::value&)>& match,
                                     int timeout_ms);

  // Drops the events that arrive within `ms`: a pause between polls that keeps the queue short.
  void DiscardEvents(int ms);

  // The greeting's {"QMP": {"version": ...}} object.
  const json::value& greeting() const { return greeting_; }

  // True once the peer closed the connection (e.g. after "quit").
  bool closed() const { return fd_ < 0; }

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  // Reads one JSON message (one line) before `deadline_ms` (CLOCK_MONOTONIC milliseconds).
  StatusOr<json::value> ReadMessage(int64_t deadline_ms);
  Status WriteAll(const std::string& data, int64_t deadline_ms);
  // Sends {key: command, id, arguments} and waits for the reply with that id.
  StatusOr<json::value> Run(const char* key, std::string_view command,
                            const json::object& arguments, int timeout_ms);

  int fd_;
  std::string buffer_;
  std::deque<json::value> events_;
  json::value greeting_;
  int64_t next_id_ = 1;
  bool oob_ = false;
};

}  // namespace kumo::agent
