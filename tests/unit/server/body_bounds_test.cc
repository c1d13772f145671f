// Bodies that arrive as protobuf or YAML are held to what a JSON body is: UTF-8 strings and
// bounded expansion, so every stored object reads back and no small body costs a large one.
#include <gtest/gtest.h>

#include <string>

#include "server/authz.h"
#include "server/protobuf_decode.h"
#include "tenancy_test_util.h"

namespace kumo::server {
namespace {

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A length-delimited protobuf field.
std::string Field(uint32_t number, std::string_view bytes) {
  return Varint((uint64_t{number} << 3) | 2) + Varint(bytes.size()) + std::string(bytes);
}

// What kubectl sends for `kubectl create secret generic`: "k8s\0" + runtime.Unknown{typeMeta=1,
// raw=2}; the Secret is {metadata=1 {name=1, labels=11}, data=2, type=3, stringData=4}.
std::string SecretProtobuf(std::string_view label_value, std::string_view string_data) {
  std::string meta = Field(1, "s1") + Field(11, Field(1, "app") + Field(2, label_value));
  std::string secret = Field(1, meta) + Field(2, Field(1, "bin") + Field(2, "\xFF\xFE")) +
                       Field(4, Field(1, "note") + Field(2, string_data));
  std::string unknown = Field(1, Field(1, "v1") + Field(2, "Secret")) + Field(2, secret);
  return std::string("k8s\0", 4) + unknown;
}

TEST(ProtobufDecodeTest, SecretWithUtf8Decodes) {
  StatusOr<json::value> v = DecodeKubernetesProtobuf(SecretProtobuf("caf\xC3\xA9", "ok"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(GetString(*v, {"metadata", "labels", "app"}), "caf\xC3\xA9");
  // Binary data is base64 and so always UTF-8.
  EXPECT_EQ(GetString(*v, {"data", "bin"}), "//4=");
  EXPECT_TRUE(ParseJson(ToJson(*v)).ok());
}

TEST(ProtobufDecodeTest, StringsThatAreNotUtf8AreInvalid) {
  StatusOr<json::value> v = DecodeKubernetesProtobuf(SecretProtobuf("caf\xE9", "ok"));
  ASSERT_EQ(v.status().code(), Code::kInvalid);
  EXPECT_EQ(HttpCodeOf(v.status().code()), 422);
  EXPECT_EQ(v.status().causes()[0].field, "metadata.labels.app");
  v = DecodeKubernetesProtobuf(SecretProtobuf("web", "\xC0\xAF"));
  ASSERT_EQ(v.status().code(), Code::kInvalid);
  EXPECT_EQ(v.status().causes()[0].field, "stringData.note");
}

class ReviewBodyTest : public testing::CacheFixture {
 protected:
  void SetUp() override {
    CacheFixture::SetUp();
    tenants_ = std::make_unique<TenantDirectory>(*cache_);
    authz_ = std::make_unique<Authorizer>(*tenants_);
  }
  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<Authorizer> authz_;
  UserInfo user_{"someone", {"system:authenticated"}};
};

TEST_F(ReviewBodyTest, YamlAliasBombIsTooLarge) {
  std::string y = "spec: {resourceAttributes: {verb: get, resource: pods}}\n"
                  "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int l = 1; l <= 9; ++l) {
    std::string prev = "*a" + std::to_string(l - 1);
    y += "a" + std::to_string(l) + ": &a" + std::to_string(l) + " [" + prev;
    for (int i = 1; i < 9; ++i) y += ", " + prev;
    y += "]\n";
  }
  http::Request req;
  req.headers.emplace_back("content-type", "application/yaml");
  req.body = y;
  http::Response r = authz_->ServeSelfSubjectAccessReview(user_, req);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(GetString(*ParseJson(r.body), {"reason"}), "RequestEntityTooLarge");
  // Whatever the content type says: the review reads JSON or YAML alike.
  req.headers.clear();
  EXPECT_EQ(authz_->ServeSelfSubjectAccessReview(user_, req).status, 413);
  EXPECT_EQ(authz_->ServeSelfSubjectRulesReview(user_, req).status, 413);
}

TEST_F(ReviewBodyTest, ProtobufReviewWithBadUtf8IsInvalid) {
  auto review = [](std::string_view ns) {
    std::string attrs = Field(1, ns) + Field(2, "get") + Field(5, "pods");
    std::string raw = Field(2, Field(1, attrs));  // SelfSubjectAccessReview{spec=2{resourceAttributes=1}}
    return std::string("k8s\0", 4) + Field(2, raw);
  };
  http::Request req;
  req.headers.emplace_back("content-type", "application/vnd.kubernetes.protobuf");
  req.body = review("ns1");
  EXPECT_EQ(authz_->ServeSelfSubjectAccessReview(user_, req).status, 201);
  req.body = review("ns\xFF");
  http::Response r = authz_->ServeSelfSubjectAccessReview(user_, req);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(IsValidUtf8(r.body));
  // The rules review echoes its namespace back.
  req.body = std::string("k8s\0", 4) + Field(2, Field(2, Field(1, "ns\xC3")));
  r = authz_->ServeSelfSubjectRulesReview(user_, req);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(GetString(*ParseJson(r.body), {"reason"}), "Invalid");
  EXPECT_NE(r.body.find("spec.namespace"), std::string::npos);
  req.body = std::string("k8s\0", 4) + Field(2, Field(2, Field(1, "ns1")));
  EXPECT_EQ(authz_->ServeSelfSubjectRulesReview(user_, req).status, 201);
}

}  // namespace
}  // namespace kumo::server
