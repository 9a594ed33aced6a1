// Single-threaded behaviour of both sequencers, parameterised over the sequencer type,
// plus the waiting paths (claim with a deadline, halt) with one helper thread.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "pipeline/hybrid_wait.h"
#include "pipeline/multi_producer_sequencer.h"
#include "pipeline/single_producer_sequencer.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

template <class S>
class SequencerTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kCapacity = 8;
  HybridWait wait{HybridWait::Options{16, 2}};
  S sequencer{kCapacity, wait};
  Sequence consumer;
  void SetUp() override { sequencer.add_gating_sequence(consumer); }
};

using Sequencers =
    ::testing::Types<SingleProducerSequencer<HybridWait>, MultiProducerSequencer<HybridWait>>;
TYPED_TEST_SUITE(SequencerTest, Sequencers);

TYPED_TEST(SequencerTest, ClaimsConsecutiveRangesFromZero) {
  const Claim a = this->sequencer.try_claim(3);
  ASSERT_TRUE(a);
  EXPECT_EQ(a.first, 0);
  EXPECT_EQ(a.last, 2);
  EXPECT_EQ(a.count(), 3);
  const Claim b = this->sequencer.try_claim(1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b.first, 3);
}

TYPED_TEST(SequencerTest, ReportsFullOnceTheSlowestConsumerIsAWholeRingBehind) {
  for (std::int64_t i = 0; i < this->kCapacity; ++i) ASSERT_TRUE(this->sequencer.try_claim(1));
  const Claim full = this->sequencer.try_claim(1);
  EXPECT_EQ(full.status, ClaimStatus::kFull);
  EXPECT_FALSE(full);
}

TYPED_TEST(SequencerTest, ClaimsAgainAfterTheConsumerMovesOn) {
  Claim c = this->sequencer.try_claim(this->kCapacity);
  ASSERT_TRUE(c);
  this->sequencer.publish(c.first, c.last);
  EXPECT_FALSE(this->sequencer.try_claim(1));
  this->consumer.set(1);  // consumed slots 0 and 1
  c = this->sequencer.try_claim(2);
  ASSERT_TRUE(c);
  EXPECT_EQ(c.first, 8);
  EXPECT_EQ(c.last, 9);
  EXPECT_FALSE(this->sequencer.try_claim(1));
}

TYPED_TEST(SequencerTest, RefusesARangeThatWouldOvertakeTheConsumer) {
  ASSERT_TRUE(this->sequencer.try_claim(5));
  EXPECT_EQ(this->sequencer.try_claim(4).status, ClaimStatus::kFull);
  EXPECT_TRUE(this->sequencer.try_claim(3));
}

TYPED_TEST(SequencerTest, PublishedSlotsBecomeReadable) {
  const Claim c = this->sequencer.try_claim(4);
  ASSERT_TRUE(c);
  EXPECT_LT(this->sequencer.highest_published(0, this->sequencer.cursor().get()), 0);
  this->sequencer.publish(c.first, c.last);
  EXPECT_EQ(this->sequencer.highest_published(0, this->sequencer.cursor().get()), 3);
}

TYPED_TEST(SequencerTest, BlockingClaimTimesOutWhileTheRingStaysFull) {
  ASSERT_TRUE(this->sequencer.try_claim(this->kCapacity));
  const auto start = SteadyClock::now();
  const Claim c = this->sequencer.claim(1, start + 20ms);
  EXPECT_EQ(c.status, ClaimStatus::kTimedOut);
  EXPECT_GE(SteadyClock::now() - start, 20ms);
}

TYPED_TEST(SequencerTest, BlockingClaimSucceedsWhenTheConsumerMakesRoom) {
  const Claim all = this->sequencer.try_claim(this->kCapacity);
  ASSERT_TRUE(all);
  this->sequencer.publish(all.first, all.last);
  std::thread consumer_thread([&] {
    std::this_thread::sleep_for(10ms);
    this->wait.publish(this->consumer, 0);
  });
  const Claim c = this->sequencer.claim(1, SteadyClock::now() + 10s);
  consumer_thread.join();
  ASSERT_TRUE(c);
  EXPECT_EQ(c.first, this->kCapacity);
}

TYPED_TEST(SequencerTest, HaltWakesABlockedClaimAndRefusesLaterOnes) {
  ASSERT_TRUE(this->sequencer.try_claim(this->kCapacity));
  std::thread halter([&] {
    std::this_thread::sleep_for(10ms);
    this->sequencer.halt();
  });
  const Claim c = this->sequencer.claim(1, SteadyClock::now() + 10s);
  halter.join();
  EXPECT_EQ(c.status, ClaimStatus::kHalted);
  EXPECT_EQ(this->sequencer.try_claim(1).status, ClaimStatus::kHalted);
}

