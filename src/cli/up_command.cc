#include "cli/up_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "client/connect.h"
#include "client/node_identity.h"
#include "agent/image/image_registry.h"
#include "cli/signals.h"
#include "common/file_util.h"
#include "common/log.h"
#include "server/api_server.h"

namespace kumo::cli {

namespace {

constexpr char kDemoVm[] = R"({
  "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
  "metadata": {"name": "demo", "namespace": "default", "labels": {"app": "demo"}},
  "spec": {
    "runStrategy": "Always",
    "instancetype": {"kind": "VirtualMachineClusterInstancetype", "name": "k1.tiny"},
    "template": {"spec": {
      "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                             "interfaces": [{"name": "default", "masquerade": {}}]}},
      "networks": [{"name": "default", "pod": {}}],
      "volumes": [{"name": "root", "containerDisk": {"image": "tiny"}}]}}}})";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CLI::App* AddUpCommand(CLI::App& app, UpFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "up",
      "Run Kumo all-in-one on this host: API server + node agent, the tiny image, and a demo VM.\n"
      "Example:\n"
      "  kumo up --data-dir ~/.kumo");
  cmd->add_option("--data-dir", flags.data_dir, "State directory (default ~/.kumo)");
  cmd->add_option("--listen", flags.listen, "API server address")->capture_default_str();
  cmd->add_option("--accel", flags.accel, "auto, kvm or tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  cmd->add_flag("--no-demo", flags.no_demo, "Do not create the demo VM");
  cmd->add_flag("--keep-vms", flags.keep_vms, "Leave VMs running when Kumo stops");
  cmd->add_flag("--exit-when-ready", flags.exit_when_ready,
                "Stop once the demo VM has booted (for scripts)");
  return cmd;
}

int RunUp(const UpFlags& flags) {
  InitLogging("warn");
  sigset_t set = BlockStopSignals();
  std::string dir = flags.data_dir;
  if (dir.empty()) {
    const char* home = std::getenv("HOME");
    dir = std::string(home ? home : "/root") + "/.kumo";
  }
  auto fail = [](const std::string& what, const Status& st) {
    std::cerr << "kumo up: " << what << ": " << st.message() << "\n";
    return 1;
  };

  std::cout << "Starting the API server (" << dir << "/server)...\n";
  server::ApiServerOptions so;
  so.data_dir = dir + "/server";
  so.listen = flags.listen;
  auto server = server::ApiServer::Start(so);
  if (!server.ok()) return fail("cannot start the API server", server.status());
  auto client = client::ClientFromKubeconfig((*server)->kubeconfig_path());
  if (!client.ok()) return fail("cannot connect to the API server", client.status());

  std::cout << "Building the tiny image...\n";
  Status built = agent::BuildAndRegisterTiny(**client, dir + "/images");
  if (!built.ok()) return fail("cannot build the tiny image", built);

  std::cout << "Starting the node agent...\n";
  agent::RuntimeOptions ro;
  ro.state_dir = dir + "/agent";
  ro.accel = flags.accel;
  auto runtime = agent::NewQemuRuntime(ro);
  if (!runtime.ok()) return fail("cannot start the VM runtime", runtime.status());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  // The agent runs with its own node identity (system:node:HOST), not the admin's.
  auto node_kc = client::IssueNodeKubeconfig(dir + "/server", host, (*server)->url());
  auto agent_config = node_kc.ok() ? client::RestConfigFromKubeconfig(*node_kc) : node_kc.status();
  auto agent_client = agent_config.ok() ? client::RestClient::New(*agent_config)
                                        : agent_config.status();
  if (!agent_client.ok()) return fail("cannot connect the agent", agent_client.status());
  agent::AgentOptions ao;
  ao.data_dir = dir + "/agent";
  ao.ca_pem = agent_config->ca_pem;
  ao.listen_host = "127.0.0.1";  // all-in-one: the API server is on this host
  ao.listen_port = 0;
  ao.accel = flags.accel;
  ao.node_name = host;
  auto agent = agent::Agent::Start(ao, std::move(*agent_client), std::move(*runtime));
  if (!agent.ok()) return fail("cannot start the agent", agent.status());

  std::string console_dir = dir + "/agent/vms/default_demo";
  std::string ip;
  if (!flags.no_demo) {
    std::cout << "Booting the demo VM default/demo...\n";
    auto created = (*client)->Create(client::ResourcePath("kubevirt.io", "v1", "virtualmachines", "default"),
                                     *ParseJson(kDemoVm));
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      return fail("cannot create the demo VM", created.status());
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    bool booted = false;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string log = ReadAll(console_dir + "/console.log");
      size_t at = log.find("KUMO-BOOT-OK ip=");
      if (at != std::string::npos) {
        size_t end = log.find_first_of("\r\n", at);
        ip = log.substr(at + 16, end == std::string::npos ? std::string::npos : end - at - 16);
        booted = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!booted) {
      auto vm = (*client)->Get(client::ResourcePath("kubevirt.io", "v1", "virtualmachines", "default", "demo"));
      std::cerr << "kumo up: the demo VM did not boot within 5 minutes (status: "
                << (vm.ok() ? GetString(*vm, {"status", "printableStatus"}) : vm.status().message())
                << "); see `kubectl describe vm demo`\n";
    }
  }

  std::string kubeconfig = (*server)->kubeconfig_path();
  std::cout << "\nKumo is up.\n"
            << "  API server:  " << (*server)->url() << "\n"
            << "  kubeconfig:  " << kubeconfig << "\n";
  if (!ip.empty()) {
    std::cout << "  Demo VM default/demo is running; its console said KUMO-BOOT-OK (guest IP " << ip << ").\n";
  }
  std::cout << "\nTry:\n"
            << "  export KUBECONFIG=" << kubeconfig << "\n"
            << "  kubectl get vms,vmis\n"
            << "  kubectl get vmcis                 # flavors\n";
  std::string self = SelfExecutable();
  std::cout << "  " << self << " vm list\n";
  if (!flags.no_demo) {
    std::cout << "  " << self << " vm log demo          # the serial console log\n"
              << "  " << self << " vm console demo      # interactive console (Ctrl-] detaches)\n"
              << "  " << self << " vm stop demo\n";
  }
  std::cout << "Press Ctrl-C to stop Kumo." << std::endl;

  if (!flags.exit_when_ready) WaitForStopSignal(set);
  std::cout << "Stopping Kumo...\n";
  (*agent)->Stop();
  if (!flags.keep_vms) {
    agent::RuntimeOptions cleanup = ro;
    cleanup.accel = "tcg";  // no probe needed to stop VMs
    if (auto rt = agent::NewQemuRuntime(cleanup); rt.ok()) {
      for (const auto& ref : (*rt)->List()) {
        (*rt)->Stop(ref.ns, ref.name, 10);
        (*rt)->Cleanup(ref.ns, ref.name);
      }
    }
  }
  (*server)->Stop();
  return 0;
}

}  // namespace kumo::cli
