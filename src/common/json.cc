#include "common/json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <new>

namespace kumo {

namespace {

// Appends the path step for an object key: ".key" for identifier-like keys, else "[key]" (as
// Kubernetes prints map keys), with bytes that are not UTF-8 shown as \xNN.
void AppendKey(std::string& path, std::string_view key) {
  bool simple = !key.empty() && !isdigit(static_cast<unsigned char>(key[0]));
  for (char c : key) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') simple = false;
  }
  if (simple) {
    if (!path.empty()) path += '.';
    path += key;
    return;
  }
  path += '[';
  size_t i = 0;
  while (i < key.size()) {
    // Copy whole valid characters, escape one bad byte, go on.
    size_t j = i;
    while (j < key.size()) {
      size_t len = 1;
      auto c = static_cast<unsigned char>(key[j]);
      if (c >= 0xF0) len = 4;
      else if (c >= 0xE0) len = 3;
      else if (c >= 0xC0) len = 2;
      if (j + len > key.size() || !IsValidUtf8(key.substr(j, len))) break;
      j += len;
    }
    path.append(key.substr(i, j - i));
    if (j < key.size()) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(key[j]));
      path += buf;
      ++j;
    }
    i = j;
  }
  path += ']';
}

Status NotUtf8(const std::string& path, std::string_view what) {
  std::string field = path.empty() ? "<root>" : path;
  std::string msg = field + ": Invalid value: " + std::string(what) +
                    " is not valid UTF-8; send text as UTF-8 (binary data belongs base64-encoded "
                    "in a Secret's data)";
  return Invalid(msg, {{"FieldValueInvalid", std::string(what) + " is not valid UTF-8", field}});
}

Status CheckUtf8At(const json::value& v, std::string& path) {
  switch (v.kind()) {
    case json::kind::string:
      if (!IsValidUtf8(v.get_string())) return NotUtf8(path, "the string");
      return Status::Ok();
    case json::kind::array: {
      const json::array& a = v.get_array();
      for (size_t i = 0; i < a.size(); ++i) {
        size_t len = path.size();
        path += "[" + std::to_string(i) + "]";
        KUMO_RETURN_IF_ERROR(CheckUtf8At(a[i], path));
        path.resize(len);
      }
      return Status::Ok();
    }
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        size_t len = path.size();
        AppendKey(path, kv.key());
        if (!IsValidUtf8(kv.key())) return NotUtf8(path, "the key");
        KUMO_RETURN_IF_ERROR(CheckUtf8At(kv.value(), path));
        path.resize(len);
      }
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0, n = s.size();
  auto cont = [&](size_t k) {
    return k < n && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80;
  };
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 table 4: the second byte's range depends on the first.
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;  // no UTF-16 surrogates
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;  // nothing above U+10FFFF
    else return false;
    if (i + 1 >= n) return false;
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (!cont(i + k)) return false;
    }
    i += len;
  }
  return true;
}

Status CheckUtf8(const json::value& v) {
  std::string path;
  return CheckUtf8At(v, path);
}

StatusOr<json::value> ParseJson(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  try {
    json::error_code ec;
    json::value v = json::parse(text, ec, {}, opts);
    if (!ec) return v;
    if (!IsValidUtf8(text)) {
      // Name the field that is not UTF-8 (Invalid, as for YAML and protobuf bodies).
      opts.allow_invalid_utf8 = true;
      json::error_code ec2;
      json::value lax = json::parse(text, ec2, {}, opts);
      if (!ec2) {
        Status st = CheckUtf8(lax);
        if (!st.ok()) return st;
      }
    }
    return BadRequest("the request body is not valid JSON: " + ec.message());
  } catch (const std::bad_alloc&) {
    return Status(Code::kRequestEntityTooLarge,
                  "the JSON document needs more memory than the server allows; send less");
  }
}

size_t BoundedSerializedSize(const json::value& v, size_t limit) {
  json::serializer sr;
  sr.reset(&v);
  char buf[4096];
  size_t total = 0;
  while (!sr.done()) {
    total += sr.read(buf, sizeof buf).size();
    if (total > limit) return total;
  }
  return total;
}

