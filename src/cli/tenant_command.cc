#include "cli/tenant_command.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "client/kubeconfig.h"
#include "common/file_util.h"
#include "http/pki.h"
#include "server/tenancy.h"
#include "server/tokens.h"

namespace kumo::cli {

namespace {

std::string TenantPath(const std::string& name = "") {
  return client::ResourcePath("kumo.io", "v1alpha1", "tenants", "", name);
}

std::string TokenSecretsPath() {
  return client::ResourcePath("", "v1", "secrets", server::kSystemNamespace);
}

struct CreateFlags {
  std::string name;
  int64_t vcpus = -1, vms = -1, ips = -1, reservations = -1, volumes = -1;
  std::string memory, storage;
  std::vector<std::string> node_selector;  // key=value
  std::vector<std::string> ip_pools;
  int api_share = 0;
  int timeout = 30;
};

Status RunCreate(Cli& cli, const CreateFlags& f) {
  json::object quota;
  if (f.vcpus >= 0) quota["vcpus"] = f.vcpus;
  if (!f.memory.empty()) quota["memory"] = f.memory;
  if (f.vms >= 0) quota["vms"] = f.vms;
  if (f.ips >= 0) quota["ips"] = f.ips;
  if (f.reservations >= 0) quota["reservations"] = f.reservations;
  if (f.volumes >= 0) quota["volumes"] = f.volumes;
  if (!f.storage.empty()) quota["storage"] = f.storage;
  json::object spec;
  if (!quota.empty()) spec["quota"] = std::move(quota);
  if (!f.node_selector.empty()) {
    json::object sel;
    for (const auto& kv : f.node_selector) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return UsageError("--node-selector takes KEY=VALUE, got \"" + kv + "\"");
      }
      sel[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    spec["nodeSelector"] = std::move(sel);
  }
  if (!f.ip_pools.empty()) {
    json::array pools;
    for (const auto& p : f.ip_pools) pools.emplace_back(p);
    spec["ipPools"] = std::move(pools);
  }
  if (f.api_share > 0) spec["apiShare"] = f.api_share;
  json::value obj = json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                 {"kind", "Tenant"},
                                 {"metadata", json::object{{"name", f.name}}},
                                 {"spec", std::move(spec)}};
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto created = client->Create(TenantPath(), obj);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) {
      return WithHint(Status(Code::kAlreadyExists, "tenant \"" + f.name + "\" already exists"),
                      "see 'kumo tenant show " + f.name + "'");
    }
    return Status(created.status().code(),
                  "cannot create tenant \"" + f.name + "\": " + created.status().message());
  }
  // The tenant controller creates the namespace; wait for it so the tenant is usable at once.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.timeout);
  std::string ns_path = client::ResourcePath("", "v1", "namespaces", "", f.name);
  while (!client->Get(ns_path).ok()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cout << "tenant/" << f.name << " created\n";
      std::cerr << "Its namespace is not there yet; see 'kumo tenant show " << f.name << "'\n";
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "tenant/" << f.name << " created (namespace " << f.name << ")\n";
  std::cerr << "Add people with 'kumo tenant add-user " << f.name
            << " USER --role member --kubeconfig-out USER.kubeconfig'\n";
  return Status::Ok();
}

// Sets (role non-empty) or removes (role empty) `user` in the tenant's members. Returns whether
// the user was a member before.
StatusOr<bool> SetMember(client::RestClient& client, const std::string& tenant,
                         const std::string& user, const std::string& role) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto t = client.Get(TenantPath(tenant));
    if (!t.ok()) return Explain(t.status(), "tenant", tenant);
    json::object& spec = EnsureObject(*t, {"spec"});
    json::array members;
    bool found = false;
    if (const json::value* m = spec.if_contains("members"); m && m->is_array()) {
      for (const auto& entry : m->get_array()) {
        if (GetString(entry, {"user"}) == user) {
          found = true;
          if (!role.empty()) members.push_back(json::object{{"user", user}, {"role", role}});
        } else {
          members.push_back(entry);
        }
      }
    }
    if (!found && !role.empty()) members.push_back(json::object{{"user", user}, {"role", role}});
    spec["members"] = std::move(members);
    auto updated = client.Update(TenantPath(tenant), *t);
    if (updated.ok()) return found;
    if (updated.status().code() != Code::kConflict) return updated.status();
  }
  return Status(Code::kConflict, "tenant \"" + tenant + "\" keeps changing; try again");
}

