#include "store/watch_cache.h"

#include <algorithm>

#include "api/object.h"
#include "common/log.h"

namespace kumo::store {

namespace {
constexpr size_t kMaxWatcherBacklog = 100000;

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
// "group/plural" of `key` under `prefix` ("" when the key has fewer segments).
std::string_view KindOf(std::string_view key, std::string_view prefix) {
  if (key.size() <= prefix.size()) return {};
  std::string_view rest = key.substr(prefix.size());
  size_t first = rest.find('/');
  if (first == std::string_view::npos) return {};
  size_t second = rest.find('/', first + 1);
  if (second == std::string_view::npos) return {};
  return rest.substr(0, second);
}
}  // namespace

std::string CachedObject::Field(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "";
}

struct WatchCache::WatcherState {
  std::string prefix;
  std::optional<FieldIndex> index;

  bool Selects(const CacheEvent& ev) const {
    if (!HasPrefix(ev.object->key, prefix)) return false;
    if (!index) return true;
    return ev.object->Field(index->field) == index->value ||
           (ev.prev && ev.prev->Field(index->field) == index->value);
  }
  std::mutex mu;
  std::condition_variable cv;
  std::deque<CacheEvent> queue;
  bool gone = false;
};

namespace {

class CacheWatcherImpl : public CacheWatcher {
 public:
  CacheWatcherImpl(std::shared_ptr<WatchCache::WatcherState> state,
                   std::function<void()> unregister)
      : state_(std::move(state)), unregister_(std::move(unregister)) {}
  ~CacheWatcherImpl() override { unregister_(); }

  StatusOr<std::vector<CacheEvent>> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_for(lock, timeout, [&] { return state_->gone || !state_->queue.empty(); });
    if (state_->gone) {
      return Gone("the watch fell too far behind the server's history; re-list and watch again");
    }
    std::vector<CacheEvent> out(std::make_move_iterator(state_->queue.begin()),
                                std::make_move_iterator(state_->queue.end()));
    state_->queue.clear();
    return out;
  }

 private:
  std::shared_ptr<WatchCache::WatcherState> state_;
  std::function<void()> unregister_;
};

}  // namespace

WatchCache::WatchCache(Store& store, std::string prefix, Indexer indexer, size_t history_capacity)
    : store_(store),
      prefix_(std::move(prefix)),
      indexer_(std::move(indexer)),
      history_capacity_(std::max<size_t>(history_capacity, 16)) {}

WatchCache::~WatchCache() { Stop(); }

CachedPtr WatchCache::Build(const KeyValue& kv) const {
  auto obj = std::make_shared<CachedObject>();
  obj->key = kv.key;
  obj->mod_revision = kv.mod_revision;
  obj->json = api::InjectResourceVersion(kv.value, kv.mod_revision);
  json::error_code ec;
  json::value parsed = json::parse(kv.value, ec);
  if (ec) {
    spdlog::error("watch cache: stored object {} is not valid JSON: {}", kv.key, ec.message());
    return obj;
  }
  if (const json::value* labels = Find(parsed, {"metadata", "labels"});
      labels && labels->is_object()) {
    for (const auto& l : labels->get_object()) {
      if (l.value().is_string()) obj->labels.emplace_back(l.key(), l.value().get_string());
    }
    std::sort(obj->labels.begin(), obj->labels.end());
  }
  if (indexer_) indexer_(parsed, *obj);
  return obj;
}

Status WatchCache::Start() {
  int64_t rev = 0;
  std::string after;
  std::map<std::string, CachedPtr, std::less<>> objects;
  while (true) {
    KUMO_ASSIGN_OR_RETURN(ListResult page, store_.List(prefix_, after, 10000, rev));
    rev = page.revision;
    for (auto& kv : page.items) objects.emplace(kv.key, Build(kv));
    if (!page.more || page.items.empty()) break;
    after = page.items.back().key;
  }
  std::map<std::string, int64_t, std::less<>> counts;
  for (const auto& [key, obj] : objects) ++counts[std::string(KindOf(key, prefix_))];
  {
    std::unique_lock lock(mu_);
    counts_ = std::move(counts);
    objects_ = std::move(objects);
    revision_ = rev;
    history_start_ = rev;
  }
  spdlog::info("watch cache: loaded {} objects at revision {}", objects_.size(), rev);
  thread_ = std::thread([this, rev] { Run(rev); });
  return Status::Ok();
}

void WatchCache::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mu_);
  auto end_watch = [](const std::shared_ptr<WatcherState>& w) {
    std::lock_guard wl(w->mu);
    w->gone = true;
    w->cv.notify_all();
  };
  for (auto& w : unindexed_) end_watch(w);
  for (auto& [field, by_value] : indexed_) {
    for (auto& [value, ws] : by_value) {
      for (auto& w : ws) end_watch(w);
    }
  }
}

