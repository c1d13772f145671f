// The flavors (VirtualMachineClusterInstancetypes) every Kumo cluster ships with, named after
// KubeVirt's common-instancetypes "u1" (general purpose) series, plus a tiny demo size.
#pragma once

#include <vector>

#include "common/json.h"

namespace kumo::api {

// Complete objects, ready to create; labelled instancetype.kubevirt.io/vendor=kumo.io.
std::vector<json::value> DefaultClusterInstancetypes();

}  // namespace kumo::api
