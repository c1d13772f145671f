#include "api/quantity.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace kumo::api {

StatusOr<double> ParseQuantity(std::string_view text) {
  std::string s(text);
  auto bad = [&] {
    return BadRequest("quantities must match the regular expression "
                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got \"" + s + "\"");
  };
  if (s.empty()) return bad();
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t digits_start = i;
  bool dot = false;
  while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    if (s[i] == '.') dot = true;
    ++i;
  }
  if (i == digits_start || (i == digits_start + 1 && dot)) return bad();
  double number = std::strtod(s.substr(0, i).c_str(), nullptr);
  std::string suffix = s.substr(i);
  double mult = 1;
  if (suffix.empty()) {
  } else if (suffix == "Ki") mult = 1024.0;
  else if (suffix == "Mi") mult = std::pow(1024.0, 2);
  else if (suffix == "Gi") mult = std::pow(1024.0, 3);
  else if (suffix == "Ti") mult = std::pow(1024.0, 4);
  else if (suffix == "Pi") mult = std::pow(1024.0, 5);
  else if (suffix == "Ei") mult = std::pow(1024.0, 6);
  else if (suffix == "n") mult = 1e-9;
  else if (suffix == "u") mult = 1e-6;
  else if (suffix == "m") mult = 1e-3;
  else if (suffix == "k") mult = 1e3;
  else if (suffix == "M") mult = 1e6;
  else if (suffix == "G") mult = 1e9;
  else if (suffix == "T") mult = 1e12;
  else if (suffix == "P") mult = 1e15;
  else if (suffix == "E") mult = 1e18;
  else if (suffix[0] == 'e' || suffix[0] == 'E') {
    char* end = nullptr;
    long exp = std::strtol(suffix.c_str() + 1, &end, 10);
    if (!end || *end != '\0' || suffix.size() == 1) return bad();
    mult = std::pow(10.0, static_cast<double>(exp));
  } else {
    return bad();
  }
  double value = number * mult;
  // "1e999", "0e99999" (0 x inf is NaN) and 400 digits are no amount of anything.
  if (!std::isfinite(value)) {
    return BadRequest("the quantity \"" + s + "\" is out of range");
  }
  return value;
}

}  // namespace kumo::api
