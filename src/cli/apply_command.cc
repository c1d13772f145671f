#include "cli/apply_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>

#include "common/file_util.h"

namespace kumo::cli {

namespace {

namespace fs = std::filesystem;

constexpr char kLastApplied[] = "kubectl.kubernetes.io/last-applied-configuration";

struct ApplyFlags {
  std::vector<std::string> files;
  bool dry_run = false;
};

struct ResourceRef {
  std::string plural;
  bool namespaced = false;
};

// Maps apiVersion + kind to the REST resource through the server's discovery documents.
// Not thread-safe; one per apply.
class Discovery {
 public:
  explicit Discovery(client::RestClient& client) : client_(client) {}

  StatusOr<ResourceRef> Find(const std::string& api_version, const std::string& kind) {
    auto it = lists_.find(api_version);
    if (it == lists_.end()) {
      std::string path = api_version.find('/') == std::string::npos ? "/api/" + api_version
                                                                    : "/apis/" + api_version;
      auto list = client_.Get(path);
      if (!list.ok() && list.status().code() != Code::kNotFound) return list.status();
      it = lists_.emplace(api_version, list.ok() ? *list : json::value(nullptr)).first;
    }
    const json::value* resources = kumo::Find(it->second, {"resources"});
    if (resources && resources->is_array()) {
      for (const auto& r : resources->get_array()) {
        std::string name = GetString(r, {"name"});
        if (GetString(r, {"kind"}) == kind && name.find('/') == std::string::npos) {
          const json::value* ns = kumo::Find(r, {"namespaced"});
          return ResourceRef{name, ns && ns->is_bool() && ns->get_bool()};
        }
      }
    }
    return NotFound("the server does not serve kind " + kind + " in " + api_version +
                    " (check apiVersion and kind)");
  }

 private:
  client::RestClient& client_;
  std::map<std::string, json::value> lists_;
};

// What the patch must set so that `current` matches `modified` (no deletions).
json::value Changes(const json::value& current, const json::value& modified) {
  json::object patch;
  for (const auto& kv : modified.get_object()) {
    const json::value* cur =
        current.is_object() ? current.get_object().if_contains(kv.key()) : nullptr;
    if (cur && *cur == kv.value()) continue;
    if (cur && cur->is_object() && kv.value().is_object()) {
      json::value sub = Changes(*cur, kv.value());
      if (!sub.get_object().empty()) patch[kv.key()] = std::move(sub);
    } else {
      patch[kv.key()] = kv.value();
    }
  }
  return patch;
}

// Nulls for what `original` had and `modified` dropped.
json::value Deletions(const json::value& original, const json::value& modified) {
  json::object patch;
  if (!original.is_object()) return patch;
  for (const auto& kv : original.get_object()) {
    const json::value* mod = modified.get_object().if_contains(kv.key());
    if (!mod) {
      patch[kv.key()] = nullptr;
    } else if (kv.value().is_object() && mod->is_object()) {
      json::value sub = Deletions(kv.value(), *mod);
      if (!sub.get_object().empty()) patch[kv.key()] = std::move(sub);
    }
  }
  return patch;
}

void MergeInto(json::object& into, const json::object& from) {
  for (const auto& kv : from) {
    json::value* cur = into.if_contains(kv.key());
    if (cur && cur->is_object() && kv.value().is_object()) {
      MergeInto(cur->get_object(), kv.value().get_object());
    } else {
      into[kv.key()] = kv.value();
    }
  }
}

// Object keys in sorted order, as Go's encoding/json writes maps.
json::value Sorted(const json::value& v) {
  if (v.is_object()) {
    std::vector<std::string> keys;
    for (const auto& kv : v.get_object()) keys.emplace_back(kv.key());
    std::sort(keys.begin(), keys.end());
    json::object out;
    for (const auto& k : keys) out[k] = Sorted(v.get_object().at(k));
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& item : v.get_array()) out.push_back(Sorted(item));
    return out;
  }
  return v;
}

// The last-applied annotation exactly as kubectl writes it (annotations present but without
// itself, keys sorted, HTML characters escaped, a trailing newline), so that kubectl sees no
// change after kumo applied the same file and the other way round.
std::string LastAppliedJson(json::value doc) {
  json::object& annotations = EnsureObject(doc, {"metadata", "annotations"});
  annotations.erase(kLastApplied);
  std::string raw = json::serialize(Sorted(doc));
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out.push_back(c);
  }
  return out + "\n";
}

