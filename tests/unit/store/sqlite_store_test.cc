#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace kumo::store {
namespace {

using namespace std::chrono_literals;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kumo-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    options_.path = dir_ + "/state.db";
    options_.durable = false;  // the durability test turns it back on
    options_.compact_interval = std::chrono::seconds(0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  KeyValue MustCreate(Store& s, const std::string& key, const std::string& value) {
    StatusOr<KeyValue> kv = s.Create(key, value);
    EXPECT_TRUE(kv.ok()) << kv.status().ToString();
    return kv.ok() ? *kv : KeyValue{};
  }
  KeyValue MustUpdate(Store& s, const std::string& key, const std::string& value) {
    StatusOr<KeyValue> kv = s.Update(key, value, 0);
    EXPECT_TRUE(kv.ok()) << kv.status().ToString();
    return kv.ok() ? *kv : KeyValue{};
  }

  // Reads events until one at `last_revision` arrives (or a generous number of empty polls).
  static std::vector<Event> DrainUntil(WatchStream& w, int64_t last_revision) {
    std::vector<Event> out;
    for (int idle = 0; idle < 600;) {
      StatusOr<std::vector<Event>> batch = w.Next(100ms);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      if (batch->empty()) ++idle;
      for (Event& e : *batch) out.push_back(std::move(e));
      if (!out.empty() && out.back().kv.mod_revision >= last_revision) break;
    }
    return out;
  }

  // Rows physically left in the kv table: what compaction is supposed to shrink.
  int64_t RowCount() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(options_.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM kv", -1, &stmt, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  }

  std::string dir_;
  SqliteOptions options_;
};

TEST_F(SqliteStoreTest, CreateGetUpdateDeleteAndErrorCodes) {
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 0);
  EXPECT_EQ(s->Get("/r/a").status().code(), Code::kNotFound);

  KeyValue created = MustCreate(*s, "/r/a", "v1");
  EXPECT_EQ(created.key, "/r/a");
  EXPECT_EQ(created.value, "v1");
  EXPECT_EQ(created.create_revision, 1);
  EXPECT_EQ(created.mod_revision, 1);
  EXPECT_EQ(s->Create("/r/a", "again").status().code(), Code::kAlreadyExists);

  StatusOr<KeyValue> got = s->Get("/r/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, "v1");
  EXPECT_EQ(got->mod_revision, 1);

  StatusOr<KeyValue> updated = s->Update("/r/a", "v2", 1);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->mod_revision, 2);
  EXPECT_EQ(updated->create_revision, 1);
  EXPECT_EQ(s->Get("/r/a")->value, "v2");

  StatusOr<KeyValue> stale = s->Update("/r/a", "v3", 1);
  EXPECT_EQ(stale.status().code(), Code::kConflict);
  EXPECT_NE(stale.status().message().find("the object has been modified; please apply your "
                                          "changes to the latest version and try again"),
            std::string::npos);
  EXPECT_EQ(s->Get("/r/a")->value, "v2");
  EXPECT_EQ(s->Update("/r/missing", "x", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(s->Delete("/r/a", 1).status().code(), Code::kConflict);
  EXPECT_EQ(s->Delete("/r/missing", 0).status().code(), Code::kNotFound);

  StatusOr<KeyValue> deleted = s->Delete("/r/a", 2);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->value, "v2");
  EXPECT_EQ(deleted->mod_revision, 3);
  EXPECT_EQ(deleted->create_revision, 1);
  EXPECT_EQ(s->Get("/r/a").status().code(), Code::kNotFound);
  EXPECT_EQ(s->Delete("/r/a", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(s->Update("/r/a", "x", 0).status().code(), Code::kNotFound);

  // Failed writes consume no revision; a re-created key gets a new create_revision.
  EXPECT_EQ(s->CurrentRevision(), 3);
  KeyValue again = MustCreate(*s, "/r/a", "v4");
  EXPECT_EQ(again.create_revision, 4);
  EXPECT_EQ(again.mod_revision, 4);
}

TEST_F(SqliteStoreTest, ValuesAreBytes) {
  auto s = Open();
  ASSERT_TRUE(s);
  std::string binary("a\0b\xff", 4);
  MustCreate(*s, "/bin", binary);
  MustCreate(*s, "/empty", "");
  EXPECT_EQ(s->Get("/bin")->value, binary);
  EXPECT_EQ(s->Get("/empty")->value, "");
  EXPECT_EQ(s->Create("", "x").status().code(), Code::kBadRequest);
}

TEST_F(SqliteStoreTest, RevisionsAreGlobalAndStrictlyIncreasing) {
  auto s = Open();
  ASSERT_TRUE(s);
  int64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    KeyValue kv = MustCreate(*s, "/k/" + std::to_string(i), "v");
    EXPECT_EQ(kv.mod_revision, last + 1);
    last = kv.mod_revision;
    kv = MustUpdate(*s, "/k/0", std::to_string(i));
    EXPECT_EQ(kv.mod_revision, last + 1);
    last = kv.mod_revision;
  }
  EXPECT_EQ(s->CurrentRevision(), last);
}

TEST_F(SqliteStoreTest, ConcurrentCreatesFrom16ThreadsGetUniqueRevisions) {
  auto s = Open();
  ASSERT_TRUE(s);
  constexpr int kThreads = 16, kPerThread = 50;
  std::vector<std::vector<int64_t>> revs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        StatusOr<KeyValue> kv =
            s->Create("/c/" + std::to_string(t) + "-" + std::to_string(i), std::to_string(t));
        if (kv.ok()) revs[t].push_back(kv->mod_revision);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (const auto& r : revs) {
    EXPECT_EQ(r.size(), size_t{kPerThread});
    EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));  // each caller sees its writes in order
    all.insert(r.begin(), r.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  StatusOr<ListResult> list = s->List("/c/", "", 0, 0);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(list->revision, kThreads * kPerThread);
}

TEST_F(SqliteStoreTest, ConcurrentUpdatesWithSameExpectedRevisionOnlyOneWins) {
  auto s = Open();
  ASSERT_TRUE(s);
  int64_t rev = MustCreate(*s, "/one", "0").mod_revision;
  std::atomic<int> ok{0}, conflict{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      StatusOr<KeyValue> kv = s->Update("/one", std::to_string(t), rev);
      if (kv.ok()) ++ok;
      if (kv.status().code() == Code::kConflict) ++conflict;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 7);
}

TEST_F(SqliteStoreTest, GuaranteedUpdateLosesNoIncrementsUnderContention) {
  auto s = Open();
  ASSERT_TRUE(s);
  MustCreate(*s, "/counter", "0");
  constexpr int kThreads = 6, kIncrements = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        StatusOr<KeyValue> kv = GuaranteedUpdate(
            *s, "/counter",
            [](const KeyValue& cur) -> StatusOr<std::string> {
              return std::to_string(std::stoi(cur.value) + 1);
            },
            /*max_attempts=*/10000);
        if (!kv.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s->Get("/counter")->value, std::to_string(kThreads * kIncrements));
}

TEST_F(SqliteStoreTest, ListWithPrefixAndPagination) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (std::string k : {"/a/3", "/a/1", "/a/5", "/a/2", "/a/4", "/ab", "/b/1", "/a"}) {
    MustCreate(*s, k, "v" + k);
  }
  StatusOr<ListResult> all = s->List("/a/", "", 0, 0);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& kv : all->items) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"/a/1", "/a/2", "/a/3", "/a/4", "/a/5"}));
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->items[0].value, "v/a/1");
  EXPECT_EQ(s->List("", "", 0, 0)->items.size(), 8u);

  // Page through at the first page's revision while the data changes underneath.
  StatusOr<ListResult> page1 = s->List("/a/", "", 2, 0);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 2u);
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(page1->items[1].key, "/a/2");
  int64_t rev = page1->revision;
  ASSERT_TRUE(s->Delete("/a/3", 0).ok());
  MustCreate(*s, "/a/6", "new");
  MustUpdate(*s, "/a/4", "changed");

  StatusOr<ListResult> page2 = s->List("/a/", "/a/2", 2, rev);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->items.size(), 2u);
  EXPECT_EQ(page2->items[0].key, "/a/3");
  EXPECT_EQ(page2->items[1].key, "/a/4");
  EXPECT_EQ(page2->items[1].value, "v/a/4");
  EXPECT_TRUE(page2->more);
  EXPECT_EQ(page2->revision, rev);
  StatusOr<ListResult> page3 = s->List("/a/", "/a/4", 2, rev);
  ASSERT_TRUE(page3.ok());
  ASSERT_EQ(page3->items.size(), 1u);
  EXPECT_EQ(page3->items[0].key, "/a/5");
  EXPECT_FALSE(page3->more);

  // The current state shows the changes.
  StatusOr<ListResult> now = s->List("/a/", "", 0, 0);
  ASSERT_TRUE(now.ok());
  keys.clear();
  for (const auto& kv : now->items) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"/a/1", "/a/2", "/a/4", "/a/5", "/a/6"}));
  EXPECT_EQ(now->revision, s->CurrentRevision());
  // A limit that exactly fits reports no more.
  EXPECT_FALSE(s->List("/a/", "", 5, 0)->more);
  EXPECT_TRUE(s->List("/a/", "", 4, 0)->more);
}

