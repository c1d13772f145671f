#include "cli/volume_command.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>

#include "api/storage.h"
#include "cli/output.h"

namespace kumo::cli {

namespace {

struct CreateFlags {
  std::string name;
  std::string size;
  std::string storage_class;
  std::string image;
  std::string from;
  std::string snapshot;
};

std::string SnapshotPath(const std::string& ns, const std::string& name = "") {
  return client::ResourcePath(api::kSnapshotGroup, "v1", "volumesnapshots", ns, name);
}

// claim -> the VM whose instance uses it, for the tenant's VMIs.
std::map<std::string, std::string> UsersOf(client::RestClient& client, const std::string& ns) {
  std::map<std::string, std::string> users;
  auto vmis = client.List(VmiPath(ns));
  if (!vmis.ok()) return users;
  for (const auto& vmi : ItemsOf(*vmis)) {
    const json::value* spec = Find(vmi, {"spec"});
    if (!spec) continue;
    for (const auto& ref : api::ClaimsOf(*spec)) {
      users[GetString(vmi, {"metadata", "namespace"}) + "/" + ref.claim] =
          GetString(vmi, {"metadata", "name"});
    }
  }
  return users;
}

std::string SourceOf(const json::value& pvc) {
  const json::value* ds = Find(pvc, {"spec", "dataSourceRef"});
  if (!ds) ds = Find(pvc, {"spec", "dataSource"});
  if (!ds) return "blank";
  std::string kind = GetString(*ds, {"kind"});
  std::string name = GetString(*ds, {"name"});
  return (kind == "Image"                   ? "image "
          : kind == "PersistentVolumeClaim" ? "volume "
          : kind == "VolumeSnapshot"        ? "snapshot "
                                            : kind + " ") +
         name;
}

Status RunCreate(Cli& cli, const CreateFlags& f) {
  if (f.size.empty()) return UsageError("--size is required, e.g. --size 10Gi");
  if (!f.image.empty() + !f.from.empty() + !f.snapshot.empty() > 1) {
    return UsageError("give one of --image, --from and --snapshot");
  }
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.session.Namespace();
  json::object spec{
      {"accessModes", json::array{"ReadWriteOnce"}},
      {"resources", json::object{{"requests", json::object{{"storage", f.size}}}}}};
  if (!f.storage_class.empty()) spec["storageClassName"] = f.storage_class;
  if (!f.image.empty()) {
    spec["dataSourceRef"] =
        json::object{{"apiGroup", "kumo.io"}, {"kind", "Image"}, {"name", f.image}};
  } else if (!f.from.empty()) {
    spec["dataSourceRef"] = json::object{{"kind", "PersistentVolumeClaim"}, {"name", f.from}};
  } else if (!f.snapshot.empty()) {
    spec["dataSourceRef"] = json::object{
        {"apiGroup", api::kSnapshotGroup}, {"kind", "VolumeSnapshot"}, {"name", f.snapshot}};
  }
  json::value pvc = json::object{{"apiVersion", "v1"},
                                 {"kind", "PersistentVolumeClaim"},
                                 {"metadata", json::object{{"name", f.name}, {"namespace", ns}}},
                                 {"spec", std::move(spec)}};
  auto created = client->Create(ClaimPath(ns), pvc);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) {
      return WithHint(Status(Code::kAlreadyExists,
                             "volume \"" + f.name + "\" already exists in tenant \"" + ns + "\""),
                      "see 'kumo volume list'");
    }
    return Status(created.status().code(),
                  "cannot create volume \"" + f.name + "\": " + created.status().message());
  }
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderObject(*created, format, "persistentvolumeclaim"));
    return Status::Ok();
  }
  Print("volume/" + f.name + " created (" + f.size + ", class " +
        GetString(*created, {"spec", "storageClassName"}) + ", from " + SourceOf(*created) + ")\n");
  std::cerr << "Attach it with 'kumo vm create NAME --image IMG --volume " << f.name
            << "'; its data is written on the node of the first VM that uses it\n";
  return Status::Ok();
}

