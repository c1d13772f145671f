#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/agent_command.h"
#include "cli/apply_command.h"
#include "cli/catalog_command.h"
#include "cli/command.h"
#include "cli/completion.h"
#include "cli/hollow_command.h"
#include "cli/image_command.h"
#include "cli/ip_command.h"
#include "cli/volume_command.h"
#include "cli/lab_command.h"
#include "cli/node_credentials_command.h"
#include "cli/server_command.h"
#include "cli/tenant_command.h"
#include "cli/up_command.h"
#include "cli/vm_command.h"

namespace kumo::cli {

int Run(int argc, char** argv) {
  CLI::App app{"Kumo: a multi-tenant IaaS control plane that speaks the KubeVirt API.\n"
               "Examples:\n"
               "  kumo up                                       # all-in-one: server, agent, a demo VM\n"
               "  kumo server --data-dir /var/lib/kumo          # API server on https://127.0.0.1:6443\n"
               "  kumo agent --kubeconfig /var/lib/kumo/kubeconfig.yaml   # a node\n"
               "  kubectl --kubeconfig /var/lib/kumo/kubeconfig.yaml get vms -A\n"
               "  kumo vm create web1 --image tiny --wait         # a VM, its IP printed\n"
               "  kumo vm list"};
  app.require_subcommand(1);
  Cli cli;
  AddGlobalFlags(app, cli.flags);  // first: subcommands inherit fallthrough
  ServerFlags server_flags;
  CLI::App* server = AddServerCommand(app, server_flags);
  AgentFlags agent_flags;
  CLI::App* agent = AddAgentCommand(app, agent_flags);
  UpFlags up_flags;
  CLI::App* up = AddUpCommand(app, up_flags);
  LabFlags lab_flags;
  AddLabCommand(app, lab_flags);
  AddVmCommands(app, cli);
  AddIpCommands(app, cli);
  AddVolumeCommands(app, cli);
  AddImageCommands(app, cli);
  AddFlavorCommands(app, cli);
  AddNodeCommands(app, cli);
  AddTemplateCommands(app, cli);
  AddApplyCommand(app, cli);
  AddTenantCommands(app, cli);
  AddNodeCredentialsCommand(app, cli);
  AddHollowCommand(app, cli);
  AddCompletionCommand(app, cli);
  bool show_version = false;
  CLI::App* version = app.add_subcommand("version", "Print Kumo's version");
  version->callback([&] { show_version = true; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "Error: " << e.what()
              << "\nRun 'kumo --help' or 'kumo COMMAND --help' for usage.\n";
    return 2;
  }
  if (show_version) {
    std::cout << "kumo 0.1.0 (Kubernetes API v1.32, KubeVirt kubevirt.io/v1)\n";
    return 0;
  }
  if (server->parsed()) return RunServer(server_flags);
  if (agent->parsed()) return RunAgent(agent_flags);
  if (up->parsed()) return RunUp(up_flags);
  if (int rc = RunLab(app, lab_flags); rc >= 0) return rc;
  if (cli.action) return ReportError(cli.action(), cli.command_path);
  return 1;
}

}  // namespace kumo::cli
