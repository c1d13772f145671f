// bench_api: throughput and latency of the real `kumo server` (child process, durable storage)
// through the REST client, reported as ratios against raw SQLite inserts of the same rows
// measured in the same run. See bench/README.md for how to run it and read the output.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/rest_client.h"
#include "common/json.h"
#include "kumo_process.h"
#include "sqlite_baseline.h"
#include "workload.h"

#ifndef KUMO_DEFAULT_BIN
#define KUMO_DEFAULT_BIN "kumo"
#endif

namespace kumo::bench {
namespace {

using client::RestClient;
using client::RestConfig;
using Clock = std::chrono::steady_clock;

constexpr double kGoalRatio64 = 0.3;
constexpr double kGoalListSeconds = 1.0;

struct Options {
  std::string kumo = KUMO_DEFAULT_BIN;
  size_t creates = 2000;
  int clients = 64;
  size_t gets = 4000;
  size_t lists = 100;
  size_t watch_events = 200;
  size_t list_objects = 100000;
  int list_repeats = 5;
};

struct Line {
  std::string phase;
  int clients = 0;
  Summary summary;
  size_t errors = 0;
};

class Bench {
 public:
  Bench(const Options& options, KumoProcess& server) : opt_(options), server_(server) {}
  Status Run();

 private:
  Status Setup();
  StatusOr<std::vector<std::unique_ptr<RestClient>>> Clients(int n, int timeout_seconds = 60);
  Status CreateNamespace(const std::string& name);
  // POSTs `n` VMs named `prefix`-NNNNNN into `ns`; keeps the stored rows when `rows` is set.
  RunResult CreateVms(std::vector<std::unique_ptr<RestClient>>& clients, int threads,
                      const std::string& ns, const std::string& prefix, size_t n,
                      std::vector<Row>* rows, bool progress);
  Status MeasureWatch();
  Status MeasureFullList();
  void Record(const std::string& phase, int clients, const RunResult& run);
  void PrintTable() const;

