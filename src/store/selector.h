// Label and field selectors with Kubernetes syntax:
//   labels: "a=b,c!=d,e in (x,y),f notin (z),g,!h"      fields: "metadata.name=x,status.phase!=Running"
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kumo::store {

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by key

struct Requirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;
};

// Immutable after Parse; safe to share across threads.
class LabelSelector {
 public:
  // An empty string selects everything. BadRequest with a message naming the problem.
  static StatusOr<LabelSelector> Parse(std::string_view text);
  bool empty() const { return reqs_.empty(); }
  bool Matches(const Labels& labels) const;
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

// Only =, == and != as Kubernetes allows for fields.
class FieldSelector {
 public:
  static StatusOr<FieldSelector> Parse(std::string_view text);
  bool empty() const { return reqs_.empty(); }
  // `value_of` returns the object's value for a field label.
  bool Matches(const std::function<std::string(std::string_view field)>& value_of) const;
  const std::vector<Requirement>& requirements() const { return reqs_; }
  // The value required by an equality on `field`, if any (for cheap key lookups).
  const std::string* ExactValue(std::string_view field) const;

 private:
  std::vector<Requirement> reqs_;
};

}  // namespace kumo::store
