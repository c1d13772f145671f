// OpenAPI v2 (Swagger 2.0) for kubectl releases that predate OpenAPI v3 (kubectl 1.20, as Debian
// ships it, validates `apply` and answers `explain` from /openapi/v2). The document is derived
// from the same component schemas and paths as the v3 documents (openapi.cc), converted to
// Swagger 2.0's vocabulary, and served as JSON or as the protobuf encoding of gnostic's
// openapi.v2.Document, which is the only form kubectl 1.20 asks for.
#pragma once

#include <string>

#include "common/json.h"

namespace kumo::api {

// The Swagger 2.0 document for v3 `paths` (OpenAPI 3 path items) and `schemas` (OpenAPI 3
// component schemas, by name). Rules, as kube-apiserver's v2 publishing applies them and as
// kubectl 1.20's schema parser needs them: references point into #/definitions; anyOf, oneOf
// and nullable are dropped (int-or-string becomes type string, format int-or-string); a
// single-reference allOf becomes the reference; every array has items; request bodies become
// "body" parameters and response content a response schema.
json::object ToSwagger2(const json::object& paths, const json::object& schemas);

// The protobuf encoding (gnostic openapi.v2.Document, media type
// application/com.github.proto-openapi.spec.v2@v1.0+protobuf) of a document made by
// ToSwagger2. Vendor extensions, defaults and enums travel as YAML text in openapi.v2.Any.
std::string EncodeSwagger2Protobuf(const json::object& swagger);

}  // namespace kumo::api
