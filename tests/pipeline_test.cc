// Pipeline assembly: construction refusals, and one end-to-end run of ingress ->
// ingest -> two stages with metrics.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "pipeline/hybrid_wait.h"
#include "pipeline/ingest_stage.h"
#include "pipeline/stage_runner.h"

namespace lockstep {
namespace {

using namespace std::chrono_literals;

using Slot = Batch<std::uint64_t, 4>;
using Sequencer = SingleProducerSequencer<HybridWait>;

struct Doubler {
  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) slot.items[i] *= 2;
    }
  }
};

struct Collector {
  std::vector<std::uint64_t>* out;
  std::atomic<std::uint64_t>* seen;  // seq_cst: the test thread parks on it
  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) out->push_back(slot.items[i]);
      seen->fetch_add(slot.count, std::memory_order_seq_cst);
    }
  }
};

// A stage that does nothing, for the refusal tests.
class IdleStage final : public Stage {
 public:
  explicit IdleStage(std::string name) : Stage(std::move(name)) {}
  std::int64_t poll() override { return 0; }
  bool has_work() const override { return false; }
  const Sequence& sequence() const noexcept override { return sequence_; }

 private:
  Sequence sequence_;
};

TEST(Pipeline, RefusesTwoStagesWithTheSameName) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  pipeline.add(std::make_unique<IdleStage>("execute"));
  EXPECT_THROW(pipeline.add(std::make_unique<IdleStage>("execute")), std::invalid_argument);
}

TEST(Pipeline, RefusesMoreStagesThanTheLimit) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  for (std::size_t i = 0; i < kStagesMax; ++i) {
    pipeline.add(std::make_unique<IdleStage>("s" + std::to_string(i)));
  }
  EXPECT_THROW(pipeline.add(std::make_unique<IdleStage>("one-more")), std::invalid_argument);
}

TEST(Pipeline, RefusesToStartWithZeroStages) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  EXPECT_THROW(pipeline.start(ThreadLayout::parse("a")), std::invalid_argument);
  EXPECT_FALSE(pipeline.running());
}

TEST(Pipeline, RefusesALayoutNamingAMissingStageAndStartsNothing) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  pipeline.add(std::make_unique<IdleStage>("ingest"));
  EXPECT_THROW(pipeline.start(ThreadLayout::parse("ingest|publish")), std::invalid_argument);
  EXPECT_FALSE(pipeline.running());
}

TEST(Pipeline, LooksUpStagesByNameAndRefusesUnknownOnes) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  pipeline.add(std::make_unique<IdleStage>("ingest"));
  EXPECT_EQ(pipeline.stage("ingest").name(), "ingest");
  EXPECT_THROW(pipeline.stage("journal"), std::invalid_argument);
}

TEST(Pipeline, WaitUntilProcessedTimesOutWhenNothingMoves) {
  HybridWait wait;
  Pipeline<HybridWait> pipeline(wait);
  pipeline.add(std::make_unique<IdleStage>("idle"));
  pipeline.start(ThreadLayout::single_thread(pipeline.stage_names()));
  EXPECT_FALSE(pipeline.wait_until_processed(0, SteadyClock::now() + 5ms));
  pipeline.stop();
  pipeline.stop();  // idempotent
  EXPECT_FALSE(pipeline.running());
}

TEST(Pipeline, CarriesIngressCommandsThroughEveryStageInOrder) {
  HybridWait wait;
  RingBuffer<Slot> ring(16);
  Sequencer sequencer(16, wait);
  Ingress<std::uint64_t, HybridWait> ingress(64, 1, wait);
  std::vector<std::uint64_t> out;
  std::atomic<std::uint64_t> seen{0};

  Pipeline<HybridWait> pipeline(wait);
  auto& ingest = pipeline.add(std::make_unique<IngestStage<std::uint64_t, 4, HybridWait>>(
      "ingest", ingress, ring, sequencer));
  auto& doubler = pipeline.add(std::make_unique<StageRunner<Sequencer, Slot, Doubler>>(
      "double", ring, sequencer, std::span<const Sequence* const>{}, Doubler{}));
  const Sequence* after_double = &doubler.sequence();
  auto& collector = pipeline.add(std::make_unique<StageRunner<Sequencer, Slot, Collector>>(
      "collect", ring, sequencer, std::span<const Sequence* const>(&after_double, 1),
      Collector{&out, &seen}));
  sequencer.add_gating_sequence(collector.sequence());
  pipeline.start(ThreadLayout::parse("ingest|double,collect"));

  auto producer = ingress.make_producer();
  constexpr std::uint64_t kCommands = 1000;
  for (std::uint64_t i = 0; i < kCommands; ++i) {
    ASSERT_EQ(ingress.submit(producer, i, SteadyClock::now() + 10s), SubmitStatus::kOk);
  }
  ASSERT_TRUE(wait.wait_until([&] { return seen.load(std::memory_order_seq_cst) == kCommands; },
                              SteadyClock::now() + 30s));
  pipeline.stop();

  ASSERT_EQ(out.size(), kCommands);
  for (std::uint64_t i = 0; i < kCommands; ++i) EXPECT_EQ(out[i], 2 * i);
  const auto batches = collector.metrics().batch_slots.snapshot();
  EXPECT_GT(batches.total_count(), 0);
  const auto latency = collector.metrics().command_latency_ns.snapshot();
  EXPECT_EQ(latency.total_count(), static_cast<std::int64_t>(kCommands));
  EXPECT_EQ(collector.metrics().slot_latency_ns.snapshot().total_count(),
            ingest.sequence().get() + 1);
}

}  // namespace
}  // namespace lockstep
