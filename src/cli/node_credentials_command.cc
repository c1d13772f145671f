#include "cli/node_credentials_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "client/kubeconfig.h"
#include "client/node_identity.h"
#include "common/file_util.h"

namespace kumo::cli {

namespace {

struct NodeCredentialsFlags {
  std::string node;
  std::string data_dir = "/var/lib/kumo";
  std::string out;
  std::string server;
};

Status Run(const NodeCredentialsFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::Kubeconfig kc,
                        client::IssueNodeKubeconfig(f.data_dir, f.node, f.server));
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(f.out, client::RenderKubeconfig(kc), 0600));
  std::cout << "kubeconfig for node \"" << f.node << "\" (user system:node:" << f.node
            << ") written to " << f.out << "\n";
  std::cerr << "Start the agent with: kumo agent --kubeconfig " << f.out << " --node-name "
            << f.node << "\n";
  return Status::Ok();
}

}  // namespace

void AddNodeCredentialsCommand(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<NodeCredentialsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "node-kubeconfig",
      "Issue a node agent its own identity: a client certificate for system:node:NAME, with which\n"
      "it may change only its own Node and Lease and the VMIs bound to it (run on the server "
      "host)");
  cmd->add_option("name", f->node, "Node name (the agent's --node-name)")->required();
  cmd->add_option("--data-dir", f->data_dir, "The server's data dir (holds the CA)")
      ->capture_default_str();
  cmd->add_option("--out", f->out, "Where to write the kubeconfig")->required();
  cmd->add_option("--server", f->server, "API server URL (default: the admin kubeconfig's)");
  Examples(cmd,
           "  kumo node-kubeconfig node1 --data-dir /var/lib/kumo --out node1.kubeconfig\n"
           "  kumo agent --kubeconfig node1.kubeconfig --node-name node1");
  OnRun(cmd, cli, [f] { return Run(*f); });
}

}  // namespace kumo::cli
