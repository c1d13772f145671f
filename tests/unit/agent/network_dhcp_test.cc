// The per-VM DHCP responder: message encoding checked byte by byte, then the real thing
// against busybox udhcpc (the client the tiny image runs) across a veth between two namespaces
// the test creates and deletes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "agent/image/tiny_image_scripts.h"
#include "agent/network/dhcp_packet.h"
#include "agent/network/dhcp_server.h"
#include "agent/network/ip_tool.h"
#include "common/ipv4.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent::net {
namespace {

using dhcp::Request;

constexpr uint32_t kGw = 0xa9fe0101;    // 169.254.1.1
constexpr uint32_t kVmIp = 0xc6336407;  // 198.51.100.7
constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

// A BOOTREQUEST as a client sends it.
std::vector<uint8_t> ClientMessage(uint8_t type, std::vector<uint8_t> extra_options = {},
                                   uint32_t ciaddr = 0, uint16_t flags = 0) {
  std::vector<uint8_t> m;
  m.reserve(300);
  m.resize(236, 0);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  m[4] = 0xde, m[5] = 0xad, m[6] = 0xbe, m[7] = 0xef;
  m[10] = static_cast<uint8_t>(flags >> 8);
  m[11] = static_cast<uint8_t>(flags);
  for (int i = 0; i < 4; ++i) m[12 + i] = static_cast<uint8_t>(ciaddr >> (24 - 8 * i));
  std::copy(kMac, kMac + 6, m.begin() + 28);
  for (uint8_t b :
       {uint8_t{99}, uint8_t{130}, uint8_t{83}, uint8_t{99}, uint8_t{53}, uint8_t{1}, type}) {
    m.push_back(b);
  }
  for (uint8_t b : extra_options) m.push_back(b);
  m.push_back(255);
  return m;
}

std::vector<uint8_t> Opt32(uint8_t code, uint32_t v) {
  return {code,
          4,
          static_cast<uint8_t>(v >> 24),
          static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}

Request Parse(const std::vector<uint8_t>& m) {
  auto r = dhcp::ParseRequest(m);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Request{};
}

// Options of a reply, by code.
std::map<uint8_t, std::vector<uint8_t>> Options(const std::vector<uint8_t>& reply) {
  std::map<uint8_t, std::vector<uint8_t>> out;
  size_t i = 240;
  while (i < reply.size() && reply[i] != 255) {
    if (reply[i] == 0) {
      ++i;
      continue;
    }
    uint8_t code = reply[i], len = reply[i + 1];
    out[code] = std::vector<uint8_t>(reply.begin() + i + 2, reply.begin() + i + 2 + len);
    i += 2 + len;
  }
  return out;
}

dhcp::Lease TestLease() {
  DhcpConfig c{.ip = "198.51.100.7", .hostname = "vm-a", .dns = {"192.0.2.53"}, .mtu = 1400};
  auto lease = MakeLease(c);
  EXPECT_TRUE(lease.ok());
  return *lease;
}

TEST(NetworkDhcpPacketTest, AnswersOnlyForItsOneAddress) {
  EXPECT_EQ(dhcp::ChooseReply(Parse(ClientMessage(dhcp::kDiscover)), kVmIp, kGw), dhcp::kOffer);
  auto req_ours = Parse(ClientMessage(dhcp::kRequest, [] {
    auto o = Opt32(50, kVmIp);
    auto s = Opt32(54, kGw);
    o.insert(o.end(), s.begin(), s.end());
    return o;
  }()));
  EXPECT_EQ(dhcp::ChooseReply(req_ours, kVmIp, kGw), dhcp::kAck);
  EXPECT_EQ(
      dhcp::ChooseReply(Parse(ClientMessage(dhcp::kRequest, Opt32(50, kVmIp + 1))), kVmIp, kGw),
      dhcp::kNak);
  // The client picked another server's offer: stay quiet.
  EXPECT_EQ(
      dhcp::ChooseReply(Parse(ClientMessage(dhcp::kRequest, Opt32(54, 0x0a000001))), kVmIp, kGw),
      std::nullopt);
  // Renewal: no option 50, the address in ciaddr.
  EXPECT_EQ(dhcp::ChooseReply(Parse(ClientMessage(dhcp::kRequest, {}, kVmIp)), kVmIp, kGw),
            dhcp::kAck);
  EXPECT_EQ(dhcp::ChooseReply(Parse(ClientMessage(dhcp::kRelease)), kVmIp, kGw), std::nullopt);
  EXPECT_EQ(dhcp::ChooseReply(Parse(ClientMessage(dhcp::kDecline)), kVmIp, kGw), std::nullopt);

  auto reply_to_server = ClientMessage(dhcp::kDiscover);
  reply_to_server[0] = 2;
  EXPECT_FALSE(dhcp::ParseRequest(reply_to_server).ok());
  auto no_cookie = ClientMessage(dhcp::kDiscover);
  no_cookie[236] = 0;
  EXPECT_FALSE(dhcp::ParseRequest(no_cookie).ok());
  auto truncated = ClientMessage(dhcp::kDiscover, {12, 200, 'x'});
  EXPECT_FALSE(dhcp::ParseRequest(truncated).ok());
}

TEST(NetworkDhcpPacketTest, AckCarriesTheRoutedModel) {
  auto req = Parse(ClientMessage(dhcp::kRequest, Opt32(50, kVmIp)));
  auto reply = dhcp::BuildReply(req, dhcp::kAck, TestLease());
  ASSERT_GE(reply.size(), 300u);
  EXPECT_EQ(reply[0], 2);  // BOOTREPLY
  EXPECT_EQ(std::vector<uint8_t>(reply.begin() + 4, reply.begin() + 8),
            (std::vector<uint8_t>{0xde, 0xad, 0xbe, 0xef}));  // xid echoed
  EXPECT_EQ(std::vector<uint8_t>(reply.begin() + 16, reply.begin() + 20),
            (std::vector<uint8_t>{198, 51, 100, 7}));           // yiaddr
  EXPECT_TRUE(std::equal(kMac, kMac + 6, reply.begin() + 28));  // chaddr
  auto opts = Options(reply);
  EXPECT_EQ(opts[53], (std::vector<uint8_t>{dhcp::kAck}));
  EXPECT_EQ(opts[54], (std::vector<uint8_t>{169, 254, 1, 1}));
  EXPECT_EQ(opts[1], (std::vector<uint8_t>{255, 255, 255, 255}));
  EXPECT_EQ(opts[3], (std::vector<uint8_t>{169, 254, 1, 1}));
  // 169.254.1.1/32 on-link, then 0.0.0.0/0 via 169.254.1.1 (RFC 3442 encoding).
  EXPECT_EQ(opts[121], (std::vector<uint8_t>{32, 169, 254, 1, 1, 0, 0, 0, 0,  //
                                             0, 169, 254, 1, 1}));
  EXPECT_EQ(opts[6], (std::vector<uint8_t>{192, 0, 2, 53}));
  EXPECT_EQ(opts[26], (std::vector<uint8_t>{0x05, 0x78}));        // 1400
  EXPECT_EQ(opts[51], (std::vector<uint8_t>{0, 1, 0x51, 0x80}));  // 86400
  EXPECT_EQ(std::string(opts[12].begin(), opts[12].end()), "vm-a");

  auto nak = Options(dhcp::BuildReply(req, dhcp::kNak, TestLease()));
  EXPECT_EQ(nak[53], (std::vector<uint8_t>{dhcp::kNak}));
  EXPECT_EQ(nak.count(1), 0u);
  EXPECT_EQ(nak.count(121), 0u);
}

TEST(NetworkDhcpPacketTest, RepliesGoWhereRfc2131Says) {
  auto unicast = dhcp::ReplyDestination(Parse(ClientMessage(dhcp::kDiscover)), dhcp::kOffer, kVmIp);
  EXPECT_EQ(unicast.ip, kVmIp);
  EXPECT_TRUE(std::equal(kMac, kMac + 6, unicast.mac.begin()));
  auto bcast = dhcp::ReplyDestination(
      Parse(ClientMessage(dhcp::kDiscover, {}, 0, dhcp::kBroadcastFlag)), dhcp::kOffer, kVmIp);
  EXPECT_EQ(bcast.ip, 0xffffffffu);
  EXPECT_EQ(bcast.mac[0], 0xff);
  auto renew =
      dhcp::ReplyDestination(Parse(ClientMessage(dhcp::kRequest, {}, kVmIp)), dhcp::kAck, kVmIp);
  EXPECT_EQ(renew.ip, kVmIp);
  auto nak = dhcp::ReplyDestination(Parse(ClientMessage(dhcp::kRequest)), dhcp::kNak, kVmIp);
  EXPECT_EQ(nak.ip, 0xffffffffu);
}

TEST(NetworkDhcpPacketTest, UdpPacketChecksumsVerify) {
  std::vector<uint8_t> payload = {1, 2, 3, 4, 5};  // odd length on purpose
  auto p = dhcp::BuildUdpPacket(kGw, kVmIp, 67, 68, payload);
  ASSERT_EQ(p.size(), 20u + 8 + 5);
  auto sum = [](const uint8_t* d, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2) s += (d[i] << 8) | d[i + 1];
    if (n & 1) s += d[n - 1] << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
  };
  EXPECT_EQ(sum(p.data(), 20, 0), 0xffffu);
  EXPECT_EQ(sum(p.data() + 20, p.size() - 20, sum(p.data() + 12, 8, 0) + 17 + 13), 0xffffu);
  auto back = dhcp::UdpPayload(p, 68);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::vector<uint8_t>(back->begin(), back->end()), payload);
  EXPECT_FALSE(dhcp::UdpPayload(p, 67).has_value());
  p[6] = 0x20;  // "more fragments"
  EXPECT_FALSE(dhcp::UdpPayload(p, 68).has_value());
}

