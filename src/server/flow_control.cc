#include "server/flow_control.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "server/authz.h"

namespace kumo::server {

namespace {

constexpr char kExempt[] = "exempt";
constexpr char kSystemNodes[] = "system-nodes";
constexpr char kTenants[] = "tenants";

// A stable UUID-shaped identifier for a configuration object's name (APF's objects have UIDs;
// ours are fixed, so the UID is derived from the name and survives restarts).
std::string UidOf(std::string_view name) {
  uint64_t a = FlowHash(name);
  uint64_t b = FlowHash(std::string(name) + "#kumo");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(b >> 52),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

bool IsLongRunning(const RequestInfo& info) {
  if (info.verb == "watch") return true;
  return info.group == "subresources.kubevirt.io" &&
         (info.subresource == "console" || info.subresource == "consolelog" ||
          info.subresource == "vnc" ||
          info.subresource == "portforward");
}

}  // namespace

FlowControlConfig FlowControlConfig::Default(unsigned cores) {
  int c = static_cast<int>(std::max(1u, cores));
  FlowControlConfig f;
  f.exempt = PriorityLevelConfig{.name = "exempt", .exempt = true};
  f.system = PriorityLevelConfig{.name = "system",
                                 .concurrency = std::max(16, 4 * c),
                                 .queues = 16,
                                 .hand_size = 4,
                                 .queue_length_limit = 50};
  f.tenants = PriorityLevelConfig{.name = "workload-tenants",
                                  .concurrency = std::max(1, c - 1),
                                  .queues = 64,
                                  .hand_size = 4,
                                  .queue_length_limit = 12};
  return f;
}

uint64_t FlowHash(std::string_view flow) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : flow) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return h;
}

std::vector<int> DealHand(uint64_t hash, int deck_size, int hand_size) {
  hand_size = std::clamp(hand_size, 1, std::max(1, deck_size));
  std::vector<int> remainders(static_cast<size_t>(hand_size));
  for (int i = 0; i < hand_size; ++i) {
    uint64_t radix = static_cast<uint64_t>(deck_size - i);
    uint64_t next = hash / radix;
    remainders[static_cast<size_t>(i)] = static_cast<int>(hash - radix * next);
    hash = next;
  }
  std::vector<int> hand;
  hand.reserve(remainders.size());
  for (int i = 0; i < hand_size; ++i) {
    int card = remainders[static_cast<size_t>(i)];
    for (int j = i; j > 0; --j) {
      if (card >= remainders[static_cast<size_t>(j - 1)]) ++card;
    }
    hand.push_back(card);
  }
  return hand;
}

PriorityLevel::PriorityLevel(PriorityLevelConfig config)
    : config_(std::move(config)), queues_(static_cast<size_t>(std::max(0, config_.queues))) {}

PriorityLevel::Seat& PriorityLevel::Seat::operator=(Seat&& o) noexcept {
  if (this != &o) {
    Release();
    level_ = o.level_;
    queue_ = o.queue_;
    o.level_ = nullptr;
  }
  return *this;
}

void PriorityLevel::Seat::Release() {
  if (level_) level_->Release(queue_);
  level_ = nullptr;
}

