// Finds out whether an accelerator really runs guest code on this host. /dev/kvm can exist
// while KVM guests never make progress (nested virtualisation without support), so the only
// trustworthy test is to boot a guest and watch it act.
#pragma once

#include <string>

namespace kumo::agent {

// Boots a 64 KiB firmware that switches from real to protected mode like a boot loader and
// then writes to QEMU's isa-debug-exit port, with `-accel <accel>`; true when QEMU exits with
// the code the guest chose within `timeout_ms`.
// The QEMU is killed by pid on timeout. Not cached; thread-safe.
bool ProbeAccel(const std::string& qemu_binary, const std::string& accel, int timeout_ms);

}  // namespace kumo::agent
