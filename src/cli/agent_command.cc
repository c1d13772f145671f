#include "cli/agent_command.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/agent.h"
#include "client/connect.h"
#include "http/http_server.h"
#include "cli/signals.h"
#include "common/log.h"

namespace kumo::cli {

CLI::App* AddAgentCommand(CLI::App& app, AgentFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "agent",
      "Run the node agent: register this host as a Node and run the VMs bound to it.\n"
      "Example:\n"
      "  kumo agent --kubeconfig /var/lib/kumo/kubeconfig.yaml --node-name node1");
  cmd->add_option("--kubeconfig", flags.kubeconfig, "Kubeconfig with the API server's address and credentials")
      ->required();
  cmd->add_option("--server", flags.server, "API server URL (overrides the kubeconfig's)");
  cmd->add_option("--node-name", flags.node_name, "Name of this node (default: the host name)");
  cmd->add_option("--node-ip", flags.node_ip,
                  "This node's address: its InternalIP and BGP router id (BGP needs it)");
  cmd->add_option("--data-dir", flags.data_dir, "Directory for VM disks, sockets and logs")
      ->capture_default_str();
  cmd->add_option("--accel", flags.accel, "auto (probe KVM, fall back to TCG), kvm or tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  cmd->add_option("--listen", flags.listen,
                  "HOST:PORT of the agent's HTTPS endpoint, which the API server calls for VM "
                  "consoles (port 0 picks a free port)")
      ->capture_default_str();
  cmd->add_option("--advertise-address", flags.advertise_address,
                  "Address the API server uses to reach this agent (default: --node-ip, else "
                  "127.0.0.1)");
  cmd->add_option("--address-recheck-seconds", flags.address_recheck_seconds,
                  "How often a running VM's address is checked against its IPAllocation")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--log-level", flags.log_level, "debug, info, warn or error")->capture_default_str();
  return cmd;
}

int RunAgent(const AgentFlags& flags) {
  InitLogging(flags.log_level.c_str());
  sigset_t set = BlockStopSignals();
  auto config = client::RestConfigFromFile(flags.kubeconfig, flags.server);
  auto listen = http::ParseListenAddress(flags.listen);
  auto client = config.ok() ? client::RestClient::New(*config) : config.status();
  for (const Status& st : {listen.status(), client.status()}) {
    if (!st.ok()) {
      std::cerr << "kumo agent: " << st.message() << "\n";
      return 1;
    }
  }
  agent::RuntimeOptions ro;
  ro.state_dir = flags.data_dir;
  ro.accel = flags.accel;
  auto runtime = agent::NewQemuRuntime(ro);
  if (!runtime.ok()) {
    std::cerr << "kumo agent: " << runtime.status().message() << "\n";
    return 1;
  }
  agent::AgentOptions ao;
  ao.node_name = flags.node_name;
  ao.node_ip = flags.node_ip;
  ao.data_dir = flags.data_dir;
  ao.accel = flags.accel;
  ao.listen_host = listen->first;
  ao.listen_port = listen->second;
  ao.advertise_host = flags.advertise_address;
  ao.ca_pem = config->ca_pem;
  ao.address_recheck_seconds = flags.address_recheck_seconds;
  auto agent = agent::Agent::Start(ao, std::move(*client), std::move(*runtime));
  if (!agent.ok()) {
    std::cerr << "kumo agent: " << agent.status().message() << "\n";
    return 1;
  }
  int sig = WaitForStopSignal(set);
  spdlog::info("received signal {}, stopping the agent (VMs keep running)", sig);
  (*agent)->Stop();
  return 0;
}

}  // namespace kumo::cli
