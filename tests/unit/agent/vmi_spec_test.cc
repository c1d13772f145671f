#include "agent/vmi_spec.h"
#include "api/kubevirt.h"

#include <gtest/gtest.h>

namespace kumo::agent {
namespace {

TEST(VmiSpecTest, ImageNames) {
  EXPECT_EQ(api::ImageNameOf("tiny"), "tiny");
  EXPECT_EQ(api::ImageNameOf("kumo/tiny:latest"), "tiny");
  EXPECT_EQ(api::ImageNameOf("quay.io/containerdisks/fedora:39"), "fedora");
  EXPECT_EQ(api::ImageNameOf("registry:5000/x/ubuntu@sha256:abc"), "ubuntu");
}

TEST(VmiSpecTest, RoutedNetworkConfigMatchesTheDhcpLease) {
  std::string cfg = RoutedNetworkConfig("10.100.0.42", {"169.254.1.1"}, 1500);
  EXPECT_NE(cfg.find("addresses: [10.100.0.42/32]"), std::string::npos);
  EXPECT_NE(cfg.find("to: 169.254.1.1/32"), std::string::npos);
  EXPECT_NE(cfg.find("via: 169.254.1.1"), std::string::npos);
  EXPECT_NE(cfg.find("mtu: 1500"), std::string::npos);
}

TEST(VmiSpecTest, InterfacesReportTheRoutedAddress) {
  auto vmi = *ParseJson(R"({"metadata":{"annotations":{"kumo.io/ip":"10.100.0.7"}},
      "spec":{"domain":{"devices":{"interfaces":[{"name":"default","bridge":{}}]}}}})");
  json::array ifs = InterfacesStatus(vmi);
  ASSERT_EQ(ifs.size(), 1u);
  EXPECT_EQ(GetString(ifs[0], {"ipAddress"}), "10.100.0.7");
  EXPECT_EQ(GetString(ifs[0], {"name"}), "default");
}

}  // namespace
}  // namespace kumo::agent
