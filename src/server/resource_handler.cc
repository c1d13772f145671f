#include "server/resource_handler.h"

#include "server/authz.h"

#include <chrono>

#include "api/kubevirt.h"
#include "api/object.h"
#include "common/log.h"
#include "server/object_meta.h"
#include "server/patch.h"
#include "server/protobuf_decode.h"
#include "server/responses.h"
#include "server/table.h"

namespace kumo::server {

namespace {

std::string Qualified(const api::ResourceInfo& r) {
  return r.group.empty() ? r.plural : r.plural + "." + r.group;
}

bool IsDryRun(const Query& q) {
  auto it = q.find("dryRun");
  return it != q.end() && it->second == "All";
}

StatusOr<json::value> ParseBody(const http::Request& req) {
  if (req.body.empty()) return BadRequest("the request body is empty; send a JSON object");
  std::string ct = req.Header("content-type");
  StatusOr<json::value> v = ct.find("protobuf") != std::string::npos
                                ? DecodeKubernetesProtobuf(req.body)
                            : ct.find("yaml") != std::string::npos ? ParseJsonOrYaml(req.body)
                                                                   : ParseJson(req.body);
  if (!v.ok()) return v;
  if (!v->is_object()) return BadRequest("the request body must be a JSON object");
  return v;
}

// Checks apiVersion/kind in a body against the URL's resource; fills them when missing.
Status CheckTypeMeta(const api::ResourceInfo& r, json::value& obj) {
  json::object& o = obj.get_object();
  std::string api_version = GetString(obj, {"apiVersion"});
  std::string kind = GetString(obj, {"kind"});
  if (!api_version.empty() && api_version != r.ApiVersion()) {
    return BadRequest("the API version in the data (" + api_version +
                      ") does not match the expected API version (" + r.ApiVersion() + ")");
  }
  if (!kind.empty() && kind != r.kind) {
    return BadRequest("the kind in the data (" + kind + ") does not match the expected kind (" +
                      r.kind + ") of resource " + Qualified(r));
  }
  if (const json::value* meta = Find(obj, {"metadata"}); meta && !meta->is_object()) {
    return BadRequest("metadata must be an object");
  }
  o["apiVersion"] = r.ApiVersion();
  o["kind"] = r.kind;
  EnsureObject(obj, {"metadata"});
  return Status::Ok();
}

// Removes a top-level member unless it is the only part of the object that should change.
json::value MemberOr(const json::value& obj, std::string_view key) {
  const json::value* v = Find(obj, {key});
  return v ? *v : json::value(nullptr);
}

// Everything but metadata and status: what a generation change is about.
bool SpecChanged(const json::value& a, const json::value& b) {
  const json::object& x = a.get_object();
  const json::object& y = b.get_object();
  auto count = [](const json::object& o) {
    size_t n = 0;
    for (const auto& kv : o) {
      if (kv.key() != "metadata" && kv.key() != "status") ++n;
    }
    return n;
  };
  if (count(x) != count(y)) return true;
  for (const auto& kv : x) {
    if (kv.key() == "metadata" || kv.key() == "status") continue;
    auto it = y.find(kv.key());
    if (it == y.end() || it->value() != kv.value()) return true;
  }
  return false;
}

bool HasFinalizers(const json::value& obj) {
  const json::value* f = Find(obj, {"metadata", "finalizers"});
  return f && f->is_array() && !f->get_array().empty();
}

int64_t ParseRv(std::string_view s) {
  if (s.empty()) return 0;
  char* end = nullptr;
  std::string str(s);
  long long v = std::strtoll(str.c_str(), &end, 10);
  if (!end || *end || v < 0) return -1;
  return v;
}

std::string NowString(const Clock& clock) { return FormatTime(clock.NowUnixSeconds()); }

}  // namespace

store::Store& ResourceHandler::StoreOf(const api::ResourceInfo& r) const {
  const StoreBinding* b = ctx_.store_for ? ctx_.store_for(r) : nullptr;
  return b ? b->store : ctx_.store;
}

store::WatchCache& ResourceHandler::CacheOf(const api::ResourceInfo& r) const {
  const StoreBinding* b = ctx_.store_for ? ctx_.store_for(r) : nullptr;
  return b ? b->cache : ctx_.cache;
}

Status ResourceHandler::ObjectResult(const Status& st, const api::ResourceInfo& r,
                                     std::string_view name) const {
  std::string q = Qualified(r);
  std::string n(name);
  switch (st.code()) {
    case Code::kNotFound:
      return NotFound(q + " \"" + n + "\" not found");
    case Code::kAlreadyExists:
      return AlreadyExists(q + " \"" + n + "\" already exists");
    case Code::kConflict:
      return Conflict("Operation cannot be fulfilled on " + q + " \"" + n + "\": " +
                      (st.message().empty() ? "conflict" : st.message()));
    default:
      return st;
  }
}

void ResourceHandler::Serve(const api::ResourceInfo& r, const RequestInfo& info,
                            const Query& query, const http::Request& req, const UserInfo& user,
                            http::ResponseWriter& writer) {
  auto started = std::chrono::steady_clock::now();
  StatusDetails details{info.name, r.group, r.plural};
  StatusOr<http::Response> result = NotFound("the server could not find the requested resource");
  bool subresource_ok = info.subresource.empty() || (info.subresource == "status" && r.has_status);
  bool scope_ok = r.namespaced ? (!info.namespace_.empty() || info.verb == "list" ||
                                  info.verb == "watch" || info.verb == "deletecollection")
                               : info.namespace_.empty();
  if (!subresource_ok || !scope_ok || (!info.subresource.empty() && info.name.empty())) {
    // result stays NotFound
  } else if (info.verb == "watch") {
    ctx_.metrics.WatchOpened(r.plural);
    Status st = Watch(r, info, query, req, writer);
    ctx_.metrics.WatchClosed(r.plural);
    if (!st.ok()) {
      writer.Send(StatusResponse(st, details));
    }
    ctx_.metrics.ObserveRequest("WATCH", r.plural, st.ok() ? 200 : HttpCodeOf(st.code()), 0);
    return;
  } else if (info.verb == "get") {
    result = Get(r, info, query, req, user);
  } else if (info.verb == "list") {
    result = List(r, info, query, req);
  } else if (info.verb == "create") {
    if (!info.name.empty()) {
      result = Status(Code::kMethodNotAllowed, "POST is not supported on a named " + r.kind +
                                                   "; use PUT or PATCH to change it");
    } else {
      result = Create(r, info, query, req, user);
    }
  } else if (info.verb == "update") {
    result = Update(r, info, query, req, user);
  } else if (info.verb == "patch") {
    result = Patch(r, info, query, req, user);
  } else if (info.verb == "delete") {
    result = Delete(r, info, query, req, user);
  } else if (info.verb == "deletecollection") {
    result = DeleteCollection(r, info, query, req);
  } else {
    result = Status(Code::kMethodNotAllowed, "the method " + req.method + " is not supported");
  }
  http::Response resp = result.ok() ? std::move(result).value() : StatusResponse(result.status(), details);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string verb = info.verb;
  for (auto& c : verb) c = static_cast<char>(toupper(c));
  ctx_.metrics.ObserveRequest(verb, r.plural, resp.status, secs);
  if (req.method == "HEAD") resp.body.clear();
  writer.Send(std::move(resp));
}

StatusOr<http::Response> ResourceHandler::Get(const api::ResourceInfo& r, const RequestInfo& info,
                                              const Query& query, const http::Request& req,
                                              const UserInfo& user) {
  std::string key = r.Key(info.namespace_, info.name);
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<store::KeyValue> kv = StoreOf(r).Get(key);
  ctx_.metrics.ObserveStore("get", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!kv.ok()) return ObjectResult(kv.status(), r, info.name);
  // A node reads only the VMIs bound to it (or migrating to or from it), as Kubernetes' Node
  // authorizer limits kubelets to their pods. The others do not exist for it: an agent treats
  // NotFound as "not mine".
  if (std::string node = NodeNameOf(user); !node.empty() && r.kind == "VirtualMachineInstance") {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(kv->value, kv->mod_revision));
    if (!api::VmiBoundTo(obj, node)) return ObjectResult(NotFound(""), r, info.name);
  }
  if (WantsTable(req.Header("accept"))) {
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(kv->value, kv->mod_revision));
    auto include = ParseIncludeObject(query.count("includeObject") ? query.at("includeObject") : "");
    json::object table = BuildTable(r, {obj}, include, true,
                                    json::object{{"resourceVersion", std::to_string(kv->mod_revision)}},
                                    ctx_.clock.NowUnixSeconds());
    return JsonResponse(200, json::serialize(table));
  }
  return JsonResponse(200, api::InjectResourceVersion(kv->value, kv->mod_revision));
}