void WatchCache::Run(int64_t from_revision) {
  int64_t rev = from_revision;
  while (!stop_) {
    auto stream = store_.Watch(prefix_, rev);
    if (!stream.ok()) {
      spdlog::error("watch cache: cannot watch the store from revision {}: {}", rev,
                    stream.status().ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    while (!stop_) {
      auto events = (*stream)->Next(std::chrono::milliseconds(200));
      if (!events.ok()) {
        spdlog::warn("watch cache: store watch ended: {}", events.status().ToString());
        break;
      }
      for (const auto& ev : *events) {
        Apply(ev);
        rev = ev.kv.mod_revision;
      }
    }
  }
}

void WatchCache::Apply(const Event& ev) {
  CacheEvent ce;
  ce.type = ev.type;
  ce.revision = ev.kv.mod_revision;
  ce.object = Build(ev.kv);
  {
    std::unique_lock lock(mu_);
    auto it = objects_.find(ev.kv.key);
    if (it != objects_.end()) ce.prev = it->second;
    if (ev.type == EventType::kDelete) {
      if (it != objects_.end()) {
        objects_.erase(it);
        auto c = counts_.find(KindOf(ev.kv.key, prefix_));
        if (c != counts_.end()) --c->second;
      }
    } else if (it != objects_.end()) {
      it->second = ce.object;
    } else {
      objects_.emplace(ev.kv.key, ce.object);
      std::string_view kind = KindOf(ev.kv.key, prefix_);
      auto c = counts_.find(kind);
      if (c == counts_.end()) c = counts_.emplace(std::string(kind), 0).first;
      ++c->second;
    }
    revision_ = ce.revision;
    history_.push_back(ce);
    while (history_.size() > history_capacity_) {
      history_start_ = history_.front().revision;
      history_.pop_front();
    }
    for (auto& w : unindexed_) {
      if (HasPrefix(ev.kv.key, w->prefix)) Deliver(*w, ce);
    }
    for (const auto& [field, by_value] : indexed_) {
      std::string now = ce.object->Field(field);
      std::string before = ce.prev ? ce.prev->Field(field) : now;
      for (const std::string* v : {&now, &before}) {
        if (v == &before && before == now) break;
        auto it = by_value.find(*v);
        if (it == by_value.end()) continue;
        for (const auto& w : it->second) {
          if (HasPrefix(ev.kv.key, w->prefix)) Deliver(*w, ce);
        }
      }
    }
  }
  revision_cv_.notify_all();
}

void WatchCache::Deliver(WatcherState& w, const CacheEvent& ev) {
  std::lock_guard wl(w.mu);
  if (w.gone) return;
  if (w.queue.size() >= kMaxWatcherBacklog) {
    w.gone = true;
    w.queue.clear();
  } else {
    w.queue.push_back(ev);
  }
  w.cv.notify_one();
}

Status WatchCache::WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) {
  std::shared_lock lock(mu_);
  if (revision_cv_.wait_for(lock, timeout, [&] { return revision_ >= revision; })) {
    return Status::Ok();
  }
  return Status(Code::kTimeout, "the server's cache has not caught up with revision " +
                                    std::to_string(revision) + "; try again");
}

int64_t WatchCache::revision() const {
  std::shared_lock lock(mu_);
  return revision_;
}

WatchCache::Page WatchCache::List(std::string_view prefix, std::string_view start_after,
                                  int64_t limit,
                                  const std::function<bool(const CachedObject&)>& filter) const {
  Page page;
  std::shared_lock lock(mu_);
  page.revision = revision_;
  auto it = start_after.empty() ? objects_.lower_bound(prefix) : objects_.upper_bound(start_after);
  if (!start_after.empty() && std::string_view(start_after) < prefix) it = objects_.lower_bound(prefix);
  for (; it != objects_.end() && HasPrefix(it->first, prefix); ++it) {
    if (filter && !filter(*it->second)) continue;
    if (limit > 0 && static_cast<int64_t>(page.items.size()) == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

CachedPtr WatchCache::Get(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

StatusOr<std::unique_ptr<CacheWatcher>> WatchCache::Watch(std::string prefix,
                                                          int64_t after_revision,
                                                          std::optional<FieldIndex> index) {
  auto state = std::make_shared<WatcherState>();
  state->prefix = std::move(prefix);
  state->index = std::move(index);
  {
    std::unique_lock lock(mu_);
    if (after_revision < history_start_) {
      return Gone("too old resource version: " + std::to_string(after_revision) + " (" +
                  std::to_string(history_start_) + ")");
    }
    // History is in revision order: skip to the first event after `after_revision`.
    auto first = std::upper_bound(history_.begin(), history_.end(), after_revision,
                                  [](int64_t rev, const CacheEvent& ev) { return rev < ev.revision; });
    for (auto it = first; it != history_.end(); ++it) {
      if (state->Selects(*it)) state->queue.push_back(*it);
    }
    ++watcher_count_;
    if (state->index) {
      indexed_[state->index->field][state->index->value].push_back(state);
    } else {
      unindexed_.push_back(state);
    }
  }
  std::weak_ptr<WatcherState> weak = state;
  auto unregister = [this, weak] {
    if (auto s = weak.lock()) Unregister(s);
  };
  return std::unique_ptr<CacheWatcher>(new CacheWatcherImpl(state, unregister));
}

void WatchCache::Unregister(const std::shared_ptr<WatcherState>& s) {
  std::unique_lock lock(mu_);
  auto drop = [&](std::vector<std::shared_ptr<WatcherState>>& v) {
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
  };
  --watcher_count_;
  if (!s->index) {
    drop(unindexed_);
    return;
  }
  auto field = indexed_.find(s->index->field);
  if (field == indexed_.end()) return;
  auto value = field->second.find(s->index->value);
  if (value == field->second.end()) return;
  drop(value->second);
  if (value->second.empty()) field->second.erase(value);
  if (field->second.empty()) indexed_.erase(field);
}

std::map<std::string, int64_t, std::less<>> WatchCache::ObjectCounts() const {
  std::shared_lock lock(mu_);
  return counts_;
}

size_t WatchCache::watcher_count() const {
  std::shared_lock lock(mu_);
  return watcher_count_;
}

}  // namespace kumo::store