struct AddUserFlags {
  std::string tenant, user, role = "member", out;
};

Status RunAddUser(Cli& cli, const AddUserFlags& f) {
  if (f.out.empty())
    return UsageError("--kubeconfig-out FILE is required: the user's kubeconfig goes there");
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  // The server URL and CA of the user's kubeconfig are the admin's.
  std::string admin_path = cli.session.KubeconfigPath();
  KUMO_ASSIGN_OR_RETURN(client::Kubeconfig admin,
                        client::LoadKubeconfig(admin_path, cli.flags.context));
  KUMO_ASSIGN_OR_RETURN(bool existed, SetMember(*client, f.tenant, f.user, f.role));
  std::string token = pki::GenerateToken();
  auto secret = client->Create(TokenSecretsPath(), server::TokenSecret(token, f.user, f.tenant));
  if (!secret.ok()) {
    return Status(secret.status().code(),
                  "cannot record the token of \"" + f.user + "\": " + secret.status().message());
  }
  client::Kubeconfig kc;
  kc.server = admin.server;
  kc.ca_pem = admin.ca_pem;
  kc.insecure_skip_tls_verify = admin.insecure_skip_tls_verify;
  kc.token = token;
  kc.context_name = f.tenant + "-" + f.user;
  kc.namespace_ = f.tenant;
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(f.out, client::RenderKubeconfig(kc), 0600));
  std::cout << "user \"" << f.user << "\" " << (existed ? "is now" : "added as") << " " << f.role
            << " of tenant \"" << f.tenant << "\"; kubeconfig written to " << f.out << "\n";
  std::cerr << "Try: kubectl --kubeconfig " << f.out << " get vms\n";
  return Status::Ok();
}

struct RemoveUserFlags {
  std::string tenant, user;
};

Status RunRemoveUser(Cli& cli, const RemoveUserFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(bool existed, SetMember(*client, f.tenant, f.user, ""));
  // Revoke the user's tokens for this tenant.
  KUMO_ASSIGN_OR_RETURN(
      json::value list,
      client->List(TokenSecretsPath() + "?labelSelector=" +
                   client::QueryEscape(std::string(server::kTenantLabel) + "=" + f.tenant)));
  int revoked = 0;
  for (const auto& s : ItemsOf(list)) {
    if (GetString(s, {"metadata", "annotations", server::kTokenUserAnnotation}) != f.user) continue;
    auto deleted = client->Delete(TokenSecretsPath() + "/" + GetString(s, {"metadata", "name"}));
    if (!deleted.ok() && deleted.status().code() != Code::kNotFound) return deleted.status();
    ++revoked;
  }
  if (!existed && revoked == 0) {
    return Status(Code::kNotFound,
                  "user \"" + f.user + "\" is not a member of tenant \"" + f.tenant + "\"");
  }
  std::cout << "user \"" << f.user << "\" removed from tenant \"" << f.tenant << "\" (" << revoked
            << " token(s) revoked)\n";
  return Status::Ok();
}

std::string QuotaCell(const json::value& t, const std::string& key) {
  std::string used = GetString(t, {"status", "usage", key});
  if (const json::value* u = Find(t, {"status", "usage", key}); u && u->is_number())
    used = json::serialize(*u);
  if (used.empty()) used = "0";
  const json::value* limit = Find(t, {"spec", "quota", key});
  if (!limit) return used;
  return used + "/" +
         (limit->is_string() ? std::string(limit->get_string()) : json::serialize(*limit));
}

size_t MemberCount(const json::value& t) {
  const json::value* m = Find(t, {"spec", "members"});
  return m && m->is_array() ? m->get_array().size() : 0;
}

