#include "controller/events.h"

#include "api/object.h"
#include "api/resource.h"
#include "common/log.h"
#include "common/random.h"

namespace kumo::controller {

void EventRecorder::Record(const json::value& object, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const api::ResourceInfo* events = api::DefaultRegistry().Find("", "v1", "events");
  std::string ns = GetString(object, {"metadata", "namespace"});
  if (ns.empty()) ns = "default";
  std::string name = GetString(object, {"metadata", "name"});
  std::string uid = GetString(object, {"metadata", "uid"});
  std::string dedup = uid + "|" + type + "|" + reason + "|" + message;
  std::string now = FormatTime(clock_.NowUnixSeconds());

  std::string existing;
  {
    std::lock_guard lock(mu_);
    auto it = names_.find(dedup);
    if (it != names_.end()) existing = it->second;
  }
  if (!existing.empty()) {
    auto updated = store::GuaranteedUpdate(
        store_, events->Key(ns, existing), [&](const store::KeyValue& cur) -> StatusOr<std::string> {
          KUMO_ASSIGN_OR_RETURN(json::value ev, ParseJson(cur.value));
          int64_t count = 1;
          if (const json::value* c = Find(ev, {"count"}); c && c->is_int64()) count = c->get_int64();
          ev.get_object()["count"] = count + 1;
          ev.get_object()["lastTimestamp"] = now;
          return api::SerializeForStore(ev);
        });
    if (updated.ok()) return;
  }
  std::string event_name = name + "." + RandomSuffix(10);
  json::value ev = json::object{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::object{{"name", event_name},
                                {"namespace", ns},
                                {"uid", NewUid()},
                                {"creationTimestamp", now}}},
      {"involvedObject", json::object{{"apiVersion", GetString(object, {"apiVersion"})},
                                      {"kind", GetString(object, {"kind"})},
                                      {"name", name},
                                      {"namespace", GetString(object, {"metadata", "namespace"})},
                                      {"uid", uid}}},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"count", 1},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"source", json::object{{"component", component_}}},
      {"reportingComponent", component_}};
  auto created = store_.Create(events->Key(ns, event_name), api::SerializeForStore(ev));
  if (!created.ok()) {
    spdlog::warn("cannot record event {} for {}/{}: {}", reason, ns, name,
                 created.status().ToString());
    return;
  }
  std::lock_guard lock(mu_);
  if (names_.size() > 10000) names_.clear();
  names_[dedup] = event_name;
}

}  // namespace kumo::controller
