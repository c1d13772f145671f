#include "controller/objects.h"

#include "api/object.h"
#include "common/clock.h"

namespace kumo::controller {

const api::ResourceInfo& Resource(std::string_view group, std::string_view version,
                                  std::string_view plural) {
  return *api::DefaultRegistry().Find(group, version, plural);
}

StatusOr<std::optional<json::value>> Load(store::Store& store, const std::string& key) {
  auto kv = store.Get(key);
  if (!kv.ok()) {
    if (kv.status().code() == Code::kNotFound) return std::optional<json::value>();
    return kv.status();
  }
  KUMO_ASSIGN_OR_RETURN(json::value v, api::ParseStored(kv->value, kv->mod_revision));
  return std::optional<json::value>(std::move(v));
}

bool Terminating(const json::value& obj) {
  return !GetString(obj, {"metadata", "deletionTimestamp"}).empty();
}

Status DeleteObject(store::Store& store, const std::string& key) {
  auto res = store::GuaranteedUpdate(store, key, [&](const store::KeyValue& cur) -> StatusOr<std::string> {
    KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(cur.value));
    const json::value* fs = Find(obj, {"metadata", "finalizers"});
    if (!fs || !fs->is_array() || fs->get_array().empty()) {
      return Status(Code::kAlreadyExists, "no finalizers: delete now");
    }
    if (Terminating(obj)) return Status(Code::kAlreadyExists, "already terminating");
    EnsureObject(obj, {"metadata"})["deletionTimestamp"] = FormatTime(RealClock::Get().NowUnixSeconds());
    return api::SerializeForStore(obj);
  });
  if (res.ok() || res.status().code() == Code::kNotFound) return Status::Ok();
  if (res.status().code() != Code::kAlreadyExists) return res.status();
  // Finalizers gone (or none): remove the object.
  auto kv = store.Get(key);
  if (!kv.ok()) return kv.status().code() == Code::kNotFound ? Status::Ok() : kv.status();
  KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(kv->value));
  const json::value* fs = Find(obj, {"metadata", "finalizers"});
  if (fs && fs->is_array() && !fs->get_array().empty()) return Status::Ok();
  auto del = store.Delete(key, kv->mod_revision);
  if (!del.ok() && del.status().code() != Code::kNotFound && del.status().code() != Code::kConflict) {
    return del.status();
  }
  return Status::Ok();
}

Status Mutate(store::Store& store, const std::string& key,
              const std::function<Status(json::value& obj)>& mutate) {
  return store::GuaranteedUpdate(store, key,
                                 [&](const store::KeyValue& cur) -> StatusOr<std::string> {
                                   KUMO_ASSIGN_OR_RETURN(json::value obj, ParseJson(cur.value));
                                   KUMO_RETURN_IF_ERROR(mutate(obj));
                                   return api::SerializeForStore(obj);
                                 })
      .status();
}

}  // namespace kumo::controller
