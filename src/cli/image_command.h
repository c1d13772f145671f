// `kumo image list|build|import|delete`: the disk images VMs boot from (kumo.io/v1alpha1
// Image objects pointing at files in the nodes' image directory).
#pragma once

#include "cli/command.h"

namespace CLI {
class App;
}

namespace kumo::cli {

void AddImageCommands(CLI::App& app, Cli& cli);
// `kumo image upload` (image_upload.cc), under the `image` command.
void AddImageUploadCommand(CLI::App& image, Cli& cli);

// An Image name from a file name or URL: its last path segment without extensions such as
// .qcow2, .img, .raw, lower-cased, other characters replaced by '-'.
std::string ImageNameFromSource(const std::string& source);

}  // namespace kumo::cli
