#include "agent/runtime/qmp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kumo::agent {
namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int Remaining(int64_t deadline_ms) {
  int64_t left = deadline_ms - NowMs();
  return left < 0 ? 0 : static_cast<int>(left);
}

Status TimeoutStatus(const std::string& what) {
  return Status(Code::kTimeout, "QMP: timed out " + what);
}

}  // namespace

StatusOr<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                        int timeout_ms, bool enable_oob) {
  const int64_t deadline = NowMs() + timeout_ms;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return BadRequest("QMP socket path too long: " + socket_path);
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Internal(std::string("QMP: socket: ") + strerror(errno));
  std::unique_ptr<QmpClient> client(new QmpClient(fd));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return Status(Code::kUnavailable,
                    "QMP: cannot connect to " + socket_path + ": " + strerror(errno));
    }
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, Remaining(deadline)) <= 0) return TimeoutStatus("connecting");
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return Status(Code::kUnavailable,
                    "QMP: cannot connect to " + socket_path + ": " + strerror(err));
    }
  }
  // QEMU accepts one client at a time; a second one waits here for the greeting.
  KUMO_ASSIGN_OR_RETURN(client->greeting_, client->ReadMessage(deadline));
  if (!client->greeting_.is_object() || !client->greeting_.as_object().contains("QMP")) {
    return Internal("QMP: unexpected greeting: " + ToJson(client->greeting_));
  }
  json::object caps;
  if (enable_oob) {
    const json::value* offered = Find(client->greeting_, {"QMP", "capabilities"});
    if (offered && offered->is_array()) {
      for (const auto& c : offered->as_array()) {
        if (c.is_string() && c.as_string() == "oob") client->oob_ = true;
      }
    }
    if (client->oob_) caps["enable"] = json::array{"oob"};
  }
  KUMO_RETURN_IF_ERROR(
      client->Execute("qmp_capabilities", caps, std::max(1, Remaining(deadline))).status());
  return client;
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) close(fd_);
}

Status QmpClient::WriteAll(const std::string& data, int64_t deadline_ms) {
  size_t off = 0;
  while (off < data.size()) {
    if (fd_ < 0) return Status(Code::kUnavailable, "QMP: connection closed");
    ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, Remaining(deadline_ms)) <= 0) return TimeoutStatus("writing");
      continue;
    }
    return Status(Code::kUnavailable, std::string("QMP: write failed: ") + strerror(errno));
  }
  return Status::Ok();
}

StatusOr<json::value> QmpClient::ReadMessage(int64_t deadline_ms) {
  while (true) {
    auto nl = buffer_.find('\n');
    while (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") != std::string::npos) {
        auto v = ParseJson(line);
        if (!v.ok()) return Internal("QMP: bad message: " + v.status().message());
        return std::move(v).value();
      }
      nl = buffer_.find('\n');
    }
    if (fd_ < 0) return Status(Code::kUnavailable, "QMP: connection closed");
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, Remaining(deadline_ms));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return TimeoutStatus("waiting for QEMU");
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      close(fd_);
      fd_ = -1;
    }
  }
}

StatusOr<json::value> QmpClient::Execute(std::string_view command, const json::object& arguments,
                                         int timeout_ms) {
  return Run("execute", command, arguments, timeout_ms);
}

StatusOr<json::value> QmpClient::ExecuteOob(std::string_view command, const json::object& arguments,
                                            int timeout_ms) {
  if (!oob_) {
    return Status(Code::kUnavailable, "QMP: out-of-band execution is not enabled");
  }
  return Run("exec-oob", command, arguments, timeout_ms);
}

StatusOr<json::value> QmpClient::Run(const char* key, std::string_view command,
                                     const json::object& arguments, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  // Replies are matched by id: a reply to an earlier command that timed out may still come.
  const int64_t id = next_id_++;
  json::object req{{key, command}, {"id", id}};
  if (!arguments.empty()) req["arguments"] = arguments;
  KUMO_RETURN_IF_ERROR(WriteAll(ToJson(req) + "\n", deadline));
  while (true) {
    KUMO_ASSIGN_OR_RETURN(json::value msg, ReadMessage(deadline));
    if (!msg.is_object()) continue;
    const json::object& o = msg.as_object();
    if (o.contains("event")) {
      events_.push_back(std::move(msg));
      continue;
    }
    const json::value* got = o.if_contains("id");
    if (!got || !got->is_int64() || got->as_int64() != id) continue;  // not ours
    if (const json::value* err = o.if_contains("error")) {
      return Internal("QMP " + std::string(command) + " failed: " + GetString(*err, {"class"}) +
                      ": " + GetString(*err, {"desc"}));
    }
    if (const json::value* ret = o.if_contains("return")) return *ret;
    return json::value(json::object{});
  }
}

StatusOr<json::value> QmpClient::NextEvent(int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (events_.empty()) {
    KUMO_ASSIGN_OR_RETURN(json::value msg, ReadMessage(deadline));
    if (msg.is_object() && msg.as_object().contains("event")) events_.push_back(std::move(msg));
  }
  json::value ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

StatusOr<json::value> QmpClient::WaitForEvent(const std::function<bool(const json::value&)>& match,
                                              int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    while (!events_.empty()) {
      json::value ev = std::move(events_.front());
      events_.pop_front();
      if (match(ev)) return ev;
    }
    KUMO_ASSIGN_OR_RETURN(json::value msg, ReadMessage(deadline));
    if (msg.is_object() && msg.as_object().contains("event")) events_.push_back(std::move(msg));
  }
}

void QmpClient::DiscardEvents(int ms) {
  (void)WaitForEvent([](const json::value&) { return false; }, ms);
}

}  // namespace kumo::agent
