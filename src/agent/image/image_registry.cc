#include "agent/image/image_registry.h"

#include <iostream>

#include "agent/image/tiny_image.h"

namespace kumo::agent {

Status RegisterImage(client::RestClient& client, const std::string& name, const std::string& format,
                     const json::value& source, const std::string& path, int64_t size,
                     const std::string& sha256) {
  std::string collection = client::ResourcePath("kumo.io", "v1alpha1", "images");
  std::string item = client::ResourcePath("kumo.io", "v1alpha1", "images", "", name);
  json::value image = json::object{{"apiVersion", "kumo.io/v1alpha1"},
                                   {"kind", "Image"},
                                   {"metadata", json::object{{"name", name}}},
                                   {"spec", json::object{{"format", format}, {"source", source}}}};
  auto created = client.Create(collection, image);
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    created = client.Patch(item, client::PatchType::kMerge,
                           json::object{{"spec", image.at("spec")}});
  }
  if (!created.ok()) return created.status();
  json::object status{{"phase", "Ready"},
                      {"path", path},
                      {"size", size},
                      {"checksum", "sha256:" + sha256}};
  auto patched = client.Patch(client::ResourcePath("kumo.io", "v1alpha1", "images", "", name, "status"),
                              client::PatchType::kMerge, json::object{{"status", status}});
  return patched.ok() ? Status::Ok() : patched.status();
}

Status BuildAndRegisterTiny(client::RestClient& client, const std::string& image_dir) {
  auto built = BuildTinyImage(image_dir, image_dir + "/.cache", [](const std::string& line) {
    std::cerr << "  " << line << "\n";
  });
  if (!built.ok()) return built.status();
  return RegisterImage(client, "tiny", built->format, json::object{{"builtin", "tiny"}},
                       built->disk_path, built->size_bytes, built->sha256);
}

}  // namespace kumo::agent
