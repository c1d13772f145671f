// `kumo lab`: a multi-node Kumo on one machine for tests, demos and trying Kumo out. Each node
// is a network namespace running a `kumo agent` (which runs BIRD), a top-of-rack namespace runs
// BIRD as the upstream router with eBGP to every node, and an "outside" namespace sits behind
// the top of rack. The API server runs in the host namespace; agents reach it over a bridge.
//
//   host: kumo server on 172.30.ID.1 (bridge klIDbr) ── eth0 of every node (172.30.ID.1x)
//   nodeN: uplink 10.250.N.2/30 ══ eBGP ══ tor: nN 10.250.N.1/30 ── out 10.250.0.1/30
//   outside: eth0 10.250.0.2/30, default via the tor
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kumo::lab {

struct LabOptions {
  int nodes = 2;
  std::string data_dir;             // state of the lab (server, nodes, images, lab.json)
  int id = 0;                       // 0..9: lets two labs coexist (names and subnets differ)
  std::string pool_cidr = "10.100.0.0/24";  // the IPPool VMs draw from
  std::string kumo_binary;          // defaults to this executable
  int api_port = 6443;
};

// Builds the lab and starts its processes; returns once every agent registered its node.
// Progress lines go to stderr. FailedPrecondition-style Conflict when a lab is already up.
Status Up(const LabOptions& options);
// Stops every process of the lab (by pid), deletes its namespaces, links and routes.
// Idempotent: OK when nothing is left.
Status Down(const std::string& data_dir);
// Simulates a node failure: kills every process in the node's namespace (its agent, BIRD
// and VMs), as a power cut would.
Status FailNode(const std::string& data_dir, const std::string& node);
// Starts a failed node's agent again (it registers and adopts or cleans up what is left).
Status RecoverNode(const std::string& data_dir, const std::string& node);
// A human-readable report: hosts, processes, BGP sessions at the top of rack.
StatusOr<std::string> StatusReport(const std::string& data_dir);
// The namespace of HOST (node1..nodeN, tor, outside) in the lab at data_dir.
StatusOr<std::string> NamespaceOf(const std::string& data_dir, const std::string& host);
// The kubeconfig of the lab's API server.
std::string KubeconfigPath(const std::string& data_dir);

}  // namespace kumo::lab
