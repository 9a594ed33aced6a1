// HybridWait: spins, then yields, then parks on a futex. The default strategy.
//
// A pipeline under load finds work while still spinning and never pays for a syscall;
// an idle one parks after a few tens of microseconds and costs nothing. Because it always
// ends up asleep, any number of hybrid threads can share two cores: it is the strategy
// the default thread layout is tuned for.
#pragma once

#include <sched.h>

#include <stdexcept>
#include <string>

#include "pipeline/cpu_relax.h"
#include "pipeline/parker.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

class HybridWait {
 public:
  static constexpr bool kSpinsWithoutBound = false;
  static constexpr std::string_view kName = "hybrid";

  struct Options {
    int spin_iterations = 512;  // about 10-40 us of pause instructions
    int yield_iterations = 16;  // then a few sched_yield calls
  };

  HybridWait() : HybridWait(Options{}) {}
  explicit HybridWait(Options options) : options_(options) {
    if (options.spin_iterations < 0 || options.yield_iterations < 0) {
      throw std::invalid_argument("HybridWait: spin and yield iterations must be >= 0, got " +
                                  std::to_string(options.spin_iterations) + " and " +
                                  std::to_string(options.yield_iterations));
    }
  }

  template <class Ready>
  bool wait_until(Ready&& ready, Deadline deadline) {
    const int bounded = options_.spin_iterations + options_.yield_iterations;
    for (int i = 0; i < bounded; ++i) {
      if (ready()) return true;
      if (deadline != kNoDeadline && i % kSpinsPerDeadlineCheck == 0 &&
          SteadyClock::now() >= deadline) {
        return ready();
      }
      if (i < options_.spin_iterations) {
        cpu_relax();
      } else {
        sched_yield();
      }
    }
    return parker_.park_until(ready, deadline);
  }

  // Seq_cst store, then a wake-up check: see the protocol in parker.h.
  void publish(Sequence& sequence, std::int64_t value) noexcept {
    sequence.set_seq_cst(value);
    parker_.wake_all();
  }
  void signal() noexcept { parker_.wake_all(); }

 private:
  Options options_;
  Parker parker_;
};

static_assert(WaitStrategy<HybridWait>);

}  // namespace lockstep
