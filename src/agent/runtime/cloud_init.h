// cloud-init NoCloud seed disks: a small vfat image labelled CIDATA holding meta-data,
// user-data and (optionally) network-config, as cloud-init and the tiny image read them.
#pragma once

#include <string>

#include "common/status.h"

namespace kumo::agent {

struct NoCloudSeed {
  std::string meta_data;       // YAML; e.g. "instance-id: <uid>\nlocal-hostname: <name>\n"
  std::string user_data;       // "#cloud-config ..." or a "#!" script
  std::string network_config;  // network config v1/v2 YAML; omitted from the disk when empty
};

// The default meta-data for a VM: its instance id (the VMI uid) and hostname.
std::string DefaultMetaData(const std::string& instance_id, const std::string& hostname);

// Writes the seed image to `path` (replacing it) with mkfs.vfat and mcopy; no mounts. The same
// seed gives the same bytes on every node (a live-migration target rebuilds the source's seed).
// Thread-safe for distinct paths.
Status WriteNoCloudSeed(const std::string& path, const NoCloudSeed& seed);

}  // namespace kumo::agent
