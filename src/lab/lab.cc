#include "lab/lab.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include "agent/network/bird_process.h"
#include "agent/network/ip_tool.h"
#include "agent/runtime/subprocess.h"
#include "agent/image/image_registry.h"
#include "client/connect.h"
#include "client/node_identity.h"
#include "common/file_util.h"
#include "common/json.h"

namespace kumo::lab {

namespace fs = std::filesystem;
using agent::RunProcess;
using agent::net::RunIp;

namespace {

constexpr int kTorAs = 65000;
constexpr int kNodeAs = 64512;

std::string StatePath(const std::string& dir) { return dir + "/lab.json"; }
std::string Ns(int id, const std::string& host) { return "kumo-lab" + std::to_string(id) + "-" + host; }
std::string Bridge(int id) { return "kl" + std::to_string(id) + "br"; }
std::string HostVeth(int id, int node) { return "kl" + std::to_string(id) + "h" + std::to_string(node); }
// The outside host's leg on the management bridge (it is a user's workstation: it reaches the
// API server there, and the VMs through the top of rack).
std::string OutsideVeth(int id) { return "kl" + std::to_string(id) + "out"; }
std::string MgmtOutsideIp(int id) { return "172.30." + std::to_string(id) + ".2"; }
std::string MgmtHostIp(int id) { return "172.30." + std::to_string(id) + ".1"; }
std::string MgmtNodeIp(int id, int node) { return "172.30." + std::to_string(id) + "." + std::to_string(10 + node); }
std::string TorIp(int node) { return "10.250." + std::to_string(node) + ".1"; }
std::string NodeIp(int node) { return "10.250." + std::to_string(node) + ".2"; }

void Progress(const std::string& line) { std::cerr << "  " << line << std::endl; }

// Starts argv detached (own session, output to log_path) and returns its pid.
StatusOr<int> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork failed: ") + strerror(errno));
  if (pid == 0) {
    setsid();
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (int i = 3; i < 1024; ++i) close(i);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return static_cast<int>(pid);
}

bool Alive(int pid) { return pid > 0 && kill(pid, 0) == 0; }

void StopPid(int pid) {
  if (!Alive(pid)) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100 && Alive(pid); ++i) {
    waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (Alive(pid)) kill(pid, SIGKILL);
}

Status Ip(const std::vector<std::string>& args, const std::string& ns = "") {
  return RunIp(args, ns).status();
}

// Starts the agent of node `i` in its namespace; returns its pid.
StatusOr<int> StartAgent(const std::string& data_dir, int id, int i, const std::string& kumo) {
  const std::string name = "node" + std::to_string(i);
  const std::string dir = data_dir + "/" + name;
  return SpawnDaemon({"ip", "netns", "exec", Ns(id, name), kumo, "agent", "--kubeconfig",
                      dir + "/kubeconfig.yaml", "--node-name", name, "--node-ip", NodeIp(i),
                      "--data-dir", dir, "--accel", "tcg", "--listen", MgmtNodeIp(id, i) + ":10250",
                      "--advertise-address", MgmtNodeIp(id, i), "--address-recheck-seconds", "10"},
                     dir + "/agent.log");
}

// Kills QEMU and BIRD processes whose command line mentions `fragment` (the lab's data dir).
void KillByCmdline(const std::string& fragment) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmd = ReadFileToString(entry.path().string() + "/cmdline");
    if (!cmd.ok() || cmd->find(fragment) == std::string::npos) continue;
    std::string exe = cmd->substr(0, cmd->find('\0'));
    if (exe.find("qemu-system") == std::string::npos && exe.find("bird") == std::string::npos) continue;
    int pid = std::stoi(name);
    if (pid != getpid()) kill(pid, SIGKILL);
  }
}

}  // namespace

std::string KubeconfigPath(const std::string& data_dir) { return data_dir + "/server/kubeconfig.yaml"; }

StatusOr<std::string> NamespaceOf(const std::string& data_dir, const std::string& host) {
  KUMO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(StatePath(data_dir)));
  KUMO_ASSIGN_OR_RETURN(json::value state, ParseJson(text));
  int id = static_cast<int>(state.at("id").as_int64());
  int nodes = static_cast<int>(state.at("nodes").as_int64());
  if (host == "tor" || host == "outside") return Ns(id, host);
  for (int i = 1; i <= nodes; ++i) {
    if (host == "node" + std::to_string(i)) return Ns(id, host);
  }
  return NotFound("no host \"" + host + "\" in this lab; hosts are node1..node" + std::to_string(nodes) +
                  ", tor and outside");
}

