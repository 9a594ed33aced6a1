// Outcome: what became of a command. Ok, or a reject code with a detail that says which
// part refused it.
//
// Codes 1 .. schema::kDomainRejectMax are the domain's (declared in its schema, returned
// by its handlers). The engine's own refusals use the codes below, above that range
// (docs/semantics.md, "Refusals"). The numbers are part of the TxResult format: append
// only.
#pragma once

#include <cstdint>
#include <string_view>

namespace lockstep {

enum class EngineReject : std::uint32_t {
  // A named invariant of a written record failed. detail: table id << 16 | invariant index.
  kInvariantViolated = 0x10001,
  // An insert or a key change collided with a live record's primary or unique key.
  // detail: table id << 16 | key index (0: primary, 1 + i: the i-th unique key).
  kUniqueKeyConflict = 0x10002,
  // A table is full (detail: table id), or a per-command limit was hit (detail:
  // 0xFFFF0000 | EngineLimit).
  kCapacityExceeded = 0x10003,
  // An enum field moved along an edge its state machine does not declare, or a record
  // was inserted in a state that is not initial. detail: table id.
  kIllegalTransition = 0x10004,
  // A modify() changed the record's primary key. detail: table id.
  kPrimaryKeyChanged = 0x10005,
  // No handler for this command kind. detail: the kind.
  kUnknownCommand = 0x10006,
  // The payload's size is not the command's size. detail: the kind.
  kMalformedCommand = 0x10007,
  // Another command of the same linked chain was refused. detail: the failing command's
  // position in the chain (0-based).
  kLinkedChainFailed = 0x10008,
  // The batch ended with a linked chain still open (its last command had the linked
  // flag). detail: 0.
  kLinkedChainOpen = 0x10009,
};

// Per-command limits whose excess refuses the command with kCapacityExceeded.
enum class EngineLimit : std::uint32_t {
  kWritesPerCommand = 1,  // records written by one command (or one linked chain)
  kEventBytesPerCommand = 2,
  kResultBytes = 3,  // the serialized TxResult
  kChainLength = 4,  // commands in one linked chain
  kSessions = 5,     // clients in the running engine's session table (never journaled)
};

inline constexpr std::uint32_t kLimitDetailBase = 0xFFFF0000u;

class Outcome {
 public:
  constexpr Outcome() = default;
  static constexpr Outcome ok() noexcept { return {}; }
  static constexpr Outcome rejected(std::uint32_t code, std::uint32_t detail = 0) noexcept {
    Outcome o;
    o.code_ = code;
    o.detail_ = detail;
    return o;
  }
  static constexpr Outcome engine(EngineReject r, std::uint32_t detail = 0) noexcept {
    return rejected(static_cast<std::uint32_t>(r), detail);
  }

  constexpr bool is_ok() const noexcept { return code_ == 0; }
  constexpr std::uint32_t code() const noexcept { return code_; }
  constexpr std::uint32_t detail() const noexcept { return detail_; }
  constexpr bool is(EngineReject r) const noexcept {
    return code_ == static_cast<std::uint32_t>(r);
  }
  friend constexpr bool operator==(const Outcome&, const Outcome&) = default;

 private:
  std::uint32_t code_ = 0;
  std::uint32_t detail_ = 0;
};

// "ok", the engine refusal's name, or "" for a domain code (the schema names those).
std::string_view engine_reject_name(std::uint32_t code) noexcept;

}  // namespace lockstep
