// WebSocket (RFC 6455) over a Conn: the handshake on both sides, framing with masking from
// clients, fragmented messages, ping/pong and the closing handshake. Console streams use binary
// messages with KubeVirt's "plain.kubevirt.io" subprotocol, so virtctl-style clients work.
//
// Splice() pumps two message streams into each other from one thread, with poll(): that is how
// the API server proxies a console to a node agent, the agent joins it to QEMU's serial socket,
// and the CLI joins it to a terminal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/conn.h"
#include "http/http_server.h"

namespace kumo::http {

inline constexpr std::string_view kPlainKubevirtProtocol = "plain.kubevirt.io";

// A source and sink of messages (chunks of bytes) that can be polled. Used by one thread.
class MessagePipe {
 public:
  virtual ~MessagePipe() = default;
  virtual int fd() const = 0;
  virtual bool Pending() const = 0;
  // The next chunk, waiting for it; nullopt when the stream ended.
  virtual StatusOr<std::optional<std::string>> Receive() = 0;
  virtual Status Deliver(std::string_view data) = 0;
};

class WebSocket final : public MessagePipe {
 public:
  enum class Role { kClient, kServer };  // clients mask what they send
  // `leftover`: bytes already read from `conn` after the handshake.
  WebSocket(std::unique_ptr<Conn> conn, Role role, std::string leftover = "",
            std::string protocol = "");
  ~WebSocket() override;

  struct Message {
    bool binary = true;
    std::string data;
  };
  // The next text or binary message (pings are answered, pongs skipped on the way). nullopt:
  // the peer closed (close frame, answered) or the connection ended.
  StatusOr<std::optional<Message>> Read();
  Status Send(std::string_view data, bool binary = true);
  // Starts the closing handshake (once) and shuts the connection down.
  void Close(uint16_t code = 1000, std::string_view reason = "");
  // The subprotocol the server chose ("" when none).
  const std::string& protocol() const { return protocol_; }

  // MessagePipe: binary and text messages alike.
  int fd() const override { return conn_->fd(); }
  bool Pending() const override { return !buffer_.empty() || conn_->Pending(); }
  StatusOr<std::optional<std::string>> Receive() override;
  Status Deliver(std::string_view data) override { return Send(data, true); }

  static constexpr size_t kMaxMessageBytes = 16 << 20;

 private:
  StatusOr<bool> Fill(size_t n);  // until buffer_ holds n bytes; false at end of stream
  Status SendFrame(uint8_t opcode, std::string_view payload);

  std::unique_ptr<Conn> conn_;
  Role role_;
  std::string buffer_;
  std::string protocol_;
  bool close_sent_ = false;
};

// A pair of file descriptors (the same one twice for a socket) as a MessagePipe.
class FdPipe : public MessagePipe {
 public:
  FdPipe(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  int fd() const override { return read_fd_; }
  bool Pending() const override { return false; }
  StatusOr<std::optional<std::string>> Receive() override;
  Status Deliver(std::string_view data) override;

 private:
  int read_fd_, write_fd_;
};

// Passes every chunk from `a` to `b` and back until either ends (OK), fails (its error), or
// `stop` returns true (checked every 250 ms; may be empty).
Status Splice(MessagePipe& a, MessagePipe& b, const std::function<bool()>& stop = {});

// Server side ------------------------------------------------------------------------------

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string WebSocketAcceptKey(std::string_view key);
// True when `req` asks to upgrade to a WebSocket.
bool IsWebSocketRequest(const Request& req);
// Completes the handshake for `req` on `writer`. `protocols` are the subprotocols the server
// speaks, in order of preference; when the client offers some, one must match. Errors
// (nothing sent yet) are BadRequest with a message for the client.
StatusOr<std::unique_ptr<WebSocket>> AcceptWebSocket(const Request& req, ResponseWriter& writer,
                                                     const std::vector<std::string>& protocols);

// Client side ------------------------------------------------------------------------------

struct WebSocketDial {
  int status = 0;                // 101 when `socket` is set
  Headers headers;               // names lower-cased
  std::string body;              // the response body when the server refused
  std::unique_ptr<WebSocket> socket;
};
// Sends the upgrade request for `target` on `conn` and reads the answer. A refusal (any status
// but 101) is returned as a WebSocketDial with the server's status and body, not an error.
StatusOr<WebSocketDial> WebSocketHandshake(std::unique_ptr<Conn> conn, std::string_view host,
                                           std::string_view target, const Headers& headers,
                                           const std::vector<std::string>& protocols);

}  // namespace kumo::http
