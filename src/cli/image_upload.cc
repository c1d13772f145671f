// `kumo image upload FILE`: sends a disk image to the API server once, in chunks with a
// progress bar; every node then fetches it by checksum into its own image cache (no shared
// image directory needed).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "agent/runtime/subprocess.h"
#include "cli/image_command.h"
#include "cli/output.h"
#include "common/sha256.h"

namespace kumo::cli {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 2 << 20;  // what the server takes per request

struct UploadFlags {
  std::string file;
  std::string name;
  bool replace = false;
};

void Bar(int64_t done, int64_t total) {
  if (!isatty(2)) return;
  const int width = 40;
  int filled = total > 0 ? static_cast<int>(done * width / total) : width;
  std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
            << HumanBytes(done) << " / " << HumanBytes(total) << std::flush;
}

Status RunUpload(Cli& cli, const UploadFlags& f) {
  std::string name = f.name.empty() ? ImageNameFromSource(f.file) : f.name;
  if (name.empty()) return UsageError("cannot derive an image name from " + f.file + "; pass --name");
  std::error_code ec;
  if (!fs::is_regular_file(f.file, ec)) {
    return Status(Code::kNotFound, "cannot upload " + f.file + ": no such file");
  }
  auto info = agent::RunChecked({"qemu-img", "info", "--output=json", f.file});
  std::string format = "raw";
  if (info.ok()) {
    if (auto parsed = ParseJson(info->out); parsed.ok()) format = GetString(*parsed, {"format"}, "raw");
  }
  if (format != "qcow2" && format != "raw") {
    return WithHint(Status(Code::kBadRequest, f.file + " is a " + format + " image; Kumo boots qcow2 and raw"),
                    "convert it with 'qemu-img convert -O qcow2 " + f.file + " out.qcow2', or use 'kumo image import'");
  }
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto existing = client->Get(ImagePath(name));
  if (existing.ok() && !f.replace) {
    return WithHint(Status(Code::kAlreadyExists, "image \"" + name + "\" already exists"),
                    "pass --replace to overwrite it, or --name to pick another name");
  }
  if (!existing.ok() && existing.status().code() != Code::kNotFound) return existing.status();
  json::value image = json::object{
      {"apiVersion", "kumo.io/v1alpha1"},
      {"kind", "Image"},
      {"metadata", json::object{{"name", name}}},
      {"spec", json::object{{"format", format},
                            {"source", json::object{{"upload", json::object{}}}}}}};
  if (existing.ok()) {
    image.as_object()["metadata"].as_object()["resourceVersion"] =
        GetString(*existing, {"metadata", "resourceVersion"});
    image.as_object()["status"] = json::object{{"phase", "Uploading"}};
    auto r = client->Update(ImagePath(name), image);
    if (!r.ok()) return r.status();
  } else {
    auto r = client->Create(ImagePath(), image);
    if (!r.ok()) return r.status();
  }
  const int64_t total = static_cast<int64_t>(fs::file_size(f.file, ec));
  std::cerr << "Uploading " << f.file << " (" << format << ", " << HumanBytes(total) << ") as image "
            << name << "\n";
  std::ifstream in(f.file, std::ios::binary);
  std::string chunk(kChunk, '\0');
  const std::string data = client::ResourcePath("kumo.io", "v1alpha1", "images", "", name, "data");
  int64_t offset = 0;
  do {
    in.read(chunk.data(), static_cast<std::streamsize>(kChunk));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0 && offset > 0) break;
    auto r = client->Do("PUT", data + "?offset=" + std::to_string(offset),
                        std::string_view(chunk.data(), n), "application/octet-stream");
    if (!r.ok()) return r.status();
    if (r->code != 200) return client::StatusFromResponse(r->code, r->body, r->Header("retry-after"));
    offset += static_cast<int64_t>(n);
    Bar(offset, total);
  } while (in);
  if (isatty(2)) std::cerr << "\n";
  KUMO_ASSIGN_OR_RETURN(std::string sha, Sha256File(f.file));
  auto r = client->Do("PUT", data + "?commit=" + sha, "", "application/octet-stream");
  if (!r.ok()) return r.status();
  if (r->code != 200) return client::StatusFromResponse(r->code, r->body, r->Header("retry-after"));
  Print("image/" + name + " uploaded (" + HumanBytes(total) + ", sha256 " + sha.substr(0, 12) + ")\n");
  std::cerr << "Each node fetches it into its cache when a VM there first boots from it; boot it with "
               "'kumo vm create NAME --image "
            << name << "'\n";
  return Status::Ok();
}

}  // namespace

void AddImageUploadCommand(CLI::App& image, Cli& cli) {
  auto uf = std::make_shared<UploadFlags>();
  CLI::App* up = image.add_subcommand(
      "upload",
      "Upload a qcow2 or raw image to the server once; each node fetches it by checksum into\n"
      "its own cache (no image directory shared between nodes needed)");
  up->add_option("file", uf->file, "Image file")->required();
  up->add_option("--name", uf->name, "Image name (default: from the file name)");
  up->add_flag("--replace", uf->replace, "Overwrite an image of the same name");
  Examples(up, "  kumo image upload ./debian-12.qcow2 --name debian-12");
  OnRun(up, cli, [&cli, uf] { return RunUpload(cli, *uf); });
}

}  // namespace kumo::cli
