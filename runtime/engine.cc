#include <time.h>

#include <stdexcept>
#include <string>

#include "pipeline/constants.h"
#include "runtime/engine.h"

namespace lockstep {

void throw_engine_open_error(const std::string& what) { throw EngineOpenError(what); }

std::int64_t realtime_now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view to_string(CompletionStatus status) noexcept {
  switch (status) {
    case CompletionStatus::kCommitted: return "committed";
    case CompletionStatus::kRefused: return "refused";
    case CompletionStatus::kDuplicate: return "duplicate";
    case CompletionStatus::kInvalid: return "invalid";
    case CompletionStatus::kFailed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(SubmitResult r) noexcept {
  switch (r) {
    case SubmitResult::kAccepted: return "accepted";
    case SubmitResult::kBusy: return "busy";
    case SubmitResult::kTimedOut: return "timed out";
    case SubmitResult::kStopped: return "stopped";
    case SubmitResult::kFailed: return "failed";
    case SubmitResult::kInvalid: return "invalid";
  }
  return "unknown";
}

void EngineConfig::validate() const {
  const auto bad = [](const std::string& what) {
    throw std::invalid_argument("engine config: " + what);
  };
  executor.validate();
  journal.validate();
  if (snapshots.keep < 1) bad("snapshots.keep must be at least 1");
  if (ring_slots < 2 || ring_slots > kRingCapacityMax || (ring_slots & (ring_slots - 1)) != 0) {
    bad("ring_slots must be a power of two in [2, " + std::to_string(kRingCapacityMax) + "], not " +
        std::to_string(ring_slots));
  }
  if (ingress_capacity < 4 * kBatchCommands || ingress_capacity > kIngressCapacityMax) {
    bad("ingress_capacity must be in [" + std::to_string(4 * kBatchCommands) + ", " +
        std::to_string(kIngressCapacityMax) + "], not " + std::to_string(ingress_capacity));
  }
  if (batch_commands_max < 1 || batch_commands_max > kBatchCommands) {
    bad("batch_commands_max must be in [1, " + std::to_string(kBatchCommands) + "], not " +
        std::to_string(batch_commands_max));
  }
  if (producers_max == 0) bad("producers_max must be at least 1");
  if (sessions_max == 0) bad("sessions_max must be at least 1");
  if (clock == nullptr) bad("clock must be set");
  if (executor.chain_length_max > kBatchCommands) {
    bad("executor.chain_length_max must be at most a batch (" + std::to_string(kBatchCommands) +
        "), not " + std::to_string(executor.chain_length_max));
  }
  // One command's room in the arena: its result, an open chain's, and their prefixes.
  const std::size_t room = std::size_t{executor.result_bytes_max} + executor.chain_bytes_max +
                           4 * (std::size_t{executor.chain_length_max} + 1);
  // Arena bytes come back a whole slot at a time, so a slot's results must fit beside
  // one command's reservation and the tail skipped at a wrap.
  const std::size_t arena_min =
      batch_commands_max * (std::size_t{executor.result_bytes_max} + 4) + 2 * room;
  if (arena_bytes < arena_min) {
    bad("arena_bytes must be at least " + std::to_string(arena_min) +
        " (a slot of largest results, and twice one command's worst case), not " +
        std::to_string(arena_bytes));
  }
  // A frame must hold the largest linked chain (its results never span two frames).
  const std::size_t chain = std::size_t{executor.chain_bytes_max} +
                            4 * (std::size_t{executor.chain_length_max} + 1) + 4096;
  if (journal.frame_bytes_max < chain) {
    bad("journal.frame_bytes_max must be at least " + std::to_string(chain) +
        " to hold a linked chain of executor.chain_bytes_max bytes, not " +
        std::to_string(journal.frame_bytes_max));
  }
  // A frame must hold the largest result (with margin for the frame's own bytes).
  if (journal.frame_bytes_max < 2 * (std::size_t{executor.result_bytes_max} + 4) + 4096) {
    bad("journal.frame_bytes_max must be at least " +
        std::to_string(2 * (std::size_t{executor.result_bytes_max} + 4) + 4096) +
        " for results of up to executor.result_bytes_max bytes, not " +
        std::to_string(journal.frame_bytes_max));
  }
}

}  // namespace lockstep
