#include "common/metrics.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>

namespace kumo::metrics {

namespace {

constexpr std::array<double, 15> kBuckets = {0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,    1,     2.5,   5,    10,    30,   60};

struct Series {
  double value = 0;  // counter or gauge; histogram sum
  uint64_t count = 0;
  std::array<uint64_t, kBuckets.size()> buckets{};
};

struct Family {
  std::string type = "gauge";
  std::string help;
  std::map<std::string, Series> series;
};

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, Family>& Families() {
  static std::map<std::string, Family> f;
  return f;
}

std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string Braced(const std::string& labels, const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? "" : "{" + all + "}";
}

}  // namespace

void Describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(Mu());
  Family& f = Families()[name];
  f.type = type;
  f.help = help;
}

void Add(const std::string& name, const std::string& labels, double by) {
  std::lock_guard lock(Mu());
  Families()[name].series[labels].value += by;
}

void Set(const std::string& name, const std::string& labels, double value) {
  std::lock_guard lock(Mu());
  Families()[name].series[labels].value = value;
}

void Observe(const std::string& name, const std::string& labels, double seconds) {
  std::lock_guard lock(Mu());
  Series& s = Families()[name].series[labels];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++s.buckets[i];
  }
  ++s.count;
  s.value += seconds;
}

std::string Render() {
  std::lock_guard lock(Mu());
  std::string out;
  for (const auto& [name, f] : Families()) {
    if (f.series.empty()) continue;
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != "histogram") {
        out += name + Braced(labels) + " " + Num(s.value) + "\n";
        continue;
      }
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        out += name + "_bucket" + Braced(labels, "le=\"" + Num(kBuckets[i]) + "\"") + " " +
               std::to_string(s.buckets[i]) + "\n";
      }
      out += name + "_bucket" + Braced(labels, "le=\"+Inf\"") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + Braced(labels) + " " + Num(s.value) + "\n";
      out += name + "_count" + Braced(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

double ResidentMemoryBytes() {
  std::ifstream in("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace kumo::metrics
