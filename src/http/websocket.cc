#include "http/websocket.h"

#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/base64.h"

namespace kumo::http {

namespace {

constexpr uint8_t kContinuation = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9,
                  kPong = 0xA;
constexpr size_t kMaxHeadBytes = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Comma-separated tokens of every header named `name`.
std::vector<std::string> Tokens(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers) {
    if (key != name) continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string t = Trim(std::string_view(value).substr(start, comma - start));
      if (!t.empty()) out.push_back(t);
      start = comma + 1;
    }
  }
  return out;
}

bool HasToken(const Headers& headers, std::string_view name, std::string_view token) {
  for (const auto& t : Tokens(headers, name)) {
    if (Lower(t) == token) return true;
  }
  return false;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

}  // namespace

// ---- WebSocket ----

WebSocket::WebSocket(std::unique_ptr<Conn> conn, Role role, std::string leftover,
                     std::string protocol)
    : conn_(std::move(conn)),
      role_(role),
      buffer_(std::move(leftover)),
      protocol_(std::move(protocol)) {}

WebSocket::~WebSocket() { Close(1001); }

StatusOr<bool> WebSocket::Fill(size_t n) {
  char chunk[16 * 1024];
  while (buffer_.size() < n) {
    KUMO_ASSIGN_OR_RETURN(size_t got, conn_->Read(chunk, sizeof chunk));
    if (got == 0) return false;
    buffer_.append(chunk, got);
  }
  return true;
}

StatusOr<std::optional<WebSocket::Message>> WebSocket::Read() {
  std::optional<Message> partial;
  for (;;) {
    KUMO_ASSIGN_OR_RETURN(bool ok, Fill(2));
    if (!ok) return std::optional<Message>();
    const auto b0 = static_cast<uint8_t>(buffer_[0]), b1 = static_cast<uint8_t>(buffer_[1]);
    const bool fin = (b0 & 0x80) != 0, masked = (b1 & 0x80) != 0;
    const uint8_t opcode = b0 & 0x0f;
    size_t head = 2 + (masked ? 4 : 0);
    uint64_t len = b1 & 0x7f;
    if (len == 126) head += 2;
    if (len == 127) head += 8;
    KUMO_ASSIGN_OR_RETURN(ok, Fill(head));
    if (!ok) return std::optional<Message>();
    if (len >= 126) {
      const size_t bytes = len == 126 ? 2 : 8;
      len = 0;
      for (size_t i = 0; i < bytes; ++i) len = (len << 8) | static_cast<uint8_t>(buffer_[2 + i]);
    }
    if (role_ == Role::kServer && !masked) {
      Close(1002, "client frames must be masked");
      return Status(Code::kBadRequest, "websocket: the client sent an unmasked frame");
    }
    if (len > kMaxMessageBytes ||
        (partial && partial->data.size() + len > kMaxMessageBytes)) {
      Close(1009, "message too big");
      return Status(Code::kBadRequest, "websocket: message larger than " +
                                           std::to_string(kMaxMessageBytes) + " bytes");
    }
    KUMO_ASSIGN_OR_RETURN(ok, Fill(head + static_cast<size_t>(len)));
    if (!ok) return std::optional<Message>();
    std::string payload = buffer_.substr(head, static_cast<size_t>(len));
    if (masked) {
      const char* key = buffer_.data() + head - 4;
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
    }
    buffer_.erase(0, head + static_cast<size_t>(len));

    if (opcode >= 0x8) {  // control frames may arrive between fragments
      if (!fin || payload.size() > 125) {
        Close(1002, "bad control frame");
        return Status(Code::kBadRequest, "websocket: fragmented or oversized control frame");
      }
      if (opcode == kPing) {
        KUMO_RETURN_IF_ERROR(SendFrame(kPong, payload));
      } else if (opcode == kClose) {
        uint16_t code = 1000;
        if (payload.size() >= 2) {
          code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                       static_cast<uint8_t>(payload[1]));
        }
        if (!close_sent_) {
          close_sent_ = true;
          (void)SendFrame(kClose, payload.substr(0, 2));
          (void)code;
        }
        conn_->Shutdown();
        return std::optional<Message>();
      } else if (opcode != kPong) {
        Close(1002, "unknown opcode");
        return Status(Code::kBadRequest, "websocket: unknown control opcode");
      }
      continue;
    }
    if (opcode == kContinuation) {
      if (!partial) {
        Close(1002, "unexpected continuation");
        return Status(Code::kBadRequest, "websocket: continuation frame without a message");
      }
      partial->data += payload;
    } else if (opcode == kText || opcode == kBinary) {
      if (partial) {
        Close(1002, "interleaved message");
        return Status(Code::kBadRequest, "websocket: new message inside a fragmented one");
      }
      partial = Message{opcode == kBinary, std::move(payload)};
    } else {
      Close(1002, "unknown opcode");
      return Status(Code::kBadRequest, "websocket: unknown data opcode");
    }
    if (fin) return partial;
  }
}

