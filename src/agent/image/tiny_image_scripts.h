// The guest side of the tiny image: the initramfs /init, the udhcpc event script, the ACPI
// power-button action and the boot loader configuration. Kept apart from the builder so the
// guest behaviour can be read in one place.
#pragma once

namespace kumo::agent {

// Printed on the serial console once the guest has its address and serves HTTP:
// "KUMO-BOOT-OK ip=<address>". Tests and operators grep for it; keep it stable.
inline constexpr char kTinyBootMarker[] = "KUMO-BOOT-OK";

// Kernel modules the initramfs loads, in this order (dependencies first). The virtio part is
// the order Debian's 6.1 kernel needs; the rest reads a cloud-init CIDATA disk (vfat or
// iso9660) and turns the ACPI power button into a clean power-off.
inline constexpr const char* kTinyModules[] = {
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_blk",
    "cdrom",
    "isofs",
    "fat",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    "nls_iso8859-1",
    "button",
    "evdev",
};

extern const char kTinyInitScript[];
extern const char kTinyUdhcpcScript[];
extern const char kTinyPowerButtonScript[];
extern const char kTinyProfile[];
extern const char kTinySyslinuxCfg[];

}  // namespace kumo::agent