Status RunList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(TenantPath()));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "tenant.kumo.io"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No tenants. Create one with 'kumo tenant create NAME'.\n";
    return Status::Ok();
  }
  Table t;
  for (const char* h : {"Name", "VMs", "vCPUs", "Memory", "IPs", "Members", "Phase", "Age"}) {
    t.columns.push_back({h});
  }
  t.columns.push_back({"Node-Selector", true});
  for (const auto& item : items) {
    std::string sel;
    if (const json::value* s = Find(item, {"spec", "nodeSelector"}); s && s->is_object()) {
      for (const auto& kv : s->get_object()) {
        sel += (sel.empty() ? "" : ",") + std::string(kv.key()) + "=" +
               (kv.value().is_string() ? std::string(kv.value().get_string()) : "");
      }
    }
    t.AddRow({GetString(item, {"metadata", "name"}), QuotaCell(item, "vms"),
              QuotaCell(item, "vcpus"), QuotaCell(item, "memory"), QuotaCell(item, "ips"),
              std::to_string(MemberCount(item)), GetString(item, {"status", "phase"}),
              AgeOf(GetString(item, {"metadata", "creationTimestamp"})), sel});
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

Status RunShow(Cli& cli, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto t = client->Get(TenantPath(name));
  if (!t.ok()) return WithHint(Explain(t.status(), "tenant", name), "see 'kumo tenant list'");
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderObject(*t, format, "tenant.kumo.io"));
    return Status::Ok();
  }
  std::string out = "Name:       " + name + "\nNamespace:  " + name +
                    "\nPhase:      " + GetString(*t, {"status", "phase"}) + "\n";
  const json::value* share = Find(*t, {"spec", "apiShare"});
  out += "API share:  " + (share ? json::serialize(*share) : std::string("1")) + "\n";
  if (const json::value* s = Find(*t, {"spec", "nodeSelector"}); s && s->is_object()) {
    out += "Nodes:      " + json::serialize(*s) + "\n";
  }
  if (const json::value* p = Find(*t, {"spec", "ipPools"}); p && p->is_array()) {
    out += "IP pools:   " + json::serialize(*p) + "\n";
  }
  Print(out + "\n");
  Table q;
  q.columns = {{"Resource"}, {"Used"}, {"Limit"}};
  for (const char* key : {"vcpus", "memory", "vms", "ips", "reservations", "volumes", "storage"}) {
    const json::value* used = Find(*t, {"status", "usage", key});
    const json::value* limit = Find(*t, {"spec", "quota", key});
    auto text = [](const json::value* v) {
      if (!v) return std::string("");
      return v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
    };
    q.AddRow({key, used ? text(used) : "0", limit ? text(limit) : "unlimited"});
  }
  Print(RenderTable(q, false) + "\n");
  Table m;
  m.columns = {{"User"}, {"Role"}};
  if (const json::value* members = Find(*t, {"spec", "members"}); members && members->is_array()) {
    for (const auto& e : members->get_array()) {
      m.AddRow({GetString(e, {"user"}), GetString(e, {"role"})});
    }
  }
  if (m.rows.empty()) {
    Print("No members. Add one with 'kumo tenant add-user " + name +
          " USER --role member "
          "--kubeconfig-out FILE'\n");
  } else {
    Print(RenderTable(m, false));
  }
  return Status::Ok();
}

Status RunDelete(Cli& cli, const std::vector<std::string>& names) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  Status result = Status::Ok();
  for (const auto& name : names) {
    auto deleted = client->Delete(TenantPath(name));
    if (!deleted.ok()) {
      ReportError(WithHint(Explain(deleted.status(), "tenant", name), "see 'kumo tenant list'"));
      result = AlreadyReported(deleted.status().code());
      continue;
    }
    std::cout << "tenant/" << name << " deleted (its namespace, VMs and tokens go with it)\n";
  }
  return result;
}

}  // namespace

