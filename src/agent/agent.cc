#include "agent/agent.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "agent/image_cache.h"
#include "agent/node_api.h"
#include "agent/node_endpoint.h"
#include "api/kubevirt.h"
#include "api/object.h"
#include "api/resource.h"
#include "agent/vm_network.h"
#include "agent/vmi_spec.h"
#include "agent/volumes.h"
#include "api/storage.h"
#include "common/clock.h"
#include "common/log.h"

namespace kumo::agent {

namespace {

using client::PatchType;
using client::ResourcePath;

int64_t HostMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

std::string Now() { return NowRfc3339(); }

class AgentImpl : public Agent {
 public:
  AgentImpl(AgentOptions options, std::unique_ptr<client::RestClient> client,
            std::unique_ptr<Runtime> runtime)
      : options_(std::move(options)), client_(std::move(client)), runtime_(std::move(runtime)) {}
  ~AgentImpl() override { Stop(); }

  Status Init();
  void Stop() override;

 private:
  Status RegisterNode();
  Status Heartbeat();
  void HeartbeatLoop();
  // Lists and watches the VMIs selected by `field_selector`, enqueueing each.
  // Lists `path` and watches it from there, handing every object to `on_object`, until Stop.
  void WatchLoop(const std::string& path, const std::string& what,
                 const std::function<void(const json::value& object)>& on_object);
  void WatchVmis(const std::string& field_selector);
  // Makes the copy a VolumeSnapshotContent of this node asks for, or removes it once deleted.
  void SyncSnapshot(const json::value& vsc);
  // Removes the data of a released volume this node holds, then lets the server delete it.
  void CleanUpVolume(const json::value& pv);
  // Makes the files of the VMI's volumes (kumo.io/volumes) and adds them to `spec`; `incoming`:
  // for a live migration's target (see PrepareVolumes).
  Status AttachVolumes(const json::value& vmi, VmSpec& spec, bool incoming = false);
  std::string VolumeDir() const { return options_.data_dir + "/volumes"; }
  void WorkLoop();
  void Enqueue(const std::string& ns_name);
  void EnqueueAfter(const std::string& ns_name, std::chrono::seconds delay);
  void Sync(const std::string& ns, const std::string& name);
  Status PatchStatus(const std::string& ns, const std::string& name, json::object status);
  Status RemoveFinalizer(const std::string& ns, const std::string& name);
  void RecordEvent(const json::value& vmi, const std::string& type, const std::string& reason,
                   const std::string& message);
  // The VMI's address when IPAM gave it to this VM (its IPAllocation names the VM); "" when it
  // has none; Forbidden when the address is not the VM's, whatever the VMI says: the agent
  // routes and announces only what the server allocated. Remembered per VMI uid.
  StatusOr<std::string> RoutedAddress(const std::string& ns, const std::string& name,
                                      const json::value& vmi);
  // Routed networking for a VM with an address (tap, /32 route, DHCP) wired into `spec`.
  Status AttachNetwork(const std::string& ns, const std::string& name, const json::value& vmi,
                       VmSpec& spec);
  // Live migration (see scheduler/migration_controller.h for the whole protocol).
  void SyncIncoming(const std::string& ns, const std::string& name, const json::value& vmi,
                    const VmStatus& local);
  void StartMigration(const std::string& ns, const std::string& name, const json::value& vmi);
  void MigrateOut(const std::string& ns, const std::string& name, const json::value& vmi);
  void ReportMigration(const std::string& ns, const std::string& name, json::object state,
                       const std::string& node_name);