TEST_F(SqliteStoreTest, ListAtOlderRevisionReturnsOldState) {
  auto s = Open();
  ASSERT_TRUE(s);
  MustCreate(*s, "/o/a", "a1");
  MustCreate(*s, "/o/b", "b1");
  int64_t old_rev = s->CurrentRevision();
  MustUpdate(*s, "/o/a", "a2");
  ASSERT_TRUE(s->Delete("/o/b", 0).ok());
  MustCreate(*s, "/o/c", "c1");

  StatusOr<ListResult> old = s->List("/o/", "", 0, old_rev);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  ASSERT_EQ(old->items.size(), 2u);
  EXPECT_EQ(old->items[0].value, "a1");
  EXPECT_EQ(old->items[0].mod_revision, 1);
  EXPECT_EQ(old->items[1].key, "/o/b");
  EXPECT_EQ(old->items[1].value, "b1");
  EXPECT_EQ(old->revision, old_rev);

  StatusOr<ListResult> now = s->List("/o/", "", 0, 0);
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->items.size(), 2u);
  EXPECT_EQ(now->items[0].value, "a2");
  EXPECT_EQ(now->items[1].key, "/o/c");

  StatusOr<ListResult> future = s->List("/o/", "", 0, s->CurrentRevision() + 10);
  EXPECT_EQ(future.status().code(), Code::kTimeout);
}

