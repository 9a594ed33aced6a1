// IngestStage: the pipeline's source. Drains the ingress queue into batch slots of the
// ring and publishes them through a single-producer sequencer; it is that sequencer's
// one producer thread.
//
// Each poll fills as many slots as the ingress has commands for (each slot up to its
// Batch capacity) and publishes them together. A slot is claimed before it is filled;
// if the queue turns out to have nothing for it, the claim is kept for the next poll
// rather than published empty.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "base/clock.h"
#include "pipeline/batch.h"
#include "pipeline/ingress.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/stage.h"

namespace lockstep {

template <class T, std::size_t N, WaitStrategy W>
class IngestStage final : public Stage {
 public:
  using Slot = Batch<T, N>;
  using Sequencer = SingleProducerSequencer<W>;

  // All three must outlive the stage.
  IngestStage(std::string name, Ingress<T, W>& ingress, RingBuffer<Slot>& ring,
              Sequencer& sequencer)
      : Stage(std::move(name)), ingress_(ingress), ring_(ring), sequencer_(sequencer) {}

  std::int64_t poll() override {
    std::int64_t first = -1;
    std::int64_t last = -1;
    const std::int64_t now = monotonic_now_ns();
    while (ingress_.size() > 0) {
      if (pending_ < 0) {
        const Claim claim = sequencer_.try_claim(1);
        if (!claim) break;
        pending_ = claim.first;
      }
      Slot& slot = ring_[pending_];
      const std::size_t n = ingress_.drain(slot.items.data(), N);
      if (n == 0) break;
      slot.count = static_cast<std::uint32_t>(n);
      slot.ingest_ns = now;
      if (first < 0) first = pending_;
      last = pending_;
      pending_ = -1;
    }
    if (first < 0) return 0;
    sequencer_.publish(first, last);
    metrics().batch_slots.record(last - first + 1);
    return last - first + 1;
  }

  // Work it can do: commands waiting, and a slot to put them in (a kept claim, or room in
  // the ring); with the ring full it waits for the consumers instead of spinning.
  bool has_work() const override {
    return ingress_.size() > 0 && (pending_ >= 0 || sequencer_.can_claim(1));
  }

  const Sequence& sequence() const noexcept override { return sequencer_.cursor(); }

 private:
  Ingress<T, W>& ingress_;
  RingBuffer<Slot>& ring_;
  Sequencer& sequencer_;
  std::int64_t pending_ = -1;  // a claimed, unfilled slot kept for the next poll
};

}  // namespace lockstep
