// Runs the node's BIRD 2 daemon: writes bird.conf (rendered by bird_config.h) into a state
// directory, starts `bird -c CONF -s SOCKET -P PIDFILE` (inside a network namespace when one is
// given, so BIRD only ever sees that namespace's routing table), reloads it with
// `birdc configure` when the rendered text changes, answers `show route` / `show protocols`,
// and stops it by its pid.
//
// A BIRD left running by an earlier agent (same state dir, pid file naming a live `bird` with
// our config) is adopted rather than restarted, so an agent restart does not drop sessions.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "agent/network/bird_config.h"
#include "common/status.h"

namespace kumo::agent::net {

struct BirdProcessOptions {
  // Holds bird.conf, bird.ctl (the control socket), bird.pid and bird.log. Created if missing.
  // Keep the path short: the socket path must fit in 107 bytes.
  std::string state_dir;
  std::string netns;  // "" = the caller's namespace
  std::string bird = "bird";
  std::string birdc = "birdc";
  // The destructor stops BIRD (tests); an agent that wants routes to survive its own restart
  // sets this to false and adopts the daemon next time.
  bool stop_on_destroy = true;
  int start_timeout_ms = 10000;
};

// One row of `show protocols`.
struct BirdProtocol {
  std::string name;   // e.g. "peer_192_0_2_2"
  std::string proto;  // "BGP", "Kernel", "Device"
  std::string state;  // "up", "start", "down"
  std::string info;   // e.g. "Established", "Active", "Connect"
};

// Parses the output of `birdc show protocols` (header line and "BIRD ... ready." skipped).
std::vector<BirdProtocol> ParseBirdProtocols(const std::string& text);

// Owned by the agent (one per node). All methods are thread-safe.
class BirdProcess {
 public:
  explicit BirdProcess(BirdProcessOptions options);
  ~BirdProcess();
  BirdProcess(const BirdProcess&) = delete;
  BirdProcess& operator=(const BirdProcess&) = delete;

  // Makes BIRD run with `config`: renders it, checks it with `bird -p`, and then starts BIRD
  // (not running), reloads it with `birdc configure` (running with other text) or does nothing
  // (running with the same text). A rejected config leaves a running BIRD on its old one.
  // Unavailable when bird is not installed; BadRequest for an invalid config.
  Status Apply(const BirdConfig& config);

  // SIGTERM to BIRD's pid (SIGKILL after 5 s); removes the pid file and socket. OK when not
  // running.
  Status Stop();

  bool running() const;
  int pid() const;  // 0 when not running

  // `birdc -s SOCKET <command...>`; the output without birdc's "BIRD x ready." banner.
  StatusOr<std::string> Birdc(const std::vector<std::string>& command) const;
  StatusOr<std::string> ShowRoute() const;      // `show route`
  StatusOr<std::string> ShowProtocols() const;  // `show protocols`
  StatusOr<std::vector<BirdProtocol>> Protocols() const;

  std::string config_path() const;
  std::string socket_path() const;
  std::string pid_path() const;
  std::string log_path() const;

 private:
  int LivePidLocked() const;  // our BIRD's pid from the pid file, 0 when none runs
  Status StartLocked(const std::string& text);
  Status ReloadLocked(const std::string& text);
  Status CheckConfig(const std::string& text) const;
  Status StopLocked();

  const BirdProcessOptions options_;
  mutable std::mutex mu_;
};

}  // namespace kumo::agent::net
