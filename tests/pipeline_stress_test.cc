// Seeded multi-threaded stress tests: every sequencer x wait strategy x topology.
//
//   1P-1C       P ─► A
//   1P-3-stage  P ─► A ─► B ─► C
//   3P-1C       P0,P1,P2 ─► A          (multi-producer sequencer, or ingress + ingest)
//   diamond     P ─► A ─┐
//                 └─► B ─┴─► C         (C waits for both A and B)
//
// Producers claim random-sized ranges from a small ring (so it wraps and fills often).
// Every stage checks, for every slot: the stages it depends on stamped this very
// sequence before it (no stage overtakes its upstream), and each producer's items
// arrive exactly once, in order. Stage threads follow a layout drawn from the seed.
//
// The seed is random unless LOCKSTEP_SEED is set, and is printed on failure (and in
// the XML report), so any failure replays: LOCKSTEP_SEED=<seed> ./pipeline_stress_test.
// LOCKSTEP_STRESS_ITEMS scales the items per producer (default 20000).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/blocking_wait.h"
#include "pipeline/busy_spin_wait.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/ingest_stage.h"
#include "pipeline/multi_producer_sequencer.h"
#include "pipeline/pipeline.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/stage_runner.h"
#include "pipeline/yielding_wait.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

constexpr int kStagesMaxHere = 3;

struct Item {
  std::int64_t value = 0;
  std::uint32_t producer = 0;
  std::array<std::int64_t, kStagesMaxHere> stamps{};  // stamps[k]: the sequence stage k saw
};

std::uint64_t test_seed() {
  if (const char* text = std::getenv("LOCKSTEP_SEED")) return std::strtoull(text, nullptr, 10);
  return std::random_device{}();
}

std::int64_t items_per_producer() {
  if (const char* text = std::getenv("LOCKSTEP_STRESS_ITEMS")) return std::atoll(text);
  return 20000;
}

// What every stage verifies; the first failure is kept with its context.
struct Checks {
  int index = 0;
  std::vector<int> upstream;
  std::vector<std::int64_t> next_value;  // per producer
  std::int64_t errors = 0;
  std::string first_error;

  void check(std::int64_t sequence, Item& item) {
    for (int u : upstream) {
      if (item.stamps[static_cast<std::size_t>(u)] != sequence) {
        fail(sequence, "upstream stage " + std::to_string(u) + " had not processed it");
      }
    }
    if (item.producer >= next_value.size()) {
      fail(sequence, "unknown producer " + std::to_string(item.producer));
      return;
    }
    std::int64_t& expected = next_value[item.producer];
    if (item.value != expected) {
      fail(sequence, "producer " + std::to_string(item.producer) + " value " +
                         std::to_string(item.value) + ", expected " + std::to_string(expected));
    }
    expected = item.value + 1;
    item.stamps[static_cast<std::size_t>(index)] = sequence;
  }

  void fail(std::int64_t sequence, const std::string& what) {
    if (errors++ == 0) {
      first_error = "stage " + std::to_string(index) + " at sequence " + std::to_string(sequence) +
                    ": " + what;
    }
  }
};

struct ItemHandler {
  Checks checks;
  void on_batch(BatchView<Item> batch) {
    for (auto it = batch.begin(); it != batch.end(); ++it) checks.check(it.sequence(), *it);
  }
};

enum class Topology { k1P1C, k1P3Stage, k3P1C, kDiamond };

struct Shape {
  int producers;
  std::vector<std::vector<int>> upstream;  // per stage: the stages it waits for (empty: sequencer)
  std::vector<int> terminal;
};

Shape shape_of(Topology t) {
  switch (t) {
    case Topology::k1P1C: return {1, {{}}, {0}};
    case Topology::k1P3Stage: return {1, {{}, {0}, {1}}, {2}};
    case Topology::k3P1C: return {3, {{}}, {0}};
    case Topology::kDiamond: return {1, {{}, {}, {0, 1}}, {2}};
  }
  return {};
}

// A layout drawn from the seed, among those valid for the wait strategy.
template <class W>
ThreadLayout draw_layout(const std::vector<std::string>& names, std::mt19937_64& rng) {
  const std::size_t max_threads =
      W::kSpinsWithoutBound ? std::min(names.size(), usable_cpu_count()) : names.size();
  return ThreadLayout::spread(names, 1 + rng() % max_threads);
}

std::string describe(std::uint64_t seed, const ThreadLayout& layout) {
  std::ostringstream out;
  out << "seed " << seed << " (replay: LOCKSTEP_SEED=" << seed << "), layout '"
      << layout.to_string() << "'";
  return out.str();
}

