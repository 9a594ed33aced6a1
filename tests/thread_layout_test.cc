#include "pipeline/thread_layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lockstep {
namespace {

const std::vector<std::string> kStages = {"ingest", "sequence", "execute", "journal", "publish"};

std::string refusal(const ThreadLayout& layout, const std::vector<std::string>& stages,
                    bool spin = false) {
  try {
    layout.validate(stages, spin);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ThreadLayout, SpreadGivesEachThreadAContiguousRunOfStages) {
  const ThreadLayout layout = ThreadLayout::spread(kStages, 2);
  ASSERT_EQ(layout.threads.size(), 2u);
  EXPECT_EQ(layout.threads[0].stages, (std::vector<std::string>{"ingest", "sequence", "execute"}));
  EXPECT_EQ(layout.threads[1].stages, (std::vector<std::string>{"journal", "publish"}));
  EXPECT_EQ(refusal(layout, kStages), "");
}

TEST(ThreadLayout, SpreadNeverMakesMoreThreadsThanStages) {
  EXPECT_EQ(ThreadLayout::spread(kStages, 64).threads.size(), kStages.size());
}

TEST(ThreadLayout, DefaultUsesNoMoreThreadsThanUsableCpus) {
  const ThreadLayout layout = ThreadLayout::default_for(kStages);
  EXPECT_LE(layout.threads.size(), usable_cpu_count());
  EXPECT_EQ(refusal(layout, kStages), "");
}

TEST(ThreadLayout, SingleThreadRunsEveryStageInOrder) {
  const ThreadLayout layout = ThreadLayout::single_thread(kStages);
  ASSERT_EQ(layout.threads.size(), 1u);
  EXPECT_EQ(layout.threads[0].stages, kStages);
}

TEST(ThreadLayout, ParsesThreadsStagesAndCpus) {
  const ThreadLayout layout = ThreadLayout::parse("ingest,sequence@0|execute@0+1|journal,publish");
  ASSERT_EQ(layout.threads.size(), 3u);
  EXPECT_EQ(layout.threads[0].stages, (std::vector<std::string>{"ingest", "sequence"}));
  EXPECT_EQ(layout.threads[0].cpus, (std::vector<int>{0}));
  EXPECT_EQ(layout.threads[1].cpus, (std::vector<int>{0, 1}));
  EXPECT_TRUE(layout.threads[2].cpus.empty());
  EXPECT_EQ(layout.to_string(), "ingest,sequence@0|execute@0+1|journal,publish");
}

TEST(ThreadLayout, ParseRefusesMalformedText) {
  EXPECT_THROW(ThreadLayout::parse(""), std::invalid_argument);
  EXPECT_THROW(ThreadLayout::parse("a,,b"), std::invalid_argument);
  EXPECT_THROW(ThreadLayout::parse("a|"), std::invalid_argument);
  EXPECT_THROW(ThreadLayout::parse("a@x"), std::invalid_argument);
  EXPECT_THROW(ThreadLayout::parse("a@-1"), std::invalid_argument);
}

TEST(ThreadLayout, RefusesAPipelineWithZeroStages) {
  EXPECT_EQ(refusal(ThreadLayout::parse("a"), {}), "thread layout: the pipeline has no stages");
}

TEST(ThreadLayout, RefusesALayoutWithNoThreads) {
  EXPECT_EQ(refusal(ThreadLayout{}, kStages), "thread layout: no threads");
}

TEST(ThreadLayout, RefusesAThreadThatRunsNoStage) {
  ThreadLayout layout = ThreadLayout::single_thread(kStages);
  layout.threads.push_back({"empty", {}, {}});
  EXPECT_EQ(refusal(layout, kStages), "thread layout: thread 'empty' runs no stage");
}

TEST(ThreadLayout, RefusesALayoutThatNamesAMissingStage) {
  const ThreadLayout layout = ThreadLayout::parse("ingest,sequence,execute,journal,publish,audit");
  EXPECT_EQ(refusal(layout, kStages),
            "thread layout: thread 'ls-ingest' names stage 'audit', which the pipeline does not "
            "have");
}

TEST(ThreadLayout, RefusesAStageAssignedTwice) {
  const ThreadLayout layout =
      ThreadLayout::parse("ingest,sequence,execute|execute,journal,publish");
  EXPECT_EQ(refusal(layout, kStages), "thread layout: stage 'execute' is assigned twice");
}

TEST(ThreadLayout, RefusesAStageLeftWithoutAThread) {
  const ThreadLayout layout = ThreadLayout::parse("ingest,sequence,execute,journal");
  EXPECT_EQ(refusal(layout, kStages),
            "thread layout: stage 'publish' is not assigned to any thread");
}

TEST(ThreadLayout, RefusesACpuThisProcessMayNotUse) {
  const ThreadLayout layout = ThreadLayout::parse("ingest,sequence,execute,journal,publish@4000");
  EXPECT_NE(refusal(layout, kStages).find("pinned to CPU 4000"), std::string::npos);
}

TEST(ThreadLayout, RefusesMoreBusySpinningThreadsThanCpus) {
  const ThreadLayout layout = ThreadLayout::spread(kStages, usable_cpu_count() + 1);
  if (layout.threads.size() <= usable_cpu_count()) GTEST_SKIP() << "more CPUs than stages";
  EXPECT_NE(refusal(layout, kStages, true).find("busy-spinning threads"), std::string::npos);
  EXPECT_EQ(refusal(layout, kStages, false), "");
}

TEST(ThreadLayout, AllowsSpinOversubscriptionOnlyWhenAskedTo) {
  ThreadLayout layout = ThreadLayout::spread(kStages, usable_cpu_count() + 1);
  if (layout.threads.size() <= usable_cpu_count()) GTEST_SKIP() << "more CPUs than stages";
  layout.allow_spin_oversubscription = true;
  EXPECT_EQ(refusal(layout, kStages, true), "");
}

TEST(ThreadLayout, ReportsAtLeastOneUsableCpu) { EXPECT_GE(usable_cpu_count(), 1u); }

}  // namespace
}  // namespace lockstep
