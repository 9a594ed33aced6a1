// RingBuffer<T>: the preallocated slots a pipeline's stages hand to one another.
//
// Capacity is a power of two so a sequence maps to its slot with a mask. Every slot is
// aligned to (and padded out to) a cache line, so two stages working on neighbouring
// slots never write the same line. Slots are default-constructed once, at construction,
// and reused in place for the life of the ring: steady state allocates nothing.
//
// The ring itself does no synchronisation: a sequencer and the barriers decide who may
// touch which slot when.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "base/assert.h"
#include "pipeline/constants.h"

namespace lockstep {

// Throws std::invalid_argument, naming `who`, unless 1 <= capacity <= kRingCapacityMax
// and capacity is a power of two.
inline void validate_ring_capacity(std::int64_t capacity, const char* who) {
  if (capacity < 1 || capacity > kRingCapacityMax) {
    throw std::invalid_argument(std::string(who) + ": capacity " + std::to_string(capacity) +
                                " is outside [1, " + std::to_string(kRingCapacityMax) + "]");
  }
  if ((capacity & (capacity - 1)) != 0) {
    throw std::invalid_argument(std::string(who) + ": capacity " + std::to_string(capacity) +
                                " is not a power of two");
  }
}

template <class T>
class RingBuffer {
 public:
  // Throws std::invalid_argument if `capacity` is not a power of two in range.
  explicit RingBuffer(std::int64_t capacity)
      : capacity_((validate_ring_capacity(capacity, "RingBuffer"), capacity)),
        mask_(capacity - 1),
        slots_(std::make_unique<Slot[]>(static_cast<std::size_t>(capacity))) {}

  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  // The slot for `sequence`. REQUIRES: sequence >= 0, and the caller holds the right to
  // this slot (claimed it, or a barrier made it available).
  T& operator[](std::int64_t sequence) noexcept {
    LS_DASSERT(sequence >= 0);
    return slots_[static_cast<std::size_t>(sequence & mask_)].value;
  }
  const T& operator[](std::int64_t sequence) const noexcept {
    LS_DASSERT(sequence >= 0);
    return slots_[static_cast<std::size_t>(sequence & mask_)].value;
  }

  std::int64_t capacity() const noexcept { return capacity_; }

 private:
  struct alignas(kCacheLineBytes) Slot {
    T value{};
  };
  static_assert(sizeof(Slot) % kCacheLineBytes == 0);
  static_assert(alignof(Slot) >= kCacheLineBytes);

  const std::int64_t capacity_;
  const std::int64_t mask_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace lockstep
