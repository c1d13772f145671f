#include "cli/server_command.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "cli/signals.h"
#include "common/log.h"
#include "server/api_server.h"

namespace kumo::cli {

CLI::App* AddServerCommand(CLI::App& app, ServerFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "server",
      "Run the API server (state in embedded SQLite under --data-dir).\n"
      "On first start it creates a CA, a serving certificate, an admin token and\n"
      "DATA_DIR/kubeconfig.yaml for kubectl. Example:\n"
      "  kumo server --data-dir /tmp/kumo --listen 127.0.0.1:6443");
  cmd->add_option("--data-dir", flags.data_dir, "Directory for state, certificates and kubeconfig")
      ->capture_default_str();
  cmd->add_option("--listen", flags.listen, "HOST:PORT to serve on (port 0 picks a free port)")
      ->capture_default_str();
  cmd->add_flag("--plain-http", flags.plain_http,
                "Serve plain HTTP instead of HTTPS (insecure; for debugging only)");
  cmd->add_option("--tls-san", flags.tls_sans,
                  "Extra DNS name or IP for the serving certificate (repeatable)");
  cmd->add_option("--node-monitor-grace-seconds", flags.node_monitor_grace_seconds,
                  "A node whose agent has not renewed its Lease for this long is unreachable")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  cmd->add_option("--vm-eviction-seconds", flags.vm_eviction_seconds,
                  "VMs on an unreachable node fail (and restart elsewhere) this long after it "
                  "became unreachable")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  cmd->add_option("--shared-storage-dir", flags.shared_storage_dir,
                  "A directory every node mounts at the same path (NFS, CephFS): the StorageClass "
                  "\"shared\" keeps volumes there, so their VMs restart and migrate anywhere")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--log-level", flags.log_level, "debug, info, warn or error")
      ->capture_default_str();
  cmd->add_flag("--unsafe-no-fsync", flags.no_fsync,
                "Do not fsync commits (a crash of the machine may lose acknowledged writes)");
  return cmd;
}

int RunServer(const ServerFlags& flags) {
  InitLogging(flags.log_level.c_str());
  sigset_t set = BlockStopSignals();

  server::ApiServerOptions opts;
  opts.data_dir = flags.data_dir;
  opts.listen = flags.listen;
  opts.plain_http = flags.plain_http;
  opts.extra_sans = flags.tls_sans;
  opts.durable = !flags.no_fsync;
  opts.node_monitor_grace_seconds = flags.node_monitor_grace_seconds;
  opts.vm_eviction_seconds = flags.vm_eviction_seconds;
  if (!flags.shared_storage_dir.empty()) {
    opts.shared_storage_dir =
        std::filesystem::absolute(flags.shared_storage_dir).lexically_normal().string();
    while (opts.shared_storage_dir.size() > 1 && opts.shared_storage_dir.ends_with('/')) {
      opts.shared_storage_dir.pop_back();
    }
  }
  auto server = server::ApiServer::Start(opts);
  if (!server.ok()) {
    std::cerr << "kumo server: " << server.status().message() << "\n";
    return 1;
  }
  int sig = WaitForStopSignal(set);
  spdlog::info("received signal {}, shutting down", sig);
  (*server)->Stop();
  return 0;
}

}  // namespace kumo::cli
