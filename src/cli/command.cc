#include "cli/command.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace kumo::cli {

void OnRun(CLI::App* cmd, Cli& cli, std::function<Status()> fn) {
  cmd->callback([cmd, &cli, fn = std::move(fn)] {
    cli.action = fn;
    cli.command_path = CommandPath(cmd);
  });
}

void Examples(CLI::App* cmd, const std::string& lines) { cmd->footer("Examples:\n" + lines); }

std::string CommandPath(const CLI::App* cmd) {
  std::string path;
  for (const CLI::App* a = cmd; a != nullptr; a = a->get_parent()) {
    std::string name = a->get_parent() ? a->get_name() : "kumo";
    path = path.empty() ? name : name + " " + path;
  }
  return path;
}

std::string VmPath(const std::string& ns, const std::string& name) {
  return client::ResourcePath("kubevirt.io", "v1", "virtualmachines", ns, name);
}
std::string VmiPath(const std::string& ns, const std::string& name) {
  return client::ResourcePath("kubevirt.io", "v1", "virtualmachineinstances", ns, name);
}
std::string ImagePath(const std::string& name) {
  return client::ResourcePath("kumo.io", "v1alpha1", "images", "", name);
}
std::string FlavorPath(const std::string& name) {
  return client::ResourcePath("instancetype.kubevirt.io", "v1beta1",
                              "virtualmachineclusterinstancetypes", "", name);
}
std::string ClaimPath(const std::string& ns, const std::string& name) {
  return client::ResourcePath("", "v1", "persistentvolumeclaims", ns, name);
}

std::string StorageClassPath(const std::string& name) {
  return client::ResourcePath("storage.k8s.io", "v1", "storageclasses", "", name);
}

std::string ReservationPath(const std::string& ns, const std::string& name) {
  return client::ResourcePath("kumo.io", "v1alpha1", "ipreservations", ns, name);
}
std::string NodePath(const std::string& name) {
  return client::ResourcePath("", "v1", "nodes", "", name);
}
std::string EventsPath(const std::string& ns) {
  return client::ResourcePath("", "v1", "events", ns);
}

json::array ItemsOf(const json::value& list) {
  const json::value* items = Find(list, {"items"});
  return items && items->is_array() ? items->get_array() : json::array();
}

void Print(const std::string& text) {
  if (!text.empty()) std::cout << text << std::flush;
}

std::string VmiIp(const json::value& vmi) {
  const json::value* ifs = Find(vmi, {"status", "interfaces"});
  if (ifs && ifs->is_array() && !ifs->get_array().empty()) {
    return GetString(ifs->get_array()[0], {"ipAddress"});
  }
  return "";
}

}  // namespace kumo::cli
