// SequenceBarrier: tells a stage how far it may read, given the stages it depends on.
//
// A barrier with no upstream stages follows the sequencer directly (and, for a
// multi-producer sequencer, checks slot availability markers). A barrier over one
// upstream stage makes a pipeline; several barriers over the same stage make a
// fan-out; a barrier over several stages joins them (a diamond). A stage never
// overtakes any stage its barrier names.
//
// alert() wakes anyone waiting and makes every wait return kAlerted until
// clear_alert(): that is how a pipeline shuts down a stage that is waiting.
//
// Thread safety: available() and wait_for() from the owning stage's thread; alert(),
// clear_alert() and alerted() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "pipeline/claim.h"
#include "pipeline/sequence_group.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

template <class Sequencer>
class SequenceBarrier {
 public:
  // `sequencer` and every upstream sequence must outlive the barrier. Throws
  // std::invalid_argument for more than kBarrierDependenciesMax upstream sequences.
  SequenceBarrier(Sequencer& sequencer, std::span<const Sequence* const> upstream)
      : sequencer_(sequencer) {
    for (const Sequence* s : upstream) upstream_.add(*s, "SequenceBarrier upstream");
  }
  SequenceBarrier(const SequenceBarrier&) = delete;
  SequenceBarrier& operator=(const SequenceBarrier&) = delete;

  // The highest sequence this stage may process now; < next when nothing is ready.
  std::int64_t available(std::int64_t next) const noexcept {
    if (upstream_.empty()) {
      return sequencer_.highest_published(next, sequencer_.cursor().get());
    }
    return upstream_.min();
  }

  // Waits until sequence `next` is available; returns the highest available one.
  WaitResult wait_for(std::int64_t next, Deadline deadline = kNoDeadline) noexcept {
    std::int64_t got = next - 1;
    const bool ready = sequencer_.wait_strategy().wait_until(
        [&] {
          if (alerted()) return true;
          got = available(next);
          return got >= next;
        },
        deadline);
    if (alerted()) return {got, WaitStatus::kAlerted};
    if (!ready) return {got, WaitStatus::kTimedOut};
    return {got, WaitStatus::kOk};
  }

  void alert() noexcept {
    alerted_.store(true, std::memory_order_seq_cst);
    sequencer_.wait_strategy().signal();
  }
  void clear_alert() noexcept { alerted_.store(false, std::memory_order_seq_cst); }
  // Seq_cst: re-checked by parked waiters (parker.h protocol).
  bool alerted() const noexcept { return alerted_.load(std::memory_order_seq_cst); }

  bool follows_sequencer() const noexcept { return upstream_.empty(); }

 private:
  Sequencer& sequencer_;
  SequenceGroup<kBarrierDependenciesMax> upstream_;
  alignas(kFalseSharingBytes) std::atomic<bool> alerted_{false};
};

}  // namespace lockstep