  AgentOptions options_;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<VmNetwork> network_;
  std::unique_ptr<ImageCache> images_;
  // Where an Image's bytes are on this node (the cache for uploaded images); events go to `vmi`.
  ImageResolver ResolverFor(const json::value& vmi);
  // Reports the cached images in the Node's status.images (when they changed).
  void ReportImages();
  size_t reported_images_ = 0;  // guarded by mu_
  std::unique_ptr<NodeEndpoint> endpoint_;
  std::string migration_host_;  // where other nodes reach this one for live migrations
  bool kvm_ = false;

  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point last_status_report_{};  // HeartbeatLoop's thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> queue_;  // "ns/name"
  std::multimap<std::chrono::steady_clock::time_point, std::string> delayed_;
  std::set<std::string> migrating_;  // "ns/name" with an outgoing migration under way
  struct Verified {
    std::string proof;  // "uid/address"
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Verified> verified_;  // "ns/name" whose address IPAM confirmed
  std::set<std::string> unverified_;             // "ns/name" reported as not allocated
  std::vector<std::thread> threads_;
  std::vector<std::thread> migration_threads_;  // guarded by mu_
};

Status AgentImpl::Init() {
  if (options_.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    options_.node_name = host;
  }
  kvm_ = options_.accel == "kvm" || (options_.accel == "auto" && ProbeKvm("qemu-system-x86_64", 3000));
  images_ = std::make_unique<ImageCache>(*client_, options_.data_dir + "/images");
  network_ = std::make_unique<VmNetwork>(
      VmNetworkOptions{options_.data_dir, options_.node_name, options_.node_ip});
  migration_host_ = !options_.advertise_host.empty() ? options_.advertise_host
                    : !options_.node_ip.empty()      ? options_.node_ip
                                                     : "127.0.0.1";
  if (options_.ca_pem.empty()) {
    spdlog::warn("the kubeconfig has no CA: the node endpoint (VM consoles) stays off");
  } else {
    NodeEndpointOptions eo;
    eo.listen_host = options_.listen_host;
    eo.listen_port = options_.listen_port;
    eo.advertise_host = !options_.advertise_host.empty() ? options_.advertise_host
                        : !options_.node_ip.empty()      ? options_.node_ip
                                                         : "127.0.0.1";
    eo.data_dir = options_.data_dir;
    eo.ca_pem = options_.ca_pem;
    KUMO_ASSIGN_OR_RETURN(endpoint_, NodeEndpoint::Start(eo, *runtime_));
    spdlog::info("node endpoint (consoles) at {}", endpoint_->endpoint());
  }
  KUMO_RETURN_IF_ERROR(RegisterNode());
  if (Status st = network_->Sync(*client_); !st.ok()) spdlog::warn("network sync failed: {}", st.ToString());
  // Adopt what is already running here.
  for (const auto& ref : runtime_->List()) Enqueue(ref.ns + "/" + ref.name);
  threads_.emplace_back([this] { HeartbeatLoop(); });
  threads_.emplace_back([this] { WatchVmis("status.nodeName=" + options_.node_name); });
  // Live migrations that come here.
  threads_.emplace_back(
      [this] { WatchVmis("status.migrationState.targetNode=" + options_.node_name); });
  // Snapshots this node copies, and removes once deleted.
  threads_.emplace_back([this] {
    WatchLoop(ResourcePath(api::kSnapshotGroup, "v1", "volumesnapshotcontents") + "?fieldSelector=" +
                  client::QueryEscape(std::string(api::kSnapshotNodeField) + "=" + options_.node_name),
              "snapshots", [this](const json::value& vsc) { SyncSnapshot(vsc); });
  });
  // Released volumes whose data this node removes.
  threads_.emplace_back([this] {
    WatchLoop(ResourcePath("", "v1", "persistentvolumes") + "?fieldSelector=" +
                  client::QueryEscape(std::string(api::kPvNodeField) + "=" + options_.node_name),
              "volumes", [this](const json::value& pv) { CleanUpVolume(pv); });
  });
  threads_.emplace_back([this] { WorkLoop(); });
  spdlog::info("kumo agent ready: node {} ({})", options_.node_name, kvm_ ? "KVM" : "TCG emulation");
  return Status::Ok();
}

void AgentImpl::Stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  if (endpoint_) endpoint_->Stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::vector<std::thread> migrations;
  {
    std::lock_guard lock(mu_);
    migrations.swap(migration_threads_);
  }
  for (auto& t : migrations) {
    if (t.joinable()) t.join();
  }
}

Status AgentImpl::RegisterNode() {
  struct utsname u;
  uname(&u);
  int64_t mem = HostMemoryBytes();
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t alloc_mem = std::max<int64_t>(0, mem - options_.reserved_memory_bytes);
  json::value node = json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata",
       json::object{{"name", options_.node_name},
                    {"labels", json::object{{"kubernetes.io/hostname", options_.node_name},
                                            {"kubernetes.io/arch", "amd64"},
                                            {"kubernetes.io/os", "linux"},
                                            {"kubevirt.io/schedulable", "true"},
                                            {"kumo.io/kvm", kvm_ ? "true" : "false"}}}}},
      {"spec", json::object{}},
      {"status",
       json::object{
           {"capacity", json::object{{"cpu", std::to_string(cpus)}, {"memory", std::to_string(mem / 1024) + "Ki"}}},
           {"allocatable",
            json::object{{"cpu", std::to_string(cpus)}, {"memory", std::to_string(alloc_mem / 1024) + "Ki"}}},
           {"addresses", options_.node_ip.empty()
                             ? json::array{json::object{{"type", "Hostname"}, {"address", options_.node_name}}}
                             : json::array{json::object{{"type", "InternalIP"}, {"address", options_.node_ip}},
                                           json::object{{"type", "Hostname"}, {"address", options_.node_name}}}},
           {"nodeInfo", json::object{{"kubeletVersion", "kumo-agent/0.1.0"},
                                     {"kernelVersion", u.release},
                                     {"osImage", "Linux"},
                                     {"architecture", "amd64"},
                                     {"operatingSystem", "linux"}}}}}};
  if (endpoint_) {
    json::object annotations{{api::kAgentEndpointAnnotation, endpoint_->endpoint()},
                             {api::kAgentCertAnnotation, endpoint_->cert_sha256()}};
    node.at("metadata").as_object()["annotations"] = annotations;
    node.at("status").as_object()["daemonEndpoints"] = json::object{
        {"kubeletEndpoint", json::object{{"Port", endpoint_->port()}}}};
  }
  auto created = client_->Create(ResourcePath("", "v1", "nodes"), node);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  if (!created.ok() && endpoint_) {  // re-registration: the endpoint may have moved
    json::object meta{{"annotations", node.at("metadata").at("annotations")}};
    auto patched = client_->Patch(ResourcePath("", "v1", "nodes", "", options_.node_name),
                                  PatchType::kMerge, json::object{{"metadata", meta}});
    if (!patched.ok()) return patched.status();
  }
  // Capacity may have changed since the node was first registered.
  json::object status = node.at("status").as_object();
  auto patched = client_->Patch(ResourcePath("", "v1", "nodes", "", options_.node_name, "status"),
                                PatchType::kMerge, json::object{{"status", status}});
  if (!patched.ok()) return patched.status();
  return Heartbeat();
}

