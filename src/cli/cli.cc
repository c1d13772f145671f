#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/agent_command.h"
#include "cli/image_command.h"
#include "cli/server_command.h"
#include "cli/up_command.h"

namespace kumo::cli {

int Run(int argc, char** argv) {
  CLI::App app{"Kumo: a multi-tenant IaaS control plane that speaks the KubeVirt API.\n"
               "Examples:\n"
               "  kumo up                                       # all-in-one: server, agent, a demo VM\n"
               "  kumo server --data-dir /var/lib/kumo          # API server on https://127.0.0.1:6443\n"
               "  kumo agent --kubeconfig /var/lib/kumo/kubeconfig.yaml   # a node\n"
               "  kubectl --kubeconfig /var/lib/kumo/kubeconfig.yaml get vms -A"};
  app.require_subcommand(1);
  ServerFlags server_flags;
  CLI::App* server = AddServerCommand(app, server_flags);
  AgentFlags agent_flags;
  CLI::App* agent = AddAgentCommand(app, agent_flags);
  UpFlags up_flags;
  CLI::App* up = AddUpCommand(app, up_flags);
  ImageFlags image_flags;
  CLI::App* image_build = AddImageCommand(app, image_flags);
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
  if (agent->parsed()) return RunAgent(agent_flags);
  if (up->parsed()) return RunUp(up_flags);
  if (image_build->parsed()) return RunImageBuild(image_flags);
  return 1;
}

}  // namespace kumo::cli
