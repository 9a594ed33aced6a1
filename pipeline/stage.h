// Stage: one step of a pipeline, as the threads that run it see it.
//
// A stage is polled by exactly one thread (its place in the ThreadLayout). Each poll
// takes every slot available to it as one batch, processes it, publishes its sequence
// past it, and returns how many slots it took. A thread may run several stages in turn;
// when none has work, it waits through the pipeline's wait strategy.
//
// The virtual calls here happen once per poll (per batch), never per item.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "pipeline/constants.h"
#include "pipeline/histogram.h"
#include "pipeline/sequence.h"

namespace lockstep {

// What every stage measures. Written by the stage's thread only; any thread may take
// snapshots (histogram.h explains why that needs no lock).
struct StageMetrics {
  // Slot counts up to the largest ring, to 3 significant digits: exact up to 2047 slots,
  // so a report never shows a batch larger than the ring.
  static constexpr HistogramConfig kBatchSlotsConfig{1, kRingCapacityMax, 3};
  // Nanoseconds up to an hour, to 3 significant digits.
  static constexpr HistogramConfig kLatencyConfig{};

  StageMetrics()
      : batch_slots(kBatchSlotsConfig),
        slot_latency_ns(kLatencyConfig),
        command_latency_ns(kLatencyConfig) {}

  // Slots taken per poll: the batching effect (1 when idle, large under load).
  Histogram batch_slots;
  // Per slot: nanoseconds from ingest to this stage's completion of that slot.
  Histogram slot_latency_ns;
  // Per command (a slot carrying N commands counts N times): the same latency.
  Histogram command_latency_ns;
};

class Stage {
 public:
  explicit Stage(std::string name) : name_(std::move(name)) {}
  virtual ~Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  const std::string& name() const noexcept { return name_; }

  // Stage thread only. Processes every slot now available as one batch, then publishes
  // past it. Returns the number of slots processed, 0 when none was available.
  virtual std::int64_t poll() = 0;

  // Stage thread only. Whether poll() would find work now.
  virtual bool has_work() const = 0;

  // Stage thread only. When poll() will have work even if nothing is published before:
  // a parked thread wakes by then (the journal stage's delayed idle marker). kNoDeadline
  // (the default): only a publication wakes it.
  virtual Deadline wake_by() const noexcept { return kNoDeadline; }

  // Any thread. How far this stage has published: downstream barriers and the
  // sequencer's gating read it.
  virtual const Sequence& sequence() const noexcept = 0;

  StageMetrics& metrics() noexcept { return metrics_; }
  const StageMetrics& metrics() const noexcept { return metrics_; }

 private:
  std::string name_;
  StageMetrics metrics_;
};

}  // namespace lockstep
