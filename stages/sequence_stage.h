// The sequence stage's handler: gapless command sequence numbers, logical time, the
// framing check, and the client-session check that drops retries.
//
// Per command, in ring order:
//   - a kind the domain does not have, or a payload of the wrong size: kInvalid (no
//     sequence, nothing journaled; outcome kUnknownCommand / kMalformedCommand);
//   - a client's request id at or below its newest: kDuplicate (dropped);
//   - a new client when the session table is full: kInvalid (kCapacityExceeded, detail
//     kLimitDetailBase | kSessions);
//   - else the next sequence and the next logical time.
//
// Logical time: each slot takes max(previous + 1, the realtime clock) for its first
// command and one nanosecond more for each next one, so logical time strictly increases
// with the sequence. It is recorded in every TxResult; replay reads it from there.
#pragma once

#include <algorithm>
#include <cstdint>

#include "engine/outcome.h"
#include "pipeline/batch_view.h"
#include "stages/command.h"
#include "stages/session_table.h"

namespace lockstep {

// The clock the sequence stage reads: nanoseconds since the epoch.
using LogicalClockFn = std::int64_t (*)();

template <class D, std::size_t P>
class SequenceHandler {
 public:
  using Slot = CommandBatch<P>;

  SequenceHandler(SessionTable& sessions, std::uint64_t next_sequence, std::int64_t last_time_ns,
                  LogicalClockFn clock)
      : sessions_(sessions), next_(next_sequence), last_time_(last_time_ns), clock_(clock) {}

  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      std::int64_t t = std::max(last_time_ + 1, clock_());
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        CommandItem<P>& c = slot.items[i];
        const std::size_t want = D::command_bytes(c.kind);
        if (want == 0) {
          invalid(c, Outcome::engine(EngineReject::kUnknownCommand, c.kind));
          continue;
        }
        if (c.payload_bytes != want) {
          invalid(c, Outcome::engine(EngineReject::kMalformedCommand, c.kind));
          continue;
        }
        std::uint64_t newest = kNoSequence;
        switch (sessions_.check(c.client_id, c.request_id, &newest)) {
          case SessionTable::Check::kDuplicate:
            c.disposition = Disposition::kDuplicate;
            c.sequence = newest;
            continue;
          case SessionTable::Check::kFull:
            invalid(c, Outcome::engine(
                           EngineReject::kCapacityExceeded,
                           kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kSessions)));
            continue;
          case SessionTable::Check::kNew: break;
        }
        c.sequence = next_++;
        c.logical_time_ns = t++;
        c.disposition = Disposition::kSequenced;
        sessions_.record(c.client_id, c.request_id, c.sequence);
      }
      last_time_ = t - 1;
    }
  }

 private:
  static void invalid(CommandItem<P>& c, Outcome why) noexcept {
    c.disposition = Disposition::kInvalid;
    c.sequence = kNoSequence;
    c.outcome_code = why.code();
    c.outcome_detail = why.detail();
  }

  SessionTable& sessions_;
  std::uint64_t next_;
  std::int64_t last_time_;
  LogicalClockFn clock_;
};

}  // namespace lockstep