Status Up(const LabOptions& o) {
  if (o.nodes < 1 || o.nodes > 20) return BadRequest("--nodes must be from 1 to 20");
  if (o.id < 0 || o.id > 9) return BadRequest("--id must be from 0 to 9");
  if (fs::exists(StatePath(o.data_dir))) {
    return Conflict("a lab is already up in " + o.data_dir + "; run `kumo lab down --data-dir " +
                    o.data_dir + "` first");
  }
  std::error_code ec;
  fs::create_directories(o.data_dir, ec);
  std::string kumo = o.kumo_binary.empty() ? SelfExecutable() : o.kumo_binary;
  json::object state{{"id", o.id}, {"nodes", o.nodes}, {"pool", o.pool_cidr}, {"pids", json::object{}}};
  auto save = [&] { return WriteFileAtomic(StatePath(o.data_dir), json::serialize(state), 0644); };
  KUMO_RETURN_IF_ERROR(save());
  auto record_pid = [&](const std::string& what, int pid) {
    state["pids"].as_object()[what] = pid;
    return save();
  };

  Progress("creating namespaces and links");
  std::vector<std::string> hosts = {"tor", "outside"};
  for (int i = 1; i <= o.nodes; ++i) hosts.push_back("node" + std::to_string(i));
  for (const auto& h : hosts) {
    KUMO_RETURN_IF_ERROR(Ip({"netns", "add", Ns(o.id, h)}));
    KUMO_RETURN_IF_ERROR(Ip({"link", "set", "lo", "up"}, Ns(o.id, h)));
  }
  std::string tor = Ns(o.id, "tor"), outside = Ns(o.id, "outside");
  // Management bridge in the host namespace: the API server listens on it.
  KUMO_RETURN_IF_ERROR(Ip({"link", "add", Bridge(o.id), "type", "bridge"}));
  KUMO_RETURN_IF_ERROR(Ip({"addr", "add", MgmtHostIp(o.id) + "/24", "dev", Bridge(o.id)}));
  KUMO_RETURN_IF_ERROR(Ip({"link", "set", Bridge(o.id), "up"}));
  // The host never forwards pool addresses anywhere: it has no route to them but this one.
  KUMO_RETURN_IF_ERROR(agent::net::EnsureUnreachableRoute(o.pool_cidr));
  // Outside host behind the top of rack.
  KUMO_RETURN_IF_ERROR(Ip({"link", "add", "out", "netns", tor, "type", "veth", "peer", "name", "eth0", "netns", outside}));
  KUMO_RETURN_IF_ERROR(Ip({"addr", "add", "10.250.0.1/30", "dev", "out"}, tor));
  KUMO_RETURN_IF_ERROR(Ip({"link", "set", "out", "up"}, tor));
  KUMO_RETURN_IF_ERROR(Ip({"addr", "add", "10.250.0.2/30", "dev", "eth0"}, outside));
  KUMO_RETURN_IF_ERROR(Ip({"link", "set", "eth0", "up"}, outside));
  KUMO_RETURN_IF_ERROR(Ip({"route", "add", "default", "via", "10.250.0.1"}, outside));
  KUMO_RETURN_IF_ERROR(Ip({"link", "add", OutsideVeth(o.id), "type", "veth", "peer", "name", "mgmt", "netns", outside}));
  KUMO_RETURN_IF_ERROR(Ip({"link", "set", OutsideVeth(o.id), "master", Bridge(o.id), "up"}));
  KUMO_RETURN_IF_ERROR(Ip({"addr", "add", MgmtOutsideIp(o.id) + "/24", "dev", "mgmt"}, outside));
  KUMO_RETURN_IF_ERROR(Ip({"link", "set", "mgmt", "up"}, outside));
  KUMO_RETURN_IF_ERROR(agent::net::EnableIpForwarding(tor));
  KUMO_RETURN_IF_ERROR(agent::net::EnsureUnreachableRoute(o.pool_cidr, tor));
  for (int i = 1; i <= o.nodes; ++i) {
    std::string node = Ns(o.id, "node" + std::to_string(i));
    std::string n = "n" + std::to_string(i);
    KUMO_RETURN_IF_ERROR(Ip({"link", "add", n, "netns", tor, "type", "veth", "peer", "name", "uplink", "netns", node}));
    KUMO_RETURN_IF_ERROR(Ip({"addr", "add", TorIp(i) + "/30", "dev", n}, tor));
    KUMO_RETURN_IF_ERROR(Ip({"link", "set", n, "up"}, tor));
    KUMO_RETURN_IF_ERROR(Ip({"addr", "add", NodeIp(i) + "/30", "dev", "uplink"}, node));
    KUMO_RETURN_IF_ERROR(Ip({"link", "set", "uplink", "up"}, node));
    // The default route also covers 169.254.1.1, which proxy ARP needs.
    KUMO_RETURN_IF_ERROR(Ip({"route", "add", "default", "via", TorIp(i)}, node));
    KUMO_RETURN_IF_ERROR(Ip({"link", "add", HostVeth(o.id, i), "type", "veth", "peer", "name", "eth0", "netns", node}));
    KUMO_RETURN_IF_ERROR(Ip({"link", "set", HostVeth(o.id, i), "master", Bridge(o.id), "up"}));
    KUMO_RETURN_IF_ERROR(Ip({"addr", "add", MgmtNodeIp(o.id, i) + "/24", "dev", "eth0"}, node));
    KUMO_RETURN_IF_ERROR(Ip({"link", "set", "eth0", "up"}, node));
  }

  Progress("starting BIRD on the top of rack (AS " + std::to_string(kTorAs) + ")");
  agent::net::BirdConfig tor_cfg;
  tor_cfg.router_id = "10.250.0.1";
  tor_cfg.as_number = kTorAs;
  tor_cfg.pools = {o.pool_cidr};
  for (int i = 1; i <= o.nodes; ++i) {
    agent::net::BgpPeer p;
    p.address = NodeIp(i);
    p.as_number = kNodeAs;
    p.name = "node" + std::to_string(i);
    tor_cfg.peers.push_back(p);
  }
  agent::net::BirdProcessOptions bo;
  bo.state_dir = o.data_dir + "/tor";
  bo.netns = tor;
  bo.stop_on_destroy = false;
  agent::net::BirdProcess tor_bird(bo);
  KUMO_RETURN_IF_ERROR(tor_bird.Apply(tor_cfg));
  KUMO_RETURN_IF_ERROR(record_pid("tor-bird", tor_bird.pid()));

  Progress("starting the API server on " + MgmtHostIp(o.id) + ":" + std::to_string(o.api_port));
  fs::create_directories(o.data_dir + "/server", ec);
  fs::create_directories(o.data_dir + "/shared", ec);
  std::string listen = MgmtHostIp(o.id) + ":" + std::to_string(o.api_port);
  KUMO_ASSIGN_OR_RETURN(int server_pid,
                        SpawnDaemon({kumo, "server", "--data-dir", o.data_dir + "/server", "--listen", listen,
                                     "--tls-san", MgmtHostIp(o.id),
                                     // Every lab node sees this directory, as real nodes would
                                     // see an NFS export: the "shared" storage class.
                                     "--shared-storage-dir", o.data_dir + "/shared",
                                     // A lab shows failover quickly.
                                     "--node-monitor-grace-seconds", "20", "--vm-eviction-seconds", "10"},
                                    o.data_dir + "/server/server.log"));
  KUMO_RETURN_IF_ERROR(record_pid("server", server_pid));
  std::string kubeconfig = KubeconfigPath(o.data_dir);
  for (int i = 0; i < 300; ++i) {
    auto log = ReadFileToString(o.data_dir + "/server/server.log");
    if (log.ok() && log->find("ready at") != std::string::npos && fs::exists(kubeconfig)) break;
    if (!Alive(server_pid)) return Internal("the lab's API server exited; see " + o.data_dir + "/server/server.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  KUMO_ASSIGN_OR_RETURN(auto client, client::ClientFromKubeconfig(kubeconfig));

  Progress("creating the IP pool, BGP configuration and peers");
  auto create = [&](const std::string& path, json::value obj) -> Status {
    auto r = client->Create(path, obj);
    if (!r.ok() && r.status().code() != Code::kAlreadyExists) return r.status();
    return Status::Ok();
  };
  KUMO_RETURN_IF_ERROR(create(client::ResourcePath("kumo.io", "v1alpha1", "ippools"),
                              json::object{{"apiVersion", "kumo.io/v1alpha1"}, {"kind", "IPPool"},
                                           {"metadata", json::object{{"name", "lab-pool"}}},
                                           {"spec", json::object{{"cidr", o.pool_cidr}}}}));
  KUMO_RETURN_IF_ERROR(create(client::ResourcePath("kumo.io", "v1alpha1", "bgpconfigurations"),
                              json::object{{"apiVersion", "kumo.io/v1alpha1"}, {"kind", "BGPConfiguration"},
                                           {"metadata", json::object{{"name", "default"}}},
                                           {"spec", json::object{{"asNumber", kNodeAs}, {"nodeToNodeMeshEnabled", false}}}}));
  for (int i = 1; i <= o.nodes; ++i) {
    KUMO_RETURN_IF_ERROR(create(client::ResourcePath("kumo.io", "v1alpha1", "bgppeers"),
                                json::object{{"apiVersion", "kumo.io/v1alpha1"}, {"kind", "BGPPeer"},
                                             {"metadata", json::object{{"name", "tor-node" + std::to_string(i)}}},
                                             {"spec", json::object{{"peerIP", TorIp(i)}, {"asNumber", kTorAs},
                                                                   {"node", "node" + std::to_string(i)}}}}));
  }
  Progress("building the tiny image");
  KUMO_RETURN_IF_ERROR(agent::BuildAndRegisterTiny(*client, o.data_dir + "/images"));

  for (int i = 1; i <= o.nodes; ++i) {
    std::string name = "node" + std::to_string(i);
    Progress("starting the agent of " + name);
    std::string dir = o.data_dir + "/" + name;
    fs::create_directories(dir, ec);
    // Each agent runs with its own node identity, not the admin's.
    KUMO_ASSIGN_OR_RETURN(client::Kubeconfig node_kc,
                          client::IssueNodeKubeconfig(o.data_dir + "/server", name));
    KUMO_RETURN_IF_ERROR(
        WriteFileAtomic(dir + "/kubeconfig.yaml", client::RenderKubeconfig(node_kc), 0600));
    KUMO_ASSIGN_OR_RETURN(int pid, StartAgent(o.data_dir, o.id, i, kumo));
    KUMO_RETURN_IF_ERROR(record_pid("agent-" + name, pid));
  }
  for (int i = 1; i <= o.nodes; ++i) {
    std::string name = "node" + std::to_string(i);
    bool ready = false;
    for (int t = 0; t < 600 && !ready; ++t) {
      auto node = client->Get(client::ResourcePath("", "v1", "nodes", "", name));
      ready = node.ok();
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!ready) return Internal("node " + name + " did not register; see " + o.data_dir + "/" + name + "/agent.log");
  }
  Progress("lab is up: " + std::to_string(o.nodes) + " nodes, tor, outside");
  return Status::Ok();
}

Status Down(const std::string& data_dir) {
  auto text = ReadFileToString(StatePath(data_dir));
  if (!text.ok()) return Status::Ok();  // nothing to do
  auto state = ParseJson(*text);
  if (!state.ok()) return Status::Ok();
  int id = static_cast<int>(state->at("id").as_int64());
  int nodes = static_cast<int>(state->at("nodes").as_int64());
  std::string pool = GetString(*state, {"pool"});
  if (const json::value* pids = Find(*state, {"pids"}); pids && pids->is_object()) {
    // Agents first (they would restart VMs), then the server.
    for (const auto& kv : pids->get_object()) {
      if (kv.key().starts_with("agent-")) StopPid(static_cast<int>(kv.value().as_int64()));
    }
    for (const auto& kv : pids->get_object()) {
      if (!kv.key().starts_with("agent-")) StopPid(static_cast<int>(kv.value().as_int64()));
    }
  }
  KillByCmdline(data_dir);  // QEMUs and node BIRDs started by the agents
  std::vector<std::string> hosts = {"tor", "outside"};
  for (int i = 1; i <= nodes; ++i) hosts.push_back("node" + std::to_string(i));
  for (const auto& h : hosts) RunIp({"netns", "del", Ns(id, h)});
  for (int i = 1; i <= nodes; ++i) RunIp({"link", "del", HostVeth(id, i)});
  RunIp({"link", "del", OutsideVeth(id)});
  RunIp({"link", "del", Bridge(id)});
  if (!pool.empty()) agent::net::DeleteUnreachableRoute(pool);
  fs::remove(StatePath(data_dir));
  return Status::Ok();
}

namespace {

// The lab's state and node number of `node` ("node3" -> 3).
StatusOr<std::pair<json::value, int>> LabNode(const std::string& data_dir, const std::string& node) {
  KUMO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(StatePath(data_dir)));
  KUMO_ASSIGN_OR_RETURN(json::value state, ParseJson(text));
  int nodes = static_cast<int>(state.at("nodes").as_int64());
  for (int i = 1; i <= nodes; ++i) {
    if (node == "node" + std::to_string(i)) return std::make_pair(std::move(state), i);
  }
  return NotFound("no node \"" + node + "\" in this lab; nodes are node1..node" + std::to_string(nodes));
}

}  // namespace

Status FailNode(const std::string& data_dir, const std::string& node) {
  KUMO_ASSIGN_OR_RETURN(auto lab, LabNode(data_dir, node));
  int id = static_cast<int>(lab.first.at("id").as_int64());
  KUMO_ASSIGN_OR_RETURN(auto pids, RunIp({"netns", "pids", Ns(id, node)}));
  int killed = 0;
  std::istringstream in(pids);
  for (int pid; in >> pid;) {
    if (pid != getpid() && kill(pid, SIGKILL) == 0) ++killed;
  }
  Progress(node + ": killed " + std::to_string(killed) + " processes (agent, BIRD, VMs)");
  return Status::Ok();
}

Status RecoverNode(const std::string& data_dir, const std::string& node) {
  KUMO_ASSIGN_OR_RETURN(auto lab, LabNode(data_dir, node));
  json::value& state = lab.first;
  int id = static_cast<int>(state.at("id").as_int64());
  int old = static_cast<int>(GetInt(state, {"pids", "agent-" + node}, 0));
  if (Alive(old)) return Conflict("the agent of " + node + " is running (pid " + std::to_string(old) + ")");
  KUMO_ASSIGN_OR_RETURN(int pid, StartAgent(data_dir, id, lab.second, SelfExecutable()));
  state.at("pids").as_object()["agent-" + node] = pid;
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(StatePath(data_dir), json::serialize(state), 0644));
  Progress(node + ": agent started again (pid " + std::to_string(pid) + ")");
  return Status::Ok();
}

