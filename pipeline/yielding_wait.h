// YieldingWait: spins a little, then calls sched_yield between checks.
//
// Use it when there are at least as many cores as pipeline threads but they are not
// isolated: latency stays around a microsecond and a runnable thread on the same core
// gets its turn. It still keeps its core busy when nothing else wants it.
#pragma once

#include <sched.h>

#include "pipeline/cpu_relax.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

class YieldingWait {
 public:
  static constexpr bool kSpinsWithoutBound = false;
  static constexpr std::string_view kName = "yield";
  static constexpr int kSpinsBeforeYield = 100;

  template <class Ready>
  bool wait_until(Ready&& ready, Deadline deadline) {
    for (int spins = 0;; ++spins) {
      if (ready()) return true;
      if (deadline != kNoDeadline && spins % kSpinsPerDeadlineCheck == 0 &&
          SteadyClock::now() >= deadline) {
        return ready();
      }
      if (spins < kSpinsBeforeYield) {
        cpu_relax();
      } else {
        sched_yield();
      }
    }
  }

  void publish(Sequence& sequence, std::int64_t value) noexcept { sequence.set(value); }
  void signal() noexcept {}
};

static_assert(WaitStrategy<YieldingWait>);

}  // namespace lockstep
