#include "agent/hollow.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <vector>

#include "agent/node_api.h"
#include "agent/vmi_spec.h"
#include "api/kubevirt.h"
#include "api/storage.h"
#include "client/node_identity.h"
#include "client/rest_client.h"
#include "common/log.h"

namespace kumo::agent {

namespace {

using client::PatchType;
using client::ResourcePath;
using Clock = std::chrono::steady_clock;

struct HollowNode {
  std::string name;
  std::unique_ptr<client::RestClient> client;
  Clock::time_point next_heartbeat;
  Clock::time_point last_status_report{};
};

// The i-th loopback source address: 127.1.0.1, 127.1.0.2, ... (never 127.0.0.x).
std::string SourceAddress(int i) {
  return "127." + std::to_string(1 + i / 62500) + "." + std::to_string((i / 250) % 250) + "." +
         std::to_string(i % 250 + 1);
}

bool IsLoopbackUrl(const std::string& url) {
  return url.find("://127.") != std::string::npos || url.find("://localhost") != std::string::npos;
}

class HollowImpl : public HollowNodes {
 public:
  explicit HollowImpl(HollowOptions options) : options_(std::move(options)) {}
  ~HollowImpl() override { Stop(); }

  Status Init();
  void Stop() override;
  size_t running() const override {
    std::lock_guard lock(mu_);
    return running_.size();
  }

 private:
  Status Register(HollowNode& node);
  void HeartbeatLoop();
  void WorkLoop();
  void Enqueue(size_t node, const std::string& ns_name);
  void Sync(size_t node, const std::string& ns, const std::string& name);

  HollowOptions options_;
  std::vector<std::unique_ptr<HollowNode>> nodes_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, std::string>> queue_;
  std::set<std::pair<size_t, std::string>> queued_;
  std::map<std::string, std::string> running_;  // "ns/name" -> uid, over all nodes
};

Status HollowImpl::Init() {
  // Identities and clients first (the CA key signs one certificate per node).
  for (int i = 0; i < options_.count; ++i) {
    auto node = std::make_unique<HollowNode>();
    char name[128];
    snprintf(name, sizeof name, "%s%05d", options_.name_prefix.c_str(), options_.first_index + i);
    node->name = name;
    KUMO_ASSIGN_OR_RETURN(client::Kubeconfig kc, client::IssueNodeKubeconfig(
                                                     options_.server_data_dir, node->name, options_.server_url));
    KUMO_ASSIGN_OR_RETURN(client::RestConfig config, client::RestConfigFromKubeconfig(kc));
    config.max_idle_connections = 2;
    if (options_.distinct_source_addresses && IsLoopbackUrl(config.server)) {
      config.source_address = SourceAddress(options_.first_index + i);
    }
    KUMO_ASSIGN_OR_RETURN(node->client, client::RestClient::New(config));
    nodes_.push_back(std::move(node));
  }
  // Register in parallel, as a fleet of agents starting together would.
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  Status first_error = Status::Ok();
  std::vector<std::thread> registrars;
  for (int t = 0; t < options_.workers; ++t) {
    registrars.emplace_back([&] {
      for (size_t i = next++; i < nodes_.size() && !stop_; i = next++) {
        Status st = Register(*nodes_[i]);
        if (!st.ok()) {
          std::lock_guard lock(err_mu);
          if (first_error.ok()) first_error = Status(st.code(), nodes_[i]->name + ": " + st.message());
        }
      }
    });
  }
  for (auto& t : registrars) t.join();
  KUMO_RETURN_IF_ERROR(first_error);
  // Heartbeats spread over the period, as independent agents' are.
  auto now = Clock::now();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i]->next_heartbeat =
        now + std::chrono::milliseconds(options_.heartbeat_seconds * 1000 * static_cast<int64_t>(i) /
                                        static_cast<int64_t>(nodes_.size()));
  }
  threads_.emplace_back([this] { HeartbeatLoop(); });
  for (int t = 0; t < options_.workers; ++t) threads_.emplace_back([this] { WorkLoop(); });
  // The watches of a real agent, each on its own connection.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    HollowNode& n = *nodes_[i];
    auto vmis = [this, i](const json::value& vmi) {
      Enqueue(i, GetString(vmi, {"metadata", "namespace"}) + "/" + GetString(vmi, {"metadata", "name"}));
    };
    const std::string vmi_path = ResourcePath("kubevirt.io", "v1", "virtualmachineinstances") + "?fieldSelector=";
    threads_.emplace_back([this, &n, vmis, vmi_path] {
      ListAndWatch(*n.client, vmi_path + client::QueryEscape("status.nodeName=" + n.name), "VMIs", vmis, stop_);
    });
    threads_.emplace_back([this, &n, vmis, vmi_path] {
      ListAndWatch(*n.client, vmi_path + client::QueryEscape("status.migrationState.targetNode=" + n.name),
                   "incoming VMIs", vmis, stop_);
    });
    // Hollow nodes hold no volume data: the watches are kept for their cost, events ignored.
    threads_.emplace_back([this, &n] {
      ListAndWatch(*n.client,
                   ResourcePath("", "v1", "persistentvolumes") + "?fieldSelector=" +
                       client::QueryEscape(std::string(api::kPvNodeField) + "=" + n.name),
                   "volumes", [](const json::value&) {}, stop_);
    });
    threads_.emplace_back([this, &n] {
      ListAndWatch(*n.client,
                   ResourcePath(api::kSnapshotGroup, "v1", "volumesnapshotcontents") + "?fieldSelector=" +
                       client::QueryEscape(std::string(api::kSnapshotNodeField) + "=" + n.name),
                   "snapshots", [](const json::value&) {}, stop_);
    });
  }
  spdlog::info("{} hollow nodes registered ({}..{})", nodes_.size(), nodes_.front()->name, nodes_.back()->name);
  return Status::Ok();
}

