// Batch<T, N>: the ring slot of a lockstep pipeline: up to N fixed-size commands that
// travel through every stage together, stamped once at ingest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lockstep {

template <class T, std::size_t N>
struct Batch {
  static_assert(N >= 1);
  static constexpr std::size_t kCapacity = N;

  std::int64_t ingest_ns = 0;  // monotonic_now_ns() when the ingest stage filled the slot
  std::uint32_t count = 0;     // items[0, count) are live
  std::array<T, N> items{};
};

}  // namespace lockstep
