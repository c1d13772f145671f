// Unit tests of the REST client's pure parts: paths, query escaping, config from a
// kubeconfig, and the mapping of Kubernetes Status bodies to Status. The client against a real
// server is tested in tests/unit/server/rest_client_integration_test.cc.
#include "client/rest_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace kumo::client {
namespace {

TEST(ResourcePathTest, CoreAndGroupedResources) {
  EXPECT_EQ(ResourcePath("", "v1", "namespaces"), "/api/v1/namespaces");
  EXPECT_EQ(ResourcePath("", "v1", "namespaces", "", "demo"), "/api/v1/namespaces/demo");
  EXPECT_EQ(ResourcePath("", "v1", "pods", "demo", "p1", "status"),
            "/api/v1/namespaces/demo/pods/p1/status");
  EXPECT_EQ(ResourcePath("kubevirt.io", "v1", "virtualmachines", "demo"),
            "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines");
  EXPECT_EQ(ResourcePath("kubevirt.io", "v1", "virtualmachines"),
            "/apis/kubevirt.io/v1/virtualmachines");
  EXPECT_EQ(ResourcePath("instancetype.kubevirt.io", "v1beta1",
                         "virtualmachineclusterinstancetypes", "", "k1.tiny"),
            "/apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes/k1.tiny");
  // A subresource without a name would address the collection; it is dropped.
  EXPECT_EQ(ResourcePath("", "v1", "pods", "demo", "", "status"), "/api/v1/namespaces/demo/pods");
}

TEST(QueryEscapeTest, EscapesReservedCharacters) {
  EXPECT_EQ(QueryEscape("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
  EXPECT_EQ(QueryEscape("a b&c/d?e#f%"), "a%20b%26c%2Fd%3Fe%23f%25");
  EXPECT_EQ(QueryEscape("Az09-_.~"), "Az09-_.~");
  EXPECT_EQ(QueryEscape("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(QueryEscape(""), "");
}

TEST(StatusFromResponseTest, MapsReasonMessageAndCauses) {
  const char* body = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"VirtualMachine.kubevirt.io \"vm1\" is invalid: spec.runStrategy: Unsupported value",
    "reason":"Invalid","details":{"name":"vm1","group":"kubevirt.io","kind":"virtualmachines",
    "causes":[{"reason":"FieldValueNotSupported","message":"Unsupported value: \"Sometimes\"",
    "field":"spec.runStrategy"}]},"code":422})";
  Status st = StatusFromResponse(422, body, "");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(),
            "VirtualMachine.kubevirt.io \"vm1\" is invalid: spec.runStrategy: Unsupported value");
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].reason, "FieldValueNotSupported");
  EXPECT_EQ(st.causes()[0].field, "spec.runStrategy");
  EXPECT_EQ(st.causes()[0].message, "Unsupported value: \"Sometimes\"");
  EXPECT_EQ(st.retry_after_seconds(), 0);
}

TEST(StatusFromResponseTest, ReasonDistinguishesCodesSharingAnHttpStatus) {
  EXPECT_EQ(StatusFromResponse(409, R"({"kind":"Status","reason":"AlreadyExists","code":409})", "")
                .code(),
            Code::kAlreadyExists);
  EXPECT_EQ(
      StatusFromResponse(409, R"({"kind":"Status","reason":"Conflict","code":409})", "").code(),
      Code::kConflict);
  EXPECT_EQ(
      StatusFromResponse(410, R"({"kind":"Status","reason":"Expired","code":410})", "").code(),
      Code::kGone);
  EXPECT_EQ(StatusFromResponse(401, R"({"kind":"Status","reason":"Unauthorized"})", "").code(),
            Code::kUnauthorized);
}

TEST(StatusFromResponseTest, KeepsRetryAfterFromHeaderOrDetails) {
  const char* body =
      R"({"kind":"Status","reason":"TooManyRequests","message":"slow down",
          "details":{"retryAfterSeconds":7},"code":429})";
  Status from_details = StatusFromResponse(429, body, "");
  EXPECT_EQ(from_details.code(), Code::kTooManyRequests);
  EXPECT_EQ(from_details.retry_after_seconds(), 7);
  EXPECT_EQ(StatusFromResponse(429, body, "3").retry_after_seconds(), 3);
  Status plain = StatusFromResponse(503, "overloaded", "12");
  EXPECT_EQ(plain.code(), Code::kUnavailable);
  EXPECT_EQ(plain.retry_after_seconds(), 12);
}

