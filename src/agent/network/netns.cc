#include "agent/network/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kumo::agent::net {

std::string NetnsPath(const std::string& name) { return "/run/netns/" + name; }

Status EnterNetns(const std::string& name) {
  if (name.empty()) return Status::Ok();
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return BadRequest("invalid network namespace name '" + name + "'");
  }
  int fd = open(NetnsPath(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return NotFound("network namespace '" + name + "' does not exist");
    return Internal("open " + NetnsPath(name) + ": " + strerror(e));
  }
  int rc = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (rc != 0) {
    return Internal("setns into network namespace '" + name + "': " + strerror(e) +
                    " (needs CAP_SYS_ADMIN)");
  }
  return Status::Ok();
}

}  // namespace kumo::agent::net