TYPED_TEST(SequencerTest, RefusesACapacityThatIsNotAPowerOfTwo) {
  EXPECT_THROW(TypeParam(12, this->wait), std::invalid_argument);
  EXPECT_THROW(TypeParam(0, this->wait), std::invalid_argument);
}

TYPED_TEST(SequencerTest, RefusesMoreGatingSequencesThanTheLimit) {
  TypeParam fresh(8, this->wait);
  std::array<Sequence, kGatingSequencesMax + 1> gates;
  for (std::size_t i = 0; i < kGatingSequencesMax; ++i) fresh.add_gating_sequence(gates[i]);
  EXPECT_THROW(fresh.add_gating_sequence(gates.back()), std::invalid_argument);
}

TEST(MultiProducerSequencer, ReadersStopAtTheFirstSlotNotYetPublished) {
  HybridWait wait;
  MultiProducerSequencer<HybridWait> sequencer(8, wait);
  Sequence consumer;
  sequencer.add_gating_sequence(consumer);
  const Claim a = sequencer.try_claim(2);  // 0..1
  const Claim b = sequencer.try_claim(2);  // 2..3
  ASSERT_TRUE(a && b);
  sequencer.publish(b.first, b.last);  // the later producer finishes first
  EXPECT_EQ(sequencer.highest_published(0, sequencer.cursor().get()), -1);
  sequencer.publish(a.first, a.last);
  EXPECT_EQ(sequencer.highest_published(0, sequencer.cursor().get()), 3);
}

TEST(MultiProducerSequencer, MarksAvailabilityByRoundSoALappedSlotIsNotReadTwice) {
  HybridWait wait;
  MultiProducerSequencer<HybridWait> sequencer(4, wait);
  Sequence consumer;
  sequencer.add_gating_sequence(consumer);
  const Claim first_lap = sequencer.try_claim(4);
  ASSERT_TRUE(first_lap);
  sequencer.publish(first_lap.first, first_lap.last);
  consumer.set(3);
  const Claim second_lap = sequencer.try_claim(1);  // sequence 4, slot 0
  ASSERT_TRUE(second_lap);
  // Slot 0 still holds round 0's marker: sequence 4 is not readable yet.
  EXPECT_EQ(sequencer.highest_published(4, sequencer.cursor().get()), 3);
  sequencer.publish(4, 4);
  EXPECT_EQ(sequencer.highest_published(4, sequencer.cursor().get()), 4);
}

TEST(SingleProducerSequencer, ShrinkingAClaimGivesTheUnfilledSlotsBack) {
  HybridWait wait;
  SingleProducerSequencer<HybridWait> sequencer(8, wait);
  Sequence consumer;
  sequencer.add_gating_sequence(consumer);
  const Claim c = sequencer.try_claim(6);
  ASSERT_TRUE(c);
  sequencer.publish(0, 1);
  sequencer.shrink_claim(1);
  const Claim next = sequencer.try_claim(1);
  ASSERT_TRUE(next);
  EXPECT_EQ(next.first, 2);
}

TEST(SingleProducerSequencer, CanClaimSaysWhetherAClaimWouldSucceedWithoutClaiming) {
  HybridWait wait;
  SingleProducerSequencer<HybridWait> sequencer(4, wait);
  Sequence consumer;
  sequencer.add_gating_sequence(consumer);
  EXPECT_TRUE(sequencer.can_claim(4));
  EXPECT_FALSE(sequencer.can_claim(5));
  ASSERT_TRUE(sequencer.try_claim(3));
  EXPECT_TRUE(sequencer.can_claim(1));
  EXPECT_TRUE(sequencer.can_claim(1));  // asking claims nothing
  ASSERT_TRUE(sequencer.try_claim(1));
  EXPECT_FALSE(sequencer.can_claim(1));  // the ring is full: the consumer is at -1
  EXPECT_FALSE(sequencer.try_claim(1));
  consumer.set(1);  // the consumer frees two slots
  EXPECT_TRUE(sequencer.can_claim(2));
  EXPECT_FALSE(sequencer.can_claim(3));
  sequencer.halt();
  EXPECT_FALSE(sequencer.can_claim(1));
}

}  // namespace
}  // namespace lockstep
