// EventRateLimit admission (as Kubernetes' plugin of that name, type Namespace): API writes of
// core/v1 Events are capped per namespace by a token bucket (default 50 per second, bursts of
// 100). Writes over the cap get 429 TooManyRequests with Retry-After and are not stored, so one
// tenant's flood of events costs others nothing but the refusal.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "server/admission.h"

namespace kumo::server {

struct EventRateLimitOptions {
  double per_second = 50;
  double burst = 100;
};

// Thread-safe; borrows the clock.
class EventRateLimitAdmission : public AdmissionPlugin {
 public:
  EventRateLimitAdmission(const Clock& clock, EventRateLimitOptions options = {})
      : clock_(clock), options_(options) {}
  std::string name() const override { return "EventRateLimit"; }
  Status Admit(const AdmissionRequest& request) override;

  // Takes one token from `ns`'s bucket; false when it is empty.
  bool Allow(const std::string& ns);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_us = 0;
  };
  const Clock& clock_;
  const EventRateLimitOptions options_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace kumo::server
