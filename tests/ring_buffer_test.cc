#include "pipeline/ring_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

namespace lockstep {
namespace {

// Counts constructions, to show slots are built once and reused in place.
struct Counted {
  static inline int constructed = 0;
  Counted() { ++constructed; }
  std::int64_t value = 0;
};

std::string error_of(std::int64_t capacity) {
  try {
    RingBuffer<int> ring(capacity);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(RingBuffer, RefusesACapacityThatIsNotAPowerOfTwo) {
  EXPECT_EQ(error_of(1000), "RingBuffer: capacity 1000 is not a power of two");
  EXPECT_EQ(error_of(3), "RingBuffer: capacity 3 is not a power of two");
}

TEST(RingBuffer, RefusesZeroNegativeAndOversizedCapacities) {
  EXPECT_NE(error_of(0).find("outside"), std::string::npos);
  EXPECT_NE(error_of(-4).find("outside"), std::string::npos);
  EXPECT_NE(error_of(kRingCapacityMax * 2).find("outside"), std::string::npos);
}

TEST(RingBuffer, AcceptsOneSlot) {
  RingBuffer<int> ring(1);
  ring[0] = 5;
  EXPECT_EQ(ring[7], 5);
}

TEST(RingBuffer, MapsSequencesOneLapApartToTheSameSlot) {
  RingBuffer<int> ring(8);
  ring[3] = 33;
  EXPECT_EQ(&ring[3], &ring[11]);
  EXPECT_EQ(ring[8 * 1000 + 3], 33);
  EXPECT_NE(&ring[3], &ring[4]);
}

TEST(RingBuffer, AlignsEverySlotToItsOwnCacheLine) {
  RingBuffer<std::int64_t> ring(16);
  for (std::int64_t s = 0; s < 16; ++s) {
    const auto address = reinterpret_cast<std::uintptr_t>(&ring[s]);
    EXPECT_EQ(address % kCacheLineBytes, 0u) << "slot " << s;
  }
  EXPECT_GE(reinterpret_cast<std::uintptr_t>(&ring[1]) - reinterpret_cast<std::uintptr_t>(&ring[0]),
            kCacheLineBytes);
}

TEST(RingBuffer, ConstructsEachSlotOnceAndReusesItInPlace) {
  Counted::constructed = 0;
  RingBuffer<Counted> ring(32);
  EXPECT_EQ(Counted::constructed, 32);
  for (std::int64_t s = 0; s < 32 * 10; ++s) ring[s].value = s;
  EXPECT_EQ(Counted::constructed, 32);
  EXPECT_EQ(ring[5].value, 32 * 9 + 5);
}

}  // namespace
}  // namespace lockstep
