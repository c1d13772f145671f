#include "server/patch.h"

#include <algorithm>
#include <string>

namespace kumo::server {

StatusOr<PatchType> PatchTypeOf(std::string_view content_type) {
  std::string_view ct = content_type.substr(0, content_type.find(';'));
  if (ct == "application/merge-patch+json") return PatchType::kMerge;
  if (ct == "application/json-patch+json") return PatchType::kJson;
  if (ct == "application/strategic-merge-patch+json") return PatchType::kStrategic;
  if (ct == "application/apply-patch+yaml") return PatchType::kApply;
  return Status(Code::kUnsupportedMediaType,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/strategic-merge-patch+json, application/apply-patch+yaml");
}

namespace {

void MergePatch(json::value& target, const json::value& patch, bool strategic) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  json::object& t = target.get_object();
  const json::object& p = patch.get_object();
  if (strategic) {
    auto directive = p.find("$patch");
    if (directive != p.end() && directive->value() == "replace") {
      json::object replacement;
      for (const auto& kv : p) {
        if (kv.key() != "$patch") replacement[kv.key()] = kv.value();
      }
      target = std::move(replacement);
      return;
    }
    if (directive != p.end() && directive->value() == "delete") {
      target = json::object();
      return;
    }
  }
  for (const auto& kv : p) {
    std::string_view key = kv.key();
    if (strategic && (key == "$patch" || key == "$retainKeys" ||
                      key.starts_with("$setElementOrder/") ||
                      key.starts_with("$deleteFromPrimitiveList/"))) {
      continue;
    }
    if (kv.value().is_null()) {
      t.erase(key);
    } else if (kv.value().is_object()) {
      MergePatch(t[key], kv.value(), strategic);
    } else {
      t[key] = kv.value();
    }
  }
}

// Resolves an RFC 6901 pointer to its parent container and the last token.
StatusOr<std::pair<json::value*, std::string>> ResolveParent(json::value& root,
                                                             std::string_view pointer) {
  if (pointer.empty()) return BadRequest("the JSON patch path must not be empty here");
  if (pointer[0] != '/') return BadRequest("invalid JSON pointer \"" + std::string(pointer) + "\"");
  std::vector<std::string> tokens;
  size_t i = 1;
  while (true) {
    size_t j = pointer.find('/', i);
    std::string tok(pointer.substr(i, j == std::string_view::npos ? j : j - i));
    std::string unescaped;
    for (size_t k = 0; k < tok.size(); ++k) {
      if (tok[k] == '~' && k + 1 < tok.size() && tok[k + 1] == '1') { unescaped += '/'; ++k; }
      else if (tok[k] == '~' && k + 1 < tok.size() && tok[k + 1] == '0') { unescaped += '~'; ++k; }
      else unescaped += tok[k];
    }
    tokens.push_back(unescaped);
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  json::value* cur = &root;
  for (size_t k = 0; k + 1 < tokens.size(); ++k) {
    const std::string& t = tokens[k];
    if (cur->is_object()) {
      auto it = cur->get_object().find(t);
      if (it == cur->get_object().end()) {
        return Status(Code::kInvalid, "the JSON patch path \"" + std::string(pointer) +
                                          "\" does not exist in the object");
      }
      cur = &it->value();
    } else if (cur->is_array()) {
      char* end = nullptr;
      size_t idx = std::strtoul(t.c_str(), &end, 10);
      if (t.empty() || *end || idx >= cur->get_array().size()) {
        return Status(Code::kInvalid, "the JSON patch path \"" + std::string(pointer) +
                                          "\" has an invalid array index");
      }
      cur = &cur->get_array()[idx];
    } else {
      return Status(Code::kInvalid,
                    "the JSON patch path \"" + std::string(pointer) + "\" does not exist");
    }
  }
  return std::make_pair(cur, tokens.back());
}

// The value at `pointer`, in place (no copy: a "test" of the whole object costs no memory).
StatusOr<json::value*> Locate(json::value& root, std::string_view pointer) {
  if (pointer.empty()) return &root;
  KUMO_ASSIGN_OR_RETURN(auto parent, ResolveParent(root, pointer));
  auto [container, token] = parent;
  if (container->is_object()) {
    auto it = container->get_object().find(token);
    if (it != container->get_object().end()) return &it->value();
  } else if (container->is_array()) {
    char* end = nullptr;
    size_t idx = std::strtoul(token.c_str(), &end, 10);
    if (!token.empty() && !*end && idx < container->get_array().size()) {
      return &container->get_array()[idx];
    }
  }
  return Status(Code::kInvalid, "the JSON patch path \"" + std::string(pointer) + "\" does not exist");
}

Status Remove(json::value& root, std::string_view pointer) {
  KUMO_ASSIGN_OR_RETURN(auto parent, ResolveParent(root, pointer));
  auto [container, token] = parent;
  if (container->is_object()) {
    if (container->get_object().erase(token) == 0) {
      return Status(Code::kInvalid, "cannot remove \"" + std::string(pointer) + "\": it does not exist");
    }
    return Status::Ok();
  }
  if (container->is_array()) {
    char* end = nullptr;
    size_t idx = std::strtoul(token.c_str(), &end, 10);
    auto& arr = container->get_array();
    if (token.empty() || *end || idx >= arr.size()) {
      return Status(Code::kInvalid, "cannot remove \"" + std::string(pointer) + "\": bad index");
    }
    arr.erase(arr.begin() + static_cast<long>(idx));
    return Status::Ok();
  }
  return Status(Code::kInvalid, "cannot remove \"" + std::string(pointer) + "\"");
}

Status Add(json::value& root, std::string_view pointer, json::value value, bool replace) {
  if (pointer.empty()) {
    root = std::move(value);
    return Status::Ok();
  }
  KUMO_ASSIGN_OR_RETURN(auto parent, ResolveParent(root, pointer));
  auto [container, token] = parent;
  if (container->is_object()) {
    auto& o = container->get_object();
    if (replace && o.find(token) == o.end()) {
      return Status(Code::kInvalid, "cannot replace \"" + std::string(pointer) + "\": it does not exist");
    }
    o[token] = std::move(value);
    return Status::Ok();
  }
  if (container->is_array()) {
    auto& arr = container->get_array();
    if (token == "-" && !replace) {
      arr.push_back(std::move(value));
      return Status::Ok();
    }
    char* end = nullptr;
    size_t idx = std::strtoul(token.c_str(), &end, 10);
    if (token.empty() || *end || idx > arr.size() || (replace && idx == arr.size())) {
      return Status(Code::kInvalid, "the JSON patch path \"" + std::string(pointer) + "\" has an invalid array index");
    }
    if (replace) arr[idx] = std::move(value);
    else arr.insert(arr.begin() + static_cast<long>(idx), std::move(value));
    return Status::Ok();
  }
  return Status(Code::kInvalid, "the JSON patch path \"" + std::string(pointer) + "\" does not exist");
}

// The objects and arrays around the value at `pointer` ("" is the root: none).
int ContainersAround(std::string_view pointer) {
  return static_cast<int>(std::count(pointer.begin(), pointer.end(), '/'));
}

// Bounds what a JSON patch can build: copies of the whole object double it per operation, so
// 40 operations would ask for 2^40 times its size, and nested copies nest without limit.
class PatchBudget {
 public:
  // Charges `v` about to be added at `pointer`: RequestEntityTooLarge once the values added
  // and copied exceed kMaxExpansionBytes, Invalid when `v` would nest deeper than
  // kMaxJsonDepth there. Costs at most what it still allows.
  Status Charge(const json::value& v, std::string_view pointer) {
    size_t size = BoundedSerializedSize(v, bytes_left_);
    if (size > bytes_left_) {
      return Status(Code::kRequestEntityTooLarge,
                    "the JSON patch adds and copies more than " +
                        std::to_string(kMaxExpansionBytes) +
                        " bytes of values; send the object itself (PUT) or a smaller patch");
    }
    bytes_left_ -= size;
    int around = ContainersAround(pointer);
    int room = kMaxJsonDepth - around;
    if (room < 0 || BoundedDepth(v, room) > room) {
      std::string msg = "the JSON patch would nest objects and arrays more than " +
                        std::to_string(kMaxJsonDepth) + " levels deep";
      return Invalid(std::string(pointer) + ": Invalid value: " + msg,
                     {{"FieldValueInvalid", msg, std::string(pointer)}});
    }
    return Status::Ok();
  }

 private:
  size_t bytes_left_ = kMaxExpansionBytes;
};

Status JsonPatch(json::value& target, const json::value& patch) {
  if (!patch.is_array()) return BadRequest("a JSON patch must be an array of operations");
  if (patch.get_array().size() > kMaxJsonPatchOperations) {
    return Status(Code::kRequestEntityTooLarge,
                  "the allowed maximum operations in a JSON patch is " +
                      std::to_string(kMaxJsonPatchOperations) + ", got " +
                      std::to_string(patch.get_array().size()));
  }
  PatchBudget budget;
  for (const auto& opv : patch.get_array()) {
    std::string op = GetString(opv, {"op"});
    std::string path = GetString(opv, {"path"});
    const json::value* value = Find(opv, {"value"});
    if (!Find(opv, {"path"})) return BadRequest("JSON patch operation \"" + op + "\" has no path");
    if (op == "add" || op == "replace") {
      if (!value) return BadRequest("JSON patch operation \"" + op + "\" has no value");
      KUMO_RETURN_IF_ERROR(budget.Charge(*value, path));
      KUMO_RETURN_IF_ERROR(Add(target, path, *value, op == "replace"));
    } else if (op == "remove") {
      KUMO_RETURN_IF_ERROR(Remove(target, path));
    } else if (op == "copy") {
      std::string from = GetString(opv, {"from"});
      KUMO_ASSIGN_OR_RETURN(json::value * v, Locate(target, from));
      KUMO_RETURN_IF_ERROR(budget.Charge(*v, path));
      KUMO_RETURN_IF_ERROR(Add(target, path, *v, false));
    } else if (op == "move") {
      std::string from = GetString(opv, {"from"});
      if (path.starts_with(from) && path.size() > from.size() && path[from.size()] == '/') {
        return Status(Code::kInvalid, "cannot move \"" + from + "\" into itself (\"" + path + "\")");
      }
      KUMO_ASSIGN_OR_RETURN(json::value * v, Locate(target, from));
      // A move adds nothing, but it may still put the value deeper.
      if (int room = kMaxJsonDepth - ContainersAround(path); room < 0 || BoundedDepth(*v, room) > room) {
        std::string msg = "the JSON patch would nest objects and arrays more than " +
                          std::to_string(kMaxJsonDepth) + " levels deep";
        return Invalid(path + ": Invalid value: " + msg, {{"FieldValueInvalid", msg, path}});
      }
      json::value moved = std::move(*v);
      KUMO_RETURN_IF_ERROR(Remove(target, from));
      KUMO_RETURN_IF_ERROR(Add(target, path, std::move(moved), false));
    } else if (op == "test") {
      if (!value) return BadRequest("JSON patch operation \"test\" has no value");
      KUMO_ASSIGN_OR_RETURN(json::value * v, Locate(target, path));
      if (*v != *value) {
        return Status(Code::kInvalid, "JSON patch test failed: the value at \"" + path +
                                          "\" is not " + json::serialize(*value));
      }
    } else {
      return BadRequest("unknown JSON patch operation \"" + op + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyPatch(PatchType type, std::string_view patch, json::value& target) {
  KUMO_ASSIGN_OR_RETURN(json::value p, type == PatchType::kApply ? ParseJsonOrYaml(patch)
                                                                  : ParseJson(patch));
  json::value work = target;
  switch (type) {
    case PatchType::kMerge:
    case PatchType::kApply:
      MergePatch(work, p, false);
      break;
    case PatchType::kStrategic:
      MergePatch(work, p, true);
      break;
    case PatchType::kJson:
      KUMO_RETURN_IF_ERROR(JsonPatch(work, p));
      break;
  }
  if (!work.is_object()) return BadRequest("the patch does not leave an object");
  KUMO_RETURN_IF_ERROR(CheckObjectBounds(work, kMaxObjectBytes, kMaxJsonDepth));
  target = std::move(work);
  return Status::Ok();
}

}  // namespace kumo::server
