#include "cli/vm_command.h"

#include "api/kubevirt.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cli/vm_manifest.h"
#include "cli/vm_wait.h"

namespace kumo::cli {

namespace {

std::string Key(const json::value& o) {
  return GetString(o, {"metadata", "namespace"}) + "/" + GetString(o, {"metadata", "name"});
}

// The image a VM boots: its first containerDisk.
std::string ImageOf(const json::value& vm) {
  const json::value* vols = Find(vm, {"spec", "template", "spec", "volumes"});
  if (vols && vols->is_array()) {
    for (const auto& v : vols->get_array()) {
      std::string img = GetString(v, {"containerDisk", "image"});
      if (!img.empty()) return img;
    }
  }
  if (const json::value* ts = Find(vm, {"spec", "dataVolumeTemplates"}); ts && ts->is_array()) {
    for (const auto& t : ts->get_array()) {
      std::string url = GetString(t, {"spec", "source", "registry", "url"});
      if (!url.empty()) return api::ImageNameOf(url);
    }
  }
  return "";
}

std::string FixedIpOf(const json::value& vm) {
  const json::value* a = Find(vm, {"spec", "template", "metadata", "annotations"});
  if (!a) return "";
  std::string res = GetString(*a, {kIpReservationAnnotation});
  if (!res.empty()) return "reservation " + res;
  std::string addrs = GetString(*a, {kCalicoIpAddrsAnnotation});
  if (auto parsed = ParseJson(addrs); parsed.ok() && parsed->is_array() &&
                                      !parsed->get_array().empty() &&
                                      parsed->get_array()[0].is_string()) {
    return std::string(parsed->get_array()[0].get_string());
  }
  return addrs;
}

std::string ReadyOf(const json::value& vm) {
  const json::value* conds = Find(vm, {"status", "conditions"});
  if (conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (GetString(c, {"type"}) == "Ready") return GetString(c, {"status"});
    }
  }
  return "False";
}

std::string StrategyOf(const json::value& vm) {
  std::string rs = GetString(vm, {"spec", "runStrategy"});
  if (!rs.empty()) return rs;
  const json::value* running = Find(vm, {"spec", "running"});
  return running && running->is_bool() ? (running->get_bool() ? "Always" : "Halted") : "";
}

Status RunList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.flags.all_tenants ? "" : cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value vms, client->List(VmPath(ns)));
  json::array items = ItemsOf(vms);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "virtualmachine.kubevirt.io"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No VMs in " << (ns.empty() ? "any tenant" : "tenant \"" + ns + "\"")
              << ". Create one with 'kumo vm create NAME --image tiny --wait'.\n";
    return Status::Ok();
  }
  std::map<std::string, json::value> vmis;
  if (auto list = client->List(VmiPath(ns)); list.ok()) {
    for (auto& v : ItemsOf(*list)) vmis[Key(v)] = v;
  }
  Table t;
  if (ns.empty()) t.columns.push_back({"Tenant"});
  for (const char* h : {"Name", "Status", "IP", "Node", "Flavor", "Image", "Age"})
    t.columns.push_back({h});
  t.columns.push_back({"Run-Strategy", true});
  t.columns.push_back({"Ready", true});
  t.columns.push_back({"Fixed-IP", true});
  for (const auto& vm : items) {
    std::vector<std::string> row;
    if (ns.empty()) row.push_back(GetString(vm, {"metadata", "namespace"}));
    auto it = vmis.find(Key(vm));
    const json::value* vmi = it == vmis.end() ? nullptr : &it->second;
    row.push_back(GetString(vm, {"metadata", "name"}));
    row.push_back(GetString(vm, {"status", "printableStatus"}, "Unknown"));
    row.push_back(vmi ? VmiIp(*vmi) : "");
    row.push_back(vmi ? GetString(*vmi, {"status", "nodeName"}) : "");
    row.push_back(GetString(vm, {"spec", "instancetype", "name"}));
    row.push_back(ImageOf(vm));
    row.push_back(AgeOf(GetString(vm, {"metadata", "creationTimestamp"})));
    row.push_back(StrategyOf(vm));
    row.push_back(ReadyOf(vm));
    row.push_back(FixedIpOf(vm));
    t.AddRow(std::move(row));
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

std::string Line(const std::string& label, const std::string& value) {
  std::string l = label + ":";
  l.resize(std::max<size_t>(l.size() + 1, 15), ' ');
  return l + (value.empty() ? "<none>" : value) + "\n";
}

Status RunShow(Cli& cli, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.session.Namespace();
  auto vm = client->Get(VmPath(ns, name));
  if (!vm.ok()) return WithHint(Explain(vm.status(), "VM", name, ns), "see 'kumo vm list'");
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderObject(*vm, format, "virtualmachine.kubevirt.io"));
    return Status::Ok();
  }
  auto vmi = client->Get(VmiPath(ns, name));
  std::string flavor = GetString(*vm, {"spec", "instancetype", "name"});
  if (auto fl = client->Get(FlavorPath(flavor)); fl.ok()) {
    const json::value* cpu = Find(*fl, {"spec", "cpu", "guest"});
    flavor += " (" + (cpu ? json::serialize(*cpu) : std::string("?")) + " vCPU, " +
              GetString(*fl, {"spec", "memory", "guest"}) + ")";
  }
  std::string out;
  out += Line("Name", name);
  out += Line("Tenant", ns);
  out += Line("Status", GetString(*vm, {"status", "printableStatus"}, "Unknown"));
  out += Line("Ready", ReadyOf(*vm));
  out += Line("Run strategy", StrategyOf(*vm));
  out += Line("Flavor", flavor);
  out += Line("Image", ImageOf(*vm));
  out += Line("Root disk", RootDiskOf(*vm));
  out += Line("IP", vmi.ok() ? VmiIp(*vmi) : "");
  // The address IPAM gave the instance (the VMI annotation), when the guest does not report it.
  if (std::string assigned =
          vmi.ok() ? GetString(*vmi, {"metadata", "annotations", "kumo.io/ip"}) : "";
      !assigned.empty() && assigned != VmiIp(*vmi)) {
    out += Line("Assigned IP", assigned);
  }
  out += Line("Fixed IP", FixedIpOf(*vm));
  out += Line("Node", vmi.ok() ? GetString(*vmi, {"status", "nodeName"}) : "");
  std::string created = GetString(*vm, {"metadata", "creationTimestamp"});
  out += Line("Created", created.empty() ? "" : created + " (" + AgeOf(created) + " ago)");
  const json::value* conds = Find(*vm, {"status", "conditions"});
  if (conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      std::string msg = GetString(c, {"message"});
      if (!msg.empty() && GetString(c, {"status"}) != "True") {
        out += Line("Message", msg);
        break;
      }
    }
  }
  // Events of the VM and its instance (they share the name).
  std::string path =
      EventsPath(ns) + "?fieldSelector=" + client::QueryEscape("involvedObject.name=" + name);
  if (auto events = client->List(path); events.ok()) {
    json::array items = ItemsOf(*events);
    auto when = [](const json::value& e) {
      std::string t = GetString(e, {"lastTimestamp"});
      return t.empty() ? GetString(e, {"metadata", "creationTimestamp"}) : t;
    };
    std::stable_sort(items.begin(), items.end(),
                     [&](const json::value& a, const json::value& b) { return when(a) < when(b); });
    if (items.size() > 10) items.erase(items.begin(), items.end() - 10);
    Table t;
    for (const char* h : {"Age", "Type", "Reason", "Object", "Message"}) t.columns.push_back({h});
    for (const auto& e : items) {
      std::string kind = GetString(e, {"involvedObject", "kind"});
      t.AddRow({AgeOf(when(e)), GetString(e, {"type"}), GetString(e, {"reason"}),
                kind == "VirtualMachineInstance" ? "vmi" : "vm", GetString(e, {"message"})});
    }
    out += "Events:\n";
    if (items.empty()) {
      out += "  <none>\n";
    } else {
      std::string table = RenderTable(t, false);
      size_t start = 0;
      while (start < table.size()) {
        size_t nl = table.find('\n', start);
        out += "  " + table.substr(start, nl - start + 1);
        start = nl + 1;
      }
    }
  }
  Print(out);
  return Status::Ok();
}

