#include "engine/tx_result.h"

#include <utility>

namespace lockstep {

namespace {

bool fail(std::string* error, std::size_t at, const std::string& what) {
  if (error != nullptr) *error = "TxResult byte " + std::to_string(at) + ": " + what;
  return false;
}

}  // namespace

bool decode_tx_result(std::span<const std::byte> bytes, TxResultView* out, std::string* error) {
  using namespace tx_field;
  if (bytes.size() < kTxResultHeaderBytes) {
    return fail(error, 0, "shorter (" + std::to_string(bytes.size()) + " bytes) than a header");
  }
  TxResultView v;
  if (const auto format = load_le<std::uint16_t>(bytes, kFormat); format != kTxResultFormat) {
    return fail(error, kFormat, "format " + std::to_string(format));
  }
  v.flags = load_le<std::uint16_t>(bytes, kFlags);
  if ((v.flags & ~kTxFlagsKnown) != 0) return fail(error, kFlags, "unknown flags");
  if (load_le<std::uint16_t>(bytes, kReserved) != 0)
    return fail(error, kReserved, "reserved is not 0");
  v.command_kind = load_le<std::uint16_t>(bytes, kCommandKind);
  v.client_id = load_le<std::uint64_t>(bytes, kClientId);
  v.request_id = load_le<std::uint64_t>(bytes, kRequestId);
  v.command_sequence = load_le<std::uint64_t>(bytes, kCommandSequence);
  v.tx_sequence = load_le<std::uint64_t>(bytes, kTxSequence);
  v.logical_time_ns = load_le<std::int64_t>(bytes, kLogicalTime);
  v.outcome = Outcome::rejected(load_le<std::uint32_t>(bytes, kOutcomeCode),
                                load_le<std::uint32_t>(bytes, kOutcomeDetail));
  const auto command_bytes = load_le<std::uint32_t>(bytes, kCommandBytes);
  const auto write_count = load_le<std::uint32_t>(bytes, kWriteCount);
  const auto event_count = load_le<std::uint32_t>(bytes, kEventCount);
  const auto body_bytes = load_le<std::uint32_t>(bytes, kBodyBytes);
  if (body_bytes != bytes.size() - kTxResultHeaderBytes) {
    return fail(error, kBodyBytes,
                "body length " + std::to_string(body_bytes) + ", but " +
                    std::to_string(bytes.size() - kTxResultHeaderBytes) +
                    " bytes follow the header");
  }
  if (!v.outcome.is_ok() && (write_count != 0 || event_count != 0)) {
    return fail(error, kWriteCount, "a refused command with writes or events");
  }
  std::size_t at = kTxResultHeaderBytes;
  const auto remaining = [&] { return bytes.size() - at; };
  if (command_bytes > remaining()) return fail(error, kCommandBytes, "command overruns the result");
  v.command = bytes.subspan(at, command_bytes);
  at += command_bytes;
  if (write_count > remaining() / kTxWriteHeaderBytes) {
    return fail(error, kWriteCount, "write count overruns the result");
  }
  v.writes.reserve(write_count);
  for (std::uint32_t i = 0; i < write_count; ++i) {
    if (remaining() < kTxWriteHeaderBytes)
      return fail(error, at, "write header overruns the result");
    TxWriteView w;
    w.op = load_le<std::uint8_t>(bytes, at);
    if (w.op != kWriteUpsert && w.op != kWriteErase) {
      return fail(error, at, "write op " + std::to_string(w.op));
    }
    if (load_le<std::uint8_t>(bytes, at + 1) != 0) return fail(error, at + 1, "reserved is not 0");
    w.table = load_le<std::uint16_t>(bytes, at + 2);
    const auto n = load_le<std::uint32_t>(bytes, at + 4);
    at += kTxWriteHeaderBytes;
    if (n == 0 || n > remaining()) return fail(error, at - 4, "write length " + std::to_string(n));
    w.bytes = bytes.subspan(at, n);
    at += n;
    v.writes.push_back(w);
  }
  if (event_count > remaining() / kTxEventHeaderBytes) {
    return fail(error, kEventCount, "event count overruns the result");
  }
  v.events.reserve(event_count);
  for (std::uint32_t i = 0; i < event_count; ++i) {
    if (remaining() < kTxEventHeaderBytes)
      return fail(error, at, "event header overruns the result");
    TxEventView e;
    e.kind = load_le<std::uint16_t>(bytes, at);
    if (load_le<std::uint16_t>(bytes, at + 2) != 0) return fail(error, at + 2, "reserved is not 0");
    const auto n = load_le<std::uint32_t>(bytes, at + 4);
    at += kTxEventHeaderBytes;
    if (n == 0 || n > remaining()) return fail(error, at - 4, "event length " + std::to_string(n));
    e.bytes = bytes.subspan(at, n);
    at += n;
    v.events.push_back(e);
  }
  if ((v.flags & kTxFlagBatchEnd) != 0) {
    if (remaining() != kTxStateHashBytes) {
      return fail(error, at,
                  "state hash: " + std::to_string(remaining()) + " bytes, not " +
                      std::to_string(kTxStateHashBytes));
    }
    v.has_state_hash = true;
    v.state_hash.lo = load_le<std::uint64_t>(bytes, at);
    v.state_hash.hi = load_le<std::uint64_t>(bytes, at + 8);
    v.state_hash.records = load_le<std::uint64_t>(bytes, at + 16);
    at += kTxStateHashBytes;
  }
  if (at != bytes.size()) return fail(error, at, "trailing bytes");
  *out = std::move(v);
  return true;
}

std::string_view engine_reject_name(std::uint32_t code) noexcept {
  switch (code) {
    case 0: return "ok";
    case static_cast<std::uint32_t>(EngineReject::kInvariantViolated): return "invariant_violated";
    case static_cast<std::uint32_t>(EngineReject::kUniqueKeyConflict): return "unique_key_conflict";
    case static_cast<std::uint32_t>(EngineReject::kCapacityExceeded): return "capacity_exceeded";
    case static_cast<std::uint32_t>(EngineReject::kIllegalTransition): return "illegal_transition";
    case static_cast<std::uint32_t>(EngineReject::kPrimaryKeyChanged): return "primary_key_changed";
    case static_cast<std::uint32_t>(EngineReject::kUnknownCommand): return "unknown_command";
    case static_cast<std::uint32_t>(EngineReject::kMalformedCommand): return "malformed_command";
    case static_cast<std::uint32_t>(EngineReject::kLinkedChainFailed): return "linked_chain_failed";
    case static_cast<std::uint32_t>(EngineReject::kLinkedChainOpen): return "linked_chain_open";
    default: return "";
  }
}

}  // namespace lockstep
