// Sequence: a position in the ring, owned and advanced by exactly one thread.
//
// Each producer cursor and each stage publishes how far it has got through a Sequence.
// Other threads read it to know which slots they may touch. A Sequence fills a
// kFalseSharingBytes region of its own, so the writes of one stage never invalidate the
// cache line another stage is spinning on.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <span>

#include "pipeline/constants.h"

namespace lockstep {

class alignas(kFalseSharingBytes) Sequence {
 public:
  // Nothing has been published: the first slot is sequence 0.
  static constexpr std::int64_t kInitial = -1;

  explicit Sequence(std::int64_t initial = kInitial) noexcept : value_(initial) {}
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Any thread. Pairs with the release in set() and the seq_cst in set_seq_cst(): every
  // slot write made before the owner published is visible after. Seq_cst rather than
  // acquire because parked waiters re-check through this load (protocol in parker.h);
  // on x86-64 both compile to the same plain load.
  std::int64_t get() const noexcept { return value_.load(std::memory_order_seq_cst); }

  // Owner thread only, to read back its own last store: no other thread writes this
  // Sequence, so no ordering is needed.
  std::int64_t get_owned() const noexcept { return value_.load(std::memory_order_relaxed); }

  // Owner thread only. Release: publishes every slot write made before it.
  void set(std::int64_t value) noexcept { value_.store(value, std::memory_order_release); }

  // Owner thread only. Seq_cst, for wait strategies that park: the store is ordered
  // before the parker's seq_cst load of its waiter count (see Parker), so a waiter that
  // registered before this store is woken and one that registers after it sees the value.
  void set_seq_cst(std::int64_t value) noexcept { value_.store(value, std::memory_order_seq_cst); }

  // Multi-producer claim. Acq_rel: acquire so the claimant sees the cursor other
  // producers advanced; release so a later claimant sees this one's advance.
  bool compare_and_set(std::int64_t expected, std::int64_t desired) noexcept {
    return value_.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

 private:
  std::atomic<std::int64_t> value_;
};

static_assert(sizeof(Sequence) == kFalseSharingBytes);
static_assert(alignof(Sequence) == kFalseSharingBytes);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

// The smallest of several sequences (acquire loads), or `floor` when none is smaller.
inline std::int64_t min_sequence(std::span<const Sequence* const> sequences,
                                 std::int64_t floor = std::numeric_limits<std::int64_t>::max()) {
  std::int64_t result = floor;
  for (const Sequence* s : sequences) result = std::min(result, s->get());
  return result;
}

}  // namespace lockstep
