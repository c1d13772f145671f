#include "api/openapi.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "api/resource.h"
#include "common/json.h"

namespace kumo::api {
namespace {

std::string GvPathOf(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

json::value MustParse(const std::string& text) {
  StatusOr<json::value> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : json::value();
}

json::value Document(const std::string& gv_path) {
  StatusOr<std::string> doc = OpenApiV3Document(DefaultRegistry(), gv_path);
  EXPECT_TRUE(doc.ok()) << gv_path << ": " << doc.status().ToString();
  return doc.ok() ? MustParse(*doc) : json::value();
}

// The component a `$ref` string points to.
const json::object* Resolve(const json::value& doc, std::string_view ref) {
  constexpr std::string_view kPrefix = "#/components/schemas/";
  if (!ref.starts_with(kPrefix)) return nullptr;
  const json::value* s = Find(doc, {"components", "schemas", ref.substr(kPrefix.size())});
  return s ? s->if_object() : nullptr;
}

// Follows a property of `schema`, unwrapping the allOf/$ref wrapper kube-apiserver uses.
const json::object* Property(const json::value& doc, const json::object& schema,
                             std::string_view name) {
  const json::value* props = schema.if_contains("properties");
  if (!props || !props->is_object()) return nullptr;
  const json::value* p = props->get_object().if_contains(name);
  if (!p || !p->is_object()) return nullptr;
  const json::object& field = p->get_object();
  if (const json::value* all = field.if_contains("allOf")) {
    const json::value& ref = all->get_array().at(0).get_object().at("$ref");
    return Resolve(doc, ref.get_string());
  }
  return &field;
}

TEST(OpenApiV3Test, RootListsEveryGroupVersionWithHashedUrl) {
  json::value root = MustParse(OpenApiV3Root(DefaultRegistry()));
  const json::object& paths = root.at("paths").as_object();
  std::set<std::string> want;
  for (const auto& [group, version] : DefaultRegistry().GroupVersions()) {
    want.insert(GvPathOf(group, version));
  }
  EXPECT_TRUE(want.contains("api/v1"));
  EXPECT_TRUE(want.contains("apis/kubevirt.io/v1"));
  EXPECT_TRUE(want.contains("apis/instancetype.kubevirt.io/v1beta1"));
  EXPECT_TRUE(want.contains("apis/coordination.k8s.io/v1"));
  EXPECT_EQ(paths.size(), want.size());
  for (const auto& gv : want) {
    ASSERT_TRUE(paths.contains(gv)) << gv;
    std::string url(paths.at(gv).at("serverRelativeURL").as_string());
    EXPECT_TRUE(url.starts_with("/openapi/v3/" + gv + "?hash=")) << url;
    EXPECT_GT(url.size(), ("/openapi/v3/" + gv + "?hash=").size()) << url;
  }
  // The hash is stable: the same registry gives the same URLs.
  EXPECT_EQ(OpenApiV3Root(DefaultRegistry()), OpenApiV3Root(DefaultRegistry()));
}

// kubectl's QueryParamVerifierV3 looks for a PATCH operation tagged with the kind's GVK that
// lists fieldValidation; without it kubectl apply falls back to OpenAPI v2 validation.
TEST(OpenApiV3Test, EveryKindHasPatchWithGvkAndFieldValidation) {
  for (const auto& r : DefaultRegistry().resources()) {
    SCOPED_TRACE(r.kind);
    json::value doc = Document(GvPathOf(r.group, r.version));
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc.at("openapi").as_string(), "3.0.0");
    bool found = false;
    for (const auto& path : doc.at("paths").as_object()) {
      const json::value* patch = path.value().as_object().if_contains("patch");
      if (!patch) continue;
      const json::object& gvk = patch->at("x-kubernetes-group-version-kind").as_object();
      if (gvk.at("group").as_string() != r.group || gvk.at("version").as_string() != r.version ||
          gvk.at("kind").as_string() != r.kind) {
        continue;
      }
      bool has_field_validation = false;
      for (const auto& p : patch->at("parameters").as_array()) {
        if (p.at("name").as_string() == "fieldValidation") {
          has_field_validation = true;
          EXPECT_EQ(p.at("in").as_string(), "query");
        }
      }
      EXPECT_TRUE(has_field_validation) << path.key();
      found = true;
    }
    EXPECT_TRUE(found) << "no PATCH operation for " << r.kind;

    // kubectl explain finds the schema by the same GVK.
    bool schema_found = false;
    for (const auto& s : doc.at("components").at("schemas").as_object()) {
      const json::value* gvks =
          s.value().as_object().if_contains("x-kubernetes-group-version-kind");
      if (!gvks) continue;
      for (const auto& g : gvks->as_array()) {
        if (g.at("kind").as_string() == r.kind && g.at("group").as_string() == r.group &&
            g.at("version").as_string() == r.version) {
          schema_found = true;
        }
      }
    }
    EXPECT_TRUE(schema_found);
  }
}

TEST(OpenApiV3Test, PathsFollowKubernetesLayout) {
  json::value core = Document("api/v1");
  const json::object& paths = core.at("paths").as_object();
  EXPECT_TRUE(paths.contains("/api/v1/namespaces/{namespace}/secrets"));
  EXPECT_TRUE(paths.contains("/api/v1/namespaces/{namespace}/secrets/{name}"));
  EXPECT_TRUE(paths.contains("/api/v1/nodes/{name}/status"));
  EXPECT_TRUE(paths.contains("/api/v1/namespaces"));
  EXPECT_FALSE(paths.contains("/api/v1/namespaces/{namespace}/secrets/{name}/status"));

  json::value kv = Document("/apis/kubevirt.io/v1");
  EXPECT_TRUE(kv.at("paths").as_object().contains(
      "/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}/status"));
}

TEST(OpenApiV3Test, EveryRefResolvesInsideItsDocument) {
  for (const auto& [group, version] : DefaultRegistry().GroupVersions()) {
    std::string gv = GvPathOf(group, version);
    json::value doc = Document(gv);
    std::string text = json::serialize(doc);
    size_t pos = 0;
    constexpr std::string_view kRef = "\"$ref\":\"";
    while ((pos = text.find(kRef, pos)) != std::string::npos) {
      pos += kRef.size();
      std::string ref = text.substr(pos, text.find('"', pos) - pos);
      EXPECT_NE(Resolve(doc, ref), nullptr) << gv << ": " << ref;
    }
  }
}

TEST(OpenApiV3Test, VirtualMachineSchemaExplainsRunStrategyAndTemplate) {
  json::value doc = Document("apis/kubevirt.io/v1");
  const json::object* vm = Resolve(doc, "#/components/schemas/io.kubevirt.v1.VirtualMachine");
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(vm->at("x-kubernetes-preserve-unknown-fields"), json::value(true));
  const json::object* spec = Property(doc, *vm, "spec");
  ASSERT_NE(spec, nullptr);
  const json::object* run_strategy = Property(doc, *spec, "runStrategy");
  ASSERT_NE(run_strategy, nullptr);
  std::string description(run_strategy->at("description").as_string());
  EXPECT_NE(description.find("Always"), std::string::npos) << description;
  EXPECT_NE(description.find("Halted"), std::string::npos) << description;
  EXPECT_NE(description.find("RerunOnFailure"), std::string::npos) << description;

  const json::object* tmpl = Property(doc, *spec, "template");
  ASSERT_NE(tmpl, nullptr);
  const json::object* vmi_spec = Property(doc, *tmpl, "spec");
  ASSERT_NE(vmi_spec, nullptr);
  const json::object* domain = Property(doc, *vmi_spec, "domain");
  ASSERT_NE(domain, nullptr);
  const json::object* cpu = Property(doc, *domain, "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_NE(Property(doc, *cpu, "cores"), nullptr);
  EXPECT_NE(Property(doc, *cpu, "dedicatedCpuPlacement"), nullptr);
  const json::object* memory = Property(doc, *domain, "memory");
  ASSERT_NE(memory, nullptr);
  const json::object* guest = Property(doc, *memory, "guest");
  ASSERT_NE(guest, nullptr);
  EXPECT_EQ(guest->at("x-kubernetes-int-or-string"), json::value(true));

  // The VMI shares the instance spec with the VM template.
  const json::object* vmi =
      Resolve(doc, "#/components/schemas/io.kubevirt.v1.VirtualMachineInstance");
  ASSERT_NE(vmi, nullptr);
  EXPECT_EQ(Property(doc, *vmi, "spec"), vmi_spec);
  const json::object* vmi_status = Property(doc, *vmi, "status");
  ASSERT_NE(vmi_status, nullptr);
  EXPECT_NE(Property(doc, *vmi_status, "interfaces"), nullptr);
}

TEST(OpenApiV3Test, UnknownGroupVersionIsNotFound) {
  StatusOr<std::string> doc = OpenApiV3Document(DefaultRegistry(), "apis/apps/v1");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kNotFound);
  EXPECT_FALSE(OpenApiV3Document(DefaultRegistry(), "api/v2").ok());
}

TEST(OpenApiV3Test, UnmodelledKindGetsGenericSchema) {
  ResourceInfo widget;
  widget.group = "example.com";
  widget.version = "v1alpha1";
  widget.kind = "Widget";
  widget.plural = "widgets";
  widget.singular = "widget";
  Registry registry({widget});
  json::value root = MustParse(OpenApiV3Root(registry));
  EXPECT_TRUE(root.at("paths").as_object().contains("apis/example.com/v1alpha1"));
  StatusOr<std::string> doc = OpenApiV3Document(registry, "apis/example.com/v1alpha1");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  json::value parsed = MustParse(*doc);
  EXPECT_NE(Resolve(parsed, "#/components/schemas/com.example.v1alpha1.Widget"), nullptr);
  EXPECT_NE(Resolve(parsed, "#/components/schemas/com.example.v1alpha1.WidgetList"), nullptr);
  EXPECT_FALSE(OpenApiV3Document(registry, "apis/kubevirt.io/v1").ok());
}

}  // namespace
}  // namespace kumo::api
