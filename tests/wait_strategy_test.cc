// Every wait strategy, through the same tests: immediate readiness, deadlines, and
// a seeded ping-pong between two threads that would hang on a lost wake-up.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "pipeline/blocking_wait.h"
#include "pipeline/busy_spin_wait.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/yielding_wait.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

template <class W>
class WaitStrategyTest : public ::testing::Test {
 protected:
  W wait;
};

using Strategies = ::testing::Types<BusySpinWait, YieldingWait, BlockingWait, HybridWait>;
TYPED_TEST_SUITE(WaitStrategyTest, Strategies);

TYPED_TEST(WaitStrategyTest, ReturnsAtOnceWhenTheConditionAlreadyHolds) {
  int calls = 0;
  EXPECT_TRUE(this->wait.wait_until(
      [&] {
        ++calls;
        return true;
      },
      kNoDeadline));
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(WaitStrategyTest, GivesUpAtTheDeadline) {
  const auto start = SteadyClock::now();
  EXPECT_FALSE(this->wait.wait_until([] { return false; }, start + 5ms));
  const auto waited = SteadyClock::now() - start;
  EXPECT_GE(waited, 5ms);
  EXPECT_LT(waited, 5s);
}

TYPED_TEST(WaitStrategyTest, AnExpiredDeadlineStillReportsAConditionThatHolds) {
  EXPECT_TRUE(this->wait.wait_until([] { return true; }, SteadyClock::now() - 1s));
}

// Two threads hand a token back and forth through two sequences, each waiting for the
// other's publish. A lost wake-up leaves both asleep and the deadline fails the test.
TYPED_TEST(WaitStrategyTest, NeverLosesAWakeUpInAPingPong) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr std::int64_t kRounds = 2000;
  Sequence ping, pong;
  std::thread other([&] {
    std::minstd_rand rng(seed);
    for (std::int64_t i = 0; i < kRounds; ++i) {
      if (!this->wait.wait_until([&] { return ping.get() >= i; }, SteadyClock::now() + 30s)) return;
      if (rng() % 16 == 0) std::this_thread::yield();
      this->wait.publish(pong, i);
    }
  });
  std::minstd_rand rng(seed + 1);
  bool ok = true;
  for (std::int64_t i = 0; i < kRounds && ok; ++i) {
    if (rng() % 16 == 0) std::this_thread::yield();
    this->wait.publish(ping, i);
    ok = this->wait.wait_until([&] { return pong.get() >= i; }, SteadyClock::now() + 30s);
  }
  other.join();
  EXPECT_TRUE(ok) << "a publish did not wake its waiter";
  EXPECT_EQ(pong.get(), kRounds - 1);
}

TYPED_TEST(WaitStrategyTest, SignalWakesAWaiterOnAFlag) {
  std::atomic<bool> flag{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(5ms);
    flag.store(true, std::memory_order_seq_cst);
    this->wait.signal();
  });
  const bool woke = this->wait.wait_until([&] { return flag.load(std::memory_order_seq_cst); },
                                          SteadyClock::now() + 10s);
  setter.join();
  EXPECT_TRUE(woke);
}

TEST(WaitStrategy, OnlyBusySpinSpinsWithoutBound) {
  EXPECT_TRUE(BusySpinWait::kSpinsWithoutBound);
  EXPECT_FALSE(YieldingWait::kSpinsWithoutBound);
  EXPECT_FALSE(BlockingWait::kSpinsWithoutBound);
  EXPECT_FALSE(HybridWait::kSpinsWithoutBound);
}

TEST(HybridWait, RefusesNegativeIterationCounts) {
  EXPECT_THROW(HybridWait(HybridWait::Options{-1, 0}), std::invalid_argument);
  EXPECT_THROW(HybridWait(HybridWait::Options{0, -1}), std::invalid_argument);
}

TEST(HybridWait, WithNoSpinOrYieldItParksAtOnce) {
  HybridWait wait(HybridWait::Options{0, 0});
  Sequence s;
  std::thread publisher([&] {
    std::this_thread::sleep_for(5ms);
    wait.publish(s, 3);
  });
  EXPECT_TRUE(wait.wait_until([&] { return s.get() == 3; }, SteadyClock::now() + 10s));
  publisher.join();
}

}  // namespace
}  // namespace lockstep
