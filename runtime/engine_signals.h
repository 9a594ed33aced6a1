// EngineSignals: what the running engine's stages tell each other and the embedding
// application outside the ring: the failed state, and counters for stats and progress.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>

#include "pipeline/constants.h"

namespace lockstep {

struct EngineSignals {
  // Set once, by the journal stage, on the first journal I/O error. From then on every
  // submit returns kFailed and nothing more is acknowledged.
  std::atomic<bool> failed{false};
  // Ring slots after this one were not durable when the journal failed: the publish stage
  // completes their commands as kFailed. (Written before the journal stage publishes its
  // sequence past them, read after the publish stage's barrier saw it: ordered.)
  std::atomic<std::int64_t> failed_after_slot{std::numeric_limits<std::int64_t>::max()};

  void fail(std::int64_t last_durable_slot, std::string why) {
    {
      std::lock_guard lock(mutex_);
      if (failed.load(std::memory_order_relaxed)) return;
      failure_ = std::move(why);
    }
    failed_after_slot.store(last_durable_slot, std::memory_order_seq_cst);
    failed.store(true, std::memory_order_seq_cst);
  }
  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

  // Written by the publish stage only; read by anyone.
  alignas(kFalseSharingBytes) std::atomic<std::uint64_t> acknowledged_sequence{0};  // next
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> invalid{0};
  std::atomic<std::uint64_t> failed_commands{0};

 private:
  mutable std::mutex mutex_;
  std::string failure_;
};

}  // namespace lockstep
