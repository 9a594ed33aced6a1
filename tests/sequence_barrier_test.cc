#include "pipeline/sequence_barrier.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <thread>

#include "pipeline/blocking_wait.h"
#include "pipeline/multi_producer_sequencer.h"
#include "pipeline/single_producer_sequencer.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

class BarrierTest : public ::testing::Test {
 protected:
  BlockingWait wait;
  SingleProducerSequencer<BlockingWait> sequencer{16, wait};
  Sequence gate;
  void SetUp() override { sequencer.add_gating_sequence(gate); }
  void publish(std::int64_t n) {
    const Claim c = sequencer.try_claim(n);
    ASSERT_TRUE(c);
    sequencer.publish(c.first, c.last);
  }
};

TEST_F(BarrierTest, WithoutUpstreamStagesItFollowsThePublishedCursor) {
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, {});
  EXPECT_TRUE(barrier.follows_sequencer());
  EXPECT_EQ(barrier.available(0), -1);
  publish(3);
  EXPECT_EQ(barrier.available(0), 2);
}

TEST_F(BarrierTest, OverUpstreamStagesItIsLimitedByTheSlowest) {
  publish(10);
  Sequence a(7), b(4);
  const Sequence* upstream[] = {&a, &b};
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, upstream);
  EXPECT_EQ(barrier.available(0), 4);
  b.set(9);
  EXPECT_EQ(barrier.available(0), 7);
}

TEST_F(BarrierTest, WaitReturnsEverythingAvailableNotJustTheSlotAskedFor) {
  publish(5);
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, {});
  const WaitResult r = barrier.wait_for(0, SteadyClock::now() + 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.available, 4);
}

TEST_F(BarrierTest, WaitTimesOutWhenNothingIsPublished) {
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, {});
  const WaitResult r = barrier.wait_for(0, SteadyClock::now() + 10ms);
  EXPECT_EQ(r.status, WaitStatus::kTimedOut);
}

TEST_F(BarrierTest, WaitWakesWhenTheProducerPublishes) {
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, {});
  std::thread producer([&] {
    std::this_thread::sleep_for(10ms);
    publish(2);
  });
  const WaitResult r = barrier.wait_for(0, SteadyClock::now() + 10s);
  producer.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r.available, 1);
}

TEST_F(BarrierTest, AlertWakesAWaiterAndPersistsUntilCleared) {
  SequenceBarrier<SingleProducerSequencer<BlockingWait>> barrier(sequencer, {});
  std::thread alerter([&] {
    std::this_thread::sleep_for(10ms);
    barrier.alert();
  });
  const WaitResult r = barrier.wait_for(0, SteadyClock::now() + 10s);
  alerter.join();
  EXPECT_EQ(r.status, WaitStatus::kAlerted);
  EXPECT_EQ(barrier.wait_for(0).status, WaitStatus::kAlerted);
  barrier.clear_alert();
  EXPECT_FALSE(barrier.alerted());
  EXPECT_EQ(barrier.wait_for(0, SteadyClock::now() + 1ms).status, WaitStatus::kTimedOut);
}

TEST_F(BarrierTest, RefusesMoreUpstreamSequencesThanTheLimit) {
  std::array<Sequence, kBarrierDependenciesMax + 1> many;
  std::array<const Sequence*, kBarrierDependenciesMax + 1> pointers;
  for (std::size_t i = 0; i < many.size(); ++i) pointers[i] = &many[i];
  using Barrier = SequenceBarrier<SingleProducerSequencer<BlockingWait>>;
  EXPECT_THROW(Barrier(sequencer, pointers), std::invalid_argument);
}

TEST(MultiProducerBarrier, StopsAtAGapLeftByASlowProducer) {
  BlockingWait wait;
  MultiProducerSequencer<BlockingWait> sequencer(16, wait);
  Sequence gate;
  sequencer.add_gating_sequence(gate);
  SequenceBarrier<MultiProducerSequencer<BlockingWait>> barrier(sequencer, {});
  const Claim slow = sequencer.try_claim(1);
  const Claim fast = sequencer.try_claim(3);
  ASSERT_TRUE(slow && fast);
  sequencer.publish(fast.first, fast.last);
  EXPECT_EQ(barrier.available(0), -1);
  EXPECT_EQ(barrier.wait_for(0, SteadyClock::now() + 5ms).status, WaitStatus::kTimedOut);
  sequencer.publish(slow.first, slow.last);
  EXPECT_EQ(barrier.available(0), 3);
}

}  // namespace
}  // namespace lockstep
