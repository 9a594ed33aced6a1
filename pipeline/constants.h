// Limits and layout constants of the pipeline core, in one place.
//
// Every other limit of the pipeline is derived from or checked against these, so that a
// change here is seen by every static_assert that depends on it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockstep {

// The size of one cache line on the x86-64 and AArch64 parts we target.
inline constexpr std::size_t kCacheLineBytes = 64;

// Intel's L2 spatial prefetcher fetches cache lines in aligned pairs, so two hot atomics
// on adjacent lines still interfere. Every hot atomic owns a 128-byte region.
inline constexpr std::size_t kFalseSharingBytes = 2 * kCacheLineBytes;

// Largest ring a sequencer accepts: slot indices and availability rounds fit in 32 bits.
inline constexpr std::int64_t kRingCapacityMax = std::int64_t{1} << 30;

// A barrier waits on at most this many upstream sequences (fan-in of a diamond).
inline constexpr std::size_t kBarrierDependenciesMax = 8;

// A sequencer is gated by at most this many terminal stages.
inline constexpr std::size_t kGatingSequencesMax = 8;

// A pipeline has at most this many stages and threads.
inline constexpr std::size_t kStagesMax = 16;

static_assert(kFalseSharingBytes % kCacheLineBytes == 0);
static_assert((kRingCapacityMax & (kRingCapacityMax - 1)) == 0,
              "ring capacity max is a power of two");
static_assert(kBarrierDependenciesMax <= kStagesMax);
static_assert(kGatingSequencesMax <= kStagesMax);

}  // namespace lockstep
