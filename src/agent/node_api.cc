#include "agent/node_api.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/clock.h"
#include "common/log.h"

namespace kumo::agent {

using client::PatchType;
using client::ResourcePath;

std::string NowRfc3339() { return FormatTime(RealClock::Get().NowUnixSeconds()); }

std::string NowMicroRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::string s = FormatTime(us / 1000000);
  char frac[16];
  snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

Status RenewLease(client::RestClient& client, const std::string& node, int lease_duration_seconds) {
  std::string path = ResourcePath("coordination.k8s.io", "v1", "leases", "kube-node-lease", node);
  json::object spec{{"holderIdentity", node},
                    {"leaseDurationSeconds", lease_duration_seconds},
                    {"renewTime", NowMicroRfc3339()}};
  auto lease = client.Patch(path, PatchType::kMerge, json::object{{"spec", spec}});
  if (lease.ok()) return Status::Ok();
  if (lease.status().code() != Code::kNotFound) return lease.status();
  json::value obj = json::object{
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", json::object{{"name", node}, {"namespace", "kube-node-lease"}}},
      {"spec", spec}};
  auto created = client.Create(ResourcePath("coordination.k8s.io", "v1", "leases", "kube-node-lease"), obj);
  return created.ok() ? Status::Ok() : created.status();
}

Status PostNodeReady(client::RestClient& client, const std::string& node, const std::string& message) {
  std::string now = NowRfc3339();
  json::array conditions{json::object{{"type", "Ready"},
                                      {"status", "True"},
                                      {"reason", "AgentReady"},
                                      {"message", message},
                                      {"lastHeartbeatTime", now},
                                      {"lastTransitionTime", now}}};
  auto patched = client.Patch(ResourcePath("", "v1", "nodes", "", node, "status"), PatchType::kMerge,
                              json::object{{"status", json::object{{"conditions", conditions}}}});
  return patched.ok() ? Status::Ok() : patched.status();
}

Status PatchVmiStatus(client::RestClient& client, const std::string& ns, const std::string& name,
                      json::object status) {
  auto res = client.Patch(ResourcePath("kubevirt.io", "v1", "virtualmachineinstances", ns, name, "status"),
                          PatchType::kMerge, json::object{{"status", std::move(status)}});
  return res.ok() ? Status::Ok() : res.status();
}

Status RemoveVmiFinalizer(client::RestClient& client, const std::string& ns, const std::string& name) {
  std::string path = ResourcePath("kubevirt.io", "v1", "virtualmachineinstances", ns, name);
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto vmi = client.Get(path);
    if (!vmi.ok()) return vmi.status().code() == Code::kNotFound ? Status::Ok() : vmi.status();
    json::array keep;
    if (const json::value* f = Find(*vmi, {"metadata", "finalizers"}); f && f->is_array()) {
      for (const auto& v : f->get_array()) {
        if (v != kVmiFinalizer) keep.push_back(v);
      }
    }
    json::object patch{{"metadata", json::object{{"finalizers", keep},
                                                 {"resourceVersion", GetString(*vmi, {"metadata", "resourceVersion"})}}}};
    auto res = client.Patch(path, PatchType::kMerge, patch);
    if (res.ok() || res.status().code() == Code::kNotFound) return Status::Ok();
    if (res.status().code() != Code::kConflict) return res.status();
  }
  return Conflict("could not remove the finalizer after 5 attempts");
}

void RecordVmiEvent(client::RestClient& client, const json::value& vmi, const std::string& node,
                    const std::string& type, const std::string& reason, const std::string& message) {
  std::string ns = GetString(vmi, {"metadata", "namespace"});
  std::string now = NowRfc3339();
  json::value ev = json::object{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::object{{"generateName", GetString(vmi, {"metadata", "name"}) + "."}, {"namespace", ns}}},
      {"involvedObject", json::object{{"apiVersion", "kubevirt.io/v1"},
                                      {"kind", "VirtualMachineInstance"},
                                      {"name", GetString(vmi, {"metadata", "name"})},
                                      {"namespace", ns},
                                      {"uid", GetString(vmi, {"metadata", "uid"})}}},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"count", 1},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"source", json::object{{"component", "kumo-agent"}, {"host", node}}},
      {"reportingComponent", "kumo-agent"},
      {"reportingInstance", node}};
  auto res = client.Create(ResourcePath("", "v1", "events", ns), ev);
  if (!res.ok()) spdlog::warn("cannot record event {}: {}", reason, res.status().ToString());
}

json::array VmiConditions(bool ready, const std::string& reason, const std::string& message) {
  std::string now = NowRfc3339();
  json::object c{{"type", "Ready"}, {"status", ready ? "True" : "False"}, {"lastProbeTime", nullptr},
                 {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return json::array{json::object{{"type", "PodScheduled"}, {"status", "True"},
                                  {"lastProbeTime", nullptr}, {"lastTransitionTime", now}},
                     std::move(c)};
}

void ListAndWatch(client::RestClient& client, const std::string& path, const std::string& what,
                  const std::function<void(const json::value& object)>& on_object,
                  const std::atomic<bool>& stop) {
  while (!stop) {
    auto list = client.List(path);
    if (!list.ok()) {
      spdlog::warn("cannot list {}: {}", what, list.status().ToString());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    for (const auto& item : list->at("items").as_array()) on_object(item);
    std::string rv = GetString(*list, {"metadata", "resourceVersion"});
    // Watch from the last revision seen (objects and bookmarks): a watch that ends (the
    // server's timeout, a lost connection, a server restart) resumes there; only a revision
    // the server no longer has (410 Expired) lists again.
    auto backoff = std::chrono::milliseconds(200);
    while (!stop) {
      bool expired = false;
      Status st = client.Watch(
          path + "&allowWatchBookmarks=true&resourceVersion=" + rv,
          [&](std::string_view type, json::value&& obj) {
            if (type == "ERROR") {
              expired = true;
              return false;
            }
            if (std::string v = GetString(obj, {"metadata", "resourceVersion"}); !v.empty()) rv = v;
            if (type != "BOOKMARK") on_object(obj);
            return !stop;
          },
          &stop);
      if (stop) return;
      if (expired || st.code() == Code::kGone) break;  // list again
      if (!st.ok()) {
        spdlog::warn("{} watch ended: {}; watching again from {}", what, st.ToString(), rv);
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      } else {
        backoff = std::chrono::milliseconds(200);
      }
    }
  }
}

}  // namespace kumo::agent
