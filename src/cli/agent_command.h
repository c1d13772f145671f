// `kumo agent`: runs the node agent until SIGINT or SIGTERM (VMs keep running after it exits).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace kumo::cli {

struct AgentFlags {
  std::string kubeconfig;
  std::string server;  // overrides the kubeconfig's server URL
  std::string node_name;
  std::string node_ip;
  std::string data_dir = "/var/lib/kumo-agent";
  std::string accel = "auto";
  std::string listen = "0.0.0.0:10250";
  std::string advertise_address;
  int address_recheck_seconds = 300;
  std::string log_level = "info";
};

CLI::App* AddAgentCommand(CLI::App& app, AgentFlags& flags);
int RunAgent(const AgentFlags& flags);

}  // namespace kumo::cli
