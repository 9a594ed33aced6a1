// The pipeline's monotonic clock, for latency measurement and claim deadlines only.
//
// Nothing here feeds business logic: handlers see the logical timestamp the sequence
// stage assigns, never this clock. Deadlines are steady_clock time points so callers use
// std::chrono arithmetic rather than bare integers.
#pragma once

#include <chrono>
#include <cstdint>

namespace lockstep {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

// A deadline that never arrives: wait until the condition holds or the wait is alerted.
inline constexpr Deadline kNoDeadline = Deadline::max();

// Nanoseconds on the monotonic clock; the unit of every latency histogram.
inline std::int64_t monotonic_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

}  // namespace lockstep
