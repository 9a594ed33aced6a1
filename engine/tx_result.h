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

#include "base/endian.h"
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

// The fixed header of a TxResult, read without looking at its body (decode_tx_result
// checks the whole result; the stages and tools that walk results a writer made, or a
// checksum vouched for, read only this).
struct TxResultHeader {
  std::uint16_t format = kTxResultFormat;
  std::uint16_t flags = 0;
  std::uint16_t command_kind = 0;
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  std::uint64_t command_sequence = 0;
  std::uint64_t tx_sequence = 0;
  std::int64_t logical_time_ns = 0;
  std::uint32_t outcome_code = 0;
  std::uint32_t outcome_detail = 0;
  std::uint32_t command_bytes = 0;
  std::uint32_t write_count = 0;
  std::uint32_t event_count = 0;
  std::uint32_t body_bytes = 0;

  bool linked() const noexcept { return (flags & kTxFlagLinked) != 0; }
  bool batch_end() const noexcept { return (flags & kTxFlagBatchEnd) != 0; }
  // The whole result's size: header and body.
  std::size_t size() const noexcept { return kTxResultHeaderBytes + body_bytes; }
};

// Reads the header of the result at `p`. REQUIRES: kTxResultHeaderBytes readable at p.
inline TxResultHeader read_tx_result_header(const std::byte* p) noexcept {
  using namespace tx_field;
  const std::span<const std::byte> b(p, kTxResultHeaderBytes);
  TxResultHeader h;
  h.format = load_le<std::uint16_t>(b, kFormat);
  h.flags = load_le<std::uint16_t>(b, kFlags);
  h.command_kind = load_le<std::uint16_t>(b, kCommandKind);
  h.client_id = load_le<std::uint64_t>(b, kClientId);
  h.request_id = load_le<std::uint64_t>(b, kRequestId);
  h.command_sequence = load_le<std::uint64_t>(b, kCommandSequence);
  h.tx_sequence = load_le<std::uint64_t>(b, kTxSequence);
  h.logical_time_ns = load_le<std::int64_t>(b, kLogicalTime);
  h.outcome_code = load_le<std::uint32_t>(b, kOutcomeCode);
  h.outcome_detail = load_le<std::uint32_t>(b, kOutcomeDetail);
  h.command_bytes = load_le<std::uint32_t>(b, kCommandBytes);
  h.write_count = load_le<std::uint32_t>(b, kWriteCount);
  h.event_count = load_le<std::uint32_t>(b, kEventCount);
  h.body_bytes = load_le<std::uint32_t>(b, kBodyBytes);
  return h;
}

// The size (header and body) of the result at `p`. REQUIRES: a header readable at p.
inline std::size_t tx_result_size(const std::byte* p) noexcept {
  return kTxResultHeaderBytes + load_le<std::uint32_t>({p + tx_field::kBodyBytes, 4}, 0);
}

// A write's header (kTxWriteHeaderBytes): its op, table and the length of the bytes that
// follow. REQUIRES: kTxWriteHeaderBytes readable at p.
struct TxWriteHeader {
  std::uint8_t op = 0;
  std::uint16_t table = 0;
  std::uint32_t bytes = 0;
};
inline TxWriteHeader read_tx_write_header(const std::byte* p) noexcept {
  const std::span<const std::byte> b(p, kTxWriteHeaderBytes);
  return {load_le<std::uint8_t>(b, 0), load_le<std::uint16_t>(b, 2), load_le<std::uint32_t>(b, 4)};
}

