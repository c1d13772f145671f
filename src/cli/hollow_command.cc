#include "cli/hollow_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "agent/hollow.h"
#include "api/quantity.h"
#include "cli/command.h"
#include "cli/signals.h"
#include "common/log.h"

namespace kumo::cli {

namespace {

struct HollowFlags {
  agent::HollowOptions options;
  std::string memory = "256Gi";
};

Status Run(HollowFlags& f) {
  KUMO_ASSIGN_OR_RETURN(double mem, api::ParseQuantity(f.memory));
  if (mem <= 0 || mem > 9e18) return BadRequest("--memory must be a positive quantity such as 256Gi");
  f.options.memory_bytes = static_cast<int64_t>(mem);
  sigset_t set = BlockStopSignals();
  KUMO_ASSIGN_OR_RETURN(std::unique_ptr<agent::HollowNodes> nodes, agent::HollowNodes::Start(f.options));
  std::cerr << f.options.count << " hollow nodes are Ready; Ctrl-C stops them\n";
  int sig = WaitForStopSignal(set);
  spdlog::info("received signal {}, stopping {} hollow nodes ({} VMIs running)", sig, f.options.count,
               nodes->running());
  nodes->Stop();
  return Status::Ok();
}

}  // namespace

void AddHollowCommand(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<HollowFlags>();
  CLI::App* cmd = app.add_subcommand(
      "hollow",
      "Simulate many nodes in one process (as Kubernetes' kubemark): each registers, renews its\n"
      "lease, watches its VMIs and reports them Running with their IPAM address, without QEMU.\n"
      "For measuring the control plane at scale; run on the server host (it issues the nodes'\n"
      "identities from the server's CA)");
  cmd->add_option("--nodes", f->options.count, "How many nodes to simulate")->required()->check(CLI::Range(1, 100000));
  cmd->add_option("--data-dir", f->options.server_data_dir, "The server's data dir (holds the CA)")
      ->capture_default_str();
  cmd->add_option("--server", f->options.server_url, "API server URL (default: the admin kubeconfig's)");
  cmd->add_option("--prefix", f->options.name_prefix, "Node name prefix")->capture_default_str();
  cmd->add_option("--first", f->options.first_index, "Number of the first node (several processes)")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  cmd->add_option("--cpus", f->options.cpus, "Allocatable CPUs per node")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--memory", f->memory, "Allocatable memory per node")->capture_default_str();
  cmd->add_option("--workers", f->options.workers, "Threads that register nodes and report VMIs")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  Examples(cmd,
           "  kumo hollow --nodes 2600 --data-dir /var/lib/kumo\n"
           "  kumo hollow --nodes 1300 --first 1300 --cpus 96 --memory 768Gi");
  OnRun(cmd, cli, [f] { return Run(*f); });
}

}  // namespace kumo::cli
