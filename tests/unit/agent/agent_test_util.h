// Helpers shared by the agent tests: the tiny image built once into a cache that survives
// between runs, loopback ports, HTTP over loopback, console access and polling.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "agent/image/tiny_image.h"
#include "common/file_util.h"

namespace kumo::agent::testing {

inline constexpr char kTestCache[] = "/tmp/kumo-test-cache";

// The tiny image, built (or found up to date) once per test process.
inline const StatusOr<TinyImage>& TestImage() {
  static std::once_flag once;
  static StatusOr<TinyImage>* image = nullptr;
  std::call_once(once, [] {
    image = new StatusOr<TinyImage>(BuildTinyImage(
        std::string(kTestCache) + "/image", kTestCache,
        [](const std::string& msg) { fprintf(stderr, "[tiny image] %s\n", msg.c_str()); }));
  });
  return *image;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// GET / on 127.0.0.1:port; the whole response, or "" on failure.
inline std::string HttpGetLoopback(int port, int timeout_ms = 5000) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// Writes `text` to a UNIX stream socket (the serial console), keeping the connection open for
// `linger_ms` so the guest reads it before we hang up.
inline bool SendToUnixSocket(const std::string& path, const std::string& text,
                             int linger_ms = 500) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
            send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(linger_ms));
  close(fd);
  return ok;
}

// Polls `pred` every 200 ms until it holds or `timeout_s` passes.
inline bool WaitFor(const std::function<bool()>& pred, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

inline bool FileContains(const std::string& path, const std::string& needle) {
  auto text = ReadFileToString(path);
  return text.ok() && text->find(needle) != std::string::npos;
}

}  // namespace kumo::agent::testing