struct ActionFlags {
  std::vector<std::string> names;
  bool wait = false;
  int timeout = 300;
};

// The migrations of VMI `name` (their names), from the label the migrate subresource sets.
StatusOr<std::set<std::string>> MigrationsOf(client::RestClient& client, const std::string& ns,
                                             const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(
      json::value list,
      client.List(client::ResourcePath("kubevirt.io", "v1", "virtualmachineinstancemigrations", ns) +
                  "?labelSelector=" + client::QueryEscape("kubevirt.io/vmi-name=" + name)));
  std::set<std::string> names;
  for (const auto& m : list.at("items").as_array()) names.insert(GetString(m, {"metadata", "name"}));
  return names;
}

// --wait of migrate: the new migration's progress until it succeeds or fails.
Status WaitForMigration(client::RestClient& client, const std::string& ns, const std::string& name,
                        const std::set<std::string>& before, int timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  auto started = std::chrono::steady_clock::now();
  std::string mig, shown;
  while (std::chrono::steady_clock::now() < deadline) {
    if (mig.empty()) {
      KUMO_ASSIGN_OR_RETURN(auto now, MigrationsOf(client, ns, name));
      for (const auto& m : now) {
        if (!before.count(m)) mig = m;
      }
    }
    if (!mig.empty()) {
      KUMO_ASSIGN_OR_RETURN(
          json::value m,
          client.Get(client::ResourcePath("kubevirt.io", "v1", "virtualmachineinstancemigrations", ns, mig)));
      std::string phase = GetString(m, {"status", "phase"}, "Pending");
      std::string target = GetString(m, {"status", "migrationState", "targetNode"});
      if (phase != shown) {
        std::cerr << name << ": " << phase << (target.empty() ? "" : " (to " + target + ")") << std::endl;
        shown = phase;
      }
      if (phase == "Succeeded") {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::cerr << name << ": now running on " << target << " (" << std::fixed
                  << std::setprecision(1) << secs << "s)" << std::endl;
        return Status::Ok();
      }
      if (phase == "Failed") {
        const json::value* conds = Find(m, {"status", "conditions"});
        std::string why = conds && conds->is_array() && !conds->get_array().empty()
                              ? GetString(conds->get_array()[0], {"message"})
                              : "see 'kubectl describe vmim " + mig + "'";
        return Status(Code::kConflict, "the migration of VM \"" + name + "\" failed: " + why);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return Status(Code::kTimeout, "VM \"" + name + "\" did not finish migrating within " +
                                    std::to_string(timeout_seconds) + "s");
}

// start, stop, restart, migrate: PUT on the subresource, as virtctl does.
Status RunAction(Cli& cli, const std::string& action, const ActionFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.session.Namespace();
  Status result = Status::Ok();
  for (const auto& name : f.names) {
    std::string old_uid;
    std::set<std::string> migrations;
    if (action == "migrate" && f.wait) {
      auto known = MigrationsOf(*client, ns, name);
      if (known.ok()) migrations = *known;
    }
    if (action == "restart" && f.wait) {
      if (auto vmi = client->Get(VmiPath(ns, name)); vmi.ok())
        old_uid = GetString(*vmi, {"metadata", "uid"});
    }
    std::string path =
        client::ResourcePath("subresources.kubevirt.io", "v1", "virtualmachines", ns, name, action);
    auto resp = client->Do("PUT", path, "{}", client::kJsonContentType);
    Status st = resp.ok() ? Status::Ok() : resp.status();
    if (st.ok() && (resp->code < 200 || resp->code >= 300)) {
      st = client::StatusFromResponse(resp->code, resp->body, resp->Header("retry-after"));
    }
    if (!st.ok()) {
      if (st.code() == Code::kNotFound)
        st = WithHint(Explain(st, "VM", name, ns), "see 'kumo vm list'");
      else
        st = Status(st.code(), "cannot " + action + " VM \"" + name + "\": " + st.message());
      ReportError(st);
      result = AlreadyReported(st.code());
      continue;
    }
    std::cout << "VM " << name << " was scheduled to " << action << std::endl;
    if (!f.wait) continue;
    Status waited;
    if (action == "stop") {
      waited = WaitForStopped(*client, ns, name, f.timeout, [&](const std::string& l) {
        std::cerr << name << ": " << l << std::endl;
      });
    } else if (action == "start") {
      waited = WaitAndReach(*client, ns, name, f.timeout);
    } else if (action == "migrate") {
      waited = WaitForMigration(*client, ns, name, migrations, f.timeout);
    } else {
      auto vmi = WaitForRunning(
          *client, ns, name, f.timeout,
          [&](const std::string& l) { std::cerr << name << ": " << l << std::endl; }, old_uid);
      waited = vmi.ok() ? Status::Ok() : vmi.status();
    }
    if (!waited.ok()) {
      ReportError(waited);
      result = AlreadyReported(waited.code());
    }
  }
  return result;
}

struct DeleteFlags {
  std::vector<std::string> names;
  bool wait = false;
  int timeout = 120;
};

Status RunDelete(Cli& cli, const DeleteFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.session.Namespace();
  Status result = Status::Ok();
  for (const auto& name : f.names) {
    auto deleted = client->Delete(VmPath(ns, name));
    Status st = deleted.ok() ? Status::Ok() : Explain(deleted.status(), "VM", name, ns);
    if (st.ok() && f.wait) st = WaitForGone(*client, VmPath(ns, name), f.timeout);
    if (!st.ok()) {
      ReportError(st);
      result = AlreadyReported(st.code());
      continue;
    }
    std::cout << "vm/" << name << " deleted" << std::endl;
  }
  return result;
}

}  // namespace

void AddVmCommands(CLI::App& app, Cli& cli) {
  CLI::App* vm = app.add_subcommand("vm", "Create, run and reach virtual machines");
  vm->require_subcommand(1);
  Examples(vm,
           "  kumo vm create web1 --image tiny --wait\n"
           "  kumo vm list\n"
           "  kumo vm console web1\n"
           "  kumo vm delete web1");
  AddVmCreateCommand(*vm, cli);

  CLI::App* list =
      vm->add_subcommand("list", "List VMs with their status, IP, node, flavor and image");
  list->alias("ls");
  list->add_flag("-A,--all-tenants", cli.flags.all_tenants, "List the VMs of every tenant");
  Examples(list, "  kumo vm list\n  kumo vm list -o wide\n  kumo vm list -A -o json");
  OnRun(list, cli, [&cli] { return RunList(cli); });

  auto show_name = std::make_shared<std::string>();
  CLI::App* show =
      vm->add_subcommand("show", "Show a VM: status, flavor, image, IP, node and recent events");
  show->add_option("name", *show_name, "VM name")->required();
  Examples(show, "  kumo vm show web1\n  kumo vm show web1 -o yaml");
  OnRun(show, cli, [&cli, show_name] { return RunShow(cli, *show_name); });

  struct Verb {
    const char* name;
    const char* help;
    const char* example;
  };
  for (const Verb& v : {Verb{"start", "Start stopped VMs", "  kumo vm start web1 --wait"},
                        Verb{"stop", "Stop VMs (ACPI shutdown; the VM and its IP stay)",
                             "  kumo vm stop web1 --wait"},
                        Verb{"restart", "Restart VMs (a fresh instance, same IP)",
                             "  kumo vm restart web1 --wait"},
                        Verb{"migrate", "Move running VMs to another node while they run (live "
                                        "migration; same IP)",
                             "  kumo vm migrate web1 --wait"}}) {
    auto f = std::make_shared<ActionFlags>();
    CLI::App* cmd = vm->add_subcommand(v.name, v.help);
    cmd->add_option("names", f->names, "VM names")->required();
    cmd->add_flag("--wait", f->wait,
                  std::string("Wait until the VM has ") +
                      (std::string(v.name) == "stop"      ? "stopped"
                       : std::string(v.name) == "migrate" ? "moved"
                                                          : "started"));
    cmd->add_option("--timeout", f->timeout, "Seconds to wait with --wait")->capture_default_str();
    Examples(cmd, v.example);
    std::string action = v.name;
    OnRun(cmd, cli, [&cli, f, action] { return RunAction(cli, action, *f); });
  }

  auto df = std::make_shared<DeleteFlags>();
  CLI::App* del =
      vm->add_subcommand("delete", "Delete VMs (fixed IPs stay reserved for the tenant)");
  del->alias("rm");
  del->add_option("names", df->names, "VM names")->required();
  del->add_flag("--wait", df->wait, "Wait until the VMs are gone");
  del->add_option("--timeout", df->timeout, "Seconds to wait with --wait")->capture_default_str();
  Examples(del, "  kumo vm delete web1\n  kumo vm delete web1 web2 --wait");
  OnRun(del, cli, [&cli, df] { return RunDelete(cli, *df); });

  AddVmConsoleCommands(*vm, cli);
}

}  // namespace kumo::cli
