// URL query strings: the API server's request parameters and the node agent's.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace kumo::http {

// Query parameters, percent-decoded ('+' as space). Repeated keys keep the first value.
using Query = std::map<std::string, std::string, std::less<>>;
Query ParseQuery(std::string_view raw);

}  // namespace kumo::http
