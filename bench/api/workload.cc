#include "workload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <latch>
#include <mutex>
#include <thread>

#include "common/json.h"

namespace kumo::bench {

std::string VmManifest(const std::string& ns, const std::string& name) {
  static const char* kUserData =
      "#cloud-config\n"
      "hostname: HOST\n"
      "user: fedora\n"
      "ssh_authorized_keys:\n"
      "  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8yFZ0bN3m0pW9Qh2cVxJr5aLkT7uE4sPz1dYwXo3B "
      "ops@example.com\n"
      "package_update: true\n"
      "packages: [nginx, qemu-guest-agent]\n"
      "runcmd:\n"
      "  - systemctl enable --now nginx qemu-guest-agent\n";
  std::string user_data = kUserData;
  user_data.replace(user_data.find("HOST"), 4, name);
  json::value vm = {
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachine"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels",
         {{"app", "web"},
          {"tier", "frontend"},
          {"env", "bench"},
          {"kubevirt.io/os", "linux"},
          {"team", "platform"}}},
        {"annotations",
         {{"description", "nginx front end, benchmark fleet"},
          {"owner", "platform-team@example.com"},
          {"kubevirt.io/latest-observed-api-version", "v1"},
          {"kubevirt.io/storage-observed-api-version", "v1"}}}}},
      {"spec",
       {{"runStrategy", "Halted"},
        {"template",
         {{"metadata", {{"labels", {{"kubevirt.io/vm", name}, {"app", "web"}}}}},
          {"spec",
           {{"domain",
             {{"cpu", {{"cores", 2}, {"sockets", 1}, {"threads", 1}}},
              {"machine", {{"type", "q35"}}},
              {"features", {{"acpi", json::object()}, {"smm", {{"enabled", true}}}}},
              {"memory", {{"guest", "2Gi"}}},
              {"resources", {{"requests", {{"memory", "2Gi"}}}}},
              {"devices",
               {{"disks", json::array{{{"name", "rootdisk"}, {"disk", {{"bus", "virtio"}}}},
                                      {{"name", "cloudinitdisk"}, {"disk", {{"bus", "virtio"}}}}}},
                {"interfaces",
                 json::array{{{"name", "default"}, {"masquerade", json::object()}}}}}}}},
            {"networks", json::array{{{"name", "default"}, {"pod", json::object()}}}},
            {"terminationGracePeriodSeconds", 180},
            {"evictionStrategy", "LiveMigrate"},
            {"nodeSelector", {{"kubernetes.io/arch", "amd64"}, {"topology.kumo.io/zone", "a"}}},
            {"volumes",
             json::array{{{"name", "rootdisk"},
                          {"containerDisk", {{"image", "quay.io/containerdisks/fedora:40"}}}},
                         {{"name", "cloudinitdisk"},
                          {"cloudInitNoCloud", {{"userData", user_data}}}}}}}}}}}}};
  return json::serialize(vm);
}

RunResult RunParallel(int threads, size_t total, const std::function<Status(int)>& setup,
                      const std::function<Status(int, size_t)>& op) {
  using Clock = std::chrono::steady_clock;
  RunResult result;
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::latch ready(threads + 1);
  std::latch go(1);
  std::vector<std::thread> workers;
  std::vector<std::vector<double>> latencies(threads);
  auto record_error = [&](const Status& st) {
    std::lock_guard lock(mu);
    if (result.errors++ == 0) result.first_error = st.ToString();
  };
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Status st = setup ? setup(t) : Status::Ok();
      if (!st.ok()) record_error(st);
      ready.count_down();
      go.wait();
      if (!st.ok()) return;
      latencies[t].reserve(total / threads + 1);
      for (size_t i; (i = next.fetch_add(1)) < total;) {
        auto start = Clock::now();
        Status s = op(t, i);
        auto end = Clock::now();
        if (!s.ok()) {
          record_error(s);
          continue;
        }
        latencies[t].push_back(std::chrono::duration<double, std::milli>(end - start).count());
      }
    });
  }
  ready.arrive_and_wait();
  auto start = Clock::now();
  go.count_down();
  for (auto& w : workers) w.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& l : latencies) {
    result.latencies_ms.insert(result.latencies_ms.end(), l.begin(), l.end());
  }
  return result;
}

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(std::ceil(q * values.size()));
  index = std::clamp<size_t>(index, 1, values.size()) - 1;
  return values[index];
}

Summary Summarize(const RunResult& run) {
  Summary s;
  std::vector<double> lat = run.latencies_ms;
  s.count = lat.size();
  s.per_second = run.seconds > 0 ? s.count / run.seconds : 0;
  s.p50_ms = Percentile(lat, 0.50);
  s.p99_ms = Percentile(lat, 0.99);
  return s;
}

}  // namespace kumo::bench
