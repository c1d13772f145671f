// The API calls a node makes, shared by the real agent (agent.cc) and the hollow nodes
// (hollow.cc), so that a simulated node sends exactly the requests of a real one.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "client/rest_client.h"
#include "common/json.h"
#include "common/status.h"

namespace kumo::agent {

// The finalizer with which a node holds a VMI until it has stopped the VM.
inline constexpr char kVmiFinalizer[] = "kumo.io/vmi-cleanup";

// Creates or renews `node`'s Lease in kube-node-lease (renewTime now, microseconds).
Status RenewLease(client::RestClient& client, const std::string& node, int lease_duration_seconds);

// Posts the node's Ready=True condition (lastHeartbeatTime now); `message` says why.
Status PostNodeReady(client::RestClient& client, const std::string& node, const std::string& message);

// Merges `status` into the VMI's status subresource.
Status PatchVmiStatus(client::RestClient& client, const std::string& ns, const std::string& name,
                      json::object status);

// Drops kVmiFinalizer from the VMI (read, then patch guarded by its resourceVersion; retried on
// conflicts). OK when the VMI is already gone.
Status RemoveVmiFinalizer(client::RestClient& client, const std::string& ns, const std::string& name);

// Records an Event about `vmi` from the agent of `node` (failures are logged, not returned).
void RecordVmiEvent(client::RestClient& client, const json::value& vmi, const std::string& node,
                    const std::string& type, const std::string& reason, const std::string& message);

// A VMI's conditions as an agent reports them: PodScheduled=True and Ready.
json::array VmiConditions(bool ready, const std::string& reason, const std::string& message);

// Lists `path` (which already has a '?' query), hands each item to `on_object`, then watches
// from the list's resourceVersion with bookmarks, listing again whenever the watch ends, until
// `stop` is set. `what` names the objects in log lines.
void ListAndWatch(client::RestClient& client, const std::string& path, const std::string& what,
                  const std::function<void(const json::value& object)>& on_object,
                  const std::atomic<bool>& stop);

// Current time as RFC 3339 (seconds), and with microseconds (a Lease's MicroTime).
std::string NowRfc3339();
std::string NowMicroRfc3339();

}  // namespace kumo::agent
