#include "server/flow_control.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace kumo::server {
namespace {

using namespace std::chrono_literals;

TEST(ShuffleShardingTest, HandsAreDistinctInRangeAndStable) {
  for (uint64_t h : {0ULL, 1ULL, 42ULL, 0xdeadbeefcafef00dULL, ~0ULL}) {
    std::vector<int> hand = DealHand(h, 64, 8);
    ASSERT_EQ(hand.size(), 8u);
    std::set<int> distinct(hand.begin(), hand.end());
    EXPECT_EQ(distinct.size(), 8u);
    for (int q : hand) {
      EXPECT_GE(q, 0);
      EXPECT_LT(q, 64);
    }
    EXPECT_EQ(hand, DealHand(h, 64, 8));
  }
  // A hand as big as the deck is the whole deck.
  std::vector<int> all = DealHand(FlowHash("x"), 4, 4);
  EXPECT_EQ(std::set<int>(all.begin(), all.end()), (std::set<int>{0, 1, 2, 3}));
}

TEST(ShuffleShardingTest, DifferentFlowsRarelyShareAWholeHand) {
  // With 64 queues and hands of 4 there are 635,376 hands: 200 tenants almost never collide
  // completely, which is what keeps one tenant's flood out of another's queues.
  std::set<std::set<int>> hands;
  for (int i = 0; i < 200; ++i) {
    std::vector<int> h = DealHand(FlowHash("tenant:t" + std::to_string(i)), 64, 4);
    hands.insert(std::set<int>(h.begin(), h.end()));
  }
  EXPECT_GE(hands.size(), 199u);
  // Every queue gets used by someone.
  std::set<int> used;
  for (const auto& h : hands) used.insert(h.begin(), h.end());
  EXPECT_EQ(used.size(), 64u);
}

PriorityLevelConfig Level(int concurrency, int queues = 16, int hand = 4, int qlen = 50,
                          std::chrono::milliseconds wait = 10s) {
  PriorityLevelConfig c;
  c.name = "test";
  c.concurrency = concurrency;
  c.queues = queues;
  c.hand_size = hand;
  c.queue_length_limit = qlen;
  c.max_wait = wait;
  return c;
}

void WaitForWaiting(PriorityLevel& level, int n) {
  for (int i = 0; i < 5000 && level.waiting() < n; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(level.waiting(), n);
}

TEST(PriorityLevelTest, SeatsLimitConcurrency) {
  PriorityLevel level(Level(2));
  auto a = level.Acquire("f", 1);
  auto b = level.Acquire("f", 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(level.executing(), 2);
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto c = level.Acquire("f", 1);
    got = c.ok();
  });
  WaitForWaiting(level, 1);
  EXPECT_FALSE(got);
  a->Release();
  t.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(level.executing(), 1);  // c was released when its thread ended
}

TEST(PriorityLevelTest, FullQueueIsTooManyRequestsWithRetryAfter) {
  PriorityLevel level(Level(1, /*queues=*/1, /*hand=*/1, /*qlen=*/2));
  auto held = level.Acquire("noisy", 1);
  ASSERT_TRUE(held.ok());
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) waiters.emplace_back([&] { (void)level.Acquire("noisy", 1); });
  WaitForWaiting(level, 2);
  auto rejected = level.Acquire("noisy", 1);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), Code::kTooManyRequests);
  EXPECT_GE(rejected.status().retry_after_seconds(), 1);
  EXPECT_EQ(level.rejected(), 1);
  held->Release();
  for (auto& t : waiters) t.join();
}

TEST(PriorityLevelTest, WaitingTooLongIsTooManyRequests) {
  PriorityLevel level(Level(1, 4, 2, 10, 50ms));
  auto held = level.Acquire("a", 1);
  auto late = level.Acquire("a", 1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kTooManyRequests);
  EXPECT_EQ(level.waiting(), 0);
}

TEST(PriorityLevelTest, NoQueuesRejectsWhenFull) {
  PriorityLevel level(Level(1, /*queues=*/0));
  auto held = level.Acquire("a", 1);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(level.Acquire("b", 1).status().code(), Code::kTooManyRequests);
}

// Queues `counts[flow]` requests per flow behind one held seat, then releases it and records
// the order in which seats are given (each request gives its seat back at once).
std::vector<std::string> DispatchOrder(PriorityLevel& level,
                                       const std::vector<std::pair<std::string, int>>& counts,
                                       const std::map<std::string, double>& weights) {
  auto held = level.Acquire("holder", 1);
  EXPECT_TRUE(held.ok());
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<std::thread> threads;
  int total = 0;
  for (const auto& [flow, n] : counts) {
    for (int i = 0; i < n; ++i) {
      ++total;
      threads.emplace_back([&, flow = flow] {
        auto seat = level.Acquire(flow, weights.count(flow) ? weights.at(flow) : 1.0);
        std::lock_guard lock(mu);
        if (seat.ok()) order.push_back(flow);
      });
      WaitForWaiting(level, total);  // enqueue in a known order
    }
  }
  held->Release();
  for (auto& t : threads) t.join();
  return order;
}

TEST(PriorityLevelTest, QuietFlowIsNotStuckBehindANoisyOne) {
  PriorityLevel level(Level(1, 64, 4));
  auto order = DispatchOrder(level, {{"noisy", 20}, {"quiet", 1}}, {});
  ASSERT_EQ(order.size(), 21u);
  auto pos = std::find(order.begin(), order.end(), "quiet") - order.begin();
  EXPECT_LE(pos, 1) << "the quiet flow's request waited for " << pos << " noisy ones";
}

TEST(PriorityLevelTest, SeatsFollowWeights) {
  PriorityLevel level(Level(1, 64, 4));
  auto order = DispatchOrder(level, {{"heavy", 30}, {"light", 30}}, {{"heavy", 3}, {"light", 1}});
  ASSERT_EQ(order.size(), 60u);
  int heavy = static_cast<int>(std::count(order.begin(), order.begin() + 20, "heavy"));
  EXPECT_GE(heavy, 14);  // 3:1 → 15 of the first 20
  EXPECT_LE(heavy, 16);
}

TEST(PriorityLevelTest, EqualFlowsAlternate) {
  PriorityLevel level(Level(1, 64, 4));
  auto order = DispatchOrder(level, {{"x", 10}, {"y", 10}}, {});
  ASSERT_EQ(order.size(), 20u);
  int x = static_cast<int>(std::count(order.begin(), order.begin() + 10, "x"));
  EXPECT_GE(x, 4);
  EXPECT_LE(x, 6);
}

TEST(PriorityLevelTest, StopWakesWaiters) {
  PriorityLevel level(Level(1));
  auto held = level.Acquire("a", 1);
  Status result;
  std::thread t([&] { result = level.Acquire("b", 1).status(); });
  WaitForWaiting(level, 1);
  level.Stop();
  t.join();
  EXPECT_EQ(result.code(), Code::kUnavailable);
}

}  // namespace
}  // namespace kumo::server
