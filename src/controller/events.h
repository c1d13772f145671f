// EventRecorder: writes core/v1 Events about objects (Scheduled, Started, Failed, ...), as
// kubectl describe shows them. Repeats of the same event bump its count instead of adding rows.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/json.h"
#include "store/store.h"

namespace kumo::controller {

// Thread-safe. Borrows the store and clock, which must outlive it.
class EventRecorder {
 public:
  EventRecorder(store::Store& store, const Clock& clock, std::string component)
      : store_(store), clock_(clock), component_(std::move(component)) {}

  // Records an event about `object` (any Kumo object, parsed). `type` is Normal or Warning.
  // Failures are logged, never returned: events are best effort.
  void Record(const json::value& object, const std::string& type, const std::string& reason,
              const std::string& message);

 private:
  store::Store& store_;
  const Clock& clock_;
  const std::string component_;
  std::mutex mu_;
  std::map<std::string, std::string> names_;  // dedup key -> event name
};

}  // namespace kumo::controller
