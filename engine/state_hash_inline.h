// The state hash's record contribution, inlined for a fixed record size. Included by
// engine/table.h only: it compiles xxHash inline (XXH_INLINE_ALL), which renames its
// symbols so they never meet the shared library's.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine/state_hash.h"

namespace lockstep::detail {

template <std::size_t N>
std::pair<std::uint64_t, std::uint64_t> record_hash(std::uint16_t table,
                                                    const std::byte* record) noexcept {
  const XXH128_hash_t h = XXH3_128bits_withSeed(record, N, XXH64_hash_t{table} + 1);
  return {h.low64, h.high64};
}

}  // namespace lockstep::detail
