#include "http/query.h"

namespace kumo::http {

namespace {

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

}  // namespace kumo::http
