// Component schemas of the kubevirt.io/v1 instance hardware: domain (CPU, memory, resources,
// devices, firmware, features), networks, volumes and access credentials. Field names and
// meanings follow KubeVirt's API (kubevirt.io/api core/v1); the descriptions are Kumo's own.
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

namespace {

std::string Kv(std::string_view type) { return "io.kubevirt.v1." + std::string(type); }
std::string Core(std::string_view type) { return "io.k8s.api.core.v1." + std::string(type); }

json::object EmptyObject(std::string_view description) { return Object(description, {}); }

void AddDomain(json::object& out) {
  out[Kv("CPUFeature")] = Object(
      "One CPU feature flag to add to or remove from the guest CPU model.",
      {
          {"name", String("Name of the feature, e.g. vmx or pcid.")},
          {"policy",
           Enum("How the feature is handled: force it on, require host support, take it only "
                "when the host has it, disable it, or refuse to start if the host has it. "
                "Defaults to require.",
                {"force", "require", "optional", "disable", "forbid"})},
      },
      {"name"});
  out[Kv("CPU")] = Object(
      "The virtual CPU topology and model of the guest. The number of vCPUs is "
      "sockets x cores x threads.",
      {
          {"cores", Integer("Cores per socket visible to the guest; at least 1.", "int64")},
          {"sockets", Integer("Sockets visible to the guest; at least 1.", "int64")},
          {"threads", Integer("Threads per core visible to the guest; at least 1.", "int64")},
          {"maxSockets",
           Integer("Upper bound of sockets that can be hot-plugged while the guest runs.",
                   "int64")},
          {"model",
           String("CPU model presented to the guest: a libvirt model name, host-passthrough "
                  "(exactly the node's CPU) or host-model (the closest named model). Defaults "
                  "to host-model.")},
          {"features", ArrayOf(Kv("CPUFeature"), "CPU feature flags to adjust.")},
          {"dedicatedCpuPlacement",
           Boolean("Pin every vCPU to its own host CPU and schedule only on nodes that can "
                   "give dedicated CPUs.")},
          {"isolateEmulatorThread",
           Boolean("With dedicated placement, reserve one more host CPU for the emulator "
                   "thread.")},
          {"numa", FreeForm("Guest NUMA topology settings.")},
          {"realtime", FreeForm("Tuning for low-latency (real-time) workloads.")},
      });
  out[Kv("Hugepages")] =
      Object("Back guest memory with huge pages instead of ordinary pages.",
             {{"pageSize", String("Huge page size; on x86_64 either 2Mi or 1Gi.")}});
  out[Kv("Memory")] = Object(
      "Guest memory settings.",
      {
          {"guest", Quantity("Memory the guest operating system sees. Must lie between the memory "
                             "request and limit; defaults to the memory request.")},
          {"maxGuest",
           Quantity("Largest guest memory reachable by hot-plug; the difference to guest can "
                    "be added while the VM runs.")},
          {"hugepages", RefField(Kv("Hugepages"), "Use huge pages for guest memory.")},
          {"reservedOverhead", FreeForm("Extra memory reserved for the VM's overhead.")},
      });
  out[Kv("ResourceRequirements")] = Object(
      "Compute resources for the instance. Memory the host needs beyond guest memory "
      "(overhead) is added when the instance is placed.",
      {
          {"requests",
           QuantityMap("Resources the instance is guaranteed and scheduled by; keys are cpu "
                       "and memory.")},
          {"limits", QuantityMap("Upper bounds of resources; keys are cpu and memory.")},
          {"overcommitGuestOverhead",
           Boolean("Leave the host overhead out of the scheduling request and only add it to "
                   "the limit. Risky when the node runs out of memory. Defaults to false.")},
      });
  out[Kv("DiskTarget")] =
      Object("Attach the volume as an ordinary disk.",
             {
                 {"bus", Enum("The emulated disk bus. virtio is fastest and needs guest drivers.",
                              {"virtio", "sata", "scsi", "usb"})},
                 {"readonly", Boolean("Attach the disk read-only. Defaults to false.")},
                 {"pciAddress", String("Guest PCI address of the disk, e.g. 0000:81:01.10.")},
             });
  out[Kv("CDRomTarget")] = Object(
      "Attach the volume as a CD-ROM drive.",
      {
          {"bus", Enum("The emulated bus of the drive.", {"virtio", "sata", "scsi"})},
          {"readonly", Boolean("Read-only; defaults to true.")},
          {"tray",
           Enum("Whether the drive tray starts open or closed (default).", {"open", "closed"})},
      });
  out[Kv("LunTarget")] =
      Object("Attach the volume as a SCSI LUN, passing SCSI commands through.",
             {
                 {"bus", Enum("The emulated bus.", {"virtio", "sata", "scsi"})},
                 {"readonly", Boolean("Attach read-only. Defaults to false.")},
                 {"reservation", Boolean("Support SCSI persistent reservations.")},
             });
  out[Kv("Disk")] = Object(
      "A disk device of the guest, backed by the volume of the same name. Set at most one of "
      "disk, cdrom and lun; disk is assumed when none is set.",
      {
          {"name", String("Name of the device; must equal the name of a volume.")},
          {"disk", RefField(Kv("DiskTarget"), "Attach the volume as a disk.")},
          {"cdrom", RefField(Kv("CDRomTarget"), "Attach the volume as a CD-ROM.")},
          {"lun", RefField(Kv("LunTarget"), "Attach the volume as a SCSI LUN.")},
          {"bootOrder",
           Integer("Position in the boot sequence (1 boots first). Values must be unique "
                   "across disks and interfaces; when any device has one, devices without "
                   "one are not booted from.")},
          {"serial", String("Serial number the guest sees for the disk.")},
          {"cache", Enum("Host page-cache mode: none (bypass the host cache), writethrough (cache "
                         "reads, write to disk at once) or writeback. Defaults to none when the "
                         "storage supports direct I/O.",
                         {"none", "writethrough", "writeback"})},
          {"io", Enum("QEMU I/O mode.", {"native", "default", "threads"})},
          {"dedicatedIOThread", Boolean("Give this disk an I/O thread of its own.")},
          {"tag", String("Tag passed to the guest with the disk address in config-drive "
                         "metadata.")},
          {"shareable", Boolean("Allow several VMs to write to this disk at once.")},
          {"errorPolicy", Enum("What the guest sees on an I/O error; the default stops the guest.",
                               {"stop", "ignore", "report", "enospace"})},
          {"blockSize", FreeForm("Logical and physical block sizes presented to the guest.")},
      },
      {"name"});
  out[Kv("Port")] =
      Object("A guest port to expose on the pod network (masquerade binding).",
             {
                 {"name", String("Optional name of the port, unique within the instance.")},
                 {"protocol", Enum("Transport protocol; defaults to TCP.", {"TCP", "UDP"})},
                 {"port", Integer("Port number, between 1 and 65535.")},
             },
             {"port"});
  out[Kv("Interface")] = Object(
      "A network interface of the guest, connected to the network of the same name. Exactly "
      "one binding (masquerade, bridge, sriov or binding) says how.",
      {
          {"name", String("Name of the interface; must equal the name of a network.")},
          {"masquerade",
           EmptyObject("Connect through NAT: the guest gets a private address (10.0.2.2/24 by "
                       "default) and its traffic leaves with the instance's address. The "
                       "usual choice on the pod network.")},
          {"bridge", EmptyObject("Connect through a bridge: the guest itself takes the instance's "
                                 "address and MAC, handed out by a small DHCP server next to the "
                                 "guest.")},
          {"sriov", EmptyObject("Pass an SR-IOV virtual function through to the guest.")},
          {"binding", Object("A binding implemented by a network binding plugin.",
                             {{"name", String("Name of the plugin as registered.")}})},
          {"macAddress", String("MAC address of the interface, e.g. de:ad:00:00:be:af.")},
          {"model", Enum("Emulated NIC model; defaults to virtio.",
                         {"virtio", "e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139"})},
          {"ports", ArrayOf(Kv("Port"), "Ports to forward to the guest; all ports when empty.")},
          {"bootOrder", Integer("Position in the boot sequence for network boot (PXE).")},
          {"pciAddress", String("Guest PCI address of the interface.")},
          {"dhcpOptions", FreeForm("Extra DHCP options (boot file, TFTP and NTP servers).")},
          {"tag", String("Tag passed to the guest in config-drive metadata.")},
          {"acpiIndex", Integer("ACPI index for stable interface naming in the guest.")},
          {"state", Enum("Requested link state; empty means up.", {"up", "down", "absent"})},
      },
      {"name"});
  out[Kv("Devices")] = Object(
      "Devices attached to the guest.",
      {
          {"disks", ArrayOf(Kv("Disk"), "Disks, CD-ROMs and LUNs; each names a volume.")},
          {"interfaces", ArrayOf(Kv("Interface"), "Network interfaces; each names a network.")},
          {"autoattachSerialConsole",
           Boolean("Attach a serial console (kubectl virt console). Defaults to true.")},
          {"autoattachGraphicsDevice",
           Boolean("Attach a graphics device for VNC. Defaults to true.")},
          {"autoattachPodInterface",
           Boolean("Add an interface on the pod network when none is listed. Defaults to "
                   "true.")},
          {"autoattachMemBalloon", Boolean("Attach a memory balloon device. Defaults to true.")},
          {"autoattachInputDevice", Boolean("Attach a tablet input device. Defaults to false.")},
          {"logSerialConsole", Boolean("Keep a log of the serial console output.")},
          {"rng", EmptyObject("Give the guest a virtio random number generator fed by the "
                              "host.")},
          {"blockMultiQueue", Boolean("Use several queues for virtio block devices.")},
          {"networkInterfaceMultiqueue",
           Boolean("Use several queues (one per vCPU) for virtio network interfaces.")},
          {"watchdog", FreeForm("A hardware watchdog device and the action it takes.")},
          {"inputs", Array(FreeForm("An input device."), "Input devices such as a tablet.")},
          {"gpus", Array(FreeForm("A GPU passed through."), "GPUs to pass through.")},
          {"hostDevices",
           Array(FreeForm("A host device passed through."), "Host devices to pass through.")},
          {"filesystems",
           Array(FreeForm("A shared filesystem."), "Filesystems shared with the guest.")},
          {"tpm", FreeForm("Emulate a TPM device.")},
      });
  out[Kv("Firmware")] =
      Object("Firmware and identity of the guest machine.",
             {
                 {"uuid", String("SMBIOS UUID of the guest; generated when unset.")},
                 {"serial", String("SMBIOS system serial number.")},
                 {"bootloader",
                  Object("Which firmware boots the guest: BIOS (default) or EFI.",
                         {{"bios", Object("Boot with SeaBIOS.",
                                          {{"useSerial", Boolean("Send BIOS output to the serial "
                                                                 "console.")}})},
                          {"efi", Object("Boot with UEFI (OVMF).",
                                         {{"secureBoot", Boolean("Enable Secure Boot; needs SMM. "
                                                                 "Defaults to true.")},
                                          {"persistent", Boolean("Keep the EFI variables across "
                                                                 "restarts.")}})}})},
                 {"kernelBoot", FreeForm("Boot a kernel and initrd taken from a container image.")},
                 {"acpi", FreeForm("Extra ACPI tables.")},
             });
  out[Kv("FeatureState")] =
      Object("Switches a guest feature on or off.",
             {{"enabled", Boolean("Whether the feature is on. Defaults to true.")}});
  out[Kv("Features")] =
      Object("Hypervisor features exposed to the guest.",
             {
                 {"acpi", RefField(Kv("FeatureState"), "ACPI support; enabled by default.")},
                 {"apic", FreeForm("The local APIC; follows the machine type by default.")},
                 {"smm", RefField(Kv("FeatureState"),
                                  "System Management Mode; needed by Secure "
                                  "Boot.")},
                 {"hyperv", FreeForm("Hyper-V enlightenments for Windows guests.")},
                 {"kvm", Object("How KVM presents itself.",
                                {{"hidden", Boolean("Hide KVM from the guest's hypervisor "
                                                    "detection.")}})},
                 {"pvspinlock", RefField(Kv("FeatureState"), "Paravirtual spinlocks.")},
             });
  out[Kv("DomainSpec")] = Object(
      "The virtual hardware of the guest.",
      {
          {"cpu", RefField(Kv("CPU"), "CPU topology and model.")},
          {"memory", RefField(Kv("Memory"), "Guest memory.")},
          {"resources",
           RefField(Kv("ResourceRequirements"), "Compute resources requested from the node.")},
          {"devices", RefField(Kv("Devices"), "Disks, interfaces and other devices.")},
          {"firmware", RefField(Kv("Firmware"), "Firmware and machine identity.")},
          {"machine", Object("The emulated machine.",
                             {{"type", String("QEMU machine type (chipset), e.g. q35.")}})},
          {"features", RefField(Kv("Features"), "Hypervisor features such as ACPI and SMM.")},
          {"clock", FreeForm("Guest clock offset and timers.")},
          {"ioThreadsPolicy", Enum("Whether disks share I/O threads; unset means no I/O threads.",
                                   {"shared", "auto", "supplementalPool"})},
          {"chassis", FreeForm("SMBIOS chassis information.")},
          {"launchSecurity", FreeForm("Confidential computing (AMD SEV, Intel TDX).")},
      },
      {"devices"});
}

void AddNetworksAndVolumes(json::object& out) {
  out[Kv("Network")] = Object(
      "A network the guest can attach an interface to. Set exactly one source.",
      {
          {"name", String("Name of the network, referenced by an interface; a DNS label.")},
          {"pod",
           Object("The cluster's default network, which every instance has.",
                  {{"vmNetworkCIDR",
                    String("Guest-side range for masquerade; defaults to 10.0.2.0/24.")},
                   {"vmIPv6NetworkCIDR", String("Guest-side IPv6 range for masquerade; defaults to "
                                                "fd10:0:2::/120.")}})},
          {"multus",
           Object("A secondary network described by a Multus NetworkAttachmentDefinition.",
                  {{"networkName", String("The NetworkAttachmentDefinition, as name or "
                                          "namespace/name.")},
                   {"default", Boolean("Use this network instead of the pod network as the "
                                       "default.")}},
                  {"networkName"})},
      },
      {"name"});
  out[Kv("CloudInitNoCloudSource")] = Object(
      "cloud-init data in NoCloud format, presented to the guest as a small disk labelled "
      "cidata. The guest needs cloud-init installed.",
      {
          {"userData", String("User data (e.g. a #cloud-config document) as plain text.")},
          {"userDataBase64", String("User data, base64-encoded.")},
          {"secretRef", RefField(Core("LocalObjectReference"),
                                 "A secret whose userdata key holds the user "
                                 "data.")},
          {"networkData", String("Network configuration (version 1 or 2) as plain text.")},
          {"networkDataBase64", String("Network configuration, base64-encoded.")},
          {"networkDataSecretRef",
           RefField(Core("LocalObjectReference"),
                    "A secret whose networkdata key holds the network configuration.")},
      });
  json::object config_drive = out[Kv("CloudInitNoCloudSource")].as_object();
  config_drive["description"] =
      "cloud-init data in OpenStack config-drive format, presented to the guest as a disk "
      "labelled config-2. The guest needs cloud-init installed.";
  out[Kv("CloudInitConfigDriveSource")] = std::move(config_drive);

  out[Kv("Volume")] = Object(
      "A named source of data for a disk. Set exactly one source.",
      {
          {"name", String("Name of the volume, referenced by a disk; a DNS label unique in "
                          "the instance.")},
          {"containerDisk",
           Object("A disk image shipped inside a container image. Changes are thrown away "
                  "when the instance stops.",
                  {{"image", String("The container image holding the disk, e.g. "
                                    "quay.io/containerdisks/fedora:40.")},
                   {"imagePullSecret", String("Secret with registry credentials.")},
                   {"path", String("Path of the disk file inside the image.")},
                   {"imagePullPolicy",
                    Enum("When to pull the image.", {"Always", "IfNotPresent", "Never"})}},
                  {"image"})},
          {"cloudInitNoCloud",
           RefField(Kv("CloudInitNoCloudSource"), "cloud-init data, NoCloud format.")},
          {"cloudInitConfigDrive", RefField(Kv("CloudInitConfigDriveSource"),
                                            "cloud-init data, config-drive "
                                            "format.")},
          {"dataVolume",
           Object("A DataVolume (a PVC that CDI fills with an image) in the same namespace.",
                  {{"name", String("Name of the DataVolume and of its PVC.")},
                   {"hotpluggable", Boolean("Whether it may be attached and detached while "
                                            "the guest runs.")}},
                  {"name"})},
          {"persistentVolumeClaim",
           Object("An existing PersistentVolumeClaim in the same namespace; data persists.",
                  {{"claimName", String("Name of the claim.")},
                   {"readOnly", Boolean("Attach read-only.")},
                   {"hotpluggable", Boolean("Whether it may be attached and detached while "
                                            "the guest runs.")}},
                  {"claimName"})},
          {"emptyDisk", Object("A blank sparse disk that lives as long as the instance.",
                               {{"capacity", Quantity("Size of the disk.")}}, {"capacity"})},
          {"ephemeral",
           Object(
               "A copy-on-write layer over a claim: the guest writes to a temporary "
               "overlay, the claim itself is untouched.",
               {{"persistentVolumeClaim", Object("The claim to read from.",
                                                 {{"claimName", String("Name of the claim.")},
                                                  {"readOnly", Boolean("Attach read-only.")}})}})},
          {"secret", Object("A Secret presented to the guest as a disk of files.",
                            {{"secretName", String("Name of the secret.")},
                             {"optional", Boolean("Start even when the secret is missing.")},
                             {"volumeLabel", String("Filesystem label of the disk.")}})},
          {"configMap", Object("A ConfigMap presented to the guest as a disk of files.",
                               {{"name", String("Name of the ConfigMap.")},
                                {"optional", Boolean("Start even when it is missing.")},
                                {"volumeLabel", String("Filesystem label of the disk.")}})},
          {"serviceAccount",
           Object("A service account token presented to the guest as a disk.",
                  {{"serviceAccountName", String("Name of the service account.")}})},
          {"hostDisk", Object("A disk image file on the node.",
                              {{"path", String("Path of the image file on the node.")},
                               {"type", Enum("Use an existing file, or create it if missing.",
                                             {"Disk", "DiskOrCreate"})},
                               {"capacity", Quantity("Size when the file is created.")},
                               {"shared", Boolean("Whether the path is shared by nodes.")}},
                              {"path", "type"})},
          {"downwardAPI", FreeForm("Instance metadata (labels, annotations) as a disk.")},
          {"downwardMetrics", EmptyObject("A small disk with host and guest metrics.")},
          {"sysprep", FreeForm("A Windows answer file from a Secret or ConfigMap.")},
      },
      {"name"});

  out[Kv("AccessCredential")] = Object(
      "A credential KubeVirt puts into the guest. Set exactly one of sshPublicKey and "
      "userPassword.",
      {
          {"sshPublicKey",
           Object("SSH public keys to authorize in the guest.",
                  {{"source",
                    Object("Where the keys come from.",
                           {{"secret", Object("A Secret; every value is a key.",
                                              {{"secretName", String("Name of the secret.")}},
                                              {"secretName"})}})},
                   {"propagationMethod",
                    Object("How the keys reach the guest.",
                           {{"qemuGuestAgent",
                             Object("Write them at run time through the guest agent.",
                                    {{"users", StringArray("Guest users whose "
                                                           "authorized_keys get them.")}})},
                            {"noCloud", EmptyObject("Through NoCloud cloud-init metadata.")},
                            {"configDrive",
                             EmptyObject("Through config-drive cloud-init metadata.")}})}},
                  {"source", "propagationMethod"})},
          {"userPassword",
           Object("Passwords to set for guest users, through the guest agent.",
                  {{"source",
                    Object("Where the passwords come from.",
                           {{"secret", Object("A Secret mapping user to password.",
                                              {{"secretName", String("Name of the secret.")}},
                                              {"secretName"})}})},
                   {"propagationMethod",
                    Object("How the passwords reach the guest.",
                           {{"qemuGuestAgent",
                             EmptyObject("At run time through the guest agent.")}})}},
                  {"source", "propagationMethod"})},
      });
}

}  // namespace

void AddKubevirtDomainSchemas(json::object& out) {
  AddDomain(out);
  AddNetworksAndVolumes(out);
}

}  // namespace kumo::api::openapi
