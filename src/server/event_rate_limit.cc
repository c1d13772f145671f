#include "server/event_rate_limit.h"

#include <algorithm>

namespace kumo::server {

bool EventRateLimitAdmission::Allow(const std::string& ns) {
  int64_t now = clock_.NowMonotonicMicros();
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(ns);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = options_.burst;
  } else {
    b.tokens = std::min(options_.burst, b.tokens + static_cast<double>(now - b.last_us) *
                                                       options_.per_second / 1e6);
  }
  b.last_us = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

Status EventRateLimitAdmission::Admit(const AdmissionRequest& req) {
  if (req.resource.kind != "Event" || !req.resource.group.empty()) return Status::Ok();
  if (req.verb != "create" && req.verb != "update" && req.verb != "patch") return Status::Ok();
  if (Allow(req.ns)) return Status::Ok();
  return Status(Code::kTooManyRequests, "events in namespace " + req.ns +
                                            " are over the limit of " +
                                            std::to_string(static_cast<int>(options_.per_second)) +
                                            " per second; the event was dropped, try again later")
      .set_retry_after(1);
}

}  // namespace kumo::server
