#include "server/request_info.h"

#include <gtest/gtest.h>

namespace kumo::server {
namespace {

TEST(RequestInfoTest, NamespacedResources) {
  Query q;
  RequestInfo i = ParseRequestInfo("GET", "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/vm1", q);
  EXPECT_TRUE(i.is_resource_request);
  EXPECT_EQ(i.group, "kubevirt.io");
  EXPECT_EQ(i.version, "v1");
  EXPECT_EQ(i.namespace_, "demo");
  EXPECT_EQ(i.resource, "virtualmachines");
  EXPECT_EQ(i.name, "vm1");
  EXPECT_EQ(i.verb, "get");
  i = ParseRequestInfo("PUT", "/api/v1/namespaces/demo/secrets/s/status", q);
  EXPECT_EQ(i.group, "");
  EXPECT_EQ(i.subresource, "status");
  EXPECT_EQ(i.verb, "update");
}

TEST(RequestInfoTest, NamespaceObjectAndItsStatus) {
  Query q;
  RequestInfo i = ParseRequestInfo("GET", "/api/v1/namespaces/demo", q);
  EXPECT_EQ(i.resource, "namespaces");
  EXPECT_EQ(i.name, "demo");
  EXPECT_EQ(i.namespace_, "");
  i = ParseRequestInfo("PATCH", "/api/v1/namespaces/demo/status", q);
  EXPECT_EQ(i.resource, "namespaces");
  EXPECT_EQ(i.name, "demo");
  EXPECT_EQ(i.subresource, "status");
}

TEST(RequestInfoTest, Verbs) {
  Query watch = ParseQuery("watch=true&resourceVersion=5");
  EXPECT_EQ(ParseRequestInfo("GET", "/api/v1/nodes", watch).verb, "watch");
  EXPECT_EQ(ParseRequestInfo("GET", "/api/v1/nodes", {}).verb, "list");
  EXPECT_EQ(ParseRequestInfo("DELETE", "/api/v1/nodes", {}).verb, "deletecollection");
  EXPECT_EQ(ParseRequestInfo("DELETE", "/api/v1/nodes/n1", {}).verb, "delete");
  EXPECT_EQ(ParseRequestInfo("POST", "/api/v1/nodes", {}).verb, "create");
  EXPECT_FALSE(ParseRequestInfo("GET", "/apis/kubevirt.io/v1", {}).is_resource_request);
  EXPECT_FALSE(ParseRequestInfo("GET", "/version", {}).is_resource_request);
}

TEST(RequestInfoTest, QueryDecoding) {
  Query q = ParseQuery("labelSelector=app%3Dweb%2Ctier+in+(a)&limit=5&empty");
  EXPECT_EQ(q["labelSelector"], "app=web,tier in (a)");
  EXPECT_EQ(q["limit"], "5");
  EXPECT_EQ(q.count("empty"), 1u);
}

}  // namespace
}  // namespace kumo::server
