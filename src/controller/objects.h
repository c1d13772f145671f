// Reading and changing stored objects from controllers: the small helpers every controller
// needs (load, terminating, finalizers, read-modify-write).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/object.h"
#include "api/resource.h"
#include "common/json.h"
#include "common/status.h"
#include "store/store.h"

namespace kumo::controller {

// The served kind; the registry must serve it (a programming error otherwise).
const api::ResourceInfo& Resource(std::string_view group, std::string_view version,
                                  std::string_view plural);
// The object at `key` (resourceVersion filled in), nullopt when absent.
StatusOr<std::optional<json::value>> Load(store::Store& store, const std::string& key);
bool Terminating(const json::value& obj);
using api::AddFinalizer;
using api::HasFinalizer;
using api::RemoveFinalizer;
// Deletes the object at `key`: at once when it has no finalizers, else marks it deleted
// (deletionTimestamp) so that whoever holds a finalizer finishes; OK when it is gone.
Status DeleteObject(store::Store& store, const std::string& key);
// Read-modify-write of the stored object at `key`; `mutate` may return an error to abort.
Status Mutate(store::Store& store, const std::string& key,
              const std::function<Status(json::value& obj)>& mutate);

}  // namespace kumo::controller
