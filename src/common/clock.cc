#include "common/clock.h"

namespace kumo {

Clock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace kumo