StatusOr<std::string> StatusReport(const std::string& data_dir) {
  KUMO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(StatePath(data_dir)));
  KUMO_ASSIGN_OR_RETURN(json::value state, ParseJson(text));
  int id = static_cast<int>(state.at("id").as_int64());
  std::string out = "lab " + data_dir + " (pool " + GetString(state, {"pool"}) + ")\n";
  out += "API server: https://" + MgmtHostIp(id) + ":6443, kubeconfig " + KubeconfigPath(data_dir) + "\n";
  for (const auto& kv : state.at("pids").as_object()) {
    int pid = static_cast<int>(kv.value().as_int64());
    out += "  " + std::string(kv.key()) + ": pid " + std::to_string(pid) + (Alive(pid) ? " running" : " NOT RUNNING") + "\n";
  }
  auto protocols = agent::RunProcess({"ip", "netns", "exec", Ns(id, "tor"), "birdc", "-s", data_dir + "/tor/bird.ctl",
                                      "show", "protocols"});
  if (protocols.ok()) out += "BGP sessions at the top of rack:\n" + protocols->out;
  auto routes = agent::RunProcess({"ip", "netns", "exec", Ns(id, "tor"), "ip", "route"});
  if (routes.ok()) out += "top of rack routes:\n" + routes->out;
  return out;
}

}  // namespace kumo::lab
