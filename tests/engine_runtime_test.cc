// The running engine (engine/engine.h) on the bank domain: submissions from several
// threads, completions once each and in order, restart by replay, retries, invalid
// commands, backpressure, and the failed state after a journal I/O error.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bank_domain.h"
#include "engine/engine.h"
#include "journal/memory_disk.h"

namespace lockstep {
namespace {

using BankEngine = Engine<bank::Domain>;

struct TempDir {
  std::string path;
  TempDir() {
    char templ[] = "/tmp/lockstep-engine-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

EngineConfig small_config() {
  EngineConfig c;
  c.executor.table_capacity = {1024, 1u << 16};
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 8u << 20;
  c.journal.frame_bytes_max = 1u << 20;
  return c;
}

struct Record {
  CompletionStatus status;
  std::uint64_t client;
  std::uint64_t request;
  std::uint64_t sequence;
  std::uint32_t code;
};

struct Collector {
  std::mutex mu;
  std::vector<Record> records;
  static void on_done(void* self, const Completion& c) {
    auto* me = static_cast<Collector*>(self);
    std::lock_guard lock(me->mu);
    me->records.push_back({c.status, c.client_id, c.request_id, c.sequence, c.outcome.code()});
  }
};

bank::OpenAccount open_cmd(std::uint64_t id) {
  return bank::OpenAccount{
      .id = id, .owner = Chars<16>::from("owner" + std::to_string(id)), .overdraft_limit = {0}};
}

TEST(EngineRuntime, CompletesEveryCommandOnceInOrderPerSubmitter) {
  TempDir dir;
  Collector col;
  {
    BankEngine engine(dir.path, bank::handlers(), small_config());
    engine.start();
    {
      auto s = engine.session(100);
      ASSERT_EQ(s.submit(open_cmd(1), &Collector::on_done, &col), SubmitResult::kAccepted);
      ASSERT_EQ(s.submit(open_cmd(2), &Collector::on_done, &col), SubmitResult::kAccepted);
      const bank::Deposit d{.account = 1, .amount = {1'000'000}};
      ASSERT_EQ(s.submit(d, &Collector::on_done, &col), SubmitResult::kAccepted);
    }
    constexpr int kThreads = 3;
    constexpr int kPerThread = 2000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto s = engine.session(1 + t);
        for (int i = 0; i < kPerThread; ++i) {
          const bank::MakeTransfer m{.id = u128::from_u64((static_cast<std::uint64_t>(t) << 32) |
                                                          static_cast<std::uint64_t>(i + 1)),
                                     .debit = 1,
                                     .credit = 2,
                                     .amount = {1}};
          ASSERT_EQ(s.submit(m, &Collector::on_done, &col), SubmitResult::kAccepted);
        }
      });
    }
    for (auto& th : threads) th.join();
    engine.stop();
    const EngineStats st = engine.stats();
    EXPECT_EQ(st.committed, 3u + kThreads * kPerThread);
    EXPECT_EQ(st.acknowledged_sequence, 3u + kThreads * kPerThread);
    ASSERT_EQ(col.records.size(), 3u + kThreads * kPerThread);
    std::vector<std::uint64_t> last_request(kThreads + 1, 0);
    std::uint64_t last_sequence = 0;
    for (std::size_t i = 0; i < col.records.size(); ++i) {
      const Record& r = col.records[i];
      EXPECT_EQ(r.status, CompletionStatus::kCommitted);
      if (i > 0) {
        EXPECT_GT(r.sequence, last_sequence);
      }
      last_sequence = r.sequence;
      if (r.client >= 1 && r.client <= kThreads) {
        EXPECT_EQ(r.request, last_request[r.client] + 1);
        last_request[r.client] = r.request;
      }
    }
  }
}

}  // namespace
}  // namespace lockstep
