#include "api/flavors.h"

namespace kumo::api {

std::vector<json::value> DefaultClusterInstancetypes() {
  struct Flavor {
    const char* name;
    int cpus;
    const char* memory;
    const char* description;
  };
  static const Flavor kFlavors[] = {
      {"k1.tiny", 1, "128Mi", "1 vCPU, 128 MiB: demos and the tiny test image"},
      {"u1.nano", 1, "512Mi", "1 vCPU, 512 MiB"},
      {"u1.micro", 1, "1Gi", "1 vCPU, 1 GiB"},
      {"u1.small", 1, "2Gi", "1 vCPU, 2 GiB"},
      {"u1.medium", 1, "4Gi", "1 vCPU, 4 GiB"},
      {"u1.large", 2, "8Gi", "2 vCPUs, 8 GiB"},
      {"u1.xlarge", 4, "16Gi", "4 vCPUs, 16 GiB"},
      {"u1.2xlarge", 8, "32Gi", "8 vCPUs, 32 GiB"},
  };
  std::vector<json::value> out;
  for (const auto& f : kFlavors) {
    out.push_back(json::object{
        {"apiVersion", "instancetype.kubevirt.io/v1beta1"},
        {"kind", "VirtualMachineClusterInstancetype"},
        {"metadata",
         json::object{{"name", f.name},
                      {"labels", json::object{{"instancetype.kubevirt.io/vendor", "kumo.io"}}},
                      {"annotations",
                       json::object{{"instancetype.kubevirt.io/description", f.description}}}}},
        {"spec", json::object{{"cpu", json::object{{"guest", f.cpus}}},
                              {"memory", json::object{{"guest", f.memory}}}}}});
  }
  return out;
}

}  // namespace kumo::api
