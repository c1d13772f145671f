// Patch application for PATCH requests: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and Kubernetes strategic merge patch (merge semantics plus $patch directives; lists are
// replaced, as for types without patch-merge keys).
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace kumo::server {

enum class PatchType { kMerge, kJson, kStrategic, kApply };

// Maps a Content-Type to a patch type; UnsupportedMediaType for anything else.
StatusOr<PatchType> PatchTypeOf(std::string_view content_type);

// Kubernetes' limit on the operations of one JSON patch.
inline constexpr size_t kMaxJsonPatchOperations = 10'000;

// Applies `patch` (the request body) to `target` in place. BadRequest for malformed patches;
// Invalid for a failed JSON-patch "test"; the target is unchanged on error. Bounded whatever
// the patch: RequestEntityTooLarge for more than kMaxJsonPatchOperations operations, for
// operations that add or copy more than kMaxExpansionBytes, or for a result larger than
// kMaxObjectBytes; Invalid for a result nested deeper than kMaxJsonDepth.
Status ApplyPatch(PatchType type, std::string_view patch, json::value& target);

}  // namespace kumo::server