// Producers write the ring directly through the sequencer under test.
template <class Sequencer, class W>
void run_direct(Topology topology) {
  const std::uint64_t seed = test_seed();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Shape shape = shape_of(topology);
  const std::int64_t per_producer = items_per_producer();
  const std::int64_t capacity = std::int64_t{1} << (4 + rng() % 4);  // 16..128 slots

  W wait;
  RingBuffer<Item> ring(capacity);
  Sequencer sequencer(capacity, wait);
  Pipeline<W> pipeline(wait);
  using Runner = StageRunner<Sequencer, Item, ItemHandler>;
  std::vector<Runner*> stages;
  for (std::size_t k = 0; k < shape.upstream.size(); ++k) {
    std::vector<const Sequence*> upstream;
    for (int u : shape.upstream[k])
      upstream.push_back(&stages[static_cast<std::size_t>(u)]->sequence());
    Checks checks{static_cast<int>(k),
                  shape.upstream[k],
                  std::vector<std::int64_t>(static_cast<std::size_t>(shape.producers), 0),
                  0,
                  {}};
    stages.push_back(&pipeline.add(std::make_unique<Runner>(
        "stage" + std::to_string(k), ring, sequencer, upstream, ItemHandler{std::move(checks)})));
  }
  for (int t : shape.terminal)
    sequencer.add_gating_sequence(stages[static_cast<std::size_t>(t)]->sequence());

  const ThreadLayout layout = draw_layout<W>(pipeline.stage_names(), rng);
  SCOPED_TRACE(describe(seed, layout));
  pipeline.start(layout);

  std::vector<std::thread> producers;
  std::atomic<int> producer_failures{0};
  for (int p = 0; p < shape.producers; ++p) {
    producers.emplace_back([&, p, producer_seed = rng()] {
      std::mt19937_64 local(producer_seed);
      for (std::int64_t sent = 0; sent < per_producer;) {
        const std::int64_t n = std::min<std::int64_t>(
            per_producer - sent,
            1 + static_cast<std::int64_t>(local() % std::min<std::int64_t>(8, capacity)));
        const Claim claim = sequencer.claim(n, SteadyClock::now() + 60s);
        if (!claim) {
          producer_failures.fetch_add(1);
          return;
        }
        for (std::int64_t s = claim.first; s <= claim.last; ++s) {
          Item& item = ring[s];
          item.value = sent++;
          item.producer = static_cast<std::uint32_t>(p);
        }
        sequencer.publish(claim.first, claim.last);
      }
    });
  }
  for (std::thread& t : producers) t.join();
  ASSERT_EQ(producer_failures.load(), 0) << "a producer's claim timed out: the ring never drained";
  const std::int64_t last = per_producer * shape.producers - 1;
  const bool drained = pipeline.wait_until_processed(last, SteadyClock::now() + 60s);
  pipeline.stop();
  ASSERT_TRUE(drained) << "stages stopped short of sequence " << last;

  for (Runner* stage : stages) {
    const Checks& checks = stage->handler().checks;
    EXPECT_EQ(checks.errors, 0) << checks.first_error;
    for (int p = 0; p < shape.producers; ++p) {
      EXPECT_EQ(checks.next_value[static_cast<std::size_t>(p)], per_producer)
          << stage->name() << " missed items of producer " << p;
    }
    EXPECT_EQ(stage->sequence().get(), last);
  }
}

