// Fair rate limiting in the style of Kubernetes API Priority and Fairness (APF), with a fixed
// configuration instead of FlowSchema objects:
//
//   flow schema   matches                        priority level     flows
//   exempt        group system:masters           exempt (no limit)  -
//   system-nodes  group system:nodes             system             one per node
//   tenants       everyone else                  workload-tenants   one per tenant
//
// A priority level has a number of seats (requests executing at once). When they are busy a
// request waits in one of the level's queues: shuffle sharding deals each flow a hand of queues
// and the request joins the shortest, so a flood fills only its own hand. Each request gets
// virtual start and finish times from its flow's previous request (start-time fair queuing,
// costing 1/weight), and a free seat goes to the queue head with the smallest finish time: flows
// get seats in proportion to their weights (a tenant's spec.apiShare) whatever their request
// rates, and a flow that was idle banks no credit. A full queue, or a
// wait past the level's limit, is 429 TooManyRequests with Retry-After. Levels do not share
// seats: tenants cannot starve agents, and nobody can starve cluster admins (and the
// controllers, which run inside the server and never queue). Long-running requests (watches,
// consoles) take no seat.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/auth.h"
#include "http/http_server.h"
#include "server/request_info.h"
#include "server/tenancy.h"

namespace kumo::server {

struct PriorityLevelConfig {
  std::string name;
  bool exempt = false;  // no seats, no queues
  int concurrency = 8;  // seats
  int queues = 64;      // 0: no queuing, reject when every seat is busy
  int hand_size = 8;    // queues dealt to each flow
  int queue_length_limit = 50;
  std::chrono::milliseconds max_wait{15000};  // queued longer: 429
};

struct FlowControlConfig {
  PriorityLevelConfig exempt;
  PriorityLevelConfig system;
  PriorityLevelConfig tenants;
  // Long-running requests (watches, consoles) hold no seat, or a few would starve everyone;
  // instead a flow holds at most this many at once (times its weight), and more get 429.
  int long_running_per_flow = 128;
  // Seats scale with the machine. Tenants get one seat per core but one (at least one): most
  // tenant requests are CPU-bound, and a core left to request intake, agents, admins and the
  // controllers is what keeps a quiet tenant's latency flat while a noisy one saturates its
  // seats (bench/fairness measures it). Agents get 4 per core (at least 16).
  static FlowControlConfig Default(unsigned cores);
};

// The hand shuffle sharding deals for `hash`: `hand_size` distinct queue indices out of
// `deck_size` (APF's shufflesharding.Dealer: the hash read as a mixed-radix number).
std::vector<int> DealHand(uint64_t hash, int deck_size, int hand_size);
// FNV-1a, 64 bit: a stable hash of a flow's name.
uint64_t FlowHash(std::string_view flow);

// One priority level. Thread-safe.
class PriorityLevel {
 public:
  explicit PriorityLevel(PriorityLevelConfig config);

  // A seat held by one request; given back when destroyed. Move-only.
  class Seat {
   public:
    Seat() = default;
    Seat(Seat&& o) noexcept : level_(o.level_), queue_(o.queue_) { o.level_ = nullptr; }
    Seat& operator=(Seat&& o) noexcept;
    Seat(const Seat&) = delete;
    Seat& operator=(const Seat&) = delete;
    ~Seat() { Release(); }
    void Release();

   private:
    friend class PriorityLevel;
    Seat(PriorityLevel* level, int queue) : level_(level), queue_(queue) {}
    PriorityLevel* level_ = nullptr;
    int queue_ = -1;
  };

  // Waits (up to max_wait) for a seat for a request of `flow` with fair-queuing `weight`.
  // TooManyRequests (with retry-after) when the flow's queue is full or the wait ran out;
  // Unavailable once Stop() was called.
  StatusOr<Seat> Acquire(std::string_view flow, double weight);
  // Wakes every waiter with Unavailable and refuses new requests.
  void Stop();

  const PriorityLevelConfig& config() const { return config_; }
  int executing() const;
  int waiting() const;
  int64_t rejected() const;

 private:
  struct Waiter {
    double start = 0, finish = 0;  // virtual times
    bool dispatched = false;
    std::condition_variable cv;
  };
  struct Queue {
    std::deque<Waiter*> waiting;
    int executing = 0;
  };
  void Dispatch();  // under mu_
  void Release(int queue);

  const PriorityLevelConfig config_;
  mutable std::mutex mu_;
  std::vector<Queue> queues_;
  std::map<std::string, double, std::less<>>
      flow_finish_;  // virtual finish of each flow's last request
  int executing_ = 0;
  int waiting_ = 0;
  double vclock_ = 0;  // virtual start time of the last request given a seat
  int64_t rejected_ = 0;
  bool stopped_ = false;
};

// Counts the long-running requests of each flow against its cap. Thread-safe.
class LongRunningLimiter {
 public:
  // One long-running request's place; given back when destroyed. Move-only.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : limiter_(o.limiter_), flow_(std::move(o.flow_)) {
      o.limiter_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class LongRunningLimiter;
    Slot(LongRunningLimiter* l, std::string flow) : limiter_(l), flow_(std::move(flow)) {}
    LongRunningLimiter* limiter_ = nullptr;
    std::string flow_;
  };
  // TooManyRequests (retry after 5 s) when `flow` already holds `limit`.
  StatusOr<Slot> Acquire(const std::string& flow, int limit);
  int held(const std::string& flow) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int, std::less<>> held_;
};

// How a request is classified. Value type.
struct FlowClass {
  std::string flow_schema;
  std::string priority_level;
  std::string flow;   // the distinguisher within the level
  double weight = 1;  // fair-queuing weight (a tenant's apiShare)
  bool long_running = false;
};

// Owns the priority levels. Thread-safe.
class FlowController {
 public:
  FlowController(FlowControlConfig config, const TenantDirectory& tenants);

  // Tenant users in one of their tenants' namespaces form the tenant's flow with its apiShare
  // as weight; other requests of theirs form a flow of their own (so nobody can crowd another
  // tenant's queues by sending it requests that will be refused).
  FlowClass Classify(const UserInfo& user, const RequestInfo& info) const;
  // A seat for a classified request (an empty seat for exempt and long-running requests).
  StatusOr<PriorityLevel::Seat> Acquire(const FlowClass& c);
  // A long-running request's place in its flow's cap (an empty slot for other requests and
  // exempt callers).
  StatusOr<LongRunningLimiter::Slot> AcquireLongRunning(const FlowClass& c);
  // X-Kubernetes-PF-FlowSchema-UID and X-Kubernetes-PF-PriorityLevel-UID for the response.
  http::Headers ResponseHeaders(const FlowClass& c) const;
  void Stop();

  PriorityLevel& system_level() { return system_level_; }
  PriorityLevel& tenants_level() { return tenant_level_; }

 private:
  const FlowControlConfig config_;
  const TenantDirectory& directory_;
  PriorityLevel system_level_;
  PriorityLevel tenant_level_;
  LongRunningLimiter long_running_;
};

}  // namespace kumo::server
