#include "pipeline/ingress.h"

#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "pipeline/hybrid_wait.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

struct Item {
  std::uint32_t producer = 0;
  std::uint64_t value = 0;
};

class IngressTest : public ::testing::Test {
 protected:
  HybridWait wait;
};

TEST_F(IngressTest, RefusesZeroCapacityAndZeroProducers) {
  EXPECT_THROW((Ingress<Item, HybridWait>(0, 1, wait)), std::invalid_argument);
  EXPECT_THROW((Ingress<Item, HybridWait>(kIngressCapacityMax + 1, 1, wait)),
               std::invalid_argument);
  EXPECT_THROW((Ingress<Item, HybridWait>(16, 0, wait)), std::invalid_argument);
}

TEST_F(IngressTest, RefusesMoreProducersThanDeclared) {
  Ingress<Item, HybridWait> ingress(16, 2, wait);
  auto a = ingress.make_producer();
  auto b = ingress.make_producer();
  EXPECT_THROW(ingress.make_producer(), std::invalid_argument);
}

TEST_F(IngressTest, AReleasedProducerGivesItsPlaceBackAndItsItemsStayQueued) {
  Ingress<Item, HybridWait> ingress(64, 2, wait);
  auto a = ingress.make_producer();
  {
    auto b = ingress.make_producer();
    ASSERT_EQ(ingress.try_submit(b, {1, 7}), SubmitStatus::kOk);
    auto moved = std::move(b);  // a move keeps one place, not two
    EXPECT_THROW(ingress.make_producer(), std::invalid_argument);
  }
  // Both of b's handles are gone: a third producer fits, many times over.
  for (int i = 0; i < 100; ++i) {
    auto c = ingress.make_producer();
    ASSERT_EQ(ingress.try_submit(c, {2, static_cast<std::uint64_t>(i)}), SubmitStatus::kOk);
    std::vector<Item> out(64);
    std::size_t got = 0;
    while (got < (i == 0 ? 2u : 1u)) got += ingress.drain(out.data() + got, 64);
    if (i == 0) {
      EXPECT_EQ(out[0].value, 7u);  // b's item, queued before its producer went
      EXPECT_EQ(out[1].value, 0u);
    } else {
      EXPECT_EQ(out[0].value, static_cast<std::uint64_t>(i));
    }
  }
  EXPECT_EQ(ingress.size(), 0u);
}

TEST_F(IngressTest, DrainsOneProducersItemsInSubmissionOrder) {
  Ingress<Item, HybridWait> ingress(64, 1, wait);
  auto producer = ingress.make_producer();
  for (std::uint64_t i = 0; i < 50; ++i)
    ASSERT_EQ(ingress.try_submit(producer, {0, i}), SubmitStatus::kOk);
  EXPECT_EQ(ingress.size(), 50u);
  std::vector<Item> out(64);
  std::size_t total = 0;
  while (total < 50) total += ingress.drain(out.data() + total, 7);
  for (std::uint64_t i = 0; i < 50; ++i) EXPECT_EQ(out[i].value, i);
  EXPECT_EQ(ingress.size(), 0u);
}

TEST_F(IngressTest, SaysBusyAtCapacityAndQueuesNothing) {
  Ingress<Item, HybridWait> ingress(8, 1, wait);
  auto producer = ingress.make_producer();
  for (std::uint64_t i = 0; i < 8; ++i)
    ASSERT_EQ(ingress.try_submit(producer, {0, i}), SubmitStatus::kOk);
  EXPECT_EQ(ingress.try_submit(producer, {0, 99}), SubmitStatus::kBusy);
  EXPECT_EQ(ingress.size(), 8u);
  std::vector<Item> out(16);
  EXPECT_EQ(ingress.drain(out.data(), 16), 8u);
  EXPECT_EQ(out[7].value, 7u);
}

TEST_F(IngressTest, BulkSubmitIsAllOrNothing) {
  Ingress<Item, HybridWait> ingress(8, 1, wait);
  auto producer = ingress.make_producer();
  std::vector<Item> six(6), three(3);
  ASSERT_EQ(ingress.try_submit_bulk(producer, six.data(), six.size()), SubmitStatus::kOk);
  EXPECT_EQ(ingress.try_submit_bulk(producer, three.data(), three.size()), SubmitStatus::kBusy);
  EXPECT_EQ(ingress.size(), 6u);
  EXPECT_EQ(ingress.try_submit_bulk(producer, three.data(), 2), SubmitStatus::kOk);
  EXPECT_EQ(ingress.size(), 8u);
}

