#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace kumo {
namespace {

// "a0: &a0 [x, x, ...]" then each level lists the previous one `fanout` times: fanout^levels
// values from a few hundred bytes.
std::string AliasBomb(int levels, int fanout) {
  std::string y = "a0: &a0 [x";
  for (int i = 1; i < fanout; ++i) y += ", x";
  y += "]\n";
  for (int l = 1; l <= levels; ++l) {
    y += "a" + std::to_string(l) + ": &a" + std::to_string(l) + " [";
    for (int i = 0; i < fanout; ++i) y += (i ? ", *a" : "*a") + std::to_string(l - 1);
    y += "]\n";
  }
  return y;
}

// `depth` objects nested in one another: {"a":{"a":...{}}}.
std::string NestedJson(int depth) {
  std::string s;
  for (int i = 0; i < depth - 1; ++i) s += "{\"a\":";
  s += "{}";
  for (int i = 0; i < depth - 1; ++i) s += "}";
  return s;
}

// The same in block-style YAML: `depth` - 2 lines "a:" and a last "a: {}".
std::string NestedYaml(int depth) {
  std::string s;
  for (int i = 0; i < depth - 2; ++i) s += std::string(2 * i, ' ') + "a:\n";
  s += std::string(2 * (depth - 2), ' ') + "a: {}\n";
  return s;
}

TEST(YamlTest, AliasBombIsRefusedAsTooLarge) {
  std::string bomb = AliasBomb(9, 9);
  ASSERT_LT(bomb.size(), 600u);
  StatusOr<json::value> v = ParseJsonOrYaml(bomb);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kRequestEntityTooLarge);
  EXPECT_EQ(HttpCodeOf(v.status().code()), 413);
  EXPECT_NE(v.status().message().find("aliases"), std::string::npos) << v.status().ToString();
}

TEST(YamlTest, ModestAliasesStillExpand) {
  StatusOr<json::value> v = ParseJsonOrYaml(
      "base: &labels {app: web, tier: front}\n"
      "copy1: *labels\n"
      "copy2: *labels\n"
      "list: [*labels, *labels]\n");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, *ParseJson(R"({"base":{"app":"web","tier":"front"},
      "copy1":{"app":"web","tier":"front"},"copy2":{"app":"web","tier":"front"},
      "list":[{"app":"web","tier":"front"},{"app":"web","tier":"front"}]})"));
  // 3 levels of 9 aliases (729 values) are within the budget of 10,000 values.
  EXPECT_TRUE(ParseJsonOrYaml(AliasBomb(3, 9)).ok());
}

TEST(YamlTest, LongStringsRepeatedByAliasesAreBoundedByBytes) {
  // 64 KiB repeated 8^3 times is 32 MiB: few values, many bytes.
  std::string y = "s: &s " + std::string(64 * 1024, 'x') + "\n";
  y += "l1: &l1 [*s, *s, *s, *s, *s, *s, *s, *s]\n";
  y += "l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n";
  y += "l3: [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n";
  EXPECT_EQ(ParseJsonOrYaml(y).status().code(), Code::kRequestEntityTooLarge);
}

TEST(YamlTest, NestingIsBoundedLikeJson) {
  // What YAML accepts, JSON reads back: the store never holds what it cannot parse.
  StatusOr<json::value> deepest = ParseJsonOrYaml(NestedYaml(kMaxJsonDepth));
  ASSERT_TRUE(deepest.ok()) << deepest.status().ToString();
  EXPECT_EQ(BoundedDepth(*deepest, 1000), kMaxJsonDepth);
  EXPECT_TRUE(ParseJson(ToJson(*deepest)).ok());
  EXPECT_TRUE(ParseJson(NestedJson(kMaxJsonDepth)).ok());

  StatusOr<json::value> too_deep = ParseJsonOrYaml(NestedYaml(kMaxJsonDepth + 1));
  EXPECT_EQ(too_deep.status().code(), Code::kBadRequest);
  EXPECT_NE(too_deep.status().message().find("64 levels"), std::string::npos);
  EXPECT_EQ(ParseJson(NestedJson(kMaxJsonDepth + 1)).status().code(), Code::kBadRequest);
  // Flow style and sequences count the same way.
  EXPECT_FALSE(ParseJsonOrYaml("x: " + std::string(65, '[') + std::string(65, ']')).ok());
}

TEST(YamlTest, SelfReferentialAliasIsRefused) {
  // yaml-cpp registers the anchor before the sequence's items, so *a is the sequence itself.
  StatusOr<json::value> v = ParseJsonOrYaml("x: &a [*a]\n");
  EXPECT_FALSE(v.ok());
}

TEST(Utf8Test, Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));                  // truncated
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));              // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));          // UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));                  // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("ok\xE2\x28\xA1"));        // bad continuation
}

