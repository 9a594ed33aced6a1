// Key encoding: every key and index is stored as the concatenated order-preserving
// big-endian encoding of its fields (docs/schema.md, "Keys"), so comparing two encoded
// keys byte by byte orders them as their field values, field by field:
//
//   unsigned integers, enums, bool   big-endian
//   signed integers, decimals        big-endian with the sign bit flipped
//   u128                             hi word, then lo word, each big-endian
//   bytes[N], char[N]                the bytes as they are
//
// Generic tools compute the same bytes from the descriptor (schema/json.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/types.h"

namespace lockstep {

// An encoded key of N bytes. Hashes (absl::Hash) and orders (operator<) as bytes.
template <std::size_t N>
using KeyBytes = std::array<std::uint8_t, N>;

namespace key {

inline void put_be(std::uint8_t* out, std::uint64_t v, std::size_t bytes) noexcept {
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i)));
}

template <typename T>
inline void put(std::uint8_t* out, const T& v) noexcept {
  if constexpr (std::is_enum_v<T>) {
    put(out, static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    out[0] = v ? 1 : 0;
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    put_be(out, v, sizeof(T));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    put_be(out, static_cast<U>(static_cast<U>(v) ^ (U{1} << (8 * sizeof(T) - 1))), sizeof(T));
  } else if constexpr (std::is_same_v<T, u128>) {
    put_be(out, v.hi, 8);
    put_be(out + 8, v.lo, 8);
  } else if constexpr (requires { v.units; }) {
    put(out, v.units);
  } else if constexpr (requires { v.data; }) {
    static_assert(sizeof(v.data) == sizeof(T));
    for (std::size_t i = 0; i < sizeof(v.data); ++i) out[i] = static_cast<std::uint8_t>(v.data[i]);
  } else {
    static_assert(sizeof(T) == 0, "not a key field type");
  }
}

}  // namespace key
}  // namespace lockstep
