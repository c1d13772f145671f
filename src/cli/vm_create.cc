// `kumo vm create`: flags and templates → a KubeVirt VirtualMachine; checks that the image,
// flavor and fixed IP exist before creating it; --wait follows it to Running and checks that
// its IP answers.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "cli/templates.h"
#include "cli/vm_command.h"
#include "cli/vm_manifest.h"
#include "cli/vm_wait.h"
#include "common/file_util.h"

namespace kumo::cli {

namespace {

struct CreateFlags {
  std::string name;
  std::string image;
  std::string flavor;
  std::string ip;
  std::vector<std::string> ssh_keys;
  bool no_ssh_key = false;
  std::string user_data;
  std::string template_name;
  std::vector<std::string> node_selector;
  std::string run_strategy;
  bool wait = false;
  int timeout = 300;
  bool dry_run = false;
  bool persistent = false;
  std::string volume_size;
  std::string storage_class;
  std::vector<std::string> volumes;
};

std::string Home() {
  const char* home = std::getenv("HOME");
  return home ? home : "/root";
}

// Public keys from an authorized_keys-style file; FILE.pub is tried for a private key.
StatusOr<std::vector<std::string>> ReadKeys(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok())
    return UsageError("cannot read --ssh-key " + path + ": " + text.status().message());
  if (text->find("PRIVATE KEY") != std::string::npos) {
    auto pub = ReadFileToString(path + ".pub");
    if (!pub.ok()) {
      return UsageError("--ssh-key " + path + " is a private key; give the public key (" + path +
                        ".pub)");
    }
    text = std::move(pub);
  }
  std::vector<std::string> keys;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    keys.push_back(line);
  }
  if (keys.empty()) return UsageError("--ssh-key " + path + " holds no public key");
  return keys;
}

// The user's default public key, when the VM should get one without being asked.
std::string DefaultKeyFile() {
  for (const char* f : {"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"}) {
    std::string p = Home() + "/.ssh/" + f;
    if (ReadFileToString(p).ok()) return p;
  }
  return "";
}

void Progress(const std::string& name, const std::string& line) {
  std::cerr << name << ": " << line << std::endl;
}

// Checks the fixed IP request against the tenant's reservations, in words a user understands.
Status CheckIp(client::RestClient& client, const std::string& ns, const std::string& vm,
               const std::string& ip) {
  if (IsIPv4(ip)) {
    auto list = client.List(ReservationPath(ns));
    if (!list.ok()) return Status::Ok();  // the server's admission has the last word
    for (const auto& r : ItemsOf(*list)) {
      const json::value* addrs = Find(r, {"status", "addresses"});
      if (!addrs || !addrs->is_array()) continue;
      for (const auto& a : addrs->get_array()) {
        std::string user = GetString(a, {"vm"});
        if (GetString(a, {"address"}) == ip && !user.empty() && user != vm) {
          return WithHint(Status(Code::kConflict, "address " + ip + " (reservation " +
                                                      GetString(r, {"metadata", "name"}) +
                                                      ") is already used by VM \"" + user + "\""),
                          "pick another address with 'kumo ip list'");
        }
      }
    }
    return Status::Ok();
  }
  auto r = client.Get(ReservationPath(ns, ip));
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) {
      return WithHint(
          Status(Code::kNotFound, "--ip " + ip +
                                      " is neither an IPv4 address nor an IP reservation "
                                      "in tenant \"" +
                                      ns + "\""),
          "reserve one with 'kumo ip reserve " + ip + "'");
    }
    return r.status();
  }
  const json::value* addrs = Find(*r, {"status", "addresses"});
  if (!addrs || !addrs->is_array() || addrs->get_array().empty()) return Status::Ok();  // pending
  std::string used;
  for (const auto& a : addrs->get_array()) {
    std::string user = GetString(a, {"vm"});
    if (user.empty() || user == vm) return Status::Ok();
    used += (used.empty() ? "" : ", ") + GetString(a, {"address"}) + " by VM \"" + user + "\"";
  }
  return WithHint(Status(Code::kConflict, "IP reservation \"" + ip +
                                              "\" has no free address: " + used + " (all in use)"),
                  "reserve more with 'kumo ip reserve NAME' or delete one of those VMs");
}

