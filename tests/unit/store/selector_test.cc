#include "store/selector.h"

#include <gtest/gtest.h>

namespace kumo::store {
namespace {

Labels L(std::initializer_list<std::pair<std::string, std::string>> kv) {
  Labels l(kv);
  std::sort(l.begin(), l.end());
  return l;
}

TEST(LabelSelectorTest, EqualityAndSetTerms) {
  auto sel = LabelSelector::Parse("app=web, tier in (frontend,backend),!legacy,env!=prod");
  ASSERT_TRUE(sel.ok()) << sel.status().ToString();
  EXPECT_TRUE(sel->Matches(L({{"app", "web"}, {"tier", "backend"}})));
  EXPECT_FALSE(sel->Matches(L({{"app", "web"}, {"tier", "db"}})));
  EXPECT_FALSE(sel->Matches(L({{"app", "web"}, {"tier", "frontend"}, {"legacy", "1"}})));
  EXPECT_FALSE(sel->Matches(L({{"app", "web"}, {"tier", "frontend"}, {"env", "prod"}})));
  EXPECT_FALSE(sel->Matches(L({{"tier", "frontend"}})));
}

TEST(LabelSelectorTest, ExistsNotInAndDoubleEquals) {
  auto sel = LabelSelector::Parse("owner,zone notin (a),x==y");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(L({{"owner", "me"}, {"x", "y"}})));
  EXPECT_FALSE(sel->Matches(L({{"owner", "me"}, {"x", "y"}, {"zone", "a"}})));
  EXPECT_FALSE(sel->Matches(L({{"x", "y"}})));
}

TEST(LabelSelectorTest, EmptySelectsEverything) {
  auto sel = LabelSelector::Parse("  ");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->empty());
  EXPECT_TRUE(sel->Matches({}));
}

TEST(LabelSelectorTest, RejectsMalformed) {
  for (const char* bad : {"a in (b", "a,,b", "a=b c", "=x", "a in b)", "a foo (b)"}) {
    auto sel = LabelSelector::Parse(bad);
    EXPECT_FALSE(sel.ok()) << bad;
    if (!sel.ok()) EXPECT_EQ(sel.status().code(), Code::kBadRequest);
  }
}

TEST(FieldSelectorTest, MatchesFields) {
  auto sel = FieldSelector::Parse("metadata.name=vm1,status.phase!=Failed");
  ASSERT_TRUE(sel.ok());
  auto fields = [](std::string phase) {
    return [phase](std::string_view f) -> std::string {
      if (f == "metadata.name") return "vm1";
      if (f == "status.phase") return phase;
      return "";
    };
  };
  EXPECT_TRUE(sel->Matches(fields("Running")));
  EXPECT_FALSE(sel->Matches(fields("Failed")));
  ASSERT_NE(sel->ExactValue("metadata.name"), nullptr);
  EXPECT_EQ(*sel->ExactValue("metadata.name"), "vm1");
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace kumo::store
