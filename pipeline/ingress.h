// Ingress<T, W>: the bounded, many-producer queue in front of a pipeline.
//
// Application threads submit here; the ingest stage (one thread) drains it in bulk into
// ring slots. Built on moodycamel::ConcurrentQueue with one producer token per
// submitting thread, so each producer's items keep their order, and bulk dequeue.
//
// Bounded for real: an admission counter refuses anything past `capacity` (kBusy), and
// the queue's blocks are all preallocated for that capacity and `producers_max`
// producers; enqueueing uses try_enqueue, which never allocates. Memory does not grow
// with offered load. (If moodycamel's block accounting ever found no room despite
// admission, the submit is refused as kBusy, never allocated.)
//
// Thread safety: make_producer and submit from any thread (each Producer used by one
// thread at a time); drain from the single consumer thread.
#pragma once

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "base/assert.h"
#include "base/clock.h"
#include "pipeline/constants.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

enum class SubmitStatus : std::uint8_t {
  kOk,        // queued; it will reach the ring in submission order for this producer
  kBusy,      // no room now (try_submit), nothing was queued
  kTimedOut,  // still no room at the deadline (submit), nothing was queued
};

std::string_view to_string(SubmitStatus status) noexcept;

// The largest ingress; keeps the preallocated block pool within reason.
inline constexpr std::size_t kIngressCapacityMax = std::size_t{1} << 22;

template <class T, WaitStrategy W>
class Ingress {
 public:
  // One submitting thread's handle. Move-only; use from one thread at a time.
  // Destroying it gives its place back: producers_max counts producers alive at once
  // (moodycamel recycles the sub-queue of a released token for the next one).
  class Producer {
   public:
    Producer(Producer&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), token_(std::move(other.token_)) {}
    Producer& operator=(Producer&& other) noexcept {
      if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        token_ = std::move(other.token_);
      }
      return *this;
    }
    ~Producer() { release(); }

   private:
    friend class Ingress;
    Producer(Ingress* owner, moodycamel::ConcurrentQueue<T>& queue)
        : owner_(owner), token_(queue) {}
    void release() noexcept {
      if (owner_ != nullptr) owner_->producers_.fetch_sub(1, std::memory_order_relaxed);
      owner_ = nullptr;
    }
    Ingress* owner_;
    moodycamel::ProducerToken token_;
  };

  // Throws std::invalid_argument for capacity outside [1, kIngressCapacityMax] or zero
  // producers. `wait` (the pipeline's strategy) must outlive the ingress.
  Ingress(std::size_t capacity, std::size_t producers_max, W& wait)
      : capacity_((validate(capacity, producers_max), capacity)),
        producers_max_(producers_max),
        wait_(wait),
        queue_(capacity, producers_max, 0),
        consumer_token_(queue_) {}
  Ingress(const Ingress&) = delete;
  Ingress& operator=(const Ingress&) = delete;

  // Any thread. Throws std::invalid_argument past producers_max producers alive at once.
  Producer make_producer() {
    if (producers_.fetch_add(1, std::memory_order_relaxed) >= producers_max_) {
      producers_.fetch_sub(1, std::memory_order_relaxed);
      throw std::invalid_argument("ingress: more than " + std::to_string(producers_max_) +
                                  " producers");
    }
    return Producer(this, queue_);
  }

  // Queues all `count` items or none. kBusy if they do not fit now.
  [[nodiscard]] SubmitStatus try_submit_bulk(Producer& producer, const T* items,
                                             std::size_t count) noexcept {
    if (count == 0) return SubmitStatus::kOk;
    if (!admit(count)) return SubmitStatus::kBusy;
    if (!queue_.try_enqueue_bulk(producer.token_, items, count)) {
      release(count);
      return SubmitStatus::kBusy;
    }
    // Wakes an ingest thread parked on an empty ingress; admit()'s seq_cst RMW of size_
    // is the store it re-checks (parker.h protocol).
    wait_.signal();
    return SubmitStatus::kOk;
  }

  [[nodiscard]] SubmitStatus try_submit(Producer& producer, const T& item) noexcept {
    return try_submit_bulk(producer, &item, 1);
  }

  // Like try_submit_bulk, but waits (through the wait strategy) for room until
  // `deadline`. REQUIRES: count <= capacity.
  [[nodiscard]] SubmitStatus submit_bulk(Producer& producer, const T* items, std::size_t count,
                                         Deadline deadline) noexcept {
    LS_ASSERT(count <= capacity_);
    for (;;) {
      const SubmitStatus status = try_submit_bulk(producer, items, count);
      if (status != SubmitStatus::kBusy) return status;
      const bool room = wait_.wait_until(
          [&] { return size_.load(std::memory_order_seq_cst) + count <= capacity_; }, deadline);
      if (!room) return SubmitStatus::kTimedOut;
    }
  }

  [[nodiscard]] SubmitStatus submit(Producer& producer, const T& item, Deadline deadline) noexcept {
    return submit_bulk(producer, &item, 1, deadline);
  }

  // Consumer thread only. Moves up to `max` items into `out`, oldest first per
  // producer; returns how many. Wakes producers waiting for room.
  std::size_t drain(T* out, std::size_t max) noexcept {
    const std::size_t n = queue_.try_dequeue_bulk(consumer_token_, out, max);
    if (n > 0) {
      release(n);
      wait_.signal();
    }
    return n;
  }

  // Items admitted and not yet drained. Any thread; exact for the consumer thread's
  // purposes (it only ever grows between two of the consumer's own drains).
  std::size_t size() const noexcept { return size_.load(std::memory_order_seq_cst); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  static void validate(std::size_t capacity, std::size_t producers_max) {
    if (capacity == 0 || capacity > kIngressCapacityMax) {
      throw std::invalid_argument("ingress: capacity " + std::to_string(capacity) +
                                  " is outside [1, " + std::to_string(kIngressCapacityMax) + "]");
    }
    if (producers_max == 0) throw std::invalid_argument("ingress: producers_max is 0");
  }

  // Seq_cst RMW: submitters parked in submit_bulk re-check size_ (parker.h protocol).
  bool admit(std::size_t count) noexcept {
    const std::size_t before = size_.fetch_add(count, std::memory_order_seq_cst);
    if (before + count <= capacity_) return true;
    release(count);
    return false;
  }
  void release(std::size_t count) noexcept { size_.fetch_sub(count, std::memory_order_seq_cst); }

  const std::size_t capacity_;
  const std::size_t producers_max_;
  W& wait_;
  std::atomic<std::size_t> producers_{0};
  alignas(kFalseSharingBytes) std::atomic<std::size_t> size_{0};
  alignas(kFalseSharingBytes) moodycamel::ConcurrentQueue<T> queue_;
  moodycamel::ConsumerToken consumer_token_;
};

}  // namespace lockstep
