// OwnerCheck: in debug builds, asserts that a single-writer structure is only ever
// written by one thread. The first caller becomes the owner; release() hands ownership
// on (for example when a producer thread is replaced). Compiles to nothing with NDEBUG.
#pragma once

#include <atomic>
#include <thread>

#include "base/assert.h"

namespace lockstep {

class OwnerCheck {
 public:
#ifdef NDEBUG
  void check() const noexcept {}
  void release() noexcept {}
#else
  // Owner thread. Relaxed: the id is only compared; it orders nothing.
  void check() noexcept {
    const std::thread::id self = std::this_thread::get_id();
    std::thread::id expected{};
    if (owner_.compare_exchange_strong(expected, self, std::memory_order_relaxed)) return;
    LS_ASSERT(expected == self && "single-writer structure written by a second thread");
  }
  void release() noexcept { owner_.store(std::thread::id{}, std::memory_order_relaxed); }

 private:
  std::atomic<std::thread::id> owner_{};
#endif
};

}  // namespace lockstep
