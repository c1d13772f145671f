// What the controller tests share: a real SQLite store in a temp dir, a watch cache over
// "/registry/", an event recorder and a fake clock, torn down after the controller under test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "api/object.h"
#include "common/clock.h"
#include "controller/events.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/watch_cache.h"

namespace kumo::controller::testing {

// Derived fixtures call ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp()) first. Cleanup runs
// in the destructor so that the derived fixture's controller, a member destroyed before this
// base, lets go of the store and cache before they close.
class ControllerFixture : public ::testing::Test {
 protected:
  // `indexer` fills the cached objects' fields (null: none).
  explicit ControllerFixture(store::WatchCache::Indexer indexer = nullptr)
      : indexer_(std::move(indexer)) {}
  ~ControllerFixture() override {
    events_.reset();
    cache_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("kumo-controller-" + std::to_string(::getpid()) + "-" + test->test_suite_name() + "-" +
            test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions o;
    o.path = (dir_ / "db").string();
    o.durable = false;
    store_ = std::move(store::OpenSqliteStore(o)).value();
    cache_ = std::make_unique<store::WatchCache>(*store_, "/registry/", indexer_, 1000);
    ASSERT_TRUE(cache_->Start().ok());
    events_ = std::make_unique<EventRecorder>(*store_, clock_, "test");
  }

  // The object stored at `key`, parsed, or nullopt when there is none.
  std::optional<json::value> Get(const std::string& key) {
    auto kv = store_->Get(key);
    if (!kv.ok()) return std::nullopt;
    return *api::ParseStored(kv->value, kv->mod_revision);
  }
  // Rewrites the object stored at `key` with `fn`, retrying on conflicts.
  void Mutate(const std::string& key, const std::function<void(json::value&)>& fn) {
    auto res = store::GuaranteedUpdate(*store_, key,
                                       [&](const store::KeyValue& cur) -> StatusOr<std::string> {
                                         json::value v = *ParseJson(cur.value);
                                         fn(v);
                                         return api::SerializeForStore(v);
                                       });
    ASSERT_TRUE(res.ok()) << res.status().ToString();
  }
  // Waits until the cache has every write made so far.
  void Sync() {
    ASSERT_TRUE(
        cache_->WaitForRevision(store_->CurrentRevision(), std::chrono::milliseconds(5000)).ok());
  }

  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::WatchCache> cache_;
  std::unique_ptr<EventRecorder> events_;

 private:
  store::WatchCache::Indexer indexer_;
  std::filesystem::path dir_;
};

}  // namespace kumo::controller::testing
