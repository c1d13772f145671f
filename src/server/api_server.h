// ApiServer: assembles Kumo's API server — store, watch cache, authentication, REST handlers,
// discovery, OpenAPI and the HTTPS transport — and owns their lifetimes.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace kumo::server {

struct ApiServerOptions {
  std::string data_dir = "/var/lib/kumo";
  std::string listen = "127.0.0.1:6443";  // HOST:PORT; port 0 picks a free one
  bool plain_http = false;                // serve HTTP instead of HTTPS (explicit opt-in only)
  std::vector<std::string> extra_sans;    // more names/IPs for the serving certificate
  size_t watch_history = 100000;          // events the watch cache keeps for watch resumption
  int64_t retain_revisions = 100000;      // store history kept by compaction
  bool durable = true;                    // fsync each commit (group commit shares the fsync)
  // Node failure: a node whose Lease is older than this is unreachable; its VMIs fail (and
  // restart elsewhere) this long after that.
  int node_monitor_grace_seconds = 40;
  int vm_eviction_seconds = 20;
  // A directory every node mounts (NFS, CephFS): when set, the StorageClass "shared" keeps
  // volumes there, so their VMs restart and migrate anywhere.
  std::string shared_storage_dir;
};

// Start() from one thread, then Stop() (or destruction). Request handling is multi-threaded.
class ApiServer {
 public:
  virtual ~ApiServer() = default;
  static StatusOr<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options);
  virtual int port() const = 0;
  // "https://127.0.0.1:6443"
  virtual std::string url() const = 0;
  // The admin kubeconfig written under the data dir.
  virtual std::string kubeconfig_path() const = 0;
  virtual void Stop() = 0;
};

}  // namespace kumo::server
