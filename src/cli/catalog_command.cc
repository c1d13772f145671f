#include "cli/catalog_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "cli/templates.h"

namespace kumo::cli {

namespace {

std::string Describe(const std::vector<std::pair<std::string, std::string>>& lines) {
  size_t w = 0;
  for (const auto& [k, v] : lines) w = std::max(w, k.size() + 2);
  std::string out;
  for (const auto& [k, v] : lines) {
    std::string label = k + ":";
    label.resize(w, ' ');
    out += label + (v.empty() ? "<none>" : v) + "\n";
  }
  return out;
}

std::string CpuOf(const json::value& flavor) {
  const json::value* cpu = Find(flavor, {"spec", "cpu", "guest"});
  return cpu ? json::serialize(*cpu) : "";
}

std::string FlavorDescription(const json::value& flavor) {
  return GetString(flavor, {"metadata", "annotations", "instancetype.kubevirt.io/description"});
}

// --- flavors ------------------------------------------------------------------------------

Status FlavorList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(FlavorPath()));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "virtualmachineclusterinstancetype.instancetype.kubevirt.io"));
    return Status::Ok();
  }
  Table t;
  for (const char* h : {"Name", "vCPUs", "Memory", "Description"}) t.columns.push_back({h});
  t.columns.push_back({"Age", true});
  for (const auto& f : items) {
    t.AddRow({GetString(f, {"metadata", "name"}), CpuOf(f),
              GetString(f, {"spec", "memory", "guest"}), FlavorDescription(f),
              AgeOf(GetString(f, {"metadata", "creationTimestamp"}))});
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

Status FlavorShow(Cli& cli, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto f = client->Get(FlavorPath(name));
  if (!f.ok()) return WithHint(Explain(f.status(), "flavor", name), "see 'kumo flavor list'");
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderObject(*f, format, "virtualmachineclusterinstancetype.instancetype.kubevirt.io"));
    return Status::Ok();
  }
  Print(Describe({{"Name", name},
                  {"vCPUs", CpuOf(*f)},
                  {"Memory", GetString(*f, {"spec", "memory", "guest"})},
                  {"Description", FlavorDescription(*f)},
                  {"Kind", "VirtualMachineClusterInstancetype (instancetype.kubevirt.io/v1beta1)"},
                  {"Use", "kumo vm create NAME --image IMG --flavor " + name}}));
  return Status::Ok();
}

// --- nodes --------------------------------------------------------------------------------

std::string NodeStatus(const json::value& node) {
  std::string ready;
  const json::value* conds = Find(node, {"status", "conditions"});
  if (conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (GetString(c, {"type"}) == "Ready") ready = GetString(c, {"status"});
    }
  }
  std::string s = ready == "True" ? "Ready" : ready.empty() ? "Unknown" : "NotReady";
  const json::value* u = Find(node, {"spec", "unschedulable"});
  if (u && u->is_bool() && u->get_bool()) s += ",SchedulingDisabled";
  return s;
}

// VMIs per node, across tenants (empty when the caller may not list them).
std::map<std::string, std::vector<std::string>> VmsByNode(client::RestClient& client) {
  std::map<std::string, std::vector<std::string>> out;
  if (auto list = client.List(VmiPath("")); list.ok()) {
    for (const auto& v : ItemsOf(*list)) {
      out[GetString(v, {"status", "nodeName"})].push_back(GetString(v, {"metadata", "namespace"}) +
                                                          "/" + GetString(v, {"metadata", "name"}));
    }
  }
  return out;
}

Status NodeList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(NodePath()));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "node"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No nodes yet. Start one with 'kumo agent --kubeconfig FILE' (or 'kumo up').\n";
    return Status::Ok();
  }
  auto vms = VmsByNode(*client);
  Table t;
  for (const char* h : {"Name", "Status", "VMs", "CPUs", "Memory", "Accel", "Age"})
    t.columns.push_back({h});
  t.columns.push_back({"Version", true});
  t.columns.push_back({"Kernel", true});
  for (const auto& n : items) {
    std::string name = GetString(n, {"metadata", "name"});
    std::string kvm = GetString(n, {"metadata", "labels", "kumo.io/kvm"});
    t.AddRow({name, NodeStatus(n), std::to_string(vms[name].size()),
              GetString(n, {"status", "allocatable", "cpu"}),
              GetString(n, {"status", "allocatable", "memory"}),
              kvm == "true"    ? "kvm"
              : kvm == "false" ? "tcg"
                               : "",
              AgeOf(GetString(n, {"metadata", "creationTimestamp"})),
              GetString(n, {"status", "nodeInfo", "kubeletVersion"}),
              GetString(n, {"status", "nodeInfo", "kernelVersion"})});
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

Status NodeShow(Cli& cli, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto n = client->Get(NodePath(name));
  if (!n.ok()) return WithHint(Explain(n.status(), "node", name), "see 'kumo node list'");
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderObject(*n, format, "node"));
    return Status::Ok();
  }
  std::string labels;
  if (const json::value* l = Find(*n, {"metadata", "labels"}); l && l->is_object()) {
    for (const auto& kv : l->get_object()) {
      labels += (labels.empty() ? "" : ",") + std::string(kv.key()) + "=" +
                (kv.value().is_string() ? std::string(kv.value().get_string())
                                        : json::serialize(kv.value()));
    }
  }
  std::string heartbeat;
  if (const json::value* conds = Find(*n, {"status", "conditions"}); conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (GetString(c, {"type"}) == "Ready") {
        std::string t = GetString(c, {"lastHeartbeatTime"});
        heartbeat =
            t.empty() ? GetString(c, {"message"}) : AgeOf(t) + " ago: " + GetString(c, {"message"});
      }
    }
  }
  auto vms = VmsByNode(*client)[name];
  std::string vm_list;
  for (const auto& v : vms) vm_list += (vm_list.empty() ? "" : ", ") + v;
  Print(
      Describe({{"Name", name},
                {"Status", NodeStatus(*n)},
                {"Last heartbeat", heartbeat},
                {"CPUs", GetString(*n, {"status", "allocatable", "cpu"}) + " allocatable of " +
                             GetString(*n, {"status", "capacity", "cpu"})},
                {"Memory", GetString(*n, {"status", "allocatable", "memory"}) + " allocatable of " +
                               GetString(*n, {"status", "capacity", "memory"})},
                {"Kernel", GetString(*n, {"status", "nodeInfo", "kernelVersion"})},
                {"Agent", GetString(*n, {"status", "nodeInfo", "kubeletVersion"})},
                {"Labels", labels},
                {"VMs (" + std::to_string(vms.size()) + ")", vm_list}}));
  return Status::Ok();
}

