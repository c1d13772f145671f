// Prometheus text-format metrics for the API server: requests by verb, resource and code,
// request latency histograms, store operation latency, open watches.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace kumo::server {

// Thread-safe.
class Metrics {
 public:
  void ObserveRequest(const std::string& verb, const std::string& resource, int code,
                      double seconds);
  void ObserveStore(const std::string& operation, double seconds);
  void WatchOpened(const std::string& resource);
  void WatchClosed(const std::string& resource);
  // The exposition text for GET /metrics.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<uint64_t, 14> buckets{};  // cumulative counts per kBuckets bound
    uint64_t count = 0;
    double sum = 0;
    void Observe(double v);
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> request_latency_;
  std::map<std::string, Histogram> store_latency_;
  std::map<std::string, int64_t> watchers_;  // open watches per resource
};

}  // namespace kumo::server