TEST(StatusFromResponseTest, FallsBackToHttpCodeForOtherBodies) {
  Status st = StatusFromResponse(404, "404 page not found\n", "");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "the server responded with HTTP 404: 404 page not found");
  EXPECT_EQ(StatusFromResponse(502, "", "").code(), Code::kInternal);
  EXPECT_EQ(StatusFromResponse(418, "{}", "").code(), Code::kBadRequest);
  // A Status with an unknown reason keeps its message and takes the code from HTTP.
  Status odd = StatusFromResponse(
      403, R"({"kind":"Status","reason":"SomethingNew","message":"no entry"})", "");
  EXPECT_EQ(odd.code(), Code::kForbidden);
  EXPECT_EQ(odd.message(), "no entry");
  // No message: one is made up from the code and reason.
  EXPECT_EQ(StatusFromResponse(404, R"({"kind":"Status","reason":"NotFound"})", "").message(),
            "the server responded with HTTP 404 NotFound");
}

TEST(CodeOfReasonTest, EveryReasonRoundTrips) {
  for (Code c :
       {Code::kBadRequest, Code::kUnauthorized, Code::kForbidden, Code::kNotFound,
        Code::kMethodNotAllowed, Code::kNotAcceptable, Code::kAlreadyExists, Code::kConflict,
        Code::kGone, Code::kRequestEntityTooLarge, Code::kUnsupportedMediaType, Code::kInvalid,
        Code::kTooManyRequests, Code::kInternal, Code::kUnavailable, Code::kTimeout}) {
    EXPECT_EQ(CodeOfReason(ReasonOf(c)), c) << ReasonOf(c);
  }
  EXPECT_EQ(CodeOfReason("NoSuchReason"), Code::kOk);
  EXPECT_EQ(CodeOfReason(""), Code::kOk);
}

TEST(RestConfigTest, FromKubeconfig) {
  Kubeconfig kc;
  kc.server = "https://10.0.0.1:6443";
  kc.ca_pem = "CA";
  kc.token = "tok";
  kc.client_cert_pem = "CERT";
  kc.client_key_pem = "KEY";
  StatusOr<RestConfig> config = RestConfigFromKubeconfig(kc);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, kc.server);
  EXPECT_EQ(config->ca_pem, "CA");
  EXPECT_EQ(config->token, "tok");
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_EQ(config->timeout_seconds, 30);

  EXPECT_EQ(RestConfigFromKubeconfig(Kubeconfig{}).status().code(), Code::kBadRequest);
}

TEST(RestClientTest, RejectsMalformedConfig) {
  RestConfig config;
  config.server = "ftp://example.com";
  EXPECT_EQ(RestClient::New(config).status().code(), Code::kBadRequest);
  config.server = "https://127.0.0.1:1";
  config.ca_pem = "not a certificate";
  EXPECT_EQ(RestClient::New(config).status().code(), Code::kBadRequest);
  config.ca_pem.clear();
  config.client_cert_pem = "only a certificate";
  EXPECT_EQ(RestClient::New(config).status().code(), Code::kBadRequest);
}

TEST(RestClientTest, UnreachableServerIsUnavailableAndNamesTheUrl) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  RestConfig config;
  config.server = "http://127.0.0.1:1";
  config.timeout_seconds = 5;
  StatusOr<std::unique_ptr<RestClient>> client = RestClient::New(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  StatusOr<json::value> got = (*client)->Get("/api/v1/namespaces");
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  EXPECT_NE(got.status().message().find("http://127.0.0.1:1"), std::string::npos)
      << got.status().message();

  std::atomic<bool> cancel{false};
  Status watch = (*client)->Watch(
      "/api/v1/namespaces", [](std::string_view, json::value&&) { return true; }, &cancel);
  EXPECT_EQ(watch.code(), Code::kUnavailable);
}

}  // namespace
}  // namespace kumo::client