TEST_F(SqliteStoreTest, WatchDeliversEventsInOrderAndDeletesCarryLastValue) {
  auto s = Open();
  ASSERT_TRUE(s);
  MustCreate(*s, "/w/pre", "x");
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/w/", s->CurrentRevision());
  ASSERT_TRUE(w.ok());
  MustCreate(*s, "/w/a", "1");
  MustCreate(*s, "/other", "ignored");
  MustUpdate(*s, "/w/a", "2");
  StatusOr<KeyValue> del = s->Delete("/w/a", 0);
  ASSERT_TRUE(del.ok());

  std::vector<Event> events = DrainUntil(**w, del->mod_revision);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kCreate);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].type, EventType::kUpdate);
  EXPECT_EQ(events[1].kv.value, "2");
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv.key, "/w/a");
  EXPECT_EQ(events[2].kv.value, "2");
  EXPECT_EQ(events[2].kv.mod_revision, del->mod_revision);
  EXPECT_EQ(events[2].kv.create_revision, events[0].kv.mod_revision);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].kv.mod_revision, events[i].kv.mod_revision);
  }
  // Nothing further: an empty batch on timeout.
  StatusOr<std::vector<Event>> idle = (*w)->Next(10ms);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->empty());
}

TEST_F(SqliteStoreTest, WatchFromRevisionReplaysHistoryThenLiveWithNoGapOrDuplicate) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 20; ++i) MustCreate(*s, "/h/" + std::to_string(i), "v");
  constexpr int kLiveWrites = 300;
  std::thread writer([&] {
    for (int i = 0; i < kLiveWrites; ++i) MustUpdate(*s, "/h/" + std::to_string(i % 20), "u");
  });
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/h/", 5);
  ASSERT_TRUE(w.ok());
  writer.join();
  std::vector<Event> events = DrainUntil(**w, 20 + kLiveWrites);
  ASSERT_EQ(events.size(), size_t{15 + kLiveWrites});
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].kv.mod_revision, int64_t(6 + i));
}

