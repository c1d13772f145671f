#include "controller/node_lifecycle.h"

#include "api/object.h"
#include "api/resource.h"
#include "common/log.h"

namespace kumo::controller {

namespace {

const api::ResourceInfo& Resource(const char* group, const char* plural) {
  return *api::DefaultRegistry().Find(group, "v1", plural);
}
const api::ResourceInfo& Nodes() { return Resource("", "nodes"); }
const api::ResourceInfo& Leases() { return Resource("coordination.k8s.io", "leases"); }
const api::ResourceInfo& Vmis() { return Resource("kubevirt.io", "virtualmachineinstances"); }

constexpr char kLeaseNamespace[] = "kube-node-lease";

const json::value* ReadyCondition(const json::value& node) {
  const json::value* conds = Find(node, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->get_array()) {
    if (GetString(c, {"type"}) == "Ready") return &c;
  }
  return nullptr;
}
json::value* ReadyCondition(json::value& node) {
  return const_cast<json::value*>(ReadyCondition(static_cast<const json::value&>(node)));
}

// timeAdded of our NoExecute taint (unix seconds), or -1 when the node does not carry it.
int64_t UnreachableSince(const json::value& node) {
  const json::value* taints = Find(node, {"spec", "taints"});
  if (!taints || !taints->is_array()) return -1;
  for (const auto& t : taints->get_array()) {
    if (GetString(t, {"key"}) == kUnreachableTaint && GetString(t, {"effect"}) == "NoExecute") {
      int64_t at = ParseTime(GetString(t, {"timeAdded"}));
      return at < 0 ? 0 : at;
    }
  }
  return -1;
}

bool Finished(const json::value& vmi) {
  std::string phase = GetString(vmi, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

bool NodeUnreachable(const json::value& node) { return UnreachableSince(node) >= 0; }

NodeLifecycleController::NodeLifecycleController(store::Store& store, store::WatchCache& cache,
                                                 EventRecorder& events, const Clock& clock,
                                                 NodeLifecycleOptions options)
    : store_(store), cache_(cache), events_(events), clock_(clock), options_(options) {}

NodeLifecycleController::~NodeLifecycleController() { Stop(); }

void NodeLifecycleController::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      Status st = RunOnce();
      if (!st.ok()) spdlog::warn("node lifecycle: {}", st.ToString());
      for (auto slept = std::chrono::milliseconds(0); slept < options_.period && !stop_;
           slept += std::chrono::milliseconds(100)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
}

void NodeLifecycleController::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Status NodeLifecycleController::RunOnce() {
  Status result = Status::Ok();
  for (const auto& obj : cache_.List(Nodes().KeyPrefix(), "", 0, nullptr).items) {
    auto node = ParseJson(obj->json);
    if (!node.ok()) continue;
    Status st = CheckNode(*node);
    if (!st.ok()) result = st;
  }
  return result;
}

Status NodeLifecycleController::CheckNode(const json::value& node) {
  const std::string name = GetString(node, {"metadata", "name"});
  const int64_t now = clock_.NowUnixSeconds();
  // The last sign of life: the Lease, else the Ready heartbeat, else the node's creation.
  int64_t last = -1;
  if (auto lease = cache_.Get(Leases().Key(kLeaseNamespace, name))) {
    if (auto parsed = ParseJson(lease->json); parsed.ok()) {
      last = ParseTime(GetString(*parsed, {"spec", "renewTime"}));
    }
  }
  if (last < 0) {
    if (const json::value* ready = ReadyCondition(node)) last = ParseTime(GetString(*ready, {"lastHeartbeatTime"}));
  }
  if (last < 0) last = ParseTime(GetString(node, {"metadata", "creationTimestamp"}));
  if (last < 0) return Status::Ok();

  const bool stale = now - last > options_.grace.count();
  int64_t since = UnreachableSince(node);
  if (!stale) {
    return since >= 0 ? MarkReachable(name) : Status::Ok();
  }
  const json::value* ready = ReadyCondition(node);
  if (since < 0 || !ready || GetString(*ready, {"status"}) != "Unknown") {
    KUMO_RETURN_IF_ERROR(MarkUnreachable(name, last));
    if (since < 0) since = now;
  }
  if (now - since >= options_.eviction.count()) return EvictVmis(name, since);
  return Status::Ok();
}

Status NodeLifecycleController::MarkUnreachable(const std::string& name, int64_t last_seen) {
  const std::string now = FormatTime(clock_.NowUnixSeconds());
  bool newly = false;
  auto res = store::GuaranteedUpdate(store_, Nodes().Key("", name), [&](const store::KeyValue& cur)
                                                                        -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value n, api::ParseStored(cur.value, cur.mod_revision));
    newly = UnreachableSince(n) < 0;
    json::value& taints = EnsureObject(n, {"spec"})["taints"];
    if (!taints.is_array()) taints = json::array();
    for (const char* effect : {"NoSchedule", "NoExecute"}) {
      bool have = false;
      for (const auto& t : taints.get_array()) {
        have = have || (GetString(t, {"key"}) == kUnreachableTaint && GetString(t, {"effect"}) == effect);
      }
      if (!have) {
        taints.get_array().push_back(
            json::object{{"key", kUnreachableTaint}, {"effect", effect}, {"timeAdded", now}});
      }
    }
    json::value* ready = ReadyCondition(n);
    if (!ready) {
      json::value& conds = EnsureObject(n, {"status"})["conditions"];
      if (!conds.is_array()) conds = json::array();
      conds.get_array().push_back(json::object{{"type", "Ready"}});
      ready = &conds.get_array().back();
    }
    json::object& c = ready->get_object();
    if (GetString(*ready, {"status"}) != "Unknown") c["lastTransitionTime"] = now;
    c["status"] = "Unknown";
    c["reason"] = "NodeStatusUnknown";
    c["message"] = "Kumo agent stopped posting node status.";
    return api::SerializeForStore(n);
  });
  if (!res.ok()) return res.status().code() == Code::kNotFound ? Status::Ok() : res.status();
  if (newly) {
    spdlog::warn("node {} is unreachable: no heartbeat since {}", name, FormatTime(last_seen));
    if (auto parsed = api::ParseStored(res->value, res->mod_revision); parsed.ok()) {
      events_.Record(*parsed, "Warning", "NodeNotReady",
                     "Node " + name + " stopped renewing its lease (last at " +
                         FormatTime(last_seen) + "); its VMs are restarted elsewhere in " +
                         std::to_string(options_.eviction.count()) + "s");
    }
  }
  return Status::Ok();
}

Status NodeLifecycleController::MarkReachable(const std::string& name) {
  auto res = store::GuaranteedUpdate(store_, Nodes().Key("", name), [&](const store::KeyValue& cur)
                                                                        -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value n, api::ParseStored(cur.value, cur.mod_revision));
    json::value* taints = Find(n, {"spec", "taints"});
    if (taints && taints->is_array()) {
      json::array keep;
      for (const auto& t : taints->get_array()) {
        if (GetString(t, {"key"}) != kUnreachableTaint) keep.push_back(t);
      }
      *taints = std::move(keep);
    }
    // The agent posts its Ready condition only every few minutes; the renewed lease is the
    // sign of life, so readiness comes back with it.
    if (json::value* ready = ReadyCondition(n); ready && GetString(*ready, {"status"}) != "True") {
      const std::string now = FormatTime(clock_.NowUnixSeconds());
      *ready = json::object{{"type", "Ready"},
                            {"status", "True"},
                            {"reason", "AgentReady"},
                            {"message", "the node's agent renews its lease again"},
                            {"lastHeartbeatTime", now},
                            {"lastTransitionTime", now}};
    }
    return api::SerializeForStore(n);
  });
  if (!res.ok()) return res.status().code() == Code::kNotFound ? Status::Ok() : res.status();
  spdlog::info("node {} is reachable again", name);
  if (auto parsed = api::ParseStored(res->value, res->mod_revision); parsed.ok()) {
    events_.Record(*parsed, "Normal", "NodeReady", "Node " + name + " renews its lease again");
  }
  return Status::Ok();
}