TEST(NetworkDhcpPacketTest, ConfigIsValidated) {
  EXPECT_FALSE(MakeLease({.ip = ""}).ok());
  EXPECT_FALSE(MakeLease({.ip = "198.51.100.300"}).ok());
  EXPECT_FALSE(MakeLease({.ip = "198.51.100.7", .dns = {"dns.example"}}).ok());
  EXPECT_FALSE(MakeLease({.ip = "198.51.100.7", .mtu = 10}).ok());
  EXPECT_FALSE(MakeLease({.ip = "198.51.100.7", .lease_seconds = 0}).ok());
  EXPECT_FALSE(MakeLease({.ip = "198.51.100.7", .hostname = "bad name"}).ok());
  DhcpServer bad("lo", "", {.ip = "198.51.100.7", .client_mac = "52:54:00"});
  EXPECT_EQ(bad.Start().code(), Code::kBadRequest);
  EXPECT_FALSE(bad.running());
}

// Two namespaces joined by a veth: the responder on the "server" end (configured like a tap),
// busybox udhcpc on the "client" end.
class NetworkDhcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int pid = static_cast<int>(getpid());
    char buf[64];
    snprintf(buf, sizeof buf, "kumo-t%d-dsrv", pid);
    srv_ns_ = buf;
    snprintf(buf, sizeof buf, "kumo-t%d-dcli", pid);
    cli_ns_ = buf;
    snprintf(buf, sizeof buf, "kd%04xs", pid & 0xffff);
    srv_if_ = buf;
    snprintf(buf, sizeof buf, "kd%04xc", pid & 0xffff);
    cli_if_ = buf;
    snprintf(buf, sizeof buf, "/tmp/kumo-t%d-dhcp", pid);
    dir_ = buf;
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    (void)DeleteNetns(srv_ns_);
    (void)DeleteNetns(cli_ns_);
    ASSERT_TRUE(CreateNetns(srv_ns_).ok());
    ASSERT_TRUE(CreateNetns(cli_ns_).ok());
    ASSERT_TRUE(CreateVethPair(srv_if_, srv_ns_, cli_if_, cli_ns_).ok());
    ASSERT_TRUE(ConfigureWorkloadInterface(srv_if_, srv_ns_).ok());
    ASSERT_TRUE(RunIp({"link", "set", "dev", cli_if_, "up"}, cli_ns_).ok());
  }
  void TearDown() override {
    EXPECT_TRUE(DeleteNetns(cli_ns_).ok());
    EXPECT_TRUE(DeleteNetns(srv_ns_).ok());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Runs udhcpc once (-n -q: exit after a lease or after giving up) with `script`.
  ProcessResult RunUdhcpc(const std::string& script) {
    auto r = RunProcess({"ip",           "netns", "exec", cli_ns_, "busybox", "udhcpc", "-i",
                         cli_if_,        "-n",    "-q",   "-f",    "-s",      script,   "-O",
                         "staticroutes", "-t",    "4",    "-T",    "1",       "-A",     "1"},
                        {.timeout_ms = 30000});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : ProcessResult{};
  }

  // A udhcpc script that appends the lease's variables to dir_/env.
  std::string EnvScript() {
    const std::string script = dir_ + "/print-env.sh";
    const std::string out = dir_ + "/env";
    std::string text =
        "#!/bin/sh\necho \"event=$1\" >> " + out + "\n[ \"$1\" = bound ] || exit 0\n{\n";
    for (const char* v :
         {"ip", "mask", "router", "staticroutes", "dns", "mtu", "hostname", "lease", "serverid"}) {
      text += std::string("  echo \"") + v + "=$" + v + "\"\n";
    }
    text += "} >> " + out + "\n";
    EXPECT_TRUE(WriteFileAtomic(script, text, 0755).ok());
    return script;
  }

  std::map<std::string, std::string> Env() {
    std::map<std::string, std::string> env;
    auto text = ReadFileToString(dir_ + "/env");
    if (!text.ok()) return env;
    size_t start = 0;
    while (start < text->size()) {
      size_t nl = text->find('\n', start);
      if (nl == std::string::npos) nl = text->size();
      std::string line = text->substr(start, nl - start);
      auto eq = line.find('=');
      if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
      start = nl + 1;
    }
    return env;
  }

  std::string srv_ns_, cli_ns_, srv_if_, cli_if_, dir_;
};