Status RunList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string ns = cli.flags.all_tenants ? "" : cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(ClaimPath(ns)));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "persistentvolumeclaim"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No volumes in " << (ns.empty() ? "any tenant" : "tenant \"" + ns + "\"")
              << ". Create one with 'kumo volume create NAME --size 10Gi'.\n";
    return Status::Ok();
  }
  std::map<std::string, std::string> users = UsersOf(*client, ns);
  Table t;
  if (ns.empty()) t.columns.push_back({"Tenant"});
  for (const char* h : {"Name", "Status", "Size", "Class", "Used-By", "Source", "Age"}) {
    t.columns.push_back({h});
  }
  t.columns.push_back({"Volume", true});
  for (const auto& c : items) {
    std::vector<std::string> row;
    const std::string cns = GetString(c, {"metadata", "namespace"});
    const std::string name = GetString(c, {"metadata", "name"});
    if (ns.empty()) row.push_back(cns);
    row.push_back(name);
    std::string phase = GetString(c, {"status", "phase"}, "Pending");
    if (!GetString(c, {"metadata", "deletionTimestamp"}).empty()) phase = "Terminating";
    row.push_back(phase);
    std::string size = GetString(c, {"spec", "resources", "requests", "storage"});
    std::string have = GetString(c, {"status", "capacity", "storage"});
    row.push_back(have.empty() || have == size ? size : have + " (growing to " + size + ")");
    row.push_back(GetString(c, {"spec", "storageClassName"}));
    auto user = users.find(cns + "/" + name);
    row.push_back(user == users.end() ? "" : user->second);
    row.push_back(SourceOf(c));
    row.push_back(AgeOf(GetString(c, {"metadata", "creationTimestamp"})));
    row.push_back(GetString(c, {"spec", "volumeName"}));
    t.AddRow(std::move(row));
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

struct ResizeFlags {
  std::string name;
  std::string size;
};

Status RunResize(Cli& cli, const ResizeFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.session.Namespace();
  json::value patch = json::object{
      {"spec", json::object{{"resources",
                             json::object{{"requests", json::object{{"storage", f.size}}}}}}}};
  auto r = client->Patch(ClaimPath(ns, f.name), client::PatchType::kMerge, patch);
  if (!r.ok()) {
    return WithHint(Explain(r.status(), "volume", f.name, ns), "see 'kumo volume list'");
  }
  Print("volume/" + f.name + " resized to " + f.size + "\n");
  std::cerr << "The disk grows when its VM next starts (grow the guest's filesystem then)\n";
  return Status::Ok();
}

struct DeleteFlags {
  std::vector<std::string> names;
};

Status RunDelete(Cli& cli, const DeleteFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.session.Namespace();
  std::map<std::string, std::string> users = UsersOf(*client, ns);
  Status result = Status::Ok();
  for (const auto& name : f.names) {
    Status st = Status::Ok();
    auto user = users.find(ns + "/" + name);
    if (user != users.end()) {
      st = WithHint(Status(Code::kConflict,
                           "volume \"" + name + "\" is in use by VM " + user->second),
                    "stop or delete the VM first ('kumo vm stop " + user->second + "')");
    } else if (auto deleted = client->Delete(ClaimPath(ns, name)); !deleted.ok()) {
      st = WithHint(Explain(deleted.status(), "volume", name, ns), "see 'kumo volume list'");
    }
    if (!st.ok()) {
      ReportError(st);
      result = AlreadyReported(st.code());
      continue;
    }
    std::cout << "volume/" << name << " deleted (its data goes with it)" << std::endl;
  }
  return result;
}

struct SnapshotFlags {
  std::string volume;
  std::string name;
};

Status RunSnapshot(Cli& cli, const SnapshotFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.session.Namespace();
  std::string name = f.name;
  if (name.empty()) {
    std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
    name = f.volume + "-" + stamp;
  }
  json::value vs = json::object{
      {"apiVersion", "snapshot.storage.k8s.io/v1"},
      {"kind", "VolumeSnapshot"},
      {"metadata", json::object{{"name", name}, {"namespace", ns}}},
      {"spec", json::object{{"source", json::object{{"persistentVolumeClaimName", f.volume}}}}}};
  auto created = client->Create(SnapshotPath(ns), vs);
  if (!created.ok()) {
    return WithHint(Status(created.status().code(),
                           "cannot snapshot volume \"" + f.volume + "\": " + created.status().message()),
                    "see 'kumo volume list'");
  }
  Print("volumesnapshot/" + name + " created (of volume " + f.volume + ")\n");
  std::cerr << "The copy is taken while no VM runs on the volume; restore it with "
               "'kumo volume create NEW --size SIZE --snapshot "
            << name << "'\n";
  return Status::Ok();
}

Status RunSnapshots(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.flags.all_tenants ? "" : cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(SnapshotPath(ns)));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "volumesnapshot.snapshot.storage.k8s.io"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr << "No snapshots. Take one with 'kumo volume snapshot VOLUME'.\n";
    return Status::Ok();
  }
  Table t;
  if (ns.empty()) t.columns.push_back({"Tenant"});
  for (const char* h : {"Name", "Volume", "Ready", "Size", "Age", "Message"}) t.columns.push_back({h});
  for (const auto& v : items) {
    std::vector<std::string> row;
    if (ns.empty()) row.push_back(GetString(v, {"metadata", "namespace"}));
    row.push_back(GetString(v, {"metadata", "name"}));
    row.push_back(GetString(v, {"spec", "source", "persistentVolumeClaimName"}));
    row.push_back(GetBool(v, {"status", "readyToUse"}) ? "yes" : "no");
    row.push_back(GetString(v, {"status", "restoreSize"}));
    row.push_back(AgeOf(GetString(v, {"metadata", "creationTimestamp"})));
    row.push_back(GetString(v, {"status", "error", "message"}));
    t.AddRow(std::move(row));
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

Status RunDeleteSnapshots(Cli& cli, const std::vector<std::string>& names) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  const std::string ns = cli.session.Namespace();
  Status result = Status::Ok();
  for (const auto& name : names) {
    auto deleted = client->Delete(SnapshotPath(ns, name));
    if (!deleted.ok()) {
      Status st = WithHint(Explain(deleted.status(), "snapshot", name, ns), "see 'kumo volume snapshots'");
      ReportError(st);
      result = AlreadyReported(st.code());
      continue;
    }
    std::cout << "volumesnapshot/" << name << " deleted" << std::endl;
  }
  return result;
}

