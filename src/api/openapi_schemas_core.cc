// Component schemas of the built-in Kubernetes kinds Kumo serves (core/v1 Namespace, Node,
// Event, Secret; coordination.k8s.io/v1 Lease) and the core types KubeVirt reuses
// (Toleration, Affinity, LocalObjectReference).
#include "api/openapi_schemas.h"

namespace kumo::api::openapi {

namespace {

constexpr std::string_view kCore = "io.k8s.api.core.v1.";

std::string Core(std::string_view type) { return std::string(kCore) + std::string(type); }

void AddNamespace(json::object& out) {
  out[Core("NamespaceCondition")] =
      Object("One observed condition of a namespace.",
             {
                 {"type", String("Type of the condition, e.g. NamespaceDeletionContentFailure.")},
                 {"status", Enum("Whether the condition holds.", {"True", "False", "Unknown"})},
                 {"reason", String("Machine-readable reason for the last transition.")},
                 {"message", String("Human-readable details of the last transition.")},
                 {"lastTransitionTime", DateTime("When the status last changed.")},
             },
             {"type", "status"});
  out[Core("NamespaceSpec")] = Object(
      "What the namespace should look like.",
      {
          {"finalizers",
           StringArray("Opaque values that must be removed before the namespace and everything "
                       "in it is finally deleted.")},
      });
  out[Core("NamespaceStatus")] = Object(
      "The observed state of a namespace.",
      {
          {"phase",
           Enum("Active while the namespace is usable; Terminating once deletion began and its "
                "content is being removed.",
                {"Active", "Terminating"})},
          {"conditions",
           ArrayOf(Core("NamespaceCondition"), "The latest observations of the namespace.")},
      });
  out[Core("Namespace")] = KindSchema(
      "", "v1", "Namespace",
      "Namespace gives names a scope: objects in different namespaces may share a name. It is "
      "also the unit of access control and quotas.",
      {
          {"spec", RefField(Core("NamespaceSpec"), "The desired state of the namespace.")},
          {"status", RefField(Core("NamespaceStatus"),
                              "The observed state of the namespace, maintained by the server.")},
      });
}

void AddNode(json::object& out) {
  out[Core("Taint")] = Object(
      "A taint repels pods and virtual machines that do not tolerate it.",
      {
          {"key", String("The taint key.")},
          {"value", String("The taint value, matched by Equal tolerations.")},
          {"effect", Enum("What happens to workloads that do not tolerate the taint: they are not "
                          "scheduled (NoSchedule), scheduled only when nothing else fits "
                          "(PreferNoSchedule), or evicted as well (NoExecute).",
                          {"NoSchedule", "PreferNoSchedule", "NoExecute"})},
          {"timeAdded", DateTime("When a NoExecute taint was added.")},
      },
      {"key", "effect"});
  out[Core("NodeSpec")] = Object(
      "How the node should be used.",
      {
          {"unschedulable",
           Boolean("When true, nothing new is scheduled on the node (kubectl cordon); "
                   "workloads already there keep running.")},
          {"taints", ArrayOf(Core("Taint"), "Taints that repel workloads from the node.")},
          {"podCIDR", String("The address range assigned to workloads on this node.")},
          {"podCIDRs", StringArray("All address ranges assigned to this node (dual stack).")},
          {"providerID", String("Identifier of the node at its infrastructure provider.")},
      });
  out[Core("NodeCondition")] = Object(
      "One observed condition of a node, such as Ready or MemoryPressure.",
      {
          {"type", String("Type of condition: Ready, MemoryPressure, DiskPressure, "
                          "PIDPressure, NetworkUnavailable.")},
          {"status", Enum("Whether the condition holds.", {"True", "False", "Unknown"})},
          {"lastHeartbeatTime", DateTime("When the node agent last reported this condition.")},
          {"lastTransitionTime", DateTime("When the status last changed.")},
          {"reason", String("Machine-readable reason for the last transition.")},
          {"message", String("Human-readable details of the last transition.")},
      },
      {"type", "status"});
  out[Core("NodeAddress")] = Object(
      "An address at which the node can be reached.",
      {
          {"type", Enum("Kind of address.",
                        {"Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"})},
          {"address", String("The address itself.")},
      },
      {"type", "address"});
  out[Core("NodeSystemInfo")] =
      Object("Facts about the node's machine and software, reported by its agent.",
             {
                 {"machineID", String("The machine-id of the host.")},
                 {"systemUUID", String("The SMBIOS system UUID of the host.")},
                 {"bootID", String("Identifier of the current boot; changes on every reboot.")},
                 {"kernelVersion", String("Kernel release (uname -r).")},
                 {"osImage", String("Operating system image, from /etc/os-release.")},
                 {"containerRuntimeVersion", String("Runtime that runs workloads, with version.")},
                 {"kubeletVersion", String("Version of the node agent.")},
                 {"kubeProxyVersion", String("Deprecated; version of the service proxy.")},
                 {"operatingSystem", String("Operating system family, e.g. linux.")},
                 {"architecture", String("CPU architecture, e.g. amd64.")},
             });
  out[Core("NodeStatus")] = Object(
      "The observed state of a node, reported by its agent.",
      {
          {"capacity", QuantityMap("Total resources of the node (cpu, memory, pods, …).")},
          {"allocatable",
           QuantityMap("Resources available to workloads: capacity minus what the system "
                       "reserves for itself.")},
          {"conditions", ArrayOf(Core("NodeCondition"), "Current conditions of the node.")},
          {"addresses", ArrayOf(Core("NodeAddress"), "Addresses at which the node is reached.")},
          {"nodeInfo", RefField(Core("NodeSystemInfo"), "Facts about the node's system.")},
          {"daemonEndpoints", FreeForm("Ports on which the node's agent listens.")},
          {"images",
           Array(FreeForm("An image present on the node."), "Images present on the node.")},
      });
  out[Core("Node")] = KindSchema(
      "", "v1", "Node",
      "Node is a machine that runs workloads. Its agent registers it and keeps its status "
      "current.",
      {
          {"spec", RefField(Core("NodeSpec"), "How the node should be used.")},
          {"status", RefField(Core("NodeStatus"), "The most recently observed node state.")},
      });
}

void AddEvent(json::object& out) {
  out[Core("ObjectReference")] =
      Object("A reference to another object, possibly to a field inside it.",
             {
                 {"kind", String("Kind of the referent.")},
                 {"namespace", String("Namespace of the referent.")},
                 {"name", String("Name of the referent.")},
                 {"uid", String("UID of the referent.")},
                 {"apiVersion", String("API version of the referent.")},
                 {"resourceVersion", String("resourceVersion of the referent when referenced.")},
                 {"fieldPath", String("A field of the referent the reference points into, e.g. "
                                      "spec.template.spec.domain.")},
             });
  out[Core("EventSource")] =
      Object("The component that emitted an event.",
             {
                 {"component", String("Name of the component, e.g. virt-controller.")},
                 {"host", String("The node the component runs on.")},
             });
  out[Core("Event")] = KindSchema(
      "", "v1", "Event",
      "Event records something that happened to an object: a state change, an error, a "
      "decision. Events are kept for a limited time; repeated events are counted rather "
      "than duplicated.",
      {
          {"involvedObject", RefField(Core("ObjectReference"), "The object this event is about.")},
          {"reason", String("Short CamelCase reason for the event, e.g. SuccessfulCreate.")},
          {"message", String("Human-readable description of what happened.")},
          {"type", Enum("Normal for routine events, Warning for problems.", {"Normal", "Warning"})},
          {"source", RefField(Core("EventSource"), "The component that reported the event.")},
          {"count", Integer("How many times this event occurred.")},
          {"firstTimestamp", DateTime("When the event was first recorded.")},
          {"lastTimestamp", DateTime("When the event most recently occurred.")},
          {"eventTime", DateTime("When the event was first observed, with microseconds.")},
          {"reportingComponent", String("Controller that emitted the event.")},
          {"reportingInstance", String("Instance (e.g. host) of the reporting controller.")},
          {"action", String("What action was taken or failed.")},
          {"related", RefField(Core("ObjectReference"), "A second object involved, if any.")},
          {"series", FreeForm("Data on a series of similar events.")},
      },
      {"metadata", "involvedObject"});
}

void AddSecret(json::object& out) {
  json::object data = StringMap(
      "Secret content: each value is base64-encoded. Keys consist of alphanumerics, '-', '_' "
      "and '.'.");
  data["additionalProperties"].as_object()["format"] = "byte";
  out[Core("Secret")] = KindSchema(
      "", "v1", "Secret",
      "Secret holds a small amount of sensitive data such as passwords, keys or cloud-init "
      "user data. The total size is limited to 1 MiB.",
      {
          {"data", std::move(data)},
          {"stringData",
           StringMap("Write-only convenience: plain-text values merged into data on write "
                     "(winning over data); never returned on read.")},
          {"type", String("Hint for how to use the data, e.g. Opaque (the default), "
                          "kubernetes.io/tls or kubernetes.io/ssh-auth.")},
          {"immutable",
           Boolean("When true, data cannot be changed any more; the secret can only be "
                   "deleted and recreated.")},
      });
}

void AddLease(json::object& out) {
  constexpr std::string_view kLeaseSpec = "io.k8s.api.coordination.v1.LeaseSpec";
  out[kLeaseSpec] = Object(
      "The holder and timing of a lease.",
      {
          {"holderIdentity", String("Identity of the current holder.")},
          {"leaseDurationSeconds",
           Integer("How long candidates wait after the last renewal before they may take the "
                   "lease over.")},
          {"acquireTime", DateTime("When the current holder acquired the lease.")},
          {"renewTime", DateTime("When the current holder last renewed the lease.")},
          {"leaseTransitions", Integer("How many times the lease changed holders.")},
          {"strategy", String("Strategy for picking a leader in coordinated elections.")},
          {"preferredHolder", String("The holder a coordinated election prefers next.")},
      });
  out["io.k8s.api.coordination.v1.Lease"] = KindSchema(
      "coordination.k8s.io", "v1", "Lease",
      "Lease is a lightweight lock with a holder and an expiry, used for leader election and "
      "for node heartbeats.",
      {{"spec", RefField(kLeaseSpec, "The holder and timing of the lease.")}});
}

void AddSharedCoreTypes(json::object& out) {
  out[Core("Toleration")] = Object(
      "Lets a workload be scheduled on (or stay on) nodes with a matching taint.",
      {
          {"key", String("The taint key to match; empty with operator Exists matches all.")},
          {"operator",
           Enum("How key and value are compared; Exists ignores the value.", {"Exists", "Equal"})},
          {"value", String("The taint value to match with operator Equal.")},
          {"effect", Enum("The taint effect to match; empty matches every effect.",
                          {"NoSchedule", "PreferNoSchedule", "NoExecute"})},
          {"tolerationSeconds",
           Integer("For NoExecute: how long the workload stays after the taint appears; unset "
                   "means forever.",
                   "int64")},
      });
  out[Core("Affinity")] = Object(
      "Scheduling constraints relative to node labels and to other workloads.",
      {
          {"nodeAffinity",
           FreeForm("Rules on node labels, required or preferred, for where to schedule.")},
          {"podAffinity", FreeForm("Rules to co-locate with workloads matching a label selector.")},
          {"podAntiAffinity",
           FreeForm("Rules to keep away from workloads matching a label selector.")},
      });
  out[Core("LocalObjectReference")] = Object("Names another object in the same namespace.",
                                             {{"name", String("Name of the referenced object.")}});
}

}  // namespace

void AddCoreSchemas(json::object& out) {
  AddNamespace(out);
  AddNode(out);
  AddEvent(out);
  AddSecret(out);
  AddLease(out);
  AddSharedCoreTypes(out);
}

}  // namespace kumo::api::openapi