// Three producers through the bounded ingress; the ingest stage is the single producer
// of the ring; one stage consumes. This is how lockstep's engine takes commands.
template <class W>
void run_through_ingress() {
  const std::uint64_t seed = test_seed();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kProducers = 3;
  constexpr std::size_t kBatch = 8;
  using Slot = Batch<Item, kBatch>;
  using Sequencer = SingleProducerSequencer<W>;
  const std::int64_t per_producer = items_per_producer();
  const std::int64_t capacity = std::int64_t{1} << (3 + rng() % 4);

  struct BatchChecks {
    Checks checks;
    std::atomic<std::int64_t>* consumed;  // seq_cst: the test thread parks on it
    void on_batch(BatchView<Slot> batch) {
      for (auto it = batch.begin(); it != batch.end(); ++it) {
        Slot& slot = *it;
        if (slot.count == 0 || slot.count > kBatch) checks.fail(it.sequence(), "bad slot count");
        for (std::uint32_t i = 0; i < slot.count && i < kBatch; ++i) {
          checks.check(it.sequence(), slot.items[i]);
        }
        consumed->fetch_add(slot.count, std::memory_order_seq_cst);
      }
    }
  };

  W wait;
  std::atomic<std::int64_t> consumed{0};
  RingBuffer<Slot> ring(capacity);
  Sequencer sequencer(capacity, wait);
  Ingress<Item, W> ingress(static_cast<std::size_t>(16 + rng() % 256), kProducers, wait);
  Pipeline<W> pipeline(wait);
  pipeline.add(std::make_unique<IngestStage<Item, kBatch, W>>("ingest", ingress, ring, sequencer));
  using Runner = StageRunner<Sequencer, Slot, BatchChecks>;
  auto& consumer = pipeline.add(std::make_unique<Runner>(
      "consume", ring, sequencer, std::span<const Sequence* const>{},
      BatchChecks{Checks{0, {}, std::vector<std::int64_t>(kProducers, 0), 0, {}}, &consumed}));
  sequencer.add_gating_sequence(consumer.sequence());
  const ThreadLayout layout = draw_layout<W>(pipeline.stage_names(), rng);
  SCOPED_TRACE(describe(seed, layout));
  pipeline.start(layout);

  std::vector<std::thread> producers;
  std::atomic<int> producer_failures{0};
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p, producer_seed = rng()] {
      std::mt19937_64 local(producer_seed);
      auto token = ingress.make_producer();
      std::array<Item, 8> burst{};
      for (std::int64_t sent = 0; sent < per_producer;) {
        const auto n = static_cast<std::size_t>(std::min<std::int64_t>(
            per_producer - sent, 1 + static_cast<std::int64_t>(local() % 8)));
        for (std::size_t i = 0; i < n; ++i) {
          burst[i] = Item{sent + static_cast<std::int64_t>(i), static_cast<std::uint32_t>(p), {}};
        }
        if (ingress.submit_bulk(token, burst.data(), n, SteadyClock::now() + 60s) !=
            SubmitStatus::kOk) {
          producer_failures.fetch_add(1);
          return;
        }
        sent += static_cast<std::int64_t>(n);
      }
    });
  }
  for (std::thread& t : producers) t.join();
  ASSERT_EQ(producer_failures.load(), 0) << "a submit timed out: the ingress never drained";
  // Counted at the consumer: the ingress can be empty while the ingest stage still holds
  // the last commands in a slot it has not yet published.
  const bool drained = wait.wait_until(
      [&] { return consumed.load(std::memory_order_seq_cst) == per_producer * kProducers; },
      SteadyClock::now() + 60s);
  pipeline.stop();
  ASSERT_TRUE(drained);
  const Checks& checks = consumer.handler().checks;
  EXPECT_EQ(checks.errors, 0) << checks.first_error;
  for (int p = 0; p < kProducers; ++p) {
    EXPECT_EQ(checks.next_value[static_cast<std::size_t>(p)], per_producer)
        << "consumer missed items of producer " << p;
  }
}

template <class S, class W>
struct Config {
  using Sequencer = S;
  using Wait = W;
};

template <class C>
class PipelineStress : public ::testing::Test {};

using Configs = ::testing::Types<Config<SingleProducerSequencer<BusySpinWait>, BusySpinWait>,
                                 Config<SingleProducerSequencer<YieldingWait>, YieldingWait>,
                                 Config<SingleProducerSequencer<BlockingWait>, BlockingWait>,
                                 Config<SingleProducerSequencer<HybridWait>, HybridWait>,
                                 Config<MultiProducerSequencer<BusySpinWait>, BusySpinWait>,
                                 Config<MultiProducerSequencer<YieldingWait>, YieldingWait>,
                                 Config<MultiProducerSequencer<BlockingWait>, BlockingWait>,
                                 Config<MultiProducerSequencer<HybridWait>, HybridWait>>;

class ConfigNames {
 public:
  template <class C>
  static std::string GetName(int) {
    return std::string(C::Sequencer::kMultiProducer ? "MultiProducer_" : "SingleProducer_") +
           std::string(C::Wait::kName == "busy-spin" ? "BusySpin"
                       : C::Wait::kName == "yield"   ? "Yield"
                       : C::Wait::kName == "block"   ? "Block"
                                                     : "Hybrid");
  }
};

TYPED_TEST_SUITE(PipelineStress, Configs, ConfigNames);

TYPED_TEST(PipelineStress, OneProducerOneConsumerGetsEveryItemOnceInOrder) {
  run_direct<typename TypeParam::Sequencer, typename TypeParam::Wait>(Topology::k1P1C);
}

TYPED_TEST(PipelineStress, AThreeStagePipelineNeverLetsAStageOvertakeItsUpstream) {
  run_direct<typename TypeParam::Sequencer, typename TypeParam::Wait>(Topology::k1P3Stage);
}

TYPED_TEST(PipelineStress, ADiamondJoinWaitsForBothBranches) {
  run_direct<typename TypeParam::Sequencer, typename TypeParam::Wait>(Topology::kDiamond);
}

TYPED_TEST(PipelineStress, ThreeProducersOneConsumerKeepsEachProducersOrder) {
  if constexpr (TypeParam::Sequencer::kMultiProducer) {
    run_direct<typename TypeParam::Sequencer, typename TypeParam::Wait>(Topology::k3P1C);
  } else {
    run_through_ingress<typename TypeParam::Wait>();
  }
}

}  // namespace
}  // namespace lockstep