Status HollowImpl::Register(HollowNode& n) {
  json::value node = json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", n.name},
                                {"labels", json::object{{"kubernetes.io/hostname", n.name},
                                                        {"kubernetes.io/arch", "amd64"},
                                                        {"kubernetes.io/os", "linux"},
                                                        {"kubevirt.io/schedulable", "true"},
                                                        {"kumo.io/hollow", "true"}}}}},
      {"spec", json::object{}}};
  auto created = n.client->Create(ResourcePath("", "v1", "nodes"), node);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  const std::string cpu = std::to_string(options_.cpus);
  const std::string mem = std::to_string(options_.memory_bytes / 1024) + "Ki";
  json::object status{
      {"capacity", json::object{{"cpu", cpu}, {"memory", mem}}},
      {"allocatable", json::object{{"cpu", cpu}, {"memory", mem}}},
      {"addresses", json::array{json::object{{"type", "Hostname"}, {"address", n.name}}}},
      {"nodeInfo", json::object{{"kubeletVersion", "kumo-agent/0.1.0 (hollow)"},
                                {"osImage", "hollow"},
                                {"architecture", "amd64"},
                                {"operatingSystem", "linux"}}}};
  auto patched = n.client->Patch(ResourcePath("", "v1", "nodes", "", n.name, "status"), PatchType::kMerge,
                                 json::object{{"status", status}});
  if (!patched.ok()) return patched.status();
  KUMO_RETURN_IF_ERROR(PostNodeReady(*n.client, n.name, "hollow node (no VMs run here)"));
  n.last_status_report = Clock::now();
  return RenewLease(*n.client, n.name, options_.lease_duration_seconds);
}

void HollowImpl::HeartbeatLoop() {
  // Nodes in order of their next heartbeat.
  using Due = std::pair<Clock::time_point, size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
  for (size_t i = 0; i < nodes_.size(); ++i) due.emplace(nodes_[i]->next_heartbeat, i);
  while (!stop_ && !due.empty()) {
    auto [when, i] = due.top();
    if (Clock::now() < when) {
      std::this_thread::sleep_for(std::min<Clock::duration>(when - Clock::now(), std::chrono::milliseconds(100)));
      continue;
    }
    due.pop();
    HollowNode& n = *nodes_[i];
    Status st = Status::Ok();
    if (Clock::now() - n.last_status_report >= std::chrono::seconds(options_.status_report_seconds)) {
      st = PostNodeReady(*n.client, n.name, "hollow node (no VMs run here)");
      if (st.ok()) n.last_status_report = Clock::now();
    }
    if (st.ok()) st = RenewLease(*n.client, n.name, options_.lease_duration_seconds);
    if (!st.ok()) spdlog::warn("heartbeat of {} failed: {}", n.name, st.ToString());
    // Late heartbeats are not bunched up: the next one is a period after this one.
    due.emplace(std::max(when + std::chrono::seconds(options_.heartbeat_seconds), Clock::now()), i);
  }
}

