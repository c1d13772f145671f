#include "store/watch_cache.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/object.h"
#include "store/sqlite/sqlite_store.h"

namespace kumo::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string Obj(const std::string& name, const std::string& app) {
  json::value v = json::object{{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", json::object{{"name", name},
                                                         {"labels", json::object{{"app", app}}}}}};
  return api::SerializeForStore(v);
}

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-wc-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    SqliteOptions o;
    o.path = (dir_ / "db").string();
    store_ = std::move(OpenSqliteStore(o)).value();
  }
  void TearDown() override {
    cache_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void StartCache(size_t history = 1000) {
    cache_ = std::make_unique<WatchCache>(
        *store_, "/r/",
        [](const json::value& parsed, CachedObject& obj) {
          obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
        },
        history);
    ASSERT_TRUE(cache_->Start().ok());
  }
  // Waits for the cache to reflect the store's current revision.
  void Sync() { ASSERT_TRUE(cache_->WaitForRevision(store_->CurrentRevision(), milliseconds(5000)).ok()); }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WatchCache> cache_;
};

TEST_F(WatchCacheTest, LoadsExistingStateAndFollowsWrites) {
  ASSERT_TRUE(store_->Create("/r/a", Obj("a", "web")).ok());
  StartCache();
  ASSERT_TRUE(store_->Create("/r/b", Obj("b", "db")).ok());
  Sync();
  auto page = cache_->List("/r/", "", 0, nullptr);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.revision, store_->CurrentRevision());
  // Served bytes carry the resourceVersion.
  auto parsed = *ParseJson(page.items[1]->json);
  EXPECT_EQ(GetString(parsed, {"metadata", "resourceVersion"}), std::to_string(page.items[1]->mod_revision));
  // Labels are indexed for selectors.
  auto sel = *LabelSelector::Parse("app=db");
  auto filtered = cache_->List("/r/", "", 0, [&](const CachedObject& o) { return sel.Matches(o.labels); });
  ASSERT_EQ(filtered.items.size(), 1u);
  EXPECT_EQ(filtered.items[0]->Field("metadata.name"), "b");
}

TEST_F(WatchCacheTest, PaginatesInKeyOrder) {
  StartCache();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Create("/r/k" + std::to_string(i), Obj("k", "x")).ok());
  Sync();
  std::vector<std::string> keys;
  std::string after;
  while (true) {
    auto page = cache_->List("/r/", after, 3, nullptr);
    for (auto& o : page.items) keys.push_back(o->key);
    if (!page.more) break;
    after = page.items.back()->key;
  }
  ASSERT_EQ(keys.size(), 10u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST_F(WatchCacheTest, WatchDeliversHistoryThenLiveInOrder) {
  StartCache();
  ASSERT_TRUE(store_->Create("/r/a", Obj("a", "1")).ok());
  Sync();
  int64_t rev = cache_->revision();
  ASSERT_TRUE(store_->Create("/r/b", Obj("b", "1")).ok());
  auto kv = store_->Get("/r/a");
  ASSERT_TRUE(store_->Update("/r/a", Obj("a", "2"), kv->mod_revision).ok());
  Sync();
  auto watcher = cache_->Watch("/r/", rev);
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE(store_->Delete("/r/b", 0).ok());
  std::vector<CacheEvent> got;
  for (int i = 0; i < 50 && got.size() < 3; ++i) {
    auto evs = (*watcher)->Next(milliseconds(100));
    ASSERT_TRUE(evs.ok());
    got.insert(got.end(), evs->begin(), evs->end());
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, EventType::kCreate);
  EXPECT_EQ(got[1].type, EventType::kUpdate);
  ASSERT_NE(got[1].prev, nullptr);  // the previous state is known for selector transitions
  EXPECT_EQ(got[1].prev->labels[0].second, "1");
  EXPECT_EQ(got[2].type, EventType::kDelete);
  EXPECT_EQ(got[2].object->key, "/r/b");
  EXPECT_LT(got[0].revision, got[1].revision);
  EXPECT_LT(got[1].revision, got[2].revision);
}

TEST_F(WatchCacheTest, TooOldRevisionIsGone) {
  StartCache(/*history=*/16);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store_->Create("/r/k" + std::to_string(i), Obj("k", "x")).ok());
  Sync();
  auto watcher = cache_->Watch("/r/", 1);
  ASSERT_FALSE(watcher.ok());
  EXPECT_EQ(watcher.status().code(), Code::kGone);
  EXPECT_TRUE(cache_->Watch("/r/", cache_->revision() - 5).ok());
}

TEST_F(WatchCacheTest, AnIndexedWatchGetsOnlyItsValuesIncludingLeavingTheSelection) {
  // The field is metadata.name here; agents index on status.nodeName the same way.
  StartCache();
  ASSERT_TRUE(store_->Create("/r/a", Obj("a", "1")).ok());
  Sync();
  int64_t rev = cache_->revision();
  auto mine = cache_->Watch("/r/", rev, WatchCache::FieldIndex{"metadata.name", "b"});
  auto other = cache_->Watch("/r/", rev, WatchCache::FieldIndex{"metadata.name", "zz"});
  ASSERT_TRUE(mine.ok() && other.ok());
  ASSERT_TRUE(store_->Create("/r/b", Obj("b", "1")).ok());
  ASSERT_TRUE(store_->Update("/r/a", Obj("a", "2"), 0).ok());
  // /r/b renamed in place: it leaves the selection, and the watcher still hears of it.
  ASSERT_TRUE(store_->Update("/r/b", Obj("c", "1"), 0).ok());
  Sync();
  std::vector<CacheEvent> got;
  for (int i = 0; i < 20 && got.size() < 2; ++i) {
    auto evs = (*mine)->Next(milliseconds(100));
    ASSERT_TRUE(evs.ok());
    got.insert(got.end(), evs->begin(), evs->end());
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, EventType::kCreate);
  EXPECT_EQ(got[1].object->Field("metadata.name"), "c");
  EXPECT_EQ(got[1].prev->Field("metadata.name"), "b");
  auto none = (*other)->Next(milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // Replayed history is filtered the same way, and a closed watcher unregisters.
  auto again = cache_->Watch("/r/", rev, WatchCache::FieldIndex{"metadata.name", "b"});
  ASSERT_TRUE(again.ok());
  auto replay = (*again)->Next(milliseconds(50));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->size(), 2u);
  EXPECT_EQ(cache_->watcher_count(), 3u);
  mine->reset();
  other->reset();
  again->reset();
  EXPECT_EQ(cache_->watcher_count(), 0u);
}

}  // namespace
}  // namespace kumo::store