Status RunClasses(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(StorageClassPath()));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "storageclass.storage.k8s.io"));
    return Status::Ok();
  }
  Table t;
  for (const char* h : {"Name", "Default", "Kind", "Where", "Can-Grow"}) t.columns.push_back({h});
  for (const auto& c : items) {
    const std::string p = GetString(c, {"provisioner"});
    t.AddRow({GetString(c, {"metadata", "name"}),
              GetString(c, {"metadata", "annotations", api::kDefaultClassAnnotation}) == "true"
                  ? "yes"
                  : "",
              p == api::kLocalProvisioner ? "local (the VM stays on the volume's node)"
              : p == api::kSharedDirProvisioner
                  ? "shared (the VM restarts and migrates anywhere)"
                  : p,
              GetString(c, {"parameters", "path"}),
              GetBool(c, {"allowVolumeExpansion"}) ? "yes" : "no"});
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

}  // namespace

void AddVolumeCommands(CLI::App& app, Cli& cli) {
  CLI::App* volume =
      app.add_subcommand("volume", "Persistent volumes: disks that keep their data");
  volume->require_subcommand(1);
  Examples(volume,
           "  kumo volume create data --size 20Gi\n"
           "  kumo vm create db1 --image tiny --persistent --volume data\n"
           "  kumo volume list\n"
           "  kumo volume resize data --size 40Gi\n"
           "  kumo volume delete data");

  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = volume->add_subcommand(
      "create", "Create a volume: blank, from an image, or a copy of another volume");
  create->add_option("name", cf->name, "Name of the volume")->required();
  create->add_option("--size", cf->size, "Size, e.g. 10Gi")->required();
  create->add_option("--class", cf->storage_class,
                     "Storage class (see 'kumo volume classes'; default: the default class)");
  create->add_option("--image", cf->image, "Fill it with this image (see 'kumo image list')");
  create->add_option("--from", cf->from, "Fill it with a copy of this volume");
  create->add_option("--snapshot", cf->snapshot, "Restore this snapshot into it");
  Examples(create,
           "  kumo volume create data --size 20Gi\n"
           "  kumo volume create root2 --size 10Gi --image debian-12 --class shared\n"
           "  kumo volume create data-copy --size 20Gi --from data");
  OnRun(create, cli, [&cli, cf] { return RunCreate(cli, *cf); });

  CLI::App* list = volume->add_subcommand("list", "List the tenant's volumes and the VMs using them");
  list->alias("ls");
  list->add_flag("-A,--all-tenants", cli.flags.all_tenants, "List the volumes of every tenant");
  Examples(list, "  kumo volume list\n  kumo volume list -o wide");
  OnRun(list, cli, [&cli] { return RunList(cli); });

  auto rf = std::make_shared<ResizeFlags>();
  CLI::App* resize = volume->add_subcommand(
      "resize", "Grow a volume (never shrink); the disk grows when its VM next starts");
  resize->add_option("name", rf->name, "Volume name")->required();
  resize->add_option("--size", rf->size, "New size, e.g. 40Gi")->required();
  Examples(resize, "  kumo volume resize data --size 40Gi");
  OnRun(resize, cli, [&cli, rf] { return RunResize(cli, *rf); });

  auto df = std::make_shared<DeleteFlags>();
  CLI::App* del =
      volume->add_subcommand("delete", "Delete volumes and their data (not while a VM uses one)");
  del->alias("rm");
  del->add_option("names", df->names, "Volume names")->required();
  Examples(del, "  kumo volume delete data");
  OnRun(del, cli, [&cli, df] { return RunDelete(cli, *df); });

  auto sf = std::make_shared<SnapshotFlags>();
  CLI::App* snap = volume->add_subcommand(
      "snapshot", "Take a snapshot of a volume (made while no VM runs on it)");
  snap->add_option("volume", sf->volume, "Volume name")->required();
  snap->add_option("--name", sf->name, "Snapshot name (default: VOLUME-<UTC time>)");
  Examples(snap,
           "  kumo volume snapshot data --name data-before-upgrade\n"
           "  kumo volume create data2 --size 20Gi --snapshot data-before-upgrade");
  OnRun(snap, cli, [&cli, sf] { return RunSnapshot(cli, *sf); });

  CLI::App* snaps = volume->add_subcommand("snapshots", "List the tenant's snapshots");
  snaps->add_flag("-A,--all-tenants", cli.flags.all_tenants, "List the snapshots of every tenant");
  OnRun(snaps, cli, [&cli] { return RunSnapshots(cli); });

  auto dsn = std::make_shared<std::vector<std::string>>();
  CLI::App* dels = volume->add_subcommand("delete-snapshot", "Delete snapshots and their copies");
  dels->add_option("names", *dsn, "Snapshot names")->required();
  OnRun(dels, cli, [&cli, dsn] { return RunDeleteSnapshots(cli, *dsn); });

  CLI::App* classes = volume->add_subcommand("classes", "List the storage classes volumes can use");
  Examples(classes, "  kumo volume classes");
  OnRun(classes, cli, [&cli] { return RunClasses(cli); });
}

}  // namespace kumo::cli