void HollowImpl::Enqueue(size_t node, const std::string& ns_name) {
  std::lock_guard lock(mu_);
  if (queued_.emplace(node, ns_name).second) {
    queue_.emplace_back(node, ns_name);
    cv_.notify_one();
  }
}

void HollowImpl::WorkLoop() {
  while (!stop_) {
    std::pair<size_t, std::string> item;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_ || !queue_.empty(); });
      if (stop_ || queue_.empty()) continue;
      item = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(item);
    }
    size_t slash = item.second.find('/');
    Sync(item.first, item.second.substr(0, slash), item.second.substr(slash + 1));
  }
}

void HollowImpl::Sync(size_t i, const std::string& ns, const std::string& name) {
  HollowNode& n = *nodes_[i];
  client::RestClient& c = *n.client;
  const std::string key = ns + "/" + name;
  auto got = c.Get(ResourcePath("kubevirt.io", "v1", "virtualmachineinstances", ns, name));
  if (!got.ok() && got.status().code() != Code::kNotFound) {
    spdlog::warn("{}: cannot read VMI {}: {}", n.name, key, got.status().ToString());
    Enqueue(i, key);
    return;
  }
  auto held = [&] {
    std::lock_guard lock(mu_);
    auto it = running_.find(key);
    return it != running_.end() && got.ok() && it->second == GetString(*got, {"metadata", "uid"});
  };
  auto release = [&] {
    std::lock_guard lock(mu_);
    running_.erase(key);
  };
  if (!got.ok() || GetString(*got, {"status", "nodeName"}) != n.name) {
    release();  // deleted, or bound elsewhere (a migration target is not simulated)
    return;
  }
  const json::value& vmi = *got;
  if (!GetString(vmi, {"metadata", "deletionTimestamp"}).empty()) {
    if (held()) RecordVmiEvent(c, vmi, n.name, "Normal", "Stopped", "The virtual machine was shut down");
    release();
    Status st = RemoveVmiFinalizer(c, ns, name);
    if (!st.ok()) {
      spdlog::warn("{}: cannot release VMI {}: {}", n.name, key, st.ToString());
      Enqueue(i, key);
    }
    return;
  }
  const std::string phase = GetString(vmi, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") {
    release();
    return;
  }
  if (phase == "Running") return;
  // Scheduled here: "start" it. A real agent routes only an address IPAM allocated to it.
  const std::string ip = GetString(vmi, {"metadata", "annotations", api::kVmiIpAnnotation});
  if (!ip.empty()) {
    auto alloc = c.Get(ResourcePath("kumo.io", "v1alpha1", "ipallocations", "", ip));
    if (!alloc.ok() || GetString(*alloc, {"spec", "namespace"}) != ns || GetString(*alloc, {"spec", "vm"}) != name) {
      spdlog::warn("{}: address {} of {} is not allocated to it", n.name, ip, key);
    }
  }
  json::object st{{"phase", "Running"},
                  {"nodeName", n.name},
                  {"startTime", NowRfc3339()},
                  {"conditions", VmiConditions(true, "", "")},
                  {"interfaces", InterfacesStatus(vmi)},
                  {"guestOSInfo", json::object{}},
                  {"qemuAccelerator", "hollow"}};
  Status s = PatchVmiStatus(c, ns, name, std::move(st));
  if (!s.ok()) {
    if (s.code() != Code::kNotFound) {
      spdlog::warn("{}: status of {}: {}", n.name, key, s.ToString());
      Enqueue(i, key);
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    running_[key] = GetString(vmi, {"metadata", "uid"});
  }
  RecordVmiEvent(c, vmi, n.name, "Normal", "Started", "VirtualMachineInstance started on " + n.name + " (hollow)");
}

void HollowImpl::Stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace

StatusOr<std::unique_ptr<HollowNodes>> HollowNodes::Start(const HollowOptions& options) {
  if (options.count <= 0) return BadRequest("--hollow needs a positive number of nodes");
  if (options.count > 100000) return BadRequest("--hollow: at most 100000 nodes per process");
  auto impl = std::make_unique<HollowImpl>(options);
  KUMO_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<HollowNodes>(std::move(impl));
}

}  // namespace kumo::agent
