// The matching domain (domains/matching/matching.lss, rules in docs/matching.md): its
// handlers.
#pragma once

#include <chrono>
#include <cstdint>

#include "runtime/command.h"

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

// The most orders one ExpireOrders expires, whatever its limit: each costs two writes and
// an event, and the engine refuses a command past its per-command limits whole (by
// default 4,096 writes, 64 KiB of events, and a 64 KiB TxResult, of which 1,000 expiries
// take about 56 KB). The timer comes again for the rest.
inline constexpr std::uint32_t kMaxExpiriesPerCommand = 1000;

// Every command's handler.
Handlers handlers();

// The engine timer that expires resting orders as time passes: ExpireOrders{limit} every
// `every` (EngineConfig::timers).
lockstep::TimerCommand expiry_timer(std::chrono::nanoseconds every = std::chrono::milliseconds(100),
                                    std::uint32_t limit = 1000);

}  // namespace matching
