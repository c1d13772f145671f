#include "server/metrics.h"

#include <array>
#include <cstdio>

namespace kumo::server {

namespace {
constexpr std::array<double, 14> kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,     2.5,  5,     10,  30,  60};

std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void RenderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const auto& h) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += name + "_bucket{" + labels + (labels.empty() ? "" : ",") + "le=\"" + Num(kBuckets[i]) +
           "\"} " + std::to_string(h.buckets[i]) + "\n";
  }
  out += name + "_bucket{" + labels + (labels.empty() ? "" : ",") + "le=\"+Inf\"} " +
         std::to_string(h.count) + "\n";
  out += name + "_sum{" + labels + "} " + Num(h.sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}
}  // namespace

void Metrics::Histogram::Observe(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (v <= kBuckets[i]) ++buckets[i];
  }
  ++count;
  sum += v;
}

void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{verb, resource, code}];
  request_latency_[{verb, resource}].Observe(seconds);
}

void Metrics::ObserveStore(const std::string& operation, double seconds) {
  std::lock_guard lock(mu_);
  store_latency_[operation].Observe(seconds);
}

void Metrics::WatchOpened(const std::string& resource) {
  std::lock_guard lock(mu_);
  ++watchers_[resource];
}

void Metrics::WatchClosed(const std::string& resource) {
  std::lock_guard lock(mu_);
  --watchers_[resource];
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP apiserver_request_total Requests by verb, resource and HTTP code.\n";
  out += "# TYPE apiserver_request_total counter\n";
  for (const auto& [k, v] : requests_) {
    const auto& [verb, resource, code] = k;
    out += "apiserver_request_total{verb=\"" + verb + "\",resource=\"" + resource +
           "\",code=\"" + std::to_string(code) + "\"} " + std::to_string(v) + "\n";
  }
  out += "# HELP apiserver_request_duration_seconds Request latency by verb and resource.\n";
  out += "# TYPE apiserver_request_duration_seconds histogram\n";
  for (const auto& [k, h] : request_latency_) {
    RenderHistogram(out, "apiserver_request_duration_seconds",
                    "verb=\"" + k.first + "\",resource=\"" + k.second + "\"", h);
  }
  out += "# HELP kumo_store_operation_duration_seconds Store operation latency.\n";
  out += "# TYPE kumo_store_operation_duration_seconds histogram\n";
  for (const auto& [op, h] : store_latency_) {
    RenderHistogram(out, "kumo_store_operation_duration_seconds", "operation=\"" + op + "\"", h);
  }
  int64_t open = 0;
  out += "# HELP apiserver_registered_watchers Open watch streams per resource.\n";
  out += "# TYPE apiserver_registered_watchers gauge\n";
  for (const auto& [resource, n] : watchers_) {
    out += "apiserver_registered_watchers{kind=\"" + resource + "\"} " + std::to_string(n) + "\n";
    open += n;
  }
  out += "# HELP apiserver_longrunning_requests Open watch streams.\n";
  out += "# TYPE apiserver_longrunning_requests gauge\n";
  out += "apiserver_longrunning_requests{verb=\"WATCH\"} " + std::to_string(open) + "\n";
  return out;
}

}  // namespace kumo::server