TEST_F(SqliteStoreTest, WatchReplaysLongHistoryInChunks) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 2500; ++i) MustCreate(*s, "/long/" + std::to_string(i), "v");
  MustCreate(*s, "/elsewhere", "v");
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/long/", 0);
  ASSERT_TRUE(w.ok());
  MustCreate(*s, "/long/live", "v");
  std::vector<Event> events = DrainUntil(**w, 2502);
  ASSERT_EQ(events.size(), 2501u);
  EXPECT_EQ(events.front().kv.mod_revision, 1);
  EXPECT_EQ(events[2499].kv.mod_revision, 2500);
  EXPECT_EQ(events.back().kv.key, "/long/live");
}

TEST_F(SqliteStoreTest, WatchResumesAcrossReopen) {
  int64_t resume_from;
  {
    auto s = Open();
    ASSERT_TRUE(s);
    MustCreate(*s, "/r/a", "1");
    resume_from = s->CurrentRevision();
    MustUpdate(*s, "/r/a", "2");
    ASSERT_TRUE(s->Delete("/r/a", 0).ok());
  }
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 3);
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/r/", resume_from);
  ASSERT_TRUE(w.ok());
  MustCreate(*s, "/r/b", "3");
  std::vector<Event> events = DrainUntil(**w, 4);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kUpdate);
  EXPECT_EQ(events[0].kv.mod_revision, 2);
  EXPECT_EQ(events[1].type, EventType::kDelete);
  EXPECT_EQ(events[1].kv.value, "2");
  EXPECT_EQ(events[2].type, EventType::kCreate);
  EXPECT_EQ(events[2].kv.mod_revision, 4);
}

TEST_F(SqliteStoreTest, CompactionForgetsHistoryButKeepsCurrentState) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 1; i <= 10; ++i) {
    if (i == 1) {
      MustCreate(*s, "/x", "1");
    } else {
      MustUpdate(*s, "/x", std::to_string(i));
    }
  }
  MustCreate(*s, "/gone", "g");             // 11
  ASSERT_TRUE(s->Delete("/gone", 0).ok());  // 12
  MustCreate(*s, "/keep", "k");             // 13
  int64_t rows_before = RowCount();
  ASSERT_TRUE(s->Compact(12).ok());
  EXPECT_EQ(s->CompactedRevision(), 12);
  EXPECT_TRUE(s->Compact(5).ok());  // older: no-op
  EXPECT_EQ(s->CompactedRevision(), 12);
  EXPECT_EQ(s->Compact(100).code(), Code::kBadRequest);
  EXPECT_LT(RowCount(), rows_before);
  EXPECT_EQ(RowCount(), 2);  // /x at 10 and /keep at 13

  EXPECT_EQ(s->List("/", "", 0, 5).status().code(), Code::kGone);
  EXPECT_EQ(s->List("/", "", 0, 12).status().code(), Code::kGone);
  StatusOr<std::unique_ptr<WatchStream>> old = s->Watch("/", 11);
  EXPECT_EQ(old.status().code(), Code::kGone);
  EXPECT_NE(old.status().message().find("compacted"), std::string::npos);

  StatusOr<KeyValue> x = s->Get("/x");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->value, "10");
  EXPECT_EQ(x->mod_revision, 10);
  EXPECT_EQ(s->Get("/gone").status().code(), Code::kNotFound);
  StatusOr<ListResult> at13 = s->List("/", "", 0, 13);
  ASSERT_TRUE(at13.ok());
  ASSERT_EQ(at13->items.size(), 2u);

  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/", 12);
  ASSERT_TRUE(w.ok());
  std::vector<Event> events = DrainUntil(**w, 13);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "/keep");
}

