// List and watch for ResourceHandler: served from the watch cache.
#include <chrono>

#include "api/object.h"
#include "common/log.h"
#include "server/object_meta.h"
#include "server/resource_handler.h"
#include "server/responses.h"
#include "server/table.h"

namespace kumo::server {

namespace {

constexpr auto kCacheWait = std::chrono::seconds(5);

struct Selection {
  store::LabelSelector labels;
  store::FieldSelector fields;
  std::string prefix;
};

StatusOr<Selection> ParseSelection(const api::ResourceInfo& r, const RequestInfo& info,
                                   const Query& query) {
  Selection s;
  if (auto it = query.find("labelSelector"); it != query.end()) {
    KUMO_ASSIGN_OR_RETURN(s.labels, store::LabelSelector::Parse(it->second));
  }
  if (auto it = query.find("fieldSelector"); it != query.end()) {
    KUMO_ASSIGN_OR_RETURN(s.fields, store::FieldSelector::Parse(it->second));
    for (const auto& req : s.fields.requirements()) {
      if (!r.IsSelectableField(req.key)) {
        return BadRequest("field label not supported: " + req.key);
      }
    }
  }
  s.prefix = r.KeyPrefix();
  if (r.namespaced && !info.namespace_.empty()) s.prefix += info.namespace_ + "/";
  // A metadata.name equality narrows the scan to one key when the namespace is known.
  return s;
}

bool Matches(const Selection& s, const store::CachedObject& obj) {
  if (!s.labels.empty() && !s.labels.Matches(obj.labels)) return false;
  if (!s.fields.empty() &&
      !s.fields.Matches([&](std::string_view f) { return obj.Field(f); })) {
    return false;
  }
  return true;
}

StatusOr<int64_t> ParseLimit(const Query& query) {
  auto it = query.find("limit");
  if (it == query.end() || it->second.empty()) return int64_t{0};
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (*end || v < 0) return BadRequest("limit must be a non-negative integer, got \"" + it->second + "\"");
  return static_cast<int64_t>(v);
}

StatusOr<int64_t> ParseResourceVersion(const Query& query) {
  auto it = query.find("resourceVersion");
  if (it == query.end() || it->second.empty()) return int64_t{-1};
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (*end || v < 0) {
    return BadRequest("invalid resource version \"" + it->second +
                      "\": it must be a resourceVersion returned by this server");
  }
  return static_cast<int64_t>(v);
}

std::string EventLine(std::string_view type, std::string_view object_json) {
  std::string line;
  line.reserve(object_json.size() + 32);
  line.append("{\"type\":\"").append(type).append("\",\"object\":").append(object_json).append("}\n");
  return line;
}

}  // namespace

StatusOr<http::Response> ResourceHandler::List(const api::ResourceInfo& r, const RequestInfo& info,
                                               const Query& query, const http::Request& req) {
  KUMO_ASSIGN_OR_RETURN(Selection sel, ParseSelection(r, info, query));
  KUMO_ASSIGN_OR_RETURN(int64_t limit, ParseLimit(query));
  KUMO_ASSIGN_OR_RETURN(int64_t rv, ParseResourceVersion(query));
  (void)rv;  // any list is served at the newest revision the cache holds (at least current)
  std::string start_after;
  int64_t pinned = 0;
  if (auto it = query.find("continue"); it != query.end() && !it->second.empty()) {
    KUMO_ASSIGN_OR_RETURN(ContinueToken token, DecodeContinue(it->second));
    start_after = token.start_after;
    pinned = token.revision;
  }

  std::vector<std::string_view> bodies;
  std::vector<store::CachedPtr> held;
  std::vector<std::string> owned;  // bodies read from the store for pinned pages
  int64_t list_rev = 0;
  bool more = false;
  auto filter = [&](const store::CachedObject& o) { return Matches(sel, o); };
  if (pinned == 0 || pinned == CacheOf(r).revision()) {
    if (pinned == 0) {
      KUMO_RETURN_IF_ERROR(CacheOf(r).WaitForRevision(StoreOf(r).CurrentRevision(), kCacheWait));
    }
    store::WatchCache::Page page = CacheOf(r).List(sel.prefix, start_after, limit, filter);
    if (pinned != 0 && page.revision != pinned) {
      return Gone("The provided continue parameter is too old to display a consistent list "
                  "result. You can start a new list without the continue parameter.");
    }
    held = std::move(page.items);
    for (const auto& o : held) bodies.push_back(o->json);
    list_rev = page.revision;
    more = page.more;
  } else {
    // A later page of a list whose revision the cache has moved past: read that revision
    // from the store so every page is one consistent snapshot.
    std::string after = start_after;
    list_rev = pinned;
    while (limit == 0 || static_cast<int64_t>(owned.size()) < limit) {
      StatusOr<store::ListResult> page = StoreOf(r).List(sel.prefix, after, 500, pinned);
      if (!page.ok()) {
        if (page.status().code() == Code::kGone) {
          return Gone("The provided continue parameter is too old to display a consistent list "
                      "result. You can start a new list without the continue parameter.");
        }
        return page.status();
      }
      for (const auto& kv : page->items) {
        after = kv.key;
        store::CachedObject probe;
        probe.key = kv.key;
        auto parsed = api::ParseStored(kv.value, kv.mod_revision);
        if (!parsed.ok()) continue;
        // Evaluate the selectors on a temporary cache entry.
        if (const json::value* labels = Find(*parsed, {"metadata", "labels"}); labels && labels->is_object()) {
          for (const auto& l : labels->get_object()) {
            if (l.value().is_string()) probe.labels.emplace_back(l.key(), l.value().get_string());
          }
          std::sort(probe.labels.begin(), probe.labels.end());
        }
        probe.fields.emplace_back("metadata.name", GetString(*parsed, {"metadata", "name"}));
        probe.fields.emplace_back("metadata.namespace", GetString(*parsed, {"metadata", "namespace"}));
        for (const auto& f : r.selectable_fields) probe.fields.emplace_back(f, api::FieldValue(*parsed, f));
        if (!Matches(sel, probe)) continue;
        if (limit > 0 && static_cast<int64_t>(owned.size()) == limit) {
          more = true;
          break;
        }
        owned.push_back(api::InjectResourceVersion(kv.value, kv.mod_revision));
      }
      if (more || !page->more) break;
    }
    for (const auto& s : owned) bodies.push_back(s);
  }

  json::object list_meta{{"resourceVersion", std::to_string(list_rev)}};
  if (more && !bodies.empty()) {
    // The last key returned: recover it from the body's namespace/name.
    std::string last_key;
    if (!held.empty()) {
      last_key = held.back()->key;
    } else {
      auto parsed = ParseJson(owned.back());
      last_key = r.Key(GetString(*parsed, {"metadata", "namespace"}),
                       GetString(*parsed, {"metadata", "name"}));
    }
    list_meta["continue"] = EncodeContinue({list_rev, last_key});
  }

  if (WantsTable(req.Header("accept"))) {
    std::vector<json::value> objects;
    objects.reserve(bodies.size());
    for (auto b : bodies) {
      auto v = ParseJson(b);
      if (v.ok()) objects.push_back(std::move(*v));
    }
    auto include = ParseIncludeObject(query.count("includeObject") ? query.at("includeObject") : "");
    return JsonResponse(200, json::serialize(BuildTable(r, objects, include, true, list_meta,
                                                        ctx_.clock.NowUnixSeconds())));
  }
  std::string out;
  size_t total = 128;
  for (auto b : bodies) total += b.size() + 1;
  out.reserve(total);
  out.append("{\"kind\":\"").append(r.ListKind()).append("\",\"apiVersion\":\"");
  out.append(r.ApiVersion()).append("\",\"metadata\":").append(json::serialize(list_meta));
  out.append(",\"items\":[");
  for (size_t i = 0; i < bodies.size(); ++i) {
    if (i) out.push_back(',');
    out.append(bodies[i]);
  }
  out.append("]}");
  return JsonResponse(200, std::move(out));
}

Status ResourceHandler::Watch(const api::ResourceInfo& r, const RequestInfo& info,
                              const Query& query, const http::Request& req,
                              http::ResponseWriter& writer) {
  KUMO_ASSIGN_OR_RETURN(Selection sel, ParseSelection(r, info, query));
  KUMO_ASSIGN_OR_RETURN(int64_t rv, ParseResourceVersion(query));
  bool table = WantsTable(req.Header("accept"));
  bool bookmarks = query.count("allowWatchBookmarks") && query.at("allowWatchBookmarks") == "true";
  int64_t timeout_s = 1800;
  if (auto it = query.find("timeoutSeconds"); it != query.end()) {
    char* end = nullptr;
    long long t = std::strtoll(it->second.c_str(), &end, 10);
    if (*end || t < 0) return BadRequest("timeoutSeconds must be a non-negative integer");
    if (t > 0) timeout_s = std::min<int64_t>(t, 3600);
  }
  auto include = ParseIncludeObject(query.count("includeObject") ? query.at("includeObject") : "");
  auto filter = [&](const store::CachedObject& o) { return Matches(sel, o); };

  // Without a resourceVersion (or with "0"), a watch starts with the current state as ADDED.
  std::vector<store::CachedPtr> initial;
  int64_t start = rv;
  if (rv <= 0) {
    KUMO_RETURN_IF_ERROR(CacheOf(r).WaitForRevision(StoreOf(r).CurrentRevision(), kCacheWait));
    store::WatchCache::Page page = CacheOf(r).List(sel.prefix, "", 0, filter);
    initial = std::move(page.items);
    start = page.revision;
  }
  // A field equality (an agent's status.nodeName=<self>) narrows the watch through the
  // cache's index, so an event costs only the watchers it concerns.
  std::optional<store::WatchCache::FieldIndex> index;
  for (const auto& req : sel.fields.requirements()) {
    if (req.op == store::Requirement::Op::kEquals && req.values.size() == 1) {
      index = store::WatchCache::FieldIndex{req.key, req.values[0]};
      break;
    }
  }
  KUMO_ASSIGN_OR_RETURN(std::unique_ptr<store::CacheWatcher> watcher,
                        CacheOf(r).Watch(sel.prefix, start, index));

  bool first_table = true;
  auto encode = [&](std::string_view type, const store::CachedObject& obj) {
    if (!table) return EventLine(type, obj.json);
    auto parsed = ParseJson(obj.json);
    json::object t = BuildTable(r, {parsed.ok() ? *parsed : json::value()}, include, first_table,
                                json::object{{"resourceVersion", std::to_string(obj.mod_revision)}},
                                ctx_.clock.NowUnixSeconds());
    first_table = false;
    return EventLine(type, json::serialize(t));
  };

  std::string content_type = table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json";
  if (!writer.StartStream(200, content_type, {})) return Status::Ok();
  for (const auto& o : initial) {
    if (!writer.WriteChunk(encode("ADDED", *o))) return Status::Ok();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  auto last_bookmark = std::chrono::steady_clock::now();
  int64_t seen = start;
  while (std::chrono::steady_clock::now() < deadline) {
    // Every event at or below this revision is in the watcher's queue once Next returns.
    int64_t cache_rev = CacheOf(r).revision();
    StatusOr<std::vector<store::CacheEvent>> events = watcher->Next(std::chrono::milliseconds(2000));
    if (!events.ok()) {
      json::object st = StatusObject(events.status());
      writer.WriteChunk(EventLine("ERROR", json::serialize(st)));
      break;
    }
    std::string batch;
    for (const auto& ev : *events) {
      seen = ev.revision;
      bool now_matches = ev.type != store::EventType::kDelete && Matches(sel, *ev.object);
      bool was_matching = ev.prev && Matches(sel, *ev.prev);
      const char* type = nullptr;
      if (ev.type == store::EventType::kDelete) {
        if (Matches(sel, *ev.object)) type = "DELETED";
      } else if (now_matches && was_matching) {
        type = "MODIFIED";
      } else if (now_matches) {
        type = "ADDED";
      } else if (was_matching) {
        type = "DELETED";  // left the selection
      }
      if (type) batch += encode(type, *ev.object);
    }
    if (!batch.empty()) {
      if (!writer.WriteChunk(batch)) break;
      last_bookmark = std::chrono::steady_clock::now();
    } else if (bookmarks && std::chrono::steady_clock::now() - last_bookmark > std::chrono::seconds(10)) {
      cache_rev = std::max(seen, cache_rev);
      json::object bm{{"kind", r.kind},
                      {"apiVersion", r.ApiVersion()},
                      {"metadata", json::object{{"resourceVersion", std::to_string(cache_rev)}}}};
      if (!writer.WriteChunk(EventLine("BOOKMARK", json::serialize(bm)))) break;
      last_bookmark = std::chrono::steady_clock::now();
    } else if (writer.ClientGone()) {
      break;
    }
  }
  writer.EndStream();
  return Status::Ok();
}

}  // namespace kumo::server
