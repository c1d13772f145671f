#include "cli/vm_wait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/command.h"
#include "cli/session.h"

namespace kumo::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string ReadyMessage(const json::value& obj) {
  const json::value* conds = Find(obj, {"status", "conditions"});
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : conds->get_array()) {
    if (GetString(c, {"type"}) == "Ready" || GetString(c, {"type"}) == "Failure") {
      std::string m = GetString(c, {"message"});
      if (!m.empty()) return m;
    }
  }
  return "";
}

int Elapsed(Clock::time_point start) {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count());
}

// A non-blocking TCP connect to ip:port: true when the guest answered (accepted or refused).
bool TcpAnswers(const std::string& ip, int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  bool answered = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    answered = true;
  } else if (errno == ECONNREFUSED) {
    answered = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      answered = err == 0 || err == ECONNREFUSED;
    }
  }
  close(fd);
  return answered;
}

uint16_t Checksum(const unsigned char* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// One ICMP echo to `ip`, over an unprivileged ping socket or else a raw socket. False when no
// reply came in time or this process may not send ICMP.
bool IcmpAnswers(const std::string& ip, int timeout_ms) {
  bool raw = false;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) {
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    raw = true;
  }
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  unsigned char pkt[16] = {8, 0, 0, 0, 0x4b, 0x55, 0, 1, 'k', 'u', 'm', 'o', 'p', 'i', 'n', 'g'};
  uint16_t sum = Checksum(pkt, sizeof pkt);
  pkt[2] = static_cast<unsigned char>(sum >> 8);
  pkt[3] = static_cast<unsigned char>(sum & 0xff);
  bool answered = false;
  if (sendto(fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) > 0) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!answered && Clock::now() < deadline) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, std::max(1, left)) <= 0) break;
      unsigned char buf[1500];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0 || from.sin_addr.s_addr != addr.sin_addr.s_addr) continue;
      size_t off = raw ? static_cast<size_t>((buf[0] & 0x0f) * 4) : 0;
      if (static_cast<size_t>(n) > off && buf[off] == 0) answered = true;  // echo reply
    }
  }
  close(fd);
  return answered;
}

}  // namespace