TEST_F(SqliteStoreTest, CompactionEndsAStreamThatHasNotReadItsHistory) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) MustCreate(*s, "/s/" + std::to_string(i), "v");
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/s/", 2);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(s->Compact(8).ok());
  StatusOr<std::vector<Event>> next = (*w)->Next(10ms);
  EXPECT_EQ(next.status().code(), Code::kGone);
}

TEST_F(SqliteStoreTest, CurrentRevisionSurvivesReopenAfterCompactingADelete) {
  {
    auto s = Open();
    ASSERT_TRUE(s);
    MustCreate(*s, "/d", "v");
    ASSERT_TRUE(s->Delete("/d", 0).ok());
    ASSERT_TRUE(s->Compact(2).ok());  // removes every row, including the newest
  }
  EXPECT_EQ(RowCount(), 0);
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 2);
  EXPECT_EQ(s->CompactedRevision(), 2);
  EXPECT_EQ(s->Watch("/", 1).status().code(), Code::kGone);
  EXPECT_EQ(MustCreate(*s, "/d", "again").mod_revision, 3);
}

TEST_F(SqliteStoreTest, InterruptedCompactionIsFinishedOnOpen) {
  {
    auto s = Open();
    ASSERT_TRUE(s);
    MustCreate(*s, "/i", "1");
    for (int i = 2; i <= 6; ++i) MustUpdate(*s, "/i", std::to_string(i));
  }
  // Simulate a crash after the compaction mark was written but before rows were removed.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO meta (name, value) VALUES ('compact_rev', 5)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(RowCount(), 6);
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CompactedRevision(), 5);
  EXPECT_EQ(RowCount(), 2);  // revision 5 (state at the mark) and 6
  EXPECT_EQ(s->Get("/i")->value, "6");
}

TEST_F(SqliteStoreTest, BackgroundCompactionKeepsRetainedHistory) {
  options_.retain_revisions = 5;
  options_.compact_interval = std::chrono::seconds(1);
  auto s = Open();
  ASSERT_TRUE(s);
  MustCreate(*s, "/bg", "0");
  for (int i = 1; i < 20; ++i) MustUpdate(*s, "/bg", std::to_string(i));
  // Wait (bounded) for the background thread; no assertion on how long it took.
  for (int i = 0; i < 600 && s->CompactedRevision() < 15; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(s->CompactedRevision(), 15);
  StatusOr<ListResult> kept = s->List("/", "", 0, 16);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->items[0].value, "15");
  EXPECT_EQ(s->Get("/bg")->value, "19");
}

