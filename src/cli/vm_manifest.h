// The VirtualMachine that `kumo vm create` generates: plain kubevirt.io/v1 and instancetype
// fields only (an instancetype reference, a containerDisk or a DataVolume template for a
// persistent root disk, claims as data disks, cloud-init NoCloud user data, a
// bridge interface on the pod network, the Calico ipAddrs annotation for a fixed address), so
// the manifest also applies on a real KubeVirt-on-Calico cluster. Pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace kumo::cli {

inline constexpr char kCalicoIpAddrsAnnotation[] = "cni.projectcalico.org/ipAddrs";
inline constexpr char kIpReservationAnnotation[] = "kumo.io/ip-reservation";
inline constexpr char kTemplateLabel[] = "kumo.io/template";

struct VmOptions {
  std::string name;
  std::string ns;  // "" leaves metadata.namespace out
  std::string image;
  std::string flavor;
  std::string ip;         // "" (automatic), an IPv4 address, or the name of an IPReservation
  std::string user_data;  // final cloud-init user data; "" for none
  std::map<std::string, std::string> node_selector;
  std::string run_strategy = "Always";
  std::string template_name;  // recorded as a label when set
  // The root disk: "" boots a fresh overlay of the image at every start (a containerDisk);
  // a size ("10Gi") makes a persistent volume "<name>-root" from the image (a DataVolume the
  // VM owns: deleted with it) that keeps what the guest writes.
  std::string root_volume_size;
  std::string storage_class;             // "" = the default class
  std::vector<std::string> data_volumes;  // existing claims attached as extra disks
};

// The default size of a persistent root volume for `image`.
std::string DefaultRootVolumeSize(const std::string& image);

// "persistent volume web1-root (10Gi, class local)" or "ephemeral (image tiny, reset at every
// start)": what kind of root disk a VirtualMachine has.
std::string RootDiskOf(const json::value& vm);

// The flavor used when none is given: k1.tiny for the tiny image, u1.small otherwise.
std::string DefaultFlavorFor(const std::string& image);

// True for a dotted-quad IPv4 address.
bool IsIPv4(const std::string& text);

// The VirtualMachine for `options`. Assumes a valid name and flavor (the server checks them).
json::value BuildVirtualMachine(const VmOptions& options);

// Merges SSH public keys into user data: none → `user_data`; no user data → a cloud-config
// with ssh_authorized_keys; a #cloud-config without ssh_authorized_keys → the keys appended.
// A usage error when the user data is a script or already lists keys.
StatusOr<std::string> UserDataWithKeys(const std::string& user_data,
                                       const std::vector<std::string>& keys);

// Parses K=V; a usage error naming `flag` otherwise.
StatusOr<std::pair<std::string, std::string>> ParseKeyValue(const std::string& text,
                                                            const std::string& flag);

}  // namespace kumo::cli