std::string NameFor(const std::string& api_version, const std::string& kind,
                    const std::string& name) {
  std::string lower = kind;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t slash = api_version.find('/');
  return lower + (slash == std::string::npos ? "" : "." + api_version.substr(0, slash)) + "/" +
         name;
}

class Applier {
 public:
  Applier(Cli& cli, client::RestClient& client, bool dry_run)
      : cli_(cli), client_(client), discovery_(client), dry_run_(dry_run) {}

  // Applies one parsed document; `where` names it for errors.
  Status Apply(json::value doc, const std::string& where) {
    if (doc.is_null()) return Status::Ok();
    if (!doc.is_object()) return BadRequest(where + " is not a YAML map");
    if (GetString(doc, {"kind"}) == "List") {
      Status result = Status::Ok();
      int i = 0;
      for (auto& item : ItemsOf(doc)) {
        Status st = Apply(item, where + " item " + std::to_string(i++));
        if (!st.ok()) result = st;
      }
      return result;
    }
    std::string api_version = GetString(doc, {"apiVersion"});
    std::string kind = GetString(doc, {"kind"});
    std::string name = GetString(doc, {"metadata", "name"});
    if (api_version.empty() || kind.empty() || name.empty()) {
      return BadRequest(where + " needs apiVersion, kind and metadata.name");
    }
    KUMO_ASSIGN_OR_RETURN(ResourceRef ref, discovery_.Find(api_version, kind));
    std::string ns;
    if (ref.namespaced) {
      std::string doc_ns = GetString(doc, {"metadata", "namespace"});
      if (!doc_ns.empty() && cli_.session.NamespaceExplicit() &&
          doc_ns != cli_.session.Namespace()) {
        return UsageError(where + " is for tenant \"" + doc_ns + "\", not \"" +
                          cli_.session.Namespace() + "\" (-n)");
      }
      ns = doc_ns.empty() ? cli_.session.Namespace() : doc_ns;
      EnsureObject(doc, {"metadata"})["namespace"] = ns;
    }
    std::string group = api_version.find('/') == std::string::npos
                            ? ""
                            : api_version.substr(0, api_version.find('/'));
    std::string version = api_version.substr(api_version.find('/') + 1);
    std::string collection = client::ResourcePath(group, version, ref.plural, ns);
    std::string item = client::ResourcePath(group, version, ref.plural, ns, name);
    std::string label = NameFor(api_version, kind, name);
    std::string suffix = dry_run_ ? " (dry run)" : "";

    json::value modified = doc;
    EnsureObject(modified, {"metadata", "annotations"})[kLastApplied] = LastAppliedJson(doc);
    auto live = client_.Get(item);
    if (!live.ok() && live.status().code() != Code::kNotFound) return live.status();
    if (!live.ok()) {
      if (!dry_run_) {
        auto created = client_.Create(collection, modified);
        if (!created.ok())
          return Status(created.status().code(), label + ": " + created.status().message());
      }
      Print(label + " created" + suffix + "\n");
      return Status::Ok();
    }
    json::value original = nullptr;
    std::string last = GetString(*live, {"metadata", "annotations", kLastApplied});
    if (!last.empty()) {
      if (auto parsed = ParseJson(last); parsed.ok()) original = std::move(*parsed);
    }
    json::value patch = ThreeWayMergePatch(original, modified, *live);
    if (patch.get_object().empty()) {
      Print(label + " unchanged\n");
      return Status::Ok();
    }
    if (!dry_run_) {
      auto patched = client_.Patch(item, client::PatchType::kMerge, patch);
      if (!patched.ok())
        return Status(patched.status().code(), label + ": " + patched.status().message());
    }
    Print(label + " configured" + suffix + "\n");
    return Status::Ok();
  }

