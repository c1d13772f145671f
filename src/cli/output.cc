#include "cli/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace kumo::cli {

namespace {

bool IsYamlSpecialWord(std::string_view s) {
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  static const char* kWords[] = {"true", "false", "yes", "no",   "on",    "off", "y",
                                 "n",    "null",  "~",   ".inf", "-.inf", ".nan"};
  for (const char* w : kWords) {
    if (lower == w) return true;
  }
  return false;
}

// Looks like a YAML 1.1/1.2 number or a date: 12, -3.5, 1e3, 0x1f, 0o7, 1_000, 2024-01-02.
bool LooksNumericOrDate(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
  if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  // Anything starting with a digit (after a sign) that is made only of number-ish characters.
  for (char c : s.substr(i)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+' && c != ':') {
      return false;
    }
  }
  return true;
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  if (IsYamlSpecialWord(s) || LooksNumericOrDate(s)) return true;
  if (std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back()))) {
    return true;
  }
  static const std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) {
    // "-x", "?x" and ":x" are plain when not followed by a space, but keep it simple.
    return true;
  }
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos ||
      s.back() == ':') {
    return true;
  }
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool HasControl(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

std::string QuoteScalar(std::string_view s) {
  if (!NeedsQuotes(s)) return std::string(s);
  if (!HasControl(s) && s.find('\'') == std::string_view::npos) {
    return "'" + std::string(s) + "'";
  }
  return json::serialize(json::value(json::string(s)));  // JSON strings are YAML strings
}

// A string that reads well as a literal block: several lines, no carriage returns or tabs at
// line starts, and a first line that does not start with a space.
bool LiteralBlockOk(std::string_view s) {
  if (s.find('\n') == std::string_view::npos) return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) return false;
  }
  // Trailing spaces on a line survive a literal block, but "\n\n" at the very end needs |+.
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\n\n") return false;
  return true;
}

void EmitScalar(const json::value& v, std::string& out, int indent) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      out += json::serialize(v);
      return;
    case json::kind::string: {
      std::string_view s = v.get_string();
      if (LiteralBlockOk(s)) {
        bool trailing_newline = s.back() == '\n';
        out += trailing_newline ? "|" : "|-";
        std::string pad(static_cast<size_t>(indent), ' ');
        std::string_view body = trailing_newline ? s.substr(0, s.size() - 1) : s;
        size_t start = 0;
        while (start <= body.size()) {
          size_t nl = body.find('\n', start);
          std::string_view line = body.substr(
              start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
          out += "\n";
          if (!line.empty()) out.append(pad).append(line);
          if (nl == std::string_view::npos) break;
          start = nl + 1;
        }
        return;
      }
      out += QuoteScalar(s);
      return;
    }
    default:
      return;
  }
}

bool IsEmptyContainer(const json::value& v) {
  return (v.is_object() && v.get_object().empty()) || (v.is_array() && v.get_array().empty());
}

void EmitNode(const json::value& v, std::string& out, int indent);

// Emits the value of a "key:" or "- " entry. Containers go on the following lines (objects
// indented by two; sequences under a key at the same indentation, as kubectl prints them).
void EmitValueAfterKey(const json::value& v, std::string& out, int indent) {
  if (v.is_object() && !v.get_object().empty()) {
    out += "\n";
    EmitNode(v, out, indent + 2);
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "\n";
    EmitNode(v, out, indent);
  } else if (IsEmptyContainer(v)) {
    out += v.is_object() ? " {}\n" : " []\n";
  } else {
    out += " ";
    EmitScalar(v, out, indent + 2);
    out += "\n";
  }
}

void EmitNode(const json::value& v, std::string& out, int indent) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      out += pad + QuoteScalar(kv.key()) + ":";
      EmitValueAfterKey(kv.value(), out, indent);
    }
  } else if (v.is_array()) {
    for (const auto& item : v.get_array()) {
      out += pad + "-";
      if (item.is_object() && !item.get_object().empty()) {
        // The first key shares the dash's line; the rest align under it.
        std::string nested;
        EmitNode(item, nested, indent + 2);
        out += " " + nested.substr(static_cast<size_t>(indent) + 2);
      } else if (item.is_array() && !item.get_array().empty()) {
        out += "\n";
        EmitNode(item, out, indent + 2);
      } else if (IsEmptyContainer(item)) {
        out += item.is_object() ? " {}\n" : " []\n";
      } else {
        out += " ";
        EmitScalar(item, out, indent + 2);
        out += "\n";
      }
    }
  } else {
    out += pad;
    EmitScalar(v, out, indent);
    out += "\n";
  }
}

