// What a VM really uses: the one answer to "how big is this VM" for validation, tenant quota,
// the scheduler and the node agent (which starts QEMU with exactly these numbers). Every other
// module asks here, so a tenant cannot be counted small and started big. Arithmetic on the
// user's numbers is checked and bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/validation.h"
#include "common/json.h"
#include "common/status.h"

namespace kumo::api {

inline constexpr int64_t kMaxVcpus = 512;
inline constexpr int64_t kMaxGuestMemory = int64_t{16} << 40;  // 16 TiB
// QEMU's -m takes MiB; guests below this do not boot a kernel.
inline constexpr int64_t kMinGuestMemory = int64_t{16} << 20;

// Host memory a VM needs beyond its guest memory: page tables (guest/512), QEMU itself and its
// helpers (96 MiB) and 8 MiB per vCPU. Documented in docs/architecture.md.
int64_t MemoryOverhead(int64_t guest_bytes, int64_t vcpus);

// Value type.
struct VmSize {
  int64_t vcpus = 1;             // QEMU -smp
  int64_t guest_memory = 0;      // bytes, QEMU -m (whole MiB)
  int64_t cpu_request_millis = -1;  // domain.resources.requests.cpu when set, else -1
  int64_t overhead = 0;          // MemoryOverhead(guest_memory, vcpus)
  // Guest memory plus overhead: what the node must have free.
  int64_t HostMemory() const { return guest_memory + overhead; }
};

// The size of a VMI spec (a VMI's spec, or a VM's spec.template.spec once its instancetype is
// applied, see ApplyInstancetype):
// - vCPUs: domain.cpu sockets x cores x threads (each an integer, default 1); without
//   domain.cpu, resources.limits.cpu, else resources.requests.cpu, rounded up; else 1.
// - guest memory: domain.memory.guest, else resources.requests.memory, else
//   resources.limits.memory; a JSON integer or a quantity string; rounded up to whole MiB and
//   at least kMinGuestMemory.
// Problems (not an integer, below 1, above kMaxVcpus or kMaxGuestMemory, a product past the
// bound, no memory at all) are added to `errs` with field names under `prefix`; the result is
// nullopt then.
std::optional<VmSize> ComputeVmSize(const json::value& spec, const std::string& prefix,
                                    FieldErrors& errs);

// The same as a Status: Invalid `<kind> "<name>" is invalid: ...` when the size cannot be read.
StatusOr<VmSize> VmSizeOf(const json::value& spec, std::string_view kind, std::string_view name,
                          const std::string& prefix = "spec");

// `spec` (a VM's spec.template.spec) with a VirtualMachine(Cluster)Instancetype's sizes
// applied, as KubeVirt expands them: domain.cpu becomes {sockets: spec.cpu.guest, cores: 1,
// threads: 1} and domain.memory.guest the instancetype's spec.memory.guest.
void ApplyInstancetype(json::value& spec, const json::value& instancetype);

}  // namespace kumo::api
