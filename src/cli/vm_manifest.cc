#include "cli/vm_manifest.h"

#include <cctype>

#include "cli/session.h"

namespace kumo::cli {

std::string DefaultFlavorFor(const std::string& image) {
  return image == "tiny" ? "k1.tiny" : "u1.small";
}

bool IsIPv4(const std::string& text) {
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    int value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      if (value > 255 || i - start > 2) return false;
      ++i;
    }
    if (i == start) return false;
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
  }
  return i == text.size();
}

json::value BuildVirtualMachine(const VmOptions& o) {
  json::object meta{{"name", o.name}};
  if (!o.ns.empty()) meta["namespace"] = o.ns;
  if (!o.template_name.empty()) meta["labels"] = json::object{{kTemplateLabel, o.template_name}};

  json::object tmpl_meta{{"labels", json::object{{"kubevirt.io/vm", o.name}}}};
  if (!o.ip.empty()) {
    json::object annotations;
    if (IsIPv4(o.ip)) {
      annotations[kCalicoIpAddrsAnnotation] = "[\"" + o.ip + "\"]";
    } else {
      annotations[kIpReservationAnnotation] = o.ip;
    }
    tmpl_meta["annotations"] = std::move(annotations);
  }

  json::array disks{json::object{{"name", "rootdisk"}, {"disk", json::object{{"bus", "virtio"}}}}};
  json::array volumes;
  json::array dv_templates;
  if (o.root_volume_size.empty()) {
    volumes.push_back(
        json::object{{"name", "rootdisk"}, {"containerDisk", json::object{{"image", o.image}}}});
  } else {
    const std::string dv = o.name + "-root";
    json::object storage{{"resources", json::object{{"requests", json::object{{"storage", o.root_volume_size}}}}}};
    if (!o.storage_class.empty()) storage["storageClassName"] = o.storage_class;
    dv_templates.push_back(json::object{
        {"metadata", json::object{{"name", dv}}},
        {"spec", json::object{{"source", json::object{{"registry", json::object{{"url", "docker://" + o.image}}}}},
                              {"storage", std::move(storage)}}}});
    volumes.push_back(json::object{{"name", "rootdisk"}, {"dataVolume", json::object{{"name", dv}}}});
  }
  for (const auto& claim : o.data_volumes) {
    disks.push_back(json::object{{"name", "vol-" + claim}, {"disk", json::object{{"bus", "virtio"}}}});
    volumes.push_back(json::object{{"name", "vol-" + claim},
                                   {"persistentVolumeClaim", json::object{{"claimName", claim}}}});
  }
  if (!o.user_data.empty()) {
    disks.push_back(
        json::object{{"name", "cloudinitdisk"}, {"disk", json::object{{"bus", "virtio"}}}});
    volumes.push_back(json::object{{"name", "cloudinitdisk"},
                                   {"cloudInitNoCloud", json::object{{"userData", o.user_data}}}});
  }
  json::object tspec{
      {"domain",
       json::object{{"devices", json::object{{"disks", std::move(disks)},
                                             {"interfaces", json::array{json::object{
                                                                {"name", "default"},
                                                                {"bridge", json::object{}}}}}}}}},
      {"networks", json::array{json::object{{"name", "default"}, {"pod", json::object{}}}}},
      {"volumes", std::move(volumes)}};
  if (!o.node_selector.empty()) {
    json::object sel;
    for (const auto& [k, v] : o.node_selector) sel[k] = v;
    tspec["nodeSelector"] = std::move(sel);
  }

  json::object spec{{"runStrategy", o.run_strategy},
                    {"instancetype", json::object{{"kind", "VirtualMachineClusterInstancetype"},
                                                  {"name", o.flavor}}},
                    {"template", json::object{{"metadata", std::move(tmpl_meta)},
                                              {"spec", std::move(tspec)}}}};
  if (!dv_templates.empty()) spec["dataVolumeTemplates"] = std::move(dv_templates);
  return json::object{{"apiVersion", "kubevirt.io/v1"},
                      {"kind", "VirtualMachine"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

std::string DefaultRootVolumeSize(const std::string& image) {
  return image == "tiny" ? "1Gi" : "10Gi";
}

std::string RootDiskOf(const json::value& vm) {
  const json::value* vols = Find(vm, {"spec", "template", "spec", "volumes"});
  if (!vols || !vols->is_array() || vols->get_array().empty()) return "none";
  const json::value& root = vols->get_array()[0];
  if (std::string img = GetString(root, {"containerDisk", "image"}); !img.empty()) {
    return "ephemeral (image " + img + "; what the guest writes is lost at every start)";
  }
  std::string claim = GetString(root, {"persistentVolumeClaim", "claimName"});
  if (claim.empty()) claim = GetString(root, {"dataVolume", "name"});
  if (claim.empty()) return "other";
  std::string detail;
  if (const json::value* ts = Find(vm, {"spec", "dataVolumeTemplates"}); ts && ts->is_array()) {
    for (const auto& t : ts->get_array()) {
      if (GetString(t, {"metadata", "name"}) != claim) continue;
      std::string size = GetString(t, {"spec", "storage", "resources", "requests", "storage"});
      std::string cls = GetString(t, {"spec", "storage", "storageClassName"});
      detail = " (" + size + ", class " + (cls.empty() ? "default" : cls) + "; deleted with the VM)";
    }
  }
  return "persistent volume " + claim + detail + ": kept across stop, restart and migration";
}

StatusOr<std::string> UserDataWithKeys(const std::string& user_data,
                                       const std::vector<std::string>& keys) {
  if (keys.empty()) return user_data;
  std::string block = "ssh_authorized_keys:\n";
  for (const auto& k : keys) block += "  - " + json::serialize(json::value(k)) + "\n";
  if (user_data.empty()) return "#cloud-config\n" + block;
  if (user_data.rfind("#cloud-config", 0) != 0) {
    return UsageError(
        "--ssh-key needs cloud-config user data, but the user data is " +
        std::string(user_data.rfind("#!", 0) == 0 ? "a script" : "not a #cloud-config document") +
        "; add the key in the user data yourself or drop --ssh-key");
  }
  if (user_data.find("\nssh_authorized_keys:") != std::string::npos) {
    return UsageError(
        "the user data already lists ssh_authorized_keys; add the key there or drop --ssh-key");
  }
  std::string out = user_data;
  if (out.back() != '\n') out += "\n";
  return out + block;
}

StatusOr<std::pair<std::string, std::string>> ParseKeyValue(const std::string& text,
                                                            const std::string& flag) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return UsageError(flag + " wants KEY=VALUE, got \"" + text + "\"");
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

}  // namespace kumo::cli