StatusOr<PriorityLevel::Seat> PriorityLevel::Acquire(std::string_view flow, double weight) {
  if (config_.exempt) return Seat();
  double cost = 1.0 / std::max(weight, 0.01);
  std::unique_lock lock(mu_);
  if (stopped_) return Status(Code::kUnavailable, "the server is shutting down");
  auto too_many = [&]() {
    ++rejected_;
    return Status(Code::kTooManyRequests, "Too many requests, please try again later.")
        .set_retry_after(1);
  };
  if (queues_.empty()) {
    if (executing_ >= config_.concurrency) return too_many();
    ++executing_;
    return Seat(this, -1);
  }
  // Shuffle sharding: the shortest queue (waiting plus executing) of the flow's hand.
  int best = -1;
  size_t best_len = std::numeric_limits<size_t>::max();
  for (int q : DealHand(FlowHash(flow), static_cast<int>(queues_.size()), config_.hand_size)) {
    size_t len = queues_[static_cast<size_t>(q)].waiting.size() +
                 static_cast<size_t>(queues_[static_cast<size_t>(q)].executing);
    if (len < best_len) {
      best = q;
      best_len = len;
    }
  }
  Queue& queue = queues_[static_cast<size_t>(best)];
  if (static_cast<int>(queue.waiting.size()) >= config_.queue_length_limit) return too_many();
  if (flow_finish_.size() > 4096) {
    // Flows whose last finish is in the past carry no state worth keeping.
    std::erase_if(flow_finish_, [this](const auto& kv) { return kv.second <= vclock_; });
  }
  auto [flow_it, fresh] = flow_finish_.try_emplace(std::string(flow), 0.0);
  Waiter w;
  w.start = std::max(vclock_, flow_it->second);
  w.finish = w.start + cost;
  flow_it->second = w.finish;
  queue.waiting.push_back(&w);
  ++waiting_;
  Dispatch();
  auto deadline = std::chrono::steady_clock::now() + config_.max_wait;
  while (!w.dispatched && !stopped_) {
    if (w.cv.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  if (w.dispatched) return Seat(this, best);
  auto it = std::find(queue.waiting.begin(), queue.waiting.end(), &w);
  if (it != queue.waiting.end()) {
    queue.waiting.erase(it);
    --waiting_;
  }
  if (stopped_) return Status(Code::kUnavailable, "the server is shutting down");
  return too_many();
}

void PriorityLevel::Dispatch() {
  while (executing_ < config_.concurrency && waiting_ > 0) {
    Queue* pick = nullptr;
    for (auto& q : queues_) {
      if (q.waiting.empty()) continue;
      if (!pick || q.waiting.front()->finish < pick->waiting.front()->finish) pick = &q;
    }
    if (!pick) return;
    Waiter* w = pick->waiting.front();
    pick->waiting.pop_front();
    --waiting_;
    ++executing_;
    ++pick->executing;
    vclock_ = std::max(vclock_, w->start);
    w->dispatched = true;
    w->cv.notify_one();
  }
}

void PriorityLevel::Release(int queue) {
  std::lock_guard lock(mu_);
  --executing_;
  if (queue >= 0) --queues_[static_cast<size_t>(queue)].executing;
  Dispatch();
}

void PriorityLevel::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (auto& q : queues_) {
    for (Waiter* w : q.waiting) w->cv.notify_one();
  }
}

int PriorityLevel::executing() const {
  std::lock_guard lock(mu_);
  return executing_;
}

int PriorityLevel::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

int64_t PriorityLevel::rejected() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

FlowController::FlowController(FlowControlConfig config, const TenantDirectory& tenants)
    : config_(std::move(config)),
      directory_(tenants),
      system_level_(config_.system),
      tenant_level_(config_.tenants) {}

FlowClass FlowController::Classify(const UserInfo& user, const RequestInfo& info) const {
  FlowClass c;
  c.long_running = IsLongRunning(info);
  if (std::find(user.groups.begin(), user.groups.end(), kMastersGroup) != user.groups.end()) {
    c.flow_schema = kExempt;
    c.priority_level = config_.exempt.name;
    return c;
  }
  if (!NodeNameOf(user).empty()) {
    c.flow_schema = kSystemNodes;
    c.priority_level = config_.system.name;
    c.flow = "user:" + user.name;
    return c;
  }
  c.flow_schema = kTenants;
  c.priority_level = config_.tenants.name;
  c.flow = "user:" + user.name;
  if (!info.namespace_.empty()) {
    auto tenant = directory_.Get(info.namespace_);
    if (tenant && tenant->RoleOf(user.name, user.groups) != TenantRole::kNone) {
      c.flow = "tenant:" + tenant->name;
      c.weight = tenant->api_share;
    }
  }
  return c;
}

StatusOr<PriorityLevel::Seat> FlowController::Acquire(const FlowClass& c) {
  if (c.long_running || c.flow_schema == kExempt) return PriorityLevel::Seat();
  PriorityLevel& level = c.flow_schema == kSystemNodes ? system_level_ : tenant_level_;
  return level.Acquire(c.flow, c.weight);
}

LongRunningLimiter::Slot::~Slot() {
  if (!limiter_) return;
  std::lock_guard lock(limiter_->mu_);
  auto it = limiter_->held_.find(flow_);
  if (it != limiter_->held_.end() && --it->second <= 0) limiter_->held_.erase(it);
}

StatusOr<LongRunningLimiter::Slot> LongRunningLimiter::Acquire(const std::string& flow,
                                                               int limit) {
  std::lock_guard lock(mu_);
  int& n = held_[flow];
  if (n >= limit) {
    if (n == 0) held_.erase(flow);
    return Status(Code::kTooManyRequests,
                  "too many watches and consoles open at once for " + flow + " (at most " +
                      std::to_string(limit) + "); close some and retry")
        .set_retry_after(5);
  }
  ++n;
  return Slot(this, flow);
}

int LongRunningLimiter::held(const std::string& flow) const {
  std::lock_guard lock(mu_);
  auto it = held_.find(flow);
  return it == held_.end() ? 0 : it->second;
}

StatusOr<LongRunningLimiter::Slot> FlowController::AcquireLongRunning(const FlowClass& c) {
  if (!c.long_running || c.flow_schema == kExempt) return LongRunningLimiter::Slot();
  int limit = static_cast<int>(std::max(1.0, config_.long_running_per_flow * c.weight));
  return long_running_.Acquire(c.flow, limit);
}

http::Headers FlowController::ResponseHeaders(const FlowClass& c) const {
  return {{"X-Kubernetes-PF-FlowSchema-UID", UidOf(c.flow_schema)},
          {"X-Kubernetes-PF-PriorityLevel-UID", UidOf(c.priority_level)}};
}

void FlowController::Stop() {
  system_level_.Stop();
  tenant_level_.Stop();
}

}  // namespace kumo::server
