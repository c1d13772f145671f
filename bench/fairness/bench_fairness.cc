// bench_fairness: does one tenant's load hurt another? Two measurements against the real
// `kumo server` (child process), each a ratio against a baseline taken in the same run:
//
// 1. Noisy neighbour. A quiet tenant lists its VMs at a steady rate, first alone, then while a
//    noisy tenant lists its own VMs from many clients as fast as the server lets it. Printed:
//    the quiet tenant's p50/p99 latency in both runs and their ratio (goal: p99 within 2x), and
//    the noisy tenant's completed requests and 429s.
// 2. Events flood. A builder tenant creates VMs from a few clients, first alone, then while a
//    flooding tenant posts events as fast as it can. Printed: both create rates and the
//    slowdown (goal: under 20%), and the flood's accepted and refused events.
//
// Each measurement alternates runs without and with the load (--rounds times) so that drift of a
// shared machine hits both sides alike. Tenant clients behave like client-go: after a 429 they
// wait for Retry-After; --hostile makes the noisy and flooding clients ignore it. The load
// generators' threads run at nice 19, standing in for clients on other machines: on a small
// box they would otherwise take the CPU from the measuring client rather than from the server.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../api/kumo_process.h"
#include "../api/workload.h"
#include "client/rest_client.h"
#include "common/json.h"
#include "http/pki.h"
#include "server/tokens.h"

#ifndef KUMO_DEFAULT_BIN
#define KUMO_DEFAULT_BIN "kumo"
#endif

namespace kumo::bench {
namespace {

using client::RestClient;
using client::RestConfig;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string kumo = KUMO_DEFAULT_BIN;
  int seconds = 5;          // length of each measured run
  int quiet_rate = 40;      // quiet tenant's requests per second
  int noisy_clients = 64;   // noisy tenant's concurrent clients
  int vms_per_tenant = 20;  // objects each list returns
  int builders = 2;         // builder tenant's concurrent create clients
  int flood_clients = 16;
  int rounds = 3;
  bool hostile = false;
  bool new_connections = false;  // noisy clients open a new TLS connection per request
  bool events = true;            // also run the events-flood measurement
};

// Lowers the calling thread's CPU priority (Linux nice values are per thread).
void NiceThisThread() { setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19); }

