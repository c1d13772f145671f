#include "server/authz.h"

#include <algorithm>
#include <map>

#include "api/resource.h"
#include "api/storage.h"
#include "common/json.h"
#include "server/responses.h"

namespace kumo::server {

namespace {

constexpr char kAuthzGroup[] = "authorization.k8s.io";
constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

bool HasGroup(const Attributes& a, std::string_view group) {
  return std::find(a.groups.begin(), a.groups.end(), group) != a.groups.end();
}

bool IsRead(std::string_view verb) { return verb == "get" || verb == "list" || verb == "watch"; }

Decision Allow() { return {true, ""}; }
Decision Deny(std::string reason = "") { return {false, std::move(reason)}; }

// A resource of a tenant namespace and the weakest roles that may read and write it.
struct TenantRule {
  std::string_view group;
  std::string_view resource;  // "*": every resource of the group
  TenantRole read;
  TenantRole write;
};
constexpr TenantRule kTenantRules[] = {
    {"kubevirt.io", "virtualmachines", TenantRole::kViewer, TenantRole::kMember},
    {"kubevirt.io", "virtualmachineinstances", TenantRole::kViewer, TenantRole::kMember},
    {"kubevirt.io", "virtualmachineinstancemigrations", TenantRole::kViewer, TenantRole::kMember},
    {"subresources.kubevirt.io", "*", TenantRole::kMember, TenantRole::kMember},
    {"kumo.io", "ipreservations", TenantRole::kViewer, TenantRole::kMember},
    {"", "persistentvolumeclaims", TenantRole::kViewer, TenantRole::kMember},
    {"cdi.kubevirt.io", "datavolumes", TenantRole::kViewer, TenantRole::kMember},
    {"snapshot.storage.k8s.io", "volumesnapshots", TenantRole::kViewer, TenantRole::kMember},
    {"", "services", TenantRole::kViewer, TenantRole::kMember},
    {"", "secrets", TenantRole::kMember, TenantRole::kMember},
    {"", "events", TenantRole::kViewer, TenantRole::kAdmin},
    {"coordination.k8s.io", "leases", TenantRole::kAdmin, TenantRole::kAdmin},
};

const TenantRule* FindTenantRule(std::string_view group, std::string_view resource) {
  for (const auto& r : kTenantRules) {
    if (r.group == group && (r.resource == "*" || r.resource == resource)) return &r;
  }
  return nullptr;
}

// Cluster-scoped resources every authenticated user may read.
bool IsPublicCatalog(std::string_view group, std::string_view resource) {
  return (group == "instancetype.kubevirt.io" &&
          (resource == "virtualmachineclusterinstancetypes" ||
           resource == "virtualmachineclusterpreferences")) ||
         (group == "kumo.io" && resource == "images") ||
         (group == "storage.k8s.io" && resource == "storageclasses");
}

// What a node agent reads, as Kubernetes' Node authorizer allows a kubelet only what its pods
// need: cluster-wide networking and image objects, and VMIs only as below. Never a tenant's
// VMs (cloud-init user data), reservations or namespaces.
constexpr std::pair<std::string_view, std::string_view> kNodeReadable[] = {
      {"", "nodes"},
      {"coordination.k8s.io", "leases"},
      {"kumo.io", "images"},
      {"kumo.io", "ippools"},
      {"kumo.io", "bgppeers"},
      {"kumo.io", "bgpconfigurations"},
};

// The only PV (or snapshot content) lists and watches a node may make: those it holds, selected
// on `field`.
bool NodePvSelector(std::string_view selector, std::string_view field_name, std::string_view node) {
  const std::string field = std::string(field_name) + "=";
  return selector.size() == field.size() + node.size() && selector.starts_with(field) &&
         selector.substr(field.size()) == node;
}

// The only VMI lists and watches a node may make: those bound to it, and those migrating to it.
bool NodeVmiSelector(std::string_view selector, std::string_view node) {
  for (std::string_view field : {"status.nodeName=", "status.migrationState.targetNode="}) {
    if (selector.size() == field.size() + node.size() && selector.starts_with(field) &&
        selector.substr(field.size()) == node) {
      return true;
    }
  }
  return false;
}

bool NodeMayRead(std::string_view group, std::string_view resource) {
  for (const auto& [g, r] : kNodeReadable) {
    if (g == group && (r == "*" || r == resource)) return true;
  }
  return false;
}

// Just enough protobuf to read the SelfSubjectAccessReview that kubectl's typed client sends
// as application/vnd.kubernetes.protobuf: "k8s\0" + runtime.Unknown{raw = 2} wrapping
// {spec = 2 {resourceAttributes = 1 {namespace 1, verb 2, group 3, version 4, resource 5,
// subresource 6, name 7}, nonResourceAttributes = 2 {path 1, verb 2}}}.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}
  // Next length-delimited field (others are skipped); false at the end or on malformed input.
  bool NextBytes(uint32_t& field, std::string_view& value) {
    while (pos_ < data_.size()) {
      uint64_t key = Varint();
      if (!ok_) return false;
      uint32_t wire = static_cast<uint32_t>(key & 7);
      field = static_cast<uint32_t>(key >> 3);
      if (wire == 2) {
        uint64_t n = Varint();
        if (!ok_ || n > data_.size() - pos_) return ok_ = false;
        value = data_.substr(pos_, n);
        pos_ += n;
        return true;
      }
      if (wire == 0)
        Varint();
      else if (wire == 1)
        pos_ += 8;
      else if (wire == 5)
        pos_ += 4;
      else
        return ok_ = false;
      if (!ok_ || pos_ > data_.size()) return ok_ = false;
    }
    return false;
  }
  bool ok() const { return ok_; }

