// The Tenant controller: each kumo.io/v1alpha1 Tenant owns the namespace of the same name. The
// controller creates it (labelled kumo.io/tenant=NAME, owned by the Tenant), reports the
// tenant's quota usage in status.usage, and, when the Tenant is deleted, deletes the namespace
// with everything in it and the tenant's token Secrets before letting the Tenant go (finalizer
// kumo.io/tenant-namespace).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/json.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller {

inline constexpr char kTenantFinalizer[] = "kumo.io/tenant-namespace";
// status.usage is refreshed at most this often per tenant.
inline constexpr std::chrono::seconds kUsageInterval{1};

// What the objects of a tenant's namespace claim, as the JSON of status.usage
// ({"vcpus": 2, "memory": "1200Mi", ...}). Supplied by the server (quota admission counts the
// same way).
using TenantUsageFunction = std::function<StatusOr<json::object>(const std::string& ns)>;

// Owns its controller threads; the store, cache and recorder must outlive it.
class TenantController {
 public:
  TenantController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
                   const Clock& clock, TenantUsageFunction usage);
  ~TenantController();
  void Start();
  void Stop();

  // Exposed for tests: one reconcile of the Tenant at `key`.
  StatusOr<Result> Reconcile(const std::string& key);

 private:
  StatusOr<Result> Finalize(const std::string& key, const json::value& tenant);
  Status EnsureNamespace(const json::value& tenant);
  Status UpdateStatus(const std::string& key, const json::value& tenant);

  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  const Clock& clock_;
  const TenantUsageFunction usage_;
  std::mutex mu_;
  std::map<std::string, int64_t> last_usage_us_;  // tenant key -> monotonic time of the last count
  std::unique_ptr<Controller> controller_;
};

}  // namespace kumo::controller
