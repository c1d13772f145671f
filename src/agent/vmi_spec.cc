#include "agent/vmi_spec.h"

#include <set>

#include "api/kubevirt.h"
#include "api/storage.h"
#include "api/vm_size.h"
#include "common/base64.h"

namespace kumo::agent {

json::array InterfacesStatus(const json::value& vmi) {
  json::array out;
  std::string ip = GetString(vmi, {"metadata", "annotations", "kumo.io/ip"}, "10.0.2.15");
  const json::value* ifs = Find(vmi, {"spec", "domain", "devices", "interfaces"});
  if (ifs && ifs->is_array()) {
    for (const auto& i : ifs->get_array()) {
      out.push_back(json::object{{"name", GetString(i, {"name"})},
                                 {"ipAddress", ip},
                                 {"ipAddresses", json::array{json::value(ip)}},
                                 {"infoSource", "domain"}});
    }
  }
  return out;
}

json::array VolumeStatus(const json::value& vmi) {
  json::array out;
  StatusOr<std::vector<api::VolumeDisk>> disks = api::DisksOf(vmi);
  if (!disks.ok()) return out;
  for (const auto& d : *disks) {
    out.push_back(json::object{
        {"name", d.volume},
        {"phase", "Ready"},
        {"reason", "VolumeReady"},
        {"message", "The volume " + d.pv + " is attached"},
        {"persistentVolumeClaimInfo",
         json::object{{"claimName", d.claim},
                      {"volumeMode", "Filesystem"},
                      {"capacity", json::object{{"storage", std::to_string(d.size_bytes)}}}}}});
  }
  return out;
}

std::string RoutedNetworkConfig(const std::string& ip, const std::vector<std::string>& dns, int mtu) {
  std::string out =
      "version: 2\n"
      "ethernets:\n"
      "  primary:\n"
      "    match:\n"
      "      name: \"e*\"\n"
      "    addresses: [" + ip + "/32]\n"
      "    mtu: " + std::to_string(mtu) + "\n"
      "    routes:\n"
      "      - to: 169.254.1.1/32\n"
      "        scope: link\n"
      "      - to: 0.0.0.0/0\n"
      "        via: 169.254.1.1\n"
      "        on-link: true\n";
  if (!dns.empty()) {
    out += "    nameservers:\n      addresses: [";
    for (size_t i = 0; i < dns.size(); ++i) out += (i ? ", " : "") + dns[i];
    out += "]\n";
  }
  return out;
}

StatusOr<VmSpec> SpecFromVmi(const json::value& vmi, client::RestClient& client,
                             const ImageResolver& resolve) {
  VmSpec spec;
  spec.ns = GetString(vmi, {"metadata", "namespace"});
  spec.name = GetString(vmi, {"metadata", "name"});
  spec.uid = GetString(vmi, {"metadata", "uid"});
  // The size quota and the scheduler counted: one function computes it for all three.
  const json::value* vmi_spec = Find(vmi, {"spec"});
  KUMO_ASSIGN_OR_RETURN(api::VmSize size,
                        api::VmSizeOf(vmi_spec ? *vmi_spec : json::value(),
                                      "VirtualMachineInstance", spec.name));
  spec.vcpus = static_cast<int>(size.vcpus);
  spec.memory_bytes = size.guest_memory;

  // Claims: the server wrote where each lives (kumo.io/volumes); the agent makes the files.
  KUMO_ASSIGN_OR_RETURN(std::vector<api::VolumeDisk> disks, api::DisksOf(vmi));
  std::set<std::string> attached;
  for (const auto& d : disks) attached.insert(d.volume);
  const json::value* volumes = Find(vmi, {"spec", "volumes"});
  if (volumes && volumes->is_array()) {
    for (const auto& v : volumes->get_array()) {
      std::string vname = GetString(v, {"name"});
      if (const json::value* cd = Find(v, {"containerDisk"})) {
        if (!spec.image_path.empty()) {
          return BadRequest("volume " + vname + ": Kumo runs one containerDisk per VM so far");
        }
        std::string image = api::ImageNameOf(GetString(*cd, {"image"}));
        auto img = client.Get(client::ResourcePath("kumo.io", "v1alpha1", "images", "", image));
        if (!img.ok()) {
          if (img.status().code() == Code::kNotFound) {
            return NotFound("image \"" + image + "\" (volume " + vname +
                            ") not found: build it with `kumo image build tiny` or import it with "
                            "`kumo image import`");
          }
          return img.status();
        }
        const bool uploaded = Find(*img, {"spec", "source", "upload"}) != nullptr;
        if (GetString(*img, {"status", "phase"}) != "Ready" ||
            (!uploaded && GetString(*img, {"status", "path"}).empty())) {
          return NotFound("image \"" + image + "\" is not ready yet (phase " +
                          GetString(*img, {"status", "phase"}, "Pending") + ")");
        }
        if (resolve) {
          KUMO_ASSIGN_OR_RETURN(spec.image_path, resolve(*img));
        } else {
          spec.image_path = GetString(*img, {"status", "path"});
        }
        spec.image_format = GetString(*img, {"spec", "format"}, "qcow2");
      } else if (Find(v, {"persistentVolumeClaim"}) || Find(v, {"dataVolume"})) {
        if (!attached.count(vname)) {
          return BadRequest("volume " + vname + " names a claim the server has not attached; "
                            "recreate the instance");
        }
      } else if (const json::value* ci = Find(v, {"cloudInitNoCloud"})) {
        spec.user_data = GetString(*ci, {"userData"});
        if (spec.user_data.empty()) spec.user_data = Base64DecodeLenient(GetString(*ci, {"userDataBase64"}));
        spec.network_config = GetString(*ci, {"networkData"});
      } else {
        std::string type = v.is_object() && v.get_object().size() > 1 ? "" : "unknown";
        for (const auto& kv : v.get_object()) {
          if (kv.key() != "name") type = kv.key();
        }
        return BadRequest("volume " + vname + " uses " + type +
                          ", which Kumo does not support yet; use containerDisk, persistentVolumeClaim, dataVolume or cloudInitNoCloud");
      }
    }
  }
  if (spec.image_path.empty() && disks.empty()) {
    return BadRequest("the VMI has no containerDisk or persistentVolumeClaim volume to boot from");
  }
  std::string hostname = GetString(vmi, {"spec", "hostname"}, spec.name);
  spec.meta_data = "instance-id: " + spec.uid + "\nlocal-hostname: " + hostname + "\n";
  spec.network_mode = "user";
  return spec;
}

}  // namespace kumo::agent