// Threads running `body(thread_index, stop)` until Stop().
class Load {
 public:
  Load(int threads, std::function<void(int, const std::atomic<bool>&)> body) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t, body] {
        NiceThisThread();
        body(t, stop_);
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Sleeps for Retry-After (checking `stop`), unless hostile.
void BackOff(const client::RestResponse& r, bool hostile, const std::atomic<bool>& stop) {
  if (hostile) return;
  int after = std::max(1, std::atoi(r.Header("retry-after").c_str()));
  for (int i = 0; i < after * 10 && !stop; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

class Bench {
 public:
  Bench(Options o, KumoProcess& server) : opt_(std::move(o)), server_(server) {}
  Status Run();

 private:
  // Creates a tenant with one user of `role`; returns that user's RestConfig.
  StatusOr<RestConfig> Tenant(const std::string& name, const std::string& role);
  StatusOr<std::unique_ptr<RestClient>> Client(const RestConfig& rc) { return RestClient::New(rc); }
  Status Fairness();
  Status EventsFlood();
  // Steady-rate lists by the quiet tenant for opt_.seconds; returns latencies (ms).
  StatusOr<std::vector<double>> QuietRun(const RestConfig& rc);
  // Creates by the builder for opt_.seconds; returns creates per second.
  StatusOr<double> BuildRun(const RestConfig& rc, const std::string& prefix);

  Options opt_;
  KumoProcess& server_;
  std::unique_ptr<RestClient> admin_;
  RestConfig admin_config_;
};

StatusOr<RestConfig> Bench::Tenant(const std::string& name, const std::string& role) {
  std::string user = name + "-user";
  json::value tenant = json::object{
      {"apiVersion", "kumo.io/v1alpha1"},
      {"kind", "Tenant"},
      {"metadata", json::object{{"name", name}}},
      {"spec",
       json::object{{"members", json::array{json::object{{"user", user}, {"role", role}}}}}}};
  KUMO_RETURN_IF_ERROR(admin_->Create("/apis/kumo.io/v1alpha1/tenants", tenant).status());
  std::string token = pki::GenerateToken();
  KUMO_RETURN_IF_ERROR(
      admin_
          ->Create("/api/v1/namespaces/kumo-system/secrets", server::TokenSecret(token, user, name))
          .status());
  for (int i = 0; i < 100 && !admin_->Get("/api/v1/namespaces/" + name).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  RestConfig rc = admin_config_;
  rc.token = token;
  return rc;
}

StatusOr<std::vector<double>> Bench::QuietRun(const RestConfig& rc) {
  KUMO_ASSIGN_OR_RETURN(auto c, Client(rc));
  std::string path = "/apis/kubevirt.io/v1/namespaces/quiet/virtualmachines";
  KUMO_RETURN_IF_ERROR(c->Do("GET", path).status());  // open the connection
  std::vector<double> lat;
  auto interval = std::chrono::microseconds(1000000 / std::max(1, opt_.quiet_rate));
  auto start = SteadyClock::now();
  int n = opt_.seconds * opt_.quiet_rate;
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start + i * interval);
    auto t0 = SteadyClock::now();
    auto r = c->Do("GET", path);
    if (!r.ok()) return r.status();
    if (r->code != 200)
      return Status(Code::kInternal, "quiet list failed: HTTP " + std::to_string(r->code));
    lat.push_back(Ms(SteadyClock::now() - t0));
  }
  return lat;
}

Status Bench::Fairness() {
  KUMO_ASSIGN_OR_RETURN(RestConfig quiet, Tenant("quiet", "member"));
  KUMO_ASSIGN_OR_RETURN(RestConfig noisy, Tenant("noisy", "member"));
  for (const char* ns : {"quiet", "noisy"}) {
    for (int i = 0; i < opt_.vms_per_tenant; ++i) {
      KUMO_ASSIGN_OR_RETURN(json::value vm, ParseJson(VmManifest(ns, "vm-" + std::to_string(i))));
      KUMO_RETURN_IF_ERROR(
          admin_
              ->Create(std::string("/apis/kubevirt.io/v1/namespaces/") + ns + "/virtualmachines",
                       vm)
              .status());
    }
  }
  std::vector<double> alone, loaded;
  std::atomic<long> ok{0}, rejected{0}, failed{0};
  long noisy_ok = 0, noisy_429 = 0;
  for (int round = 1; round <= opt_.rounds; ++round) {
    std::fprintf(stderr, "fairness %d/%d: quiet tenant alone (%d req/s for %d s)\n", round,
                 opt_.rounds, opt_.quiet_rate, opt_.seconds);
    KUMO_ASSIGN_OR_RETURN(std::vector<double> a, QuietRun(quiet));
    alone.insert(alone.end(), a.begin(), a.end());
    std::fprintf(stderr, "fairness %d/%d: quiet tenant with the noisy one (%d clients)\n", round,
                 opt_.rounds, opt_.noisy_clients);
    Load load(opt_.noisy_clients, [&, noisy](int, const std::atomic<bool>& stop) {
      auto c = Client(noisy);
      if (!c.ok()) return;
      std::string path = "/apis/kubevirt.io/v1/namespaces/noisy/virtualmachines";
      while (!stop) {
        if (opt_.new_connections) {
          // A handshake flood: a fresh client (and TLS connection, never resumed) per request.
          c = Client(noisy);
          if (!c.ok()) return;
        }
        auto r = (*c)->Do("GET", path);
        if (!r.ok() || (r->code != 200 && r->code != 429)) {
          ++failed;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        } else if (r->code == 429) {
          ++rejected;
          BackOff(*r, opt_.hostile, stop);
        } else {
          ++ok;
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let the noisy tenant saturate
    long ok0 = ok, rej0 = rejected;
    StatusOr<std::vector<double>> l = QuietRun(quiet);
    noisy_ok += ok - ok0;
    noisy_429 += rejected - rej0;
    load.Stop();
    if (!l.ok()) return l.status();
    loaded.insert(loaded.end(), l->begin(), l->end());
  }
  double measured = static_cast<double>(opt_.seconds) * opt_.rounds;
  double a50 = Percentile(alone, 0.5), a99 = Percentile(alone, 0.99);
  double l50 = Percentile(loaded, 0.5), l99 = Percentile(loaded, 0.99);
  double ratio = a99 > 0 ? l99 / a99 : 0;
  std::printf(
      "\n== Noisy neighbour (quiet tenant: %d lists/s of %d VMs; noisy: %d clients%s%s; %d "
      "rounds) ==\n",
      opt_.quiet_rate, opt_.vms_per_tenant, opt_.noisy_clients,
      opt_.new_connections ? ", a new TLS connection per request" : "",
      opt_.hostile ? ", ignoring Retry-After" : ", honouring Retry-After", opt_.rounds);
  std::printf("%-28s %10s %10s %10s %10s %10s\n", "run", "requests", "p50 ms", "p90 ms", "p99 ms",
              "max ms");
  std::printf("%-28s %10zu %10.2f %10.2f %10.2f %10.2f\n", "quiet alone", alone.size(), a50,
              Percentile(alone, 0.9), a99, Percentile(alone, 1.0));
  std::printf("%-28s %10zu %10.2f %10.2f %10.2f %10.2f\n", "quiet with noisy tenant", loaded.size(),
              l50, Percentile(loaded, 0.9), l99, Percentile(loaded, 1.0));
  std::printf(
      "noisy tenant while measured: %ld served (%.0f/s), %ld refused with 429 (%.0f/s), %ld "
      "failed\n",
      noisy_ok, noisy_ok / measured, noisy_429, noisy_429 / measured, static_cast<long>(failed));
  // Connection set-up costs the server CPU before any fair queuing can act, so the goal for a
  // handshake flood is looser (issue 10: at most 4x).
  const double goal = opt_.new_connections ? 4.0 : 2.0;
  std::printf("quiet p99 ratio (with / without noisy): %.2f  goal <= %.2f  %s\n", ratio, goal,
              ratio <= goal ? "PASS" : "FAIL");
  return Status::Ok();
}

StatusOr<double> Bench::BuildRun(const RestConfig& rc, const std::string& prefix) {
  std::atomic<long> created{0};
  std::atomic<bool> stop{false};
  Status first_error;
  std::mutex mu;
  std::vector<std::thread> threads;
  auto start = SteadyClock::now();
  for (int t = 0; t < opt_.builders; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client(rc);
      if (!c.ok()) return;
      for (int i = 0; !stop; ++i) {
        std::string name = prefix + "-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = (*c)->Do("POST", "/apis/kubevirt.io/v1/namespaces/builder/virtualmachines",
                          VmManifest("builder", name), "application/json");
        if (r.ok() && r->code == 201) {
          ++created;
        } else {
          std::lock_guard lock(mu);
          if (first_error.ok()) {
            first_error =
                r.ok() ? Status(Code::kInternal, "HTTP " + std::to_string(r->code) + ": " + r->body)
                       : r.status();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(opt_.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  // Every run starts from an empty namespace, so runs compare like with like.
  auto cleared = admin_->Do("DELETE", "/apis/kubevirt.io/v1/namespaces/builder/virtualmachines");
  if (!cleared.ok() || cleared->code != 200)
    std::fprintf(stderr, "builder: cannot delete the VMs\n");
  if (!first_error.ok() && created == 0) return first_error;
  if (!first_error.ok())
    std::fprintf(stderr, "builder: some creates failed: %s\n", first_error.ToString().c_str());
  return created / secs;
}

Status Bench::EventsFlood() {
  KUMO_ASSIGN_OR_RETURN(RestConfig builder, Tenant("builder", "member"));
  KUMO_ASSIGN_OR_RETURN(RestConfig flood, Tenant("flood", "admin"));
  std::vector<double> alone, loaded;
  std::atomic<long> accepted{0}, refused{0}, failed{0};
  long acc = 0, ref = 0;
  for (int round = 1; round <= opt_.rounds; ++round) {
    std::fprintf(stderr, "events %d/%d: builder alone (%d clients, %d s)\n", round, opt_.rounds,
                 opt_.builders, opt_.seconds);
    KUMO_ASSIGN_OR_RETURN(double a, BuildRun(builder, "alone" + std::to_string(round)));
    alone.push_back(a);
    std::fprintf(stderr, "events %d/%d: builder during the flood (%d clients)\n", round,
                 opt_.rounds, opt_.flood_clients);
    Load load(opt_.flood_clients, [&, flood, round](int t, const std::atomic<bool>& stop) {
      auto c = Client(flood);
      if (!c.ok()) return;
      for (long i = 0; !stop; ++i) {
        json::value ev = json::object{
            {"apiVersion", "v1"},
            {"kind", "Event"},
            {"metadata", json::object{{"name", "flood-" + std::to_string(round) + "-" +
                                                   std::to_string(t) + "-" + std::to_string(i)},
                                      {"namespace", "flood"}}},
            {"involvedObject",
             json::object{{"kind", "VirtualMachine"}, {"name", "x"}, {"namespace", "flood"}}},
            {"reason", "Flood"},
            {"message", std::string(200, 'x')},
            {"type", "Normal"}};
        auto r = (*c)->Do("POST", "/api/v1/namespaces/flood/events", json::serialize(ev),
                          "application/json");
        if (r.ok() && r->code == 201) {
          ++accepted;
        } else if (r.ok() && r->code == 429) {
          ++refused;
          BackOff(*r, opt_.hostile, stop);
        } else {
          ++failed;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::seconds(1));
    long acc0 = accepted, ref0 = refused;
    StatusOr<double> l = BuildRun(builder, "loaded" + std::to_string(round));
    acc += accepted - acc0;
    ref += refused - ref0;
    load.Stop();
    if (!l.ok()) return l.status();
    loaded.push_back(*l);
  }
  double measured = static_cast<double>(opt_.seconds) * opt_.rounds;
  std::vector<double> a_sorted = alone, l_sorted = loaded;
  double a = Percentile(a_sorted, 0.5), l = Percentile(l_sorted, 0.5);
  double slowdown = a > 0 ? 1.0 - l / a : 0;
  std::printf("\n== Events flood (builder: %d create clients; flood: %d clients%s; %d rounds) ==\n",
              opt_.builders, opt_.flood_clients,
              opt_.hostile ? ", ignoring Retry-After" : ", honouring Retry-After", opt_.rounds);
  std::printf("%-28s %12s   %s\n", "run", "creates/s", "(each round)");
  auto rounds = [](const std::vector<double>& v) {
    std::string out;
    for (double x : v) out += (out.empty() ? "" : " ") + std::to_string(static_cast<int>(x + 0.5));
    return out;
  };
  std::printf("%-28s %12.1f   %s\n", "builder alone (median)", a, rounds(alone).c_str());
  std::printf("%-28s %12.1f   %s\n", "builder during flood", l, rounds(loaded).c_str());
  std::printf(
      "flood while measured: %ld events stored (%.0f/s), %ld refused with 429 (%.0f/s), %ld "
      "failed\n",
      acc, acc / measured, ref, ref / measured, static_cast<long>(failed));
  std::printf("create-rate ratio (flood / alone): %.2f  slowdown %.1f%%  goal < 20%%  %s\n",
              a > 0 ? l / a : 0, slowdown * 100, slowdown < 0.2 ? "PASS" : "FAIL");
  return Status::Ok();
}

Status Bench::Run() {
  KUMO_ASSIGN_OR_RETURN(admin_config_, client::RestConfigFromKubeconfig(server_.kubeconfig()));
  KUMO_ASSIGN_OR_RETURN(admin_, RestClient::New(admin_config_));
  KUMO_RETURN_IF_ERROR(Fairness());
  if (opt_.events) KUMO_RETURN_IF_ERROR(EventsFlood());
  return Status::Ok();
}

}  // namespace
}  // namespace kumo::bench

int main(int argc, char** argv) {
  kumo::bench::Options o;
  CLI::App app{"bench_fairness: one tenant's load against another's latency and throughput"};
  app.add_option("--kumo", o.kumo, "kumo binary")->capture_default_str();
  app.add_option("--seconds", o.seconds, "Length of each measured run")->capture_default_str();
  app.add_option("--quiet-rate", o.quiet_rate, "Quiet tenant's lists per second")
      ->capture_default_str();
  app.add_option("--noisy-clients", o.noisy_clients, "Noisy tenant's concurrent clients")
      ->capture_default_str();
  app.add_option("--vms", o.vms_per_tenant, "VMs in each list")->capture_default_str();
  app.add_option("--builders", o.builders, "Builder tenant's concurrent create clients")
      ->capture_default_str();
  app.add_option("--flood-clients", o.flood_clients, "Flooding tenant's clients")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "Alternating runs without and with the load")
      ->capture_default_str();
  app.add_flag("--hostile", o.hostile, "Noisy and flooding clients ignore Retry-After");
  app.add_flag("--new-connections", o.new_connections,
               "Noisy clients open a new TLS connection for every request (a handshake flood)");
  app.add_flag("--no-events", [&o](int64_t) { o.events = false; },
               "Skip the events-flood measurement");
  CLI11_PARSE(app, argc, argv);
  kumo::bench::KumoProcess server;
  kumo::Status st = server.Start(o.kumo);
  if (st.ok()) st = kumo::bench::Bench(o, server).Run();
  server.Stop();
  if (!st.ok()) {
    std::fprintf(stderr, "bench_fairness: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