  const Options& opt_;
  KumoProcess& server_;
  RestConfig config_;
  std::vector<std::unique_ptr<RestClient>> clients_;  // one per concurrent client
  std::vector<Line> lines_;
  std::vector<std::string> notes_;
};

std::string Fixed(double v, int precision) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", precision, v);
  return buf;
}

std::string VmCollection(const std::string& ns) {
  return client::ResourcePath("kubevirt.io", "v1", "virtualmachines", ns);
}

std::string VmName(const std::string& prefix, size_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%06zu", i);
  return prefix + "-" + buf;
}

Status CheckCode(const StatusOr<client::RestResponse>& r, int want) {
  if (!r.ok()) return r.status();
  if (r->code != want) {
    return client::StatusFromResponse(r->code, r->body, r->Header("retry-after"));
  }
  return Status::Ok();
}

Status Bench::Setup() {
  KUMO_ASSIGN_OR_RETURN(config_, client::RestConfigFromKubeconfig(server_.kubeconfig()));
  KUMO_ASSIGN_OR_RETURN(clients_, Clients(std::max(1, opt_.clients)));
  return Status::Ok();
}

StatusOr<std::vector<std::unique_ptr<RestClient>>> Bench::Clients(int n, int timeout_seconds) {
  std::vector<std::unique_ptr<RestClient>> out;
  RestConfig config = config_;
  config.timeout_seconds = timeout_seconds;
  config.max_idle_connections = 1;  // each benchmark client is one thread with one connection
  for (int i = 0; i < n; ++i) {
    KUMO_ASSIGN_OR_RETURN(std::unique_ptr<RestClient> c, RestClient::New(config));
    out.push_back(std::move(c));
  }
  return out;
}

Status Bench::CreateNamespace(const std::string& name) {
  json::value ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  return clients_[0]->Create(client::ResourcePath("", "v1", "namespaces"), ns).status();
}

RunResult Bench::CreateVms(std::vector<std::unique_ptr<RestClient>>& clients, int threads,
                           const std::string& ns, const std::string& prefix, size_t n,
                           std::vector<Row>* rows, bool progress) {
  const std::string path = VmCollection(ns);
  const std::string key_prefix = "/registry/kubevirt.io/virtualmachines/" + ns + "/";
  std::vector<std::string> manifests;
  if (rows != nullptr) {  // small runs: build the bodies before the clock starts
    rows->assign(n, Row{});
    manifests.reserve(n);
    for (size_t i = 0; i < n; ++i) manifests.push_back(VmManifest(ns, VmName(prefix, i)));
  }
  std::atomic<size_t> done{0};
  const size_t step = std::max<size_t>(1, n / 10);
  return RunParallel(
      threads, n, [&](int t) { return CheckCode(clients[t]->Do("GET", "/version"), 200); },
      [&](int t, size_t i) -> Status {
        std::string body = rows ? std::move(manifests[i]) : VmManifest(ns, VmName(prefix, i));
        StatusOr<client::RestResponse> r = clients[t]->Do("POST", path, body, "application/json");
        KUMO_RETURN_IF_ERROR(CheckCode(r, 201));
        if (rows) (*rows)[i] = Row{key_prefix + VmName(prefix, i), std::move(r->body)};
        size_t d = done.fetch_add(1) + 1;
        if (progress && d % step == 0) fprintf(stderr, "  loaded %zu/%zu\n", d, n);
        return Status::Ok();
      });
}

void Bench::Record(const std::string& phase, int clients, const RunResult& run) {
  lines_.push_back(Line{phase, clients, Summarize(run), run.errors});
  if (run.errors > 0)
    notes_.push_back(phase + ": " + std::to_string(run.errors) +
                     " errors, first: " + run.first_error);
  const Summary& s = lines_.back().summary;
  fprintf(stderr, "  %-30s %3d clients: %9.1f/s  p50 %7.2f ms  p99 %7.2f ms  errors %zu\n",
          phase.c_str(), clients, s.per_second, s.p50_ms, s.p99_ms, run.errors);
}

Status Bench::MeasureWatch() {
  const std::string ns = "bench-watch";
  KUMO_RETURN_IF_ERROR(CreateNamespace(ns));
  KUMO_ASSIGN_OR_RETURN(json::value list, clients_[0]->List(VmCollection(ns) + "?limit=1"));
  const std::string rv = GetString(list, {"metadata", "resourceVersion"});
  KUMO_ASSIGN_OR_RETURN(auto watch_clients, Clients(1));

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> arrived;
  std::atomic<bool> cancel{false};
  Status watch_status;
  std::thread watcher([&] {
    watch_status = watch_clients[0]->Watch(
        VmCollection(ns) + "?resourceVersion=" + rv,
        [&](std::string_view type, json::value&& object) {
          auto now = Clock::now();
          if (type != "ADDED") return true;
          std::lock_guard lock(mu);
          arrived.emplace(GetString(object, {"metadata", "name"}), now);
          cv.notify_all();
          return true;
        },
        &cancel);
  });

  RunResult run;
  auto start = Clock::now();
  for (size_t i = 0; i < opt_.watch_events; ++i) {
    const std::string name = VmName("w", i);
    auto sent = Clock::now();
    Status st = CheckCode(
        clients_[0]->Do("POST", VmCollection(ns), VmManifest(ns, name), "application/json"), 201);
    if (!st.ok()) {
      if (run.errors++ == 0) run.first_error = st.ToString();
      continue;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived.count(name) > 0; })) {
      if (run.errors++ == 0) run.first_error = "no watch event for " + name + " within 10 s";
      continue;
    }
    run.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(arrived[name] - sent).count());
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  cancel = true;
  watcher.join();
  if (!watch_status.ok() && run.errors++ == 0) run.first_error = watch_status.ToString();
  Record("watch: create -> ADDED event", 1, run);
  return Status::Ok();
}