// The results laid one after another in `bytes` (an executor's output, a batch's
// journal payload without its entry prefixes), one at a time. Each result's header says
// how long it is; nothing else is checked. A tail too short for a header, or a result
// that overruns the bytes, ends the walk with malformed() set.
class TxResultReader {
 public:
  explicit TxResultReader(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

  // The next result, or false at the end (or at a malformed tail).
  bool next(std::span<const std::byte>* result) noexcept {
    const std::size_t left = bytes_.size() - at_;
    if (left == 0) return false;
    if (left < kTxResultHeaderBytes || tx_result_size(bytes_.data() + at_) > left) {
      malformed_ = true;
      return false;
    }
    *result = bytes_.subspan(at_, tx_result_size(bytes_.data() + at_));
    at_ += result->size();
    return true;
  }
  // Where the next result starts.
  std::size_t offset() const noexcept { return at_; }
  bool malformed() const noexcept { return malformed_; }

 private:
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
  bool malformed_ = false;
};

// Writes results: the only code that lays out a TxResult's bytes (the executor calls it;
// the layout is at the top of this file). Each call writes at `p`, which the caller has
// room at.
struct TxResultWriter {
  // The header (format and reserved fields included).
  static void header(std::byte* p, const TxResultHeader& h) noexcept {
    using namespace tx_field;
    const std::span<std::byte> b(p, kTxResultHeaderBytes);
    store_le<std::uint16_t>(b, kFormat, kTxResultFormat);
    store_le<std::uint16_t>(b, kFlags, h.flags);
    store_le<std::uint16_t>(b, kCommandKind, h.command_kind);
    store_le<std::uint16_t>(b, kReserved, 0);
    store_le<std::uint64_t>(b, kClientId, h.client_id);
    store_le<std::uint64_t>(b, kRequestId, h.request_id);
    store_le<std::uint64_t>(b, kCommandSequence, h.command_sequence);
    store_le<std::uint64_t>(b, kTxSequence, h.tx_sequence);
    store_le<std::int64_t>(b, kLogicalTime, h.logical_time_ns);
    store_le<std::uint32_t>(b, kOutcomeCode, h.outcome_code);
    store_le<std::uint32_t>(b, kOutcomeDetail, h.outcome_detail);
    store_le<std::uint32_t>(b, kCommandBytes, h.command_bytes);
    store_le<std::uint32_t>(b, kWriteCount, h.write_count);
    store_le<std::uint32_t>(b, kEventCount, h.event_count);
    store_le<std::uint32_t>(b, kBodyBytes, h.body_bytes);
  }
  // A write's header (kTxWriteHeaderBytes); its n bytes follow it.
  static void write_header(std::byte* p, const TxWriteHeader& w) noexcept {
    const std::span<std::byte> b(p, kTxWriteHeaderBytes);
    store_le<std::uint8_t>(b, 0, w.op);
    store_le<std::uint8_t>(b, 1, 0);
    store_le<std::uint16_t>(b, 2, w.table);
    store_le<std::uint32_t>(b, 4, w.bytes);
  }
  // Rewrites the result at `p` as refused with `why` and transaction sequence
  // `tx_sequence`: no writes, no events, its body only the command. Returns its new size
  // (the command stays where it was; what followed it is dropped).
  static std::size_t refuse(std::byte* p, std::uint64_t tx_sequence, Outcome why) noexcept {
    using namespace tx_field;
    const std::span<std::byte> b(p, kTxResultHeaderBytes);
    const auto command_bytes = load_le<std::uint32_t>(b, kCommandBytes);
    store_le<std::uint64_t>(b, kTxSequence, tx_sequence);
    store_le<std::uint32_t>(b, kOutcomeCode, why.code());
    store_le<std::uint32_t>(b, kOutcomeDetail, why.detail());
    store_le<std::uint32_t>(b, kWriteCount, 0);
    store_le<std::uint32_t>(b, kEventCount, 0);
    store_le<std::uint32_t>(b, kBodyBytes, command_bytes);
    return kTxResultHeaderBytes + command_bytes;
  }
  // Marks the result at `p` as its batch's last and appends `hash` after it. Returns its
  // new size.
  static std::size_t end_batch(std::byte* p, const StateHash& hash) noexcept {
    using namespace tx_field;
    const std::span<std::byte> b(p, kTxResultHeaderBytes);
    const auto flags = load_le<std::uint16_t>(b, kFlags);
    const auto body = load_le<std::uint32_t>(b, kBodyBytes);
    store_le<std::uint16_t>(b, kFlags, static_cast<std::uint16_t>(flags | kTxFlagBatchEnd));
    store_le<std::uint32_t>(b, kBodyBytes, static_cast<std::uint32_t>(body + kTxStateHashBytes));
    const std::span<std::byte> tail(p + kTxResultHeaderBytes + body, kTxStateHashBytes);
    store_le<std::uint64_t>(tail, 0, hash.lo);
    store_le<std::uint64_t>(tail, 8, hash.hi);
    store_le<std::uint64_t>(tail, 16, hash.records);
    return kTxResultHeaderBytes + body + kTxStateHashBytes;
  }
};

// The state hash a batch's last result carries (kTxFlagBatchEnd), or false if it carries
// none. REQUIRES: `result` is a whole result (its header's size).
inline bool tx_result_state_hash(std::span<const std::byte> result, StateHash* hash) noexcept {
  if ((load_le<std::uint16_t>(result, tx_field::kFlags) & kTxFlagBatchEnd) == 0) return false;
  const std::size_t at = result.size() - kTxStateHashBytes;
  hash->lo = load_le<std::uint64_t>(result, at);
  hash->hi = load_le<std::uint64_t>(result, at + 8);
  hash->records = load_le<std::uint64_t>(result, at + 16);
  return true;
}

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
