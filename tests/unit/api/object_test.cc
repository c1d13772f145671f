#include "api/object.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

TEST(ObjectTest, StoredBytesGetResourceVersionSpliced) {
  json::value v = *ParseJson(
      R"({"spec":{"metadata":{"x":1}},"kind":"VirtualMachine","metadata":{"name":"a","resourceVersion":"9"},"apiVersion":"kubevirt.io/v1"})");
  std::string stored = SerializeForStore(v);
  EXPECT_EQ(stored.rfind(R"({"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"a"})", 0), 0u)
      << stored;
  std::string served = InjectResourceVersion(stored, 42);
  json::value back = *ParseJson(served);
  EXPECT_EQ(GetString(back, {"metadata", "resourceVersion"}), "42");
  EXPECT_EQ(GetString(back, {"metadata", "name"}), "a");
  // The nested "metadata" in spec is untouched.
  EXPECT_EQ(back.at_pointer("/spec/metadata"), *ParseJson(R"({"x":1})"));
}

TEST(ObjectTest, EmptyMetadata) {
  json::value v = *ParseJson(R"({"apiVersion":"v1","kind":"Namespace"})");
  std::string served = InjectResourceVersion(SerializeForStore(v), 3);
  EXPECT_EQ(GetString(*ParseJson(served), {"metadata", "resourceVersion"}), "3");
}

}  // namespace
}  // namespace kumo::api
