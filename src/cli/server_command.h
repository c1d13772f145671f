// `kumo server`: runs the API server until SIGINT or SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kumo::cli {

struct ServerFlags {
  std::string data_dir = "/var/lib/kumo";
  std::string listen = "127.0.0.1:6443";
  bool plain_http = false;
  std::vector<std::string> tls_sans;
  std::string log_level = "info";
  bool no_fsync = false;
  int node_monitor_grace_seconds = 40;
  int vm_eviction_seconds = 20;
  std::string shared_storage_dir;  // "" = no "shared" StorageClass
};

CLI::App* AddServerCommand(CLI::App& app, ServerFlags& flags);
int RunServer(const ServerFlags& flags);

}  // namespace kumo::cli
