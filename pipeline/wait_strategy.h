// WaitStrategy: how a thread waits for a condition another thread will make true.
//
// Every wait in the pipeline (a stage waiting for upstream slots, a producer waiting
// for ring space, a thread whose stages are all idle, a submitter waiting for ingress
// room) goes through one strategy object shared by the whole pipeline, so that each
// publisher wakes exactly the kind of waiter the pipeline was built with.
//
// Strategies are template parameters, never virtual: the hot path inlines them.
//
//   strategy       cores it burns while idle   wake-up latency   use it when
//   BusySpinWait   one per waiting thread      ~100 ns           a core per thread, isolated
//   YieldingWait   one, minus what yield gives ~1 us             cores >= threads, not isolated
//   BlockingWait   none                        futex wake, ~5-50 us  more threads than cores
//   HybridWait     spins briefly, then parks   spin-short: ~100 ns   the default
//
// A strategy whose kSpinsWithoutBound is true can keep a core busy forever; the thread
// layout refuses to run more such threads than there are CPUs unless told otherwise.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

#include "base/clock.h"
#include "pipeline/sequence.h"

namespace lockstep {

namespace detail {
struct NeverReady {
  bool operator()() const noexcept { return false; }
};
}  // namespace detail

template <class W>
concept WaitStrategy = requires(W& w, Sequence& sequence, std::int64_t value, Deadline deadline,
                                detail::NeverReady ready) {
  // Returns true once ready() holds, false if `deadline` passes first.
  { w.wait_until(ready, deadline) } -> std::same_as<bool>;
  // Stores `value` into `sequence` (owner thread) and wakes waiters that may need it.
  { w.publish(sequence, value) }
  noexcept;
  // Wakes waiters after a seq_cst store to something other than a Sequence.
  { w.signal() }
  noexcept;
  { W::kSpinsWithoutBound } -> std::convertible_to<bool>;
  { W::kName } -> std::convertible_to<std::string_view>;
};

// How many spins pass between two reads of the clock when a deadline is set.
inline constexpr int kSpinsPerDeadlineCheck = 64;

}  // namespace lockstep