TEST_F(NetworkDhcpTest, UdhcpcGetsTheVmAddressAndRoutes) {
  DhcpServer server(srv_if_, srv_ns_,
                    {.ip = "198.51.100.7",
                     .hostname = "vm-a",
                     .dns = {"192.0.2.53", "192.0.2.54"},
                     .mtu = 1400,
                     .lease_seconds = 3600});
  ASSERT_TRUE(server.Start().ok());
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.Start().code(), Code::kConflict);

  auto r = RunUdhcpc(EnvScript());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto env = Env();
  EXPECT_EQ(env["event"], "bound") << r.err;
  EXPECT_EQ(env["ip"], "198.51.100.7");
  EXPECT_EQ(env["mask"], "32");
  EXPECT_EQ(env["router"], "169.254.1.1");
  EXPECT_EQ(env["staticroutes"], "169.254.1.1/32 0.0.0.0 0.0.0.0/0 169.254.1.1");
  EXPECT_EQ(env["dns"], "192.0.2.53 192.0.2.54");
  EXPECT_EQ(env["mtu"], "1400");
  EXPECT_EQ(env["hostname"], "vm-a");
  EXPECT_EQ(env["lease"], "3600");
  EXPECT_EQ(env["serverid"], "169.254.1.1");
  auto stats = server.stats();
  EXPECT_GE(stats.offers, 1u);
  EXPECT_GE(stats.acks, 1u);
  EXPECT_EQ(stats.naks, 0u);

  server.Stop();
  EXPECT_FALSE(server.running());
  server.Stop();  // idempotent
}

