#include "api/vm_size.h"

#include <gtest/gtest.h>

#include <string>

namespace kumo::api {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

StatusOr<VmSize> SizeOf(const std::string& domain_json) {
  StatusOr<json::value> domain = ParseJson(domain_json);
  EXPECT_TRUE(domain.ok()) << domain_json;
  return VmSizeOf(json::object{{"domain", *domain}}, "VirtualMachineInstance", "x");
}

TEST(VmSizeTest, TopologyAndGuestMemory) {
  auto s = SizeOf(R"({"cpu":{"sockets":2,"cores":2,"threads":2},"memory":{"guest":"1Gi"}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->vcpus, 8);
  EXPECT_EQ(s->guest_memory, kGi);
  EXPECT_EQ(s->overhead, kGi / 512 + 96 * kMi + 8 * 8 * kMi);
  EXPECT_EQ(s->HostMemory(), kGi + s->overhead);
  EXPECT_EQ(s->cpu_request_millis, -1);
}

// Memory as a JSON number and as a string are the same thing, and guest memory wins over the
// request: what QEMU is started with is what everyone counts.
TEST(VmSizeTest, NumberAndStringMemoryAgreeAndGuestWins) {
  auto number = SizeOf(R"({"memory":{"guest":1073741824}})");
  auto text = SizeOf(R"({"memory":{"guest":"1Gi"}})");
  ASSERT_TRUE(number.ok() && text.ok());
  EXPECT_EQ(number->guest_memory, text->guest_memory);
  auto both = SizeOf(R"({"memory":{"guest":1},"resources":{"requests":{"memory":"64Gi"}}})");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->guest_memory, kMinGuestMemory);  // 1 byte is started as 16 MiB, and counted so
  auto request = SizeOf(R"({"resources":{"requests":{"memory":"256Mi"}}})");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->guest_memory, 256 * kMi);
  auto limit = SizeOf(R"({"resources":{"limits":{"memory":"512Mi"}}})");
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(limit->guest_memory, 512 * kMi);
}

TEST(VmSizeTest, MemoryIsRoundedUpToWholeMebibytes) {
  auto s = SizeOf(R"({"memory":{"guest":"1500Ki"}})");  // 1.46 MiB
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->guest_memory, kMinGuestMemory);
  s = SizeOf(R"({"memory":{"guest":"100000Ki"}})");  // 97.66 MiB
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->guest_memory, 98 * kMi);
}

TEST(VmSizeTest, CpuFromResourcesWithoutTopology) {
  auto s = SizeOf(R"({"memory":{"guest":"1Gi"},"resources":{"requests":{"cpu":"1500m"}}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->vcpus, 2);
  EXPECT_EQ(s->cpu_request_millis, 1500);
  s = SizeOf(R"({"memory":{"guest":"1Gi"},"resources":{"limits":{"cpu":4},"requests":{"cpu":1}}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->vcpus, 4);
  EXPECT_EQ(s->cpu_request_millis, 1000);
}

// The attacks of issue 10: products that overflow 64 bits, values past the bounds, numbers too
// big for int64_t, quantities that are not finite. Each is refused with the field named.
TEST(VmSizeTest, OverflowAndOutOfBoundsAreRefused) {
  struct Case {
    std::string domain;
    std::string field;
  };
  for (const Case& c : {
           Case{R"({"cpu":{"sockets":4294967296,"cores":4294967296},"memory":{"guest":"1Gi"}})",
                "spec.domain.cpu.sockets"},
           Case{R"({"cpu":{"sockets":512,"cores":512,"threads":512},"memory":{"guest":"1Gi"}})",
                "spec.domain.cpu"},
           Case{R"({"cpu":{"sockets":9223372036854775808},"memory":{"guest":"1Gi"}})",
                "spec.domain.cpu.sockets"},
           Case{R"({"cpu":{"cores":-3},"memory":{"guest":"1Gi"}})", "spec.domain.cpu.cores"},
           Case{R"({"cpu":{"cores":1.5},"memory":{"guest":"1Gi"}})", "spec.domain.cpu.cores"},
           Case{R"({"cpu":{"cores":513},"memory":{"guest":"1Gi"}})", "spec.domain.cpu.cores"},
           Case{R"({"memory":{"guest":"17Ti"}})", "spec.domain.memory.guest"},
           Case{R"({"memory":{"guest":1e30}})", "spec.domain.memory.guest"},
           Case{R"({"memory":{"guest":"1e400"}})", "spec.domain.memory.guest"},
           Case{R"({"memory":{"guest":"-1Gi"}})", "spec.domain.memory.guest"},
           Case{R"({"memory":{"guest":true}})", "spec.domain.memory.guest"},
           Case{R"({"memory":{"guest":"1Gi"},"resources":{"requests":{"cpu":"1e9"}}})",
                "spec.domain.resources.requests.cpu"},
           Case{R"({})", "spec.domain.memory.guest"},
       }) {
    auto s = SizeOf(c.domain);
    ASSERT_FALSE(s.ok()) << c.domain;
    EXPECT_EQ(s.status().code(), Code::kInvalid) << c.domain;
    bool named = false;
    for (const auto& cause : s.status().causes()) named = named || cause.field == c.field;
    EXPECT_TRUE(named) << c.domain << " -> " << s.status().message();
  }
}

TEST(VmSizeTest, TheLargestVmIsAllowed) {
  auto s = SizeOf(R"({"cpu":{"sockets":8,"cores":32,"threads":2},"memory":{"guest":"16Ti"}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->vcpus, kMaxVcpus);
  EXPECT_EQ(s->guest_memory, kMaxGuestMemory);
}

TEST(VmSizeTest, InstancetypeReplacesTopologyAndMemory) {
  json::value spec = *ParseJson(R"({"domain":{"cpu":{"cores":64},"memory":{"guest":"1Mi"}}})");
  ApplyInstancetype(spec, *ParseJson(R"({"spec":{"cpu":{"guest":2},"memory":{"guest":"4Gi"}}})"));
  auto s = VmSizeOf(spec, "VirtualMachine", "x");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->vcpus, 2);
  EXPECT_EQ(s->guest_memory, 4 * kGi);
}

}  // namespace
}  // namespace kumo::api
