#include "engine/state_hash.h"

#include <xxhash.h>

namespace lockstep {

namespace {
XXH128_hash_t contribution(std::uint16_t table, std::span<const std::byte> record) noexcept {
  return XXH3_128bits_withSeed(record.data(), record.size(), XXH64_hash_t{table} + 1);
}
}  // namespace

void StateHash::add(std::uint16_t table, std::span<const std::byte> record) noexcept {
  const XXH128_hash_t h = contribution(table, record);
  const std::uint64_t lo_sum = lo + h.low64;
  hi += h.high64 + (lo_sum < lo ? 1 : 0);
  lo = lo_sum;
  ++records;
}

void StateHash::remove(std::uint16_t table, std::span<const std::byte> record) noexcept {
  const XXH128_hash_t h = contribution(table, record);
  const std::uint64_t borrow = lo < h.low64 ? 1 : 0;
  lo -= h.low64;
  hi -= h.high64 + borrow;
  --records;
}

}  // namespace lockstep
