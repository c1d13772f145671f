// The generic REST handler for every kind in the registry: get, list, watch, create, update,
// patch, delete, deletecollection, and the /status subresource, with Kubernetes semantics
// (resourceVersion preconditions, generateName, finalizers, dry run, Tables, selectors).
#pragma once

#include <functional>

#include "api/resource.h"
#include "common/clock.h"
#include "server/admission.h"
#include "server/auth.h"
#include "http/http_server.h"
#include "server/metrics.h"
#include "server/request_info.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::server {

// A store and the watch cache that mirrors it.
struct StoreBinding {
  store::Store& store;
  store::WatchCache& cache;
};

struct HandlerContext {
  store::Store& store;
  store::WatchCache& cache;
  const api::Registry& registry;
  Metrics& metrics;
  const Clock& clock;
  const AdmissionChain& admission;
  // Where a resource lives when not in `store` (events have a database of their own); returns
  // nullptr for the resources of the main store. Unset: everything is in `store`.
  std::function<const StoreBinding*(const api::ResourceInfo&)> store_for;
};

// Stateless apart from the borrowed context; callable from many threads at once.
class ResourceHandler {
 public:
  explicit ResourceHandler(HandlerContext ctx) : ctx_(ctx) {}

  // Serves one resource request for `resource` (already looked up from `info`).
  // `user` is the authenticated caller (admission plugins see it).
  void Serve(const api::ResourceInfo& resource, const RequestInfo& info, const Query& query,
             const http::Request& req, const UserInfo& user, http::ResponseWriter& writer);

  // Deletes every namespaced object in `ns` (objects with finalizers get a deletionTimestamp
  // instead). Returns how many objects remain.
  StatusOr<size_t> DeleteNamespaceContents(const std::string& ns);

 private:
  StatusOr<http::Response> Get(const api::ResourceInfo& r, const RequestInfo& info,
                               const Query& query, const http::Request& req,
                               const UserInfo& user);
  StatusOr<http::Response> List(const api::ResourceInfo& r, const RequestInfo& info,
                                const Query& query, const http::Request& req);
  StatusOr<http::Response> Create(const api::ResourceInfo& r, const RequestInfo& info,
                                  const Query& query, const http::Request& req, const UserInfo& user);
  StatusOr<http::Response> Update(const api::ResourceInfo& r, const RequestInfo& info,
                                  const Query& query, const http::Request& req, const UserInfo& user);
  StatusOr<http::Response> Patch(const api::ResourceInfo& r, const RequestInfo& info,
                                 const Query& query, const http::Request& req, const UserInfo& user);
  StatusOr<http::Response> Delete(const api::ResourceInfo& r, const RequestInfo& info,
                                  const Query& query, const http::Request& req, const UserInfo& user);
  StatusOr<http::Response> DeleteCollection(const api::ResourceInfo& r, const RequestInfo& info,
                                            const Query& query, const http::Request& req);
  // Streams watch events until the client leaves, the timeout passes or the server stops.
  Status Watch(const api::ResourceInfo& r, const RequestInfo& info, const Query& query,
               const http::Request& req, http::ResponseWriter& writer);

  // Deletes one object by key honouring finalizers; returns the final or terminating object.
  StatusOr<json::value> DeleteObject(const api::ResourceInfo& r, const std::string& key,
                                     const std::string& name, const json::value* options,
                                     bool dry_run);
  // Applies server-owned fields to an update of `old`; validates.
  Status PrepareUpdate(const api::ResourceInfo& r, const json::value& old, json::value& next,
                       bool status_only) const;
  // Writes a prepared update; deletes the object instead when it is terminating and its last
  // finalizer is gone.
  StatusOr<json::value> Commit(const api::ResourceInfo& r, const std::string& key,
                               const json::value& next, int64_t expected_rev, bool dry_run);
  Status ObjectResult(const Status& st, const api::ResourceInfo& r, std::string_view name) const;
  // The store and cache holding objects of `r`.
  store::Store& StoreOf(const api::ResourceInfo& r) const;
  store::WatchCache& CacheOf(const api::ResourceInfo& r) const;

  HandlerContext ctx_;
};

}  // namespace kumo::server