StatusOr<json::value> WaitForRunning(client::RestClient& client, const std::string& ns,
                                     const std::string& name, int timeout_seconds,
                                     const ProgressFn& progress, const std::string& old_uid) {
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(timeout_seconds);
  std::string last_step, status;
  for (;;) {
    auto vm = client.Get(VmPath(ns, name));
    if (!vm.ok()) return Explain(vm.status(), "VM", name, ns);
    status = GetString(*vm, {"status", "printableStatus"});
    auto vmi = client.Get(VmiPath(ns, name));
    if (!vmi.ok() && vmi.status().code() != Code::kNotFound) return vmi.status();
    std::string phase = vmi.ok() ? GetString(*vmi, {"status", "phase"}) : "";
    std::string node = vmi.ok() ? GetString(*vmi, {"status", "nodeName"}) : "";
    if (vmi.ok() && !old_uid.empty() && GetString(*vmi, {"metadata", "uid"}) == old_uid) {
      phase = "Restarting";
      node.clear();
    }

    if (status == "ErrImagePull" || status == "ImagePullBackOff" || status == "CrashLoopBackOff" ||
        phase == "Failed") {
      std::string why = vmi.ok() ? ReadyMessage(*vmi) : "";
      if (why.empty()) why = ReadyMessage(*vm);
      return WithReason(Status(Code::kConflict, "VM \"" + name + "\" cannot start" +
                                                    (why.empty() ? "" : ": " + why)),
                        status.empty() ? phase : status);
    }
    std::string step;
    if (phase == "Restarting") {
      step = "Restarting...";
    } else if (phase == "Running") {
      step = "Running on " + node;
    } else if (!node.empty() || phase == "Scheduled") {
      step = "Starting on " + (node.empty() ? std::string("its node") : node) + "...";
    } else if (status == "ErrorUnschedulable") {
      std::string why = vmi.ok() ? ReadyMessage(*vmi) : "";
      step = "Waiting for a node: " + (why.empty() ? std::string("no node fits") : why);
    } else if (status == "Stopped" && !vmi.ok() && Elapsed(start) > 5) {
      return WithHint(Status(Code::kConflict, "VM \"" + name + "\" is stopped"),
                      "start it with 'kumo vm start " + name + "'");
    } else {
      step = "Scheduling...";
    }
    if (step != last_step) {
      progress(step + (phase == "Running" ? " (" + std::to_string(Elapsed(start)) + "s)" : ""));
      last_step = step;
    }
    if (phase == "Running") return std::move(*vmi);
    if (Clock::now() >= deadline) {
      return WithHint(Status(Code::kTimeout, "VM \"" + name + "\" is not running after " +
                                                 std::to_string(timeout_seconds) + "s (status " +
                                                 (status.empty() ? "unknown" : status) + ")"),
                      "see 'kumo vm show " + name + "'");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status WaitForStopped(client::RestClient& client, const std::string& ns, const std::string& name,
                      int timeout_seconds, const ProgressFn& progress) {
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(timeout_seconds);
  bool said = false;
  for (;;) {
    auto vm = client.Get(VmPath(ns, name));
    if (!vm.ok()) return Explain(vm.status(), "VM", name, ns);
    std::string status = GetString(*vm, {"status", "printableStatus"});
    auto vmi = client.Get(VmiPath(ns, name));
    bool gone = !vmi.ok() && vmi.status().code() == Code::kNotFound;
    if (gone && (status == "Stopped" || status.empty())) {
      progress("Stopped (" + std::to_string(Elapsed(start)) + "s)");
      return Status::Ok();
    }
    if (!said) {
      progress("Stopping...");
      said = true;
    }
    if (Clock::now() >= deadline) {
      return Status(Code::kTimeout, "VM \"" + name + "\" has not stopped after " +
                                        std::to_string(timeout_seconds) + "s (status " + status +
                                        ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status WaitForGone(client::RestClient& client, const std::string& path, int timeout_seconds) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  for (;;) {
    auto got = client.Get(path);
    if (!got.ok() && got.status().code() == Code::kNotFound) return Status::Ok();
    if (!got.ok()) return got.status();
    if (Clock::now() >= deadline) {
      return Status(Code::kTimeout, "still there after " + std::to_string(timeout_seconds) + "s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

bool RoutableAddress(const std::string& ip, std::string* why) {
  in_addr a{};
  if (ip.empty() || inet_pton(AF_INET, ip.c_str(), &a) != 1) {
    if (why)
      *why =
          ip.empty() ? "the VM reports no IP address yet" : "\"" + ip + "\" is not an IPv4 address";
    return false;
  }
  uint32_t v = ntohl(a.s_addr);
  if ((v & 0xffffff00u) == 0x0a000200u) {
    if (why)
      *why =
          "it reports " + ip + ", an address on QEMU's user-mode network that only the guest sees";
    return false;
  }
  if ((v >> 24) == 127 || (v & 0xffff0000u) == 0xa9fe0000u || v == 0) {
    if (why) *why = ip + " is a loopback or link-local address";
    return false;
  }
  return true;
}

StatusOr<std::string> ProbeAddress(const std::string& ip, int timeout_seconds) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  do {
    auto round = Clock::now();
    for (int port : {22, 80}) {
      if (TcpAnswers(ip, port, 700)) return "TCP port " + std::to_string(port);
    }
    if (IcmpAnswers(ip, 500)) return std::string("ICMP echo");
    auto spent = Clock::now() - round;
    if (spent < std::chrono::seconds(1))
      std::this_thread::sleep_for(std::chrono::seconds(1) - spent);
  } while (Clock::now() < deadline);
  return Status(Code::kTimeout, ip + " did not answer on TCP port 22 or 80 or to ping within " +
                                    std::to_string(timeout_seconds) + "s");
}

}  // namespace kumo::cli
