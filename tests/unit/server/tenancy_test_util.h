// A real SQLite store and watch cache in a temp dir, for tests of the tenancy code that reads
// Tenants, VMs and flavors from the cache.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "api/object.h"
#include "api/resource.h"
#include "store/sqlite/sqlite_store.h"
#include "store/watch_cache.h"

namespace kumo::server::testing {

class CacheFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kumo-tenancy-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions o;
    o.path = (dir_ / "db").string();
    o.durable = false;
    store_ = std::move(store::OpenSqliteStore(o)).value();
    cache_ = std::make_unique<store::WatchCache>(
        *store_, "/registry/",
        [](const json::value& parsed, store::CachedObject& obj) {
          obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
          obj.fields.emplace_back("metadata.namespace",
                                  GetString(parsed, {"metadata", "namespace"}));
        },
        1000);
    ASSERT_TRUE(cache_->Start().ok());
  }
  void TearDown() override {
    cache_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

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
  void Sync() {
    ASSERT_TRUE(
        cache_->WaitForRevision(store_->CurrentRevision(), std::chrono::milliseconds(5000)).ok());
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

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::WatchCache> cache_;
};

}  // namespace kumo::server::testing
