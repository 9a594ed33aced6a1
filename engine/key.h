// Key encoding: every key and index is stored as the concatenated order-preserving
// big-endian encoding of its fields (docs/schema.md, "Keys"), so comparing two encoded
// keys byte by byte orders them as their field values, field by field:
//
//   unsigned integers, enums, bool   big-endian
//   signed integers, decimals        big-endian with the sign bit flipped
//   u128                             hi word, then lo word, each big-endian
//   bytes[N], char[N]                the bytes as they are
//
// The descriptor lists each key's fields, so a tool can compute the same bytes without the
// domain's code (docs/schema.md, "Keys").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "engine/types.h"

namespace lockstep {

// An encoded key of N bytes. Hashes (absl::Hash) and orders (operator<) as bytes.
template <std::size_t N>
using KeyBytes = std::array<std::uint8_t, N>;

// Equality and order of encoded keys, compared eight bytes at a time (the encoding is
// big-endian, so comparing byte-swapped words orders as the bytes do). For a fixed N the
// loops unroll; std::array's operators would call the library's memcmp instead.
namespace detail {
inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
}  // namespace detail

struct KeyEq {
  template <std::size_t N>
  bool operator()(const KeyBytes<N>& a, const KeyBytes<N>& b) const noexcept {
    std::size_t i = 0;
    for (; i + 8 <= N; i += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) return false;
    }
    for (; i < N; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
};
struct KeyLess {
  template <std::size_t N>
  bool operator()(const KeyBytes<N>& a, const KeyBytes<N>& b) const noexcept {
    std::size_t i = 0;
    for (; i + 8 <= N; i += 8) {
      const std::uint64_t x = detail::load_be64(a.data() + i);
      const std::uint64_t y = detail::load_be64(b.data() + i);
      if (x != y) return x < y;
    }
    for (; i < N; ++i) {
      if (a[i] != b[i]) return a[i] < b[i];
    }
    return false;
  }
};

namespace key {

inline void put_be(std::uint8_t* out, std::uint64_t v, std::size_t bytes) noexcept {
  for (std::size_t i = 0; i < bytes; ++i)
    out[i] = static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i)));
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
