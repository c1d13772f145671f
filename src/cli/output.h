// How the user CLI prints: aligned tables (kubectl style), JSON, YAML and resource names, the
// -o values that choose between them, and human helpers (sizes, ages). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::cli {

enum class Format {
  kTable,  // default: aligned columns
  kWide,   // the table with extra columns
  kJson,
  kYaml,
  kName,  // kind/name, one per line
};

// "" or "table" → kTable; "wide", "json", "yaml", "name". BadRequest otherwise.
StatusOr<Format> ParseFormat(const std::string& text);

// A table under construction. Columns flagged `wide` only show with -o wide.
struct Table {
  struct Column {
    std::string header;
    bool wide = false;
  };
  std::vector<Column> columns;
  std::vector<std::vector<std::string>> rows;  // one cell per column

  void AddRow(std::vector<std::string> cells) { rows.push_back(std::move(cells)); }
};

// Renders `table` with upper-case headers and columns separated by three spaces, the last
// column unpadded. Wide-only columns are dropped unless `wide`. Empty cells print as "<none>".
std::string RenderTable(const Table& table, bool wide);

// Two-space indented JSON with a trailing newline.
std::string ToPrettyJson(const json::value& v);

// Block-style YAML (a document without the leading "---"). Strings that YAML would read as
// something else (numbers, booleans, null, dates, leading indicators) are quoted; multi-line
// strings become literal blocks (|, |-). Object key order is kept.
std::string ToYaml(const json::value& v);

// "1.2 GiB", "512 MiB", "300 B".
std::string HumanBytes(int64_t bytes);

// Age of an RFC 3339 timestamp relative to now ("5m", "2d"); "<unknown>" when unparsable.
std::string AgeOf(const std::string& timestamp);

// Prints a list in the machine formats: a v1 List for json/yaml, "prefix/name" lines for name.
// Not for tables.
std::string RenderList(const json::array& items, Format format, std::string_view name_prefix);

// Prints one object in json, yaml or name format.
std::string RenderObject(const json::value& object, Format format, std::string_view name_prefix);

}  // namespace kumo::cli
