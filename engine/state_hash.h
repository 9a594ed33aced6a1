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

namespace lockstep {

struct StateHash {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::uint64_t records = 0;

  friend bool operator==(const StateHash&, const StateHash&) = default;

  // Adds or removes one record's contribution.
  void add(std::uint16_t table, std::span<const std::byte> record) noexcept;
  void remove(std::uint16_t table, std::span<const std::byte> record) noexcept;
};

}  // namespace lockstep
