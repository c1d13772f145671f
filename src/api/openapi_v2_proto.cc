// Protobuf encoding of a Swagger 2.0 document as gnostic's openapi.v2.Document (field numbers
// from gnostic's OpenAPIv2.proto). Only what ToSwagger2 produces is encoded: info, paths with
// their operations, parameters and responses, and definitions; a field this encoder does not
// know is left out, as a reader of an older schema would skip it.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "api/openapi_v2.h"

namespace kumo::api {

namespace {

// Appends protobuf wire format to one buffer.
class Writer {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Tag(int field, int wire_type) { Varint((static_cast<uint64_t>(field) << 3) | wire_type); }
  void Bytes(int field, std::string_view data) {
    Tag(field, 2);
    Varint(data.size());
    out_.append(data);
  }
  void String(int field, const json::value* v) {
    if (v && v->is_string()) Bytes(field, v->get_string());
  }
  void Bool(int field, const json::value* v) {
    if (v && v->is_bool() && v->get_bool()) {
      Tag(field, 0);
      Varint(1);
    }
  }
  void Int64(int field, const json::value* v) {
    if (!v) return;
    if (v->is_int64()) {
      Tag(field, 0);
      Varint(static_cast<uint64_t>(v->get_int64()));
    } else if (v->is_uint64()) {
      Tag(field, 0);
      Varint(v->get_uint64());
    }
  }
  void Double(int field, const json::value* v) {
    if (!v || !v->is_number()) return;
    double d = v->to_number<double>();
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    Tag(field, 1);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  // gnostic's Named* messages (map entries kept in order): {name = 1, value = 2} as `field`.
  void Named(int field, std::string_view name, std::string_view value) {
    Writer named;
    named.Bytes(1, name);
    named.Bytes(2, value);
    Bytes(field, named.str());
  }
  void Strings(int field, const json::value* v) {
    if (!v || !v->is_array()) return;
    for (const auto& s : v->get_array()) String(field, &s);
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// openapi.v2.Any: the value as YAML text (field 2). JSON is YAML, and kubectl parses it with a
// YAML parser.
std::string AnyMsg(const json::value& v) {
  Writer w;
  w.Bytes(2, json::serialize(v));
  return w.str();
}

// repeated NamedAny vendor_extension: every "x-" key of `o`.
void VendorExtensions(Writer& w, int field, const json::object& o) {
  for (const auto& kv : o) {
    if (!kv.key().starts_with("x-")) continue;
    w.Named(field, kv.key(), AnyMsg(kv.value()));
  }
}

std::string SchemaMsg(const json::object& s);

std::string NamedSchemas(const json::object& o) {
  Writer w;  // Properties / Definitions: repeated NamedSchema additional_properties = 1
  for (const auto& kv : o) {
    const json::object* so = kv.value().if_object();
    if (so) w.Named(1, kv.key(), SchemaMsg(*so));
  }
  return w.str();
}

std::string SchemaMsg(const json::object& s) {
  Writer w;
  w.String(1, s.if_contains("$ref"));
  w.String(2, s.if_contains("format"));
  w.String(3, s.if_contains("title"));
  w.String(4, s.if_contains("description"));
  if (const json::value* d = s.if_contains("default")) w.Bytes(5, AnyMsg(*d));
  w.Double(6, s.if_contains("multipleOf"));
  w.Double(7, s.if_contains("maximum"));
  w.Bool(8, s.if_contains("exclusiveMaximum"));
  w.Double(9, s.if_contains("minimum"));
  w.Bool(10, s.if_contains("exclusiveMinimum"));
  w.Int64(11, s.if_contains("maxLength"));
  w.Int64(12, s.if_contains("minLength"));
  w.String(13, s.if_contains("pattern"));
  w.Int64(14, s.if_contains("maxItems"));
  w.Int64(15, s.if_contains("minItems"));
  w.Bool(16, s.if_contains("uniqueItems"));
  w.Int64(17, s.if_contains("maxProperties"));
  w.Int64(18, s.if_contains("minProperties"));
  w.Strings(19, s.if_contains("required"));
  if (const json::value* e = s.if_contains("enum"); e && e->is_array()) {
    for (const auto& v : e->get_array()) w.Bytes(20, AnyMsg(v));
  }
  if (const json::value* ap = s.if_contains("additionalProperties")) {
    Writer item;  // AdditionalPropertiesItem: oneof schema = 1, boolean = 2
    if (const json::object* apo = ap->if_object()) {
      item.Bytes(1, SchemaMsg(*apo));
    } else if (ap->is_bool()) {
      item.Tag(2, 0);
      item.Varint(ap->get_bool() ? 1 : 0);
    }
    w.Bytes(21, item.str());
  }
  if (const json::value* t = s.if_contains("type"); t && t->is_string()) {
    Writer type;  // TypeItem: repeated string value = 1
    type.String(1, t);
    w.Bytes(22, type.str());
  }
  if (const json::value* items = s.if_contains("items")) {
    Writer item;  // ItemsItem: repeated Schema schema = 1
    if (const json::object* io = items->if_object()) item.Bytes(1, SchemaMsg(*io));
    w.Bytes(23, item.str());
  }
  if (const json::value* props = s.if_contains("properties"); props && props->is_object()) {
    w.Bytes(25, NamedSchemas(props->get_object()));
  }
  w.Bool(27, s.if_contains("readOnly"));
  if (const json::value* ex = s.if_contains("example")) w.Bytes(30, AnyMsg(*ex));
  VendorExtensions(w, 31, s);
  return w.str();
}

// ParametersItem { Parameter parameter = 1 } with Parameter { BodyParameter body_parameter = 1;
// NonBodyParameter non_body_parameter = 2 }.
std::string ParameterItemMsg(const json::object& p) {
  std::string_view in;
  if (const json::value* v = p.if_contains("in"); v && v->is_string()) in = v->get_string();
  Writer param;
  if (in == "body") {
    Writer body;
    body.String(1, p.if_contains("description"));
    body.String(2, p.if_contains("name"));
    body.String(3, p.if_contains("in"));
    body.Bool(4, p.if_contains("required"));
    if (const json::value* s = p.if_contains("schema"); s && s->is_object()) {
      body.Bytes(5, SchemaMsg(s->get_object()));
    }
    VendorExtensions(body, 6, p);
    param.Bytes(1, body.str());
  } else {
    // Query (3) and path (4) sub-schemas share their first fields; after `name` the query one
    // has allow_empty_value, so its later numbers are one higher.
    const bool query = in != "path";
    const int shift = query ? 1 : 0;
    Writer sub;
    sub.Bool(1, p.if_contains("required"));
    sub.String(2, p.if_contains("in"));
    sub.String(3, p.if_contains("description"));
    sub.String(4, p.if_contains("name"));
    sub.String(5 + shift, p.if_contains("type"));
    sub.String(6 + shift, p.if_contains("format"));
    sub.Bool(19 + shift, p.if_contains("uniqueItems"));
    VendorExtensions(sub, 22 + shift, p);
    Writer non_body;
    non_body.Bytes(query ? 3 : 4, sub.str());
    param.Bytes(2, non_body.str());
  }
  Writer item;
  item.Bytes(1, param.str());
  return item.str();
}

void Parameters(Writer& w, int field, const json::value* params) {
  if (!params || !params->is_array()) return;
  for (const auto& p : params->get_array()) {
    if (const json::object* po = p.if_object()) w.Bytes(field, ParameterItemMsg(*po));
  }
}

std::string ResponsesMsg(const json::object& responses) {
  Writer w;  // Responses: repeated NamedResponseValue response_code = 1
  for (const auto& kv : responses) {
    const json::object* r = kv.value().if_object();
    if (!r) continue;
    Writer resp;  // Response: description = 1, SchemaItem schema = 2
    resp.String(1, r->if_contains("description"));
    if (const json::value* s = r->if_contains("schema"); s && s->is_object()) {
      Writer item;  // SchemaItem: oneof schema = 1
      item.Bytes(1, SchemaMsg(s->get_object()));
      resp.Bytes(2, item.str());
    }
    Writer value;  // ResponseValue: oneof response = 1
    value.Bytes(1, resp.str());
    w.Named(1, kv.key(), value.str());
  }
  return w.str();
}

std::string OperationMsg(const json::object& op) {
  Writer w;
  w.Strings(1, op.if_contains("tags"));
  w.String(2, op.if_contains("summary"));
  w.String(3, op.if_contains("description"));
  w.String(5, op.if_contains("operationId"));
  w.Strings(6, op.if_contains("produces"));
  w.Strings(7, op.if_contains("consumes"));
  Parameters(w, 8, op.if_contains("parameters"));
  if (const json::value* r = op.if_contains("responses"); r && r->is_object()) {
    w.Bytes(9, ResponsesMsg(r->get_object()));
  }
  w.Strings(10, op.if_contains("schemes"));
  w.Bool(11, op.if_contains("deprecated"));
  VendorExtensions(w, 13, op);
  return w.str();
}

std::string PathItemMsg(const json::object& item) {
  static constexpr std::pair<std::string_view, int> kOps[] = {
      {"get", 2}, {"put", 3}, {"post", 4}, {"delete", 5}, {"options", 6}, {"head", 7}, {"patch", 8}};
  Writer w;
  for (const auto& [name, field] : kOps) {
    if (const json::value* op = item.if_contains(name); op && op->is_object()) {
      w.Bytes(field, OperationMsg(op->get_object()));
    }
  }
  Parameters(w, 9, item.if_contains("parameters"));
  VendorExtensions(w, 10, item);
  return w.str();
}

}  // namespace

std::string EncodeSwagger2Protobuf(const json::object& swagger) {
  Writer w;
  w.String(1, swagger.if_contains("swagger"));
  if (const json::value* info = swagger.if_contains("info"); info && info->is_object()) {
    Writer i;
    i.String(1, info->get_object().if_contains("title"));
    i.String(2, info->get_object().if_contains("version"));
    i.String(3, info->get_object().if_contains("description"));
    w.Bytes(2, i.str());
  }
  if (const json::value* paths = swagger.if_contains("paths"); paths && paths->is_object()) {
    Writer p;  // Paths: repeated NamedPathItem path = 2
    for (const auto& kv : paths->get_object()) {
      if (const json::object* item = kv.value().if_object()) {
        p.Named(2, kv.key(), PathItemMsg(*item));
      }
    }
    w.Bytes(8, p.str());
  }
  if (const json::value* defs = swagger.if_contains("definitions"); defs && defs->is_object()) {
    w.Bytes(9, NamedSchemas(defs->get_object()));
  }
  VendorExtensions(w, 16, swagger);
  return w.str();
}

}  // namespace kumo::api
