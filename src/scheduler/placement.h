// Placement: the scheduler's filters and scores as pure functions, so they are unit-tested
// without a server. Filters: node readiness and schedulability, nodeSelector, taints and
// tolerations, allocatable CPU (with an overcommit ratio, like KubeVirt's cpuAllocationRatio)
// and memory (guest memory plus a per-VM overhead). Score: least allocated, to spread load.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::scheduler {

struct Taint {
  std::string key, value, effect;  // effect: NoSchedule, PreferNoSchedule, NoExecute
};

struct Toleration {
  std::string key, op = "Equal", value, effect;  // op: Equal or Exists; empty key+Exists = all
};

struct NodeInfo {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<Taint> taints;
  bool ready = false;
  bool unschedulable = false;
  int64_t cpu_millis = 0;    // allocatable
  int64_t memory_bytes = 0;  // allocatable
};

struct Request {
  int64_t cpu_millis = 0;    // what the VM reserves on a node's CPU
  int64_t memory_bytes = 0;  // guest memory plus overhead
  std::map<std::string, std::string> node_selector;
  std::vector<Toleration> tolerations;
  // The node that holds the VM's local volumes; "" when any node will do.
  std::string required_node;
};

struct Usage {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int vms = 0;
};

struct Config {
  // A vCPU reserves 1000/ratio millicores, as KubeVirt's cpuAllocationRatio (default 10).
  double cpu_allocation_ratio = 10;
};

// The request of a VMI (parsed), from api::VmSizeOf: CPU is resources.requests.cpu, else the
// vCPUs over the allocation ratio; memory is guest memory plus the VM's host overhead.
StatusOr<Request> RequestForVmi(const json::value& vmi, const Config& config);

NodeInfo NodeFromJson(const json::value& node);

// Whether `n`, already holding `used`, can take `request`; when not, the reasons are appended
// to `reasons` (may be null) in the words of the scheduler's message.
bool Fits(const Request& request, const NodeInfo& n, const Usage& used,
          std::vector<std::string>* reasons);
// Least allocated after placing `request`: higher is better.
double Score(const Request& request, const NodeInfo& n, const Usage& used);
// Whether (score, vms) beats (best_score, best_vms): higher score, then fewer VMs.
bool Better(double score, int vms, double best_score, int best_vms);
// How many feasible nodes to find before scoring, among `nodes` (kube-scheduler's adaptive
// percentageOfNodesToScore): all of them up to 100, 29% of 2,600, at least 5% of very many.
size_t FeasibleNodesToFind(size_t nodes);
// Code::kUnavailable with "0/N nodes are available: 2 Insufficient memory, ...".
Status Unschedulable(size_t nodes, const std::map<std::string, int>& reasons);

// The best node for `request`; when none fits, Code::kUnavailable with a Kubernetes-like
// message: "0/3 nodes are available: 2 Insufficient memory, 1 node(s) were not ready."
StatusOr<std::string> PickNode(const Request& request, const std::vector<NodeInfo>& nodes,
                               const std::map<std::string, Usage>& usage, const Config& config);

}  // namespace kumo::scheduler
