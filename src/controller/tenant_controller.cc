#include "controller/tenant_controller.h"

#include <optional>

#include "api/object.h"
#include "api/resource.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/objects.h"

namespace kumo::controller {

namespace {

constexpr char kTenantLabel[] = "kumo.io/tenant";
constexpr char kSystemNamespace[] = "kumo-system";

const api::ResourceInfo& Tenants() { return Resource("kumo.io", "v1alpha1", "tenants"); }
const api::ResourceInfo& Namespaces() { return Resource("", "v1", "namespaces"); }
const api::ResourceInfo& Secrets() { return Resource("", "v1", "secrets"); }

// The tenant whose namespace holds the object at `key` ("/registry/<g>/<plural>/<ns>/<name>").
std::string TenantKeyOfNamespaced(const std::string& key, const api::ResourceInfo& r) {
  std::string rest = key.substr(r.KeyPrefix().size());
  return Tenants().Key("", rest.substr(0, rest.find('/')));
}

}  // namespace

TenantController::TenantController(store::Store& store, store::WatchCache& cache,
                                   EventRecorder& events, const Clock& clock,
                                   TenantUsageFunction usage)
    : store_(store), cache_(cache), events_(events), clock_(clock), usage_(std::move(usage)) {
  std::vector<Controller::Watch> watches = {
      {Tenants().KeyPrefix(),
       [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
      {Namespaces().KeyPrefix(),
       [](const store::CachedObject& o) {
         return std::vector<std::string>{Tenants().Key("", o.Field("metadata.name"))};
       }},
  };
  // Changes to what counts against a quota refresh the tenant's usage, for tenants only.
  for (const auto* r : {&Resource("kubevirt.io", "v1", "virtualmachines"),
                        &Resource("kubevirt.io", "v1", "virtualmachineinstances"),
                        &Resource("kumo.io", "v1alpha1", "ipreservations"),
                        &Resource("", "v1", "persistentvolumeclaims"),
                        &Resource("cdi.kubevirt.io", "v1beta1", "datavolumes"),
                        &Resource("snapshot.storage.k8s.io", "v1", "volumesnapshots")}) {
    watches.push_back({r->KeyPrefix(), [r, &cache](const store::CachedObject& o) {
                         std::string key = TenantKeyOfNamespaced(o.key, *r);
                         if (!cache.Get(key)) return std::vector<std::string>{};
                         return std::vector<std::string>{key};
                       }});
  }
  controller_ = std::make_unique<Controller>(
      "tenant-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/1);
}

TenantController::~TenantController() { Stop(); }
void TenantController::Start() { controller_->Start(); }
void TenantController::Stop() { controller_->Stop(); }

StatusOr<Result> TenantController::Reconcile(const std::string& key) {
  KUMO_ASSIGN_OR_RETURN(std::optional<json::value> tenant, Load(store_, key));
  if (!tenant) return Result{};
  if (Terminating(*tenant)) return Finalize(key, *tenant);
  if (!HasFinalizer(*tenant, kTenantFinalizer)) {
    KUMO_RETURN_IF_ERROR(Mutate(store_, key, [](json::value& obj) {
      AddFinalizer(obj, kTenantFinalizer);
      return Status::Ok();
    }));
  }
  KUMO_RETURN_IF_ERROR(EnsureNamespace(*tenant));
  // Usage is recounted (and written) at most once per interval per tenant: a burst of VM
  // creates then costs one status write, not one per VM.
  int64_t now = clock_.NowMonotonicMicros();
  int64_t interval = std::chrono::duration_cast<std::chrono::microseconds>(kUsageInterval).count();
  {
    std::lock_guard lock(mu_);
    auto it = last_usage_us_.find(key);
    bool has_status = !GetString(*tenant, {"status", "phase"}).empty();
    if (has_status && it != last_usage_us_.end() && now - it->second < interval) {
      return Result{std::chrono::milliseconds((interval - (now - it->second)) / 1000 + 1)};
    }
    last_usage_us_[key] = now;
  }
  KUMO_RETURN_IF_ERROR(UpdateStatus(key, *tenant));
  return Result{};
}

Status TenantController::EnsureNamespace(const json::value& tenant) {
  std::string name = GetString(tenant, {"metadata", "name"});
  std::string ns_key = Namespaces().Key("", name);
  KUMO_ASSIGN_OR_RETURN(std::optional<json::value> ns, Load(store_, ns_key));
  if (!ns) {
    std::string now = FormatTime(clock_.NowUnixSeconds());
    json::value obj = json::object{
        {"apiVersion", "v1"},
        {"kind", "Namespace"},
        {"metadata",
         json::object{{"name", name},
                      {"uid", NewUid()},
                      {"creationTimestamp", now},
                      {"generation", 1},
                      {"labels", json::object{{kTenantLabel, name}}},
                      {"ownerReferences",
                       json::array{json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                                {"kind", "Tenant"},
                                                {"name", name},
                                                {"uid", GetString(tenant, {"metadata", "uid"})},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}}}}},
        {"spec", json::object{}},
        {"status", json::object{{"phase", "Active"}}}};
    StatusOr<store::KeyValue> created = store_.Create(ns_key, api::SerializeForStore(obj));
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
    if (created.ok()) {
      spdlog::info("tenant {}: namespace created", name);
      events_.Record(tenant, "Normal", "NamespaceCreated", "Created namespace " + name);
    }
    return Status::Ok();
  }
  if (Terminating(*ns)) return Status::Ok();  // being deleted by someone; recreated afterwards
  if (GetString(*ns, {"metadata", "labels", kTenantLabel}) != name) {
    // An existing namespace of that name is adopted.
    return Mutate(store_, ns_key, [&](json::value& obj) {
      EnsureObject(obj, {"metadata", "labels"})[kTenantLabel] = name;
      return Status::Ok();
    });
  }
  return Status::Ok();
}

Status TenantController::UpdateStatus(const std::string& key, const json::value& tenant) {
  std::string name = GetString(tenant, {"metadata", "name"});
  json::object status{{"phase", "Active"}, {"namespace", name}};
  if (usage_) {
    StatusOr<json::object> usage = usage_(name);
    if (!usage.ok()) return usage.status();
    status["usage"] = std::move(*usage);
  }
  const json::value* cur = Find(tenant, {"status"});
  if (cur && *cur == json::value(status)) return Status::Ok();
  return Mutate(store_, key, [&](json::value& obj) {
    obj.get_object()["status"] = status;
    return Status::Ok();
  });
}

StatusOr<Result> TenantController::Finalize(const std::string& key, const json::value& tenant) {
  std::string name = GetString(tenant, {"metadata", "name"});
  if (!HasFinalizer(tenant, kTenantFinalizer)) return Result{};
  {
    std::lock_guard lock(mu_);
    last_usage_us_.erase(key);
  }
  std::string ns_key = Namespaces().Key("", name);
  KUMO_ASSIGN_OR_RETURN(std::optional<json::value> ns, Load(store_, ns_key));
  if (GetString(tenant, {"status", "phase"}) != "Terminating") {
    Status st = Mutate(store_, key, [](json::value& obj) {
      EnsureObject(obj, {"status"})["phase"] = "Terminating";
      return Status::Ok();
    });
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  if (ns) {
    if (!Terminating(*ns)) {
      // The server's namespace sweeper deletes the contents, then the namespace.
      std::string now = FormatTime(clock_.NowUnixSeconds());
      Status st = Mutate(store_, ns_key, [&](json::value& obj) {
        EnsureObject(obj, {"metadata"})["deletionTimestamp"] = now;
        EnsureObject(obj, {"status"})["phase"] = "Terminating";
        return Status::Ok();
      });
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      spdlog::info("tenant {} deleted: deleting its namespace", name);
    }
    return Result{std::chrono::milliseconds(1000)};
  }
  // The namespace is gone: revoke the tenant's tokens, then let the Tenant go.
  std::string prefix = Secrets().KeyPrefix() + kSystemNamespace + "/";
  store::WatchCache::Page tokens = cache_.List(prefix, "", 0, [&](const store::CachedObject& o) {
    for (const auto& [k, v] : o.labels) {
      if (k == kTenantLabel) return v == name;
    }
    return false;
  });
  for (const auto& t : tokens.items) {
    Status st = store_.Delete(t->key, 0).status();
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  StatusOr<store::KeyValue> cur = store_.Get(key);
  if (!cur.ok())
    return cur.status().code() == Code::kNotFound ? StatusOr<Result>(Result{}) : cur.status();
  KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(cur->value));
  json::array kept;
  if (const json::value* fs = Find(obj, {"metadata", "finalizers"}); fs && fs->is_array()) {
    for (const auto& f : fs->get_array()) {
      if (!(f.is_string() && f.get_string() == kTenantFinalizer)) kept.push_back(f);
    }
  }
  StatusOr<store::KeyValue> done = kept.empty() ? store_.Delete(key, cur->mod_revision) : [&] {
    obj.get_object()["metadata"].get_object()["finalizers"] = kept;
    return store_.Update(key, api::SerializeForStore(obj), cur->mod_revision);
  }();
  if (!done.ok() && done.status().code() != Code::kConflict) return done.status();
  if (!done.ok()) return Result{std::chrono::milliseconds(100)};
  spdlog::info("tenant {} and its namespace are gone", name);
  return Result{};
}

}  // namespace kumo::controller
