#include "server/api_server.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "api/flavors.h"
#include "api/object.h"
#include "api/openapi.h"
#include "api/resource.h"
#include "api/storage.h"
#include "client/kubeconfig.h"
#include "controller/events.h"
#include "controller/ipam_controller.h"
#include "controller/tenant_controller.h"
#include "controller/vm_controller.h"
#include "controller/image_controller.h"
#include "controller/snapshot_controller.h"
#include "controller/volume_controller.h"
#include "common/file_util.h"
#include "common/log.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/authz.h"
#include "server/discovery.h"
#include "server/event_rate_limit.h"
#include "server/flow_control.h"
#include "server/image_data.h"
#include "http/http_server.h"
#include "server/ipam_admission.h"
#include "server/metrics.h"
#include "common/metrics.h"
#include "server/object_meta.h"
#include "http/pki.h"
#include "server/request_info.h"
#include "server/resource_handler.h"
#include "server/server_fields_admission.h"
#include "server/storage_admission.h"
#include "server/responses.h"
#include "scheduler/scheduler.h"
#include "server/tenancy.h"
#include "server/tenancy_admission.h"
#include "server/tokens.h"
#include "api/kubevirt.h"
#include "controller/node_lifecycle.h"
#include "scheduler/migration_controller.h"
#include "server/vm_console.h"
#include "server/vm_subresources.h"
#include "store/event_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/watch_cache.h"

namespace kumo::server {

namespace {

namespace fs = std::filesystem;

// Maps a store key to its resource to index selectable fields.
const api::ResourceInfo* ResourceOfKey(const api::Registry& registry, std::string_view key) {
  // /registry/<group>/<plural>/...
  constexpr std::string_view kRoot = "/registry/";
  if (key.substr(0, kRoot.size()) != kRoot) return nullptr;
  key.remove_prefix(kRoot.size());
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return nullptr;
  std::string_view group = key.substr(0, slash);
  if (group == "core") group = "";
  key.remove_prefix(slash + 1);
  std::string_view plural = key.substr(0, key.find('/'));
  for (const auto& r : registry.resources()) {
    if (r.group == group && r.plural == plural) return &r;
  }
  return nullptr;
}

class ApiServerImpl : public ApiServer {
 public:
  explicit ApiServerImpl(ApiServerOptions options)
      : options_(std::move(options)), registry_(api::DefaultRegistry()) {}
  ~ApiServerImpl() override { Stop(); }

  Status Init();
  int port() const override { return http_ ? http_->port() : 0; }
  std::string url() const override { return url_; }
  std::string kubeconfig_path() const override { return options_.data_dir + "/kubeconfig.yaml"; }
  void Stop() override;

 private:
  void Handle(const http::Request& req, http::ResponseWriter& writer);
  // Serves an authenticated, admitted-by-flow-control and authorized request.
  void Route(const http::Request& req, const RequestInfo& info, const Query& query,
             const UserInfo& user, http::ResponseWriter& writer);
  void SendNonResource(const http::Request& req, http::ResponseWriter& writer);
  Status SeedDefaults();
  // Events store, tenants, authorization, flow control, audit log, tenant admission.
  Status InitTenancy(const store::WatchCache::Indexer& indexer);
  void SweepNamespaces();