 private:
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The message's length-delimited fields by number.
std::map<uint32_t, std::string_view> Fields(std::string_view msg) {
  std::map<uint32_t, std::string_view> out;
  ProtoReader r(msg);
  uint32_t f;
  std::string_view v;
  while (r.NextBytes(f, v)) out.emplace(f, v);
  return out;
}

StatusOr<json::value> DecodeReviewProtobuf(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic)
    return BadRequest("the protobuf body lacks the Kubernetes prefix");
  auto unknown = Fields(body.substr(4));
  auto spec = Fields(Fields(unknown[2])[2]);
  json::object out{{"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SelfSubjectAccessReview"}};
  json::object js;
  if (spec.count(1)) {
    auto f = Fields(spec[1]);
    static constexpr const char* kNames[] = {"",        "namespace", "verb",        "group",
                                             "version", "resource",  "subresource", "name"};
    json::object attrs;
    for (uint32_t i = 1; i <= 7; ++i) {
      if (f.count(i)) attrs[kNames[i]] = std::string(f[i]);
    }
    js["resourceAttributes"] = std::move(attrs);
  } else if (spec.count(2)) {
    auto f = Fields(spec[2]);
    js["nonResourceAttributes"] =
        json::object{{"path", std::string(f[1])}, {"verb", std::string(f[2])}};
  }
  out["spec"] = std::move(js);
  json::value review(std::move(out));
  KUMO_RETURN_IF_ERROR(CheckUtf8(review));  // echoed back as JSON
  return review;
}

// spec.namespace of a SelfSubjectRulesReview sent as protobuf: "k8s\0" + runtime.Unknown{raw
// = 2} wrapping {spec = 2 {namespace = 1}}.
StatusOr<std::string> RulesReviewNamespaceProtobuf(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic)
    return BadRequest("the protobuf body lacks the Kubernetes prefix");
  auto unknown = Fields(body.substr(4));
  std::string ns(Fields(Fields(unknown[2])[2])[1]);
  KUMO_RETURN_IF_ERROR(CheckUtf8(json::object{{"spec", json::object{{"namespace", ns}}}}));
  return ns;
}

json::object Rule(json::array verbs, json::array groups, json::array resources,
                  json::array names = {}) {
  json::object r{{"verbs", std::move(verbs)}, {"apiGroups", std::move(groups)},
                 {"resources", std::move(resources)}};
  if (!names.empty()) r["resourceNames"] = std::move(names);
  return r;
}