Status AgentImpl::Heartbeat() {
  // The Lease in kube-node-lease is the cheap heartbeat the node lifecycle controller reads;
  // the Ready condition is posted when the node registers and then every few minutes, as the
  // kubelet's node status report does.
  auto now = std::chrono::steady_clock::now();
  if (now - last_status_report_ >= std::chrono::seconds(options_.status_report_seconds)) {
    KUMO_RETURN_IF_ERROR(PostNodeReady(*client_, options_.node_name,
                                       std::string("kumo agent is posting ready status (") +
                                           (kvm_ ? "KVM" : "TCG emulation") + ")"));
    last_status_report_ = now;
  }
  return RenewLease(*client_, options_.node_name, options_.lease_duration_seconds);
}

void AgentImpl::HeartbeatLoop() {
  while (!stop_) {
    for (int i = 0; i < options_.heartbeat_seconds * 10 && !stop_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (stop_) break;
    Status st = Heartbeat();
    if (!st.ok()) spdlog::warn("heartbeat failed: {}", st.ToString());
    st = network_->Sync(*client_);
    if (!st.ok()) spdlog::warn("network sync failed: {}", st.ToString());
    // Resync: look at every local VM and every VMI bound here.
    for (const auto& ref : runtime_->List()) Enqueue(ref.ns + "/" + ref.name);
  }
}

void AgentImpl::WatchLoop(const std::string& path, const std::string& what,
                          const std::function<void(const json::value& object)>& on_object) {
  ListAndWatch(*client_, path, what, on_object, stop_);
}

void AgentImpl::WatchVmis(const std::string& field_selector) {
  WatchLoop(ResourcePath("kubevirt.io", "v1", "virtualmachineinstances") +
                "?fieldSelector=" + client::QueryEscape(field_selector),
            "VMIs", [this](const json::value& vmi) {
              Enqueue(GetString(vmi, {"metadata", "namespace"}) + "/" +
                      GetString(vmi, {"metadata", "name"}));
            });
}

void AgentImpl::SyncSnapshot(const json::value& vsc) {
  const std::string name = GetString(vsc, {"metadata", "name"});
  const std::string path = ResourcePath(api::kSnapshotGroup, "v1", "volumesnapshotcontents", "", name);
  api::VolumeDisk copy;
  copy.pv = name;
  copy.driver = GetString(vsc, {"spec", "driver"});
  copy.location = GetString(vsc, {"spec", "location"});
  if (!GetString(vsc, {"metadata", "deletionTimestamp"}).empty()) {
    if (!api::HasFinalizer(vsc, api::kVolumeCleanupFinalizer)) return;
    if (Status st = RemoveVolume(copy, VolumeDir()); !st.ok()) {
      spdlog::warn("cannot remove snapshot {}: {}", name, st.ToString());
      return;
    }
    json::value updated = vsc;
    api::RemoveFinalizer(updated, api::kVolumeCleanupFinalizer);
    auto res = client_->Update(path, updated);
    if (!res.ok() && res.status().code() != Code::kNotFound) {
      spdlog::warn("cannot release snapshot {}: {}", name, res.status().ToString());
    }
    return;
  }
  if (GetBool(vsc, {"status", "readyToUse"})) return;
  api::VolumeDisk source = copy;
  source.pv = GetString(vsc, {"spec", "source", "volumeHandle"});
  StatusOr<int64_t> size = CopyVolume(source, copy, VolumeDir());
  json::object status;
  if (size.ok()) {
    status = json::object{{"readyToUse", true},
                          {"restoreSize", GetString(vsc, {"spec", "restoreSize"})},
                          {"sizeBytes", *size},
                          {"creationTime", Now()},
                          {"error", nullptr}};
  } else {
    spdlog::warn("snapshot {}: {}", name, size.status().ToString());
    status = json::object{{"readyToUse", false},
                          {"error", json::object{{"message", size.status().message()}}}};
  }
  auto res = client_->Patch(path + "/status", PatchType::kMerge,
                            json::object{{"status", std::move(status)}});
  if (!res.ok()) spdlog::warn("cannot report snapshot {}: {}", name, res.status().ToString());
}

void AgentImpl::CleanUpVolume(const json::value& pv) {
  if (api::FieldValue(pv, api::kPvNodeField) != options_.node_name &&
      GetString(pv, {"spec", "csi", "driver"}) == api::kLocalDriver) {
    // A local volume moved away with its VM (live migration): this node's copy is stale, unless
    // the VM that holds the volume is still here (a migration not finished).
    if (std::optional<api::AttachRecord> r = api::ParseAttach(
            GetString(pv, {"metadata", "annotations", api::kAttachedToAnnotation}));
        r && runtime_->Inspect(r->ns, r->name).phase != VmPhase::kAbsent) {
      return;
    }
    api::VolumeDisk d;
    d.pv = GetString(pv, {"metadata", "name"});
    d.driver = api::kLocalDriver;
    if (Status st = RemoveVolume(d, VolumeDir()); !st.ok()) {
      spdlog::warn("cannot remove the stale copy of volume {}: {}", d.pv, st.ToString());
    }
    return;
  }
  if (GetString(pv, {"metadata", "deletionTimestamp"}).empty()) return;
  if (!api::HasFinalizer(pv, api::kVolumeCleanupFinalizer)) return;
  api::VolumeDisk d;
  d.pv = GetString(pv, {"metadata", "name"});
  d.driver = GetString(pv, {"spec", "csi", "driver"});
  d.location = GetString(pv, {"spec", "csi", "volumeAttributes", "location"});
  Status st = RemoveVolume(d, VolumeDir());
  if (!st.ok()) {
    spdlog::warn("cannot remove the data of volume {}: {}", d.pv, st.ToString());
    return;  // the next list retries
  }
  json::value updated = pv;
  api::RemoveFinalizer(updated, api::kVolumeCleanupFinalizer);
  auto res = client_->Update(ResourcePath("", "v1", "persistentvolumes", "", d.pv), updated);
  if (!res.ok() && res.status().code() != Code::kNotFound) {
    spdlog::warn("cannot release volume {}: {}", d.pv, res.status().ToString());
  }
}

void AgentImpl::Enqueue(const std::string& ns_name) {
  std::lock_guard lock(mu_);
  queue_.insert(ns_name);
  cv_.notify_one();
}

void AgentImpl::EnqueueAfter(const std::string& ns_name, std::chrono::seconds delay) {
  std::lock_guard lock(mu_);
  delayed_.emplace(std::chrono::steady_clock::now() + delay, ns_name);
}

void AgentImpl::WorkLoop() {
  while (!stop_) {
    std::string item;
    {
      std::unique_lock lock(mu_);
      auto now = std::chrono::steady_clock::now();
      while (!delayed_.empty() && delayed_.begin()->first <= now) {
        queue_.insert(delayed_.begin()->second);
        delayed_.erase(delayed_.begin());
      }
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      if (queue_.empty()) continue;
      item = *queue_.begin();
      queue_.erase(queue_.begin());
    }
    size_t slash = item.find('/');
    Sync(item.substr(0, slash), item.substr(slash + 1));
  }
}

Status AgentImpl::PatchStatus(const std::string& ns, const std::string& name, json::object status) {
  return PatchVmiStatus(*client_, ns, name, std::move(status));
}

Status AgentImpl::RemoveFinalizer(const std::string& ns, const std::string& name) {
  return RemoveVmiFinalizer(*client_, ns, name);
}

void AgentImpl::RecordEvent(const json::value& vmi, const std::string& type,
                            const std::string& reason, const std::string& message) {
  RecordVmiEvent(*client_, vmi, options_.node_name, type, reason, message);
}

void AgentImpl::Sync(const std::string& ns, const std::string& name) {
  auto got = client_->Get(ResourcePath("kubevirt.io", "v1", "virtualmachineinstances", ns, name));
  if (!got.ok() && got.status().code() != Code::kNotFound) {
    spdlog::warn("cannot read VMI {}/{}: {}", ns, name, got.status().ToString());
    Enqueue(ns + "/" + name);  // retried on the next pass
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (migrating_.count(ns + "/" + name)) return;  // the migration thread reports it
  }
  VmStatus local = runtime_->Inspect(ns, name);
  bool ours = got.ok() && GetString(*got, {"status", "nodeName"}) == options_.node_name;
  const json::value* ms = got.ok() ? Find(*got, {"status", "migrationState"}) : nullptr;
  const bool migration_active = api::MigrationActive(ms);
  if (!ours && migration_active && GetString(*ms, {"targetNode"}) == options_.node_name) {
    SyncIncoming(ns, name, *got, local);
    return;
  }
  if (!ours) {
    // Deleted, or bound elsewhere: nothing of it may keep running here.
    if (local.phase != VmPhase::kAbsent) {
      spdlog::info("stopping {}/{}: its VMI is gone or bound elsewhere", ns, name);
      runtime_->Stop(ns, name, 0);
      runtime_->Cleanup(ns, name);
    }
    network_->TearDown(ns, name, got.ok() ? GetString(*got, {"metadata", "annotations", "kumo.io/ip"}) : "");
    std::lock_guard lock(mu_);
    verified_.erase(ns + "/" + name);
    unverified_.erase(ns + "/" + name);
    return;
  }
  const json::value& vmi = *got;
  const std::string ip = GetString(vmi, {"metadata", "annotations", "kumo.io/ip"});
  std::string phase = GetString(vmi, {"status", "phase"});
  std::string uid = GetString(vmi, {"metadata", "uid"});

  if (!GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
    int grace = 30;
    if (const json::value* g = Find(vmi, {"spec", "terminationGracePeriodSeconds"}); g && g->is_int64()) {
      grace = static_cast<int>(g->get_int64());
    }
    if (local.phase == VmPhase::kRunning) {
      spdlog::info("stopping {}/{} (grace {} s)", ns, name, grace);
      Status st = runtime_->Stop(ns, name, grace);
      if (!st.ok()) spdlog::warn("stop {}/{}: {}", ns, name, st.ToString());
      RecordEvent(vmi, "Normal", "Stopped", "The virtual machine was shut down");
    }
    runtime_->Cleanup(ns, name);
    network_->TearDown(ns, name, ip);
    Status st = RemoveFinalizer(ns, name);
    if (!st.ok()) {
      spdlog::warn("cannot release VMI {}/{}: {}", ns, name, st.ToString());
      Enqueue(ns + "/" + name);
    }
    return;
  }
  if (phase == "Succeeded" || phase == "Failed") {
    if (local.phase != VmPhase::kAbsent) {
      runtime_->Stop(ns, name, 0);
      runtime_->Cleanup(ns, name);
    }
    network_->TearDown(ns, name, ip);
    return;
  }
  std::string local_uid;
  for (const auto& ref : runtime_->List()) {
    if (ref.ns == ns && ref.name == name) local_uid = ref.uid;
  }
  if (local.phase != VmPhase::kAbsent && local_uid != uid) {
    // Left over from an earlier instance of the same name.
    runtime_->Stop(ns, name, 0);
    runtime_->Cleanup(ns, name);
    local = VmStatus{};
  }

  std::string now = Now();
  const auto& ready_conditions = VmiConditions;

  if (local.phase == VmPhase::kRunning && migration_active &&
      GetString(*ms, {"targetNode"}) != options_.node_name &&
      !GetString(*ms, {"targetNodeAddress"}).empty()) {
    StartMigration(ns, name, vmi);
    return;
  }
  if (local.phase == VmPhase::kIncoming) {
    // The source handed the VMI over: load the state, drop the disk export, resume the guest.
    Status st = runtime_->FinishIncoming(ns, name, 60);
    if (!st.ok()) {
      spdlog::warn("finishing the migration of {}/{}: {}", ns, name, st.ToString());
      PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "MigrationFailed", st.message())}});
      RecordEvent(vmi, "Warning", "MigrationFailed", "cannot resume the VM on " + options_.node_name + ": " + st.message());
      return;
    }
    spdlog::info("{}/{} migrated here and runs", ns, name);
    RecordEvent(vmi, "Normal", "Migrated", "The VM runs on " + options_.node_name + " after a live migration");
    local = runtime_->Inspect(ns, name);
  }
  switch (local.phase) {
    case VmPhase::kIncoming:
      return;
    case VmPhase::kRunning: {
      if (!ip.empty()) {
        StatusOr<std::string> routed = RoutedAddress(ns, name, vmi);
        if (routed.ok()) {
          // After an agent restart: the tap survived with QEMU; the DHCP responder did not.
          auto tap = network_->SetUp(ns, name, ip, GetString(vmi, {"spec", "hostname"}, name));
          if (!tap.ok()) spdlog::warn("network of {}/{}: {}", ns, name, tap.status().ToString());
        } else if (routed.status().code() == Code::kForbidden) {
          // The allocation went away or names another VM: withdraw the route now (the tap
          // stays with QEMU, so the address comes back if IPAM gives it back).
          Status w = network_->Withdraw(ns, name, ip);
          if (!w.ok()) spdlog::warn("withdrawing {} of {}/{}: {}", ip, ns, name, w.ToString());
          bool first;
          {
            std::lock_guard lock(mu_);
            first = unverified_.insert(ns + "/" + name).second;
          }
          if (first) {
            spdlog::warn("{}", routed.status().message());
            RecordEvent(vmi, "Warning", "AddressNotAllocated", routed.status().message());
          }
        }
      }
      if (phase != "Running") {
        json::object st{{"phase", "Running"},
                        {"nodeName", options_.node_name},
                        {"startTime", local.started_at > 0 ? FormatTime(local.started_at) : now},
                        {"conditions", ready_conditions(true, "", "")},
                        {"interfaces", InterfacesStatus(vmi)},
                        {"volumeStatus", VolumeStatus(vmi)},
                        {"guestOSInfo", json::object{}},
                        {"qemuAccelerator", local.kvm ? "kvm" : "tcg"}};
        Status s = PatchStatus(ns, name, std::move(st));
        if (!s.ok()) spdlog::warn("status of {}/{}: {}", ns, name, s.ToString());
        else RecordEvent(vmi, "Normal", "Started", "VirtualMachineInstance started on " + options_.node_name +
                                                       (local.kvm ? " (KVM)" : " (TCG emulation)"));
      }
      return;
    }
    case VmPhase::kSucceeded: {
      PatchStatus(ns, name, json::object{{"phase", "Succeeded"}, {"conditions", ready_conditions(false, "Succeeded", "The guest shut down")}});
      RecordEvent(vmi, "Normal", "Stopped", "The guest shut itself down");
      runtime_->Stop(ns, name, 0);
      runtime_->Cleanup(ns, name);
      network_->TearDown(ns, name, ip);
      return;
    }
    case VmPhase::kFailed: {
      std::string why = local.detail.empty() ? "QEMU exited unexpectedly" : local.detail;
      PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "Failed", why)}});
      RecordEvent(vmi, "Warning", "Failed", why);
      runtime_->Cleanup(ns, name);
      network_->TearDown(ns, name, ip);
      return;
    }
    case VmPhase::kAbsent:
      break;
  }
  if (phase == "Running") {
    // It ran here, but nothing is left of it (the host rebooted, or the state was removed).
    PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "Failed", "the VM's QEMU process is gone")}});
    RecordEvent(vmi, "Warning", "Failed", "the VM's QEMU process is gone");
    return;
  }
  // Scheduled here: start it.
  StatusOr<VmSpec> spec = SpecFromVmi(vmi, *client_, ResolverFor(vmi));
  if (!spec.ok()) {
    std::string reason = spec.status().code() == Code::kNotFound ? "ErrImagePull" : "FailedCreate";
    spdlog::warn("cannot start {}/{}: {}", ns, name, spec.status().message());
    if (spec.status().code() == Code::kNotFound) {
      PatchStatus(ns, name, json::object{{"phase", "Scheduled"}, {"conditions", ready_conditions(false, reason, spec.status().message())}});
    } else {
      PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, reason, spec.status().message())}});
    }
    RecordEvent(vmi, "Warning", reason, spec.status().message());
    if (spec.status().code() == Code::kNotFound) {
      EnqueueAfter(ns + "/" + name, std::chrono::seconds(10));  // the image may be imported later
    }
    return;
  }
  if (Status vols = AttachVolumes(vmi, *spec); !vols.ok()) {
    PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "FailedAttachVolume", vols.message())}});
    RecordEvent(vmi, "Warning", "FailedAttachVolume", vols.message());
    return;
  }
  if (Status net = AttachNetwork(ns, name, vmi, *spec); !net.ok()) {
    PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "FailedCreate", net.message())}});
    RecordEvent(vmi, "Warning", "FailedCreate", "cannot set up the VM's network: " + net.message());
    return;
  }
  spdlog::info("starting {}/{}", ns, name);
  Status started = runtime_->Start(*spec);
  if (!started.ok() && started.code() != Code::kAlreadyExists) {
    PatchStatus(ns, name, json::object{{"phase", "Failed"}, {"conditions", ready_conditions(false, "FailedCreate", started.message())}});
    RecordEvent(vmi, "Warning", "FailedCreate", started.message());
    runtime_->Cleanup(ns, name);
    network_->TearDown(ns, name, ip);
    return;
  }
  Enqueue(ns + "/" + name);  // report Running
}