Status ResourceHandler::PrepareUpdate(const api::ResourceInfo& r, const json::value& old,
                                      json::value& next, bool status_only) const {
  if (status_only) {
    // /status changes status only (and nothing else), as kube-apiserver does.
    json::value merged = old;
    json::value status = MemberOr(next, "status");
    if (status.is_null()) merged.get_object().erase("status");
    else merged.get_object()["status"] = std::move(status);
    // Let the status writer's resourceVersion precondition survive.
    next = std::move(merged);
  } else if (r.has_status) {
    json::value status = MemberOr(old, "status");
    if (status.is_null()) next.get_object().erase("status");
    else next.get_object()["status"] = std::move(status);
  }
  json::object& meta = EnsureObject(next, {"metadata"});
  const json::value& old_meta = *Find(old, {"metadata"});
  for (auto key : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "namespace", "generateName"}) {
    const json::value* v = Find(old_meta, {key});
    if (v) meta[key] = *v;
    else meta.erase(key);
  }
  int64_t generation = 1;
  if (const json::value* g = Find(old_meta, {"generation"}); g && g->is_int64()) {
    generation = g->get_int64();
  }
  if (!status_only && SpecChanged(old, next)) ++generation;
  meta["generation"] = generation;
  if (r.validate) KUMO_RETURN_IF_ERROR(r.validate(next));
  return Status::Ok();
}

