// SingleProducerSequencer: hands out ring slots to exactly one producing thread.
//
// The fastest way into a ring: claiming is a few loads and adds on the producer's own
// cache lines; only when the producer nears the slowest consumer does it read the
// consumers' sequences again. In a lockstep pipeline the ingest stage is this producer;
// the many application threads feed it through the ingress queue.
//
// Thread safety: claim, try_claim, publish and shrink_claim from the one producer thread
// only (asserted in debug builds). cursor(), highest_published() and halt() from any.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/assert.h"
#include "pipeline/claim.h"
#include "pipeline/owner_check.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence_group.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

template <WaitStrategy W>
class SingleProducerSequencer {
 public:
  using Wait = W;
  static constexpr bool kMultiProducer = false;

  // Throws std::invalid_argument unless capacity is a power of two in range. `wait`
  // must outlive the sequencer.
  SingleProducerSequencer(std::int64_t capacity, W& wait) : capacity_(capacity), wait_(wait) {
    validate_ring_capacity(capacity, "SingleProducerSequencer");
  }
  SingleProducerSequencer(const SingleProducerSequencer&) = delete;
  SingleProducerSequencer& operator=(const SingleProducerSequencer&) = delete;

  // Set-up, before the first claim: the producer never overtakes `sequence` by more
  // than the capacity. Usually the terminal stages. `sequence` must outlive this.
  void add_gating_sequence(const Sequence& sequence) {
    gating_.add(sequence, "SingleProducerSequencer gating");
  }

  // Claims the next `n` slots, or returns kFull at once. REQUIRES: 1 <= n <= capacity,
  // at least one gating sequence.
  Claim try_claim(std::int64_t n = 1) noexcept {
    owner_.check();
    LS_DASSERT(n >= 1 && n <= capacity_);
    LS_DASSERT(!gating_.empty());
    if (halted()) return {0, -1, ClaimStatus::kHalted};
    const std::int64_t next = local_.claimed + n;
    const std::int64_t wrap_point = next - capacity_;
    if (wrap_point > local_.cached_gating) {
      local_.cached_gating = gating_.min(local_.claimed);
      if (wrap_point > local_.cached_gating) return {0, -1, ClaimStatus::kFull};
    }
    const std::int64_t first = local_.claimed + 1;
    local_.claimed = next;
    return {first, next, ClaimStatus::kOk};
  }

  // Whether try_claim(n) would succeed now (the producer thread: it reads the
  // producer's own state). For a stage's has_work(): a producer with nothing to claim
  // into must wait, not spin.
  bool can_claim(std::int64_t n = 1) const noexcept {
    const std::int64_t wrap_point = local_.claimed + n - capacity_;
    return !halted() &&
           (wrap_point <= local_.cached_gating || wrap_point <= gating_.min(local_.claimed));
  }

  // Claims `n` slots, waiting through the wait strategy for consumers to make room.
  // Returns kTimedOut at `deadline`, kHalted once halt() is called.
  Claim claim(std::int64_t n, Deadline deadline = kNoDeadline) noexcept {
    for (;;) {
      const Claim c = try_claim(n);
      if (c.status != ClaimStatus::kFull) return c;
      const std::int64_t wrap_point = local_.claimed + n - capacity_;
      const bool ready = wait_.wait_until(
          [&] { return halted() || gating_.min(local_.claimed) >= wrap_point; }, deadline);
      if (!ready) return {0, -1, ClaimStatus::kTimedOut};
    }
  }

  // Makes [first, last] visible to consumers. REQUIRES: first is one past the last
  // published sequence and [first, last] was claimed.
  void publish(std::int64_t first, std::int64_t last) noexcept {
    owner_.check();
    LS_DASSERT(first == cursor_.get_owned() + 1);
    LS_DASSERT(last >= first && last <= local_.claimed);
    (void)first;
    wait_.publish(cursor_, last);
  }

  // Gives back claimed but unpublished slots after `last` (last >= the published
  // cursor), for a producer that claimed more than it could fill.
  void shrink_claim(std::int64_t last) noexcept {
    owner_.check();
    LS_ASSERT(last >= cursor_.get_owned() && last <= local_.claimed);
    local_.claimed = last;
  }

  // Highest sequence consumers may read, given the cursor they saw: with one producer,
  // everything up to the cursor is published.
  std::int64_t highest_published(std::int64_t /*next*/, std::int64_t available) const noexcept {
    return available;
  }

  // Any thread: every later claim returns kHalted and waiting claims wake up.
  void halt() noexcept {
    halted_.store(true, std::memory_order_seq_cst);
    wait_.signal();
  }
  // Seq_cst: read by parked claimers (parker.h protocol).
  bool halted() const noexcept { return halted_.load(std::memory_order_seq_cst); }

  // Hands producer ownership to another thread (debug check only).
  void release_ownership() noexcept { owner_.release(); }

  const Sequence& cursor() const noexcept { return cursor_; }
  std::int64_t capacity() const noexcept { return capacity_; }
  W& wait_strategy() const noexcept { return wait_; }

 private:
  // Producer-local: only the producer thread reads or writes it, so plain integers; a
  // region of its own so consumers reading cursor_ never pull these lines away.
  struct alignas(kFalseSharingBytes) ProducerState {
    std::int64_t claimed = Sequence::kInitial;
    std::int64_t cached_gating = Sequence::kInitial;  // a minimum once seen; only grows
  };

  ProducerState local_;
  Sequence cursor_;
  const std::int64_t capacity_;
  W& wait_;
  SequenceGroup<kGatingSequencesMax> gating_;
  std::atomic<bool> halted_{false};
  OwnerCheck owner_;
};

}  // namespace lockstep