Status Bench::MeasureFullList() {
  const std::string ns = "bench-list";
  KUMO_RETURN_IF_ERROR(CreateNamespace(ns));
  fprintf(stderr, "loading %zu VMs with %d clients...\n", opt_.list_objects, opt_.clients);
  RunResult load =
      CreateVms(clients_, opt_.clients, ns, "l", opt_.list_objects, nullptr, /*progress=*/true);
  Record("load: create VM", opt_.clients, load);

  KUMO_ASSIGN_OR_RETURN(auto list_clients, Clients(1, /*timeout_seconds=*/600));
  std::vector<double> seconds;
  double megabytes = 0, parse_seconds = 0;
  size_t items = 0;
  for (int rep = 0; rep < std::max(1, opt_.list_repeats); ++rep) {
    auto start = Clock::now();
    StatusOr<client::RestResponse> r = list_clients[0]->Do("GET", VmCollection(ns));
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    KUMO_RETURN_IF_ERROR(CheckCode(r, 200));
    seconds.push_back(s);
    megabytes = r->body.size() / 1e6;
    if (rep == 0) {
      auto parse_start = Clock::now();
      KUMO_ASSIGN_OR_RETURN(json::value list, ParseJson(r->body));
      parse_seconds = std::chrono::duration<double>(Clock::now() - parse_start).count();
      if (const json::value* it = Find(list, {"items"}); it && it->is_array()) {
        items = it->get_array().size();
      }
    }
    fprintf(stderr, "  full list run %d: %.3f s, %.1f MB\n", rep + 1, s, megabytes);
  }
  std::string runs;
  for (double s : seconds) runs += Fixed(s, 3) + " s  ";
  double median = Percentile(seconds, 0.5);
  printf("\nFull list of %zu VMs (no limit, served from the watch cache):\n", items);
  printf("  %.1f MB; runs: %s; median %.3f s -> goal < %.1f s: %s\n", megabytes, runs.c_str(),
         median, kGoalListSeconds, median < kGoalListSeconds ? "PASS" : "FAIL");
  printf("  (client-side JSON parse of the list, not part of the goal: %.3f s)\n", parse_seconds);
  if (items != opt_.list_objects) {
    printf("  WARNING: expected %zu items, the list held %zu\n", opt_.list_objects, items);
  }
  return Status::Ok();
}

void Bench::PrintTable() const {
  printf("\n%-32s %7s %8s %10s %9s %9s %7s\n", "phase", "clients", "ops", "ops/s", "p50 ms",
         "p99 ms", "errors");
  for (const Line& l : lines_) {
    printf("%-32s %7d %8zu %10.1f %9.2f %9.2f %7zu\n", l.phase.c_str(), l.clients, l.summary.count,
           l.summary.per_second, l.summary.p50_ms, l.summary.p99_ms, l.errors);
  }
  for (const std::string& n : notes_) printf("note: %s\n", n.c_str());
}