StatusOr<std::optional<std::string>> WebSocket::Receive() {
  KUMO_ASSIGN_OR_RETURN(std::optional<Message> m, Read());
  if (!m) return std::optional<std::string>();
  return std::optional<std::string>(std::move(m->data));
}

Status WebSocket::Send(std::string_view data, bool binary) {
  if (close_sent_) return Status(Code::kUnavailable, "websocket is closed");
  return SendFrame(binary ? kBinary : kText, data);
}

Status WebSocket::SendFrame(uint8_t opcode, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 14);
  frame.push_back(static_cast<char>(0x80 | opcode));
  const uint8_t mask_bit = role_ == Role::kClient ? 0x80 : 0;
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> shift) & 0xff));
    }
  }
  if (role_ == Role::kClient) {
    std::string key = RandomBytes(4);
    frame += key;
    size_t start = frame.size();
    frame += payload;
    for (size_t i = 0; i < payload.size(); ++i) frame[start + i] ^= key[i % 4];
  } else {
    frame += payload;
  }
  return conn_->Write(frame);
}

void WebSocket::Close(uint16_t code, std::string_view reason) {
  if (close_sent_) return;
  close_sent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload += reason.substr(0, 123);
  if (SendFrame(kClose, payload).ok()) {
    // Give the peer a moment to answer, so that neither side resets a connection with unread
    // data in flight.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    char scratch[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      if (!conn_->Pending()) {
        pollfd p{conn_->fd(), POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
      }
      auto got = conn_->Read(scratch, sizeof scratch);
      if (!got.ok() || *got == 0) break;
    }
  }
  conn_->Shutdown();
}

// ---- FdPipe and Splice ----

StatusOr<std::optional<std::string>> FdPipe::Receive() {
  char buf[4096];
  for (;;) {
    ssize_t n = read(read_fd_, buf, sizeof buf);
    if (n > 0) return std::optional<std::string>(std::string(buf, static_cast<size_t>(n)));
    if (n < 0 && errno == EINTR) continue;
    return std::optional<std::string>();  // EOF, or EIO from a hung-up terminal
  }
}

