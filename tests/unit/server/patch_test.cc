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

// {"op":"copy","from":"","path":"/cN"} 40 times: each copy doubles the object.
std::string DoublingCopies(int n) {
  std::string p = "[";
  for (int i = 0; i < n; ++i) {
    p += std::string(i ? "," : "") + R"({"op":"copy","from":"","path":"/c)" + std::to_string(i) +
         "\"}";
  }
  return p + "]";
}

TEST(PatchBoundsTest, CopiesThatDoubleTheObjectAreTooLarge) {
  json::value v = Obj(R"({"metadata":{"name":"x"},"spec":{"s":"0123456789"}})");
  json::value before = v;
  Status st = ApplyPatch(PatchType::kJson, DoublingCopies(40), v);
  EXPECT_EQ(st.code(), Code::kRequestEntityTooLarge) << st.ToString();
  EXPECT_EQ(v, before);
  // A few copies are fine.
  ASSERT_TRUE(ApplyPatch(PatchType::kJson, DoublingCopies(3), v).ok());
  EXPECT_EQ(*Find(v, {"c2", "c1", "c0", "spec", "s"}), "0123456789");
}

TEST(PatchBoundsTest, OperationCountIsLimited) {
  json::value v = Obj(R"({"a":1})");
  auto tests = [](size_t n) {
    std::string p = "[";
    for (size_t i = 0; i < n; ++i) p += std::string(i ? "," : "") + R"({"op":"test","path":"/a","value":1})";
    return p + "]";
  };
  EXPECT_TRUE(ApplyPatch(PatchType::kJson, tests(kMaxJsonPatchOperations), v).ok());
  Status st = ApplyPatch(PatchType::kJson, tests(kMaxJsonPatchOperations + 1), v);
  EXPECT_EQ(st.code(), Code::kRequestEntityTooLarge);
  EXPECT_NE(st.message().find("10000"), std::string::npos) << st.message();
}

TEST(PatchBoundsTest, NestingCopiesStopAtTheDepthLimit) {
  // copy /a into /a/a again and again: one level deeper per operation.
  json::value v = Obj(R"({"a":{}})");
  std::string p = "[";
  for (int i = 0; i < 100; ++i) {
    std::string path = "/a";
    for (int k = 0; k <= i; ++k) path += "/a";
    p += std::string(i ? "," : "") + R"({"op":"copy","from":"/a","path":")" + path + "\"}";
  }
  p += "]";
  json::value before = v;
  Status st = ApplyPatch(PatchType::kJson, p, v);
  EXPECT_EQ(st.code(), Code::kInvalid) << st.ToString();
  EXPECT_NE(st.message().find("64 levels"), std::string::npos);
  EXPECT_EQ(v, before);
  // Adding a deep value under a deep path is refused the same way.
  std::string deep = "{}";
  for (int i = 0; i < 61; ++i) deep = "{\"x\":" + deep + "}";  // 62 levels: the patch is 64
  json::value w = Obj(R"({"a":{"b":{}}})");
  Status added = ApplyPatch(PatchType::kJson, R"([{"op":"add","path":"/d","value":)" + deep + "}]", w);
  ASSERT_TRUE(added.ok()) << added.ToString();
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"([{"op":"add","path":"/a/b/c","value":)" + deep + "}]", w).code(),
            Code::kInvalid);
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"([{"op":"move","from":"/d","path":"/a/b/c"}])", w).code(),
            Code::kInvalid);
  EXPECT_TRUE(CheckObjectBounds(w).ok());
  EXPECT_TRUE(ParseJson(ToJson(w)).ok());
}

TEST(PatchBoundsTest, MoveDoesNotCopyAndCannotMoveIntoItself) {
  json::value v = Obj(R"({"a":{"b":1},"c":2})");
  ASSERT_TRUE(ApplyPatch(PatchType::kJson, R"([{"op":"move","from":"/a","path":"/d"}])", v).ok());
  EXPECT_EQ(v, Obj(R"({"c":2,"d":{"b":1}})"));
  EXPECT_EQ(ApplyPatch(PatchType::kJson, R"([{"op":"move","from":"/d","path":"/d/e"}])", v).code(),
            Code::kInvalid);
  EXPECT_EQ(v, Obj(R"({"c":2,"d":{"b":1}})"));
}

TEST(PatchBoundsTest, MergePatchesCannotGrowAnObjectPastTheLimit) {
  std::string half(kMaxObjectBytes / 2 + 4096, 'x');
  json::value v = json::object{{"metadata", json::object{{"annotations", json::object{{"a", half}}}}}};
  json::value before = v;
  std::string patch = R"({"metadata":{"annotations":{"b":")" + half + "\"}}}";
  for (PatchType t : {PatchType::kMerge, PatchType::kStrategic, PatchType::kApply}) {
    EXPECT_EQ(ApplyPatch(t, patch, v).code(), Code::kRequestEntityTooLarge);
    EXPECT_EQ(v, before);
  }
  // Replacing the value instead of adding one stays within the limit.
  EXPECT_TRUE(ApplyPatch(PatchType::kMerge, R"({"metadata":{"annotations":{"a":")" + half + "\"}}}", v).ok());
}

TEST(PatchBoundsTest, ApplyPatchYamlAliasBombIsTooLarge) {
  std::string y = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int l = 1; l <= 9; ++l) {
    std::string prev = "*a" + std::to_string(l - 1);
    y += "a" + std::to_string(l) + ": &a" + std::to_string(l) + " [" + prev;
    for (int i = 1; i < 9; ++i) y += ", " + prev;
    y += "]\n";
  }
  json::value v = Obj(R"({"metadata":{"name":"x"}})");
  EXPECT_EQ(ApplyPatch(PatchType::kApply, y, v).code(), Code::kRequestEntityTooLarge);
  EXPECT_EQ(v, Obj(R"({"metadata":{"name":"x"}})"));
}

TEST(PatchTest, ContentTypes) {
  EXPECT_EQ(*PatchTypeOf("application/merge-patch+json"), PatchType::kMerge);
  EXPECT_EQ(*PatchTypeOf("application/json-patch+json; charset=utf-8"), PatchType::kJson);
  EXPECT_EQ(*PatchTypeOf("application/strategic-merge-patch+json"), PatchType::kStrategic);
  EXPECT_EQ(PatchTypeOf("text/plain").status().code(), Code::kUnsupportedMediaType);
}

}  // namespace
}  // namespace kumo::server
