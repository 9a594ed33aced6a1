// Parker: puts waiting threads to sleep on a futex and wakes them when a condition they
// wait for may have changed. Shared by the blocking and hybrid wait strategies.
//
// The protocol, and why it never loses a wake-up:
//   waiter:    waiters_.fetch_add(1, seq_cst); e = epoch_ (seq_cst);
//              re-check the condition with seq_cst loads; if false, futex_wait(epoch_, e)
//   publisher: store the condition's variable with a seq_cst store (or RMW);
//              if (waiters_.load(seq_cst) != 0) { ++epoch_; futex_wake_all(epoch_) }
// All four are seq_cst, so they fall into one total order. Either the publisher's load
// of waiters_ comes after the waiter's increment, and it wakes the waiter (whose futex
// sees the new epoch if it had not slept yet), or it comes before, and then the
// publisher's store precedes the waiter's re-check, which sees it. Hence every variable
// a parked thread waits on (Sequence, availability flags, alert and halt flags, the
// ingress size) is published with seq_cst and read with seq_cst. On x86-64 a seq_cst
// load is the same instruction as an acquire load; the store is an xchg on a line the
// publisher already owns, and the waiters_ line is only read, so it stays shared and
// costs no coherence traffic until somebody parks.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.h"
#include "pipeline/constants.h"
#include "pipeline/futex.h"

namespace lockstep {

class alignas(kFalseSharingBytes) Parker {
 public:
  Parker() = default;
  Parker(const Parker&) = delete;
  Parker& operator=(const Parker&) = delete;

  // Sleeps until ready() holds (returns true) or `deadline` passes (returns false).
  // ready() must read only variables published as described above. Any thread.
  template <class Ready>
  bool park_until(Ready& ready, Deadline deadline) {
    for (;;) {
      waiters_.fetch_add(1, std::memory_order_seq_cst);
      const std::uint32_t epoch = epoch_.load(std::memory_order_seq_cst);
      if (ready()) {
        waiters_.fetch_sub(1, std::memory_order_seq_cst);
        return true;
      }
      if (deadline != kNoDeadline && SteadyClock::now() >= deadline) {
        waiters_.fetch_sub(1, std::memory_order_seq_cst);
        return false;
      }
      futex_wait(epoch_, epoch, deadline);
      waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  // Wakes every parked thread if there is one. Call after a seq_cst store of whatever
  // the waiters re-check. Any thread; costs one shared load when nobody is parked.
  void wake_all() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(epoch_);
  }

 private:
  std::atomic<std::uint32_t> waiters_{0};
  std::atomic<std::uint32_t> epoch_{0};
};

static_assert(sizeof(Parker) == kFalseSharingBytes);

}  // namespace lockstep
