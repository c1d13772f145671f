// The REST client against the real API server, started in-process on a free port with a
// temporary data dir: CRUD with the server's errors mapped to Status, watches (order, cancel,
// server-side end), TLS verification, bearer tokens and client certificates, plain HTTP.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "common/file_util.h"
#include "server/api_server.h"
#include "http/pki.h"

namespace kumo::client {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string MakeTempDir() {
  char tmpl[] = "/tmp/kumo-rest-test-XXXXXX";
  return mkdtemp(tmpl) ? std::string(tmpl) : std::string();
}

json::value Vm(const std::string& ns, const std::string& name) {
  StatusOr<json::value> vm = ParseJson(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "NAME", "namespace": "NS", "labels": {"app": "web"}},
    "spec": {
      "runStrategy": "Halted",
      "instancetype": {"kind": "VirtualMachineClusterInstancetype", "name": "k1.tiny"},
      "template": {"spec": {
        "domain": {"devices": {"disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}]}},
        "volumes": [{"name": "rootdisk", "containerDisk": {"image": "tiny"}}]}}}})");
  json::object& meta = vm->as_object()["metadata"].as_object();
  meta["name"] = name;
  meta["namespace"] = ns;
  return *vm;
}

const std::string kVms = ResourcePath("kubevirt.io", "v1", "virtualmachines", "rest");

std::string VmPath(const std::string& name) {
  return ResourcePath("kubevirt.io", "v1", "virtualmachines", "rest", name);
}

class RestClientIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir());
    ASSERT_FALSE(dir_->empty());
    server::ApiServerOptions options{.data_dir = *dir_, .listen = "127.0.0.1:0"};
    options.durable = false;  // fsync speed is the benchmark's business
    StatusOr<std::unique_ptr<server::ApiServer>> server = server::ApiServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = server->release();
    StatusOr<Kubeconfig> kc = LoadKubeconfig(server_->kubeconfig_path(), "");
    ASSERT_TRUE(kc.ok()) << kc.status().ToString();
    StatusOr<RestConfig> config = RestConfigFromKubeconfig(*kc);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = new RestConfig(*config);
    StatusOr<std::unique_ptr<RestClient>> client = RestClient::New(*config_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = client->release();
    StatusOr<json::value> ns = client_->Create(
        ResourcePath("", "v1", "namespaces"),
        json::value{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "rest"}}}});
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  }
  static void TearDownTestSuite() {
    delete client_;
    if (server_ != nullptr) server_->Stop();
    delete server_;
    delete config_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static std::unique_ptr<RestClient> ClientWith(const RestConfig& config) {
    StatusOr<std::unique_ptr<RestClient>> client = RestClient::New(config);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static std::string* dir_;
  static server::ApiServer* server_;
  static RestConfig* config_;
  static RestClient* client_;
};

std::string* RestClientIntegrationTest::dir_ = nullptr;
server::ApiServer* RestClientIntegrationTest::server_ = nullptr;
RestConfig* RestClientIntegrationTest::config_ = nullptr;
RestClient* RestClientIntegrationTest::client_ = nullptr;

TEST_F(RestClientIntegrationTest, CreateGetListPatchUpdateDelete) {
  RestClient& c = *client_;
  StatusOr<json::value> created = c.Create(kVms, Vm("rest", "crud"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string rv = GetString(*created, {"metadata", "resourceVersion"});
  EXPECT_FALSE(rv.empty());
  EXPECT_FALSE(GetString(*created, {"metadata", "uid"}).empty());

  StatusOr<json::value> again = c.Create(kVms, Vm("rest", "crud"));
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().ToString();
  EXPECT_NE(again.status().message().find("crud"), std::string::npos);

  StatusOr<json::value> got = c.Get(VmPath("crud"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(GetString(*got, {"metadata", "uid"}), GetString(*created, {"metadata", "uid"}));
  EXPECT_EQ(GetString(*got, {"spec", "runStrategy"}), "Halted");

  StatusOr<json::value> list = c.List(kVms + "?limit=500&labelSelector=" + QueryEscape("app=web"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(GetString(*list, {"kind"}), "VirtualMachineList");
  bool found = false;
  for (const auto& item : list->at("items").as_array()) {
    found |= GetString(item, {"metadata", "name"}) == "crud";
  }
  EXPECT_TRUE(found);

  StatusOr<json::value> merged = c.Patch(VmPath("crud"), PatchType::kMerge,
                                         json::value{{"metadata", {{"labels", {{"tier", "a"}}}}}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(GetString(*merged, {"metadata", "labels", "tier"}), "a");
  EXPECT_EQ(GetString(*merged, {"metadata", "labels", "app"}), "web");
  EXPECT_NE(GetString(*merged, {"metadata", "resourceVersion"}), rv);

  StatusOr<json::value> ops =
      ParseJson(R"([{"op": "add", "path": "/metadata/labels/patched", "value": "json"}])");
  StatusOr<json::value> jpatched = c.Patch(VmPath("crud"), PatchType::kJson, *ops);
  ASSERT_TRUE(jpatched.ok()) << jpatched.status().ToString();
  EXPECT_EQ(GetString(*jpatched, {"metadata", "labels", "patched"}), "json");

  StatusOr<json::value> strategic =
      c.Patch(VmPath("crud"), PatchType::kStrategic,
              json::value{{"metadata", {{"annotations", {{"note", "hi"}}}}}});
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  EXPECT_EQ(GetString(*strategic, {"metadata", "annotations", "note"}), "hi");

  // PUT with the resourceVersion from before the patches: the server refuses it.
  json::value stale = *got;
  stale.as_object()["metadata"].as_object()["labels"].as_object()["tier"] = "b";
  StatusOr<json::value> conflict = c.Update(VmPath("crud"), stale);
  EXPECT_EQ(conflict.status().code(), Code::kConflict) << conflict.status().ToString();

  // Read-modify-write as controllers do it: retry on Conflict (the VM controller may write
  // status between our read and our write).
  StatusOr<json::value> updated = Conflict("not tried");
  for (int attempt = 0; attempt < 5 && !updated.ok(); ++attempt) {
    StatusOr<json::value> fresh = c.Get(VmPath("crud"));
    ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    fresh->as_object()["metadata"].as_object()["labels"].as_object()["tier"] = "b";
    updated = c.Update(VmPath("crud"), *fresh);
    if (!updated.ok()) {
      ASSERT_EQ(updated.status().code(), Code::kConflict) << updated.status().ToString();
    }
  }
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(GetString(*updated, {"metadata", "labels", "tier"}), "b");

  StatusOr<json::value> deleted = c.Delete(VmPath("crud"));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  StatusOr<json::value> gone = c.Get(VmPath("crud"));
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("\"crud\" not found"), std::string::npos)
      << gone.status().message();
  EXPECT_EQ(c.Delete(VmPath("crud")).status().code(), Code::kNotFound);
}

TEST_F(RestClientIntegrationTest, InvalidObjectKeepsCauses) {
  json::value bad = Vm("rest", "bad");
  bad.as_object()["spec"].as_object()["runStrategy"] = "Sometimes";
  StatusOr<json::value> created = client_->Create(kVms, bad);
  ASSERT_EQ(created.status().code(), Code::kInvalid) << created.status().ToString();
  ASSERT_FALSE(created.status().causes().empty());
  EXPECT_EQ(created.status().causes()[0].field, "spec.runStrategy");
}

TEST_F(RestClientIntegrationTest, DoReturnsRawResponses) {
  StatusOr<RestResponse> version = client_->Do("GET", "/version");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(version->code, 200);
  EXPECT_NE(version->Header("content-type").find("application/json"), std::string::npos);
  StatusOr<RestResponse> missing = client_->Do("GET", "/api/v1/nosuchthings");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->code, 404);
  EXPECT_NE(missing->body.find("\"kind\":\"Status\""), std::string::npos);
}

TEST_F(RestClientIntegrationTest, WatchDeliversEventsInOrderAndCancelStopsIt) {
  StatusOr<json::value> list = client_->List(kVms);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::string rv = GetString(*list, {"metadata", "resourceVersion"});

  std::mutex mu;
  std::vector<std::string> events;  // "TYPE name"
  std::atomic<bool> cancel{false};
  Status watch_status;
  Clock::time_point watch_ended;
  std::thread watcher([&] {
    watch_status = client_->Watch(
        kVms + "?resourceVersion=" + rv,
        [&](std::string_view type, json::value&& object) {
          std::lock_guard lock(mu);
          events.push_back(std::string(type) + " " + GetString(object, {"metadata", "name"}));
          return true;
        },
        &cancel);
    watch_ended = Clock::now();
  });

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Create(kVms, Vm("rest", "w" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(client_
                  ->Patch(VmPath("w1"), PatchType::kMerge,
                          json::value{{"metadata", {{"labels", {{"x", "y"}}}}}})
                  .ok());
  ASSERT_TRUE(client_->Delete(VmPath("w2")).ok());
  // Our writes, in order. Controllers may add MODIFIED events of their own in between.
  const std::vector<std::string> want = {"ADDED w0", "ADDED w1",    "ADDED w2",  "ADDED w3",
                                         "ADDED w4", "MODIFIED w1", "DELETED w2"};
  auto seen_in_order = [&] {
    std::lock_guard lock(mu);
    size_t matched = 0;
    for (const auto& e : events) {
      if (matched < want.size() && e == want[matched]) ++matched;
    }
    return matched == want.size();
  };
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline && !seen_in_order();) {
    std::this_thread::sleep_for(10ms);
  }
  auto cancelled_at = Clock::now();
  cancel = true;
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status.ToString();
  EXPECT_LT(watch_ended - cancelled_at, 1500ms) << "cancel must stop the watch promptly";
  EXPECT_TRUE(seen_in_order()) << ::testing::PrintToString(events);
  std::lock_guard lock(mu);
  std::vector<std::string> added;
  for (const auto& e : events) {
    if (e.rfind("ADDED", 0) == 0) added.push_back(e);
  }
  EXPECT_EQ(added, std::vector<std::string>(want.begin(), want.begin() + 5));
}

TEST_F(RestClientIntegrationTest, WatchEndsWhenCallbackReturnsFalse) {
  ASSERT_TRUE(client_->Create(kVms, Vm("rest", "first")).ok());
  int calls = 0;
  auto start = Clock::now();
  // No resourceVersion: the watch starts with every existing VM as ADDED.
  Status st = client_->Watch(
      kVms, [&](std::string_view type, json::value&&) { return ++calls < 1; }, nullptr);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_LT(Clock::now() - start, 5s);
  // The client is still usable after abandoning a stream mid-way.
  EXPECT_TRUE(client_->Get(VmPath("first")).ok());
}

TEST_F(RestClientIntegrationTest, WatchEndsWhenTheServerEndsIt) {
  auto start = Clock::now();
  Status st = client_->Watch(
      ResourcePath("", "v1", "namespaces") + "?timeoutSeconds=1",
      [](std::string_view, json::value&&) { return true; }, nullptr);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_GE(Clock::now() - start, 900ms);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST_F(RestClientIntegrationTest, WatchErrorsMapToStatus) {
  Status st = client_->Watch(
      kVms + "?labelSelector=" + QueryEscape("a in (b"),
      [](std::string_view, json::value&&) { return true; }, nullptr);
  EXPECT_EQ(st.code(), Code::kBadRequest) << st.ToString();
}

TEST_F(RestClientIntegrationTest, WrongCaFailsVerification) {
  std::string other = MakeTempDir();
  StatusOr<pki::PkiFiles> files = pki::EnsureServerPki(other, {"127.0.0.1"});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  RestConfig config = *config_;
  StatusOr<std::string> ca = ReadFileToString(files->ca_cert);
  ASSERT_TRUE(ca.ok());
  config.ca_pem = *ca;
  std::filesystem::remove_all(other);
  std::unique_ptr<RestClient> client = ClientWith(config);
  ASSERT_NE(client, nullptr);
  StatusOr<json::value> got = client->Get(ResourcePath("", "v1", "namespaces"));
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  EXPECT_NE(got.status().message().find("certificate"), std::string::npos)
      << got.status().message();
  EXPECT_NE(got.status().message().find(config.server), std::string::npos)
      << got.status().message();
}

TEST_F(RestClientIntegrationTest, WrongTokenIsUnauthorized) {
  RestConfig config = *config_;
  config.token = "not-the-token";
  std::unique_ptr<RestClient> client = ClientWith(config);
  ASSERT_NE(client, nullptr);
  StatusOr<json::value> got = client->Get(ResourcePath("", "v1", "namespaces"));
  EXPECT_EQ(got.status().code(), Code::kUnauthorized) << got.status().ToString();
  Status watch = client->Watch(
      ResourcePath("", "v1", "namespaces"), [](std::string_view, json::value&&) { return true; },
      nullptr);
  EXPECT_EQ(watch.code(), Code::kUnauthorized) << watch.ToString();
}

TEST_F(RestClientIntegrationTest, ClientCertificateAuthenticates) {
  StatusOr<pki::PkiFiles> files = pki::EnsureServerPki(*dir_, {"127.0.0.1"});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto cert = pki::IssueClientCert(*files, "operator-1", {"system:masters"});
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  RestConfig config = *config_;
  config.token.clear();
  config.client_cert_pem = cert->first;
  config.client_key_pem = cert->second;
  std::unique_ptr<RestClient> client = ClientWith(config);
  ASSERT_NE(client, nullptr);
  StatusOr<json::value> got = client->Get(ResourcePath("", "v1", "namespaces", "", "rest"));
  EXPECT_TRUE(got.ok()) << got.status().ToString();

  config.client_cert_pem.clear();
  config.client_key_pem.clear();
  std::unique_ptr<RestClient> anonymous = ClientWith(config);
  EXPECT_EQ(anonymous->Get(ResourcePath("", "v1", "namespaces")).status().code(),
            Code::kUnauthorized);
}

TEST_F(RestClientIntegrationTest, ConcurrentRequestsShareOneClient) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(client_->Create(kVms, Vm("rest", "c" + std::to_string(i))).ok());
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        StatusOr<json::value> got = client_->Get(VmPath("c" + std::to_string((t + i) % 4)));
        if (!got.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(RestClientPlainHttpTest, TalksToAPlainHttpServer) {
  std::string dir = MakeTempDir();
  server::ApiServerOptions options{.data_dir = dir, .listen = "127.0.0.1:0"};
  options.plain_http = true;
  options.durable = false;
  StatusOr<std::unique_ptr<server::ApiServer>> server = server::ApiServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  StatusOr<Kubeconfig> kc = LoadKubeconfig((*server)->kubeconfig_path(), "");
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  StatusOr<RestConfig> config = RestConfigFromKubeconfig(*kc);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server.rfind("http://", 0), 0u) << config->server;
  StatusOr<std::unique_ptr<RestClient>> client = RestClient::New(*config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  StatusOr<json::value> list = (*client)->List(ResourcePath("", "v1", "namespaces"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_GE(list->at("items").as_array().size(), 1u);

  // Stop the server: an idle pooled connection goes stale and the next request fails cleanly.
  (*server)->Stop();
  StatusOr<json::value> after = (*client)->List(ResourcePath("", "v1", "namespaces"));
  EXPECT_EQ(after.status().code(), Code::kUnavailable) << after.status().ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kumo::client