Status NodeLifecycleController::EvictVmis(const std::string& node, int64_t unreachable_since) {
  auto on_node = [&](const store::CachedObject& o) { return o.Field("status.nodeName") == node; };
  const std::string reason = "node " + node + " stopped responding at " + FormatTime(unreachable_since);
  for (const auto& obj : cache_.List(Vmis().KeyPrefix(), "", 0, on_node).items) {
    auto cached = ParseJson(obj->json);
    if (!cached.ok()) continue;
    const bool terminating = !GetString(*cached, {"metadata", "deletionTimestamp"}).empty();
    if (!terminating && Finished(*cached)) continue;
    const std::string uid = GetString(*cached, {"metadata", "uid"});
    bool failed_now = false;
    auto res = store::GuaranteedUpdate(store_, obj->key, [&](const store::KeyValue& cur)
                                                             -> StatusOr<std::string> {
      KUMO_ASSIGN_OR_RETURN(json::value vmi, api::ParseStored(cur.value, cur.mod_revision));
      if (GetString(vmi, {"metadata", "uid"}) != uid ||
          GetString(vmi, {"status", "nodeName"}) != node) {
        return Status(Code::kAlreadyExists, "moved on");
      }
      if (!GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
        // Being deleted, but the node's agent will not release it: finish the deletion here.
        vmi.get_object()["metadata"].get_object().erase("finalizers");
        return api::SerializeForStore(vmi);
      }
      if (Finished(vmi)) return Status(Code::kAlreadyExists, "finished");
      failed_now = true;
      json::object& st = EnsureObject(vmi, {"status"});
      st["phase"] = "Failed";
      st["reason"] = "NodeUnresponsive";
      const std::string now = FormatTime(clock_.NowUnixSeconds());
      st["conditions"] = json::array{json::object{{"type", "Ready"},
                                                  {"status", "False"},
                                                  {"reason", "NodeUnresponsive"},
                                                  {"message", "The VMI failed: " + reason},
                                                  {"lastProbeTime", nullptr},
                                                  {"lastTransitionTime", now}}};
      return api::SerializeForStore(vmi);
    });
    if (!res.ok()) {
      if (res.status().code() == Code::kAlreadyExists || res.status().code() == Code::kNotFound) continue;
      return res.status();
    }
    if (terminating) {
      auto del = store_.Delete(obj->key, res->mod_revision);
      if (!del.ok() && del.status().code() != Code::kNotFound && del.status().code() != Code::kConflict) {
        return del.status();
      }
      continue;
    }
    if (failed_now) {
      spdlog::warn("VMI {} failed: {}", obj->key, reason);
      if (auto parsed = api::ParseStored(res->value, res->mod_revision); parsed.ok()) {
        events_.Record(*parsed, "Warning", "NodeUnresponsive",
                       "The VMI failed: " + reason + "; its VM starts again elsewhere if its run "
                       "strategy restarts it");
      }
    }
  }
  return Status::Ok();
}

}  // namespace kumo::controller
