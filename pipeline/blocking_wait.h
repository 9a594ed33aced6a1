// BlockingWait: sleeps on a futex at once; publishers wake sleepers.
//
// Use it when the pipeline has more threads than cores or sits idle most of the time:
// an idle pipeline costs no CPU. Every wake-up is a futex syscall, so latency is that
// of the scheduler (microseconds to tens of microseconds).
#pragma once

#include "pipeline/parker.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

class BlockingWait {
 public:
  static constexpr bool kSpinsWithoutBound = false;
  static constexpr std::string_view kName = "block";

  template <class Ready>
  bool wait_until(Ready&& ready, Deadline deadline) {
    if (ready()) return true;
    return parker_.park_until(ready, deadline);
  }

  // Seq_cst store, then a wake-up check: see the protocol in parker.h.
  void publish(Sequence& sequence, std::int64_t value) noexcept {
    sequence.set_seq_cst(value);
    parker_.wake_all();
  }
  void signal() noexcept { parker_.wake_all(); }

 private:
  Parker parker_;
};

static_assert(WaitStrategy<BlockingWait>);

}  // namespace lockstep
