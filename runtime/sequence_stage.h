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
// A linked chain is sequenced whole or not at all (sequence_chain).
//
// Logical time: each slot takes max(previous + 1, the realtime clock) for its first
// command and one nanosecond more for each next one, so logical time strictly increases
// with the sequence. It is recorded in every TxResult; replay reads it from there.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/outcome.h"
#include "pipeline/batch_view.h"
#include "runtime/client_table.h"
#include "runtime/command.h"

namespace lockstep {

// The clock the sequence stage reads: nanoseconds since the epoch.
using LogicalClockFn = std::int64_t (*)();

template <class D, std::size_t P>
class SequenceHandler {
 public:
  using Slot = CommandBatch<P>;

  SequenceHandler(ClientTable& sessions, std::uint64_t next_sequence, std::int64_t last_time_ns,
                  LogicalClockFn clock)
      : sessions_(sessions), next_(next_sequence), last_time_(last_time_ns), clock_(clock) {
    verdicts_.reserve(kBatchCommands);
  }

  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      std::int64_t t = std::max(last_time_ + 1, clock_());
      std::uint32_t i = 0;
      while (i < slot.count) {
        // A unit: one command, or a linked chain up to its unlinked last member (the
        // ingest stage keeps a chain within one slot).
        std::uint32_t end = i;
        while (end + 1 < slot.count && slot.items[end].linked != 0) ++end;
        if (end == i) {
          sequence_one(slot.items[i], t);
        } else {
          sequence_chain(slot, i, end, t);
        }
        i = end + 1;
      }
      last_time_ = t - 1;
    }
  }

 private:
  // What the checks say of one command, before anything is recorded.
  struct Verdict {
    Disposition disposition = Disposition::kSequenced;
    Outcome why;                         // kInvalid
    std::uint64_t newest = kNoSequence;  // kDuplicate
  };

  Verdict check(const CommandItem<P>& c) const {
    Verdict v;
    const std::size_t want = D::command_bytes(c.kind);
    if (want == 0)
      return {Disposition::kInvalid, Outcome::engine(EngineReject::kUnknownCommand, c.kind)};
    if (c.payload_bytes != want) {
      return {Disposition::kInvalid, Outcome::engine(EngineReject::kMalformedCommand, c.kind)};
    }
    switch (sessions_.check(c.client_id, c.request_id, &v.newest)) {
      case ClientTable::Check::kDuplicate: v.disposition = Disposition::kDuplicate; break;
      case ClientTable::Check::kFull:
        v.disposition = Disposition::kInvalid;
        v.why =
            Outcome::engine(EngineReject::kCapacityExceeded,
                            kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kSessions));
        break;
      case ClientTable::Check::kNew: break;
    }
    return v;
  }

  void apply(CommandItem<P>& c, const Verdict& v) noexcept {
    if (v.disposition == Disposition::kInvalid) {
      invalid(c, v.why);
    } else {
      c.disposition = Disposition::kDuplicate;
      c.sequence = v.newest;
    }
  }

  void sequence_one(CommandItem<P>& c, std::int64_t& t) {
    const Verdict v = check(c);
    if (v.disposition != Disposition::kSequenced) {
      apply(c, v);
      return;
    }
    assign(c, t);
  }

  // A chain is sequenced whole or not at all: if a member is invalid or a duplicate, it
  // says so, and every other member is invalid with kLinkedChainFailed (detail: the first
  // such member's position), so no command joins a chain it was not submitted in.
  void sequence_chain(Slot& slot, std::uint32_t first, std::uint32_t last, std::int64_t& t) {
    std::uint32_t failing = kNone;
    verdicts_.clear();
    for (std::uint32_t k = first; k <= last; ++k) {
      Verdict v = check(slot.items[k]);
      // Within the chain, a client's request ids must increase too.
      if (v.disposition == Disposition::kSequenced && k > first && slot.items[k].client_id != 0 &&
          slot.items[k].client_id == slot.items[k - 1].client_id &&
          slot.items[k].request_id <= slot.items[k - 1].request_id) {
        v.disposition = Disposition::kDuplicate;
      }
      if (v.disposition != Disposition::kSequenced && failing == kNone) failing = k - first;
      verdicts_.push_back(v);
    }
    for (std::uint32_t k = first; k <= last; ++k) {
      CommandItem<P>& c = slot.items[k];
      if (failing == kNone) {
        assign(c, t);
      } else if (verdicts_[k - first].disposition != Disposition::kSequenced) {
        apply(c, verdicts_[k - first]);
      } else {
        invalid(c, Outcome::engine(EngineReject::kLinkedChainFailed, failing));
      }
    }
  }

  void assign(CommandItem<P>& c, std::int64_t& t) {
    c.sequence = next_++;
    c.logical_time_ns = t++;
    c.disposition = Disposition::kSequenced;
    sessions_.record(c.client_id, c.request_id, c.sequence);
  }

  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  static void invalid(CommandItem<P>& c, Outcome why) noexcept {
    c.disposition = Disposition::kInvalid;
    c.sequence = kNoSequence;
    c.outcome_code = why.code();
    c.outcome_detail = why.detail();
  }

  ClientTable& sessions_;
  std::uint64_t next_;
  std::int64_t last_time_;
  LogicalClockFn clock_;
  std::vector<Verdict> verdicts_;  // a chain's, reused
};

}  // namespace lockstep
