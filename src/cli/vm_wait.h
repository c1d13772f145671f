// Waiting on VMs for `--wait`: progress lines while a VM is scheduled and started, failing
// fast on states that will not fix themselves (a missing image, a crash loop), and checking
// that a running VM's IP answers from this host (TCP 22/80 or ICMP echo, only to that IP).
#pragma once

#include <functional>
#include <string>

#include "client/rest_client.h"
#include "common/json.h"
#include "common/status.h"

namespace kumo::cli {

// Receives one progress line (no newline).
using ProgressFn = std::function<void(const std::string&)>;

// Waits until the VM's instance is Running and returns the VMI. Timeout after
// `timeout_seconds`; the VM's status as the reason (ErrImagePull, CrashLoopBackOff) when it
// cannot start. An instance with uid `old_uid` (a restart's predecessor) does not count.
StatusOr<json::value> WaitForRunning(client::RestClient& client, const std::string& ns,
                                     const std::string& name, int timeout_seconds,
                                     const ProgressFn& progress, const std::string& old_uid = "");

// Waits until the VM has no running instance (printableStatus Stopped).
Status WaitForStopped(client::RestClient& client, const std::string& ns, const std::string& name,
                      int timeout_seconds, const ProgressFn& progress);

// Waits until the object at `path` is gone.
Status WaitForGone(client::RestClient& client, const std::string& path, int timeout_seconds);

// Whether `ip` can be reached from outside its node: false (and why) for "", QEMU user-mode
// (10.0.2.0/24), loopback and link-local addresses.
bool RoutableAddress(const std::string& ip, std::string* why);

// Probes `ip` until it answers or `timeout_seconds` pass: a TCP connect to port 22 or 80 (an
// accepted or refused connection both prove the guest answers) or an ICMP echo reply, when this
// process may send one. Returns how it answered ("TCP port 80", "ICMP echo"), or Timeout.
StatusOr<std::string> ProbeAddress(const std::string& ip, int timeout_seconds);

}  // namespace kumo::cli