int BoundedDepth(const json::value& v, int limit) {
  auto children = [&](auto&& each) {
    if (const json::object* o = v.if_object()) {
      for (const auto& kv : *o) if (!each(kv.value())) return;
    } else if (const json::array* a = v.if_array()) {
      for (const auto& e : *a) if (!each(e)) return;
    }
  };
  if (!v.is_object() && !v.is_array()) return 0;
  if (limit <= 0) return 1;
  int deepest = 0;
  children([&](const json::value& c) {
    deepest = std::max(deepest, BoundedDepth(c, limit - 1));
    return 1 + deepest <= limit;
  });
  return std::min(1 + deepest, limit + 1);
}

Status CheckObjectBounds(const json::value& v, size_t max_bytes, int max_depth) {
  size_t size = BoundedSerializedSize(v, max_bytes);
  if (size > max_bytes) {
    return Status(Code::kRequestEntityTooLarge,
                  "the object is larger than the " + std::to_string(max_bytes) +
                      " bytes the server stores; keep large data outside the object (e.g. "
                      "an image or a URL) and retry");
  }
  if (BoundedDepth(v, max_depth) <= max_depth) return Status::Ok();
  // Name the first place that nests too deeply.
  std::string path;
  const json::value* cur = &v;
  for (int left = max_depth; left > 0; --left) {
    const json::value* next = nullptr;
    if (const json::object* o = cur->if_object()) {
      for (const auto& kv : *o) {
        if (BoundedDepth(kv.value(), left - 1) > left - 1) {
          AppendKey(path, kv.key());
          next = &kv.value();
          break;
        }
      }
    } else if (const json::array* a = cur->if_array()) {
      for (size_t i = 0; i < a->size(); ++i) {
        if (BoundedDepth((*a)[i], left - 1) > left - 1) {
          path += "[" + std::to_string(i) + "]";
          next = &(*a)[i];
          break;
        }
      }
    }
    if (!next) break;
    cur = next;
  }
  std::string msg = "objects and arrays nest more than " + std::to_string(max_depth) +
                    " levels deep";
  return Invalid((path.empty() ? std::string("<root>") : path) + ": Invalid value: " + msg,
                 {{"FieldValueInvalid", msg, path}});
}

namespace {

// What a YAML document may still expand to: aliases share nodes in yaml-cpp, but every use
// becomes a copy in JSON, so nine levels of nine aliases are 9^9 values.
struct YamlBudget {
  size_t values_left;
  size_t bytes_left;
  size_t values_limit;
  size_t bytes_limit;

  Status Spend(size_t bytes) {
    if (values_left == 0 || bytes_left < bytes) {
      return Status(Code::kRequestEntityTooLarge,
                    "the YAML document expands (through its aliases) to more than " +
                        std::to_string(values_limit) + " values or " +
                        std::to_string(bytes_limit) +
                        " bytes; write the repeated parts out or send fewer aliases");
    }
    --values_left;
    bytes_left -= bytes;
    return Status::Ok();
  }
};

// `depth` counts the objects and arrays around `n`.
StatusOr<json::value> YamlToJson(const YAML::Node& n, int depth, YamlBudget& budget) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      KUMO_RETURN_IF_ERROR(budget.Spend(5));
      return json::value(nullptr);
    case YAML::NodeType::Sequence: {
      if (depth >= kMaxJsonDepth) {
        return BadRequest("the YAML document nests more than " + std::to_string(kMaxJsonDepth) +
                          " levels deep");
      }
      KUMO_RETURN_IF_ERROR(budget.Spend(2));
      json::array a;
      for (const auto& item : n) {
        KUMO_ASSIGN_OR_RETURN(json::value child, YamlToJson(item, depth + 1, budget));
        a.push_back(std::move(child));
      }
      return json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      if (depth >= kMaxJsonDepth) {
        return BadRequest("the YAML document nests more than " + std::to_string(kMaxJsonDepth) +
                          " levels deep");
      }
      KUMO_RETURN_IF_ERROR(budget.Spend(2));
      json::object o;
      for (const auto& kv : n) {
        std::string key = kv.first.as<std::string>();
        KUMO_RETURN_IF_ERROR(budget.Spend(key.size() + 4));
        KUMO_ASSIGN_OR_RETURN(json::value child, YamlToJson(kv.second, depth + 1, budget));
        o[key] = std::move(child);
      }
      return json::value(std::move(o));
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      KUMO_RETURN_IF_ERROR(budget.Spend(s.size() + 3));
      if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") return json::value(s);
      if (s == "true" || s == "True") return json::value(true);
      if (s == "false" || s == "False") return json::value(false);
      if (s == "null" || s == "~") return json::value(nullptr);
      // Integers and floats as YAML 1.2 core schema reads them.
      json::error_code ec;
      if (!s.empty() && (isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-')) {
        json::value num = json::parse(s, ec);
        if (!ec && num.is_number()) return num;
      }
      return json::value(s);
    }
  }
  return json::value(nullptr);
}

}  // namespace

