#include "controller/objects.h"

#include "api/object.h"

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
