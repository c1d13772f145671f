#include "cli/image_command.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/connect.h"
#include "cli/images.h"

namespace kumo::cli {

CLI::App* AddImageCommand(CLI::App& app, ImageFlags& flags) {
  CLI::App* image = app.add_subcommand("image", "Manage VM images");
  image->require_subcommand(1);
  CLI::App* build = image->add_subcommand(
      "build",
      "Build an image from Debian packages and register it. Example:\n"
      "  kumo image build tiny --kubeconfig /var/lib/kumo/kubeconfig.yaml");
  build->add_option("what", flags.what, "What to build: tiny (a Debian kernel and a busybox initramfs)")
      ->required()
      ->check(CLI::IsMember({"tiny"}));
  const char* env = std::getenv("KUBECONFIG");
  if (env) flags.kubeconfig = env;
  build->add_option("--kubeconfig", flags.kubeconfig, "Kubeconfig of the API server (default $KUBECONFIG)");
  build->add_option("--image-dir", flags.image_dir, "Where the nodes find images")->capture_default_str();
  return build;
}

int RunImageBuild(const ImageFlags& flags) {
  if (flags.kubeconfig.empty()) {
    std::cerr << "kumo image build: set --kubeconfig or KUBECONFIG\n";
    return 2;
  }
  auto client = ClientFromKubeconfig(flags.kubeconfig);
  if (!client.ok()) {
    std::cerr << "kumo image build: " << client.status().message() << "\n";
    return 1;
  }
  std::cerr << "Building the tiny image in " << flags.image_dir << "\n";
  Status st = BuildAndRegisterTiny(**client, flags.image_dir);
  if (!st.ok()) {
    std::cerr << "kumo image build: " << st.message() << "\n";
    return 1;
  }
  std::cout << "image/tiny ready\n";
  return 0;
}

}  // namespace kumo::cli
