// BatchView: the contiguous range of sequences a stage processes in one go.
//
// A range of sequences may wrap around the end of the ring, so a view is indexed and
// iterated by sequence, not by pointer. It is a non-owning window, valid only inside
// the stage's on_batch call.
#pragma once

#include <cstdint>
#include <iterator>

#include "base/assert.h"
#include "pipeline/ring_buffer.h"

namespace lockstep {

template <class Slot>
class BatchView {
 public:
  BatchView(RingBuffer<Slot>& ring, std::int64_t first, std::int64_t last) noexcept
      : ring_(&ring), first_(first), last_(last) {
    LS_DASSERT(first >= 0 && last >= first && last - first < ring.capacity());
  }

  std::int64_t first() const noexcept { return first_; }
  std::int64_t last() const noexcept { return last_; }
  std::int64_t size() const noexcept { return last_ - first_ + 1; }

  // REQUIRES: first() <= sequence <= last().
  Slot& operator[](std::int64_t sequence) const noexcept {
    LS_DASSERT(sequence >= first_ && sequence <= last_);
    return (*ring_)[sequence];
  }

  class iterator {
   public:
    using value_type = Slot;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(RingBuffer<Slot>* ring, std::int64_t sequence) : ring_(ring), sequence_(sequence) {}
    Slot& operator*() const noexcept { return (*ring_)[sequence_]; }
    iterator& operator++() noexcept {
      ++sequence_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++sequence_;
      return old;
    }
    bool operator==(const iterator& other) const noexcept { return sequence_ == other.sequence_; }
    std::int64_t sequence() const noexcept { return sequence_; }

   private:
    RingBuffer<Slot>* ring_ = nullptr;
    std::int64_t sequence_ = 0;
  };

  iterator begin() const noexcept { return {ring_, first_}; }
  iterator end() const noexcept { return {ring_, last_ + 1}; }

 private:
  RingBuffer<Slot>* ring_;
  std::int64_t first_;
  std::int64_t last_;
};

}  // namespace lockstep
