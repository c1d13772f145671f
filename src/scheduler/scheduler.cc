#include "scheduler/scheduler.h"

#include "api/object.h"
#include "api/resource.h"
#include "common/log.h"

namespace kumo::scheduler {

namespace {

const api::ResourceInfo& Vmis() {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachineinstances");
}
const api::ResourceInfo& Nodes() { return *api::DefaultRegistry().Find("", "v1", "nodes"); }

bool IsPending(const store::CachedObject& vmi) {
  if (!vmi.Field("status.nodeName").empty()) return false;
  std::string phase = vmi.Field("status.phase");
  return (phase.empty() || phase == "Pending" || phase == "Scheduling") &&
         vmi.json.find("\"deletionTimestamp\"") == std::string::npos;
}

// Sets or replaces the condition of `type` in status.conditions.
void SetCondition(json::value& obj, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, const std::string& now) {
  json::object& st = EnsureObject(obj, {"status"});
  json::value& conds = st["conditions"];
  if (!conds.is_array()) conds = json::array();
  json::object c{{"type", type}, {"status", status}, {"lastProbeTime", nullptr},
                 {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  for (auto& existing : conds.get_array()) {
    if (GetString(existing, {"type"}) == type) {
      if (GetString(existing, {"status"}) == status) c["lastTransitionTime"] = existing.at("lastTransitionTime");
      existing = std::move(c);
      return;
    }
  }
  conds.get_array().push_back(std::move(c));
}

}  // namespace

Scheduler::Scheduler(store::Store& store, store::WatchCache& cache,
                     controller::EventRecorder& events, const Clock& clock, Config config)
    : store_(store), cache_(cache), events_(events), clock_(clock), config_(config),
      volumes_(store, cache) {
  std::vector<controller::Controller::Watch> watches = {
      {Vmis().KeyPrefix(),
       [](const store::CachedObject& o) -> std::vector<std::string> {
         if (IsPending(o)) return {o.key};
         return {};
       }},
      // A node change can make room: retry every pending VMI.
      {Nodes().KeyPrefix(),
       [this](const store::CachedObject&) {
         std::vector<std::string> keys;
         for (const auto& v : cache_.List(Vmis().KeyPrefix(), "", 0, [](const store::CachedObject& o) { return IsPending(o); }).items) {
           keys.push_back(v->key);
         }
         return keys;
       }},
  };
  controller_ = std::make_unique<controller::Controller>(
      "scheduler", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/1);
}

StatusOr<std::string> PlaceVmi(const store::WatchCache& cache, const Request& request,
                               const Config& config, const std::string& exclude_node) {
  std::vector<NodeInfo> nodes;
  for (const auto& n : cache.List(Nodes().KeyPrefix(), "", 0, nullptr).items) {
    auto parsed = ParseJson(n->json);
    if (!parsed.ok()) continue;
    NodeInfo info = NodeFromJson(*parsed);
    if (info.name != exclude_node) nodes.push_back(std::move(info));
  }
  std::map<std::string, Usage> usage;
  for (const auto& v : cache.List(Vmis().KeyPrefix(), "", 0, [](const store::CachedObject& o) {
         return !o.Field("status.nodeName").empty();
       }).items) {
    std::string phase = v->Field("status.phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    auto parsed = ParseJson(v->json);
    if (!parsed.ok()) continue;
    auto r = RequestForVmi(*parsed, config);
    if (!r.ok()) continue;
    Usage& u = usage[v->Field("status.nodeName")];
    u.cpu_millis += r->cpu_millis;
    u.memory_bytes += r->memory_bytes;
    ++u.vms;
  }
  return PickNode(request, nodes, usage, config);
}

Scheduler::~Scheduler() { Stop(); }
void Scheduler::Start() { controller_->Start(); }
void Scheduler::Stop() { controller_->Stop(); }

StatusOr<controller::Result> Scheduler::Reconcile(const std::string& key) {
  auto kv = store_.Get(key);
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return controller::Result{};
    return kv.status();
  }
  KUMO_ASSIGN_OR_RETURN(json::value vmi, api::ParseStored(kv->value, kv->mod_revision));
  if (!GetString(vmi, {"status", "nodeName"}).empty() ||
      !GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
    return controller::Result{};
  }
  std::string now = FormatTime(clock_.NowUnixSeconds());
  StatusOr<Request> request = RequestForVmi(vmi, config_);
  if (request.ok()) {
    // A VM on local volumes runs where they are.
    StatusOr<std::optional<std::string>> required = volumes_.RequiredNode(vmi);
    if (!required.ok()) request = required.status();
    else if (*required) request->required_node = **required;
  }

  StatusOr<std::string> node = request.ok() ? PlaceVmi(cache_, *request, config_)
                                            : StatusOr<std::string>(request.status());
  if (node.ok()) {
    Status placed = volumes_.PlaceVolumes(vmi, *node);
    if (!placed.ok()) node = placed;
  }
  std::string ns = GetString(vmi, {"metadata", "namespace"});
  std::string name = GetString(vmi, {"metadata", "name"});
  auto updated = store::GuaranteedUpdate(store_, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur.value, cur.mod_revision));
    if (!GetString(obj, {"status", "nodeName"}).empty()) return Conflict("already scheduled");
    const json::value before = obj;
    json::object& st = EnsureObject(obj, {"status"});
    if (node.ok()) {
      st["nodeName"] = *node;
      st["phase"] = "Scheduled";
      EnsureObject(obj, {"metadata", "labels"})["kubevirt.io/nodeName"] = *node;
      SetCondition(obj, "PodScheduled", "True", "", "", now);
    } else {
      st["phase"] = "Pending";
      SetCondition(obj, "PodScheduled", "False", "Unschedulable", node.status().message(), now);
      if (obj == before) return Status(Code::kAlreadyExists, "unchanged");
    }
    return api::SerializeForStore(obj);
  });
  if (!updated.ok()) {
    if (updated.status().code() == Code::kConflict || updated.status().code() == Code::kNotFound) {
      return controller::Result{};
    }
    if (updated.status().code() == Code::kAlreadyExists) {  // still unschedulable, as recorded
      return controller::Result{std::chrono::milliseconds(5000)};
    }
    return updated.status();
  }
  if (node.ok()) {
    spdlog::info("scheduled {}/{} to {}", ns, name, *node);
    events_.Record(vmi, "Normal", "Scheduled",
                   "Successfully assigned " + ns + "/" + name + " to " + *node);
    return controller::Result{};
  }
  events_.Record(vmi, "Warning", "FailedScheduling", node.status().message());
  return controller::Result{std::chrono::milliseconds(5000)};
}

}  // namespace kumo::scheduler
