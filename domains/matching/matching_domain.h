// The matching domain (domains/matching/matching.lss, rules in docs/matching.md): its
// handlers.
#pragma once

#include <cstdint>

#include "matching.schema.h"

namespace matching {

// The largest price, in ticks: prices are 1..kMaxPrice (a buy's level, -price, and a
// sell's, price, then never reach the ends of i64).
inline constexpr std::int64_t kMaxPrice = std::int64_t{1} << 62;

// Resting orders a handler takes from the book at a time (a lockstep::Limit scan): first
// kFirstBookBatch, since most takers meet one or two; a taker that fills against them all
// scans again for twice as many, up to kBookBatch.
inline constexpr std::uint32_t kFirstBookBatch = 4;
inline constexpr std::uint32_t kBookBatch = 64;

// Every command's handler.
Handlers handlers();

}  // namespace matching
