// WebSocket framing and handshakes (RFC 6455) over real sockets: echo through the HTTP server's
// Upgrade with TLS, refusals, fragmented messages with a ping in between, protocol errors, the
// closing handshake, Splice, and certificate pinning when dialing.
#include "http/websocket.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "common/file_util.h"
#include "http/http_server.h"
#include "http/pki.h"
#include "http/socket_conn.h"

namespace kumo::http {
namespace {

// A TLS HTTP server whose /echo endpoint echoes WebSocket messages and whose /refuse endpoint
// answers 403, with a client SSL_CTX that trusts it.
class WebSocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-ws-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto files = pki::EnsureServerPki(dir_, {"127.0.0.1"});
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    files_ = *files;
    ServerOptions o;
    o.port = 0;
    o.cert_file = files_.server_cert;
    o.key_file = files_.server_key;
    auto server = HttpServer::Start(o, [this](const Request& req, ResponseWriter& w) {
      if (req.path == "/refuse") {
        w.Send(ErrorResponse(Status(Code::kForbidden, "not for you")));
        return;
      }
      auto ws = AcceptWebSocket(req, w, {"plain.kubevirt.io"});
      if (!ws.ok()) {
        w.Send(ErrorResponse(ws.status()));
        return;
      }
      for (;;) {
        auto m = (*ws)->Read();
        if (!m.ok() || !m->has_value()) break;
        if (!(*ws)->Send((*m)->data, (*m)->binary).ok()) break;
      }
      ++sessions_ended_;
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_EQ(SSL_CTX_load_verify_locations(ctx_, files_.ca_cert.c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (ctx_) SSL_CTX_free(ctx_);
    std::filesystem::remove_all(dir_);
  }

  DialOptions Dialing() const {
    DialOptions d;
    d.host = "127.0.0.1";
    d.port = std::to_string(server_->port());
    d.tls = ctx_;
    return d;
  }
  StatusOr<WebSocketDial> Open(const std::string& target, std::vector<std::string> protocols) {
    KUMO_ASSIGN_OR_RETURN(auto conn, Dial(Dialing()));
    return WebSocketHandshake(std::move(conn), "127.0.0.1", target, {}, protocols);
  }

  std::string dir_;
  pki::PkiFiles files_;
  std::unique_ptr<HttpServer> server_;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<int> sessions_ended_{0};
};

TEST_F(WebSocketServerTest, EchoesTextAndBinaryMessagesOfEverySize) {
  auto dial = Open("/echo", {"plain.kubevirt.io"});
  ASSERT_TRUE(dial.ok()) << dial.status().ToString();
  ASSERT_EQ(dial->status, 101);
  WebSocket& ws = *dial->socket;
  EXPECT_EQ(ws.protocol(), "plain.kubevirt.io");
  std::string big(70000, '\0');  // 64-bit length form
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  const std::vector<std::pair<std::string, bool>> messages = {
      {"hello", false}, {std::string(300, 'x'), true}, {big, true}, {"", true}};
  for (const auto& [data, binary] : messages) {
    ASSERT_TRUE(ws.Send(data, binary).ok());
    auto back = ws.Read();
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ASSERT_TRUE(back->has_value());
    EXPECT_EQ((*back)->data, data);
    EXPECT_EQ((*back)->binary, binary);
  }
  ws.Close();
  for (int i = 0; i < 100 && sessions_ended_ == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(sessions_ended_, 1);  // the server saw the close frame and ended its session
}

TEST_F(WebSocketServerTest, RefusalsComeBackAsStatusAndBody) {
  auto refused = Open("/refuse", {"plain.kubevirt.io"});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(refused->socket, nullptr);
  EXPECT_NE(refused->body.find("not for you"), std::string::npos) << refused->body;

  auto wrong = Open("/echo", {"other.protocol"});
  ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("plain.kubevirt.io"), std::string::npos) << wrong->body;

  // A plain GET on a WebSocket endpoint is told what to send.
  auto conn = Dial(Dialing());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Write("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok());
  std::string response;
  char buf[4096];
  for (;;) {
    auto n = (*conn)->Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    response.append(buf, *n);
  }
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_NE(response.find("Upgrade: websocket"), std::string::npos) << response;
}

TEST_F(WebSocketServerTest, DialingPinsTheCertificateInsteadOfTheCa) {
  auto pem = ReadFileToString(files_.server_cert);
  ASSERT_TRUE(pem.ok());
  SSL_CTX* bare = SSL_CTX_new(TLS_client_method());  // trusts nothing
  DialOptions d = Dialing();
  d.tls = bare;
  d.pinned_sha256 = CertPemSha256(*pem);
  ASSERT_EQ(d.pinned_sha256.size(), 64u);
  auto good = Dial(d);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  d.pinned_sha256 = std::string(64, '0');
  auto bad = Dial(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is not the one published"), std::string::npos);
  SSL_CTX_free(bare);
  // Without a pin, an unknown CA fails verification.
  d.tls = bare = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(bare, SSL_VERIFY_PEER, nullptr);
  d.pinned_sha256.clear();
  auto unverified = Dial(d);
  EXPECT_FALSE(unverified.ok());
  SSL_CTX_free(bare);
}

// Raw frames against a server-role WebSocket over a socketpair.
class FrameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    peer_ = fds[1];
    ws_ = std::make_unique<WebSocket>(std::make_unique<SocketConn>(fds[0], nullptr, true),
                                      WebSocket::Role::kServer);
  }
  void TearDown() override {
    ws_.reset();
    close(peer_);
  }
  // A client frame: masked with a fixed key.
  void SendFrame(uint8_t first, std::string payload, bool masked = true) {
    std::string f;
    f.push_back(static_cast<char>(first));
    f.push_back(static_cast<char>((masked ? 0x80 : 0) | payload.size()));
    const char key[4] = {1, 2, 3, 4};
    if (masked) {
      f.append(key, 4);
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
    }
    f += payload;
    ASSERT_EQ(write(peer_, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  std::string ReadPeer(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = read(peer_, out.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

  int peer_ = -1;
  std::unique_ptr<WebSocket> ws_;
};

TEST_F(FrameTest, ReassemblesFragmentsAndAnswersPingsInBetween) {
  SendFrame(0x01, "hel");       // text, not final
  SendFrame(0x89, "p");         // ping
  SendFrame(0x80, "lo");        // continuation, final
  auto m = ws_->Read();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->data, "hello");
  EXPECT_FALSE((*m)->binary);
  EXPECT_EQ(ReadPeer(3), std::string("\x8a\x01p", 3));  // the pong, unmasked from a server
}

TEST_F(FrameTest, AnswersACloseFrameAndReportsTheEnd) {
  SendFrame(0x88, std::string("\x03\xe8", 2));  // close 1000
  auto m = ws_->Read();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
  EXPECT_EQ(ReadPeer(4), std::string("\x88\x02\x03\xe8", 4));
}

TEST_F(FrameTest, RejectsUnmaskedClientFrames) {
  SendFrame(0x82, "raw", /*masked=*/false);
  auto m = ws_->Read();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kBadRequest);
  std::string close = ReadPeer(4);
  ASSERT_EQ(close.size(), 4u);
  EXPECT_EQ(close.substr(0, 4), std::string("\x88\x1e\x03\xea", 4));  // 1002, with a reason
}

TEST_F(FrameTest, RejectsOversizedMessagesBeforeReadingThem) {
  std::string f = "\x82\xff";  // binary, masked, 64-bit length
  for (int i = 0; i < 8; ++i) f.push_back(i == 3 ? 1 : 0);  // 2^32 bytes
  f.append("\1\2\3\4");
  ASSERT_EQ(write(peer_, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  auto m = ws_->Read();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("larger than"), std::string::npos);
  EXPECT_EQ(ReadPeer(4).substr(0, 4), std::string("\x88\x11\x03\xf1", 4));  // 1009
}

TEST(SpliceTest, JoinsAWebSocketToAByteStreamBothWays) {
  // client ws <-> server ws (spliced) <-> socketpair end `serial`.
  int link[2], serial[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, link), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, serial), 0);
  WebSocket client(std::make_unique<SocketConn>(link[0], nullptr, true), WebSocket::Role::kClient);
  std::thread proxy([&] {
    WebSocket server(std::make_unique<SocketConn>(link[1], nullptr, true),
                     WebSocket::Role::kServer);
    FdPipe pipe(serial[0], serial[0]);
    EXPECT_TRUE(Splice(server, pipe).ok());
    close(serial[0]);
  });
  ASSERT_TRUE(client.Send("ls\r").ok());
  char buf[16];
  ASSERT_EQ(read(serial[1], buf, 3), 3);
  EXPECT_EQ(std::string(buf, 3), "ls\r");
  ASSERT_EQ(write(serial[1], "bin etc\r\n", 9), 9);
  auto m = client.Read();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->data, "bin etc\r\n");
  EXPECT_TRUE((*m)->binary);
  // The serial side ends: the splice ends, and the client sees the close.
  close(serial[1]);
  proxy.join();
}

TEST(SelfSignedCertTest, IsReusedUntilItMustChange) {
  char tmpl[] = "/tmp/kumo-selfsigned-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  auto a = pki::EnsureSelfSignedCert(tmpl, "agent", "kumo-agent", {"127.0.0.1"});
  auto b = pki::EnsureSelfSignedCert(tmpl, "agent", "kumo-agent", {"127.0.0.1"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sha256, b->sha256);
  auto c = pki::EnsureSelfSignedCert(tmpl, "agent", "kumo-agent", {"127.0.0.1", "10.0.0.7"});
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->sha256, a->sha256);  // a new address needs a new certificate
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace kumo::http