TEST_F(NetworkDhcpTest, OtherClientsGetNoAnswer) {
  DhcpServer server(srv_if_, srv_ns_, {.ip = "198.51.100.7", .client_mac = "52:54:00:00:00:01"});
  ASSERT_TRUE(server.Start().ok());
  auto r = RunUdhcpc(EnvScript());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(Env().count("ip"), 0u);
  EXPECT_EQ(server.stats().offers, 0u);
  EXPECT_GE(server.stats().ignored, 1u);

  // The same responder, told the client's real MAC, answers it.
  auto mac = RunIp({"link", "show", "dev", cli_if_}, cli_ns_);
  ASSERT_TRUE(mac.ok());
  auto at = mac->find("link/ether ");
  ASSERT_NE(at, std::string::npos);
  ASSERT_TRUE(
      server.UpdateConfig({.ip = "198.51.100.7", .client_mac = mac->substr(at + 11, 17)}).ok());
  r = RunUdhcpc(EnvScript());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Env()["ip"], "198.51.100.7");
}

TEST_F(NetworkDhcpTest, StartFailsForAMissingInterface) {
  DhcpServer server("kdnosuchif0", srv_ns_, {.ip = "198.51.100.7"});
  EXPECT_EQ(server.Start().code(), Code::kNotFound);
  EXPECT_FALSE(server.running());
  DhcpServer no_ns(srv_if_, srv_ns_ + "-missing", {.ip = "198.51.100.7"});
  EXPECT_EQ(no_ns.Start().code(), Code::kNotFound);
}

TEST_F(NetworkDhcpTest, TinyImageScriptInstallsTheRoutedModel) {
  // The guest's own udhcpc script, with resolv.conf redirected into the test directory.
  std::string script_text = kTinyUdhcpcScript;
  const std::string resolv = dir_ + "/resolv.conf";
  for (size_t at; (at = script_text.find("/etc/resolv.conf")) != std::string::npos;) {
    script_text.replace(at, 16, resolv);
  }
  const std::string script = dir_ + "/tiny.script";
  ASSERT_TRUE(WriteFileAtomic(script, script_text, 0755).ok());
  DhcpServer server(srv_if_, srv_ns_, {.ip = "198.51.100.7", .dns = {"192.0.2.53"}});
  ASSERT_TRUE(server.Start().ok());
  auto r = RunUdhcpc(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto addr = RunIp({"-4", "addr", "show", "dev", cli_if_}, cli_ns_);
  ASSERT_TRUE(addr.ok());
  EXPECT_NE(addr->find("inet 198.51.100.7/32"), std::string::npos) << *addr;
  auto routes = RunIp({"-4", "route", "show"}, cli_ns_);
  ASSERT_TRUE(routes.ok());
  EXPECT_NE(routes->find("default via 169.254.1.1 dev " + cli_if_), std::string::npos) << *routes;
  EXPECT_NE(routes->find("169.254.1.1 dev " + cli_if_), std::string::npos) << *routes;
  auto resolv_text = ReadFileToString(resolv);
  ASSERT_TRUE(resolv_text.ok());
  EXPECT_NE(resolv_text->find("nameserver 192.0.2.53"), std::string::npos) << *resolv_text;
}

}  // namespace
}  // namespace kumo::agent::net
