#include "api/openapi_v2.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "api/openapi.h"
#include "api/resource.h"
#include "common/json.h"

namespace kumo::api {
namespace {

json::object SwaggerJson() {
  StatusOr<json::value> v = ParseJson(OpenApiV2(DefaultRegistry(), /*protobuf=*/false));
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? v->as_object() : json::object{};
}

// The rules kubectl 1.20's schema parser (kube-openapi's proto package) applies to every
// definition; one violation makes it reject the whole document and every `apply` with it.
void CheckParsable(const json::object& defs, const json::object& s, const std::string& where,
                   std::vector<std::string>& errors) {
  for (std::string_view banned : {"anyOf", "oneOf", "allOf", "nullable", "not"}) {
    if (s.contains(banned)) errors.push_back(where + ": has " + std::string(banned));
  }
  if (const json::value* ref = s.if_contains("$ref")) {
    std::string_view r = ref->as_string();
    constexpr std::string_view kPrefix = "#/definitions/";
    if (!r.starts_with(kPrefix) || !defs.contains(r.substr(kPrefix.size()))) {
      errors.push_back(where + ": dangling $ref " + std::string(r));
    }
    return;
  }
  std::string type;
  if (const json::value* t = s.if_contains("type")) type = std::string(t->as_string());
  if (!type.empty() && type != "object" && type != "array" && type != "string" &&
      type != "integer" && type != "number" && type != "boolean") {
    errors.push_back(where + ": unknown type " + type);
  }
  if (type == "array") {
    const json::value* items = s.if_contains("items");
    if (!items || !items->is_object()) {
      errors.push_back(where + ": array without items");
    } else {
      CheckParsable(defs, items->get_object(), where + "[]", errors);
    }
  }
  if (const json::value* props = s.if_contains("properties")) {
    for (const auto& p : props->as_object()) {
      CheckParsable(defs, p.value().as_object(), where + "." + std::string(p.key()), errors);
    }
  }
  if (const json::value* ap = s.if_contains("additionalProperties"); ap && ap->is_object()) {
    CheckParsable(defs, ap->get_object(), where + "{}", errors);
  }
}

TEST(OpenApiV2Test, EveryDefinitionParsesUnderKubectl120Rules) {
  json::object doc = SwaggerJson();
  EXPECT_EQ(doc.at("swagger").as_string(), "2.0");
  const json::object& defs = doc.at("definitions").as_object();
  ASSERT_GT(defs.size(), 50u);
  std::vector<std::string> errors;
  for (const auto& d : defs) CheckParsable(defs, d.value().as_object(), d.key(), errors);
  EXPECT_TRUE(errors.empty()) << errors.size() << " problems, first: " << errors.front();
}

TEST(OpenApiV2Test, KindsCarryGroupVersionKindAndFieldDescriptions) {
  json::object doc = SwaggerJson();
  const json::object& vm = doc.at("definitions").at("io.kubevirt.v1.VirtualMachine").as_object();
  const json::array& gvk = vm.at("x-kubernetes-group-version-kind").as_array();
  ASSERT_EQ(gvk.size(), 1u);
  EXPECT_EQ(gvk[0].at("kind").as_string(), "VirtualMachine");
  EXPECT_EQ(gvk[0].at("group").as_string(), "kubevirt.io");
  // The spec is a reference (with its description kept) into definitions.
  const json::object& spec = vm.at("properties").at("spec").as_object();
  EXPECT_TRUE(spec.at("$ref").as_string().starts_with("#/definitions/"));
  EXPECT_FALSE(spec.at("description").as_string().empty());
  // Core kinds are there too, for `kubectl apply` of a Namespace.
  EXPECT_TRUE(doc.at("definitions").as_object().contains("io.k8s.api.core.v1.Namespace"));
}

TEST(OpenApiV2Test, PathsUseBodyParametersAndResponseSchemas) {
  json::object doc = SwaggerJson();
  const json::object& paths = doc.at("paths").as_object();
  const json::object& coll =
      paths.at("/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines").as_object();
  const json::object& post = coll.at("post").as_object();
  bool body = false;
  for (const auto& p : post.at("parameters").as_array()) {
    if (p.at("in").as_string() == "body") {
      body = true;
      EXPECT_EQ(p.at("schema").at("$ref").as_string(),
                "#/definitions/io.kubevirt.v1.VirtualMachine");
    } else {
      EXPECT_FALSE(p.as_object().contains("schema")) << "non-body parameters are flat in v2";
    }
  }
  EXPECT_TRUE(body);
  EXPECT_EQ(post.at("responses").at("201").at("schema").at("$ref").as_string(),
            "#/definitions/io.kubevirt.v1.VirtualMachine");
  const json::object& patch =
      paths.at("/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}")
          .at("patch")
          .as_object();
  bool merge = false;
  for (const auto& c : patch.at("consumes").as_array()) {
    merge = merge || c.as_string() == "application/merge-patch+json";
  }
  EXPECT_TRUE(merge);
}

TEST(OpenApiV2Test, IntOrStringBecomesStringAndArraysGetItems) {
  json::object schemas{
      {"Q", {{"anyOf", json::array{json::object{{"type", "integer"}}}},
             {"x-kubernetes-int-or-string", true}}},
      {"A", {{"type", "array"}, {"nullable", true}}},
      {"R", {{"description", "d"}, {"allOf", json::array{{{"$ref", "#/components/schemas/Q"}}}}}}};
  json::object doc = ToSwagger2({}, schemas);
  const json::object& defs = doc.at("definitions").as_object();
  EXPECT_EQ(defs.at("Q").at("type").as_string(), "string");
  EXPECT_EQ(defs.at("Q").at("format").as_string(), "int-or-string");
  EXPECT_FALSE(defs.at("Q").as_object().contains("anyOf"));
  EXPECT_TRUE(defs.at("A").as_object().contains("items"));
  EXPECT_FALSE(defs.at("A").as_object().contains("nullable"));
  EXPECT_EQ(defs.at("R").at("$ref").as_string(), "#/definitions/Q");
  EXPECT_EQ(defs.at("R").at("description").as_string(), "d");
}

// A minimal protobuf reader for the test: (field, bytes) of length-delimited fields, and the
// varints/fixed values skipped.
std::vector<std::pair<int, std::string>> Fields(std::string_view b) {
  std::vector<std::pair<int, std::string>> out;
  size_t i = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0; i < b.size(); shift += 7) {
      uint8_t c = static_cast<uint8_t>(b[i++]);
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) break;
    }
    return v;
  };
  while (i < b.size()) {
    uint64_t tag = varint();
    int field = static_cast<int>(tag >> 3);
    switch (tag & 7) {
      case 0: varint(); break;
      case 1: i += 8; break;
      case 5: i += 4; break;
      case 2: {
        uint64_t n = varint();
        EXPECT_LE(i + n, b.size());
        out.emplace_back(field, std::string(b.substr(i, n)));
        i += n;
        break;
      }
      default: ADD_FAILURE() << "bad wire type"; return out;
    }
  }
  return out;
}

