// Entering a named network namespace from a thread, for code that needs sockets inside it
// (the DHCP responder). Only the calling thread moves; give it a thread of its own.
#pragma once

#include <string>

#include "common/status.h"

namespace kumo::agent::net {

// "/run/netns/<name>", where `ip netns add` puts the namespace handle.
std::string NetnsPath(const std::string& name);

// Moves the calling thread into /run/netns/<name> (setns CLONE_NEWNET). "" is a no-op.
// NotFound when the namespace does not exist. Sockets created afterwards by this thread live
// in that namespace; there is no way back other than entering another namespace.
Status EnterNetns(const std::string& name);

}  // namespace kumo::agent::net