StatusOr<json::value> ResourceHandler::Commit(const api::ResourceInfo& r, const std::string& key,
                                              const json::value& next, int64_t expected_rev,
                                              bool dry_run) {
  std::string name = GetString(next, {"metadata", "name"});
  KUMO_RETURN_IF_ERROR(CheckObjectBounds(next));  // what is stored must read back
  if (dry_run) return next;
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<store::KeyValue> written = StoreOf(r).Update(key, api::SerializeForStore(next), expected_rev);
  ctx_.metrics.ObserveStore("update", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!written.ok()) return written.status();
  bool terminating = !GetString(next, {"metadata", "deletionTimestamp"}).empty();
  if (terminating && !HasFinalizers(next)) {
    StatusOr<store::KeyValue> deleted = StoreOf(r).Delete(key, written->mod_revision);
    if (deleted.ok()) return api::ParseStored(deleted->value, deleted->mod_revision);
  }
  return api::ParseStored(written->value, written->mod_revision);
}

StatusOr<http::Response> ResourceHandler::Create(const api::ResourceInfo& r,
                                                 const RequestInfo& info, const Query& query,
                                                 const http::Request& req, const UserInfo& user) {
  KUMO_ASSIGN_OR_RETURN(json::value obj, ParseBody(req));
  KUMO_RETURN_IF_ERROR(CheckTypeMeta(r, obj));
  json::object& meta = EnsureObject(obj, {"metadata"});
  if (r.namespaced) {
    std::string body_ns = GetString(obj, {"metadata", "namespace"});
    if (!body_ns.empty() && body_ns != info.namespace_) {
      return BadRequest("the namespace of the provided object (" + body_ns +
                        ") does not match the namespace sent on the request (" + info.namespace_ + ")");
    }
    meta["namespace"] = info.namespace_;
  } else {
    meta.erase("namespace");
  }
  std::string name = GetString(obj, {"metadata", "name"});
  std::string generate = GetString(obj, {"metadata", "generateName"});
  if (name.empty() && !generate.empty()) {
    name = generate.substr(0, 58) + RandomSuffix(5);
    meta["name"] = name;
  }
  meta.erase("resourceVersion");
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowString(ctx_.clock);
  meta["generation"] = 1;
  if (r.group == "kubevirt.io") obj.get_object().erase("status");  // status comes from controllers
  if (r.set_defaults) r.set_defaults(obj);
  if (r.validate) KUMO_RETURN_IF_ERROR(r.validate(obj));
  KUMO_RETURN_IF_ERROR(ctx_.admission.Admit(AdmissionRequest{
      "create", r, info.namespace_, name, "", &obj, nullptr, &user, IsDryRun(query)}));

  if (r.namespaced) {
    const api::ResourceInfo* ns_info = ctx_.registry.Find("", "v1", "namespaces");
    StatusOr<store::KeyValue> ns = StoreOf(*ns_info).Get(ns_info->Key("", info.namespace_));
    if (!ns.ok()) {
      if (ns.status().code() == Code::kNotFound) {
        return NotFound("namespaces \"" + info.namespace_ + "\" not found");
      }
      return ns.status();
    }
    if (ns->value.find("\"deletionTimestamp\"") != std::string::npos) {
      return Forbidden("unable to create new content in namespace " + info.namespace_ +
                       " because it is being terminated");
    }
  }
  KUMO_RETURN_IF_ERROR(CheckObjectBounds(obj));  // what is stored must read back
  if (IsDryRun(query)) return JsonResponse(201, json::serialize(obj));
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<store::KeyValue> kv = StoreOf(r).Create(r.Key(info.namespace_, name), api::SerializeForStore(obj));
  ctx_.metrics.ObserveStore("create", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!kv.ok()) return ObjectResult(kv.status(), r, name);
  return JsonResponse(201, api::InjectResourceVersion(kv->value, kv->mod_revision));
}

