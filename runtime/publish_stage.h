// The publish stage's handler: completes every command of every durable slot, in ring
// order, and hands each committed TxResult to the event subscribers.
//
// It runs behind the journal stage, which publishes past a slot only once its TxResults
// are durable (or once the journal has failed: then the slots it never made durable are
// completed as kFailed, never acknowledged).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/clock.h"
#include "pipeline/batch_view.h"
#include "pipeline/histogram.h"
#include "runtime/command.h"
#include "runtime/engine_signals.h"
#include "runtime/result_arena.h"

namespace lockstep {

struct Subscriber {
  SubscriberFn fn = nullptr;
  void* context = nullptr;
};

template <std::size_t P>
class PublishHandler {
 public:
  using Slot = CommandBatch<P>;

  // `ack_latency_ns` is written here only (histograms take one writer).
  PublishHandler(const ResultArena& arena, EngineSignals& signals,
                 const std::vector<Subscriber>& subscribers, Histogram& ack_latency_ns)
      : arena_(arena), signals_(signals), subscribers_(subscribers), ack_(ack_latency_ns) {}

  void on_batch(BatchView<Slot> batch) {
    const std::int64_t failed_after = signals_.failed_after_slot.load(std::memory_order_acquire);
    std::uint64_t committed = 0, refused = 0, duplicates = 0, invalid = 0, failed = 0;
    std::uint64_t acknowledged = kNoSequence;
    for (auto it = batch.begin(); it != batch.end(); ++it) {
      Slot& slot = *it;
      const bool slot_failed = it.sequence() > failed_after;
      const std::int64_t now = monotonic_now_ns();
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        CommandItem<P>& c = slot.items[i];
        Completion done;
        done.client_id = c.client_id;
        done.request_id = c.request_id;
        done.outcome = Outcome::rejected(c.outcome_code, c.outcome_detail);
        switch (c.disposition) {
          case Disposition::kExecuted:
            if (slot_failed) {
              done.status = CompletionStatus::kFailed;
              ++failed;
              break;
            }
            done.sequence = c.sequence;
            done.logical_time_ns = c.logical_time_ns;
            done.result = {arena_.at(c.result_at), c.result_bytes};
            if (done.outcome.is_ok()) {
              done.status = CompletionStatus::kCommitted;
              ++committed;
              for (const Subscriber& s : subscribers_) s.fn(s.context, c.sequence, done.result);
            } else {
              done.status = CompletionStatus::kRefused;
              ++refused;
            }
            acknowledged = c.sequence + 1;
            ack_.record(now - c.submit_ns);
            break;
          case Disposition::kDuplicate:
            if (slot_failed) {
              // Its original may have been sequenced just before, and never made durable:
              // "it made it" is not known.
              done.status = CompletionStatus::kFailed;
              ++failed;
              break;
            }
            done.status = CompletionStatus::kDuplicate;
            done.sequence = c.sequence;
            ++duplicates;
            break;
          case Disposition::kInvalid:
            done.status = CompletionStatus::kInvalid;
            ++invalid;
            break;
          case Disposition::kSubmitted:
          case Disposition::kSequenced:
            // Never executed: the engine failed first.
            done.status = CompletionStatus::kFailed;
            done.outcome = Outcome{};
            ++failed;
            break;
        }
        if (c.done != nullptr) c.done(c.context, done);
      }
    }
    if (acknowledged != kNoSequence) {
      signals_.acknowledged_sequence.store(acknowledged, std::memory_order_release);
    }
    add(signals_.committed, committed);
    add(signals_.refused, refused);
    add(signals_.duplicates, duplicates);
    add(signals_.invalid, invalid);
    add(signals_.failed_commands, failed);
  }

 private:
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    if (n != 0) counter.fetch_add(n, std::memory_order_relaxed);
  }

  const ResultArena& arena_;
  EngineSignals& signals_;
  const std::vector<Subscriber>& subscribers_;
  Histogram& ack_;
};

}  // namespace lockstep
