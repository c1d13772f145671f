// VM templates: named shapes that pre-fill `kumo vm create` (image, flavor, user data, run
// strategy, node selector). Built-in ones ship with the binary; user templates are YAML files in
// ~/.kumo/templates/ (NAME.yaml) or any file given to --template. A template file:
//
//   description: A web server on the tiny image
//   image: tiny
//   flavor: k1.tiny
//   runStrategy: Always        # optional
//   nodeSelector: {disk: ssd}  # optional
//   userData: |
//     #!/bin/sh
//     echo hello > /www/index.html
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::cli {

struct VmTemplate {
  std::string name;
  std::string source;  // "built-in" or the file it came from
  std::string description;
  std::string image;
  std::string flavor;
  std::string user_data;
  std::string run_strategy;
  std::map<std::string, std::string> node_selector;
};

std::vector<VmTemplate> BuiltinTemplates();

// ~/.kumo/templates (HOME from the environment).
std::string UserTemplateDir();

// Parses a template file's text; `name` is used unless the file sets one. Invalid (naming the
// source and field) for unknown keys or wrong types.
StatusOr<VmTemplate> ParseTemplate(const std::string& text, const std::string& name,
                                   const std::string& source);

// User templates (sorted by name) followed by built-ins that they do not shadow. Files that do
// not parse are reported in `problems` and skipped.
std::vector<VmTemplate> AllTemplates(std::vector<std::string>* problems);

// `name_or_path`: a file path (contains '/' or ends in .yaml/.yml), else a user template, else a
// built-in. NotFound lists what exists.
StatusOr<VmTemplate> FindTemplate(const std::string& name_or_path);

// The template as a YAML/JSON document; without its name (`with_name` false) it is what a user
// saves as NAME.yaml, the file name giving the name.
json::value TemplateToJson(const VmTemplate& t, bool with_name = true);

}  // namespace kumo::cli
