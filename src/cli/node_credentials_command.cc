#include "cli/node_credentials_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "client/kubeconfig.h"
#include "common/file_util.h"
#include "http/pki.h"

namespace kumo::cli {

namespace {

struct NodeCredentialsFlags {
  std::string node;
  std::string data_dir = "/var/lib/kumo";
  std::string out;
  std::string server;
};

Status Run(const NodeCredentialsFlags& f) {
  std::string pki_dir = f.data_dir + "/pki";
  pki::PkiFiles files{pki_dir + "/ca.crt", pki_dir + "/ca.key", "", ""};
  StatusOr<std::string> ca = ReadFileToString(files.ca_cert);
  if (!ca.ok()) {
    return WithHint(
        Status(ca.status().code(), "no CA at " + files.ca_cert + ": " + ca.status().message()),
        "run this on the server host and point --data-dir at the server's data dir");
  }
  std::string server = f.server;
  if (server.empty()) {
    StatusOr<client::Kubeconfig> admin =
        client::LoadKubeconfig(f.data_dir + "/kubeconfig.yaml", "");
    if (!admin.ok()) return WithHint(admin.status(), "pass --server https://HOST:PORT");
    server = admin->server;
  }
  KUMO_ASSIGN_OR_RETURN(auto cert,
                        pki::IssueClientCert(files, "system:node:" + f.node, {"system:nodes"}));
  client::Kubeconfig kc;
  kc.server = server;
  kc.ca_pem = *ca;
  kc.client_cert_pem = cert.first;
  kc.client_key_pem = cert.second;
  kc.context_name = "kumo-node-" + f.node;
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
