#include "server/request_info.h"

#include <vector>

namespace kumo::server {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

Query ParseQuery(std::string_view raw) {
  Query q;
  size_t i = 0;
  while (i <= raw.size() && !raw.empty()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view kv = raw.substr(i, amp - i);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string key = Decode(kv.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : Decode(kv.substr(eq + 1));
      q.emplace(std::move(key), std::move(value));
    }
    if (amp == raw.size()) break;
    i = amp + 1;
  }
  return q;
}

RequestInfo ParseRequestInfo(std::string_view method, std::string_view path, const Query& query) {
  RequestInfo info;
  info.path = std::string(path);
  std::vector<std::string> parts = SplitPath(path);
  if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) return info;
  info.api_prefix = parts[0];
  size_t i = 1;
  if (info.api_prefix == "apis") {
    if (parts.size() < 4) return info;  // /apis, /apis/g, /apis/g/v are discovery
    info.group = parts[1];
    info.version = parts[2];
    i = 3;
  } else {
    if (parts.size() < 3) return info;  // /api, /api/v1
    info.version = parts[1];
    i = 2;
  }
  info.is_resource_request = true;
  std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
  // namespaces/NS/RESOURCE/... addresses namespaced resources; namespaces/NS, /status and
  // /finalize address the namespace object itself.
  if (rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" &&
      rest[2] != "finalize") {
    info.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (!rest.empty()) info.resource = rest[0];
  if (rest.size() >= 2) info.name = rest[1];
  if (rest.size() >= 3) info.subresource = rest[2];
  for (size_t k = 3; k < rest.size(); ++k) info.subresource += "/" + rest[k];

  bool has_name = !info.name.empty();
  auto watch = query.find("watch");
  bool is_watch = watch != query.end() && (watch->second == "true" || watch->second == "1");
  if (method == "GET" || method == "HEAD") {
    info.verb = is_watch ? "watch" : has_name ? "get" : "list";
  } else if (method == "POST") {
    info.verb = "create";
  } else if (method == "PUT") {
    info.verb = "update";
  } else if (method == "PATCH") {
    info.verb = "patch";
  } else if (method == "DELETE") {
    info.verb = has_name ? "delete" : "deletecollection";
  } else {
    info.verb = "";
  }
  return info;
}

}  // namespace kumo::server