const json::array& ReadVerbs() {
  static const json::array verbs{"get", "list", "watch"};
  return verbs;
}
const json::array& WriteVerbs() {
  static const json::array verbs{"create", "update", "patch", "delete", "deletecollection"};
  return verbs;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += "\"";
  return out;
}

}  // namespace

Attributes AttributesOf(const UserInfo& user, const RequestInfo& info, const Query& query) {
  Attributes a;
  a.user = user.name;
  a.groups = user.groups;
  a.resource_request = info.is_resource_request;
  if (!info.is_resource_request) {
    a.path = info.path;
    a.verb = "get";
    return a;
  }
  a.verb = info.verb;
  a.group = info.group;
  a.resource = info.resource;
  a.subresource = info.subresource;
  a.ns = info.namespace_;
  a.name = info.name;
  if (auto fs = query.find("fieldSelector"); fs != query.end()) a.field_selector = fs->second;
  if (a.name.empty() && (a.verb == "list" || a.verb == "watch")) {
    auto it = query.find("fieldSelector");
    constexpr std::string_view kByName = "metadata.name=";
    if (it != query.end() && it->second.rfind(kByName, 0) == 0 &&
        it->second.find(',') == std::string::npos) {
      a.name = it->second.substr(kByName.size());
    }
  }
  return a;
}

std::string NodeNameOf(const UserInfo& user) {
  constexpr std::string_view kPrefix = kNodeUserPrefix;
  if (user.name.rfind(kPrefix, 0) != 0) return "";
  if (std::find(user.groups.begin(), user.groups.end(), kNodesGroup) == user.groups.end())
    return "";
  return user.name.substr(kPrefix.size());
}

