#include "server/event_rate_limit.h"

#include <gtest/gtest.h>

namespace kumo::server {
namespace {

TEST(EventRateLimitTest, BurstThenSteadyRatePerNamespace) {
  FakeClock clock;
  EventRateLimitAdmission limit(clock, EventRateLimitOptions{50, 100});
  int allowed = 0;
  for (int i = 0; i < 150; ++i) allowed += limit.Allow("a") ? 1 : 0;
  EXPECT_EQ(allowed, 100);
  EXPECT_TRUE(limit.Allow("b"));  // namespaces are apart
  clock.Advance(1);
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += limit.Allow("a") ? 1 : 0;
  EXPECT_EQ(allowed, 50);
}

TEST(EventRateLimitTest, OverTheCapIsTooManyRequestsForEventsOnly) {
  FakeClock clock;
  EventRateLimitAdmission limit(clock, EventRateLimitOptions{1, 1});
  const api::Registry& reg = api::DefaultRegistry();
  const api::ResourceInfo& events = *reg.Find("", "v1", "events");
  json::value obj = json::object{};
  AdmissionRequest req{"create", events, "a", "e", "", &obj, nullptr, nullptr, false};
  EXPECT_TRUE(limit.Admit(req).ok());
  Status st = limit.Admit(req);
  EXPECT_EQ(st.code(), Code::kTooManyRequests);
  EXPECT_EQ(st.retry_after_seconds(), 1);
  AdmissionRequest other{
      "create", *reg.Find("", "v1", "secrets"), "a", "s", "", &obj, nullptr, nullptr, false};
  EXPECT_TRUE(limit.Admit(other).ok());
}

}  // namespace
}  // namespace kumo::server