TEST_F(SqliteStoreTest, PersistsValuesAndRevisionsAcrossReopen) {
  options_.durable = true;
  std::vector<KeyValue> written;
  {
    auto s = Open();
    ASSERT_TRUE(s);
    for (int i = 0; i < 5; ++i) MustCreate(*s, "/p/" + std::to_string(i), "v" + std::to_string(i));
    MustUpdate(*s, "/p/2", "changed");
    ASSERT_TRUE(s->Delete("/p/4", 0).ok());
    written = s->List("/p/", "", 0, 0)->items;
  }
  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CurrentRevision(), 7);
  StatusOr<ListResult> reread = s->List("/p/", "", 0, 0);
  ASSERT_TRUE(reread.ok());
  ASSERT_EQ(reread->items.size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(reread->items[i].key, written[i].key);
    EXPECT_EQ(reread->items[i].value, written[i].value);
    EXPECT_EQ(reread->items[i].mod_revision, written[i].mod_revision);
    EXPECT_EQ(reread->items[i].create_revision, written[i].create_revision);
  }
  EXPECT_EQ(s->Get("/p/2")->mod_revision, 6);
  EXPECT_EQ(MustCreate(*s, "/p/new", "x").mod_revision, 8);
}

TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveKill9) {
  options_.durable = true;
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Writes until killed, reporting each acknowledged revision to the parent.
    ::close(acks[0]);
    StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options_);
    if (!store.ok()) ::_exit(2);
    for (int i = 0;; ++i) {
      StatusOr<KeyValue> kv = (*store)->Create("/k9/" + std::to_string(i), std::to_string(i));
      if (!kv.ok()) ::_exit(3);
      int64_t rev = kv->mod_revision;
      if (::write(acks[1], &rev, sizeof rev) != sizeof rev) ::_exit(4);
    }
  }
  ::close(acks[1]);
  int64_t rev = 0, last = 0;
  for (int n = 0; n < 100 && ::read(acks[0], &rev, sizeof rev) == sizeof rev; ++n) last = rev;
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  while (::read(acks[0], &rev, sizeof rev) == sizeof rev) last = rev;  // acks sent before death
  ::close(acks[0]);
  ASSERT_GE(last, 100);

  auto s = Open();
  ASSERT_TRUE(s);
  EXPECT_GE(s->CurrentRevision(), last);
  for (int64_t r = 1; r <= last; ++r) {
    StatusOr<KeyValue> kv = s->Get("/k9/" + std::to_string(r - 1));
    ASSERT_TRUE(kv.ok()) << "acknowledged revision " << r << " lost: " << kv.status().ToString();
    EXPECT_EQ(kv->mod_revision, r);
  }
}

TEST_F(SqliteStoreTest, SecondOpenOfTheSameFileIsRefused) {
  auto s = Open();
  ASSERT_TRUE(s);
  StatusOr<std::unique_ptr<Store>> second = OpenSqliteStore(options_);
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

TEST_F(SqliteStoreTest, SlowWatcherGetsGoneInsteadOfUnboundedMemory) {
  options_.watch_queue_limit = 10;
  auto s = Open();
  ASSERT_TRUE(s);
  StatusOr<std::unique_ptr<WatchStream>> slow = s->Watch("/", 0);
  ASSERT_TRUE(slow.ok());
  for (int i = 0; i < 11; ++i) MustCreate(*s, "/q/" + std::to_string(i), "v");
  EXPECT_EQ((*slow)->Next(10ms).status().code(), Code::kGone);
  // A fresh watch from the current revision works.
  StatusOr<std::unique_ptr<WatchStream>> fresh = s->Watch("/", s->CurrentRevision());
  ASSERT_TRUE(fresh.ok());
  MustCreate(*s, "/q/new", "v");
  EXPECT_EQ(DrainUntil(**fresh, 12).size(), 1u);
}

TEST_F(SqliteStoreTest, ClosingTheStoreEndsStreamsWithUnavailable) {
  auto s = Open();
  ASSERT_TRUE(s);
  StatusOr<std::unique_ptr<WatchStream>> w = s->Watch("/", 0);
  ASSERT_TRUE(w.ok());
  std::thread waiter([&] {
    // Blocks until the store closes (the timeout is only a safety net).
    StatusOr<std::vector<Event>> next = (*w)->Next(60s);
    EXPECT_EQ(next.status().code(), Code::kUnavailable);
  });
  s.reset();
  waiter.join();
  EXPECT_EQ((*w)->Next(1ms).status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace kumo::store
