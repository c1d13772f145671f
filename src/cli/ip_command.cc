#include "cli/ip_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/vm_manifest.h"

namespace kumo::cli {

namespace {

struct ReserveFlags {
  std::string name;
  int count = 0;
  std::vector<std::string> addresses;
  std::string pool;
  int timeout = 10;
};

// "10.0.0.5 (web1), 10.0.0.6" and the VMs using them.
std::string AddressesOf(const json::value& r, std::string* users) {
  std::string out;
  const json::value* addrs = Find(r, {"status", "addresses"});
  if (!addrs || !addrs->is_array()) return out;
  for (const auto& a : addrs->get_array()) {
    out += (out.empty() ? "" : ",") + GetString(a, {"address"});
    std::string vm = GetString(a, {"vm"});
    if (users && !vm.empty()) *users += (users->empty() ? "" : ",") + vm;
  }
  return out;
}

size_t Wanted(const json::value& r) {
  const json::value* addrs = Find(r, {"spec", "addresses"});
  if (addrs && addrs->is_array()) return addrs->get_array().size();
  const json::value* count = Find(r, {"spec", "count"});
  return count && count->is_int64() ? static_cast<size_t>(count->get_int64()) : 1;
}

// A condition saying the reservation cannot be satisfied (e.g. the pool is exhausted).
const json::value* FailedCondition(const json::value& r) {
  const json::value* conds = Find(r, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->get_array()) {
    std::string reason = GetString(c, {"reason"});
    if (GetString(c, {"status"}) == "False" && !reason.empty() && reason != "Pending") return &c;
  }
  return nullptr;
}

Status RunReserve(Cli& cli, const ReserveFlags& f) {
  if (f.count > 0 && !f.addresses.empty()) {
    return UsageError("give either --count or --address, not both");
  }
  for (const auto& a : f.addresses) {
    if (!IsIPv4(a)) return UsageError("--address " + a + " is not an IPv4 address");
  }
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.session.Namespace();
  json::object spec;
  if (!f.addresses.empty()) {
    json::array addrs;
    for (const auto& a : f.addresses) addrs.push_back(json::value(a));
    spec["addresses"] = std::move(addrs);
  } else {
    spec["count"] = f.count > 0 ? f.count : 1;
  }
  if (!f.pool.empty()) spec["pool"] = f.pool;
  json::value obj = json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                 {"kind", "IPReservation"},
                                 {"metadata", json::object{{"name", f.name}, {"namespace", ns}}},
                                 {"spec", std::move(spec)}};
  auto created = client->Create(ReservationPath(ns), obj);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) {
      return WithHint(
          Status(Code::kAlreadyExists,
                 "IP reservation \"" + f.name + "\" already exists in tenant \"" + ns + "\""),
          "see 'kumo ip list'");
    }
    return Status(created.status().code(),
                  "cannot reserve \"" + f.name + "\": " + created.status().message());
  }
  // The IPAM controller fills status.addresses; show them once it has.
  json::value r = *created;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.timeout);
  for (;;) {
    if (const json::value* c = FailedCondition(r)) {
      return WithReason(
          WithHint(
              Status(Code::kConflict, "IP reservation \"" + f.name +
                                          "\" cannot be satisfied: " + GetString(*c, {"message"})),
              "release it with 'kumo ip release " + f.name + "' and try another pool or address"),
          GetString(*c, {"reason"}));
    }
    std::string addrs = AddressesOf(r, nullptr);
    size_t have = addrs.empty() ? 0 : std::count(addrs.begin(), addrs.end(), ',') + 1;
    if (have >= Wanted(r) || std::chrono::steady_clock::now() >= deadline) {
      if (format != Format::kTable && format != Format::kWide) {
        Print(RenderObject(r, format, "ipreservation.kumo.io"));
      } else if (addrs.empty()) {
        Print("ipreservation/" + f.name + " created\n");
        std::cerr << "Its addresses are not assigned yet; see 'kumo ip list'\n";
      } else {
        Print("ipreservation/" + f.name + " reserved " + addrs + "\n");
        std::cerr << "Give it to a VM with 'kumo vm create NAME --image IMG --ip " << f.name
                  << "'\n";
      }
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto again = client->Get(ReservationPath(ns, f.name));
    if (!again.ok()) return again.status();
    r = std::move(*again);
  }
}