void PrettyJson(const json::value& v, std::string& out, int indent) {
  std::string pad(static_cast<size_t>(indent), ' ');
  std::string inner(static_cast<size_t>(indent) + 2, ' ');
  if (v.is_object()) {
    const json::object& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t i = 0;
    for (const auto& kv : o) {
      out += inner + json::serialize(json::value(kv.key())) + ": ";
      PrettyJson(kv.value(), out, indent + 2);
      out += ++i < o.size() ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (v.is_array()) {
    const json::array& a = v.get_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += inner;
      PrettyJson(a[i], out, indent + 2);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += pad + "]";
  } else {
    out += json::serialize(v);
  }
}

std::string NameLine(const json::value& object, std::string_view prefix) {
  return std::string(prefix) + "/" + GetString(object, {"metadata", "name"}) + "\n";
}

}  // namespace

StatusOr<Format> ParseFormat(const std::string& text) {
  if (text.empty() || text == "table") return Format::kTable;
  if (text == "wide") return Format::kWide;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  if (text == "name") return Format::kName;
  return BadRequest("unknown output format \"" + text + "\"; use json, yaml, wide or name");
}

std::string RenderTable(const Table& table, bool wide) {
  std::vector<size_t> shown;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (wide || !table.columns[i].wide) shown.push_back(i);
  }
  std::vector<size_t> width(table.columns.size(), 0);
  auto cell = [&](const std::vector<std::string>& row, size_t i) -> std::string {
    if (i >= row.size() || row[i].empty()) return "<none>";
    return row[i];
  };
  for (size_t i : shown) {
    std::string h = table.columns[i].header;
    width[i] = h.size();
    for (const auto& row : table.rows) width[i] = std::max(width[i], cell(row, i).size());
  }
  auto line = [&](auto get) {
    std::string out;
    for (size_t k = 0; k < shown.size(); ++k) {
      size_t i = shown[k];
      std::string text = get(i);
      out += text;
      if (k + 1 < shown.size()) out += std::string(width[i] - text.size() + 3, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line([&](size_t i) {
    std::string h = table.columns[i].header;
    for (auto& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return h;
  });
  for (const auto& row : table.rows) out += line([&](size_t i) { return cell(row, i); });
  return out;
}

std::string ToPrettyJson(const json::value& v) {
  std::string out;
  PrettyJson(v, out, 0);
  return out + "\n";
}

std::string ToYaml(const json::value& v) {
  std::string out;
  if (IsEmptyContainer(v)) return v.is_object() ? "{}\n" : "[]\n";
  EmitNode(v, out, 0);
  return out;
}

std::string HumanBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else
    snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}

std::string AgeOf(const std::string& timestamp) {
  int64_t t = ParseTime(timestamp);
  if (t < 0) return "<unknown>";
  return HumanDuration(static_cast<int64_t>(std::time(nullptr)) - t);
}

std::string RenderList(const json::array& items, Format format, std::string_view name_prefix) {
  if (format == Format::kName) {
    std::string out;
    for (const auto& item : items) out += NameLine(item, name_prefix);
    return out;
  }
  json::value list = json::object{{"apiVersion", "v1"},
                                  {"kind", "List"},
                                  {"metadata", json::object{{"resourceVersion", ""}}},
                                  {"items", items}};
  return format == Format::kYaml ? ToYaml(list) : ToPrettyJson(list);
}

std::string RenderObject(const json::value& object, Format format, std::string_view name_prefix) {
  if (format == Format::kName) return NameLine(object, name_prefix);
  return format == Format::kYaml ? ToYaml(object) : ToPrettyJson(object);
}

}  // namespace kumo::cli