StatusOr<json::value> ParseJsonOrYaml(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i < text.size() && (text[i] == '{' || text[i] == '[')) return ParseJson(text);
  try {
    YAML::Node node = YAML::Load(std::string(text));
    size_t values = std::max<size_t>(10'000, 64 * text.size());
    YamlBudget budget{values, kMaxExpansionBytes, values, kMaxExpansionBytes};
    KUMO_ASSIGN_OR_RETURN(json::value v, YamlToJson(node, 0, budget));
    KUMO_RETURN_IF_ERROR(CheckUtf8(v));
    return v;
  } catch (const YAML::Exception& e) {
    return BadRequest(std::string("the request body is not valid YAML: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status(Code::kRequestEntityTooLarge,
                  "the YAML document needs more memory than the server allows; send less");
  }
}

std::string ToJson(const json::value& v) { return json::serialize(v); }

const json::value* Find(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    const json::object* o = cur->if_object();
    if (!o) return nullptr;
    auto it = o->find(key);
    if (it == o->end()) return nullptr;
    cur = &it->value();
  }
  return cur;
}

json::value* Find(json::value& v, std::initializer_list<std::string_view> path) {
  return const_cast<json::value*>(Find(static_cast<const json::value&>(v), path));
}

std::string GetString(const json::value& v, std::initializer_list<std::string_view> path,
                      std::string_view def) {
  const json::value* f = Find(v, path);
  if (f && f->is_string()) return std::string(f->get_string());
  return std::string(def);
}

json::object& EnsureObject(json::value& v, std::initializer_list<std::string_view> path) {
  if (!v.is_object()) v = json::object();
  json::value* cur = &v;
  for (auto key : path) {
    json::object& o = cur->get_object();
    json::value& next = o[key];
    if (!next.is_object()) next = json::object();
    cur = &next;
  }
  return cur->get_object();
}

bool SameAt(const json::value* a, const json::value* b,
            std::initializer_list<std::string_view> path) {
  const json::value* x = a ? Find(*a, path) : nullptr;
  const json::value* y = b ? Find(*b, path) : nullptr;
  if (!x || !y) return x == y;
  return *x == *y;
}

std::string FormatTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t GetInt(const json::value& v, std::initializer_list<std::string_view> path, int64_t def) {
  const json::value* f = Find(v, path);
  if (f && (f->is_int64() || f->is_uint64())) return f->to_number<int64_t>();
  return def;
}

bool GetBool(const json::value& v, std::initializer_list<std::string_view> path, bool def) {
  const json::value* f = Find(v, path);
  return f && f->is_bool() ? f->get_bool() : def;
}

int64_t ParseTime(std::string_view text) {
  struct tm tm = {};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return -1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  char buf[32];
  if (seconds < 120) {
    snprintf(buf, sizeof buf, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 600) {
    int64_t m = seconds / 60, s = seconds % 60;
    if (s == 0) snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(m));
    else snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(m), static_cast<long long>(s));
  } else if (seconds < 3 * 3600) {
    snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(seconds / 60));
  } else if (seconds < 8 * 3600) {
    int64_t h = seconds / 3600, m = (seconds % 3600) / 60;
    if (m == 0) snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(h));
    else snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(h), static_cast<long long>(m));
  } else if (seconds < 48 * 3600) {
    snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(seconds / 3600));
  } else if (seconds < 8 * 86400) {
    int64_t d = seconds / 86400, h = (seconds % 86400) / 3600;
    if (h == 0) snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(d));
    else snprintf(buf, sizeof buf, "%lldd%lldh", static_cast<long long>(d), static_cast<long long>(h));
  } else if (seconds < 2 * 365 * 86400) {
    snprintf(buf, sizeof buf, "%lldd", static_cast<long long>(seconds / 86400));
  } else {
    snprintf(buf, sizeof buf, "%lldy", static_cast<long long>(seconds / (365 * 86400)));
  }
  return buf;
}

}  // namespace kumo
