#include "store/event_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "api/object.h"

namespace kumo::store {
namespace {

namespace fs = std::filesystem;

std::string Event(const std::string& name, const std::string& last_seen) {
  json::value ev = json::object{{"apiVersion", "v1"},
                                {"kind", "Event"},
                                {"metadata", json::object{{"name", name}, {"namespace", "a"}}},
                                {"reason", "Test"},
                                {"lastTimestamp", last_seen}};
  return api::SerializeForStore(ev);
}

TEST(EventStoreTest, ExpiredEventsAreDeletedOthersKept) {
  fs::path dir = fs::temp_directory_path() / ("kumo-events-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  FakeClock clock(1700000000);
  EventStoreOptions o;
  o.path = (dir / "events.db").string();
  o.ttl = std::chrono::seconds(3600);
  o.sweep_interval = std::chrono::seconds(3600);  // swept by hand below
  auto es = EventStore::Open(o, nullptr, clock);
  ASSERT_TRUE(es.ok()) << es.status().ToString();
  Store& s = (*es)->store();
  const std::string prefix = EventStore::kPrefix;
  ASSERT_TRUE(s.Create(prefix + "a/old", Event("old", FormatTime(1700000000 - 7200))).ok());
  ASSERT_TRUE(s.Create(prefix + "a/new", Event("new", FormatTime(1700000000 - 60))).ok());
  ASSERT_TRUE((*es)->cache().WaitForRevision(s.CurrentRevision(), std::chrono::seconds(5)).ok());
  EXPECT_EQ((*es)->SweepExpired(), 1u);
  EXPECT_FALSE(s.Get(prefix + "a/old").ok());
  EXPECT_TRUE(s.Get(prefix + "a/new").ok());
  // An hour later the other one has expired too.
  clock.Advance(3600);
  ASSERT_TRUE((*es)->cache().WaitForRevision(s.CurrentRevision(), std::chrono::seconds(5)).ok());
  EXPECT_EQ((*es)->SweepExpired(), 1u);
  EXPECT_FALSE(s.Get(prefix + "a/new").ok());
  es->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kumo::store