std::string Field(std::string_view msg, int field) {
  for (auto& [f, v] : Fields(msg)) {
    if (f == field) return v;
  }
  return "";
}

TEST(OpenApiV2Test, ProtobufCarriesDefinitionsAndGvkAsYaml) {
  const std::string& pb = OpenApiV2(DefaultRegistry(), /*protobuf=*/true);
  EXPECT_EQ(Field(pb, 1), "2.0");
  json::object doc = SwaggerJson();
  std::vector<std::pair<int, std::string>> named = Fields(Field(pb, 9));
  EXPECT_EQ(named.size(), doc.at("definitions").as_object().size());
  bool found = false;
  for (auto& [f, ns] : named) {
    if (Field(ns, 1) != "io.kubevirt.v1.VirtualMachine") continue;
    found = true;
    std::string schema = Field(ns, 2);
    EXPECT_EQ(Field(Field(schema, 22), 1), "object");  // TypeItem
    std::string gvk_yaml;
    for (auto& [sf, ext] : Fields(schema)) {
      if (sf == 31 && Field(ext, 1) == "x-kubernetes-group-version-kind") {
        gvk_yaml = Field(Field(ext, 2), 2);
      }
    }
    StatusOr<json::value> gvk = ParseJsonOrYaml(gvk_yaml);
    ASSERT_TRUE(gvk.ok()) << gvk_yaml;
    EXPECT_EQ(gvk->as_array().at(0).at("kind").as_string(), "VirtualMachine");
    // Properties come through with their names.
    std::vector<std::pair<int, std::string>> props = Fields(Field(schema, 25));
    bool spec = false;
    for (auto& [pf, p] : props) spec = spec || Field(p, 1) == "spec";
    EXPECT_TRUE(spec);
  }
  EXPECT_TRUE(found);
  // Paths are there, each with a name.
  EXPECT_GT(Fields(Field(pb, 8)).size(), 20u);
}

}  // namespace
}  // namespace kumo::api
