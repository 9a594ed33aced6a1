// TxResult: the committed unit, as bytes. One per command, refused or not; one journal
// entry each, so a result's command sequence is its journal entry sequence.
//
// Format (docs/semantics.md, "TxResult format"), little-endian, unaligned:
//
//   header (kTxResultHeaderBytes)
//     0  u16 format                 kTxResultFormat
//     2  u16 flags                  kTxFlagLinked | kTxFlagBatchEnd
//     4  u16 command kind
//     6  u16 reserved               0
//     8  u64 client id
//    16  u64 request id
//    24  u64 command sequence
//    32  u64 transaction sequence   committed transactions so far, this one included
//    40  i64 logical time           ns, assigned by the sequence stage
//    48  u32 outcome code           0 = ok
//    52  u32 outcome detail
//    56  u32 command bytes
//    60  u32 write count
//    64  u32 event count
//    68  u32 body bytes             everything after the header
//   command payload                 command bytes
//   writes, each                    u8 op (1 upsert, 2 erase), u8 0, u16 table id,
//                                   u32 n, then n bytes: the after-image (upsert) or the
//                                   encoded primary key (erase)
//   events, each                    u16 kind, u16 0, u32 n, then n bytes
//   state hash (kTxFlagBatchEnd)    u64 lo, u64 hi, u64 live records: after this command,
//                                   the last of its batch
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/outcome.h"
#include "engine/state_hash.h"

namespace lockstep {

inline constexpr std::uint16_t kTxResultFormat = 1;
inline constexpr std::size_t kTxResultHeaderBytes = 72;
inline constexpr std::size_t kTxWriteHeaderBytes = 8;
inline constexpr std::size_t kTxEventHeaderBytes = 8;
inline constexpr std::size_t kTxStateHashBytes = 24;

inline constexpr std::uint16_t kTxFlagLinked = 1u << 0;
inline constexpr std::uint16_t kTxFlagBatchEnd = 1u << 1;
inline constexpr std::uint16_t kTxFlagsKnown = kTxFlagLinked | kTxFlagBatchEnd;

inline constexpr std::uint8_t kWriteUpsert = 1;
inline constexpr std::uint8_t kWriteErase = 2;

namespace tx_field {
inline constexpr std::size_t kFormat = 0;
inline constexpr std::size_t kFlags = 2;
inline constexpr std::size_t kCommandKind = 4;
inline constexpr std::size_t kReserved = 6;
inline constexpr std::size_t kClientId = 8;
inline constexpr std::size_t kRequestId = 16;
inline constexpr std::size_t kCommandSequence = 24;
inline constexpr std::size_t kTxSequence = 32;
inline constexpr std::size_t kLogicalTime = 40;
inline constexpr std::size_t kOutcomeCode = 48;
inline constexpr std::size_t kOutcomeDetail = 52;
inline constexpr std::size_t kCommandBytes = 56;
inline constexpr std::size_t kWriteCount = 60;
inline constexpr std::size_t kEventCount = 64;
inline constexpr std::size_t kBodyBytes = 68;
}  // namespace tx_field
static_assert(tx_field::kBodyBytes + 4 == kTxResultHeaderBytes);

// A decoded TxResult: views into the bytes it was decoded from.
struct TxWriteView {
  std::uint8_t op = 0;
  std::uint16_t table = 0;
  std::span<const std::byte> bytes;  // after-image or encoded primary key
};
struct TxEventView {
  std::uint16_t kind = 0;
  std::span<const std::byte> bytes;
};
struct TxResultView {
  std::uint16_t flags = 0;
  std::uint16_t command_kind = 0;
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  std::uint64_t command_sequence = 0;
  std::uint64_t tx_sequence = 0;
  std::int64_t logical_time_ns = 0;
  Outcome outcome;
  std::span<const std::byte> command;
  std::vector<TxWriteView> writes;
  std::vector<TxEventView> events;
  bool has_state_hash = false;
  StateHash state_hash;
};

// Decodes one TxResult that must fill `bytes` exactly. Refuses (false, with `error`
// naming the byte offset and what is wrong) a wrong format or reserved value, unknown
// flags, lengths that overrun or do not add up, an unknown write op, and trailing bytes.
[[nodiscard]] bool decode_tx_result(std::span<const std::byte> bytes, TxResultView* out,
                                    std::string* error);

}  // namespace lockstep
