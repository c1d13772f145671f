// A real SQLite store and watch cache in a temp dir (the controller tests' fixture), for tests
// of the tenancy code that reads Tenants, VMs and flavors from the cache.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "api/object.h"
#include "api/resource.h"
#include "../controller/controller_fixture.h"

namespace kumo::server::testing {

// The controller tests' store + cache fixture, indexing names and namespaces.
class CacheFixture : public controller::testing::ControllerFixture {
 protected:
  CacheFixture()
      : ControllerFixture([](const json::value& parsed, store::CachedObject& obj) {
          obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
          obj.fields.emplace_back("metadata.namespace",
                                  GetString(parsed, {"metadata", "namespace"}));
        }) {}

  const api::ResourceInfo& Kind(std::string_view group, std::string_view plural) {
    for (const auto& r : api::DefaultRegistry().resources()) {
      if (r.group == group && r.plural == plural) return r;
    }
    std::abort();
  }
  // Stores `obj` (create or replace) and waits until the cache has it.
  void Put(const api::ResourceInfo& r, const json::value& obj) {
    std::string key =
        r.Key(GetString(obj, {"metadata", "namespace"}), GetString(obj, {"metadata", "name"}));
    auto cur = store_->Get(key);
    auto res = cur.ok() ? store_->Update(key, api::SerializeForStore(obj), 0)
                        : store_->Create(key, api::SerializeForStore(obj));
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    Sync();
  }
  json::value Tenant(const std::string& name, json::object spec) {
    return json::object{{"apiVersion", "kumo.io/v1alpha1"},
                        {"kind", "Tenant"},
                        {"metadata", json::object{{"name", name}}},
                        {"spec", std::move(spec)}};
  }
  json::value Vm(const std::string& ns, const std::string& name, int cores,
                 const std::string& memory) {
    return json::object{
        {"apiVersion", "kubevirt.io/v1"},
        {"kind", "VirtualMachine"},
        {"metadata", json::object{{"name", name}, {"namespace", ns}}},
        {"spec",
         json::object{
             {"runStrategy", "Halted"},
             {"template",
              json::object{
                  {"spec",
                   json::object{
                       {"domain", json::object{{"cpu", json::object{{"cores", cores}}},
                                               {"memory", json::object{{"guest", memory}}}}}}}}}}}};
  }
};

}  // namespace kumo::server::testing
