// The state hash: an order-independent digest of every live record.
//
// Each record contributes h(r) = XXH3-128(record bytes, seed = table id + 1); the state
// hash is the sum of the contributions modulo 2^128, plus a count of live records. A
// write changes it by -h(before) + h(after), so keeping it current costs O(writes), and
// the order in which records were written or are visited does not matter: two replicas
// with the same records have the same hash (docs/semantics.md, "State hash"). It detects
// divergence; it is not a cryptographic commitment (the journal's chain hash is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace lockstep {

struct StateHash {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::uint64_t records = 0;

  friend bool operator==(const StateHash&, const StateHash&) = default;

  // Adds or removes one record's contribution.
  void add(std::uint16_t table, std::span<const std::byte> record) noexcept;
  void remove(std::uint16_t table, std::span<const std::byte> record) noexcept;

  // The same, for a record type of N bytes: the hash is inlined for that size (the
  // executor's hot path).
  template <std::size_t N>
  void add_sized(std::uint16_t table, const std::byte* record) noexcept;
  template <std::size_t N>
  void remove_sized(std::uint16_t table, const std::byte* record) noexcept;

 private:
  void add128(std::uint64_t lo_part, std::uint64_t hi_part) noexcept {
    const std::uint64_t sum = lo + lo_part;
    hi += hi_part + (sum < lo ? 1 : 0);
    lo = sum;
    ++records;
  }
  void sub128(std::uint64_t lo_part, std::uint64_t hi_part) noexcept {
    const std::uint64_t borrow = lo < lo_part ? 1 : 0;
    lo -= lo_part;
    hi -= hi_part + borrow;
    --records;
  }
};

namespace detail {
// XXH3-128 of a record of N bytes, seeded with table id + 1 (state_hash_inline.h).
template <std::size_t N>
std::pair<std::uint64_t, std::uint64_t> record_hash(std::uint16_t table,
                                                    const std::byte* record) noexcept;
}  // namespace detail

template <std::size_t N>
void StateHash::add_sized(std::uint16_t table, const std::byte* record) noexcept {
  const auto [l, h] = detail::record_hash<N>(table, record);
  add128(l, h);
}
template <std::size_t N>
void StateHash::remove_sized(std::uint16_t table, const std::byte* record) noexcept {
  const auto [l, h] = detail::record_hash<N>(table, record);
  sub128(l, h);
}

}  // namespace lockstep