void AgentImpl::ReportMigration(const std::string& ns, const std::string& name,
                                json::object state, const std::string& node_name) {
  json::object status{{"migrationState", std::move(state)}};
  if (!node_name.empty()) status["nodeName"] = node_name;
  for (int attempt = 0; attempt < 10 && !stop_; ++attempt) {
    Status st = PatchStatus(ns, name, status);
    if (st.ok() || st.code() == Code::kNotFound) return;
    spdlog::warn("cannot report the migration of {}/{}: {}", ns, name, st.ToString());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

StatusOr<std::string> AgentImpl::RoutedAddress(const std::string& ns, const std::string& name,
                                               const json::value& vmi) {
  const std::string ip = GetString(vmi, {"metadata", "annotations", api::kVmiIpAnnotation});
  if (ip.empty()) return std::string();
  const std::string key = ns + "/" + name;
  const std::string proof = GetString(vmi, {"metadata", "uid"}) + "/" + ip;
  {
    std::lock_guard lock(mu_);
    auto it = verified_.find(key);
    if (it != verified_.end() && it->second.proof == proof &&
        std::chrono::steady_clock::now() - it->second.at <
            std::chrono::seconds(options_.address_recheck_seconds)) {
      return ip;
    }
  }
  auto alloc = client_->Get(ResourcePath("kumo.io", "v1alpha1", "ipallocations", "", ip));
  if (!alloc.ok() && alloc.status().code() != Code::kNotFound) return alloc.status();
  if (!alloc.ok() || GetString(*alloc, {"spec", "namespace"}) != ns ||
      GetString(*alloc, {"spec", "vm"}) != name) {
    std::lock_guard lock(mu_);
    verified_.erase(key);
    return Status(Code::kForbidden, "address " + ip + " was not allocated to " + key +
                                        " by IPAM; it is neither routed nor announced");
  }
  std::lock_guard lock(mu_);
  verified_[key] = Verified{proof, std::chrono::steady_clock::now()};
  unverified_.erase(key);
  return ip;
}

ImageResolver AgentImpl::ResolverFor(const json::value& vmi) {
  return [this, vmi](const json::value& image) -> StatusOr<std::string> {
    if (!Find(image, {"spec", "source", "upload"})) return GetString(image, {"status", "path"});
    std::string sum = GetString(image, {"status", "checksum"});
    if (sum.starts_with("sha256:")) sum = sum.substr(7);
    auto path = images_->Get(GetString(image, {"metadata", "name"}), sum,
                             [&](const std::string& what) {
                               bool bad = what.find("corrupted") != std::string::npos;
                               RecordEvent(vmi, bad ? "Warning" : "Normal",
                                           bad ? "ImageCorrupted" : "ImageFetched", what);
                             });
    if (path.ok()) ReportImages();
    return path;
  };
}

void AgentImpl::ReportImages() {
  std::vector<CachedImage> cached = images_->List();
  {
    std::lock_guard lock(mu_);
    if (cached.size() == reported_images_) return;
    reported_images_ = cached.size();
  }
  json::array list;
  for (const auto& c : cached) {
    list.push_back(json::object{
        {"names", json::array{json::value("kumo.io/images/" + c.name + "@sha256:" + c.sha256)}},
        {"sizeBytes", c.size}});
  }
  auto patched = client_->Patch(ResourcePath("", "v1", "nodes", "", options_.node_name, "status"),
                                PatchType::kMerge,
                                json::object{{"status", json::object{{"images", std::move(list)}}}});
  if (!patched.ok()) spdlog::warn("cannot report cached images: {}", patched.status().ToString());
}

Status AgentImpl::AttachVolumes(const json::value& vmi, VmSpec& spec, bool incoming) {
  KUMO_ASSIGN_OR_RETURN(std::vector<api::VolumeDisk> disks, api::DisksOf(vmi));
  if (disks.empty()) return Status::Ok();
  // Uploaded images that fill new volumes come from this node's cache.
  for (auto& d : disks) {
    if (d.populated || d.source != "image" || d.image_checksum.empty()) continue;
    auto img = client_->Get(ResourcePath("kumo.io", "v1alpha1", "images", "", d.image_name));
    if (!img.ok()) return img.status();
    KUMO_ASSIGN_OR_RETURN(d.image_path, ResolverFor(vmi)(*img));
  }
  KUMO_ASSIGN_OR_RETURN(spec.volumes, PrepareVolumes(disks, VolumeDir(), incoming));
  return Status::Ok();
}

Status AgentImpl::AttachNetwork(const std::string& ns, const std::string& name,
                                const json::value& vmi, VmSpec& spec) {
  KUMO_ASSIGN_OR_RETURN(const std::string ip, RoutedAddress(ns, name, vmi));
  if (ip.empty()) return Status::Ok();  // QEMU's user-mode network
  KUMO_ASSIGN_OR_RETURN(spec.tap_device,
                        network_->SetUp(ns, name, ip, GetString(vmi, {"spec", "hostname"}, name)));
  spec.network_mode = "tap";
  if (spec.network_config.empty()) spec.network_config = RoutedNetworkConfig(ip, {"169.254.1.1"}, 1500);
  return Status::Ok();
}

void AgentImpl::SyncIncoming(const std::string& ns, const std::string& name,
                             const json::value& vmi, const VmStatus& local) {
  const json::value& ms = *Find(vmi, {"status", "migrationState"});
  if (local.phase == VmPhase::kIncoming) return;  // waiting for the source
  auto fail = [&](const std::string& why) {
    spdlog::warn("cannot receive {}/{}: {}", ns, name, why);
    runtime_->Stop(ns, name, 0);
    runtime_->Cleanup(ns, name);
    ReportMigration(ns, name,
                    json::object{{"failed", true},
                                 {"failureReason", "target node " + options_.node_name + ": " + why},
                                 {"endTimestamp", Now()}},
                    "");
  };
  if (local.phase != VmPhase::kAbsent) return fail("a VM of the same name is already here");
  StatusOr<VmSpec> spec = SpecFromVmi(vmi, *client_, ResolverFor(vmi));
  if (!spec.ok()) return fail(spec.status().message());
  if (Status vols = AttachVolumes(vmi, *spec, /*incoming=*/true); !vols.ok()) {
    return fail(vols.message());
  }
  const std::string ip = GetString(vmi, {"metadata", "annotations", "kumo.io/ip"});
  if (Status net = AttachNetwork(ns, name, vmi, *spec); !net.ok()) {
    return fail("cannot set up the VM's network: " + net.message());
  }
  auto ep = runtime_->StartIncoming(*spec, MigrationEndpoint{migration_host_, 0, 0});
  if (!ep.ok()) {
    network_->TearDown(ns, name, ip);
    return fail(ep.status().message());
  }
  spdlog::info("waiting for {}/{} from {} at {}:{}", ns, name, GetString(ms, {"sourceNode"}),
               ep->host, ep->migration_port);
  ReportMigration(ns, name,
                  json::object{{"targetNodeAddress", ep->host},
                               {"targetMigrationPort", ep->migration_port},
                               {"targetDiskPort", ep->nbd_port}},
                  "");
}

void AgentImpl::StartMigration(const std::string& ns, const std::string& name,
                               const json::value& vmi) {
  std::lock_guard lock(mu_);
  if (!migrating_.insert(ns + "/" + name).second) return;
  migration_threads_.emplace_back([this, ns, name, vmi] { MigrateOut(ns, name, vmi); });
}

void AgentImpl::MigrateOut(const std::string& ns, const std::string& name, const json::value& vmi) {
  const json::value& ms = *Find(vmi, {"status", "migrationState"});
  const std::string target = GetString(ms, {"targetNode"});
  MigrationEndpoint ep{GetString(ms, {"targetNodeAddress"}),
                       static_cast<int>(GetInt(ms, {"targetDiskPort"})),
                       static_cast<int>(GetInt(ms, {"targetMigrationPort"}))};
  spdlog::info("migrating {}/{} to {} ({}:{})", ns, name, target, ep.host, ep.migration_port);
  RecordEvent(vmi, "Normal", "Migrating", "Copying the disk and memory to " + target);
  auto started = std::chrono::steady_clock::now();
  Status st = runtime_->MigrateOut(ns, name, ep, 240);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (st.ok()) {
    // The target holds the VM now: hand the VMI over, then clear up here.
    ReportMigration(ns, name, json::object{{"completed", true}, {"endTimestamp", Now()}}, target);
    network_->TearDown(ns, name, GetString(vmi, {"metadata", "annotations", "kumo.io/ip"}));
    runtime_->Cleanup(ns, name);
    spdlog::info("migrated {}/{} to {} in {:.1f}s", ns, name, target, secs);
  } else {
    spdlog::warn("migration of {}/{} to {} failed: {}", ns, name, target, st.ToString());
    ReportMigration(ns, name,
                    json::object{{"failed", true},
                                 {"failureReason", st.message()},
                                 {"endTimestamp", Now()}},
                    "");
    RecordEvent(vmi, "Warning", "MigrationFailed",
                "The migration to " + target + " failed: " + st.message() + "; the VM keeps running here");
  }
  std::lock_guard lock(mu_);
  migrating_.erase(ns + "/" + name);
  queue_.insert(ns + "/" + name);
  cv_.notify_one();
}

}  // namespace

StatusOr<std::unique_ptr<Agent>> Agent::Start(const AgentOptions& options,
                                              std::unique_ptr<client::RestClient> client,
                                              std::unique_ptr<Runtime> runtime) {
  auto agent = std::make_unique<AgentImpl>(options, std::move(client), std::move(runtime));
  KUMO_RETURN_IF_ERROR(agent->Init());
  return std::unique_ptr<Agent>(std::move(agent));
}

}  // namespace kumo::agent
