#include "api/openapi_v2.h"

#include <string_view>

namespace kumo::api {

namespace {

constexpr std::string_view kV3Prefix = "#/components/schemas/";
constexpr std::string_view kV2Prefix = "#/definitions/";

json::object SchemaToV2(const json::object& in);

// "#/components/schemas/X" -> "#/definitions/X"; other references are kept.
json::value V2Ref(const json::value& ref) {
  if (!ref.is_string() || !ref.get_string().starts_with(kV3Prefix)) return ref;
  std::string_view name = std::string_view(ref.get_string()).substr(kV3Prefix.size());
  return json::value(std::string(kV2Prefix) + std::string(name));
}

json::value SchemaValueToV2(const json::value& in) {
  if (const json::object* o = in.if_object()) return SchemaToV2(*o);
  return in;  // additionalProperties: true/false
}

// The reference a single-element allOf wraps (kube-apiserver's way to give a $ref a
// description in OpenAPI 3), or nullptr.
const json::value* SingleRef(const json::object& in) {
  const json::value* all = in.if_contains("allOf");
  if (!all || !all->is_array() || all->as_array().size() != 1) return nullptr;
  const json::object* only = all->as_array()[0].if_object();
  if (!only) return nullptr;
  return only->if_contains("$ref");
}

json::object SchemaToV2(const json::object& in) {
  json::object out;
  if (const json::value* ref = SingleRef(in)) {
    out["$ref"] = V2Ref(*ref);
  }
  bool int_or_string = false;
  if (const json::value* v = in.if_contains("x-kubernetes-int-or-string")) {
    int_or_string = v->is_bool() && v->get_bool();
  }
  for (const auto& kv : in) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "allOf" || key == "anyOf" || key == "oneOf" || key == "not" ||
        key == "nullable" || key == "x-kubernetes-int-or-string") {
      continue;
    }
    if (key == "$ref") {
      out["$ref"] = V2Ref(v);
    } else if (key == "properties" && v.is_object()) {
      json::object props;
      for (const auto& p : v.get_object()) {
        if (const json::object* ps = p.value().if_object()) props[p.key()] = SchemaToV2(*ps);
      }
      out["properties"] = std::move(props);
    } else if (key == "items" || key == "additionalProperties") {
      out[key] = SchemaValueToV2(v);
    } else {
      out[key] = v;
    }
  }
  if (int_or_string) {
    out["type"] = "string";
    out["format"] = "int-or-string";
  }
  // kubectl 1.20 refuses a whole document when one array lacks items.
  if (const json::value* t = out.if_contains("type");
      t && t->is_string() && t->get_string() == "array" && !out.contains("items")) {
    out["items"] = json::object{};
  }
  return out;
}

// The schema of a v3 media-type map ({"application/json": {"schema": ...}}), the JSON one
// first.
const json::object* ContentSchema(const json::value* content) {
  if (!content || !content->is_object()) return nullptr;
  const json::object& c = content->get_object();
  const json::value* media = c.if_contains("application/json");
  if (!media && !c.empty()) media = &c.begin()->value();
  if (!media || !media->is_object()) return nullptr;
  const json::value* s = media->get_object().if_contains("schema");
  return s ? s->if_object() : nullptr;
}

json::object ParameterToV2(const json::object& in) {
  json::object out;
  for (const auto& kv : in) {
    if (kv.key() == "schema") {
      if (const json::object* s = kv.value().if_object()) {
        for (const auto& skv : *s) out[skv.key()] = skv.value();
      }
    } else {
      out[kv.key()] = kv.value();
    }
  }
  return out;
}

json::array ParametersToV2(const json::value* params) {
  json::array out;
  if (!params || !params->is_array()) return out;
  for (const auto& p : params->get_array()) {
    if (const json::object* po = p.if_object()) out.push_back(ParameterToV2(*po));
  }
  return out;
}

json::array Strings(std::initializer_list<std::string_view> items) {
  json::array a;
  for (auto s : items) a.emplace_back(s);
  return a;
}

json::object OperationToV2(const json::object& in) {
  json::object out;
  json::array params = ParametersToV2(in.if_contains("parameters"));
  for (const auto& kv : in) {
    std::string_view key = kv.key();
    if (key == "parameters" || key == "requestBody" || key == "responses") continue;
    out[key] = kv.value();
  }
  out["consumes"] = Strings({"*/*"});
  out["produces"] = Strings({"application/json", "application/yaml"});
  out["schemes"] = Strings({"https"});
  if (const json::value* body = in.if_contains("requestBody"); body && body->is_object()) {
    const json::value* content = body->get_object().if_contains("content");
    if (const json::object* s = ContentSchema(content)) {
      params.push_back(json::object{
          {"name", "body"}, {"in", "body"}, {"required", true}, {"schema", SchemaToV2(*s)}});
    }
    // A patch names its media types; kubectl reads them from consumes.
    if (content && content->is_object() && !content->get_object().contains("application/json")) {
      json::array types;
      for (const auto& t : content->get_object()) types.emplace_back(t.key());
      out["consumes"] = std::move(types);
    }
  }
  if (!params.empty()) out["parameters"] = std::move(params);
  json::object responses;
  if (const json::value* rs = in.if_contains("responses"); rs && rs->is_object()) {
    for (const auto& r : rs->get_object()) {
      const json::object* ro = r.value().if_object();
      if (!ro) continue;
      json::object resp{{"description", ro->contains("description") ? ro->at("description")
                                                                     : json::value("")}};
      if (const json::object* s = ContentSchema(ro->if_contains("content"))) {
        resp["schema"] = SchemaToV2(*s);
      }
      responses[r.key()] = std::move(resp);
    }
  }
  out["responses"] = std::move(responses);
  return out;
}

json::object PathItemToV2(const json::object& in) {
  json::object out;
  for (const auto& kv : in) {
    std::string_view key = kv.key();
    if (key == "parameters") {
      out["parameters"] = ParametersToV2(&kv.value());
    } else if (const json::object* op = kv.value().if_object()) {
      out[key] = OperationToV2(*op);
    }
  }
  return out;
}

}  // namespace

json::object ToSwagger2(const json::object& paths, const json::object& schemas) {
  json::object v2_paths;
  for (const auto& p : paths) {
    if (const json::object* item = p.value().if_object()) v2_paths[p.key()] = PathItemToV2(*item);
  }
  json::object definitions;
  for (const auto& s : schemas) {
    if (const json::object* o = s.value().if_object()) definitions[s.key()] = SchemaToV2(*o);
  }
  return json::object{
      {"swagger", "2.0"},
      {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
      {"paths", std::move(v2_paths)},
      {"definitions", std::move(definitions)},
  };
}

}  // namespace kumo::api
