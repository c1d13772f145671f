// Store: Kumo's storage interface, shaped like Kubernetes' storage.Interface over etcd v3.
// Keys are strings ("/registry/kubevirt.io/virtualmachines/ns/name"); values are an object's
// serialized JSON *without* metadata.resourceVersion (the server injects mod_revision on read).
// One global revision counter: every create, update and delete gets the next revision.
// Backends: sqlite/ (embedded, default) and etcd (later).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kumo::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision that created this key (etcd's create_revision)
  int64_t mod_revision = 0;     // revision of the last change (Kubernetes' resourceVersion)
};

enum class EventType { kCreate, kUpdate, kDelete };

struct Event {
  EventType type;
  // For kDelete: key and the last value before deletion; mod_revision is the revision of the
  // delete itself.
  KeyValue kv;
};

struct ListResult {
  std::vector<KeyValue> items;  // sorted by key
  int64_t revision = 0;         // the store revision the list reflects
  bool more = false;            // true when keys remain after the last item (limit reached)
};

// A stream of events in revision order. Owned by the caller; Next() may be called from one
// thread at a time; destroying the stream cancels it.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Waits up to `timeout` for events; returns them in revision order, or an empty vector on
  // timeout. Gone when the start revision was compacted before the stream could read it;
  // Unavailable when the store is closing.
  virtual StatusOr<std::vector<Event>> Next(std::chrono::milliseconds timeout) = 0;
};

// Thread-safe: every method may be called concurrently from any thread.
class Store {
 public:
  virtual ~Store() = default;

  // The current value of `key`; NotFound when absent.
  virtual StatusOr<KeyValue> Get(std::string_view key) = 0;

  // Keys with `prefix`, in key order, strictly after `start_after` (empty: from the start),
  // at most `limit` items (0: no limit). `revision` 0 reads the current state; a positive
  // revision reads the state as of that revision (for consistent pagination), Gone when it
  // has been compacted.
  virtual StatusOr<ListResult> List(std::string_view prefix, std::string_view start_after,
                                    int64_t limit, int64_t revision) = 0;

  // Creates `key`; AlreadyExists when present. Returns the stored KeyValue.
  virtual StatusOr<KeyValue> Create(std::string_view key, std::string value) = 0;

  // Replaces the value of an existing key. When `expected_mod_revision` is non-zero and
  // differs from the key's mod_revision, Conflict. NotFound when absent.
  virtual StatusOr<KeyValue> Update(std::string_view key, std::string value,
                                    int64_t expected_mod_revision) = 0;

  // Deletes `key` (same precondition rule as Update). Returns the last value, with
  // mod_revision set to the revision of the delete.
  virtual StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_mod_revision) = 0;

  // Events for keys with `prefix` and revision > `after_revision`, first from history, then
  // live, with no gap and no duplicate. Gone when `after_revision` < CompactedRevision().
  virtual StatusOr<std::unique_ptr<WatchStream>> Watch(std::string_view prefix,
                                                       int64_t after_revision) = 0;

  // The revision of the latest change (0 for an empty new store).
  virtual int64_t CurrentRevision() = 0;
  // Revisions at or below this are forgotten: history before it can't be watched or listed.
  virtual int64_t CompactedRevision() = 0;
  // Drops history older than `revision` (keeps current values). No-op when already compacted.
  virtual Status Compact(int64_t revision) = 0;
};

// Read-modify-write with optimistic concurrency: reads `key`, calls `mutate` with the current
// value, writes the result guarded by the read's mod_revision, and retries on Conflict (up to
// `max_attempts`). `mutate` may return an error to abort (returned as is).
StatusOr<KeyValue> GuaranteedUpdate(
    Store& store, std::string_view key,
    const std::function<StatusOr<std::string>(const KeyValue& current)>& mutate,
    int max_attempts = 16);

}  // namespace kumo::store
