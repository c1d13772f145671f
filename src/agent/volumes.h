// A node's persistent volumes: the qcow2 files behind a VMI's PersistentVolumeClaims. The
// server says where each volume lives and where new data comes from (api::VolumeDisk on the
// VMI); the agent makes the file the first time (blank, from an image, or a clone), grows it
// when its claim grew, and removes it when the server releases the volume. A volume the server
// marks populated is never made again: when its file is missing, the VM fails instead of
// booting on an empty disk.
#pragma once

#include <string>
#include <vector>

#include "agent/runtime/runtime.h"
#include "api/storage.h"
#include "common/status.h"

namespace kumo::agent {

// Where the volume's file is on this node: `volume_dir` (the agent's local volumes) for local
// volumes, the class's shared directory otherwise. Invalid for a driver or name Kumo does not
// make.
StatusOr<std::string> VolumePath(const api::VolumeDisk& disk, const std::string& volume_dir);

// Makes each volume's file ready: creates it when it is missing and the server has not marked
// it populated (atomically: a half-made file never appears under the final name), and grows it
// to the claim's size. Returns the files for the runtime, in order. With `incoming` (this node
// is a live migration's target), each local volume gets a fresh empty file of its size, which
// the migration fills; shared volumes are used where they are.
StatusOr<std::vector<VolumeFile>> PrepareVolumes(const std::vector<api::VolumeDisk>& disks,
                                                 const std::string& volume_dir,
                                                 bool incoming = false);

// Copies volume `from` into a new file for `to` (a snapshot, next to its volume), atomically;
// OK when `to` exists already. Returns the copy's virtual size.
StatusOr<int64_t> CopyVolume(const api::VolumeDisk& from, const api::VolumeDisk& to,
                             const std::string& volume_dir);

// Removes a released volume's file (OK when it is already gone).
Status RemoveVolume(const api::VolumeDisk& disk, const std::string& volume_dir);

// The virtual size of a qcow2 file in bytes.
StatusOr<int64_t> VirtualSize(const std::string& path);

}  // namespace kumo::agent