StatusOr<http::Response> ResourceHandler::Update(const api::ResourceInfo& r,
                                                 const RequestInfo& info, const Query& query,
                                                 const http::Request& req, const UserInfo& user) {
  KUMO_ASSIGN_OR_RETURN(json::value obj, ParseBody(req));
  KUMO_RETURN_IF_ERROR(CheckTypeMeta(r, obj));
  std::string body_name = GetString(obj, {"metadata", "name"});
  if (body_name != info.name) {
    return BadRequest("the name of the object (" + body_name +
                      ") does not match the name on the URL (" + info.name + ")");
  }
  int64_t expected = ParseRv(GetString(obj, {"metadata", "resourceVersion"}));
  if (expected < 0) return BadRequest("metadata.resourceVersion must be a resource version from this server");
  std::string key = r.Key(info.namespace_, info.name);
  bool status_only = info.subresource == "status";
  for (int attempt = 0; attempt < 16; ++attempt) {
    StatusOr<store::KeyValue> cur = StoreOf(r).Get(key);
    if (!cur.ok()) return ObjectResult(cur.status(), r, info.name);
    if (expected != 0 && expected != cur->mod_revision) {
      return ObjectResult(Conflict("the object has been modified; please apply your changes to "
                                   "the latest version and try again"),
                          r, info.name);
    }
    KUMO_ASSIGN_OR_RETURN(json::value old, api::ParseStored(cur->value, cur->mod_revision));
    json::value next = obj;
    KUMO_RETURN_IF_ERROR(PrepareUpdate(r, old, next, status_only));
    KUMO_RETURN_IF_ERROR(ctx_.admission.Admit(AdmissionRequest{
        "update", r, info.namespace_, info.name, info.subresource, &next, &old, &user, IsDryRun(query)}));
    StatusOr<json::value> done = Commit(r, key, next, cur->mod_revision, IsDryRun(query));
    if (done.ok()) return JsonResponse(200, json::serialize(*done));
    if (done.status().code() != Code::kConflict || expected != 0) {
      return ObjectResult(done.status(), r, info.name);
    }
  }
  return ObjectResult(Conflict("too many concurrent changes; try again"), r, info.name);
}

