#include "agent/runtime/kvm_probe.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "agent/runtime/runtime.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"
#include "common/log.h"

namespace kumo::agent {
namespace {

// The probe firmware (64 KiB, mapped below 4 GiB; the CPU starts at 0xFFFFFFF0 with CS base
// 0xFFFF0000). A trivial guest is not enough: on nested hosts without full VMX support KVM runs
// a few real-mode instructions and then hangs or fails to emulate mode switches (SYSLINUX's
// protected-mode iret). So the guest does what a boot loader does, then reports. Assembled
// with GNU as (--32) from:
//
//         .code16                              |         .code32
//   start16: cli                               |   start32: movw $0x10,%ax
//         movl $1000000,%ecx                   |         movw %ax,%ds; movw %ax,%es
//   1:    decl %ecx; jnz 1b                    |         movw %ax,%ss; movl $0x7000,%esp
//         lgdtl %cs:gdt_desc                   |         pushfl; pushl $0x08
//         movl %cr0,%eax; orb $1,%al           |         pushl $(BASE+after_iret); iretl
//         movl %eax,%cr0                       |   after_iret: movl $1000000,%ecx
//         ljmpl $0x08,$(BASE+start32)          |   2:    decl %ecx; jnz 2b
//                                              |         movb $0x10,%al; outb %al,$0xf4
//   gdt: null, flat code 0x08, flat data 0x10  |   3:    hlt; jmp 3b
//   at 0xFFF0 (reset vector): jmp start16 (IP wraps to 0)
//
// Writing 0x10 to isa-debug-exit (port 0xF4) makes QEMU exit with status (0x10 << 1) | 1.
constexpr unsigned char kProbeCode[] = {
    0xFA, 0x66, 0xB9, 0x40, 0x42, 0x0F, 0x00, 0x66, 0x49, 0x75, 0xFC, 0x2E, 0x66, 0x0F, 0x01, 0x16,
    0x68, 0x00, 0x0F, 0x20, 0xC0, 0x0C, 0x01, 0x0F, 0x22, 0xC0, 0x66, 0xEA, 0x22, 0x00, 0xFF, 0xFF,
    0x08, 0x00, 0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0, 0xBC, 0x00, 0x70, 0x00,
    0x00, 0x9C, 0x6A, 0x08, 0x68, 0x3A, 0x00, 0xFF, 0xFF, 0xCF, 0xB9, 0x40, 0x42, 0x0F, 0x00, 0x49,
    0x75, 0xFD, 0xB0, 0x10, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD, 0x8D, 0xB4, 0x00, 0x00, 0x8D, 0x74, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x9A, 0xCF, 0x00,
    0xFF, 0xFF, 0x00, 0x00, 0x00, 0x92, 0xCF, 0x00, 0x17, 0x00, 0x50, 0x00, 0xFF, 0xFF,
};
constexpr unsigned char kResetJump[] = {0xE9, 0x0D, 0x00};  // at 0xFFF0: jmp to offset 0
constexpr int kGuestExitStatus = 33;

std::string MakeFirmware() {
  std::string fw(64 * 1024, '\0');
  std::copy(std::begin(kProbeCode), std::end(kProbeCode), fw.begin());
  std::copy(std::begin(kResetJump), std::end(kResetJump), fw.begin() + 0xFFF0);
  std::fill(fw.begin() + 0xFFF3, fw.end(), '\xF4');
  return fw;
}

}  // namespace

bool ProbeAccel(const std::string& qemu_binary, const std::string& accel, int timeout_ms) {
  char tmpl[] = "/tmp/kumo-probe-XXXXXX";
  if (!mkdtemp(tmpl)) return false;
  const std::string dir = tmpl;
  const std::string fw = dir + "/probe.bin";
  bool ok = false;
  if (WriteFileAtomic(fw, MakeFirmware(), 0644).ok()) {
    auto r = RunProcess({qemu_binary, "-accel", accel, "-machine", "pc", "-nodefaults",
                         "-no-user-config", "-display", "none", "-m", "16", "-bios", fw, "-device",
                         "isa-debug-exit,iobase=0xf4,iosize=0x04"},
                        {.timeout_ms = timeout_ms});
    ok = r.ok() && !r->timed_out && r->exit_code == kGuestExitStatus;
    if (r.ok() && !ok) {
      spdlog::info("accelerator probe: {} did not run a guest ({}{})", accel,
                   r->timed_out ? "timed out" : "exit " + std::to_string(r->exit_code),
                   r->err.empty() ? "" : ": " + TrimOutput(r->err, 300));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ok;
}

bool ProbeKvm(const std::string& qemu_binary, int timeout_ms) {
  static std::mutex mu;
  static std::map<std::string, bool> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(qemu_binary); it != cache.end()) return it->second;
  bool ok = access("/dev/kvm", R_OK | W_OK) == 0;
  if (ok) {
    auto start = std::chrono::steady_clock::now();
    ok = ProbeAccel(qemu_binary, "kvm", timeout_ms);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    spdlog::info("KVM probe: {} in {} ms", ok ? "guests run" : "no working KVM, using TCG", ms);
  }
  cache[qemu_binary] = ok;
  return ok;
}

}  // namespace kumo::agent
