// Little-endian loads and stores of the journal's integer fields.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace lockstep::journal {

static_assert(std::endian::native == std::endian::little,
              "the journal stores integers little-endian; add byte swaps for this target");

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

}  // namespace lockstep::journal
