// Little-endian loads and stores: the byte order of every integer lockstep writes (journal
// frames, segment headers, TxResults, snapshots, the JSON codec's field images).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace lockstep {

static_assert(std::endian::native == std::endian::little,
              "lockstep stores integers little-endian; add byte swaps for this target");

template <class T>
T load_le(std::span<const std::byte> bytes, std::size_t offset) noexcept {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

template <class T>
void store_le(std::span<std::byte> bytes, std::size_t offset, T value) noexcept {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// An unsigned integer of `n` bytes (1 to 8), zero-extended.
inline std::uint64_t load_le_bytes(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t value = 0;
  std::memcpy(&value, p, n);
  return value;
}

// The low `n` bytes (1 to 8) of `value`.
inline void store_le_bytes(std::byte* p, std::uint64_t value, std::size_t n) noexcept {
  std::memcpy(p, &value, n);
}

}  // namespace lockstep
