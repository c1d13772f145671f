// The `kumo server` under test, run as a child process on a free loopback port with a fresh
// temporary data dir, and stopped (by pid) and cleaned up when this object goes away.
#pragma once

#include <sys/types.h>

#include <string>

#include "client/kubeconfig.h"
#include "common/status.h"

namespace kumo::bench {

// Owned by main(); one thread. Also arranges for the child and the temp dir to go away when
// the benchmark is interrupted (SIGINT/SIGTERM) or dies.
class KumoProcess {
 public:
  KumoProcess() = default;
  ~KumoProcess() { Stop(); }
  KumoProcess(const KumoProcess&) = delete;
  KumoProcess& operator=(const KumoProcess&) = delete;

  // Makes the temp dir, starts `binary server --data-dir DIR/kumo --listen 127.0.0.1:0` with
  // fsync on (the default), and waits up to `wait_seconds` for its kubeconfig.
  Status Start(const std::string& binary, int wait_seconds = 60);
  // SIGTERM, then SIGKILL after 15 s; removes the temp dir. Safe to call twice.
  void Stop();

  const client::Kubeconfig& kubeconfig() const { return kubeconfig_; }
  // A scratch directory on the same file system as the server's database.
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

 private:
  std::string LogTail() const;

  std::string dir_;
  pid_t pid_ = -1;
  client::Kubeconfig kubeconfig_;
};

}  // namespace kumo::bench
