// Admission: checks (and may change) a write after defaulting and validation, before it is
// stored — quotas, tenant node selectors, IP address checks. Plugins run in order; the first
// error rejects the request and nothing is stored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/resource.h"
#include "common/json.h"
#include "common/status.h"
#include "server/auth.h"

namespace kumo::server {

struct AdmissionRequest {
  std::string verb;  // create, update, patch, delete
  const api::ResourceInfo& resource;
  std::string ns;
  std::string name;
  std::string subresource;     // "" or "status"
  json::value* object = nullptr;      // the object to be stored (create/update/patch); mutable
  const json::value* old = nullptr;   // the stored object (update/patch/delete)
  const UserInfo* user = nullptr;     // the caller (nullptr for the server's own writes)
  bool dry_run = false;
};

// Invalid with one FieldValueForbidden cause, in kube-apiserver's words:
// `Kind "name" is invalid: <field>: Forbidden: <detail>`.
inline Status FieldForbidden(const AdmissionRequest& req, const std::string& field,
                             const std::string& detail) {
  return Invalid(req.resource.kind + " \"" + req.name + "\" is invalid: " + field +
                     ": Forbidden: " + detail,
                 {{"FieldValueForbidden", "Forbidden: " + detail, field}});
}

// Implementations must be thread-safe.
class AdmissionPlugin {
 public:
  virtual ~AdmissionPlugin() = default;
  virtual std::string name() const = 0;
  // OK to admit; otherwise the Status returned to the client (Forbidden, Invalid, ...).
  virtual Status Admit(const AdmissionRequest& request) = 0;
};

// The ordered list of plugins. Owned by the API server.
class AdmissionChain {
 public:
  void Add(std::unique_ptr<AdmissionPlugin> plugin) { plugins_.push_back(std::move(plugin)); }
  Status Admit(const AdmissionRequest& request) const {
    for (const auto& p : plugins_) KUMO_RETURN_IF_ERROR(p->Admit(request));
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<AdmissionPlugin>> plugins_;
};

}  // namespace kumo::server