TEST(Utf8Test, AgreesWithTheJsonParser) {
  // Every string CheckUtf8 accepts is one that ParseJson reads back, and no other.
  const char* samples[] = {"a",           "\xC3\xA9",     "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                           "\xFF",        "\xC3",         "\xC0\x80",     "\xED\xA0\x80",
                           "\xED\x9F\xBF", "\xEE\x80\x80", "\xF4\x90\x80\x80",
                           "\xF4\x8F\xBF\xBF", "\xE0\x80\xAF", "\xF0\x80\x80\x80"};
  for (const char* s : samples) {
    std::string doc = std::string("\"") + s + "\"";
    json::error_code ec;
    json::parse(doc, ec);
    EXPECT_EQ(IsValidUtf8(s), !ec) << doc;
  }
}

TEST(Utf8Test, CheckNamesTheField) {
  json::value v = json::object{
      {"metadata", json::object{{"labels", json::object{{"app", "web\xFF"}}}}}};
  Status st = CheckUtf8(v);
  ASSERT_EQ(st.code(), Code::kInvalid);
  ASSERT_EQ(st.causes().size(), 1u);
  EXPECT_EQ(st.causes()[0].field, "metadata.labels.app");

  v = json::object{{"spec", json::object{{"list", json::array{"ok", "bad\xC3"}}}}};
  EXPECT_EQ(CheckUtf8(v).causes()[0].field, "spec.list[1]");

  // A bad key is named with its bad bytes spelled out, so the Status itself stays UTF-8.
  v = json::object{{"metadata", json::object{{"annotations", json::object{{"k\xFE/x", "v"}}}}}};
  st = CheckUtf8(v);
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.causes()[0].field, "metadata.annotations[k\\xFE/x]");
  EXPECT_TRUE(IsValidUtf8(st.message()));

  EXPECT_TRUE(CheckUtf8(*ParseJson(R"({"a":["\u00e9",1,null,{"\u20ac":true}]})")).ok());
}

TEST(Utf8Test, YamlAndJsonBodiesAreInvalidNotStored) {
  StatusOr<json::value> y = ParseJsonOrYaml("metadata:\n  labels:\n    app: \"caf\xE9\"\n");
  ASSERT_EQ(y.status().code(), Code::kInvalid);
  EXPECT_EQ(y.status().causes()[0].field, "metadata.labels.app");

  StatusOr<json::value> j = ParseJson("{\"metadata\":{\"name\":\"x\xC0\x80\"}}");
  ASSERT_EQ(j.status().code(), Code::kInvalid);
  EXPECT_EQ(j.status().causes()[0].field, "metadata.name");
  // Broken JSON stays a syntax error even when it also holds bad bytes.
  EXPECT_EQ(ParseJson("{\"a\":\"\xFF").status().code(), Code::kBadRequest);
}

TEST(BoundsTest, SizeLimit) {
  json::value v = json::object{{"data", std::string(1000, 'x')}};
  size_t size = ToJson(v).size();
  EXPECT_EQ(BoundedSerializedSize(v, 1 << 20), size);
  EXPECT_TRUE(CheckObjectBounds(v, size, kMaxJsonDepth).ok());
  Status st = CheckObjectBounds(v, size - 1, kMaxJsonDepth);
  EXPECT_EQ(st.code(), Code::kRequestEntityTooLarge);
  EXPECT_EQ(HttpCodeOf(st.code()), 413);
  // The walk stops soon after the limit, however large the value.
  json::value big = json::object{{"data", std::string(4 << 20, 'x')}};
  size_t counted = BoundedSerializedSize(big, 1000);
  EXPECT_GT(counted, 1000u);
  EXPECT_LT(counted, 1000u + 8192u);
  EXPECT_EQ(CheckObjectBounds(big).code(), Code::kRequestEntityTooLarge);
}

TEST(BoundsTest, DepthLimitMatchesWhatParseJsonReadsBack) {
  json::value ok = *ParseJson(NestedJson(kMaxJsonDepth));
  EXPECT_TRUE(CheckObjectBounds(ok).ok());
  // One level deeper, built in memory as a patch would.
  json::value deeper = json::object{{"b", ok}};
  Status st = CheckObjectBounds(deeper);
  ASSERT_EQ(st.code(), Code::kInvalid);
  EXPECT_FALSE(ParseJson(ToJson(deeper)).ok());
  std::string path = "b";
  for (int i = 0; i < kMaxJsonDepth - 1; ++i) path += ".a";
  EXPECT_EQ(st.causes()[0].field, path);
  EXPECT_EQ(BoundedDepth(deeper, 10), 11);
  EXPECT_EQ(BoundedDepth(json::value(3), 0), 0);
  EXPECT_EQ(BoundedDepth(json::array{}, 0), 1);
}

}  // namespace
}  // namespace kumo
