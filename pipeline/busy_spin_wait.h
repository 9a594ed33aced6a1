// BusySpinWait: spins on the condition with a pause hint and never gives up the core.
//
// Use it only with one isolated core per waiting thread: it gives the lowest wake-up
// latency and burns that core at 100% while idle. On a machine with fewer cores than
// spinning threads it starves the very thread it waits for; the thread layout refuses
// that unless allow_spin_oversubscription is set.
#pragma once

#include "pipeline/cpu_relax.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

class BusySpinWait {
 public:
  static constexpr bool kSpinsWithoutBound = true;
  static constexpr std::string_view kName = "busy-spin";

  template <class Ready>
  bool wait_until(Ready&& ready, Deadline deadline) {
    for (int spins = 0;; ++spins) {
      if (ready()) return true;
      if (deadline != kNoDeadline && spins % kSpinsPerDeadlineCheck == 0 &&
          SteadyClock::now() >= deadline) {
        return ready();
      }
      cpu_relax();
    }
  }

  // Release: nobody parks, so nobody needs the seq_cst ordering of the parking protocol.
  void publish(Sequence& sequence, std::int64_t value) noexcept { sequence.set(value); }
  void signal() noexcept {}
};

static_assert(WaitStrategy<BusySpinWait>);

}  // namespace lockstep
