#include "scheduler/placement.h"

#include <algorithm>
#include <cmath>

#include "api/quantity.h"
#include "api/vm_size.h"

namespace kumo::scheduler {

namespace {

StatusOr<double> QuantityAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* f = Find(v, path);
  if (!f) return -1.0;
  if (f->is_number()) return f->to_number<double>();
  if (f->is_string()) return api::ParseQuantity(f->get_string());
  return BadRequest("not a quantity");
}

bool Tolerates(const std::vector<Toleration>& tolerations, const Taint& taint) {
  for (const auto& t : tolerations) {
    if (!t.effect.empty() && t.effect != taint.effect) continue;
    if (t.key.empty() && t.op == "Exists") return true;
    if (t.key != taint.key) continue;
    if (t.op == "Exists" || t.value == taint.value) return true;
  }
  return false;
}

}  // namespace

StatusOr<Request> RequestForVmi(const json::value& vmi, const Config& config) {
  Request r;
  const json::value* spec = Find(vmi, {"spec"});
  if (!spec) return BadRequest("the VMI has no spec");
  KUMO_ASSIGN_OR_RETURN(api::VmSize size,
                        api::VmSizeOf(*spec, "VirtualMachineInstance",
                                      GetString(vmi, {"metadata", "name"})));
  r.cpu_millis = size.cpu_request_millis >= 0
                     ? size.cpu_request_millis
                     : static_cast<int64_t>(
                           std::ceil(static_cast<double>(size.vcpus) * 1000 /
                                     config.cpu_allocation_ratio));
  r.memory_bytes = size.HostMemory();
  if (const json::value* sel = Find(*spec, {"nodeSelector"}); sel && sel->is_object()) {
    for (const auto& kv : sel->get_object()) {
      if (kv.value().is_string()) r.node_selector[kv.key()] = kv.value().get_string();
    }
  }
  if (const json::value* tols = Find(*spec, {"tolerations"}); tols && tols->is_array()) {
    for (const auto& t : tols->get_array()) {
      r.tolerations.push_back({GetString(t, {"key"}), GetString(t, {"operator"}, "Equal"),
                               GetString(t, {"value"}), GetString(t, {"effect"})});
    }
  }
  return r;
}

NodeInfo NodeFromJson(const json::value& node) {
  NodeInfo n;
  n.name = GetString(node, {"metadata", "name"});
  if (const json::value* labels = Find(node, {"metadata", "labels"}); labels && labels->is_object()) {
    for (const auto& kv : labels->get_object()) {
      if (kv.value().is_string()) n.labels[kv.key()] = kv.value().get_string();
    }
  }
  if (const json::value* taints = Find(node, {"spec", "taints"}); taints && taints->is_array()) {
    for (const auto& t : taints->get_array()) {
      n.taints.push_back({GetString(t, {"key"}), GetString(t, {"value"}), GetString(t, {"effect"})});
    }
  }
  const json::value* u = Find(node, {"spec", "unschedulable"});
  n.unschedulable = u && u->is_bool() && u->get_bool();
  if (const json::value* conds = Find(node, {"status", "conditions"}); conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (GetString(c, {"type"}) == "Ready") n.ready = GetString(c, {"status"}) == "True";
    }
  }
  // A node writes its own allocatable: bounded before the conversion (1e15 cores, 8 EiB).
  auto cpu = QuantityAt(node, {"status", "allocatable", "cpu"});
  if (cpu.ok() && *cpu > 0 && *cpu < 1e15) n.cpu_millis = static_cast<int64_t>(*cpu * 1000);
  auto mem = QuantityAt(node, {"status", "allocatable", "memory"});
  if (mem.ok() && *mem > 0 && *mem < 9.2e18) n.memory_bytes = static_cast<int64_t>(*mem);
  return n;
}

bool Fits(const Request& request, const NodeInfo& n, const Usage& used,
          std::vector<std::string>* reasons) {
  auto refuse = [&](std::string why) {
    if (reasons) reasons->push_back(std::move(why));
    return false;
  };
  if (!n.ready) return refuse("node(s) were not ready");
  if (n.unschedulable) return refuse("node(s) were unschedulable");
  if (!request.required_node.empty() && n.name != request.required_node) {
    return refuse("node(s) didn't hold the VM's local volumes (on " + request.required_node + ")");
  }
  for (const auto& [k, v] : request.node_selector) {
    auto it = n.labels.find(k);
    if (it == n.labels.end() || it->second != v) {
      return refuse("node(s) didn't match the VM's node selector");
    }
  }
  for (const auto& t : n.taints) {
    if ((t.effect == "NoSchedule" || t.effect == "NoExecute") && !Tolerates(request.tolerations, t)) {
      return refuse("node(s) had untolerated taint {" + t.key + ": " + t.value + "}");
    }
  }
  bool fits = true;
  if (used.cpu_millis + request.cpu_millis > n.cpu_millis) fits = refuse("Insufficient cpu");
  if (used.memory_bytes + request.memory_bytes > n.memory_bytes) fits = refuse("Insufficient memory");
  return fits;
}

double Score(const Request& request, const NodeInfo& n, const Usage& used) {
  double cpu_free = 1.0 - double(used.cpu_millis + request.cpu_millis) / double(std::max<int64_t>(n.cpu_millis, 1));
  double mem_free = 1.0 - double(used.memory_bytes + request.memory_bytes) / double(std::max<int64_t>(n.memory_bytes, 1));
  return (cpu_free + mem_free) / 2;
}

bool Better(double score, int vms, double best_score, int best_vms) {
  return score > best_score + 1e-9 || (std::abs(score - best_score) <= 1e-9 && vms < best_vms);
}

size_t FeasibleNodesToFind(size_t nodes) {
  // kube-scheduler's adaptive percentageOfNodesToScore: 50% less 1% per 125 nodes, at least
  // 5%, and never fewer than 100 nodes.
  constexpr size_t kMinFeasible = 100;
  if (nodes <= kMinFeasible) return nodes;
  double percent = std::max(5.0, 50.0 - static_cast<double>(nodes) / 125.0);
  size_t n = static_cast<size_t>(static_cast<double>(nodes) * percent / 100.0);
  return std::max(n, kMinFeasible);
}

Status Unschedulable(size_t nodes, const std::map<std::string, int>& reasons) {
  std::string msg = "0/" + std::to_string(nodes) + " nodes are available";
  if (nodes == 0) msg += ": no nodes are registered; start `kumo agent` on a host";
  bool first = true;
  for (const auto& [reason, count] : reasons) {
    msg += first ? ": " : ", ";
    first = false;
    msg += std::to_string(count) + " " + reason;
  }
  msg += ".";
  return Status(Code::kUnavailable, msg);
}

StatusOr<std::string> PickNode(const Request& request, const std::vector<NodeInfo>& nodes,
                               const std::map<std::string, Usage>& usage, const Config& config) {
  (void)config;
  std::map<std::string, int> reasons;
  std::vector<std::string> why;
  const NodeInfo* best = nullptr;
  double best_score = -1;
  int best_vms = 0;
  for (const auto& n : nodes) {
    Usage used;
    if (auto it = usage.find(n.name); it != usage.end()) used = it->second;
    why.clear();
    if (!Fits(request, n, used, &why)) {
      for (const auto& w : why) ++reasons[w];
      continue;
    }
    double score = Score(request, n, used);
    if (!best || Better(score, used.vms, best_score, best_vms)) {
      best = &n;
      best_score = score;
      best_vms = used.vms;
    }
  }
  if (best) return best->name;
  return Unschedulable(nodes.size(), reasons);
}

}  // namespace kumo::scheduler
