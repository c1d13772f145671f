#include "store/selector.h"

#include <algorithm>

namespace kumo::store {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside parentheses.
StatusOr<std::vector<std::string_view>> SplitTerms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      std::string_view term = Trim(text.substr(start, i - start));
      if (term.empty()) {
        return BadRequest("unable to parse requirement: found empty term in selector \"" +
                          std::string(text) + "\"");
      }
      out.push_back(term);
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      if (--depth < 0) return BadRequest("unbalanced ')' in selector \"" + std::string(text) + "\"");
    }
  }
  if (depth != 0) return BadRequest("unbalanced '(' in selector \"" + std::string(text) + "\"");
  return out;
}

bool ValidKey(std::string_view k) {
  if (k.empty() || k.size() > 317) return false;
  for (char c : k) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/'))
      return false;
  }
  return true;
}

bool ValidValue(std::string_view v) {
  if (v.size() > 63) return false;
  for (char c : v) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

Status BadTerm(std::string_view term, const std::string& why) {
  return BadRequest("unable to parse requirement \"" + std::string(term) + "\": " + why);
}

StatusOr<Requirement> ParseLabelTerm(std::string_view term) {
  Requirement r;
  if (term.front() == '!') {
    r.key = std::string(Trim(term.substr(1)));
    r.op = Requirement::Op::kDoesNotExist;
    if (!ValidKey(r.key)) return BadTerm(term, "invalid label key");
    return r;
  }
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  size_t paren = term.find('(');
  if (paren != std::string_view::npos) {
    std::string_view head = Trim(term.substr(0, paren));
    if (term.back() != ')') return BadTerm(term, "expected ')' at the end");
    size_t sp = head.find_last_of(" \t");
    if (sp == std::string_view::npos) return BadTerm(term, "expected 'in' or 'notin'");
    std::string_view op = Trim(head.substr(sp + 1));
    r.key = std::string(Trim(head.substr(0, sp)));
    if (op == "in") r.op = Requirement::Op::kIn;
    else if (op == "notin") r.op = Requirement::Op::kNotIn;
    else return BadTerm(term, "expected 'in' or 'notin', found '" + std::string(op) + "'");
    std::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
    size_t start = 0;
    while (start <= inner.size()) {
      size_t comma = inner.find(',', start);
      std::string_view v = Trim(inner.substr(start, comma == std::string_view::npos ? comma : comma - start));
      if (!ValidValue(v)) return BadTerm(term, "invalid label value \"" + std::string(v) + "\"");
      r.values.emplace_back(v);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (!ValidKey(r.key)) return BadTerm(term, "invalid label key");
    return r;
  }
  size_t pos;
  if ((pos = term.find("!=")) != std::string_view::npos) {
    r.op = Requirement::Op::kNotEquals;
    r.key = std::string(Trim(term.substr(0, pos)));
    r.values.emplace_back(Trim(term.substr(pos + 2)));
  } else if ((pos = term.find("==")) != std::string_view::npos) {
    r.key = std::string(Trim(term.substr(0, pos)));
    r.values.emplace_back(Trim(term.substr(pos + 2)));
  } else if ((pos = term.find('=')) != std::string_view::npos) {
    r.key = std::string(Trim(term.substr(0, pos)));
    r.values.emplace_back(Trim(term.substr(pos + 1)));
  } else {
    r.op = Requirement::Op::kExists;
    r.key = std::string(term);
  }
  if (!ValidKey(r.key)) return BadTerm(term, "invalid label key \"" + r.key + "\"");
  for (const auto& v : r.values) {
    if (!ValidValue(v)) return BadTerm(term, "invalid label value \"" + v + "\"");
  }
  return r;
}

const std::string* Lookup(const Labels& labels, const std::string& key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  if (it != labels.end() && it->first == key) return &it->second;
  return nullptr;
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  text = Trim(text);
  if (text.empty()) return sel;
  KUMO_ASSIGN_OR_RETURN(auto terms, SplitTerms(text));
  for (auto term : terms) {
    KUMO_ASSIGN_OR_RETURN(Requirement r, ParseLabelTerm(term));
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const Labels& labels) const {
  for (const auto& r : reqs_) {
    const std::string* v = Lookup(labels, r.key);
    switch (r.op) {
      case Requirement::Op::kEquals:
        if (!v || *v != r.values[0]) return false;
        break;
      case Requirement::Op::kNotEquals:
        if (v && *v == r.values[0]) return false;
        break;
      case Requirement::Op::kIn:
        if (!v || std::find(r.values.begin(), r.values.end(), *v) == r.values.end()) return false;
        break;
      case Requirement::Op::kNotIn:
        if (v && std::find(r.values.begin(), r.values.end(), *v) != r.values.end()) return false;
        break;
      case Requirement::Op::kExists:
        if (!v) return false;
        break;
      case Requirement::Op::kDoesNotExist:
        if (v) return false;
        break;
    }
  }
  return true;
}

StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  text = Trim(text);
  if (text.empty()) return sel;
  KUMO_ASSIGN_OR_RETURN(auto terms, SplitTerms(text));
  for (auto term : terms) {
    Requirement r;
    size_t pos;
    if ((pos = term.find("!=")) != std::string_view::npos) {
      r.op = Requirement::Op::kNotEquals;
      r.key = std::string(Trim(term.substr(0, pos)));
      r.values.emplace_back(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find("==")) != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, pos)));
      r.values.emplace_back(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find('=')) != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, pos)));
      r.values.emplace_back(Trim(term.substr(pos + 1)));
    } else {
      return BadRequest("invalid field selector \"" + std::string(term) +
                        "\": expected field=value, field==value or field!=value");
    }
    if (r.key.empty()) return BadRequest("invalid field selector \"" + std::string(term) + "\": empty field");
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(
    const std::function<std::string(std::string_view field)>& value_of) const {
  for (const auto& r : reqs_) {
    std::string v = value_of(r.key);
    if (r.op == Requirement::Op::kEquals && v != r.values[0]) return false;
    if (r.op == Requirement::Op::kNotEquals && v == r.values[0]) return false;
  }
  return true;
}

const std::string* FieldSelector::ExactValue(std::string_view field) const {
  for (const auto& r : reqs_) {
    if (r.key == field && r.op == Requirement::Op::kEquals) return &r.values[0];
  }
  return nullptr;
}

}  // namespace kumo::store
