#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/server_command.h"

namespace kumo::cli {

int Run(int argc, char** argv) {
  CLI::App app{"Kumo: a multi-tenant IaaS control plane that speaks the KubeVirt API.\n"
               "Examples:\n"
               "  kumo server --data-dir /var/lib/kumo          # API server on https://127.0.0.1:6443\n"
               "  kubectl --kubeconfig /var/lib/kumo/kubeconfig.yaml get vms -A"};
  app.require_subcommand(1);
  ServerFlags server_flags;
  CLI::App* server = AddServerCommand(app, server_flags);
  bool show_version = false;
  CLI::App* version = app.add_subcommand("version", "Print Kumo's version");
  version->callback([&] { show_version = true; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::cout << "kumo 0.1.0 (Kubernetes API v1.32, KubeVirt kubevirt.io/v1)\n";
    return 0;
  }
  if (server->parsed()) return RunServer(server_flags);
  return 1;
}

}  // namespace kumo::cli