Status FdPipe::Deliver(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(write_fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(Code::kUnavailable, std::string("write failed: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status Splice(MessagePipe& a, MessagePipe& b, const std::function<bool()>& stop) {
  // Moves one chunk; false when the stream ended.
  auto pump = [](MessagePipe& from, MessagePipe& to) -> StatusOr<bool> {
    KUMO_ASSIGN_OR_RETURN(std::optional<std::string> chunk, from.Receive());
    if (!chunk) return false;
    if (!chunk->empty()) KUMO_RETURN_IF_ERROR(to.Deliver(*chunk));
    return true;
  };
  for (;;) {
    if (stop && stop()) return Status::Ok();
    bool ready_a = a.Pending(), ready_b = b.Pending();
    if (!ready_a && !ready_b) {
      pollfd fds[2] = {{a.fd(), POLLIN, 0}, {b.fd(), POLLIN, 0}};
      int r = poll(fds, 2, 250);
      if (r < 0 && errno != EINTR) {
        return Status(Code::kInternal, std::string("poll failed: ") + std::strerror(errno));
      }
      if (r <= 0) continue;
      ready_a = fds[0].revents != 0;
      ready_b = fds[1].revents != 0;
    }
    if (ready_a) {
      KUMO_ASSIGN_OR_RETURN(bool more, pump(a, b));
      if (!more) return Status::Ok();
    }
    if (ready_b) {
      KUMO_ASSIGN_OR_RETURN(bool more, pump(b, a));
      if (!more) return Status::Ok();
    }
  }
}

// ---- Handshakes ----

std::string WebSocketAcceptKey(std::string_view key) {
  std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return Base64Encode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

bool IsWebSocketRequest(const Request& req) {
  return HasToken(req.headers, "upgrade", "websocket");
}

StatusOr<std::unique_ptr<WebSocket>> AcceptWebSocket(const Request& req, ResponseWriter& writer,
                                                     const std::vector<std::string>& protocols) {
  if (req.method != "GET") return BadRequest("a WebSocket is opened with GET");
  if (!IsWebSocketRequest(req) || !HasToken(req.headers, "connection", "upgrade")) {
    return BadRequest("this endpoint needs a WebSocket (send Upgrade: websocket and "
                      "Connection: Upgrade)");
  }
  if (req.Header("sec-websocket-version") != "13") {
    return BadRequest("only WebSocket version 13 is supported (Sec-WebSocket-Version: 13)");
  }
  const std::string key = Trim(req.Header("sec-websocket-key"));
  auto raw = Base64Decode(key);
  if (!raw || raw->size() != 16) {
    return BadRequest("Sec-WebSocket-Key must be 16 bytes in base64");
  }
  std::string chosen;
  std::vector<std::string> offered = Tokens(req.headers, "sec-websocket-protocol");
  if (!offered.empty()) {
    for (const auto& p : protocols) {
      if (std::find(offered.begin(), offered.end(), p) != offered.end()) {
        chosen = p;
        break;
      }
    }
    if (chosen.empty()) {
      std::string list;
      for (const auto& p : protocols) list += (list.empty() ? "" : ", ") + p;
      return BadRequest("none of the offered WebSocket subprotocols is supported (use " + list +
                        ")");
    }
  }
  Headers headers{{"Upgrade", "websocket"},
                  {"Connection", "Upgrade"},
                  {"Sec-WebSocket-Accept", WebSocketAcceptKey(key)}};
  if (!chosen.empty()) headers.emplace_back("Sec-WebSocket-Protocol", chosen);
  std::unique_ptr<Conn> conn = writer.Upgrade(headers);
  if (!conn) return Status(Code::kUnavailable, "the client went away during the handshake");
  return std::make_unique<WebSocket>(std::move(conn), WebSocket::Role::kServer, "", chosen);
}

StatusOr<WebSocketDial> WebSocketHandshake(std::unique_ptr<Conn> conn, std::string_view host,
                                           std::string_view target, const Headers& headers,
                                           const std::vector<std::string>& protocols) {
  const std::string key = Base64Encode(RandomBytes(16));
  std::string wire = "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                     "\r\nSec-WebSocket-Version: 13\r\n";
  if (!protocols.empty()) {
    std::string list;
    for (const auto& p : protocols) list += (list.empty() ? "" : ", ") + p;
    wire += "Sec-WebSocket-Protocol: " + list + "\r\n";
  }
  for (const auto& [name, value] : headers) wire += name + ": " + value + "\r\n";
  wire += "\r\n";
  KUMO_RETURN_IF_ERROR(conn->Write(wire));

  std::string in;
  char chunk[4096];
  size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > kMaxHeadBytes) return Status(Code::kUnavailable, "response headers too large");
    KUMO_ASSIGN_OR_RETURN(size_t got, conn->Read(chunk, sizeof chunk));
    if (got == 0) return Status(Code::kUnavailable, "the server closed the connection");
    in.append(chunk, got);
  }
  WebSocketDial out;
  std::string_view head(in.data(), end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    return Status(Code::kUnavailable, "malformed HTTP response: " + std::string(status_line));
  }
  out.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string_view::npos) next = head.size();
    std::string_view line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      out.headers.emplace_back(Lower(line.substr(0, colon)), Trim(line.substr(colon + 1)));
    }
    pos = next + 2;
  }
  std::string rest = in.substr(end + 4);
  auto header = [&](std::string_view name) -> std::string {
    for (const auto& [k, v] : out.headers) {
      if (k == name) return v;
    }
    return "";
  };
  if (out.status == 101) {
    if (header("sec-websocket-accept") != WebSocketAcceptKey(key)) {
      return Status(Code::kUnavailable, "the server's WebSocket handshake is invalid");
    }
    std::string protocol = header("sec-websocket-protocol");
    if (!protocol.empty() &&
        std::find(protocols.begin(), protocols.end(), protocol) == protocols.end()) {
      return Status(Code::kUnavailable, "the server chose an unknown subprotocol " + protocol);
    }
    out.socket = std::make_unique<WebSocket>(std::move(conn), WebSocket::Role::kClient,
                                             std::move(rest), protocol);
    return out;
  }
  // A refusal: read its body (Content-Length, or until the server closes).
  std::string length = header("content-length");
  size_t want = length.empty() ? kMaxHeadBytes : std::strtoull(length.c_str(), nullptr, 10);
  want = std::min(want, kMaxHeadBytes);
  while (rest.size() < want) {
    auto got = conn->Read(chunk, sizeof chunk);
    if (!got.ok() || *got == 0) break;
    rest.append(chunk, *got);
  }
  rest.resize(std::min(rest.size(), want));
  out.body = std::move(rest);
  return out;
}

}  // namespace kumo::http
