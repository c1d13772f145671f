#include "store/store.h"

namespace kumo::store {

StatusOr<KeyValue> GuaranteedUpdate(
    Store& store, std::string_view key,
    const std::function<StatusOr<std::string>(const KeyValue& current)>& mutate,
    int max_attempts) {
  Status last = Conflict("no attempt made");
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    KUMO_ASSIGN_OR_RETURN(KeyValue current, store.Get(key));
    KUMO_ASSIGN_OR_RETURN(std::string next, mutate(current));
    StatusOr<KeyValue> written = store.Update(key, std::move(next), current.mod_revision);
    if (written.ok() || written.status().code() != Code::kConflict) return written;
    last = written.status();
  }
  return last;
}

}  // namespace kumo::store
