// What travels through the running engine's ring: one CommandItem per submitted command,
// up to kBatchCommands of them per ring slot (a Batch), and what its submitter is told
// when the command is finished with (a Completion).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/outcome.h"
#include "pipeline/batch.h"

namespace lockstep {

inline constexpr std::uint64_t kNoSequence = ~std::uint64_t{0};

// How a command ended, as its completion reports it.
enum class CompletionStatus : std::uint8_t {
  kCommitted,  // executed and committed; its TxResult is durable
  kRefused,    // executed and refused (outcome says why); its TxResult is durable
  kDuplicate,  // a retry of a request this client already had sequenced: not run again
  kInvalid,    // refused before sequencing (unknown kind, wrong size, session table full):
               // no sequence, nothing journaled; outcome says why
  kFailed,     // the engine failed (a journal I/O error) first: NOT acknowledged. It may
               // or may not be in the journal (a frame synced just before the error is);
               // reopen, and retry with the same request id to find out (kDuplicate: it is)
};
std::string_view to_string(CompletionStatus status) noexcept;

// Delivered once per submitted command, on the publish stage's thread, in sequence order
// (per submitter: in submission order). The spans are valid during the call only.
struct Completion {
  CompletionStatus status = CompletionStatus::kFailed;
  Outcome outcome;  // the TxResult's outcome (or why it was invalid)
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  // The command sequence (kCommitted, kRefused). For kDuplicate, the sequence the client's
  // newest request got (the retried request's own result is in the journal). Else
  // kNoSequence.
  std::uint64_t sequence = kNoSequence;
  std::int64_t logical_time_ns = 0;
  std::span<const std::byte> result;  // the TxResult bytes (kCommitted, kRefused)
};

// A completion callback: a plain function and its context, so a submit allocates nothing.
using CompletionFn = void (*)(void* context, const Completion& completion);

// A subscriber sees every durable committed TxResult, in sequence order, on the publish
// stage's thread (keep it short: it delays every acknowledgement behind it).
using SubscriberFn = void (*)(void* context, std::uint64_t sequence,
                              std::span<const std::byte> tx_result);

// A command the engine submits itself, every `interval` of wall-clock time, as an
// anonymous client (EngineConfig::timers): time-driven work such as the ledger's expiry
// of pending transfers. It is journaled and replayed like any other command; if the
// engine is busy when one is due, that one is skipped.
struct TimerCommand {
  std::uint16_t kind = 0;
  std::vector<std::byte> payload;
  std::chrono::nanoseconds interval{0};
};

// A timer for one of a domain's generated command structs: its kind and bytes.
template <class C>
TimerCommand timer_command(const C& command, std::chrono::nanoseconds every) {
  const auto bytes = std::as_bytes(std::span(&command, 1));
  return TimerCommand{.kind = C::kKind,
                      .payload = std::vector<std::byte>(bytes.begin(), bytes.end()),
                      .interval = every};
}

// Where a command is on its way through the stages (written by one stage, read by the
// later ones through the ring's sequence barriers).
enum class Disposition : std::uint8_t {
  kSubmitted,  // not yet seen by the sequence stage
  kSequenced,  // has a sequence and logical time; the execute stage runs it
  kDuplicate,
  kInvalid,
  kExecuted,  // has its TxResult in the result arena
};

template <std::size_t PayloadMax>
struct CommandItem {
  static constexpr std::size_t kPayloadMax = PayloadMax;

  // Set by the submitter.
  CompletionFn done = nullptr;
  void* context = nullptr;
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  std::uint64_t session_id = 0;  // the submitting Session (unique per engine)
  std::int64_t submit_ns = 0;    // monotonic clock: acknowledgement latency
  std::uint16_t kind = 0;
  std::uint16_t payload_bytes = 0;
  std::uint8_t linked = 0;
  // Set by the stages.
  Disposition disposition = Disposition::kSubmitted;
  std::uint32_t outcome_code = 0;  // kInvalid: why; kExecuted: the TxResult's outcome
  std::uint32_t outcome_detail = 0;
  std::uint64_t sequence = kNoSequence;
  std::int64_t logical_time_ns = 0;
  std::uint64_t result_at = 0;  // the TxResult's position in the result arena
  std::uint32_t result_bytes = 0;
  alignas(8) std::byte payload[PayloadMax];
};

// The engine's ring slot: kBatchCommands commands, stamped at ingest.
inline constexpr std::size_t kBatchCommands = 64;
template <std::size_t PayloadMax>
using CommandBatch = Batch<CommandItem<PayloadMax>, kBatchCommands>;

// A domain's payload capacity: its largest command, rounded up to 8 bytes.
constexpr std::size_t payload_capacity(std::size_t command_bytes_max) noexcept {
  return command_bytes_max == 0 ? 8 : (command_bytes_max + 7) / 8 * 8;
}

}  // namespace lockstep