// --- templates ----------------------------------------------------------------------------

Status TemplateList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  std::vector<std::string> problems;
  std::vector<VmTemplate> all = AllTemplates(&problems);
  for (const auto& p : problems) std::cerr << "Warning: skipping " << p << "\n";
  if (format != Format::kTable && format != Format::kWide) {
    json::array items;
    for (const auto& t : all) items.push_back(TemplateToJson(t));
    if (format == Format::kName) {
      for (const auto& t : all) Print("template/" + t.name + "\n");
    } else {
      Print(format == Format::kYaml ? ToYaml(items) : ToPrettyJson(items));
    }
    return Status::Ok();
  }
  Table t;
  for (const char* h : {"Name", "Image", "Flavor", "Description"}) t.columns.push_back({h});
  t.columns.push_back({"Source", true});
  for (const auto& tm : all) t.AddRow({tm.name, tm.image, tm.flavor, tm.description, tm.source});
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

Status TemplateShow(Cli& cli, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(VmTemplate t, FindTemplate(name));
  json::value doc = TemplateToJson(t, format == Format::kJson);
  if (format == Format::kJson) {
    Print(ToPrettyJson(doc));
  } else if (format == Format::kName) {
    Print("template/" + t.name + "\n");
  } else {
    Print("# " + t.source + " template; save as " + UserTemplateDir() +
          "/NAME.yaml to make your own\n" + ToYaml(doc));
  }
  return Status::Ok();
}

}  // namespace

void AddFlavorCommands(CLI::App& app, Cli& cli) {
  CLI::App* flavor = app.add_subcommand("flavor", "VM sizes (KubeVirt cluster instancetypes)");
  flavor->require_subcommand(1);
  Examples(flavor, "  kumo flavor list\n  kumo flavor show u1.small");
  CLI::App* list = flavor->add_subcommand("list", "List flavors: vCPUs and memory");
  list->alias("ls");
  Examples(list, "  kumo flavor list\n  kumo flavor list -o yaml");
  OnRun(list, cli, [&cli] { return FlavorList(cli); });
  auto name = std::make_shared<std::string>();
  CLI::App* show = flavor->add_subcommand("show", "Show one flavor");
  show->add_option("name", *name, "Flavor name")->required();
  Examples(show, "  kumo flavor show k1.tiny");
  OnRun(show, cli, [&cli, name] { return FlavorShow(cli, *name); });
}

void AddNodeCommands(CLI::App& app, Cli& cli) {
  CLI::App* node = app.add_subcommand("node", "Hypervisor nodes");
  node->require_subcommand(1);
  Examples(node, "  kumo node list\n  kumo node show node1");
  CLI::App* list =
      node->add_subcommand("list", "List nodes with their state, VM count and capacity");
  list->alias("ls");
  Examples(list, "  kumo node list\n  kumo node list -o wide");
  OnRun(list, cli, [&cli] { return NodeList(cli); });
  auto name = std::make_shared<std::string>();
  CLI::App* show =
      node->add_subcommand("show", "Show a node: capacity, heartbeat, labels and its VMs");
  show->add_option("name", *name, "Node name")->required();
  Examples(show, "  kumo node show node1");
  OnRun(show, cli, [&cli, name] { return NodeShow(cli, *name); });
}

void AddTemplateCommands(CLI::App& app, Cli& cli) {
  CLI::App* tmpl = app.add_subcommand(
      "template", "VM templates: built-in shapes and your own YAML files in ~/.kumo/templates");
  tmpl->require_subcommand(1);
  Examples(tmpl,
           "  kumo template list\n"
           "  kumo template show tiny-web > ~/.kumo/templates/my-web.yaml   # then edit it\n"
           "  kumo vm create web1 --template my-web --wait");
  CLI::App* list =
      tmpl->add_subcommand("list", "List templates (yours first, then the built-in ones)");
  list->alias("ls");
  Examples(list, "  kumo template list");
  OnRun(list, cli, [&cli] { return TemplateList(cli); });
  auto name = std::make_shared<std::string>();
  CLI::App* show =
      tmpl->add_subcommand("show", "Print a template as YAML (a starting point for your own)");
  show->add_option("name", *name, "Template name or file")->required();
  Examples(show, "  kumo template show tiny-web");
  OnRun(show, cli, [&cli, name] { return TemplateShow(cli, *name); });
}

}  // namespace kumo::cli
