// MultiProducerSequencer: hands out ring slots to any number of producing threads.
//
// Producers claim by compare-and-swap on a shared claim cursor, so they may finish
// filling out of order; each slot therefore carries an availability marker (the ring
// "round" of the sequence last published into it), and consumers read only up to the
// first slot not yet marked. Use it when producers must write the ring directly;
// lockstep's own engine puts one ingest thread in front (SingleProducerSequencer).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

#include "base/assert.h"
#include "pipeline/claim.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence_group.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

template <WaitStrategy W>
class MultiProducerSequencer {
 public:
  using Wait = W;
  static constexpr bool kMultiProducer = true;

  // Throws std::invalid_argument unless capacity is a power of two in range.
  MultiProducerSequencer(std::int64_t capacity, W& wait)
      : capacity_((validate_ring_capacity(capacity, "MultiProducerSequencer"), capacity)),
        index_shift_(std::countr_zero(static_cast<std::uint64_t>(capacity))),
        wait_(wait),
        available_(
            std::make_unique<std::atomic<std::int32_t>[]>(static_cast<std::size_t>(capacity))) {
    for (std::int64_t i = 0; i < capacity; ++i) {
      available_[static_cast<std::size_t>(i)].store(-1, std::memory_order_relaxed);
    }
  }
  MultiProducerSequencer(const MultiProducerSequencer&) = delete;
  MultiProducerSequencer& operator=(const MultiProducerSequencer&) = delete;

  // Set-up, before the first claim. See SingleProducerSequencer.
  void add_gating_sequence(const Sequence& sequence) {
    gating_.add(sequence, "MultiProducerSequencer gating");
  }

  // Claims the next `n` slots, or returns kFull at once. REQUIRES: 1 <= n <= capacity.
  Claim try_claim(std::int64_t n = 1) noexcept {
    LS_DASSERT(n >= 1 && n <= capacity_);
    LS_DASSERT(!gating_.empty());
    if (halted()) return {0, -1, ClaimStatus::kHalted};
    std::int64_t current = claimed_.get();
    for (;;) {
      const std::int64_t next = current + n;
      const std::int64_t wrap_point = next - capacity_;
      // Acquire pairs with the release store below: a producer that trusts a minimum
      // another producer cached also inherits that producer's happens-before edge from
      // the consumers' releases, so it never writes a slot a consumer is still reading.
      if (wrap_point > gating_cache_.load(std::memory_order_acquire)) {
        const std::int64_t gating = gating_.min(current);
        // Any value once read from the gating sequences stays a safe lower bound, since
        // sequences only grow; a stale one only costs a re-read.
        gating_cache_.store(gating, std::memory_order_release);
        if (wrap_point > gating) return {0, -1, ClaimStatus::kFull};
      }
      if (claimed_.compare_and_set(current, next)) return {current + 1, next, ClaimStatus::kOk};
      current = claimed_.get();
    }
  }

  // Claims `n` slots, waiting for room; kTimedOut at `deadline`, kHalted after halt().
  Claim claim(std::int64_t n, Deadline deadline = kNoDeadline) noexcept {
    for (;;) {
      const Claim c = try_claim(n);
      if (c.status != ClaimStatus::kFull) return c;
      const bool ready = wait_.wait_until(
          [&] {
            const std::int64_t claimed = claimed_.get();
            return halted() || gating_.min(claimed) >= claimed + n - capacity_;
          },
          deadline);
      if (!ready) return {0, -1, ClaimStatus::kTimedOut};
    }
  }

  // Marks [first, last] (a range this thread claimed) available, in any order relative
  // to other producers' ranges.
  void publish(std::int64_t first, std::int64_t last) noexcept {
    LS_DASSERT(first >= 0 && last >= first && last <= claimed_.get());
    for (std::int64_t s = first; s <= last; ++s) {
      // Seq_cst: consumers that park re-check these markers (parker.h protocol). The
      // store also releases this producer's writes into the slot.
      available_[slot_index(s)].store(round_of(s), std::memory_order_seq_cst);
    }
    wait_.signal();
  }

  // The highest sequence in [next, available] before which every slot is published,
  // or next - 1 if slot `next` is not yet. Any thread.
  std::int64_t highest_published(std::int64_t next, std::int64_t available) const noexcept {
    for (std::int64_t s = next; s <= available; ++s) {
      // Seq_cst pairs with publish(): the slot's contents are visible once its marker is.
      if (available_[slot_index(s)].load(std::memory_order_seq_cst) != round_of(s)) return s - 1;
    }
    return available;
  }

  void halt() noexcept {
    halted_.store(true, std::memory_order_seq_cst);
    wait_.signal();
  }
  bool halted() const noexcept { return halted_.load(std::memory_order_seq_cst); }

  // The highest claimed (not necessarily published) sequence.
  const Sequence& cursor() const noexcept { return claimed_; }
  std::int64_t capacity() const noexcept { return capacity_; }
  W& wait_strategy() const noexcept { return wait_; }

 private:
  std::size_t slot_index(std::int64_t s) const noexcept {
    return static_cast<std::size_t>(s & (capacity_ - 1));
  }
  std::int32_t round_of(std::int64_t s) const noexcept {
    return static_cast<std::int32_t>(s >> index_shift_);
  }

  Sequence claimed_;
  alignas(kFalseSharingBytes) std::atomic<std::int64_t> gating_cache_{Sequence::kInitial};
  alignas(kFalseSharingBytes) const std::int64_t capacity_;
  const int index_shift_;
  W& wait_;
  std::unique_ptr<std::atomic<std::int32_t>[]> available_;
  SequenceGroup<kGatingSequencesMax> gating_;
  std::atomic<bool> halted_{false};
};

}  // namespace lockstep