  ApiServerOptions options_;
  const api::Registry& registry_;
  Metrics metrics_;
  Authenticator auth_;
  AdmissionChain admission_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::WatchCache> cache_;
  std::unique_ptr<ResourceHandler> handler_;
  std::unique_ptr<VmSubresources> subresources_;
  std::unique_ptr<ImageData> image_data_;
  std::unique_ptr<VmConsole> console_;
  std::unique_ptr<controller::EventRecorder> events_;
  std::unique_ptr<controller::VmController> vm_controller_;
  std::unique_ptr<controller::Ipam> ipam_;
  std::unique_ptr<controller::IpamController> ipam_controller_;
  std::unique_ptr<controller::Volumes> volumes_;
  std::unique_ptr<controller::VolumeController> volume_controller_;
  std::unique_ptr<controller::ImageController> image_controller_;
  std::unique_ptr<controller::SnapshotController> snapshot_controller_;
  std::unique_ptr<scheduler::SchedulingCache> scheduling_cache_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<controller::NodeLifecycleController> node_lifecycle_;
  std::unique_ptr<scheduler::MigrationController> migrations_;
  // Multi-tenancy: events apart, tenants, authorization, fair queuing, audit.
  std::unique_ptr<store::EventStore> event_store_;
  std::unique_ptr<StoreBinding> events_binding_;
  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<FlowController> flow_;
  std::unique_ptr<TokenResolver> tokens_;
  std::unique_ptr<AuditLog> audit_;
  TenantPolicyAdmission* tenant_policy_ = nullptr;  // owned by admission_
  std::unique_ptr<controller::TenantController> tenant_controller_;
  std::unique_ptr<http::HttpServer> http_;
  std::string url_;
  std::atomic<bool> stopping_{false};
  std::thread sweeper_;
};

Status ApiServerImpl::Init() {
  std::error_code ec;
  fs::create_directories(options_.data_dir, ec);
  if (ec) {
    return Status(Code::kInternal, "cannot create data dir " + options_.data_dir + ": " +
                                       ec.message() + " (use --data-dir to pick another)");
  }
  ::chmod(options_.data_dir.c_str(), 0700);
  KUMO_ASSIGN_OR_RETURN(auto host_port, http::ParseListenAddress(options_.listen));
  auto [host, port] = host_port;

  // Identity: an admin token that survives restarts.
  std::string token_path = options_.data_dir + "/admin.token";
  std::string token;
  if (auto existing = ReadFileToString(token_path); existing.ok() && !existing->empty()) {
    token = *existing;
    while (!token.empty() && isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  } else {
    token = pki::GenerateToken();
    KUMO_RETURN_IF_ERROR(WriteFileAtomic(token_path, token + "\n", 0600));
  }
  auth_.AddToken(token, UserInfo{"kumo-admin", {"system:masters", "system:authenticated"}});

  // State.
  store::SqliteOptions so;
  so.path = options_.data_dir + "/state.db";
  so.durable = options_.durable;
  so.retain_revisions = options_.retain_revisions;
  KUMO_ASSIGN_OR_RETURN(store_, store::OpenSqliteStore(so));
  KUMO_RETURN_IF_ERROR(SeedDefaults());
  const api::Registry& registry = registry_;
  auto indexer = [&registry](const json::value& parsed, store::CachedObject& obj) {
    obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
    obj.fields.emplace_back("metadata.namespace", GetString(parsed, {"metadata", "namespace"}));
    if (const api::ResourceInfo* r = ResourceOfKey(registry, obj.key)) {
      for (const auto& f : r->selectable_fields) {
        obj.fields.emplace_back(f, api::FieldValue(parsed, f));
      }
    }
  };
  cache_ = std::make_unique<store::WatchCache>(*store_, "/registry/", indexer, options_.watch_history);
  KUMO_RETURN_IF_ERROR(cache_->Start());
  ipam_ = std::make_unique<controller::Ipam>(*store_, *cache_);
  KUMO_RETURN_IF_ERROR(InitTenancy(indexer));
  HandlerContext hc{*store_, *cache_, registry_, metrics_, RealClock::Get(), admission_};
  hc.store_for = [this](const api::ResourceInfo& r) -> const StoreBinding* {
    return r.group.empty() && r.plural == "events" ? events_binding_.get() : nullptr;
  };
  handler_ = std::make_unique<ResourceHandler>(std::move(hc));
  subresources_ = std::make_unique<VmSubresources>(*store_, RealClock::Get());
  image_data_ = std::make_unique<ImageData>(*store_, options_.data_dir + "/images");

  // Controllers run in the server process, on the store and cache directly.
  events_ = std::make_unique<controller::EventRecorder>(event_store_->store(), RealClock::Get(), "kumo-controller");
  vm_controller_ = std::make_unique<controller::VmController>(*store_, *cache_, *events_, RealClock::Get());
  scheduling_cache_ = std::make_unique<scheduler::SchedulingCache>(*cache_, scheduler::Config{});
  scheduling_cache_->Start();
  scheduler_ = std::make_unique<scheduler::Scheduler>(*store_, *cache_, *scheduling_cache_, *events_,
                                                      RealClock::Get());
  ipam_controller_ = std::make_unique<controller::IpamController>(*store_, *cache_, *events_, RealClock::Get());
  volume_controller_ = std::make_unique<controller::VolumeController>(*store_, *cache_, *events_);
  image_controller_ = std::make_unique<controller::ImageController>(*store_, *cache_);
  snapshot_controller_ = std::make_unique<controller::SnapshotController>(*store_, *cache_, *events_);
  tenant_controller_ = std::make_unique<controller::TenantController>(
      *store_, *cache_, *events_, RealClock::Get(), [this](const std::string& ns) -> StatusOr<json::object> {
        KUMO_ASSIGN_OR_RETURN(Amounts used, tenant_policy_->Usage(ns));
        return AmountsToJson(used);
      });
  controller::NodeLifecycleOptions nlo;
  nlo.grace = std::chrono::seconds(options_.node_monitor_grace_seconds);
  nlo.eviction = std::chrono::seconds(options_.vm_eviction_seconds);
  node_lifecycle_ = std::make_unique<controller::NodeLifecycleController>(*store_, *cache_, *events_,
                                                                          RealClock::Get(), nlo);
  migrations_ = std::make_unique<scheduler::MigrationController>(*store_, *cache_, *scheduling_cache_, *events_,
                                                                 RealClock::Get());
  vm_controller_->Start();
  scheduler_->Start();
  node_lifecycle_->Start();
  migrations_->Start();
  tenant_controller_->Start();
  ipam_controller_->Start();
  volume_controller_->Start();
  image_controller_->Start();
  snapshot_controller_->Start();

  // Transport.
  http::ServerOptions ho;
  ho.host = host;
  ho.port = port;
  ho.tls = !options_.plain_http;
  pki::PkiFiles pki_files;
  if (ho.tls) {
    std::vector<std::string> hosts = options_.extra_sans;
    if (host != "0.0.0.0" && host != "::") hosts.push_back(host);
    KUMO_ASSIGN_OR_RETURN(pki_files, pki::EnsureServerPki(options_.data_dir, hosts));
    ho.cert_file = pki_files.server_cert;
    ho.key_file = pki_files.server_key;
    ho.client_ca_file = pki_files.ca_cert;
  }
  AgentCredentials agent_credentials;
  if (ho.tls) {
    KUMO_ASSIGN_OR_RETURN(auto pair, pki::IssueClientCert(pki_files, api::kApiServerClientName, {}));
    agent_credentials = AgentCredentials{std::move(pair.first), std::move(pair.second)};
  }
  console_ = std::make_unique<VmConsole>(*store_, std::move(agent_credentials), stopping_);
  KUMO_ASSIGN_OR_RETURN(http_, http::HttpServer::Start(
                                   ho, [this](const http::Request& req, http::ResponseWriter& w) {
                                     Handle(req, w);
                                   }));
  std::string client_host = (host == "0.0.0.0" || host == "::") ? "127.0.0.1" : host;
  if (client_host.find(':') != std::string::npos) client_host = "[" + client_host + "]";
  url_ = std::string(ho.tls ? "https://" : "http://") + client_host + ":" + std::to_string(http_->port());

  client::Kubeconfig kc;
  kc.server = url_;
  kc.token = token;
  kc.context_name = "kumo";
  if (ho.tls) {
    KUMO_ASSIGN_OR_RETURN(kc.ca_pem, ReadFileToString(pki_files.ca_cert));
  }
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(kubeconfig_path(), client::RenderKubeconfig(kc), 0600));

  sweeper_ = std::thread([this] { SweepNamespaces(); });
  spdlog::info("kumo server ready at {} (kubeconfig: {})", url_, kubeconfig_path());
  return Status::Ok();
}

Status ApiServerImpl::InitTenancy(const store::WatchCache::Indexer& indexer) {
  store::EventStoreOptions eo;
  eo.path = options_.data_dir + "/events.db";
  KUMO_ASSIGN_OR_RETURN(event_store_, store::EventStore::Open(eo, indexer, RealClock::Get()));
  events_binding_ = std::make_unique<StoreBinding>(StoreBinding{event_store_->store(), event_store_->cache()});
  // Events written into the main database by earlier versions are dropped.
  if (auto old = store_->List(store::EventStore::kPrefix, "", 0, 0); old.ok()) {
    for (const auto& kv : old->items) (void)store_->Delete(kv.key, 0);
  }
  tenants_ = std::make_unique<TenantDirectory>(*cache_);
  authz_ = std::make_unique<Authorizer>(*tenants_);
  flow_ = std::make_unique<FlowController>(
      FlowControlConfig::Default(std::thread::hardware_concurrency()), *tenants_);
  tokens_ = std::make_unique<TokenResolver>(*store_, *cache_);
  auth_.SetTokenResolver([this](std::string_view token) { return tokens_->Resolve(token); });
  KUMO_ASSIGN_OR_RETURN(audit_, AuditLog::Open(options_.data_dir + "/audit.log"));
  auto policy = std::make_unique<TenantPolicyAdmission>(*tenants_, *cache_);
  tenant_policy_ = policy.get();
  // First: it compares what the caller sent with what is stored, before any plugin mutates it.
  admission_.Add(std::make_unique<ServerFieldsAdmission>());
  admission_.Add(std::make_unique<EventRateLimitAdmission>(RealClock::Get()));
  admission_.Add(std::make_unique<NodeRestrictionAdmission>());
  // Address checks before quota: quota remembers what it admitted (for concurrent creates), so
  // a request refused after it would hold the tenant's quota until that memory expires.
  admission_.Add(std::make_unique<IpamAdmission>(*ipam_));
  volumes_ = std::make_unique<controller::Volumes>(*store_, *cache_);
  admission_.Add(std::make_unique<StorageAdmission>(*volumes_, *cache_));
  admission_.Add(std::move(policy));
  return Status::Ok();
}

Status ApiServerImpl::SeedDefaults() {
  std::vector<json::value> objects;
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease", kSystemNamespace}) {
    objects.push_back(json::object{{"apiVersion", "v1"},
                                   {"kind", "Namespace"},
                                   {"metadata", json::object{{"name", ns}}},
                                   {"status", json::object{{"phase", "Active"}}}});
  }
  for (auto& f : api::DefaultClusterInstancetypes()) objects.push_back(std::move(f));
  // Storage classes: "local" (the default) always; "shared" on a directory every node mounts.
  objects.push_back(json::object{
      {"apiVersion", "storage.k8s.io/v1"},
      {"kind", "StorageClass"},
      {"metadata", json::object{{"name", "local"},
                                {"annotations", json::object{{api::kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", api::kLocalProvisioner},
      {"reclaimPolicy", "Delete"},
      {"volumeBindingMode", "WaitForFirstConsumer"},
      {"allowVolumeExpansion", true}});
  if (!options_.shared_storage_dir.empty()) {
    objects.push_back(json::object{{"apiVersion", "storage.k8s.io/v1"},
                                   {"kind", "StorageClass"},
                                   {"metadata", json::object{{"name", "shared"}}},
                                   {"provisioner", api::kSharedDirProvisioner},
                                   {"parameters", json::object{{"path", options_.shared_storage_dir}}},
                                   {"reclaimPolicy", "Delete"},
                                   {"volumeBindingMode", "Immediate"},
                                   {"allowVolumeExpansion", true}});
  }
  for (auto& obj : objects) {
    const api::ResourceInfo* r =
        registry_.FindKind(GetString(obj, {"apiVersion"}), GetString(obj, {"kind"}));
    json::object& meta = obj.get_object()["metadata"].get_object();
    std::string key = r->Key("", GetString(obj, {"metadata", "name"}));
    if (store_->Get(key).ok()) continue;
    meta["uid"] = NewUid();
    meta["creationTimestamp"] = FormatTime(RealClock::Get().NowUnixSeconds());
    meta["generation"] = 1;
    StatusOr<store::KeyValue> kv = store_->Create(key, api::SerializeForStore(obj));
    if (!kv.ok() && kv.status().code() != Code::kAlreadyExists) return kv.status();
  }
  return Status::Ok();
}

void ApiServerImpl::SweepNamespaces() {
  const api::ResourceInfo* ns_info = registry_.Find("", "v1", "namespaces");
  while (!stopping_) {
    for (int i = 0; i < 20 && !stopping_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    store::WatchCache::Page page = cache_->List(ns_info->KeyPrefix(), "", 0, nullptr);
    for (const auto& obj : page.items) {
      if (obj->json.find("\"deletionTimestamp\"") == std::string::npos) continue;
      std::string name = obj->Field("metadata.name");
      StatusOr<size_t> remaining = handler_->DeleteNamespaceContents(name);
      if (remaining.ok() && *remaining == 0) {
        Status st = store_->Delete(obj->key, 0).status();
        if (st.ok()) spdlog::info("namespace {} deleted", name);
      }
    }
  }
}

void ApiServerImpl::Stop() {
  if (stopping_.exchange(true)) return;
  if (flow_) flow_->Stop();  // wakes requests waiting for a seat
  if (http_) http_->Stop();
  if (sweeper_.joinable()) sweeper_.join();
  if (scheduler_) scheduler_->Stop();
  if (node_lifecycle_) node_lifecycle_->Stop();
  if (migrations_) migrations_->Stop();
  if (ipam_controller_) ipam_controller_->Stop();
  if (volume_controller_) volume_controller_->Stop();
  if (image_controller_) image_controller_->Stop();
  if (snapshot_controller_) snapshot_controller_->Stop();
  if (vm_controller_) vm_controller_->Stop();
  if (tenant_controller_) tenant_controller_->Stop();
  if (scheduling_cache_) scheduling_cache_->Stop();
  if (cache_) cache_->Stop();
  if (event_store_) event_store_->Stop();
  http_.reset();
  scheduler_.reset();
  ipam_controller_.reset();
  vm_controller_.reset();
  tenant_controller_.reset();
  events_.reset();
  handler_.reset();
  cache_.reset();
  events_binding_.reset();
  event_store_.reset();
  store_.reset();
}

void ApiServerImpl::SendNonResource(const http::Request& req, http::ResponseWriter& writer) {
  const std::string& p = req.path;
  StatusOr<std::string> body = NotFound("the server could not find the requested resource");
  if (p == "/api" || p == "/api/") {
    body = ApiVersionsJson();
  } else if (p == "/apis" || p == "/apis/") {
    body = WithAuthorizationGroup(ApiGroupListJson(registry_));
  } else if (p == "/apis/authorization.k8s.io") {
    body = AuthorizationGroupJson();
  } else if (p == "/apis/authorization.k8s.io/v1") {
    body = AuthorizationResourceListJson();
  } else if (p == "/api/v1") {
    body = ApiResourceListJson(registry_, "", "v1");
  } else if (p == "/apis/subresources.kubevirt.io/v1") {
    body = VmSubresources::ResourceListJson();
  } else if (p.rfind("/apis/", 0) == 0) {
    std::string rest = p.substr(6);
    size_t slash = rest.find('/');
    if (slash == std::string::npos) body = ApiGroupJson(registry_, rest);
    else body = ApiResourceListJson(registry_, rest.substr(0, slash), rest.substr(slash + 1));
  } else if (p == "/openapi/v2" || p == "/openapi/v2/") {
    // kubectl before 1.27 reads only this document, and only as protobuf.
    constexpr std::string_view kProtoV2 = "application/com.github.proto-openapi.spec.v2";
    const bool protobuf = req.Header("accept").find(kProtoV2) != std::string::npos;
    http::Response r;
    // kubectl asks for "...spec.v2@v1.0+protobuf", but '@' is not allowed in a media type
    // (Go's mime parser refuses it), so the answer is spelled as kube-apiserver spells it.
    r.content_type = protobuf ? std::string(kProtoV2) + ".v1.0+protobuf" : "application/json";
    r.body = api::OpenApiV2(registry_, protobuf);
    writer.Send(std::move(r));
    return;
  } else if (p == "/openapi/v3" || p == "/openapi/v3/") {
    body = api::OpenApiV3Root(registry_);
  } else if (p.rfind("/openapi/v3/", 0) == 0) {
    body = api::OpenApiV3Document(registry_, p.substr(12));
  } else if (p == "/metrics") {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.Render();
    r.body += "# HELP apiserver_storage_objects Number of stored objects per resource.\n"
              "# TYPE apiserver_storage_objects gauge\n";
    for (const auto& [kind, n] : cache_->ObjectCounts()) {
      size_t slash = kind.find('/');
      std::string group = kind.substr(0, slash);
      std::string resource = kind.substr(slash + 1) + (group == "core" ? "" : "." + group);
      r.body += "apiserver_storage_objects{resource=\"" + resource + "\"} " + std::to_string(n) + "\n";
    }
    r.body += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
              "# TYPE process_resident_memory_bytes gauge\n"
              "process_resident_memory_bytes " +
              std::to_string(static_cast<int64_t>(metrics::ResidentMemoryBytes())) + "\n";
    r.body += metrics::Render();
    writer.Send(std::move(r));
    return;
  }
  if (!body.ok()) {
    writer.Send(StatusResponse(body.status()));
    return;
  }
  writer.Send(JsonResponse(200, std::move(body).value()));
}

void ApiServerImpl::Handle(const http::Request& req, http::ResponseWriter& writer) {
  const std::string& p = req.path;
  // Health and version are public, as kube-apiserver's system:public-info-viewer allows.
  if (p == "/healthz" || p == "/livez" || p == "/readyz") {
    http::Response r;
    r.content_type = "text/plain";
    r.body = "ok";
    writer.Send(std::move(r));
    return;
  }
  if (p == "/version" || p == "/version/") {
    writer.Send(JsonResponse(200, VersionJson()));
    return;
  }
  StatusOr<UserInfo> user = auth_.Authenticate(req);
  if (!user.ok()) {
    writer.Send(StatusResponse(user.status()));
    return;
  }
  Query query = ParseQuery(req.query);
  RequestInfo info = ParseRequestInfo(req.method, p, query);
  // Fair queuing, then authorization, then the handlers (which run admission). Every response
  // carries the flow-control headers; every mutating request is audited, allowed or not.
  FlowClass flow = flow_->Classify(*user, info);
  RecordingWriter w(writer, flow_->ResponseHeaders(flow));
  Attributes attrs = AttributesOf(*user, info, query);
  {
    StatusOr<PriorityLevel::Seat> seat = flow_->Acquire(flow);
    StatusOr<LongRunningLimiter::Slot> slot =
        seat.ok() ? flow_->AcquireLongRunning(flow) : StatusOr<LongRunningLimiter::Slot>(seat.status());
    Decision d = slot.ok() ? authz_->Authorize(attrs) : Decision{};
    if (!slot.ok()) {
      w.Send(StatusResponse(slot.status()));
    } else if (!d.allowed) {
      w.Send(StatusResponse(ForbiddenStatus(attrs, d.reason),
                            StatusDetails{attrs.name, attrs.group, attrs.resource}));
    } else {
      Route(req, info, query, *user, w);
    }
  }
  if (info.is_resource_request && IsMutatingVerb(info.verb) && info.group != "authorization.k8s.io") {
    audit_->Write(AuditRecord{user->name, user->groups, info.verb, info.group, info.resource,
                              info.subresource, info.namespace_,
                              info.name.empty() ? w.created_name() : info.name, w.status(),
                              req.remote_addr});
  }
}

void ApiServerImpl::Route(const http::Request& req, const RequestInfo& info, const Query& query,
                          const UserInfo& user, http::ResponseWriter& writer) {
  if (!info.is_resource_request) {
    if (req.method != "GET" && req.method != "HEAD") {
      writer.Send(StatusResponse(Status(Code::kMethodNotAllowed,
                                        "the server does not allow this method on the requested resource")));
      return;
    }
    SendNonResource(req, writer);
    return;
  }
  if (info.group == "authorization.k8s.io") {
    const bool create = info.version == "v1" && info.verb == "create";
    writer.Send(create && info.resource == "selfsubjectaccessreviews"
                    ? authz_->ServeSelfSubjectAccessReview(user, req)
                : create && info.resource == "selfsubjectrulesreviews"
                    ? authz_->ServeSelfSubjectRulesReview(user, req)
                    : StatusResponse(NotFound("the server could not find the requested resource")));
    return;
  }
  if (info.group == "subresources.kubevirt.io" && info.version == "v1") {
    if (VmConsole::Handles(info)) return console_->Serve(info, query, req, writer);
    writer.Send(subresources_->Serve(info, req));
    return;
  }
  if (ImageData::Handles(info)) {
    writer.Send(image_data_->Serve(info, query, req));
    return;
  }
  const api::ResourceInfo* r = registry_.Find(info.group, info.version, info.resource);
  if (!r || info.verb.empty()) {
    writer.Send(StatusResponse(r ? Status(Code::kMethodNotAllowed, "the method " + req.method +
                                                                     " is not supported")
                                 : NotFound("the server could not find the requested resource")));
    return;
  }
  handler_->Serve(*r, info, query, req, user, writer);
}

}  // namespace

StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options) {
  auto server = std::make_unique<ApiServerImpl>(options);
  KUMO_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace kumo::server
