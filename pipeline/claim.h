// The results of claiming ring slots and of waiting on a barrier: cheap values, not
// exceptions, because "the ring is full" and "nothing yet" are normal operating states.
#pragma once

#include <cstdint>
#include <string_view>

namespace lockstep {

enum class ClaimStatus : std::uint8_t {
  kOk,        // [first, last] is the caller's to fill and publish
  kFull,      // try_claim: the slowest consumer is a whole ring behind
  kTimedOut,  // claim: still full at the deadline
  kHalted,    // the sequencer was halted while (or before) waiting
};

struct [[nodiscard]] Claim {
  std::int64_t first = 0;
  std::int64_t last = -1;
  ClaimStatus status = ClaimStatus::kFull;

  explicit operator bool() const noexcept { return status == ClaimStatus::kOk; }
  std::int64_t count() const noexcept { return last - first + 1; }
};

enum class WaitStatus : std::uint8_t {
  kOk,        // `available` >= the sequence asked for
  kTimedOut,  // the deadline passed first
  kAlerted,   // the barrier was alerted (shutdown)
};

struct [[nodiscard]] WaitResult {
  std::int64_t available = -1;
  WaitStatus status = WaitStatus::kTimedOut;

  explicit operator bool() const noexcept { return status == WaitStatus::kOk; }
};

std::string_view to_string(ClaimStatus status) noexcept;
std::string_view to_string(WaitStatus status) noexcept;

}  // namespace lockstep