TEST_F(IngressTest, SubmitWithADeadlineTimesOutWhenNobodyDrains) {
  Ingress<Item, HybridWait> ingress(2, 1, wait);
  auto producer = ingress.make_producer();
  ASSERT_EQ(ingress.try_submit(producer, {0, 1}), SubmitStatus::kOk);
  ASSERT_EQ(ingress.try_submit(producer, {0, 2}), SubmitStatus::kOk);
  EXPECT_EQ(ingress.submit(producer, {0, 3}, SteadyClock::now() + 10ms), SubmitStatus::kTimedOut);
  EXPECT_EQ(ingress.size(), 2u);
}

TEST_F(IngressTest, AWaitingSubmitterIsWokenByADrain) {
  Ingress<Item, HybridWait> ingress(2, 1, wait);
  auto producer = ingress.make_producer();
  ASSERT_EQ(ingress.try_submit(producer, {0, 1}), SubmitStatus::kOk);
  ASSERT_EQ(ingress.try_submit(producer, {0, 2}), SubmitStatus::kOk);
  std::thread drainer([&] {
    std::this_thread::sleep_for(10ms);
    Item out[2];
    while (ingress.drain(out, 2) == 0) {
    }
  });
  EXPECT_EQ(ingress.submit(producer, {0, 3}, SteadyClock::now() + 10s), SubmitStatus::kOk);
  drainer.join();
}

// The bound is a real one: filling to capacity and draining, over and over, from
// several producers, never needs a block the queue did not preallocate.
TEST_F(IngressTest, RefillsToCapacityAgainAndAgainWithoutRefusing) {
  constexpr std::size_t kCapacity = 1000;
  constexpr std::size_t kProducers = 4;
  Ingress<Item, HybridWait> ingress(kCapacity, kProducers, wait);
  std::vector<Ingress<Item, HybridWait>::Producer> producers;
  for (std::size_t p = 0; p < kProducers; ++p) producers.push_back(ingress.make_producer());
  std::vector<Item> out(kCapacity);
  for (int round = 0; round < 50; ++round) {
    // Skewed: one producer takes most of the capacity in some rounds.
    const std::size_t heavy = static_cast<std::size_t>(round) % kProducers;
    std::size_t queued = 0;
    for (std::size_t p = 0; queued < kCapacity; p = (p + 1) % kProducers) {
      const std::size_t n = std::min<std::size_t>(p == heavy ? 97 : 3, kCapacity - queued);
      std::vector<Item> items(n, Item{static_cast<std::uint32_t>(p), 0});
      ASSERT_EQ(ingress.try_submit_bulk(producers[p], items.data(), n), SubmitStatus::kOk)
          << "round " << round << " after " << queued;
      queued += n;
    }
    EXPECT_EQ(ingress.try_submit(producers[0], {}), SubmitStatus::kBusy);
    std::size_t drained = 0;
    while (drained < kCapacity) drained += ingress.drain(out.data(), kCapacity);
    EXPECT_EQ(drained, kCapacity);
  }
}

TEST_F(IngressTest, KeepsEachProducersOrderUnderConcurrentSubmission) {
  constexpr std::uint32_t kProducers = 3;
  constexpr std::uint64_t kEach = 20000;
  Ingress<Item, HybridWait> ingress(256, kProducers, wait);
  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      auto producer = ingress.make_producer();
      for (std::uint64_t i = 0; i < kEach; ++i) {
        ASSERT_EQ(ingress.submit(producer, {p, i}, SteadyClock::now() + 30s), SubmitStatus::kOk);
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::vector<Item> out(64);
  std::uint64_t received = 0;
  while (received < kProducers * kEach) {
    const std::size_t n = ingress.drain(out.data(), out.size());
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i].value, next[out[i].producer]++) << "producer " << out[i].producer;
    }
    received += n;
    if (n == 0) std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ingress.size(), 0u);
}

}  // namespace
}  // namespace lockstep
