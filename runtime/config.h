// The running engine's configuration, statistics and the results of submitting and of
// opening (runtime/engine.h; docs/embedding.md): what does not depend on the domain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/executor.h"
#include "journal/journal_writer.h"
#include "pipeline/histogram.h"
#include "runtime/command.h"
#include "runtime/sequence_stage.h"
#include "snapshot/snapshotter.h"

namespace lockstep {

// The journal could not be opened: I/O, corruption, another domain's journal, or a replay
// that does not reproduce the journal. what() names where and what.
class EngineOpenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What opening found about snapshots: the one the state was loaded from ("" if none: the
// whole journal was replayed), and each snapshot refused on the way, with why.
struct SnapshotLoad {
  std::string loaded;
  std::uint64_t sequence = 0;  // the loaded snapshot's next_sequence
  std::uint64_t replayed = 0;  // journal entries replayed after it
  std::vector<std::string> refused;
  // Where opening spent its time, in seconds (for the snapshot loaded, or the whole
  // journal's replay): making the empty tables (with preallocation, faulting in their
  // capacity), reading, verifying and placing the snapshot's records, building the
  // indexes (on every core), and recovering and replaying the journal after it.
  double tables_seconds = 0;
  double read_seconds = 0;
  double index_seconds = 0;
  double journal_seconds = 0;
};

// Nanoseconds since the epoch (CLOCK_REALTIME): the default logical clock's source.
std::int64_t realtime_now_ns() noexcept;

struct EngineConfig {
  // The executor: table capacities, per-command limits. The engine's defaults keep a
  // TxResult under 64 KiB (a ledger transfer's is about 400 bytes).
  EngineOptions executor = default_executor_options();
  // The journal. The descriptor is the domain's; the engine sets it.
  journal::JournalOptions journal;
  std::int64_t ring_slots = 1024;                   // power of two
  std::size_t batch_commands_max = kBatchCommands;  // commands per ring slot (1 to 64)
  std::size_t ingress_capacity = 1u << 16;          // commands accepted and not yet in the ring
  std::size_t producers_max = 64;                   // sessions open at once
  std::size_t arena_bytes = std::size_t{64} << 20;  // TxResults not yet published
  std::size_t sessions_max = 1u << 16;              // clients remembered for deduplication
  std::string layout;                               // ThreadLayout::parse text; empty: default
  LogicalClockFn clock = realtime_now_ns;           // the sequence stage's source of time
  // Keep a read-only projection of the tables for queries while running (the `project`
  // stage). It costs about the state's memory again, and its own thread time per write.
  bool project = false;
  // Commands the engine submits itself on a timer (runtime/command.h, TimerCommand).
  std::vector<TimerCommand> timers;
  // Snapshots: taken while running (off by default: every_commands = 0), and what to do on
  // open when every snapshot is refused (snapshot/snapshotter.h, docs/embedding.md).
  SnapshotPolicy snapshots;

  static EngineOptions default_executor_options() {
    return EngineOptions::running_engine_defaults();
  }
  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

// The names of the engine's stages, in pipeline order ("project" only with
// EngineConfig::project).
inline constexpr const char* kEngineStageNames[] = {"ingest",  "sequence", "execute",
                                                    "journal", "publish",  "project"};

enum class SubmitResult : std::uint8_t {
  kAccepted,  // queued: exactly one completion will follow
  kBusy,      // the ingress is full (try again, or give a deadline)
  kTimedOut,  // still full at the deadline
  kStopped,   // the engine is not running
  kFailed,    // the engine has failed (failure() says why)
  kInvalid,   // the payload is larger than any command of the domain, or a chain is
              // longer than a batch; nothing queued
};
std::string_view to_string(SubmitResult r) noexcept;

struct StageStats {
  std::string name;
  HistogramSnapshot batch_slots;
  HistogramSnapshot slot_latency_ns;     // ingest to this stage, per slot
  HistogramSnapshot command_latency_ns;  // the same, per command
};

struct EngineStats {
  std::vector<StageStats> stages;
  HistogramSnapshot ack_latency_ns;         // submit to completion, per acknowledged command
  std::uint64_t acknowledged_sequence = 0;  // every sequence below is durable and acknowledged
  std::uint64_t committed = 0;
  std::uint64_t refused = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t invalid = 0;
  std::uint64_t failed = 0;
};

}  // namespace lockstep
