// Internal to the api module: checks that the validation of several kinds shares.
#pragma once

#include <string>

#include "api/validation.h"

namespace kumo::api {

// Checks metadata (name, labels, annotations); `label_name` requires a DNS label instead of a
// subdomain.
void CheckMetadata(const json::value& obj, bool label_name, FieldErrors& errs);
// "VirtualMachine.kubevirt.io": the kind as Kubernetes names it in Invalid messages.
std::string KindOf(const json::value& obj);

}  // namespace kumo::api