Status Bench::Run() {
  KUMO_RETURN_IF_ERROR(Setup());
  const std::string ns = "bench";
  KUMO_RETURN_IF_ERROR(CreateNamespace(ns));
  const std::string manifest = VmManifest(ns, VmName("c1", 0));
  printf("kumo API benchmark: server pid %d at %s (durable: fsync per commit), temp dir %s\n",
         static_cast<int>(server_.pid()), config_.server.c_str(), server_.dir().c_str());
  printf("VM manifest %zu bytes; %zu creates per phase; %d concurrent clients\n", manifest.size(),
         opt_.creates, opt_.clients);
  fflush(stdout);

  // Creates: one client, then many, each with its own thread and connection.
  std::vector<Row> rows1, rows_n;
  fprintf(stderr, "creates...\n");
  RunResult c1 = CreateVms(clients_, 1, ns, "c1", opt_.creates, &rows1, false);
  Record("kumo create VM (POST)", 1, c1);
  RunResult cn = CreateVms(clients_, opt_.clients, ns, "cn", opt_.creates, &rows_n, false);
  Record("kumo create VM (POST)", opt_.clients, cn);
  if (!rows1.empty()) printf("stored object (create response) %zu bytes\n", rows1[0].value.size());

  // The baseline, on the same file system, with the same rows.
  fprintf(stderr, "raw SQLite baseline...\n");
  const std::string db = server_.dir() + "/baseline.db";
  KUMO_RETURN_IF_ERROR(InitBaseline(db));
  rows1.erase(
      std::remove_if(rows1.begin(), rows1.end(), [](const Row& r) { return r.key.empty(); }),
      rows1.end());
  rows_n.erase(
      std::remove_if(rows_n.begin(), rows_n.end(), [](const Row& r) { return r.key.empty(); }),
      rows_n.end());
  RunResult s1 = RunBaseline(db, rows1, 1);
  Record("raw SQLite insert (1 txn/row)", 1, s1);
  RunResult sn = RunBaseline(db, rows_n, opt_.clients);
  Record("raw SQLite insert (1 txn/row)", opt_.clients, sn);
  // Informational: the same threads queueing on a mutex rather than in SQLite's busy handler.
  for (Row& r : rows_n) r.key += "-q";
  RunResult sq = RunBaseline(db, rows_n, opt_.clients, /*queue=*/true);
  Record("raw SQLite insert, mutex queue", opt_.clients, sq);

  // Reads.
  fprintf(stderr, "gets and lists...\n");
  std::vector<std::string> names;
  for (size_t i = 0; i < opt_.creates; ++i) names.push_back(VmName("c1", i));
  auto get = [&](int t, size_t i) {
    return CheckCode(
        clients_[t]->Do("GET", VmCollection(ns) + "/" + names[(i * 7919) % names.size()]), 200);
  };
  auto warm = [&](int t) { return CheckCode(clients_[t]->Do("GET", "/version"), 200); };
  if (!names.empty()) {
    Record("kumo get VM", 1, RunParallel(1, opt_.gets, warm, get));
    Record("kumo get VM", opt_.clients, RunParallel(opt_.clients, opt_.gets, warm, get));
  }
  auto list = [&](int t, size_t) {
    return CheckCode(clients_[t]->Do("GET", VmCollection(ns) + "?limit=500"), 200);
  };
  Record("kumo list VMs (limit=500)", 1, RunParallel(1, opt_.lists, warm, list));
  Record("kumo list VMs (limit=500)", opt_.clients,
         RunParallel(opt_.clients, opt_.lists, warm, list));

  fprintf(stderr, "watch latency...\n");
  KUMO_RETURN_IF_ERROR(MeasureWatch());

  PrintTable();
  const Summary k1 = Summarize(c1), kn = Summarize(cn), r1 = Summarize(s1), rn = Summarize(sn);
  const Summary rq = Summarize(sq);
  double ratio1 = r1.per_second > 0 ? k1.per_second / r1.per_second : 0;
  double ration = rn.per_second > 0 ? kn.per_second / rn.per_second : 0;
  printf("\nkumo creates/s vs raw SQLite inserts/s (same rows, same durability):\n");
  printf("  1 client:   %8.1f / %8.1f = %.2f\n", k1.per_second, r1.per_second, ratio1);
  printf("  %d clients: %8.1f / %8.1f = %.2f -> goal >= %.2f: %s\n", opt_.clients, kn.per_second,
         rn.per_second, ration, kGoalRatio64, ration >= kGoalRatio64 ? "PASS" : "FAIL");
  printf("  %d clients vs the mutex-queued baseline (informational): %8.1f / %8.1f = %.2f\n",
         opt_.clients, kn.per_second, rq.per_second,
         rq.per_second > 0 ? kn.per_second / rq.per_second : 0);
  fflush(stdout);

  if (opt_.list_objects > 0) {
    KUMO_RETURN_IF_ERROR(MeasureFullList());
    PrintTable();
  }
  return Status::Ok();
}

}  // namespace
}  // namespace kumo::bench

int main(int argc, char** argv) {
  using kumo::bench::Options;
  Options opt;
  CLI::App app{"Benchmarks the kumo API server (started as a child process) against raw SQLite."};
  app.add_option("--kumo,kumo", opt.kumo, "Path of the kumo binary")->capture_default_str();
  app.add_option("--creates", opt.creates, "VM creates per create phase")->capture_default_str();
  app.add_option("--clients", opt.clients, "Concurrent clients (threads, one connection each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--gets", opt.gets, "GETs per get phase")->capture_default_str();
  app.add_option("--lists", opt.lists, "Lists (limit=500) per list phase")->capture_default_str();
  app.add_option("--watch-events", opt.watch_events, "Writes timed through a watch")
      ->capture_default_str();
  app.add_option("--list-objects", opt.list_objects,
                 "VMs to load for the full-list measurement (0 skips it)")
      ->capture_default_str();
  app.add_option("--list-repeats", opt.list_repeats, "Full lists to time")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // results and stderr progress interleave in order
  if (opt.creates == 0) opt.creates = 1;

  kumo::bench::KumoProcess server;
  kumo::Status st = server.Start(opt.kumo);
  if (st.ok()) {
    kumo::bench::Bench bench(opt, server);
    st = bench.Run();
  }
  server.Stop();
  if (!st.ok()) {
    fprintf(stderr, "bench_api: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
