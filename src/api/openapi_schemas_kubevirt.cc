// Component schemas of kubevirt.io/v1: VirtualMachine, VirtualMachineInstance, their status
// types and the instance spec they share (its hardware is in openapi_schemas_kubevirt_domain.cc).
// Field names and meanings follow KubeVirt's API (kubevirt.io/api core/v1); the descriptions
// are Kumo's own.
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

namespace {

std::string Kv(std::string_view type) { return "io.kubevirt.v1." + std::string(type); }
std::string Core(std::string_view type) { return "io.k8s.api.core.v1." + std::string(type); }

void AddInstanceSpec(json::object& out) {
  out[Kv("VirtualMachineInstanceSpec")] = Object(
      "The desired state of a virtual machine instance: its virtual hardware, the networks "
      "and volumes behind its devices, and where it may run.",
      {
          {"domain", RefField(Kv("DomainSpec"), "The virtual hardware of the guest.")},
          {"networks", ArrayOf(Kv("Network"), "Networks that interfaces connect to; at most 256.")},
          {"volumes", ArrayOf(Kv("Volume"), "Volumes that back the disks; at most 256.")},
          {"nodeSelector",
           StringMap("Labels a node must carry for the instance to be placed on it.")},
          {"affinity", RefField(Core("Affinity"), "Affinity rules for placement.")},
          {"tolerations", ArrayOf(Core("Toleration"), "Taints the instance tolerates.")},
          {"evictionStrategy",
           Enum("What happens when the node is drained: None lets the run strategy decide "
                "(the instance stops, and restarts elsewhere if the VM says so); LiveMigrate "
                "moves it to another node; LiveMigrateIfPossible migrates when possible and "
                "otherwise acts like None; External blocks the eviction and leaves the "
                "decision to an outside controller.",
                {"None", "LiveMigrate", "LiveMigrateIfPossible", "External"})},
          {"terminationGracePeriodSeconds",
           Integer("Seconds the guest gets to shut down after it was asked to stop, before "
                   "it is powered off.",
                   "int64")},
          {"hostname",
           String("Host name of the guest; defaults to the instance name when the guest takes "
                  "it from DHCP or cloud-init.")},
          {"subdomain",
           String("With a headless service of this name, the guest's fully qualified name "
                  "becomes <hostname>.<subdomain>.<namespace>.svc.<cluster domain>.")},
          {"accessCredentials",
           ArrayOf(Kv("AccessCredential"), "SSH keys and passwords to put into the guest.")},
          {"priorityClassName", String("Scheduling priority class of the instance.")},
          {"schedulerName", String("The scheduler that places the instance.")},
          {"startStrategy", Enum("Paused starts the guest paused instead of running.", {"Paused"})},
          {"dnsPolicy", Enum("How DNS is set up for the instance.",
                             {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"})},
          {"dnsConfig", FreeForm("Extra DNS settings merged with those of dnsPolicy.")},
          {"livenessProbe", FreeForm("Probe whose failure stops the instance.")},
          {"readinessProbe",
           FreeForm("Probe whose failure takes the instance out of service endpoints.")},
          {"topologySpreadConstraints",
           Array(FreeForm("One spread constraint."),
                 "How instances spread across zones, nodes or other topology domains.")},
          {"architecture", String("CPU architecture of the guest, e.g. amd64.")},
      },
      {"domain"});
  out[Kv("VirtualMachineInstanceTemplateSpec")] = Object(
      "The template from which a VirtualMachine creates its instance.",
      {
          {"metadata", RefField("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                                "Labels and annotations copied to each instance.")},
          {"spec", RefField(Kv("VirtualMachineInstanceSpec"), "The instance specification.")},
      });
}

json::object Condition(std::string_view description, std::string_view types) {
  return Object(description,
                {
                    {"type", String(types)},
                    {"status", Enum("Whether the condition holds.", {"True", "False", "Unknown"})},
                    {"reason", String("Machine-readable reason for the last transition.")},
                    {"message", String("Human-readable details.")},
                    {"lastProbeTime", DateTime("When the condition was last checked.")},
                    {"lastTransitionTime", DateTime("When the status last changed.")},
                },
                {"type", "status"});
}

void AddVirtualMachine(json::object& out) {
  json::object matcher = Object(
      "Names an instance type whose CPU and memory (and more) fill in the template.",
      {
          {"name", String("Name of the instance type.")},
          {"kind",
           Enum("Kind of the instance type; namespaced VirtualMachineInstancetype by default.",
                {"VirtualMachineInstancetype", "VirtualMachineClusterInstancetype"})},
          {"revisionName",
           String("ControllerRevision holding the copy of the instance type this VM was "
                  "created with; set by the controller.")},
          {"inferFromVolume",
           String("Take the name and kind from the labels of this volume's source instead.")},
          {"inferFromVolumeFailurePolicy",
           Enum("What to do when inference fails: Reject the VM or Ignore it.",
                {"Reject", "Ignore"})},
      });
  out[Kv("InstancetypeMatcher")] = matcher;
  matcher["description"] =
      "Names a preference: defaults such as disk bus or firmware that apply where the "
      "template leaves a field unset.";
  matcher["properties"].as_object()["name"] = String("Name of the preference.");
  matcher["properties"].as_object()["kind"] =
      Enum("Kind of the preference; namespaced VirtualMachinePreference by default.",
           {"VirtualMachinePreference", "VirtualMachineClusterPreference"});
  out[Kv("PreferenceMatcher")] = std::move(matcher);

  out[Kv("DataVolumeTemplateSpec")] =
      Object("A DataVolume the VM creates and owns; it is deleted with the VM.",
             {
                 {"apiVersion", String("cdi.kubevirt.io/v1beta1.")},
                 {"kind", String("DataVolume.")},
                 {"metadata", RefField("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                                       "Name and labels of the DataVolume.")},
                 {"spec", FreeForm("The DataVolume specification: source (registry, http, pvc, "
                                   "blank, …) and storage.")},
                 {"status", FreeForm("Kept only for compatibility; ignored.")},
             },
             {"spec"});

  out[Kv("VirtualMachineSpec")] = Object(
      "The desired state of a VirtualMachine.",
      {
          {"runStrategy",
           Enum("Whether and when the VM's instance should run. Mutually exclusive with "
                "running. Always: an instance is kept running; it is recreated whenever it "
                "stops, for any reason. RerunOnFailure: the instance starts and is recreated "
                "after a failure, but not after the guest shuts down cleanly. Once: the "
                "instance runs one time and is not recreated, whether it succeeded or "
                "failed. Manual: nothing starts or restarts by itself; only start, stop and "
                "restart requests change the state. Halted: no instance runs; stopping an "
                "Always VM switches it to Halted.",
                {"Always", "RerunOnFailure", "Once", "Manual", "Halted"})},
          {"running",
           Boolean("Deprecated: use runStrategy. true keeps an instance running (like "
                   "Always), false keeps it stopped (like Halted). Cannot be combined with "
                   "runStrategy.")},
          {"instancetype",
           RefField(Kv("InstancetypeMatcher"),
                    "An instance type that supplies CPU and memory for the template.")},
          {"preference",
           RefField(Kv("PreferenceMatcher"),
                    "A preference that supplies defaults for unset template fields.")},
          {"template", RefField(Kv("VirtualMachineInstanceTemplateSpec"),
                                "The instance to create whenever the VM is started.")},
          {"dataVolumeTemplates",
           ArrayOf(Kv("DataVolumeTemplateSpec"),
                   "DataVolumes created for this VM and deleted with it; template volumes "
                   "refer to them by name.")},
          {"updateVolumesStrategy",
           Enum("How volume changes reach a running instance: Replacement applies them at "
                "the next restart, Migration moves the data by live migration.",
                {"Replacement", "Migration"})},
      },
      {"template"});

  out[Kv("VirtualMachineCondition")] =
      Condition("One observed condition of a VirtualMachine.",
                "Type of condition: Ready, Failure, Paused, LiveMigratable, "
                "RestartRequired, …");
  out[Kv("VirtualMachineStateChangeRequest")] =
      Object("A pending request to start or stop the VM's instance.",
             {
                 {"action", Enum("The requested action.", {"Start", "Stop"})},
                 {"data", StringMap("Extra data for the action.")},
                 {"uid", String("UID of the instance the request applies to, if any.")},
             },
             {"action"});
  out[Kv("VolumeSnapshotStatus")] =
      Object("Whether a volume of the VM can be snapshotted.",
             {
                 {"name", String("Name of the volume.")},
                 {"enabled", Boolean("True when the volume supports snapshots.")},
                 {"reason", String("Why snapshots are not supported; empty when they are.")},
             },
             {"name", "enabled"});
  out[Kv("VirtualMachineStatus")] = Object(
      "The observed state of a VirtualMachine and its instance.",
      {
          {"printableStatus",
           Enum("One-word summary of the VM's state, shown by kubectl get.",
                {"Stopped", "Provisioning", "Starting", "Running", "Paused", "Stopping",
                 "Terminating", "CrashLoopBackOff", "Migrating", "Unknown", "ErrorUnschedulable",
                 "ErrImagePull", "ImagePullBackOff", "ErrorPvcNotFound", "DataVolumeError",
                 "WaitingForVolumeBinding"})},
          {"ready", Boolean("True when the instance is running and ready.")},
          {"created", Boolean("True when an instance exists for this VM.")},
          {"conditions",
           ArrayOf(Kv("VirtualMachineCondition"), "Conditions of the VM and its instance.")},
          {"stateChangeRequests", ArrayOf(Kv("VirtualMachineStateChangeRequest"),
                                          "Start and stop requests not yet carried out.")},
          {"volumeSnapshotStatuses",
           ArrayOf(Kv("VolumeSnapshotStatus"), "Snapshot support of each volume.")},
          {"runStrategy",
           String("The run strategy last acted on, kept to handle the next change.")},
          {"observedGeneration",
           Integer("Generation of the VM the running instance was created from.", "int64")},
          {"desiredGeneration", Integer("Generation the instance should have.", "int64")},
          {"startFailure", FreeForm("Consecutive failed starts, for crash-loop back-off.")},
          {"snapshotInProgress", String("Name of the snapshot being taken.")},
          {"restoreInProgress", String("Name of the restore being applied.")},
          {"volumeRequests",
           Array(FreeForm("A volume to add or remove."), "Pending volume hot-plug requests.")},
          {"instancetypeRef", FreeForm("The instance type captured for this VM.")},
          {"preferenceRef", FreeForm("The preference captured for this VM.")},
      });

  out[Kv("VirtualMachine")] = KindSchema(
      "kubevirt.io", "v1", "VirtualMachine",
      "VirtualMachine is a virtual machine that persists across stops and starts. It holds "
      "the template of its instance and, through runStrategy, decides when an instance "
      "(VirtualMachineInstance) runs; its status mirrors that instance.",
      {
          {"spec", RefField(Kv("VirtualMachineSpec"), "The desired state of the VM.")},
          {"status", RefField(Kv("VirtualMachineStatus"),
                              "The observed state of the VM, maintained by "
                              "the controller.")},
      },
      {"spec"});
}

void AddVirtualMachineInstance(json::object& out) {
  out[Kv("VirtualMachineInstanceCondition")] =
      Condition("One observed condition of an instance.",
                "Type of condition: Ready, LiveMigratable, AgentConnected, Paused, "
                "Provisioning, …");
  out[Kv("VirtualMachineInstanceNetworkInterface")] = Object(
      "Addresses and state of one guest interface.",
      {
          {"name", String("Name of the interface, the same as its network's.")},
          {"ipAddress", String("Primary IP address; the first of ipAddresses.")},
          {"ipAddresses", StringArray("Every IP address of the interface.")},
          {"mac", String("MAC address of the interface.")},
          {"interfaceName", String("Name of the interface inside the guest, e.g. eth0.")},
          {"infoSource", String("Where the data came from: domain, guest-agent, multus-status.")},
          {"podInterfaceName", String("Name of the matching interface on the host side.")},
          {"queueCount", Integer("Number of queues of the interface.")},
          {"linkState", Enum("Current link state.", {"up", "down"})},
      });
  out[Kv("VirtualMachineInstanceGuestOSInfo")] =
      Object("The guest operating system, as reported by the guest agent.",
             {
                 {"name", String("Name of the operating system.")},
                 {"id", String("Identifier of the operating system, e.g. fedora.")},
                 {"prettyName", String("Full display name.")},
                 {"version", String("Version.")},
                 {"versionId", String("Version identifier.")},
                 {"kernelRelease", String("Kernel release.")},
                 {"kernelVersion", String("Kernel version.")},
                 {"machine", String("Machine hardware name, e.g. x86_64.")},
             });
  out[Kv("VirtualMachineInstanceMigrationState")] = Object(
      "Progress of the current or last live migration of the instance.",
      {
          {"startTimestamp", DateTime("When the migration began.")},
          {"endTimestamp", DateTime("When the migration ended.")},
          {"sourceNode", String("The node the instance moves away from.")},
          {"targetNode", String("The node the instance moves to.")},
          {"targetNodeAddress", String("Address on the target used for the migration.")},
          {"targetPod", String("The process group that receives the instance.")},
          {"completed", Boolean("True once the migration finished.")},
          {"failed", Boolean("True when the migration failed.")},
          {"abortRequested", Boolean("True when cancellation was requested.")},
          {"migrationUid", String("UID of the VirtualMachineInstanceMigration.")},
          {"mode",
           Enum("Whether memory is copied before or after the switch.", {"PreCopy", "PostCopy"})},
          {"failureReason", String("Why the migration failed.")},
          {"targetMigrationPort",
           Integer("Port on targetNodeAddress that receives the memory (Kumo).")},
          {"targetDiskPort",
           Integer("Port on targetNodeAddress that receives the disks over NBD (Kumo).")},
      });
  out[Kv("VirtualMachineInstancePhaseTransitionTimestamp")] =
      Object("When the instance entered a phase.",
             {
                 {"phase", String("The phase entered.")},
                 {"phaseTransitionTimestamp", DateTime("When it was entered.")},
             });
  out[Kv("VirtualMachineInstanceStatus")] = Object(
      "The observed state of an instance. It may lag behind reality.",
      {
          {"phase", Enum("Where the instance is in its life: Pending (accepted, not yet placed), "
                         "Scheduling, Scheduled (placed on a node, starting), Running, Succeeded "
                         "(the guest shut down), Failed, or Unknown (the node cannot be reached).",
                         {"Pending", "Scheduling", "Scheduled", "Running", "Succeeded", "Failed",
                          "Unknown"})},
          {"nodeName", String("The node the instance runs on.")},
          {"reason", String("Short CamelCase reason for the current state, e.g. "
                            "NodeUnresponsive.")},
          {"conditions",
           ArrayOf(Kv("VirtualMachineInstanceCondition"), "Conditions of the instance.")},
          {"interfaces", ArrayOf(Kv("VirtualMachineInstanceNetworkInterface"),
                                 "Addresses and state of the guest's interfaces.")},
          {"migrationState", RefField(Kv("VirtualMachineInstanceMigrationState"),
                                      "The current or last live migration.")},
          {"migrationMethod",
           Enum("How the instance can be migrated.", {"BlockMigration", "LiveMigration"})},
          {"launcherContainerImageVersion",
           String("Version of the launcher running the instance; a mismatch with the "
                  "installed version means an update is due.")},
          {"guestOSInfo", RefField(Kv("VirtualMachineInstanceGuestOSInfo"),
                                   "The guest OS, from the guest agent.")},
          {"phaseTransitionTimestamps",
           ArrayOf(Kv("VirtualMachineInstancePhaseTransitionTimestamp"),
                   "When each phase was entered.")},
          {"qosClass", Enum("Quality-of-service class from the resource requests and limits.",
                            {"Guaranteed", "Burstable", "BestEffort"})},
          {"activePods", StringMap("Hosting process group UIDs mapped to their node.")},
          {"evacuationNodeName", String("Node the instance is being evacuated from.")},
          {"machine",
           Object("The machine type in effect.", {{"type", String("QEMU machine type after alias "
                                                                  "resolution.")}})},
          {"currentCPUTopology",
           Object("The CPU topology in effect, which may differ from spec during hot-plug.",
                  {{"cores", Integer("Cores per socket.", "int64")},
                   {"sockets", Integer("Sockets.", "int64")},
                   {"threads", Integer("Threads per core.", "int64")}})},
          {"memory", FreeForm("Guest memory at boot, now, and requested.")},
          {"volumeStatus", Array(FreeForm("Status of one volume."), "Status of each volume.")},
      });
  out[Kv("VirtualMachineInstance")] = KindSchema(
      "kubevirt.io", "v1", "VirtualMachineInstance",
      "VirtualMachineInstance is one running (or starting, or finished) virtual machine. A "
      "VirtualMachine creates one each time it starts; an instance is not restarted once it "
      "has finished.",
      {
          {"spec",
           RefField(Kv("VirtualMachineInstanceSpec"), "The desired state of the instance.")},
          {"status",
           RefField(Kv("VirtualMachineInstanceStatus"), "The observed state of the instance.")},
      },
      {"spec"});
}

void AddMigration(json::object& out) {
  out[Kv("VirtualMachineInstanceMigration")] = KindSchema(
      "kubevirt.io", "v1", "VirtualMachineInstanceMigration",
      "VirtualMachineInstanceMigration moves a running instance to another node while it runs "
      "(live migration): disks are copied, then memory, then the guest resumes on the target "
      "with the same IP.",
      {
          {"spec", Object("What to migrate.",
                          {{"vmiName", String("Name of the VirtualMachineInstance to migrate, "
                                              "in the migration's namespace.")}},
                          {"vmiName"})},
          {"status",
           Object("Progress of the migration.",
                  {{"phase", Enum("Pending, Scheduled (a target node was chosen), TargetReady "
                                  "(the target waits for the data), Succeeded or Failed.",
                                  {"Pending", "Scheduling", "Scheduled", "PreparingTarget",
                                   "TargetReady", "Running", "Succeeded", "Failed"})},
                   {"migrationState", RefField(Kv("VirtualMachineInstanceMigrationState"),
                                               "The migration as the instance records it.")},
                   {"phaseTransitionTimestamps",
                    ArrayOf(Kv("VirtualMachineInstancePhaseTransitionTimestamp"),
                            "When each phase was entered.")},
                   {"conditions", Array(FreeForm("A condition."), "Conditions, e.g. why it failed.")}})},
      },
      {"spec"});
}

}  // namespace

void AddKubevirtSchemas(json::object& out) {
  AddKubevirtDomainSchemas(out);
  AddInstanceSpec(out);
  AddVirtualMachine(out);
  AddVirtualMachineInstance(out);
  AddMigration(out);
}

}  // namespace kumo::api::openapi