 private:
  Cli& cli_;
  client::RestClient& client_;
  Discovery discovery_;
  bool dry_run_;
};

StatusOr<std::vector<std::pair<std::string, std::string>>> ReadInputs(
    const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, std::string>> out;  // (name, text)
  for (const auto& f : files) {
    if (f == "-") {
      std::string text((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
      out.emplace_back("stdin", std::move(text));
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(f, ec)) {
      std::vector<fs::path> paths;
      for (const auto& e : fs::directory_iterator(f, ec)) {
        std::string ext = e.path().extension().string();
        if (ext == ".yaml" || ext == ".yml" || ext == ".json") paths.push_back(e.path());
      }
      std::sort(paths.begin(), paths.end());
      for (const auto& p : paths) {
        KUMO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(p.string()));
        out.emplace_back(p.string(), std::move(text));
      }
      continue;
    }
    auto text = ReadFileToString(f);
    if (!text.ok()) return UsageError("cannot read " + f + ": " + text.status().message());
    out.emplace_back(f, std::move(*text));
  }
  return out;
}

Status RunApply(Cli& cli, const ApplyFlags& f) {
  KUMO_ASSIGN_OR_RETURN(auto inputs, ReadInputs(f.files));
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  Applier applier(cli, *client, f.dry_run);
  Status result = Status::Ok();
  for (const auto& [file, text] : inputs) {
    std::vector<std::string> docs = SplitYamlDocuments(text);
    for (size_t i = 0; i < docs.size(); ++i) {
      std::string where =
          docs.size() > 1 ? file + " (document " + std::to_string(i + 1) + ")" : file;
      auto parsed = ParseJsonOrYaml(docs[i]);
      Status st = parsed.ok() ? applier.Apply(std::move(*parsed), where)
                              : Status(Code::kBadRequest, where + ": " + parsed.status().message());
      if (!st.ok()) {
        if (IsUsageError(st)) return st;
        ReportError(st);
        result = AlreadyReported(st.code());
      }
    }
  }
  return result;
}

}  // namespace

std::vector<std::string> SplitYamlDocuments(const std::string& text) {
  std::vector<std::string> docs;
  std::string cur;
  size_t start = 0;
  auto flush = [&] {
    bool blank = true;
    size_t pos = 0;
    while (pos < cur.size()) {
      size_t nl = cur.find('\n', pos);
      std::string line = cur.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      size_t first = line.find_first_not_of(" \t\r");
      if (first != std::string::npos && line[first] != '#') blank = false;
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    if (!blank) docs.push_back(cur);
    cur.clear();
  };
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::string trimmed = line;
    while (!trimmed.empty() &&
           (trimmed.back() == ' ' || trimmed.back() == '\r' || trimmed.back() == '\t')) {
      trimmed.pop_back();
    }
    if (trimmed == "---" || trimmed == "...") {
      flush();
    } else {
      cur += line + "\n";
    }
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  flush();
  return docs;
}

json::value ThreeWayMergePatch(const json::value& original, const json::value& modified,
                               const json::value& current) {
  json::value patch = Deletions(original, modified);
  MergeInto(patch.get_object(), Changes(current, modified).get_object());
  return patch;
}

void AddApplyCommand(CLI::App& app, Cli& cli) {
  auto f = std::make_shared<ApplyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "apply",
      "Create or update objects from manifests (YAML or JSON; several documents per file; a\n"
      "directory; - for stdin). Works with kubectl's last-applied annotation.");
  cmd->add_option("-f,--filename", f->files, "File, directory or - (repeatable)")->required();
  cmd->add_flag("--dry-run", f->dry_run, "Say what would change without changing it");
  Examples(cmd,
           "  kumo apply -f web.yaml\n"
           "  kumo vm create web1 --image tiny --dry-run | kumo apply -f -\n"
           "  kumo apply -f manifests/");
  OnRun(cmd, cli, [&cli, f] { return RunApply(cli, *f); });
}

}  // namespace kumo::cli
