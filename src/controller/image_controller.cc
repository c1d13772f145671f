#include "controller/image_controller.h"

#include <set>

#include "api/object.h"
#include "controller/objects.h"

namespace kumo::controller {

namespace {

constexpr std::string_view kImagePrefix = "kumo.io/images/";

const api::ResourceInfo& Images() { return Resource("kumo.io", "v1alpha1", "images"); }
const api::ResourceInfo& Nodes() { return Resource("", "v1", "nodes"); }

// The Image names a node reports in status.images.
std::set<std::string> CachedImagesOf(const json::value& node) {
  std::set<std::string> out;
  const json::value* images = Find(node, {"status", "images"});
  if (!images || !images->is_array()) return out;
  for (const auto& i : images->get_array()) {
    const json::value* names = Find(i, {"names"});
    if (!names || !names->is_array()) continue;
    for (const auto& n : names->get_array()) {
      if (!n.is_string() || !n.get_string().starts_with(kImagePrefix)) continue;
      std::string rest(std::string_view(n.get_string()).substr(kImagePrefix.size()));
      out.insert(rest.substr(0, rest.find('@')));
    }
  }
  return out;
}

}  // namespace

ImageController::ImageController(store::Store& store, store::WatchCache& cache)
    : store_(store), cache_(cache) {
  std::vector<Controller::Watch> watches = {
      {Images().KeyPrefix(),
       [](const store::CachedObject& o) { return std::vector<std::string>{o.key}; }},
      // A node's cache changed: the images it held before or holds now.
      {Nodes().KeyPrefix(), [this](const store::CachedObject& o) { return Changed(o); }},
  };
  controller_ = std::make_unique<Controller>(
      "image-controller", cache_, std::move(watches),
      [this](const std::string& key) { return Reconcile(key); }, /*workers=*/1);
}

std::vector<std::string> ImageController::Changed(const store::CachedObject& o) {
  const std::string node = o.key.substr(Nodes().KeyPrefix().size());
  std::set<std::string> now;
  // A node deleted from the cache shows up without status: it caches nothing any more.
  if (o.json.find(kImagePrefix) != std::string::npos && cache_.Get(o.key)) {
    StatusOr<json::value> parsed = ParseJson(o.json);
    if (parsed.ok()) now = CachedImagesOf(*parsed);
  }
  std::lock_guard lock(mu_);
  std::set<std::string>& before = by_node_[node];
  if (before == now) return {};
  std::vector<std::string> keys;
  for (const auto& name : before) {
    if (!now.count(name)) {
      by_image_[name].erase(node);
      keys.push_back(Images().Key("", name));
    }
  }
  for (const auto& name : now) {
    if (!before.count(name)) {
      by_image_[name].insert(node);
      keys.push_back(Images().Key("", name));
    }
  }
  if (now.empty()) by_node_.erase(node);
  else before = std::move(now);
  return keys;
}

ImageController::~ImageController() { Stop(); }
void ImageController::Start() { controller_->Start(); }
void ImageController::Stop() { controller_->Stop(); }

StatusOr<Result> ImageController::Reconcile(const std::string& key) {
  const std::string name = key.substr(Images().KeyPrefix().size());
  json::array nodes;
  {
    std::lock_guard lock(mu_);
    if (auto it = by_image_.find(name); it != by_image_.end()) {
      for (const auto& n : it->second) nodes.push_back(json::value(n));
    }
  }
  Status st = Mutate(store_, key, [&](json::value& image) -> Status {
    if (!Find(image, {"spec", "source", "upload"})) return Status(Code::kAlreadyExists, "not uploaded");
    const json::value* have = Find(image, {"status", "nodes"});
    if (have && *have == json::value(nodes)) return Status(Code::kAlreadyExists, "unchanged");
    EnsureObject(image, {"status"})["nodes"] = nodes;
    return Status::Ok();
  });
  if (!st.ok() && st.code() != Code::kAlreadyExists && st.code() != Code::kNotFound) return st;
  return Result{};
}

}  // namespace kumo::controller
