// Decodes request bodies that kubectl sends as Kubernetes protobuf
// (application/vnd.kubernetes.protobuf): its typed clients use it for built-in kinds, e.g.
// `kubectl create namespace` and `kubectl create secret`. Only the kinds Kumo serves that kubectl
// creates this way are understood; the rest of Kumo speaks JSON.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace kumo::server {

// The object as JSON. UnsupportedMediaType for kinds without a decoder; BadRequest for
// malformed bytes; Invalid (naming the field) for a string that is not UTF-8.
StatusOr<json::value> DecodeKubernetesProtobuf(std::string_view body);

}  // namespace kumo::server
