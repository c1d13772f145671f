// Building blocks of the API benchmark: the VirtualMachine manifest, a parallel runner that
// records per-operation latency, and the summary (rate, p50, p99) printed for each phase.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kumo::bench {

// A realistic KubeVirt VirtualMachine (labels, annotations, CPU/memory, two disks, cloud-init
// user data), about 1.5 KB of JSON, named `name` in namespace `ns`.
std::string VmManifest(const std::string& ns, const std::string& name);

struct RunResult {
  double seconds = 0;                // wall time from start to the last completion
  std::vector<double> latencies_ms;  // one per successful operation
  size_t errors = 0;
  std::string first_error;
};

// Runs operations 0..total-1 on `threads` threads (each takes the next index until none are
// left). `setup(t)` runs on thread t before the clock starts (e.g. to open its connection);
// `op(t, i)` performs operation i on thread t.
RunResult RunParallel(int threads, size_t total, const std::function<Status(int)>& setup,
                      const std::function<Status(int, size_t)>& op);

struct Summary {
  size_t count = 0;
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};
Summary Summarize(const RunResult& run);
// Percentile `q` (0..1) of `values` (sorted in place).
double Percentile(std::vector<double>& values, double q);

}  // namespace kumo::bench
