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
  add128(h.low64, h.high64);
}

void StateHash::remove(std::uint16_t table, std::span<const std::byte> record) noexcept {
  const XXH128_hash_t h = contribution(table, record);
  sub128(h.low64, h.high64);
}

}  // namespace lockstep
