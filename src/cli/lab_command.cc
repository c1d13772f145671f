#include "cli/lab_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "common/log.h"
#include "lab/lab.h"

namespace kumo::cli {

namespace {
std::string DefaultDir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.kumo-lab";
}
}  // namespace

void AddLabCommand(CLI::App& app, LabFlags& flags) {
  CLI::App* lab = app.add_subcommand(
      "lab",
      "A multi-node Kumo on this machine: nodes, a top-of-rack router (BIRD) and an outside host,\n"
      "each in its own network namespace. Examples:\n"
      "  kumo lab up --nodes 2\n"
      "  kumo lab exec outside -- wget -qO- http://10.100.0.5/\n"
      "  kumo lab down");
  lab->require_subcommand(1);
  auto dir_opt = [&](CLI::App* c) {
    c->add_option("--data-dir", flags.data_dir, "The lab's state directory (default ~/.kumo-lab)");
  };
  CLI::App* up = lab->add_subcommand("up", "Build the lab and start the server, agents and routers");
  up->add_option("--nodes", flags.nodes, "Number of nodes")->check(CLI::Range(1, 20))->capture_default_str();
  up->add_option("--id", flags.id, "Lab number 0-9, so two labs can coexist")->check(CLI::Range(0, 9));
  dir_opt(up);
  CLI::App* down = lab->add_subcommand("down", "Stop everything and remove the lab (idempotent)");
  dir_opt(down);
  CLI::App* status = lab->add_subcommand("status", "Show the lab's processes, BGP sessions and routes");
  dir_opt(status);
  CLI::App* fail = lab->add_subcommand(
      "fail", "Simulate a node failure: kill its agent, BIRD and VMs (they restart elsewhere)");
  fail->add_option("node", flags.host, "node1..nodeN")->required();
  dir_opt(fail);
  CLI::App* recover = lab->add_subcommand("recover", "Start a failed node's agent again");
  recover->add_option("node", flags.host, "node1..nodeN")->required();
  dir_opt(recover);
  CLI::App* exec = lab->add_subcommand("exec", "Run a command on a lab host: node1..nodeN, tor, outside");
  exec->add_option("host", flags.host, "node1..nodeN, tor or outside")->required();
  exec->add_option("command", flags.command, "The command (after --)")->required();
  dir_opt(exec);
}

int RunLab(CLI::App& app, const LabFlags& flags) {
  CLI::App* lab = app.get_subcommand("lab");
  if (!lab->parsed()) return -1;
  InitLogging("warn");
  std::string dir = flags.data_dir.empty() ? DefaultDir() : flags.data_dir;
  if (lab->get_subcommand("up")->parsed()) {
    lab::LabOptions o;
    o.nodes = flags.nodes;
    o.id = flags.id;
    o.data_dir = dir;
    std::cerr << "Building a lab with " << flags.nodes << " nodes in " << dir << "\n";
    Status st = lab::Up(o);
    if (!st.ok()) {
      std::cerr << "kumo lab up: " << st.message() << "\n";
      if (st.code() != Code::kConflict) {
        std::cerr << "cleaning up the partial lab...\n";
        lab::Down(dir);
      }
      return 1;
    }
    std::cout << "Lab ready.\n  export KUBECONFIG=" << lab::KubeconfigPath(dir) << "\n"
              << "  kubectl get nodes\n  kumo lab status --data-dir " << dir << "\n"
              << "  kumo lab exec outside --data-dir " << dir << " -- ping -c1 <VM IP>\n";
    return 0;
  }
  if (lab->get_subcommand("down")->parsed()) {
    Status st = lab::Down(dir);
    if (!st.ok()) {
      std::cerr << "kumo lab down: " << st.message() << "\n";
      return 1;
    }
    std::cout << "lab removed\n";
    return 0;
  }
  if (lab->get_subcommand("status")->parsed()) {
    auto report = lab::StatusReport(dir);
    if (!report.ok()) {
      std::cerr << "kumo lab status: no lab in " << dir << " (" << report.status().message() << ")\n";
      return 1;
    }
    std::cout << *report;
    return 0;
  }
  for (const char* verb : {"fail", "recover"}) {
    if (!lab->get_subcommand(verb)->parsed()) continue;
    Status st = std::string(verb) == "fail" ? lab::FailNode(dir, flags.host)
                                            : lab::RecoverNode(dir, flags.host);
    if (!st.ok()) {
      std::cerr << "kumo lab " << verb << ": " << st.message() << "\n";
      return 1;
    }
    return 0;
  }
  auto ns = lab::NamespaceOf(dir, flags.host);
  if (!ns.ok()) {
    std::cerr << "kumo lab exec: " << ns.status().message() << "\n";
    return 2;
  }
  std::vector<std::string> argv = {"ip", "netns", "exec", *ns};
  argv.insert(argv.end(), flags.command.begin(), flags.command.end());
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  execvp("ip", args.data());
  std::cerr << "kumo lab exec: cannot run ip: " << strerror(errno) << "\n";
  return 1;
}

}  // namespace kumo::cli
