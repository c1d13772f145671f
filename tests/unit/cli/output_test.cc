#include "cli/output.h"

#include <gtest/gtest.h>

#include "cli/apply_command.h"
#include "cli/image_command.h"

namespace kumo::cli {
namespace {

json::value Parse(std::string_view text) { return ParseJsonOrYaml(text).value(); }

TEST(RenderTable, AlignsColumnsAndHidesWideOnes) {
  Table t;
  t.columns = {{"Name"}, {"Status"}, {"Node", true}};
  t.AddRow({"web1", "Running", "node1"});
  t.AddRow({"a-much-longer-name", "", "node2"});
  EXPECT_EQ(RenderTable(t, false),
            "NAME                 STATUS\n"
            "web1                 Running\n"
            "a-much-longer-name   <none>\n");
  EXPECT_EQ(RenderTable(t, true),
            "NAME                 STATUS    NODE\n"
            "web1                 Running   node1\n"
            "a-much-longer-name   <none>    node2\n");
}

TEST(ToYaml, QuotesWhatYamlWouldMisread) {
  json::value v = json::object{{"s", "plain"},
                               {"num", "123"},
                               {"yes", "yes"},
                               {"empty", ""},
                               {"ann", "[\"10.0.0.5\"]"},
                               {"colon", "a: b"},
                               {"date", "2024-01-02"},
                               {"n", 5},
                               {"b", true},
                               {"null", nullptr}};
  EXPECT_EQ(ToYaml(v),
            "s: plain\n"
            "num: '123'\n"
            "'yes': 'yes'\n"
            "empty: ''\n"
            "ann: '[\"10.0.0.5\"]'\n"
            "colon: 'a: b'\n"
            "date: '2024-01-02'\n"
            "'n': 5\n"
            "b: true\n"
            "'null': null\n");
}

TEST(ToYaml, NestsListsAndBlocksAndRoundTrips) {
  json::value v = Parse(R"({"spec": {"template": {"spec": {
      "interfaces": [{"name": "default", "bridge": {}}],
      "volumes": [{"name": "ci", "cloudInitNoCloud": {"userData": "#!/bin/sh\necho hi\n"}}],
      "empty": [], "list": ["a", "b"], "nested": [["x"]]}}}})");
  std::string yaml = ToYaml(v);
  EXPECT_NE(yaml.find("      interfaces:\n      - name: default\n        bridge: {}\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("userData: |\n            #!/bin/sh\n            echo hi\n"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(Parse(yaml), v) << yaml;
}

TEST(ToYaml, RoundTripsAwkwardStrings) {
  json::value v = json::object{{"tab\tkey", "line1\n  indented\nlast"},
                               {"no-newline-end", "a\nb"},
                               {"two-newlines", "a\n\n"},
                               {"lead", " space"},
                               {"quote", "it's \"quoted\""},
                               {"ctrl", std::string("bell\x07")},
                               {"hash", "#comment"},
                               {"dash", "- item"}};
  std::string yaml = ToYaml(v);
  EXPECT_EQ(Parse(yaml), v) << yaml;
}

TEST(ParseFormat, KnowsTheOutputFormats) {
  EXPECT_EQ(ParseFormat("").value(), Format::kTable);
  EXPECT_EQ(ParseFormat("yaml").value(), Format::kYaml);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

TEST(HumanBytes, PicksAUnit) {
  EXPECT_EQ(HumanBytes(300), "300 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(200LL << 20), "200 MiB");
}

TEST(SplitYamlDocuments, SplitsOnSeparatorLines) {
  auto docs = SplitYamlDocuments("---\na: 1\n---\n# only a comment\n---   \nb: 2\n...\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], "a: 1\n");
  EXPECT_EQ(docs[1], "b: 2\n");
  EXPECT_EQ(SplitYamlDocuments("x: '---'\n").size(), 1u);
}

TEST(ThreeWayMergePatch, ChangesAddsAndDeletes) {
  json::value original =
      Parse(R"({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}})");
  json::value modified = Parse(R"({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 2, "y": 3}})");
  json::value current = Parse(
      R"({"metadata": {"labels": {"a": "1", "b": "2", "c": "live"}, "uid": "u"}, "spec": {"x": 1}, "status": {}})");
  json::value patch = ThreeWayMergePatch(original, modified, current);
  EXPECT_EQ(patch, Parse(R"({"metadata": {"labels": {"b": null}}, "spec": {"x": 2, "y": 3}})"));
  // Nothing to do once applied; fields only the server sets are left alone.
  json::value applied = Parse(
      R"({"metadata": {"labels": {"a": "1", "c": "live"}, "uid": "u"}, "spec": {"x": 2, "y": 3}, "status": {}})");
  EXPECT_TRUE(ThreeWayMergePatch(modified, modified, applied).get_object().empty());
}

TEST(ImageNameFromSource, StripsPathsAndExtensions) {
  EXPECT_EQ(ImageNameFromSource("/tmp/Debian_12.qcow2"), "debian-12");
  EXPECT_EQ(ImageNameFromSource("https://example.org/images/fedora-39.raw.xz?x=1"), "fedora-39");
  EXPECT_EQ(ImageNameFromSource("disk.img"), "disk");
}

}  // namespace
}  // namespace kumo::cli