StatusOr<http::Response> ResourceHandler::Patch(const api::ResourceInfo& r,
                                                const RequestInfo& info, const Query& query,
                                                const http::Request& req, const UserInfo& user) {
  KUMO_ASSIGN_OR_RETURN(PatchType type, PatchTypeOf(req.Header("content-type")));
  if (req.body.empty()) return BadRequest("the patch is empty");
  std::string key = r.Key(info.namespace_, info.name);
  bool status_only = info.subresource == "status";
  for (int attempt = 0; attempt < 16; ++attempt) {
    StatusOr<store::KeyValue> cur = StoreOf(r).Get(key);
    if (!cur.ok()) {
      if (cur.status().code() == Code::kNotFound && type == PatchType::kApply) {
        return Status(Code::kUnsupportedMediaType,
                      "server-side apply cannot create objects yet; use kubectl apply without "
                      "--server-side");
      }
      return ObjectResult(cur.status(), r, info.name);
    }
    KUMO_ASSIGN_OR_RETURN(json::value old, api::ParseStored(cur->value, cur->mod_revision));
    json::value next = old;
    KUMO_RETURN_IF_ERROR(ApplyPatch(type, req.body, next));
    KUMO_RETURN_IF_ERROR(CheckTypeMeta(r, next));
    if (GetString(next, {"metadata", "name"}) != info.name) {
      return BadRequest("a patch cannot change metadata.name");
    }
    std::string patched_rv = GetString(next, {"metadata", "resourceVersion"});
    if (!patched_rv.empty() && patched_rv != std::to_string(cur->mod_revision)) {
      return ObjectResult(Conflict("the object has been modified; please apply your changes to "
                                   "the latest version and try again"),
                          r, info.name);
    }
    KUMO_RETURN_IF_ERROR(PrepareUpdate(r, old, next, status_only));
    KUMO_RETURN_IF_ERROR(ctx_.admission.Admit(AdmissionRequest{
        "patch", r, info.namespace_, info.name, info.subresource, &next, &old, &user, IsDryRun(query)}));
    StatusOr<json::value> done = Commit(r, key, next, cur->mod_revision, IsDryRun(query));
    if (done.ok()) return JsonResponse(200, json::serialize(*done));
    if (done.status().code() != Code::kConflict) return ObjectResult(done.status(), r, info.name);
  }
  return ObjectResult(Conflict("too many concurrent changes; try again"), r, info.name);
}

StatusOr<json::value> ResourceHandler::DeleteObject(const api::ResourceInfo& r,
                                                    const std::string& key,
                                                    const std::string& name,
                                                    const json::value* options, bool dry_run) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    StatusOr<store::KeyValue> cur = StoreOf(r).Get(key);
    if (!cur.ok()) return ObjectResult(cur.status(), r, name);
    KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur->value, cur->mod_revision));
    if (options) {
      std::string want_uid = GetString(*options, {"preconditions", "uid"});
      std::string have_uid = GetString(obj, {"metadata", "uid"});
      if (!want_uid.empty() && want_uid != have_uid) {
        return ObjectResult(Conflict("Precondition failed: UID in precondition: " + want_uid +
                                     ", UID in object meta: " + have_uid),
                            r, name);
      }
      std::string want_rv = GetString(*options, {"preconditions", "resourceVersion"});
      if (!want_rv.empty() && want_rv != std::to_string(cur->mod_revision)) {
        return ObjectResult(Conflict("Precondition failed: ResourceVersion in precondition: " +
                                     want_rv + ", ResourceVersion in object meta: " +
                                     std::to_string(cur->mod_revision)),
                            r, name);
      }
    }
    if (dry_run) return obj;
    if (HasFinalizers(obj)) {
      // Graceful: mark for deletion; the finalizers' owners remove them, then it goes.
      if (!GetString(obj, {"metadata", "deletionTimestamp"}).empty()) return obj;
      json::object& meta = EnsureObject(obj, {"metadata"});
      meta["deletionTimestamp"] = NowString(ctx_.clock);
      meta["deletionGracePeriodSeconds"] = 0;
      StatusOr<store::KeyValue> kv = StoreOf(r).Update(key, api::SerializeForStore(obj), cur->mod_revision);
      if (kv.ok()) return api::ParseStored(kv->value, kv->mod_revision);
      if (kv.status().code() != Code::kConflict) return ObjectResult(kv.status(), r, name);
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    StatusOr<store::KeyValue> kv = StoreOf(r).Delete(key, cur->mod_revision);
    ctx_.metrics.ObserveStore("delete", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (kv.ok()) return api::ParseStored(kv->value, kv->mod_revision);
    if (kv.status().code() != Code::kConflict) return ObjectResult(kv.status(), r, name);
  }
  return ObjectResult(Conflict("too many concurrent changes; try again"), r, name);
}

