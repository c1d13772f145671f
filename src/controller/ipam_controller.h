// Keeps IPReservations and IPPools up to date: a reservation holds the addresses its spec asks
// for (listed with the VM using each in its status), and a pool reports how many addresses are
// allocated and free. Deleting a reservation releases its unused addresses.
#pragma once

#include <memory>

#include "common/clock.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/ipam.h"

namespace kumo::controller {

// Owns its controller threads; the store, cache and recorder must outlive it.
class IpamController {
 public:
  IpamController(store::Store& store, store::WatchCache& cache, EventRecorder& events,
                 const Clock& clock);
  ~IpamController();
  void Start();
  void Stop();

  StatusOr<Result> ReconcileReservation(const std::string& key);
  StatusOr<Result> ReconcilePool(const std::string& key);

 private:
  store::Store& store_;
  store::WatchCache& cache_;
  EventRecorder& events_;
  const Clock& clock_;
  Ipam ipam_;
  std::unique_ptr<Controller> reservations_;
  std::unique_ptr<Controller> pools_;
};

}  // namespace kumo::controller
