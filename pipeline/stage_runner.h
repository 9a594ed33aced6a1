// StageRunner: the Disruptor's batch event processor, as a Stage.
//
// Each poll asks the barrier how far the upstream stages have got, hands the whole
// available range to the handler as one BatchView, then publishes the stage's sequence
// past it. Under load the ranges grow (the batching effect that keeps a staged
// pipeline's throughput close to a single queue's); when idle they shrink to one slot.
//
// A handler is any type with `void on_batch(BatchView<Slot>)`. If the slot type carries
// `ingest_ns` and `count` (TimestampedSlot), the runner records, after the handler, the
// latency from ingest to this stage for every slot and every command in it.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "base/clock.h"
#include "pipeline/batch_view.h"
#include "pipeline/owner_check.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence_barrier.h"
#include "pipeline/stage.h"

namespace lockstep {

template <class H, class Slot>
concept BatchHandler = requires(H& handler, BatchView<Slot> batch) {
  handler.on_batch(batch);
};

template <class S>
concept TimestampedSlot = requires(const S& slot) {
  { slot.ingest_ns } -> std::convertible_to<std::int64_t>;
  { slot.count } -> std::convertible_to<std::int64_t>;
};

// Records a stage's pass over slots [first, last]: their count, and for timestamped slots
// the latency from ingest to now, per slot and per command. For StageRunner and for
// stages that publish their own way (the engine's execute and journal stages).
template <class Slot>
void record_slots(StageMetrics& m, const RingBuffer<Slot>& ring, std::int64_t first,
                  std::int64_t last) noexcept {
  m.batch_slots.record(last - first + 1);
  if constexpr (TimestampedSlot<Slot>) {
    const std::int64_t now = monotonic_now_ns();
    for (std::int64_t s = first; s <= last; ++s) {
      const Slot& slot = ring[s];
      const std::int64_t latency = now - static_cast<std::int64_t>(slot.ingest_ns);
      m.slot_latency_ns.record(latency);
      m.command_latency_ns.record_n(latency, static_cast<std::int64_t>(slot.count));
    }
  }
}

template <class Sequencer, class Slot, class Handler>
requires BatchHandler<Handler, Slot>
class StageRunner final : public Stage {
 public:
  // `upstream` empty: the stage reads straight behind the sequencer. `ring`,
  // `sequencer` and the upstream sequences must outlive the runner.
  StageRunner(std::string name, RingBuffer<Slot>& ring, Sequencer& sequencer,
              std::span<const Sequence* const> upstream, Handler handler)
      : Stage(std::move(name)),
        ring_(ring),
        sequencer_(sequencer),
        barrier_(sequencer, upstream),
        handler_(std::move(handler)) {}

  std::int64_t poll() override {
    owner_.check();
    const std::int64_t next = sequence_.get_owned() + 1;
    const std::int64_t available = barrier_.available(next);
    if (available < next) return 0;
    LS_DASSERT(available - next < ring_.capacity());
    handler_.on_batch(BatchView<Slot>(ring_, next, available));
    record(next, available);
    sequencer_.wait_strategy().publish(sequence_, available);
    return available - next + 1;
  }

  bool has_work() const override {
    const std::int64_t next = sequence_.get_owned() + 1;
    return barrier_.available(next) >= next;
  }

  const Sequence& sequence() const noexcept override { return sequence_; }

  Handler& handler() noexcept { return handler_; }
  SequenceBarrier<Sequencer>& barrier() noexcept { return barrier_; }

 private:
  void record(std::int64_t first, std::int64_t last) noexcept {
    record_slots(metrics(), ring_, first, last);
  }

  RingBuffer<Slot>& ring_;
  Sequencer& sequencer_;
  SequenceBarrier<Sequencer> barrier_;
  Handler handler_;
  Sequence sequence_;
  OwnerCheck owner_;
};

}  // namespace lockstep
