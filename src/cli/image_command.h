// `kumo image build tiny`: builds the tiny demo image and registers it as an Image.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace kumo::cli {

struct ImageFlags {
  std::string kubeconfig;
  std::string image_dir = "/var/lib/kumo/images";
  std::string what;  // "tiny"
};

CLI::App* AddImageCommand(CLI::App& app, ImageFlags& flags);
int RunImageBuild(const ImageFlags& flags);

}  // namespace kumo::cli
