#include "agent/vm_network.h"

#include <unistd.h>

#include <algorithm>

#include "agent/network/ip_tool.h"
#include "common/log.h"

namespace kumo::agent {

namespace {

bool HaveBird() { return access("/usr/sbin/bird", X_OK) == 0 || access("/usr/bin/bird", X_OK) == 0; }

// True when the label selector text (only "k=v" terms, comma-separated) matches `labels`.
bool SelectorMatches(const std::string& selector, const json::value* labels) {
  if (selector.empty() || selector == "all()") return true;
  size_t start = 0;
  while (start <= selector.size()) {
    size_t comma = selector.find(',', start);
    std::string term = selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = term.find('=');
    if (eq == std::string::npos) return false;
    std::string k = term.substr(0, eq), v = term.substr(eq + 1);
    if (!v.empty() && v[0] == '=') v = v.substr(1);
    if (!labels || GetString(*labels, {k}) != v) return false;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

}  // namespace

VmNetwork::VmNetwork(VmNetworkOptions options) : options_(std::move(options)) {}

VmNetwork::~VmNetwork() {
  std::lock_guard lock(mu_);
  for (auto& [key, d] : dhcp_) d->Stop();
}

StatusOr<std::string> VmNetwork::SetUp(const std::string& ns, const std::string& name,
                                       const std::string& ip, const std::string& hostname) {
  std::string tap = net::TapName(ns, name);
  {
    std::lock_guard lock(mu_);
    auto it = dhcp_.find(ns + "/" + name);
    if (it != dhcp_.end() && it->second->running()) return tap;  // already set up
  }
  KUMO_RETURN_IF_ERROR(net::SetUpWorkload(tap, ip));
  std::lock_guard lock(mu_);
  auto& server = dhcp_[ns + "/" + name];
  if (!server || !server->running()) {
    net::DhcpConfig cfg;
    cfg.ip = ip;
    cfg.hostname = hostname;
    cfg.dns = options_.dns;
    cfg.mtu = options_.mtu;
    server = std::make_unique<net::DhcpServer>(tap, "", cfg);
    KUMO_RETURN_IF_ERROR(server->Start());
  }
  return tap;
}

void VmNetwork::StopResponder(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = dhcp_.find(ns + "/" + name);
  if (it != dhcp_.end()) {
    it->second->Stop();
    dhcp_.erase(it);
  }
}

Status VmNetwork::Withdraw(const std::string& ns, const std::string& name, const std::string& ip) {
  StopResponder(ns, name);
  return net::DeleteWorkloadRoute(ip, net::TapName(ns, name));
}

Status VmNetwork::TearDown(const std::string& ns, const std::string& name, const std::string& ip) {
  StopResponder(ns, name);
  return net::TearDownWorkload(net::TapName(ns, name), ip);
}

Status VmNetwork::Sync(client::RestClient& client) {
  auto pools = client.List(client::ResourcePath("kumo.io", "v1alpha1", "ippools"));
  if (!pools.ok()) return pools.status();
  std::vector<std::string> cidrs;
  for (const auto& p : pools->at("items").as_array()) {
    std::string cidr = GetString(p, {"spec", "cidr"});
    if (cidr.empty()) continue;
    cidrs.push_back(cidr);
    Status st = net::EnsureUnreachableRoute(cidr);
    if (!st.ok()) spdlog::warn("unreachable route for pool {}: {}", cidr, st.ToString());
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& old : pools_) {
      if (std::find(cidrs.begin(), cidrs.end(), old) == cidrs.end()) net::DeleteUnreachableRoute(old);
    }
    pools_ = cidrs;
  }
  if (options_.node_ip.empty() || !HaveBird()) return Status::Ok();

  // BGP: Calico's BGPConfiguration "default" and the BGPPeers that apply to this node.
  net::BirdConfig cfg;
  cfg.router_id = options_.node_ip;
  cfg.source_address = options_.node_ip;
  cfg.pools = cidrs;
  auto conf = client.Get(client::ResourcePath("kumo.io", "v1alpha1", "bgpconfigurations", "", "default"));
  if (conf.ok()) {
    if (const json::value* as = Find(*conf, {"spec", "asNumber"}); as && as->is_int64()) {
      cfg.as_number = static_cast<uint32_t>(as->get_int64());
    }
    const json::value* mesh = Find(*conf, {"spec", "nodeToNodeMeshEnabled"});
    cfg.node_to_node_mesh = !mesh || !mesh->is_bool() || mesh->get_bool();
  } else {
    cfg.node_to_node_mesh = true;  // Calico's default
  }
  auto node = client.Get(client::ResourcePath("", "v1", "nodes", "", options_.node_name));
  const json::value* labels = node.ok() ? Find(*node, {"metadata", "labels"}) : nullptr;
  auto peers = client.List(client::ResourcePath("kumo.io", "v1alpha1", "bgppeers"));
  if (peers.ok()) {
    for (const auto& p : peers->at("items").as_array()) {
      std::string for_node = GetString(p, {"spec", "node"});
      if (!for_node.empty() && for_node != options_.node_name) continue;
      if (!SelectorMatches(GetString(p, {"spec", "nodeSelector"}), labels)) continue;
      net::BgpPeer peer;
      peer.address = GetString(p, {"spec", "peerIP"});
      if (const json::value* as = Find(p, {"spec", "asNumber"}); as && as->is_int64()) {
        peer.as_number = static_cast<uint32_t>(as->get_int64());
      }
      peer.name = "peer_" + GetString(p, {"metadata", "name"});
      for (auto& c : peer.name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      if (!peer.address.empty()) cfg.peers.push_back(peer);
    }
  }
  if (cfg.node_to_node_mesh) {
    auto nodes = client.List(client::ResourcePath("", "v1", "nodes"));
    if (nodes.ok()) {
      for (const auto& n : nodes->at("items").as_array()) {
        const json::value* addrs = Find(n, {"status", "addresses"});
        if (!addrs || !addrs->is_array()) continue;
        for (const auto& a : addrs->get_array()) {
          if (GetString(a, {"type"}) == "InternalIP") cfg.mesh_nodes.push_back(GetString(a, {"address"}));
        }
      }
    }
  }
  std::lock_guard lock(mu_);
  if (!bird_) {
    net::BirdProcessOptions bo;
    bo.state_dir = options_.state_dir + "/bird";
    bo.stop_on_destroy = false;
    bird_ = std::make_unique<net::BirdProcess>(bo);
  }
  return bird_->Apply(cfg);
}

}  // namespace kumo::agent
