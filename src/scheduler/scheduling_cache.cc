#include "scheduler/scheduling_cache.h"

#include "api/resource.h"
#include "common/log.h"

namespace kumo::scheduler {

namespace {

const std::string& NodePrefix() {
  static const std::string p = api::DefaultRegistry().Find("", "v1", "nodes")->KeyPrefix();
  return p;
}
const std::string& VmiPrefix() {
  static const std::string p =
      api::DefaultRegistry().Find("kubevirt.io", "v1", "virtualmachineinstances")->KeyPrefix();
  return p;
}

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// A VMI holds room on its node from binding until it finishes or is gone.
bool Holds(const store::CachedObject& vmi) {
  if (vmi.Field("status.nodeName").empty()) return false;
  std::string phase = vmi.Field("status.phase");
  return phase != "Succeeded" && phase != "Failed";
}

}  // namespace

SchedulingCache::SchedulingCache(store::WatchCache& cache, Config config)
    : cache_(cache), config_(config) {}

SchedulingCache::~SchedulingCache() { Stop(); }

void SchedulingCache::Start() {
  Reload();
  thread_ = std::thread([this] { Feed(); });
}

void SchedulingCache::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SchedulingCache::Reload() {
  std::lock_guard lock(mu_);
  nodes_.clear();
  node_index_.clear();
  vmis_.clear();
  present_nodes_ = 0;
  for (const auto& n : cache_.List(NodePrefix(), "", 0, nullptr).items) {
    ApplyNodeLocked(*n, false);
  }
  for (const auto& v : cache_.List(VmiPrefix(), "", 0, [](const store::CachedObject& o) {
         return Holds(o);
       }).items) {
    ApplyVmiLocked(*v, false, v->mod_revision);
  }
}

void SchedulingCache::Feed() {
  while (!stop_) {
    // Watch first, then list: the list is at least as new as the watches' start, and replayed
    // events older than what was listed are recognized by their revision.
    int64_t rev = cache_.revision();
    auto nodes = cache_.Watch(NodePrefix(), rev);
    auto vmis = cache_.Watch(VmiPrefix(), rev);
    if (!nodes.ok() || !vmis.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    Reload();
    bool restart = false;
    while (!stop_ && !restart) {
      // Every change at or below this revision is in the watchers' queues once Next returns.
      const int64_t seen = cache_.revision();
      for (auto* w : {&*nodes, &*vmis}) {
        auto events = (*w)->Next(std::chrono::milliseconds(50));
        if (!events.ok()) {
          spdlog::warn("scheduler cache: {}; loading again", events.status().ToString());
          restart = true;
          break;
        }
        for (const auto& ev : *events) Apply(ev);
      }
      if (!restart) {
        std::lock_guard lock(mu_);
        applied_ = std::max(applied_, seen);
        applied_cv_.notify_all();
      }
    }
  }
}

Status SchedulingCache::Sync(std::chrono::milliseconds timeout) {
  const int64_t want = cache_.revision();
  std::unique_lock lock(mu_);
  if (applied_cv_.wait_for(lock, timeout, [&] { return applied_ >= want || stop_; })) {
    return Status::Ok();
  }
  return Status(Code::kTimeout, "the scheduler's view of the cluster is behind; try again");
}

void SchedulingCache::Apply(const store::CacheEvent& event) {
  const bool deleted = event.type == store::EventType::kDelete;
  std::function<void()> room;
  {
    std::lock_guard lock(mu_);
    if (HasPrefix(event.object->key, NodePrefix())) {
      if (ApplyNodeLocked(*event.object, deleted)) room = on_room_;
    } else if (HasPrefix(event.object->key, VmiPrefix())) {
      ApplyVmiLocked(*event.object, deleted, event.revision);
    }
  }
  if (room) room();
}

void SchedulingCache::OnRoom(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_room_ = std::move(fn);
}

SchedulingCache::NodeEntry& SchedulingCache::NodeLocked(const std::string& name) {
  auto [it, added] = node_index_.emplace(name, nodes_.size());
  if (added) {
    nodes_.emplace_back();
    nodes_.back().info.name = name;
  }
  return nodes_[it->second];
}

bool SchedulingCache::ApplyNodeLocked(const store::CachedObject& obj, bool deleted) {
  std::string name = obj.Field("metadata.name");
  if (deleted) {
    auto it = node_index_.find(name);
    if (it == node_index_.end() || !nodes_[it->second].present) return false;
    nodes_[it->second].present = false;
    --present_nodes_;
    return false;
  }
  auto parsed = ParseJson(obj.json);
  if (!parsed.ok()) return false;
  NodeEntry& e = NodeLocked(name);
  NodeInfo info = NodeFromJson(*parsed);
  info.name = name;
  const bool room = NodeChangeMayUnblock(e.present ? &e.info : nullptr, &info);
  e.info = std::move(info);
  if (!e.present) ++present_nodes_;
  e.present = true;
  return room;
}

void SchedulingCache::ApplyVmiLocked(const store::CachedObject& obj, bool deleted,
                                     int64_t revision) {
  auto it = vmis_.find(obj.key);
  if (it != vmis_.end() && revision < it->second.min_revision) return;  // stale
  const std::string node = obj.Field("status.nodeName");
  if (it != vmis_.end() && it->second.assumed && !deleted) {
    if (node.empty()) return;  // from before the assumed binding
    if (node == it->second.node) {
      it->second.assumed = false;  // confirmed
      if (Holds(obj)) return;
    }
  }
  if (deleted || !Holds(obj)) {
    UncountLocked(obj.key);
    return;
  }
  if (it != vmis_.end() && it->second.node == node) return;  // a status change: same usage
  auto parsed = ParseJson(obj.json);
  if (!parsed.ok()) return;
  auto request = RequestForVmi(*parsed, config_);
  if (!request.ok()) return;
  CountLocked(obj.key, Placed{node, request->cpu_millis, request->memory_bytes, revision});
}

void SchedulingCache::CountLocked(const std::string& key, Placed placed) {
  UncountLocked(key);
  Usage& u = NodeLocked(placed.node).usage;
  u.cpu_millis += placed.cpu_millis;
  u.memory_bytes += placed.memory_bytes;
  ++u.vms;
  vmis_.emplace(key, std::move(placed));
}

void SchedulingCache::UncountLocked(const std::string& key) {
  auto it = vmis_.find(key);
  if (it == vmis_.end()) return;
  auto n = node_index_.find(it->second.node);
  if (n != node_index_.end()) {
    Usage& u = nodes_[n->second].usage;
    u.cpu_millis -= it->second.cpu_millis;
    u.memory_bytes -= it->second.memory_bytes;
    --u.vms;
  }
  vmis_.erase(it);
}

StatusOr<std::string> SchedulingCache::PickAndAssume(const std::string& key,
                                                     const Request& request) {
  std::lock_guard lock(mu_);
  KUMO_ASSIGN_OR_RETURN(std::string node, PickLocked(request, ""));
  Placed placed{node, request.cpu_millis, request.memory_bytes, 0};
  placed.assumed = true;
  CountLocked(key, std::move(placed));
  return node;
}

bool SchedulingCache::Counted(const std::string& key) const {
  std::lock_guard lock(mu_);
  return vmis_.count(key) > 0;
}

void SchedulingCache::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  UncountLocked(key);
}

StatusOr<std::string> SchedulingCache::Pick(const Request& request,
                                            const std::string& exclude_node) {
  std::lock_guard lock(mu_);
  return PickLocked(request, exclude_node);
}

StatusOr<std::string> SchedulingCache::PickLocked(const Request& request,
                                                  const std::string& exclude_node) {
  std::map<std::string, int> reasons;
  std::vector<std::string> why;
  auto tally = [&] {
    for (const auto& w : why) ++reasons[w];
    why.clear();
  };
  const size_t live = present_nodes_ - (node_index_.count(exclude_node) &&
                                                nodes_[node_index_.at(exclude_node)].present
                                            ? 1
                                            : 0);
  if (!request.required_node.empty()) {
    // Pinned to the node that holds its volumes: only that node is examined.
    auto it = node_index_.find(request.required_node);
    if (it != node_index_.end() && nodes_[it->second].present &&
        request.required_node != exclude_node) {
      const NodeEntry& e = nodes_[it->second];
      if (Fits(request, e.info, e.usage, &why)) return e.info.name;
      tally();
    }
    const size_t others = live - (it != node_index_.end() && nodes_[it->second].present &&
                                          request.required_node != exclude_node
                                      ? 1
                                      : 0);
    if (others > 0) {
      reasons["node(s) didn't hold the VM's local volumes (on " + request.required_node + ")"] +=
          static_cast<int>(others);
    }
    return Unschedulable(live, reasons);
  }
  const size_t want = FeasibleNodesToFind(live);
  const NodeEntry* best = nullptr;
  double best_score = -1;
  size_t found = 0;
  size_t i = 0;
  const size_t slots = nodes_.size();
  for (; i < slots && found < want; ++i) {
    const NodeEntry& e = nodes_[(next_start_ + i) % slots];
    if (!e.present || e.info.name == exclude_node) continue;
    if (!Fits(request, e.info, e.usage, &why)) {
      tally();
      continue;
    }
    ++found;
    double score = Score(request, e.info, e.usage);
    if (!best || Better(score, e.usage.vms, best_score, best->usage.vms)) {
      best = &e;
      best_score = score;
    }
  }
  if (slots) next_start_ = (next_start_ + i) % slots;
  if (best) return best->info.name;
  return Unschedulable(live, reasons);
}

size_t SchedulingCache::node_count() const {
  std::lock_guard lock(mu_);
  return present_nodes_;
}

size_t SchedulingCache::vmi_count() const {
  std::lock_guard lock(mu_);
  return vmis_.size();
}

bool SchedulingCache::NodeChangeMayUnblock(const NodeInfo* before, const NodeInfo* after) {
  if (!after) return false;  // a node that goes away makes no room
  if (!before) return true;
  const NodeInfo& b = *before;
  const NodeInfo& a = *after;
  if (a.labels != b.labels) return true;
  if (a.ready && !b.ready) return true;
  if (b.unschedulable && !a.unschedulable) return true;
  if (a.cpu_millis > b.cpu_millis || a.memory_bytes > b.memory_bytes) return true;
  if (a.taints.size() != b.taints.size()) return true;
  for (size_t i = 0; i < a.taints.size(); ++i) {
    const Taint& x = a.taints[i];
    const Taint& y = b.taints[i];
    if (x.key != y.key || x.value != y.value || x.effect != y.effect) return true;
  }
  return false;
}

}  // namespace kumo::scheduler