StatusOr<http::Response> ResourceHandler::Delete(const api::ResourceInfo& r,
                                                 const RequestInfo& info, const Query& query,
                                                 const http::Request& req, const UserInfo& user) {
  if (!info.subresource.empty()) {
    return Status(Code::kMethodNotAllowed, "DELETE is not supported on the " + info.subresource +
                                               " subresource");
  }
  std::optional<json::value> options;
  if (!req.body.empty()) {
    KUMO_ASSIGN_OR_RETURN(json::value o, ParseBody(req));
    options = std::move(o);
  }
  bool dry_run = IsDryRun(query);
  if (options) {
    const json::value* d = Find(*options, {"dryRun"});
    if (d && d->is_array() && !d->get_array().empty() && d->get_array()[0] == "All") dry_run = true;
  }
  KUMO_RETURN_IF_ERROR(ctx_.admission.Admit(AdmissionRequest{
      "delete", r, info.namespace_, info.name, "", nullptr, nullptr, &user, dry_run}));
  std::string key = r.Key(info.namespace_, info.name);
  if (r.kind == "Namespace" && !dry_run) {
    // Mark terminating, delete the contents, then the namespace once it is empty.
    StatusOr<store::KeyValue> marked = store::GuaranteedUpdate(
        StoreOf(r), key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
          KUMO_ASSIGN_OR_RETURN(json::value obj, api::ParseStored(cur.value, cur.mod_revision));
          if (GetString(obj, {"metadata", "deletionTimestamp"}).empty()) {
            EnsureObject(obj, {"metadata"})["deletionTimestamp"] = NowString(ctx_.clock);
          }
          EnsureObject(obj, {"status"})["phase"] = "Terminating";
          return api::SerializeForStore(obj);
        });
    if (!marked.ok()) return ObjectResult(marked.status(), r, info.name);
    KUMO_ASSIGN_OR_RETURN(size_t remaining, DeleteNamespaceContents(info.name));
    if (remaining > 0) {
      return JsonResponse(200, api::InjectResourceVersion(marked->value, marked->mod_revision));
    }
    StatusOr<store::KeyValue> kv = StoreOf(r).Delete(key, 0);
    if (!kv.ok()) return ObjectResult(kv.status(), r, info.name);
    return JsonResponse(200, api::InjectResourceVersion(kv->value, kv->mod_revision));
  }
  KUMO_ASSIGN_OR_RETURN(json::value obj, DeleteObject(r, key, info.name,
                                                      options ? &*options : nullptr, dry_run));
  return JsonResponse(200, json::serialize(obj));
}

StatusOr<size_t> ResourceHandler::DeleteNamespaceContents(const std::string& ns) {
  size_t remaining = 0;
  for (const auto& r : ctx_.registry.resources()) {
    if (!r.namespaced) continue;
    std::string prefix = r.KeyPrefix() + ns + "/";
    KUMO_ASSIGN_OR_RETURN(store::ListResult list, StoreOf(r).List(prefix, "", 0, 0));
    for (const auto& kv : list.items) {
      std::string name = kv.key.substr(prefix.size());
      StatusOr<json::value> res = DeleteObject(r, kv.key, name, nullptr, false);
      if (!res.ok()) {
        if (res.status().code() != Code::kNotFound) ++remaining;
        continue;
      }
      if (!GetString(*res, {"metadata", "deletionTimestamp"}).empty() && HasFinalizers(*res)) {
        ++remaining;
      }
    }
  }
  return remaining;
}

StatusOr<http::Response> ResourceHandler::DeleteCollection(const api::ResourceInfo& r,
                                                           const RequestInfo& info,
                                                           const Query& query,
                                                           const http::Request& req) {
  // Select with the same rules as list, then delete one by one.
  Query list_query = query;
  list_query.erase("limit");
  list_query.erase("continue");
  http::Request plain = req;
  plain.headers.clear();
  KUMO_ASSIGN_OR_RETURN(http::Response listed, List(r, info, list_query, plain));
  KUMO_ASSIGN_OR_RETURN(json::value list, ParseJson(listed.body));
  json::array deleted;
  bool dry_run = IsDryRun(query);
  for (const auto& item : list.at("items").get_array()) {
    std::string ns = GetString(item, {"metadata", "namespace"});
    std::string name = GetString(item, {"metadata", "name"});
    StatusOr<json::value> res = DeleteObject(r, r.Key(ns, name), name, nullptr, dry_run);
    if (res.ok()) deleted.push_back(std::move(*res));
    else if (res.status().code() != Code::kNotFound) return res.status();
  }
  json::object out{{"kind", r.ListKind()},
                   {"apiVersion", r.ApiVersion()},
                   {"metadata", json::object{}},
                   {"items", std::move(deleted)}};
  return JsonResponse(200, json::serialize(out));
}

}  // namespace kumo::server
