// Component schemas of instancetype.kubevirt.io/v1beta1: cluster-wide instance types (CPU and
// memory sizes) and preferences (defaults for unset template fields).
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

namespace {

constexpr std::string_view kGroup = "instancetype.kubevirt.io";
constexpr std::string_view kVersion = "v1beta1";

std::string It(std::string_view type) {
  return "io.kubevirt.instancetype.v1beta1." + std::string(type);
}

void AddInstancetype(json::object& out) {
  out[It("CPUInstancetype")] =
      Object("The vCPUs an instance type provides.",
             {
                 {"guest",
                  Integer("Number of vCPUs the guest gets. How they are laid out in sockets, cores "
                          "and threads follows the preference (sockets by default).",
                          "int64")},
                 {"model", String("CPU model presented to the guest, e.g. host-passthrough.")},
                 {"dedicatedCPUPlacement", Boolean("Pin each vCPU to a dedicated host CPU.")},
                 {"isolateEmulatorThread",
                  Boolean("With dedicated placement, reserve a host CPU for the emulator thread.")},
                 {"maxSockets", Integer("Upper bound of sockets for CPU hot-plug.", "int64")},
                 {"numa", FreeForm("Guest NUMA topology settings.")},
                 {"realtime", FreeForm("Tuning for real-time workloads.")},
             },
             {"guest"});
  out[It("MemoryInstancetype")] =
      Object("The memory an instance type provides.",
             {
                 {"guest", Quantity("Memory the guest sees, e.g. 4Gi.")},
                 {"hugepages", Object("Back guest memory with huge pages.",
                                      {{"pageSize", String("Huge page size: 2Mi or 1Gi.")}})},
                 {"overcommitPercent",
                  Integer("Request this percentage less memory from the node than the guest sees "
                          "(0 to 100).")},
                 {"maxGuest", Quantity("Largest guest memory reachable by memory hot-plug.")},
             },
             {"guest"});
  out[It("VirtualMachineInstancetypeSpec")] = Object(
      "Resources and placement settings an instance type imposes on a VM. A VM that names "
      "an instance type must not set these fields in its own template.",
      {
          {"cpu", RefField(It("CPUInstancetype"), "The vCPUs of the guest.")},
          {"memory", RefField(It("MemoryInstancetype"), "The memory of the guest.")},
          {"gpus", Array(FreeForm("A GPU."), "GPUs passed to the guest.")},
          {"hostDevices", Array(FreeForm("A host device."), "Host devices passed to the guest.")},
          {"ioThreadsPolicy",
           Enum("Whether disks share I/O threads.", {"shared", "auto", "supplementalPool"})},
          {"launchSecurity", FreeForm("Confidential computing settings.")},
          {"annotations", StringMap("Annotations added to each instance.")},
          {"nodeSelector", StringMap("Node labels each instance requires.")},
          {"schedulerName", String("Scheduler that places each instance.")},
      },
      {"cpu", "memory"});
  out[It("VirtualMachineClusterInstancetype")] = KindSchema(
      kGroup, kVersion, "VirtualMachineClusterInstancetype",
      "VirtualMachineClusterInstancetype is a named, cluster-wide size for virtual machines "
      "(vCPUs and memory, optionally more). VMs refer to it in spec.instancetype instead of "
      "sizing their own template.",
      {{"spec", RefField(It("VirtualMachineInstancetypeSpec"),
                         "The resources this instance type provides.")}},
      {"spec"});
}

void AddPreference(json::object& out) {
  out[It("VirtualMachinePreferenceSpec")] = Object(
      "Defaults a preference applies to a VM's template where the template leaves a field "
      "unset, plus minimum requirements for the instance type.",
      {
          {"cpu", Object("CPU preferences.",
                         {{"preferredCPUTopology",
                           Enum("How the guest's vCPUs are laid out: all as sockets (the "
                                "default), cores, threads, spread over sockets and cores, "
                                "or whatever the template says.",
                                {"preferSockets", "preferCores", "preferThreads", "preferSpread",
                                 "preferAny"})},
                          {"spreadOptions", FreeForm("The ratio used by preferSpread.")},
                          {"preferredCPUFeatures",
                           Array(FreeForm("A CPU feature."), "CPU features to add.")}})},
          {"devices",
           Object("Device preferences.",
                  {{"preferredDiskBus",
                    Enum("Bus for disks that name none.", {"virtio", "sata", "scsi", "usb"})},
                   {"preferredCdromBus",
                    Enum("Bus for CD-ROMs that name none.", {"virtio", "sata", "scsi"})},
                   {"preferredInterfaceModel", String("NIC model for interfaces that name "
                                                      "none, e.g. virtio.")},
                   {"preferredAutoattachSerialConsole", Boolean("Attach a serial console.")},
                   {"preferredAutoattachGraphicsDevice", Boolean("Attach a graphics device.")},
                   {"preferredRng", FreeForm("Attach a random number generator.")},
                   {"preferredTPM", FreeForm("Attach a TPM.")}})},
          {"features", FreeForm("Preferred hypervisor features (ACPI, SMM, Hyper-V, …).")},
          {"firmware", Object("Firmware preferences.",
                              {{"preferredUseEfi", Boolean("Boot with EFI.")},
                               {"preferredUseSecureBoot", Boolean("Enable Secure Boot.")},
                               {"preferredUseBios", Boolean("Boot with BIOS.")}})},
          {"machine", Object("Machine preferences.",
                             {{"preferredMachineType", String("QEMU machine type, e.g. "
                                                              "q35.")}})},
          {"volumes", Object("Volume preferences.",
                             {{"preferredStorageClassName",
                               String("Storage class for DataVolume templates that name "
                                      "none.")}})},
          {"clock", FreeForm("Preferred clock offset and timers.")},
          {"requirements",
           Object("Minimum resources the VM's instance type (or template) must provide.",
                  {{"cpu",
                    Object("CPU requirement.",
                           {{"guest", Integer("Minimum number of vCPUs.", "int64")}}, {"guest"})},
                   {"memory", Object("Memory requirement.",
                                     {{"guest", Quantity("Minimum guest memory.")}}, {"guest"})}})},
          {"preferredTerminationGracePeriodSeconds",
           Integer("Grace period for guest shutdown.", "int64")},
          {"preferredSubdomain", String("Subdomain for the guest's host name.")},
          {"preferredArchitecture", String("CPU architecture, e.g. amd64.")},
          {"preferSpreadSocketToCoreRatio",
           Integer("Sockets-to-cores ratio used by preferSpread.")},
          {"annotations", StringMap("Annotations added to each instance.")},
      });
  out[It("VirtualMachineClusterPreference")] = KindSchema(
      kGroup, kVersion, "VirtualMachineClusterPreference",
      "VirtualMachineClusterPreference is a cluster-wide set of defaults for virtual "
      "machines, usually describing what a guest operating system works best with (disk "
      "bus, NIC model, firmware). VMs refer to it in spec.preference.",
      {{"spec", RefField(It("VirtualMachinePreferenceSpec"), "The preferred settings.")}},
      {"spec"});
}

}  // namespace

void AddInstancetypeSchemas(json::object& out) {
  AddInstancetype(out);
  AddPreference(out);
}

}  // namespace kumo::api::openapi