void AddTenantCommands(CLI::App& app, Cli& cli) {
  CLI::App* tenant =
      app.add_subcommand("tenant", "Manage tenants, their quotas and members (cluster admins)");
  tenant->require_subcommand(1);
  Examples(tenant,
           "  kumo tenant create acme --quota-vcpus 16 --quota-memory 32Gi --quota-vms 10\n"
           "  kumo tenant add-user acme alice --role member --kubeconfig-out alice.kubeconfig\n"
           "  kumo tenant show acme\n"
           "  kumo tenant list");

  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = tenant->add_subcommand(
      "create",
      "Create a tenant: a namespace of the same name with quotas, members and an API share");
  create->add_option("name", cf->name, "Tenant name (also its namespace)")->required();
  create->add_option("--quota-vcpus", cf->vcpus, "Most vCPUs its VMs may have together");
  create->add_option("--quota-memory", cf->memory,
                     "Most memory its VMs may have together, guest plus overhead (e.g. 64Gi)");
  create->add_option("--quota-vms", cf->vms, "Most VMs");
  create->add_option("--quota-ips", cf->ips, "Most IP addresses (reserved or taken by VMs)");
  create->add_option("--quota-reservations", cf->reservations, "Most IP reservations");
  create->add_option("--quota-volumes", cf->volumes, "Most persistent volumes");
  create->add_option("--quota-storage", cf->storage,
                     "Most storage its volumes may ask for together, e.g. 500Gi");
  create->add_option("--node-selector", cf->node_selector,
                     "KEY=VALUE: its VMs run only on nodes with this label (repeatable)");
  create->add_option("--ip-pool", cf->ip_pools, "An IP pool it may use (repeatable)");
  create->add_option("--api-share", cf->api_share,
                     "Fair-queuing weight of its API requests (1-100)");
  create->add_option("--timeout", cf->timeout, "Seconds to wait for its namespace")
      ->capture_default_str();
  Examples(create,
           "  kumo tenant create acme\n"
           "  kumo tenant create acme --quota-vcpus 16 --quota-memory 32Gi --quota-vms 10 "
           "--quota-ips 10\n"
           "  kumo tenant create hpc --node-selector node-restriction.kumo.io/pool=hpc --api-share 4");
  OnRun(create, cli, [&cli, cf] { return RunCreate(cli, *cf); });

  auto af = std::make_shared<AddUserFlags>();
  CLI::App* add = tenant->add_subcommand(
      "add-user", "Make USER a member of TENANT, issue a token and write a kubeconfig for it");
  add->add_option("tenant", af->tenant, "Tenant")->required();
  add->add_option("user", af->user,
                  "User name, within TENANT: the same name in another tenant is another person, "
                  "and this user's tokens work in TENANT only")
      ->required();
  add->add_option("--role", af->role, "admin, member or viewer")
      ->check(CLI::IsMember({"admin", "member", "viewer"}))
      ->capture_default_str();
  add->add_option("--kubeconfig-out", af->out, "Where to write the user's kubeconfig")->required();
  Examples(add,
           "  kumo tenant add-user acme alice --role member --kubeconfig-out alice.kubeconfig");
  OnRun(add, cli, [&cli, af] { return RunAddUser(cli, *af); });

  auto rf = std::make_shared<RemoveUserFlags>();
  CLI::App* remove =
      tenant->add_subcommand("remove-user", "Remove USER from TENANT and revoke its tokens");
  remove->add_option("tenant", rf->tenant, "Tenant")->required();
  remove->add_option("user", rf->user, "User name")->required();
  OnRun(remove, cli, [&cli, rf] { return RunRemoveUser(cli, *rf); });

  CLI::App* list = tenant->add_subcommand("list", "List tenants with their usage and quotas");
  list->alias("ls");
  OnRun(list, cli, [&cli] { return RunList(cli); });

  auto name = std::make_shared<std::string>();
  CLI::App* show = tenant->add_subcommand("show", "Show a tenant: quota, usage, members");
  show->add_option("name", *name, "Tenant")->required();
  OnRun(show, cli, [&cli, name] { return RunShow(cli, *name); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* del =
      tenant->add_subcommand("delete", "Delete tenants with everything in their namespaces");
  del->add_option("names", *names, "Tenants")->required();
  OnRun(del, cli, [&cli, names] { return RunDelete(cli, *names); });
}

}  // namespace kumo::cli
