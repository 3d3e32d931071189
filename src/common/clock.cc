#include "common/clock.h"

namespace aa {

Clock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace aa
