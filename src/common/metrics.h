// Process-wide Prometheus metrics for components below the API server (controllers, the
// scheduler), under Kubernetes' names so that operators' dashboards work: the server's
// GET /metrics appends Render(). Thread-safe; each call takes one short lock.
#pragma once

#include <string>

namespace kumo::metrics {

// `labels` is the text inside the braces, e.g. `name="scheduler"` ("" for none).
void Describe(const std::string& name, const std::string& type, const std::string& help);
void Add(const std::string& name, const std::string& labels, double by = 1);      // counter
void Set(const std::string& name, const std::string& labels, double value);       // gauge
void Observe(const std::string& name, const std::string& labels, double seconds); // histogram

// The exposition text of every series, with HELP and TYPE lines.
std::string Render();

// Resident memory of this process, from /proc/self/statm (0 when unreadable).
double ResidentMemoryBytes();

}  // namespace kumo::metrics
