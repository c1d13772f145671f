#include "server/patch.h"

#include <gtest/gtest.h>

namespace kumo::server {
namespace {

json::value Obj(const char* text) { return *ParseJson(text); }

TEST(PatchTest, MergePatchSetsAndRemoves) {
  json::value v = Obj(R"({"a":1,"b":{"c":2,"d":3},"l":[1,2]})");
  ASSERT_TRUE(ApplyPatch(PatchType::kMerge, R"({"b":{"c":null,"e":4},"l":[3],"n":"x"})", v).ok());
  EXPECT_EQ(v, Obj(R"({"a":1,"b":{"d":3,"e":4},"l":[3],"n":"x"})"));
}

TEST(PatchTest, JsonPatchOperations) {
  json::value v = Obj(R"({"a":{"b":[1,2,3]},"x":"y"})");
  const char* patch = R"([
    {"op":"add","path":"/a/b/1","value":9},
    {"op":"remove","path":"/a/b/0"},
    {"op":"replace","path":"/x","value":"z"},
    {"op":"copy","from":"/x","path":"/c"},
    {"op":"move","from":"/c","path":"/d"},
    {"op":"add","path":"/a/b/-","value":7},
    {"op":"test","path":"/d","value":"z"},
    {"op":"add","path":"/k~1l","value":true}
  ])";
  Status st = ApplyPatch(PatchType::kJson, patch, v);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(v, Obj(R"({"a":{"b":[9,2,3,7]},"x":"z","d":"z","k/l":true})"));
}

TEST(PatchTest, FailedJsonPatchLeavesTargetUnchanged) {
  json::value v = Obj(R"({"a":1})");
  Status st = ApplyPatch(PatchType::kJson,
                         R"([{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":3}])", v);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(v, Obj(R"({"a":1})"));
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"([{"op":"remove","path":"/missing"}])", v).code(),
            Code::kInvalid);
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"({"op":"add"})", v).code(), Code::kBadRequest);
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"([{"op":"frobnicate","path":"/a"}])", v).code(),
            Code::kBadRequest);
}

TEST(PatchTest, StrategicMergeDirectives) {
  json::value v = Obj(R"({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"x":1,"y":2}})");
  ASSERT_TRUE(ApplyPatch(PatchType::kStrategic,
                         R"({"metadata":{"labels":{"a":null}},"spec":{"$patch":"replace","z":3},
                             "$setElementOrder/list":[{"name":"a"}]})", v).ok());
  EXPECT_EQ(v, Obj(R"({"metadata":{"labels":{"b":"2"}},"spec":{"z":3}})"));
}

TEST(PatchTest, ContentTypes) {
  EXPECT_EQ(*PatchTypeOf("application/merge-patch+json"), PatchType::kMerge);
  EXPECT_EQ(*PatchTypeOf("application/json-patch+json; charset=utf-8"), PatchType::kJson);
  EXPECT_EQ(*PatchTypeOf("application/strategic-merge-patch+json"), PatchType::kStrategic);
  EXPECT_EQ(PatchTypeOf("text/plain").status().code(), Code::kUnsupportedMediaType);
}

}  // namespace
}  // namespace kumo::server