Decision Authorizer::Authorize(const Attributes& a) const {
  if (HasGroup(a, kMastersGroup)) return Allow();
  if (!a.resource_request) {
    // Discovery, OpenAPI and version are for everyone who is authenticated (kube-apiserver's
    // system:discovery); metrics describe every tenant's load and stay with admins.
    if (a.path == "/metrics" || a.path.rfind("/metrics/", 0) == 0) return Deny();
    return Allow();
  }
  if (a.group == kAuthzGroup &&
      (a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews")) {
    return a.verb == "create" ? Allow() : Deny();
  }
  UserInfo user{a.user, a.groups};
  if (std::string node = NodeNameOf(user); !node.empty()) return AuthorizeNode(a, node);
  return AuthorizeTenantUser(a);
}

Decision Authorizer::AuthorizeNode(const Attributes& a, const std::string& node) const {
  bool own = a.name == node;
  if (IsRead(a.verb)) {
    if (NodeMayRead(a.group, a.resource)) return Allow();
    if (a.group == "kubevirt.io" && a.resource == "virtualmachineinstances") {
      // One by name: the handler answers NotFound unless the VMI is bound to this node.
      if (a.verb == "get") return Allow();
      if (NodeVmiSelector(a.field_selector, node)) return Allow();
      return Deny("a node lists and watches only its own VMIs: use fieldSelector "
                  "status.nodeName=" + node + " or status.migrationState.targetNode=" + node);
    }
    // The volumes it holds, to remove the data of those released (NodeRestriction lets it
    // drop only the cleanup finalizer of its own).
    if (a.group.empty() && a.resource == "persistentvolumes" &&
        NodePvSelector(a.field_selector, api::kPvNodeField, node)) {
      return Allow();
    }
    // The snapshots it copies (and later removes).
    if (a.group == api::kSnapshotGroup && a.resource == "volumesnapshotcontents" &&
        NodePvSelector(a.field_selector, api::kSnapshotNodeField, node)) {
      return Allow();
    }
    // An address's allocation, by name: the agent checks that IPAM gave a VMI its address.
    if (a.group == "kumo.io" && a.resource == "ipallocations" && a.verb == "get") {
      return Allow();
    }
    return Deny("nodes may only read what their agent needs");
  }
  bool change = a.verb == "update" || a.verb == "patch";
  if (a.group.empty() && a.resource == "nodes") {
    if (a.verb == "create" && a.subresource.empty())
      return Allow();  // NodeRestriction checks the name
    if (change && own) return Allow();
    return Deny("a node may only change its own Node object");
  }
  if (a.group == "coordination.k8s.io" && a.resource == "leases" && a.ns == kNodeLeaseNamespace) {
    if (a.verb == "create") return Allow();  // NodeRestriction checks the name
    if (change && own) return Allow();
    return Deny("a node may only change its own Lease");
  }
  if (a.group == "kubevirt.io" && a.resource == "virtualmachineinstances" && change) {
    return Allow();  // NodeRestriction checks that the VMI is bound to this node
  }
  if (a.group.empty() && a.resource == "events" && (a.verb == "create" || change)) return Allow();
  if (a.group.empty() && a.resource == "persistentvolumes" && change && a.subresource.empty()) {
    return Allow();  // NodeRestriction checks that the volume is this node's
  }
  if (a.group == api::kSnapshotGroup && a.resource == "volumesnapshotcontents" && change) {
    return Allow();  // NodeRestriction checks that the copy is this node's
  }
  return Deny("nodes may only change their own Node and Lease, the VMIs bound to them and Events");
}

Decision Authorizer::AuthorizeTenantUser(const Attributes& a) const {
  bool read = IsRead(a.verb);
  if (a.ns.empty()) {
    if (IsPublicCatalog(a.group, a.resource)) {
      return read ? Allow() : Deny("flavors and images are read-only for tenants");
    }
    bool own_tenant_object = (a.group == "kumo.io" && a.resource == "tenants") ||
                             (a.group.empty() && a.resource == "namespaces");
    if (own_tenant_object && !a.name.empty()) {
      auto tenant = tenants_.Get(a.name);
      if (tenant && tenant->RoleOf(a.user, a.groups) != TenantRole::kNone) {
        if (read) return Allow();
        return Deny(
            "a tenant and its namespace are read-only for its members; a cluster admin "
            "changes quotas and members");
      }
    }
    return Deny();
  }
  auto tenant = tenants_.Get(a.ns);
  TenantRole role = tenant ? tenant->RoleOf(a.user, a.groups) : TenantRole::kNone;
  if (role == TenantRole::kNone) return Deny();
  const TenantRule* rule = FindTenantRule(a.group, a.resource);
  if (!rule) return Deny();
  if (a.subresource == "status" && !read) {
    return Deny("status is written by Kumo's controllers and agents");
  }
  TenantRole needed = read ? rule->read : rule->write;
  if (role >= needed) return Allow();
  return Deny(std::string("the ") + RoleName(needed) + " role is needed; " + Quote(a.user) +
              " is " + (role == TenantRole::kAdmin ? "an " : "a ") + RoleName(role) +
              " of tenant " + Quote(a.ns));
}

Status ForbiddenStatus(const Attributes& a, const std::string& reason) {
  std::string msg;
  if (!a.resource_request) {
    msg = "forbidden: User " + Quote(a.user) + " cannot " + a.verb + " path " + Quote(a.path);
  } else {
    std::string qualified = a.group.empty() ? a.resource : a.resource + "." + a.group;
    std::string resource = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
    msg =
        qualified + (a.name.empty() ? "" : " " + Quote(a.name)) + " is forbidden: User " +
        Quote(a.user) + " cannot " + a.verb + " resource " + Quote(resource) + " in API group " +
        Quote(a.group) +
        (a.ns.empty() ? std::string(" at the cluster scope") : " in the namespace " + Quote(a.ns));
  }
  if (!reason.empty()) msg += ": " + reason;
  return Forbidden(std::move(msg));
}

http::Response Authorizer::ServeSelfSubjectAccessReview(const UserInfo& user,
                                                        const http::Request& req) const {
  StatusOr<json::value> body = req.Header("content-type").find("protobuf") != std::string::npos
                                   ? DecodeReviewProtobuf(req.body)
                                   : ParseJsonOrYaml(req.body);
  if (!body.ok()) return StatusResponse(body.status());  // e.g. 413 for a YAML alias bomb
  if (!body->is_object()) {
    return StatusResponse(BadRequest("the body must be a SelfSubjectAccessReview object"));
  }
  Attributes a;
  a.user = user.name;
  a.groups = user.groups;
  const json::value* res = Find(*body, {"spec", "resourceAttributes"});
  const json::value* nonres = Find(*body, {"spec", "nonResourceAttributes"});
  if (res && res->is_object()) {
    a.verb = GetString(*res, {"verb"});
    a.group = GetString(*res, {"group"});
    a.resource = GetString(*res, {"resource"});
    a.subresource = GetString(*res, {"subresource"});
    a.ns = GetString(*res, {"namespace"});
    a.name = GetString(*res, {"name"});
    // kubectl sends its current namespace even for cluster-scoped kinds; a request for one
    // carries no namespace, so neither does the question.
    for (const auto& r : api::DefaultRegistry().resources()) {
      if (r.group == a.group && r.plural == a.resource && !r.namespaced) a.ns.clear();
    }
  } else if (nonres && nonres->is_object()) {
    a.resource_request = false;
    a.path = GetString(*nonres, {"path"});
    a.verb = GetString(*nonres, {"verb"});
  } else {
    return StatusResponse(
        Invalid("SelfSubjectAccessReview is invalid: spec: exactly one of resourceAttributes or "
                "nonResourceAttributes must be set",
                {{"FieldValueRequired", "resourceAttributes or nonResourceAttributes", "spec"}}));
  }
  Decision d;
  if (a.verb == "*" || a.resource == "*" || a.group == "*") {
    // Wildcards ask about everything at once: only cluster admins may do everything.
    d = HasGroup(a, kMastersGroup) ? Allow() : Deny("only cluster admins may do everything");
  } else {
    d = Authorize(a);
  }
  json::object status{{"allowed", d.allowed}};
  if (!d.reason.empty())
    status["reason"] = d.reason;
  else if (d.allowed)
    status["reason"] = HasGroup(a, kMastersGroup) ? "cluster admin" : "allowed by Kumo";
  json::object out = body->get_object();
  out["apiVersion"] = "authorization.k8s.io/v1";
  out["kind"] = "SelfSubjectAccessReview";
  json::object& meta = EnsureObject(*body, {"metadata"});
  out["metadata"] = meta;
  out["status"] = std::move(status);
  return JsonResponse(201, json::serialize(out));
}

http::Response Authorizer::ServeSelfSubjectRulesReview(const UserInfo& user,
                                                       const http::Request& req) const {
  std::string ns;
  if (req.Header("content-type").find("protobuf") != std::string::npos) {
    auto got = RulesReviewNamespaceProtobuf(req.body);
    if (!got.ok()) return StatusResponse(got.status());
    ns = *got;
  } else {
    auto body = ParseJsonOrYaml(req.body);
    if (!body.ok()) return StatusResponse(body.status());
    if (!body->is_object()) {
      return StatusResponse(BadRequest("the body must be a SelfSubjectRulesReview object"));
    }
    ns = GetString(*body, {"spec", "namespace"});
  }
  Attributes who;
  who.user = user.name;
  who.groups = user.groups;
  json::array resource_rules{Rule({"create"}, {kAuthzGroup},
                                  {"selfsubjectaccessreviews", "selfsubjectrulesreviews"})};
  json::array nonresource_rules{json::object{
      {"verbs", json::array{"get"}},
      {"nonResourceURLs", json::array{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                      "/openapi", "/openapi/*", "/readyz", "/version",
                                      "/version/"}}}};
  if (HasGroup(who, kMastersGroup)) {
    resource_rules.push_back(Rule({"*"}, {"*"}, {"*"}));
    nonresource_rules.push_back(
        json::object{{"verbs", json::array{"*"}}, {"nonResourceURLs", json::array{"*"}}});
  } else if (std::string node = NodeNameOf(user); !node.empty()) {
    for (const auto& [group, resource] : kNodeReadable) {
      resource_rules.push_back(Rule(ReadVerbs(), {group}, {resource}));
    }
    // VMIs: get (those bound to it), list and watch with its own field selector only.
    resource_rules.push_back(Rule({"get"}, {"kubevirt.io"}, {"virtualmachineinstances"}));
    resource_rules.push_back(Rule({"get"}, {"kumo.io"}, {"ipallocations"}));
    resource_rules.push_back(Rule({"create"}, {""}, {"nodes", "events"}));
    resource_rules.push_back(Rule({"update", "patch"}, {""}, {"nodes", "nodes/status"}, {node}));
    resource_rules.push_back(Rule({"create"}, {"coordination.k8s.io"}, {"leases"}));
    resource_rules.push_back(Rule({"update", "patch"}, {"coordination.k8s.io"}, {"leases"}, {node}));
    resource_rules.push_back(Rule({"update", "patch"}, {"kubevirt.io"},
                                  {"virtualmachineinstances", "virtualmachineinstances/status"}));
    resource_rules.push_back(Rule({"update", "patch"}, {""}, {"events"}));
  } else {
    resource_rules.push_back(Rule(ReadVerbs(), {"instancetype.kubevirt.io"},
                                  {"virtualmachineclusterinstancetypes",
                                   "virtualmachineclusterpreferences"}));
    resource_rules.push_back(Rule(ReadVerbs(), {"kumo.io"}, {"images"}));
    auto tenant = ns.empty() ? nullptr : tenants_.Get(ns);
    TenantRole role = tenant ? tenant->RoleOf(user.name, user.groups) : TenantRole::kNone;
    if (role != TenantRole::kNone) {
      resource_rules.push_back(Rule({"get"}, {"kumo.io"}, {"tenants"}, {ns}));
      resource_rules.push_back(Rule({"get"}, {""}, {"namespaces"}, {ns}));
      for (const auto& r : kTenantRules) {
        json::array verbs;
        if (role >= r.read) verbs = ReadVerbs();
        if (role >= r.write) {
          for (const auto& v : WriteVerbs()) verbs.push_back(v);
        }
        if (!verbs.empty()) resource_rules.push_back(Rule(std::move(verbs), {r.group}, {r.resource}));
      }
    }
  }
  json::object out{
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SelfSubjectRulesReview"},
      {"metadata", json::object{{"creationTimestamp", nullptr}}},
      {"spec", json::object{{"namespace", ns}}},
      {"status", json::object{{"resourceRules", std::move(resource_rules)},
                              {"nonResourceRules", std::move(nonresource_rules)},
                              {"incomplete", false}}}};
  return JsonResponse(201, json::serialize(out));
}

std::string AuthorizationGroupJson() {
  json::object gv{{"groupVersion", "authorization.k8s.io/v1"}, {"version", "v1"}};
  return json::serialize(json::object{{"kind", "APIGroup"},
                                      {"apiVersion", "v1"},
                                      {"name", kAuthzGroup},
                                      {"versions", json::array{gv}},
                                      {"preferredVersion", gv}});
}

std::string AuthorizationResourceListJson() {
  json::object ssar{{"name", "selfsubjectaccessreviews"},
                    {"singularName", "selfsubjectaccessreview"},
                    {"namespaced", false},
                    {"kind", "SelfSubjectAccessReview"},
                    {"verbs", json::array{"create"}}};
  json::object ssrr{{"name", "selfsubjectrulesreviews"},
                    {"singularName", "selfsubjectrulesreview"},
                    {"namespaced", false},
                    {"kind", "SelfSubjectRulesReview"},
                    {"verbs", json::array{"create"}}};
  return json::serialize(json::object{{"kind", "APIResourceList"},
                                      {"apiVersion", "v1"},
                                      {"groupVersion", "authorization.k8s.io/v1"},
                                      {"resources", json::array{ssar, ssrr}}});
}

std::string WithAuthorizationGroup(const std::string& group_list) {
  StatusOr<json::value> list = ParseJson(group_list);
  if (!list.ok() || !list->is_object()) return group_list;
  json::value* groups = Find(*list, {"groups"});
  if (!groups || !groups->is_array()) return group_list;
  json::value group = ParseJson(AuthorizationGroupJson()).value();
  group.get_object().erase("kind");
  group.get_object().erase("apiVersion");
  groups->get_array().push_back(std::move(group));
  return json::serialize(*list);
}

}  // namespace kumo::server
