// Authorization: may this caller do this verb on this resource? Every request is authorized
// after authentication and flow control and before admission. Three kinds of callers:
//
// - Cluster admins (group system:masters) may do anything.
// - Nodes (user system:node:NAME, group system:nodes) may read what an agent needs and write
//   only their own Node and Lease, the VMIs bound to them and Events. Which VMI is bound where
//   needs the stored object, so NodeRestriction admission checks that part.
// - Tenant users act only inside the namespaces of the tenants that list them as members, by
//   role: viewer reads VMs, VMIs, migrations, IP reservations and Events; member also reads
//   Secrets and changes VMs (start/stop/restart/migrate included), VMIs, migrations, Secrets
//   and IP reservations; admin also writes Events and Leases. Outside their namespaces they may
//   read flavors (cluster instancetypes and preferences), Images, and their own Tenant and
//   Namespace (never change them). Status subresources are written by Kumo alone.
//
// Denials are 403 Forbidden in kube-apiserver's words; SelfSubjectAccessReview (what
// `kubectl auth can-i` posts) is answered from the same decision, and SelfSubjectRulesReview
// (`kubectl auth can-i --list`) lists the same rules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/auth.h"
#include "http/http_server.h"
#include "server/request_info.h"
#include "server/tenancy.h"

namespace kumo::server {

inline constexpr char kMastersGroup[] = "system:masters";
inline constexpr char kNodesGroup[] = "system:nodes";
inline constexpr char kNodeUserPrefix[] = "system:node:";

// What a request asks to do (kube-apiserver's authorizer.Attributes). Value type.
struct Attributes {
  std::string user;
  std::vector<std::string> groups;
  std::string verb;  // get, list, watch, create, update, patch, delete, deletecollection
  bool resource_request = true;
  std::string path;  // non-resource requests only
  std::string group, resource, subresource, ns, name;
  std::string field_selector;  // of a list or watch, as sent
};

// The attributes of a parsed request. A list or watch whose field selector is exactly
// metadata.name=X is about object X, as in Kubernetes (so `kubectl get tenant X -w` works).
Attributes AttributesOf(const UserInfo& user, const RequestInfo& info, const Query& query);

// The node name of a node identity ("" when `user` is not a node).
std::string NodeNameOf(const UserInfo& user);

struct Decision {
  bool allowed = false;
  std::string reason;  // a short explanation; may be empty
};

// Thread-safe; borrows the directory, which must outlive it.
class Authorizer {
 public:
  explicit Authorizer(const TenantDirectory& tenants) : tenants_(tenants) {}

  Decision Authorize(const Attributes& a) const;

  // POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews: whether the caller may do
  // what spec.resourceAttributes (or spec.nonResourceAttributes) describes.
  http::Response ServeSelfSubjectAccessReview(const UserInfo& user, const http::Request& req) const;
  // POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews: what the caller may do in
  // spec.namespace, as rules (`kubectl auth can-i --list`).
  http::Response ServeSelfSubjectRulesReview(const UserInfo& user, const http::Request& req) const;

 private:
  Decision AuthorizeNode(const Attributes& a, const std::string& node) const;
  Decision AuthorizeTenantUser(const Attributes& a) const;

  const TenantDirectory& tenants_;
};

// The 403 for a denied request: `virtualmachines.kubevirt.io "vm1" is forbidden: User "alice"
// cannot get resource "virtualmachines" in API group "kubevirt.io" in the namespace "b"`,
// followed by ": <reason>" when there is one.
Status ForbiddenStatus(const Attributes& a, const std::string& reason);

// Discovery for authorization.k8s.io/v1, which is served here rather than by the registry.
std::string AuthorizationGroupJson();
std::string AuthorizationResourceListJson();
// `group_list` (an APIGroupList document) with authorization.k8s.io added.
std::string WithAuthorizationGroup(const std::string& group_list);

}  // namespace kumo::server
