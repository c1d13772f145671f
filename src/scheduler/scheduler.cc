#include "scheduler/scheduler.h"

#include "api/object.h"
#include "api/resource.h"
#include "common/log.h"
#include "common/metrics.h"

namespace kumo::scheduler {

namespace {

const api::ResourceInfo& Vmis() {
  return *api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachineinstances");
}

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

Scheduler::Scheduler(store::Store& store, store::WatchCache& cache, SchedulingCache& nodes,
                     controller::EventRecorder& events, const Clock& clock, Config config)
    : store_(store), cache_(cache), nodes_(nodes), events_(events), clock_(clock),
      config_(config), volumes_(store, cache) {
  metrics::Describe("scheduler_schedule_attempts_total", "counter",
                    "Attempts to place a VMI, by result (scheduled, unschedulable, error).");
  metrics::Describe("scheduler_scheduling_attempt_duration_seconds", "histogram",
                    "Time of one placement attempt, including the binding write.");
  metrics::Describe("scheduler_pending_pods", "gauge",
                    "Pending VMIs that the last attempt could not place (queue=unschedulable).");
  std::vector<controller::Controller::Watch> watches = {
      {Vmis().KeyPrefix(),
       [](const store::CachedObject& o) -> std::vector<std::string> {
         if (IsPending(o)) return {o.key};
         return {};
       }},
  };
  // Several workers, so that their bindings share the store's group commits; placements stay
  // consistent through the scheduling cache's assumptions.
  controller_ = std::make_unique<controller::Controller>(
      "scheduler", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/4);
  // A node change that can make room retries the VMIs that found none; a heartbeat does not.
  // (Pending VMIs not tried yet are in the queue already.)
  nodes_.OnRoom([this] {
    std::vector<std::string> keys;
    {
      std::lock_guard lock(mu_);
      keys.assign(unschedulable_.begin(), unschedulable_.end());
    }
    for (const auto& key : keys) controller_->Enqueue(key);
  });
}

Scheduler::~Scheduler() { Stop(); }
void Scheduler::Start() { controller_->Start(); }
void Scheduler::Stop() {
  nodes_.OnRoom(nullptr);
  controller_->Stop();
}

StatusOr<controller::Result> Scheduler::Reconcile(const std::string& key) {
  const auto started = std::chrono::steady_clock::now();
  std::string result;  // Kubernetes' results: scheduled, unschedulable, error; "" = no attempt
  StatusOr<controller::Result> r = Attempt(key, result);
  if (!r.ok()) result = "error";
  {
    std::lock_guard lock(mu_);
    if (result == "unschedulable") unschedulable_.insert(key);
    else unschedulable_.erase(key);
    metrics::Set("scheduler_pending_pods", "queue=\"unschedulable\"", static_cast<double>(unschedulable_.size()));
  }
  if (!result.empty()) {
    metrics::Add("scheduler_schedule_attempts_total", "result=\"" + result + "\"");
    metrics::Observe("scheduler_scheduling_attempt_duration_seconds", "result=\"" + result + "\"",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return r;
}

StatusOr<controller::Result> Scheduler::Attempt(const std::string& key, std::string& result) {
  store::CachedPtr cached = cache_.Get(key);
  if (!cached) return controller::Result{};
  KUMO_ASSIGN_OR_RETURN(json::value vmi, ParseJson(cached->json));
  if (!GetString(vmi, {"status", "nodeName"}).empty() ||
      !GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
    return controller::Result{};
  }
  // Bound by an earlier pass that this cache entry does not show yet (or an instance of the
  // same name whose deletion the scheduling cache has not seen): look again shortly.
  if (nodes_.Counted(key)) return controller::Result{std::chrono::milliseconds(1000)};
  std::string now = FormatTime(clock_.NowUnixSeconds());
  StatusOr<Request> request = RequestForVmi(vmi, config_);
  if (request.ok()) {
    // A VM on local volumes runs where they are.
    StatusOr<std::optional<std::string>> required = volumes_.RequiredNode(vmi);
    if (!required.ok()) request = required.status();
    else if (*required) request->required_node = **required;
  }

  StatusOr<std::string> node = request.ok() ? nodes_.PickAndAssume(key, *request)
                                            : StatusOr<std::string>(request.status());
  bool assumed = node.ok();
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
  if (assumed && (!updated.ok() || !node.ok())) nodes_.Forget(key);
  if (!updated.ok()) {
    if (updated.status().code() == Code::kConflict || updated.status().code() == Code::kNotFound) {
      return controller::Result{};
    }
    if (updated.status().code() == Code::kAlreadyExists) {  // still unschedulable, as recorded
      result = "unschedulable";
      return controller::Result{std::chrono::milliseconds(5000)};
    }
    return updated.status();
  }
  result = node.ok() ? "scheduled" : "unschedulable";
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
