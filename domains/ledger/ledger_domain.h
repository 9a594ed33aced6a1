// The ledger domain (domains/ledger/ledger.lss, semantics in docs/ledger.md): its flags
// and its handlers.
#pragma once

#include <chrono>
#include <cstdint>

#include "runtime/command.h"

#include "ledger.schema.h"

namespace ledger {

// Account flags. Bit 0 is TigerBeetle's `linked`; here linking is the command envelope's
// flag, so the bit is reserved.
inline constexpr std::uint16_t kDebitsMustNotExceedCredits = 1u << 1;
inline constexpr std::uint16_t kCreditsMustNotExceedDebits = 1u << 2;
inline constexpr std::uint16_t kAccountFlagsKnown =
    kDebitsMustNotExceedCredits | kCreditsMustNotExceedDebits;

// Transfer flags (bit 0 reserved, as for accounts).
inline constexpr std::uint16_t kPending = 1u << 1;
inline constexpr std::uint16_t kPostPending = 1u << 2;
inline constexpr std::uint16_t kVoidPending = 1u << 3;
inline constexpr std::uint16_t kBalancingDebit = 1u << 4;
inline constexpr std::uint16_t kBalancingCredit = 1u << 5;
inline constexpr std::uint16_t kTransferFlagsKnown =
    kPending | kPostPending | kVoidPending | kBalancingDebit | kBalancingCredit;

// Logical nanoseconds per second of a transfer's timeout.
inline constexpr std::int64_t kNsPerTimeoutSecond = 1'000'000'000;

// Every command's handler.
Handlers handlers();

// The engine timer that expires pending transfers as time passes: ExpirePending{limit}
// every `every` (EngineConfig::timers).
lockstep::TimerCommand expiry_timer(std::chrono::nanoseconds every = std::chrono::milliseconds(100),
                                    std::uint32_t limit = 1000);

}  // namespace ledger
