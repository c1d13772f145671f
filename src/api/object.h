// Helpers for an object's stored bytes. The store keeps each object as JSON without
// metadata.resourceVersion, with apiVersion, kind and metadata as its first members, so the
// server can splice the resourceVersion into the bytes on read instead of re-serializing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"

namespace kumo::api {

// Serializes `obj` for storage: apiVersion, kind, metadata first; metadata.resourceVersion
// dropped. `obj` must be an object.
std::string SerializeForStore(const json::value& obj);

// Returns the stored bytes with "resourceVersion":"<rv>" as the first member of the
// top-level metadata. The input must come from SerializeForStore.
std::string InjectResourceVersion(std::string_view stored, int64_t rv);

// Parses stored bytes and sets metadata.resourceVersion.
StatusOr<json::value> ParseStored(std::string_view stored, int64_t rv);

// True when metadata.finalizers lists `finalizer`.
bool HasFinalizer(const json::value& obj, std::string_view finalizer);
// Adds `finalizer` to metadata.finalizers unless it is there.
void AddFinalizer(json::value& obj, std::string_view finalizer);
// Removes `finalizer` from metadata.finalizers (the list goes when it empties); true when it
// was there.
bool RemoveFinalizer(json::value& obj, std::string_view finalizer);

}  // namespace kumo::api
