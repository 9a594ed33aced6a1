// The field types of generated records, commands and events (docs/schema.md, "Types").
//
// Each is trivially copyable, standard-layout and has no padding of its own, so a
// generated struct's bytes are fully determined by its field values and explicit
// (zeroed) padding: the bytes the journal, the state hash and replay compare.
#pragma once

#include <algorithm>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace lockstep {

static_assert(std::endian::native == std::endian::little,
              "lockstep stores records in little-endian byte order; big-endian hosts are not "
              "supported");

// An unsigned 128-bit integer as two 64-bit words, low first: the same layout (size 16,
// alignment 8) on every compiler, unlike __int128.
struct u128 {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;

  friend constexpr bool operator==(const u128&, const u128&) = default;
  friend constexpr std::strong_ordering operator<=>(const u128& a, const u128& b) noexcept {
    if (auto c = a.hi <=> b.hi; c != 0) return c;
    return a.lo <=> b.lo;
  }
  static constexpr u128 from_u64(std::uint64_t v) noexcept { return {v, 0}; }
};
static_assert(sizeof(u128) == 16 && alignof(u128) == 8);

// A fixed-point decimal: `units` counts 10^-Scale. Decimal<2>{12345} is 123.45.
template <unsigned Scale>
struct Decimal {
  static_assert(Scale <= 18, "decimal scale is at most 18");
  static constexpr unsigned kScale = Scale;
  std::int64_t units = 0;

  friend constexpr bool operator==(const Decimal&, const Decimal&) = default;
  friend constexpr auto operator<=>(const Decimal&, const Decimal&) = default;
  friend constexpr Decimal operator+(Decimal a, Decimal b) noexcept { return {a.units + b.units}; }
  friend constexpr Decimal operator-(Decimal a, Decimal b) noexcept { return {a.units - b.units}; }
  constexpr Decimal& operator+=(Decimal b) noexcept {
    units += b.units;
    return *this;
  }
  constexpr Decimal& operator-=(Decimal b) noexcept {
    units -= b.units;
    return *this;
  }
};

// A fixed-length character array, NUL-padded; view() stops at the first NUL.
template <std::size_t N>
struct Chars {
  static_assert(N > 0);
  char data[N] = {};

  // Copies `s` and pads with NULs. Returns false (and copies nothing) if it does not fit.
  [[nodiscard]] constexpr bool assign(std::string_view s) noexcept {
    if (s.size() > N) return false;
    std::fill(data, data + N, '\0');
    std::copy(s.begin(), s.end(), data);
    return true;
  }
  // `s`, cut to N bytes if longer.
  static constexpr Chars from(std::string_view s) noexcept {
    Chars c;
    (void)c.assign(s.substr(0, std::min(s.size(), N)));
    return c;
  }
  constexpr std::string_view view() const noexcept {
    return {data, static_cast<std::size_t>(std::find(data, data + N, '\0') - data)};
  }
  friend constexpr bool operator==(const Chars& a, const Chars& b) noexcept {
    return std::equal(a.data, a.data + N, b.data);
  }
};

// A fixed-length byte array.
template <std::size_t N>
struct Bytes {
  static_assert(N > 0);
  std::uint8_t data[N] = {};
  friend constexpr bool operator==(const Bytes& a, const Bytes& b) noexcept {
    return std::equal(a.data, a.data + N, b.data);
  }
};

// Generated records, commands and events are checked against this.
template <typename T>
inline constexpr bool is_fixed_layout_v =
    std::is_trivially_copyable_v<T>&& std::is_standard_layout_v<T>;

}  // namespace lockstep