Status RunCreate(Cli& cli, const CreateFlags& f) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  VmTemplate tmpl;
  if (!f.template_name.empty()) {
    KUMO_ASSIGN_OR_RETURN(tmpl, FindTemplate(f.template_name));
  }
  VmOptions o;
  o.name = f.name;
  o.image = !f.image.empty() ? f.image : tmpl.image;
  if (o.image.empty()) {
    return UsageError(
        "--image is required (or a --template that names one); see 'kumo image list'");
  }
  o.flavor = !f.flavor.empty()      ? f.flavor
             : !tmpl.flavor.empty() ? tmpl.flavor
                                    : DefaultFlavorFor(o.image);
  o.run_strategy = !f.run_strategy.empty()      ? f.run_strategy
                   : !tmpl.run_strategy.empty() ? tmpl.run_strategy
                                                : "Always";
  o.ip = f.ip;
  o.node_selector = tmpl.node_selector;
  for (const auto& kv : f.node_selector) {
    KUMO_ASSIGN_OR_RETURN(auto pair, ParseKeyValue(kv, "--node-selector"));
    o.node_selector[pair.first] = pair.second;
  }
  if (!f.template_name.empty()) o.template_name = tmpl.name;
  if (f.persistent || !f.volume_size.empty() || !f.storage_class.empty()) {
    o.root_volume_size = !f.volume_size.empty() ? f.volume_size : DefaultRootVolumeSize(o.image);
  }
  o.storage_class = f.storage_class;
  o.data_volumes = f.volumes;

  std::string user_data = tmpl.user_data;
  if (!f.user_data.empty()) {
    auto text = ReadFileToString(f.user_data);
    if (!text.ok()) {
      return UsageError("cannot read --user-data " + f.user_data + ": " + text.status().message());
    }
    user_data = *text;
  }
  std::vector<std::string> keys;
  for (const auto& path : f.ssh_keys) {
    KUMO_ASSIGN_OR_RETURN(auto more, ReadKeys(path));
    keys.insert(keys.end(), more.begin(), more.end());
  }
  // Without being asked, add the user's own key where the VM can take it (a cloud-config), as
  // `openstack server create` would need a keypair for. The tiny image has no SSH server.
  if (f.ssh_keys.empty() && !f.no_ssh_key && o.image != "tiny" &&
      (user_data.empty() || (user_data.rfind("#cloud-config", 0) == 0 &&
                             user_data.find("\nssh_authorized_keys:") == std::string::npos))) {
    if (std::string def = DefaultKeyFile(); !def.empty()) {
      KUMO_ASSIGN_OR_RETURN(keys, ReadKeys(def));
      if (!f.dry_run)
        std::cerr << "Adding your SSH key " << def << " (--no-ssh-key to leave it out)\n";
    }
  }
  KUMO_ASSIGN_OR_RETURN(o.user_data, UserDataWithKeys(user_data, keys));

  std::string ns = cli.session.Namespace();
  if (f.dry_run) {
    // Namespace only when asked for, so the manifest applies to any namespace.
    if (cli.session.NamespaceExplicit()) o.ns = ns;
    json::value vm = BuildVirtualMachine(o);
    if (format == Format::kTable || format == Format::kWide) format = Format::kYaml;
    Print(RenderObject(vm, format, "virtualmachine.kubevirt.io"));
    return Status::Ok();
  }
  o.ns = ns;
  json::value vm = BuildVirtualMachine(o);
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());

  if (auto fl = client->Get(FlavorPath(o.flavor)); !fl.ok()) {
    if (fl.status().code() != Code::kNotFound) return fl.status();
    return WithHint(Explain(fl.status(), "flavor", o.flavor), "see 'kumo flavor list'");
  }
  if (auto img = client->Get(ImagePath(o.image)); !img.ok()) {
    if (img.status().code() == Code::kNotFound) {
      return WithHint(
          Explain(img.status(), "image", o.image),
          "build it with 'kumo image build tiny' or import it with 'kumo image import'");
    }
    if (img.status().code() != Code::kForbidden) return img.status();
  } else if (std::string phase = GetString(*img, {"status", "phase"}); phase != "Ready") {
    std::cerr << "Warning: image \"" << o.image << "\" is not ready yet (phase "
              << (phase.empty() ? "Pending" : phase) << "); the VM starts once it is\n";
  }
  if (!o.ip.empty()) KUMO_RETURN_IF_ERROR(CheckIp(*client, ns, o.name, o.ip));

  auto created = client->Create(VmPath(ns), vm);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) {
      return WithHint(Status(Code::kAlreadyExists,
                             "VM \"" + o.name + "\" already exists in tenant \"" + ns + "\""),
                      "pick another name or delete it with 'kumo vm delete " + o.name + "'");
    }
    return created.status();
  }
  std::cerr << "Root disk: " << RootDiskOf(vm) << "\n";
  if (o.root_volume_size.empty()) {
    std::cerr << "  (keep it with --persistent, or --volume-size 20Gi)\n";
  }
  if (!f.wait) {
    if (format == Format::kTable || format == Format::kWide) {
      Print("vm/" + o.name + " created (image " + o.image + ", flavor " + o.flavor + ")\n");
      std::cerr << "Follow it with 'kumo vm show " << o.name << "', or use --wait next time\n";
    } else {
      Print(RenderObject(*created, format, "virtualmachine.kubevirt.io"));
    }
    return Status::Ok();
  }
  std::cerr << "vm/" << o.name << " created (image " << o.image << ", flavor " << o.flavor << ")\n";
  return WaitAndReach(*client, ns, o.name, f.timeout);
}

}  // namespace

