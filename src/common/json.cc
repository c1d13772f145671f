#include "common/json.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <ctime>

namespace kumo {

StatusOr<json::value> ParseJson(std::string_view text) {
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    return BadRequest("the request body is not valid JSON: " + ec.message());
  }
  return v;
}

namespace {

StatusOr<json::value> YamlToJson(const YAML::Node& n, int depth) {
  if (depth > 64) return BadRequest("YAML document nests too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::value(nullptr);
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& item : n) {
        KUMO_ASSIGN_OR_RETURN(json::value child, YamlToJson(item, depth + 1));
        a.push_back(std::move(child));
      }
      return json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) {
        KUMO_ASSIGN_OR_RETURN(json::value child, YamlToJson(kv.second, depth + 1));
        o[kv.first.as<std::string>()] = std::move(child);
      }
      return json::value(std::move(o));
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
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
    return YamlToJson(node, 0);
  } catch (const YAML::Exception& e) {
    return BadRequest(std::string("the request body is not valid YAML: ") + e.what());
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
