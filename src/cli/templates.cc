#include "cli/templates.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/file_util.h"

namespace kumo::cli {

namespace {

namespace fs = std::filesystem;

constexpr char kTinyWebUserData[] = R"(#!/bin/sh
# tiny-web: a page on port 80 that names this VM (the tiny image runs busybox httpd on /www).
cat > /www/index.html <<EOF
<h1>Hello from $HOSTNAME</h1>
<p>Kumo tiny VM at $IP</p>
EOF
echo "tiny-web: serving http://$IP/"
)";

constexpr char kSmallLinuxUserData[] = R"(#cloud-config
# small-linux: a general-purpose Linux VM with the QEMU guest agent.
package_update: true
packages:
  - qemu-guest-agent
runcmd:
  - [systemctl, enable, --now, qemu-guest-agent]
)";

bool LooksLikePath(const std::string& s) {
  auto ends = [&](const char* suffix) {
    std::string suf = suffix;
    return s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
  };
  return s.find('/') != std::string::npos || ends(".yaml") || ends(".yml") || ends(".json");
}

}  // namespace

std::vector<VmTemplate> BuiltinTemplates() {
  std::vector<VmTemplate> out;
  out.push_back(VmTemplate{"tiny",
                           "built-in",
                           "The tiny busybox VM: boots in seconds, shell on the serial console",
                           "tiny",
                           "k1.tiny",
                           "",
                           "Always",
                           {}});
  out.push_back(VmTemplate{"tiny-web",
                           "built-in",
                           "The tiny VM serving a page that names it on port 80",
                           "tiny",
                           "k1.tiny",
                           kTinyWebUserData,
                           "Always",
                           {}});
  out.push_back(
      VmTemplate{"small-linux",
                 "built-in",
                 "A general-purpose Linux VM (import a cloud image named debian-12 first)",
                 "debian-12",
                 "u1.small",
                 kSmallLinuxUserData,
                 "Always",
                 {}});
  return out;
}

std::string UserTemplateDir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.kumo/templates";
}

StatusOr<VmTemplate> ParseTemplate(const std::string& text, const std::string& name,
                                   const std::string& source) {
  KUMO_ASSIGN_OR_RETURN(json::value doc, ParseJsonOrYaml(text));
  if (!doc.is_object()) return BadRequest("template " + source + " is not a YAML map");
  VmTemplate t;
  t.name = name;
  t.source = source;
  for (const auto& kv : doc.get_object()) {
    std::string key = kv.key();
    const json::value& v = kv.value();
    auto str = [&](std::string& into) -> Status {
      if (!v.is_string()) {
        return Status(Code::kInvalid, "template " + source + ": " + key + " must be a string");
      }
      into = std::string(v.get_string());
      return Status::Ok();
    };
    if (key == "name")
      KUMO_RETURN_IF_ERROR(str(t.name));
    else if (key == "description")
      KUMO_RETURN_IF_ERROR(str(t.description));
    else if (key == "image")
      KUMO_RETURN_IF_ERROR(str(t.image));
    else if (key == "flavor")
      KUMO_RETURN_IF_ERROR(str(t.flavor));
    else if (key == "userData")
      KUMO_RETURN_IF_ERROR(str(t.user_data));
    else if (key == "runStrategy")
      KUMO_RETURN_IF_ERROR(str(t.run_strategy));
    else if (key == "nodeSelector") {
      if (!v.is_object()) {
        return Status(Code::kInvalid, "template " + source + ": nodeSelector must be a map");
      }
      for (const auto& sel : v.get_object()) {
        if (!sel.value().is_string()) {
          return Status(Code::kInvalid, "template " + source + ": nodeSelector." +
                                            std::string(sel.key()) + " must be a string");
        }
        t.node_selector[sel.key()] = std::string(sel.value().get_string());
      }
    } else {
      return Status(Code::kInvalid,
                    "template " + source + ": unknown key \"" + key +
                        "\" (known: name, description, image, flavor, userData, runStrategy, "
                        "nodeSelector)");
    }
  }
  return t;
}

std::vector<VmTemplate> AllTemplates(std::vector<std::string>* problems) {
  std::vector<VmTemplate> out;
  std::set<std::string> names;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(UserTemplateDir(), ec)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml"))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto text = ReadFileToString(f.string());
    StatusOr<VmTemplate> t = text.ok() ? ParseTemplate(*text, f.stem().string(), f.string())
                                       : StatusOr<VmTemplate>(text.status());
    if (!t.ok()) {
      if (problems) problems->push_back(t.status().message());
      continue;
    }
    if (names.insert(t->name).second) out.push_back(std::move(*t));
  }
  for (auto& t : BuiltinTemplates()) {
    if (names.insert(t.name).second) out.push_back(std::move(t));
  }
  return out;
}

StatusOr<VmTemplate> FindTemplate(const std::string& name_or_path) {
  if (LooksLikePath(name_or_path)) {
    auto text = ReadFileToString(name_or_path);
    if (!text.ok()) {
      return Status(text.status().code(),
                    "cannot read template file " + name_or_path + ": " + text.status().message());
    }
    return ParseTemplate(*text, fs::path(name_or_path).stem().string(), name_or_path);
  }
  std::vector<VmTemplate> all = AllTemplates(nullptr);
  for (auto& t : all) {
    if (t.name == name_or_path) return t;
  }
  std::string known;
  for (const auto& t : all) known += (known.empty() ? "" : ", ") + t.name;
  return NotFound("template \"" + name_or_path + "\" not found (templates: " + known +
                  "; user templates live in " + UserTemplateDir() + ")");
}

json::value TemplateToJson(const VmTemplate& t, bool with_name) {
  json::object o;
  if (with_name) o["name"] = t.name;
  if (!t.description.empty()) o["description"] = t.description;
  if (!t.image.empty()) o["image"] = t.image;
  if (!t.flavor.empty()) o["flavor"] = t.flavor;
  if (!t.run_strategy.empty()) o["runStrategy"] = t.run_strategy;
  if (!t.node_selector.empty()) {
    json::object sel;
    for (const auto& [k, v] : t.node_selector) sel[k] = v;
    o["nodeSelector"] = std::move(sel);
  }
  if (!t.user_data.empty()) o["userData"] = t.user_data;
  return o;
}

}  // namespace kumo::cli
