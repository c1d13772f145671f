// Shared checks of the fuzz targets: what every decoded or patched object must satisfy.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "common/json.h"

namespace kumo::fuzz {

// Aborts (a finding) unless `v` is what the server may store: at most `max_bytes` serialized
// and kMaxJsonDepth deep, all UTF-8, and readable again by ParseJson, as the store reads it.
inline void RequireStorable(const json::value& v, const char* what, size_t max_bytes) {
  if (!CheckObjectBounds(v, max_bytes, kMaxJsonDepth).ok()) {
    fprintf(stderr, "%s accepted a value past the size or depth bounds\n", what);
    abort();
  }
  if (!CheckUtf8(v).ok()) {
    fprintf(stderr, "%s accepted a string that is not UTF-8\n", what);
    abort();
  }
  StatusOr<json::value> back = ParseJson(ToJson(v));
  if (!back.ok()) {
    fprintf(stderr, "%s accepted a value that does not read back: %s\n", what,
            back.status().ToString().c_str());
    abort();
  }
}

}  // namespace kumo::fuzz