Status RunList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.flags.all_tenants ? "" : cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(ReservationPath(ns)));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "ipreservation.kumo.io"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No IP reservations in " << (ns.empty() ? "any tenant" : "tenant \"" + ns + "\"")
              << ". Reserve one with 'kumo ip reserve NAME'.\n";
    return Status::Ok();
  }
  Table t;
  if (ns.empty()) t.columns.push_back({"Tenant"});
  for (const char* h : {"Name", "Addresses", "Used-By", "Pool", "Age"}) t.columns.push_back({h});
  t.columns.push_back({"Requested", true});
  for (const auto& r : items) {
    std::vector<std::string> row;
    if (ns.empty()) row.push_back(GetString(r, {"metadata", "namespace"}));
    std::string users;
    std::string addrs = AddressesOf(r, &users);
    row.push_back(GetString(r, {"metadata", "name"}));
    row.push_back(addrs.empty() ? "(pending)" : addrs);
    row.push_back(users);
    std::string pool = GetString(r, {"status", "pool"});
    row.push_back(pool.empty() ? GetString(r, {"spec", "pool"}) : pool);
    row.push_back(AgeOf(GetString(r, {"metadata", "creationTimestamp"})));
    const json::value* want = Find(r, {"spec", "addresses"});
    row.push_back(want ? json::serialize(*want) : std::to_string(Wanted(r)) + " address(es)");
    t.AddRow(std::move(row));
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

struct ReleaseFlags {
  std::vector<std::string> names;
  bool force = false;
};

Status RunRelease(Cli& cli, const ReleaseFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.session.Namespace();
  Status result = Status::Ok();
  for (const auto& name : f.names) {
    auto r = client->Get(ReservationPath(ns, name));
    Status st =
        r.ok() ? Status::Ok()
               : WithHint(Explain(r.status(), "IP reservation", name, ns), "see 'kumo ip list'");
    std::string users, addrs;
    if (st.ok()) addrs = AddressesOf(*r, &users);
    if (st.ok() && !users.empty() && !f.force) {
      st = WithHint(Status(Code::kConflict, "IP reservation \"" + name + "\" (" + addrs +
                                                ") is in use by VM " + users),
                    "delete the VM first, or pass --force to release it anyway");
    }
    if (st.ok()) {
      auto deleted = client->Delete(ReservationPath(ns, name));
      if (!deleted.ok()) st = Explain(deleted.status(), "IP reservation", name, ns);
    }
    if (!st.ok()) {
      ReportError(st);
      result = AlreadyReported(st.code());
      continue;
    }
    std::cout << "ipreservation/" << name << " released"
              << (addrs.empty() ? "" : " (" + addrs + ")") << std::endl;
  }
  return result;
}

}  // namespace

void AddIpCommands(CLI::App& app, Cli& cli) {
  CLI::App* ip = app.add_subcommand("ip", "Reserve fixed IP addresses for VMs");
  ip->require_subcommand(1);
  Examples(ip,
           "  kumo ip reserve web-ips --count 2\n"
           "  kumo vm create web1 --image tiny --ip web-ips\n"
           "  kumo ip list\n"
           "  kumo ip release web-ips");

  auto rf = std::make_shared<ReserveFlags>();
  CLI::App* reserve = ip->add_subcommand(
      "reserve",
      "Reserve addresses for the tenant; they stay reserved when VMs using them go away");
  reserve->add_option("name", rf->name, "Name of the reservation")->required();
  reserve->add_option("--count", rf->count, "How many addresses (default 1)");
  reserve->add_option("--address", rf->addresses, "A specific address (repeatable)");
  reserve->add_option("--pool", rf->pool, "IP pool to take them from (default: the tenant's)");
  reserve->add_option("--timeout", rf->timeout, "Seconds to wait for the addresses to be assigned")
      ->capture_default_str();
  Examples(reserve,
           "  kumo ip reserve web-ips --count 2\n"
           "  kumo ip reserve db-ip --address 10.10.0.50\n"
           "  kumo ip reserve lb --pool public");
  OnRun(reserve, cli, [&cli, rf] { return RunReserve(cli, *rf); });

  CLI::App* list =
      ip->add_subcommand("list", "List the tenant's IP reservations and the VMs using them");
  list->alias("ls");
  list->add_flag("-A,--all-tenants", cli.flags.all_tenants,
                 "List the reservations of every tenant");
  Examples(list, "  kumo ip list\n  kumo ip list -o yaml");
  OnRun(list, cli, [&cli] { return RunList(cli); });

  auto lf = std::make_shared<ReleaseFlags>();
  CLI::App* release =
      ip->add_subcommand("release", "Release reservations: their addresses go back to the pool");
  release->add_option("names", lf->names, "Reservation names")->required();
  release->add_flag("--force", lf->force, "Release even when a VM still uses an address");
  Examples(release, "  kumo ip release web-ips");
  OnRun(release, cli, [&cli, lf] { return RunRelease(cli, *lf); });
}

}  // namespace kumo::cli