Status WaitAndReach(client::RestClient& client, const std::string& ns, const std::string& name,
                    int timeout_seconds) {
  auto start = std::chrono::steady_clock::now();
  auto progress = [&](const std::string& line) { Progress(name, line); };
  KUMO_ASSIGN_OR_RETURN(json::value vmi,
                        WaitForRunning(client, ns, name, timeout_seconds, progress));
  // The IP may be reported a moment after Running.
  std::string ip = VmiIp(vmi);
  for (int i = 0; i < 20 && ip.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (auto again = client.Get(VmiPath(ns, name)); again.ok()) ip = VmiIp(*again);
  }
  std::string why;
  if (!RoutableAddress(ip, &why)) {
    std::cerr << name << ": note: skipping the reachability check: " << why
              << ". The VM is running; reach it with 'kumo vm console " << name << "'.\n";
    return Status::Ok();
  }
  int spent = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count());
  progress("waiting for " + ip + " to answer...");
  auto how = ProbeAddress(ip, std::max(30, timeout_seconds - spent));
  if (!how.ok()) {
    return WithHint(
        Status(Code::kTimeout, "VM \"" + name + "\" is running, but " + how.status().message()),
        "look at its boot log with 'kumo vm log " + name + "'");
  }
  progress(ip + " answers (" + *how + ")");
  Print(ip + "\n");
  return Status::Ok();
}

void AddVmCreateCommand(CLI::App& vm, Cli& cli) {
  auto f = std::make_shared<CreateFlags>();
  CLI::App* cmd = vm.add_subcommand(
      "create",
      "Create a VM: a KubeVirt VirtualMachine with a flavor, an image, cloud-init user data and\n"
      "(optionally) a fixed IP. Checks the image, flavor and IP first; --wait follows it until it\n"
      "runs and its IP answers, then prints the IP.");
  cmd->add_option("name", f->name, "Name of the VM")->required();
  cmd->add_option("--image", f->image, "Image to boot (see 'kumo image list')");
  cmd->add_option("--flavor", f->flavor,
                  "Flavor: vCPUs and memory (see 'kumo flavor list'; default k1.tiny for the tiny "
                  "image, else u1.small)");
  cmd->add_option("--ip", f->ip,
                  "Fixed IP: an address (Calico ipAddrs annotation) or the name of an IP "
                  "reservation (see 'kumo ip list')");
  cmd->add_option("--ssh-key", f->ssh_keys,
                  "Public key file to authorize (repeatable; default ~/.ssh/id_*.pub for "
                  "cloud-config images)");
  cmd->add_flag("--no-ssh-key", f->no_ssh_key, "Do not add your default SSH key");
  cmd->add_option("--user-data", f->user_data,
                  "cloud-init user data file (#cloud-config or a #! script)");
  cmd->add_option("--template", f->template_name,
                  "Template to start from: a name from 'kumo template list' or a YAML file");
  cmd->add_option("--node-selector", f->node_selector,
                  "Run only on nodes with label K=V (repeatable)");
  cmd->add_option("--run-strategy", f->run_strategy,
                  "Always (default), RerunOnFailure, Once, Manual or Halted")
      ->check(CLI::IsMember({"Always", "RerunOnFailure", "Once", "Manual", "Halted"}));
  cmd->add_flag("--persistent", f->persistent,
                "Boot from a persistent volume made from the image (1Gi for tiny, else 10Gi): what "
                "the guest writes survives stop, restart and migration. Without it the root disk "
                "is ephemeral (a fresh copy of the image at every start)");
  cmd->add_option("--volume-size", f->volume_size,
                  "Size of the persistent root volume, e.g. 20Gi (implies --persistent)");
  cmd->add_option("--storage-class", f->storage_class,
                  "Storage class of the root volume (see 'kumo volume classes'; implies "
                  "--persistent)");
  cmd->add_option("--volume", f->volumes,
                  "Attach an existing volume as a data disk (repeatable; see 'kumo volume list')");
  cmd->add_flag("--wait", f->wait, "Wait until the VM runs and its IP answers, then print the IP");
  cmd->add_option("--timeout", f->timeout, "Seconds to wait with --wait")->capture_default_str();
  cmd->add_flag(
      "--dry-run", f->dry_run,
      "Print the VirtualMachine instead of creating it (YAML unless -o json); it uses only "
      "standard KubeVirt fields and applies on any KubeVirt cluster");
  Examples(
      cmd,
      "  kumo vm create web1 --image tiny --wait          # boot, wait, print the IP\n"
      "  kumo vm create db1 --image tiny --persistent --volume data   # disks that persist\n"
      "  kumo vm create web2 --template tiny-web --ip web-ips\n"
      "  kumo vm create db1 --image debian-12 --flavor u1.medium --ssh-key ~/.ssh/id_ed25519.pub\n"
      "  kumo vm create app --image tiny --ip 10.10.0.5 --node-selector zone=a\n"
      "  kumo vm create web1 --image tiny --dry-run -o yaml > web1.yaml   # for kubectl apply");
  OnRun(cmd, cli, [&cli, f] { return RunCreate(cli, *f); });
}

}  // namespace kumo::cli
