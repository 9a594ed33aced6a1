// The running engine (runtime/engine.h) on the bank domain: submissions from several
// threads, completions once each and in order, restart by replay, retries, invalid
// commands, backpressure, and the failed state after a journal I/O error; journals it
// refuses to open, bad configurations, subscribers, linked chains through the ingest
// stage, and a seeded model-based stress test (LOCKSTEP_SEED=n replays a seed).
//
// Some tests began as demonstrations of engine bugs (now fixed); they guard against their return.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bank_domain.h"
#include "engine/tx_result.h"
#include "journal/format.h"
#include "journal/memory_disk.h"
#include "journal/segment_header.h"
#include "ledger_domain.h"
#include "runtime/engine.h"

namespace lockstep {

// Readable gtest messages for the engine's result enums.
inline void PrintTo(CompletionStatus s, std::ostream* os) { *os << to_string(s); }
inline void PrintTo(SubmitResult r, std::ostream* os) { *os << to_string(r); }

namespace {

using BankEngine = Engine<bank::Domain>;
using Request = BankEngine::Session::Request;
using journal::MemoryDisk;
using namespace std::chrono_literals;

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

// For a journal::MemoryDisk: smaller segments (the disk keeps them in memory, twice).
// For tests that plan faults on the MemoryDisk between commands: no idle markers, so the
// journal thread makes no system call after an acknowledgement (a marker would race with
// the test thread's fault planning). Markers are tested on their own below.
EngineConfig memory_config() {
  EngineConfig c = small_config();
  c.journal.segment_bytes = 2u << 20;
  c.journal.idle_markers = false;
  return c;
}

struct Record {
  CompletionStatus status = CompletionStatus::kFailed;
  std::uint64_t client = 0;
  std::uint64_t request = 0;
  std::uint64_t sequence = kNoSequence;
  std::uint32_t code = 0;
  std::uint32_t detail = 0;
  std::int64_t logical_time_ns = 0;
  std::vector<std::byte> result;
};

// Completions, in the order the publish thread delivers them; the test thread waits for
// a count.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Record> records;

  static void on_done(void* self, const Completion& c) {
    auto* me = static_cast<Collector*>(self);
    Record r{c.status,          c.client_id,
             c.request_id,      c.sequence,
             c.outcome.code(),  c.outcome.detail(),
             c.logical_time_ns, {c.result.begin(), c.result.end()}};
    // Notified under the lock: a waiter that sees the record may destroy the collector
    // as soon as it has the lock back.
    std::lock_guard lock(me->mu);
    me->records.push_back(std::move(r));
    me->cv.notify_all();
  }
  // Waits up to `timeout` for `n` completions in all.
  [[nodiscard]] bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return records.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return records.size();
  }
  std::vector<Record> snapshot() {
    std::lock_guard lock(mu);
    return records;
  }
};

bank::OpenAccount open_cmd(std::uint64_t id, std::int64_t overdraft = 0) {
  return bank::OpenAccount{.id = id,
                           .owner = Chars<16>::from("owner" + std::to_string(id)),
                           .overdraft_limit = {overdraft}};
}
bank::Deposit deposit_cmd(std::uint64_t account, std::int64_t amount) {
  return {.account = account, .amount = {amount}};
}
bank::Withdraw withdraw_cmd(std::uint64_t account, std::int64_t amount) {
  return {.account = account, .amount = {amount}};
}
bank::MakeTransfer transfer_cmd(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                                std::int64_t amount) {
  return {.id = u128::from_u64(id), .debit = debit, .credit = credit, .amount = {amount}};
}

std::uint32_t code_of(bank::Reject r) { return static_cast<std::uint32_t>(r); }
std::uint32_t code_of(EngineReject r) { return static_cast<std::uint32_t>(r); }

// Submits one command and waits for its completion. REQUIRES: nothing else is being
// submitted to the engine meanwhile (the completion is then the next one delivered).
template <class C>
Record run_one(BankEngine::Session& s, const C& c, Collector& col, std::uint64_t request_id = 0) {
  const std::size_t before = col.size();
  const SubmitResult r = s.submit(c, &Collector::on_done, &col, kNoDeadline, request_id);
  EXPECT_EQ(r, SubmitResult::kAccepted);
  if (r != SubmitResult::kAccepted) return Record{};
  EXPECT_TRUE(col.wait_for(before + 1));
  const std::vector<Record> all = col.snapshot();
  return all.size() > before ? all[before] : Record{};
}

Record run_raw(BankEngine::Session& s, std::uint16_t kind, std::span<const std::byte> payload,
               Collector& col) {
  const std::size_t before = col.size();
  const SubmitResult r = s.submit(kind, payload, &Collector::on_done, &col);
  EXPECT_EQ(r, SubmitResult::kAccepted);
  if (r != SubmitResult::kAccepted) return Record{};
  EXPECT_TRUE(col.wait_for(before + 1));
  const std::vector<Record> all = col.snapshot();
  return all.size() > before ? all[before] : Record{};
}

// A bulk submission that owns its payloads.
class Bulk {
 public:
  explicit Bulk(Collector& col) : col_(col) {}
  Bulk(const Bulk&) = delete;  // the requests point into this bulk's own storage
  Bulk(Bulk&&) = default;      // a deque's elements stay where they are
  template <class C>
  Bulk& add(const C& c, bool linked = false, std::uint64_t request_id = 0) {
    return add_raw(C::kKind, std::as_bytes(std::span(&c, 1)), linked, request_id);
  }
  Bulk& add_raw(std::uint16_t kind, std::span<const std::byte> payload, bool linked = false,
                std::uint64_t request_id = 0) {
    const std::vector<std::byte>& bytes = storage_.emplace_back(payload.begin(), payload.end());
    requests_.push_back(
        Request{kind, std::span(bytes), &Collector::on_done, &col_, linked, request_id});
    return *this;
  }
  std::span<const Request> requests() const { return requests_; }
  std::size_t size() const { return requests_.size(); }

 private:
  Collector& col_;
  std::deque<std::vector<std::byte>> storage_;  // a deque: the spans stay valid
  std::vector<Request> requests_;
};

// The balance of account `id`, or nullopt if there is none. The engine must be stopped.
std::optional<std::int64_t> balance(const BankEngine& e, std::uint64_t id) {
  const auto& t = std::get<0>(e.executor().tables());
  const std::uint32_t slot = t.slot_of(bank::detail_::Account_primary::make(id));
  if (slot == kNoSlot) return std::nullopt;
  return t.record(slot).balance.units;
}

// The syncs `disk` has made so far (writes' and the directory's): a copy is told to fail
// each of its next syncs with a distinct error code, syncs once, and the code it gets
// names that sync. (MemoryDisk::fail counts syncs from the disk's creation.) The engine
// must be idle: every submitted command completed.
std::uint64_t syncs_so_far(const MemoryDisk& disk) {
  MemoryDisk probe = disk;
  constexpr std::uint64_t kMax = 4096;
  for (std::uint64_t n = 1; n <= kMax; ++n) {
    probe.fail(MemoryDisk::Op::kSync, n, static_cast<int>(n));
  }
  const journal::IoStatus st = probe.sync_directory();
  EXPECT_FALSE(st.is_ok()) << "more than " << kMax << " syncs";
  return static_cast<std::uint64_t>(st.error_code()) - 1;
}

std::string lsj_file(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".lsj") return e.path().string();
  }
  return {};
}

std::string open_error(const std::function<void()>& open) {
  try {
    open();
  } catch (const EngineOpenError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not an EngineOpenError: ") + e.what();
  }
  return "opened";
}

// ---- Completion order -------------------------------------------------------------------

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
      // Sessions are ordered only among their own commands: the transfers below could be
      // sequenced before the accounts exist if they were not waited for.
      ASSERT_TRUE(col.wait_for(3));
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

// ---- Restart ----------------------------------------------------------------------------

TEST(EngineRuntime, RestartReplaysTheJournalToTheSameStateAndContinuesTheSequence) {
  TempDir dir;
  Collector col;
  StateHash hash;
  std::uint64_t next = 0;
  std::int64_t last_time = 0;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    EXPECT_EQ(e.recovery().entries, 0u);
    EXPECT_EQ(e.executor().next_sequence(), 0u);
    e.start();
    auto s = e.session(1);
    // One at a time: several frames.
    EXPECT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    EXPECT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
    EXPECT_EQ(run_one(s, deposit_cmd(1, 500), col).status, CompletionStatus::kCommitted);
    EXPECT_EQ(run_one(s, withdraw_cmd(2, 1), col).status, CompletionStatus::kRefused);
    // Then a burst.
    for (std::uint64_t i = 0; i < 40; ++i) {
      ASSERT_EQ(s.submit(transfer_cmd(i + 1, 1, 2, 3), &Collector::on_done, &col),
                SubmitResult::kAccepted);
    }
    e.stop();
    ASSERT_EQ(col.size(), 44u);
    next = e.executor().next_sequence();
    EXPECT_EQ(next, 44u);  // refused commands take a sequence too
    hash = e.executor().state_hash();
    EXPECT_EQ(e.executor().recompute_state_hash(), hash);
    EXPECT_EQ(balance(e, 1), 500 - 40 * 3);
    EXPECT_EQ(balance(e, 2), 40 * 3);
    last_time = col.snapshot().back().logical_time_ns;
  }
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    EXPECT_EQ(e.executor().next_sequence(), next);
    EXPECT_EQ(e.executor().state_hash(), hash);
    EXPECT_EQ(e.executor().recompute_state_hash(), hash);
    EXPECT_GE(e.recovery().frames, 5u);
    EXPECT_EQ(e.recovery().entries, next);
    EXPECT_FALSE(e.recovery().torn_tail);
    EXPECT_EQ(balance(e, 1), 500 - 40 * 3);
    EXPECT_EQ(balance(e, 2), 40 * 3);
    e.start();
    auto s = e.session(1);
    const Record r = run_one(s, deposit_cmd(2, 7), col, 1000);
    EXPECT_EQ(r.status, CompletionStatus::kCommitted);
    EXPECT_EQ(r.sequence, next);
    EXPECT_GT(r.logical_time_ns, last_time);
    e.stop();
    EXPECT_EQ(e.executor().next_sequence(), next + 1);
    hash = e.executor().state_hash();
  }
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    EXPECT_EQ(e.executor().next_sequence(), next + 1);
    EXPECT_EQ(e.executor().state_hash(), hash);
    EXPECT_EQ(e.recovery().entries, next + 1);
    EXPECT_EQ(balance(e, 2), 40 * 3 + 7);
  }
}

std::int64_t clock_at_5000() { return 5000; }
std::int64_t clock_at_10() { return 10; }

TEST(EngineRuntime, LogicalTimeKeepsIncreasingAcrossARestartEvenIfTheClockGoesBack) {
  TempDir dir;
  Collector col;
  EngineConfig c = small_config();
  c.clock = clock_at_5000;
  {
    BankEngine e(dir.path, bank::handlers(), c);
    e.start();
    auto s = e.session(1);
    EXPECT_EQ(run_one(s, open_cmd(1), col).logical_time_ns, 5000);
    EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col).logical_time_ns, 5001);
    EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col).logical_time_ns, 5002);
  }
  c.clock = clock_at_10;
  {
    BankEngine e(dir.path, bank::handlers(), c);
    e.start();
    auto s = e.session(1);
    EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col, 100).logical_time_ns, 5003);
  }
}

// ---- Retries ----------------------------------------------------------------------------

TEST(EngineRuntime, RetryOfARequestIdIsADuplicateWithTheOriginalSequence) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(7);
  EXPECT_EQ(run_one(s, open_cmd(1), col).sequence, 0u);
  const Record first = run_one(s, deposit_cmd(1, 100), col, 10);
  EXPECT_EQ(first.status, CompletionStatus::kCommitted);
  EXPECT_EQ(first.sequence, 1u);
  const Record retry = run_one(s, deposit_cmd(1, 100), col, 10);
  EXPECT_EQ(retry.status, CompletionStatus::kDuplicate);
  EXPECT_EQ(retry.sequence, first.sequence);
  EXPECT_EQ(retry.request, 10u);
  EXPECT_TRUE(retry.result.empty());
  // The next request id without one given is past the highest used.
  EXPECT_EQ(s.next_request_id(), 11u);
  const Record next = run_one(s, deposit_cmd(1, 100), col);
  EXPECT_EQ(next.status, CompletionStatus::kCommitted);
  EXPECT_EQ(next.request, 11u);
  EXPECT_EQ(next.sequence, 2u);  // the duplicate took no sequence
  e.stop();
  EXPECT_EQ(balance(e, 1), 200);
  EXPECT_EQ(e.executor().next_sequence(), 3u);
  EXPECT_EQ(e.stats().duplicates, 1u);
  EXPECT_EQ(e.stats().committed, 3u);
}

TEST(EngineRuntime, ALowerRequestIdIsADuplicateReportingTheNewestSequence) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(7);
  EXPECT_EQ(run_one(s, open_cmd(1), col, 5).status, CompletionStatus::kCommitted);
  EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col, 10).sequence, 1u);
  EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col, 11).sequence, 2u);
  for (const std::uint64_t old : {10u, 6u, 5u, 1u}) {
    const Record r = run_one(s, deposit_cmd(1, 1), col, old);
    EXPECT_EQ(r.status, CompletionStatus::kDuplicate) << old;
    EXPECT_EQ(r.sequence, 2u) << old;  // request 11's
    EXPECT_EQ(r.request, old);
  }
  e.stop();
  EXPECT_EQ(balance(e, 1), 2);
  EXPECT_EQ(e.stats().duplicates, 4u);
}

TEST(EngineRuntime, DuplicatesAreDetectedWithinOneBulkToo) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(7);
  EXPECT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  Bulk b(col);
  b.add(deposit_cmd(1, 1), false, 20).add(deposit_cmd(1, 1), false, 20);
  b.add(deposit_cmd(1, 1), false, 19).add(deposit_cmd(1, 1), false, 21);
  ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[1].status, CompletionStatus::kCommitted);
  EXPECT_EQ(r[2].status, CompletionStatus::kDuplicate);
  EXPECT_EQ(r[2].sequence, r[1].sequence);
  EXPECT_EQ(r[3].status, CompletionStatus::kDuplicate);
  EXPECT_EQ(r[4].status, CompletionStatus::kCommitted);
  EXPECT_EQ(balance(e, 1), 2);
}

TEST(EngineRuntime, AnonymousClientZeroIsNeverDeduplicated) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(0);
  EXPECT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  const Record a = run_one(s, deposit_cmd(1, 100), col, 5);
  const Record b = run_one(s, deposit_cmd(1, 100), col, 5);
  const Record c = run_one(s, deposit_cmd(1, 100), col, 1);
  EXPECT_EQ(a.status, CompletionStatus::kCommitted);
  EXPECT_EQ(b.status, CompletionStatus::kCommitted);
  EXPECT_EQ(c.status, CompletionStatus::kCommitted);
  EXPECT_EQ(b.sequence, a.sequence + 1);
  EXPECT_EQ(c.sequence, b.sequence + 1);
  e.stop();
  EXPECT_EQ(balance(e, 1), 300);
  EXPECT_EQ(e.stats().duplicates, 0u);
}

TEST(EngineRuntime, RetryAfterARestartIsStillADuplicate) {
  TempDir dir;
  Collector col;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    auto s9 = e.session(9);
    auto s10 = e.session(10);
    EXPECT_EQ(run_one(s9, open_cmd(1), col, 1).sequence, 0u);
    EXPECT_EQ(run_one(s9, deposit_cmd(1, 100), col, 42).sequence, 1u);
    // A refused command is sequenced, so it counts for deduplication too.
    EXPECT_EQ(run_one(s10, deposit_cmd(99, 100), col, 3).status, CompletionStatus::kRefused);
  }
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    auto s9 = e.session(9);
    auto s10 = e.session(10);
    Record r = run_one(s9, deposit_cmd(1, 100), col, 42);
    EXPECT_EQ(r.status, CompletionStatus::kDuplicate);
    EXPECT_EQ(r.sequence, 1u);
    r = run_one(s9, deposit_cmd(1, 100), col, 41);
    EXPECT_EQ(r.status, CompletionStatus::kDuplicate);
    EXPECT_EQ(r.sequence, 1u);
    r = run_one(s10, deposit_cmd(99, 100), col, 3);
    EXPECT_EQ(r.status, CompletionStatus::kDuplicate);
    EXPECT_EQ(r.sequence, 2u);
    r = run_one(s9, deposit_cmd(1, 100), col, 43);
    EXPECT_EQ(r.status, CompletionStatus::kCommitted);
    EXPECT_EQ(r.sequence, 3u);
    e.stop();
    EXPECT_EQ(balance(e, 1), 200);
  }
}

TEST(EngineRuntime, ANewClientPastTheSessionTableCapacityIsInvalid) {
  TempDir dir;
  Collector col;
  EngineConfig c = small_config();
  c.sessions_max = 2;
  BankEngine e(dir.path, bank::handlers(), c);
  e.start();
  auto s1 = e.session(1);
  auto s2 = e.session(2);
  auto s3 = e.session(3);
  auto s0 = e.session(0);
  EXPECT_EQ(run_one(s1, open_cmd(1), col).status, CompletionStatus::kCommitted);
  EXPECT_EQ(run_one(s2, open_cmd(2), col).status, CompletionStatus::kCommitted);
  const Record r = run_one(s3, open_cmd(3), col);
  EXPECT_EQ(r.status, CompletionStatus::kInvalid);
  EXPECT_EQ(r.code, code_of(EngineReject::kCapacityExceeded));
  EXPECT_EQ(r.detail, kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kSessions));
  EXPECT_EQ(r.sequence, kNoSequence);
  // Known clients and the anonymous one go on.
  EXPECT_EQ(run_one(s1, deposit_cmd(1, 5), col).status, CompletionStatus::kCommitted);
  EXPECT_EQ(run_one(s0, deposit_cmd(2, 5), col).status, CompletionStatus::kCommitted);
  e.stop();
  EXPECT_FALSE(balance(e, 3).has_value());
  EXPECT_EQ(e.executor().next_sequence(), 4u);
  EXPECT_EQ(e.stats().invalid, 1u);
}

// ---- Invalid and refused commands -------------------------------------------------------

TEST(EngineRuntime, AnUnknownCommandKindIsInvalidAndTakesNoSequence) {
  TempDir dir;
  Collector col;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    auto s = e.session(1);
    const std::byte payload[16] = {};
    for (const std::uint16_t kind : {std::uint16_t{0}, std::uint16_t{13}, std::uint16_t{999}}) {
      const Record r = run_raw(s, kind, payload, col);
      EXPECT_EQ(r.status, CompletionStatus::kInvalid) << kind;
      EXPECT_EQ(r.code, code_of(EngineReject::kUnknownCommand)) << kind;
      EXPECT_EQ(r.detail, kind);
      EXPECT_EQ(r.sequence, kNoSequence);
      EXPECT_TRUE(r.result.empty());
    }
    EXPECT_EQ(run_one(s, open_cmd(1), col).sequence, 0u);  // no gap
    e.stop();
    EXPECT_EQ(e.stats().invalid, 3u);
    EXPECT_EQ(e.stats().committed, 1u);
  }
  BankEngine e(dir.path, bank::handlers(), small_config());
  EXPECT_EQ(e.recovery().entries, 1u);  // nothing of the invalid ones was journaled
  EXPECT_EQ(e.executor().next_sequence(), 1u);
}

TEST(EngineRuntime, APayloadOfTheWrongSizeIsMalformed) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  EXPECT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  const std::byte payload[BankEngine::kPayloadMax] = {};
  for (const std::size_t n : {std::size_t{0}, std::size_t{8}, std::size_t{24}}) {
    const Record r = run_raw(s, bank::Deposit::kKind, std::span(payload, n), col);
    EXPECT_EQ(r.status, CompletionStatus::kInvalid) << n;
    EXPECT_EQ(r.code, code_of(EngineReject::kMalformedCommand)) << n;
    EXPECT_EQ(r.detail, bank::Deposit::kKind);
    EXPECT_EQ(r.sequence, kNoSequence);
  }
  EXPECT_EQ(run_one(s, deposit_cmd(1, 3), col).sequence, 1u);
  e.stop();
  EXPECT_EQ(balance(e, 1), 3);
}

TEST(EngineRuntime, APayloadLargerThanAnyCommandIsRefusedAtSubmit) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  std::vector<std::byte> big(BankEngine::kPayloadMax + 1);
  EXPECT_EQ(s.submit(bank::Deposit::kKind, big, &Collector::on_done, &col), SubmitResult::kInvalid);
  // A bulk is all or nothing: one oversized request refuses it whole.
  Bulk b(col);
  b.add(open_cmd(1)).add_raw(bank::Deposit::kKind, big).add(open_cmd(2));
  EXPECT_EQ(s.submit_all(b.requests()), SubmitResult::kInvalid);
  e.stop();
  EXPECT_EQ(col.size(), 0u);
  EXPECT_EQ(e.executor().next_sequence(), 0u);
  EXPECT_EQ(e.completed(), 0u);
}

TEST(EngineRuntime, ABulkWhoseChainDoesNotEndOrIsTooLongIsRefusedAtSubmit) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  Bulk open_ended(col);
  open_ended.add(open_cmd(1)).add(open_cmd(2), true);
  EXPECT_EQ(s.submit_all(open_ended.requests()), SubmitResult::kInvalid);
  Bulk too_long(col);
  for (std::size_t i = 0; i < kBatchCommands; ++i) too_long.add(deposit_cmd(1, 1), true);
  too_long.add(deposit_cmd(1, 1), false);
  EXPECT_EQ(s.submit_all(too_long.requests()), SubmitResult::kInvalid);
  std::vector<Request> too_many(BankEngine::Session::kBulkMax + 1);
  EXPECT_EQ(s.submit_all(too_many), SubmitResult::kInvalid);
  e.stop();
  EXPECT_EQ(col.size(), 0u);
}

TEST(EngineRuntime, ACommandRefusedByItsHandlerIsJournaledAndSurvivesARestart) {
  TempDir dir;
  Collector col;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    auto s = e.session(4);
    const Record r = run_one(s, deposit_cmd(77, 100), col, 8);
    EXPECT_EQ(r.status, CompletionStatus::kRefused);
    EXPECT_EQ(r.code, code_of(bank::Reject::account_not_found));
    EXPECT_EQ(r.sequence, 0u);
    TxResultView v;
    std::string error;
    ASSERT_TRUE(decode_tx_result(r.result, &v, &error)) << error;
    EXPECT_EQ(v.command_sequence, 0u);
    EXPECT_EQ(v.outcome.code(), code_of(bank::Reject::account_not_found));
    EXPECT_EQ(v.client_id, 4u);
    EXPECT_EQ(v.request_id, 8u);
    EXPECT_TRUE(v.writes.empty());
    e.stop();
    EXPECT_EQ(e.stats().refused, 1u);
    EXPECT_EQ(e.stats().acknowledged_sequence, 1u);
  }
  BankEngine e(dir.path, bank::handlers(), small_config());
  EXPECT_EQ(e.recovery().entries, 1u);
  EXPECT_EQ(e.executor().next_sequence(), 1u);
  e.start();
  auto s = e.session(4);
  EXPECT_EQ(run_one(s, deposit_cmd(77, 100), col, 8).status, CompletionStatus::kDuplicate);
  EXPECT_EQ(run_one(s, open_cmd(77), col, 9).sequence, 1u);
}

// ---- Lifecycle --------------------------------------------------------------------------

TEST(EngineRuntime, SubmittingBeforeStartOrAfterStopIsRefusedAsStopped) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  auto s = e.session(1);
  EXPECT_EQ(s.submit(open_cmd(1), &Collector::on_done, &col), SubmitResult::kStopped);
  Bulk b(col);
  b.add(open_cmd(2)).add(open_cmd(3));
  EXPECT_EQ(s.submit_all(b.requests()), SubmitResult::kStopped);
  e.start();
  EXPECT_EQ(run_one(s, open_cmd(4), col).status, CompletionStatus::kCommitted);
  e.stop();
  EXPECT_EQ(s.submit(open_cmd(5), &Collector::on_done, &col), SubmitResult::kStopped);
  EXPECT_EQ(s.submit_all(b.requests()), SubmitResult::kStopped);
  e.stop();  // idempotent
  EXPECT_EQ(col.size(), 1u);
  EXPECT_EQ(e.executor().next_sequence(), 1u);
  EXPECT_EQ(balance(e, 4), 0);
  EXPECT_FALSE(balance(e, 1).has_value());
}

TEST(EngineRuntime, MisuseOfTheLifecycleThrows) {
  TempDir dir;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  EXPECT_THROW(e.start(), std::logic_error);
  EXPECT_THROW((void)e.executor(), std::logic_error);
  EXPECT_THROW(e.subscribe([](void*, std::uint64_t, std::span<const std::byte>) {}, nullptr),
               std::logic_error);
  e.stop();
  EXPECT_NO_THROW((void)e.executor());
}

TEST(EngineRuntime, SessionsPastProducersMaxAreRefused) {
  TempDir dir;
  EngineConfig c = small_config();
  c.producers_max = 2;
  BankEngine e(dir.path, bank::handlers(), c);
  auto a = e.session(1);
  auto b = e.session(2);
  EXPECT_THROW((void)e.session(3), std::invalid_argument);
}

// EngineConfig::producers_max is "sessions open at once". A closed session's producer
// must be reusable, or a server that opens a session per connection stops accepting
// clients after producers_max connections in its whole life.
TEST(EngineRuntime, ClosedSessionsReleaseTheirPlaceInProducersMax) {
  TempDir dir;
  Collector col;
  EngineConfig c = small_config();
  c.producers_max = 2;
  BankEngine e(dir.path, bank::handlers(), c);
  e.start();
  for (std::uint64_t client = 1; client <= 5; ++client) {
    try {
      auto s = e.session(client);
      EXPECT_EQ(run_one(s, open_cmd(client), col).status, CompletionStatus::kCommitted);
    } catch (const std::invalid_argument& ex) {
      ADD_FAILURE() << "session " << client << " (one open at a time): " << ex.what();
    }
  }
}

// ---- Backpressure -----------------------------------------------------------------------

// A completion callback that blocks the publish thread until the test releases it.
struct Blocker {
  std::latch entered{1};
  std::latch release{1};
  bool released = false;  // test thread only
  Collector* col = nullptr;

  // Lets the publish thread go on (once; also on the way out of a failed test, before
  // the engine's destructor waits for it).
  void open() {
    if (!released) release.count_down();
    released = true;
  }
  struct OpenOnExit {
    Blocker& b;
    ~OpenOnExit() { b.open(); }
  };
  static void on_done(void* self, const Completion& c) {
    auto* me = static_cast<Blocker*>(self);
    me->entered.count_down();
    me->release.wait();
    Collector::on_done(me->col, c);
  }
};

TEST(EngineRuntime, AStalledConsumerFillsTheIngressThenSubmitsAreBusyOrTimeOut) {
  TempDir dir;
  Collector col;
  Blocker blocker;
  blocker.col = &col;
  EngineConfig c = small_config();
  c.ingress_capacity = 4 * kBatchCommands;
  c.ring_slots = 2;
  BankEngine e(dir.path, bank::handlers(), c);
  e.start();
  const Blocker::OpenOnExit open_on_exit{blocker};
  auto s = e.session(1);
  std::set<std::uint64_t> accepted;
  accepted.insert(s.next_request_id());
  ASSERT_EQ(s.submit(open_cmd(1), &Blocker::on_done, &blocker), SubmitResult::kAccepted);
  blocker.entered.wait();  // the publish thread is stuck in the first completion
  // Fill the ring (2 slots: the blocked one and one more) and then the ingress. Once the
  // ingest stage has published the second slot it can claim no more, so a full ingress
  // stays full: fill until busy after that. (The ingest published the first slot, alone,
  // before the first completion; each publish records one batch_slots value.)
  const auto ingest_published_both = [&] {
    const EngineStats st = e.stats();
    return st.stages.at(0).batch_slots.total_count() >= 2;
  };
  SubmitResult last = SubmitResult::kAccepted;
  for (int i = 0; i < 5'000; ++i) {
    const bool settled = ingest_published_both();  // before the attempt: no drain after it
    const std::uint64_t id = s.next_request_id();
    last = s.submit(deposit_cmd(1, 1), &Collector::on_done, &col, SteadyClock::now());
    if (last == SubmitResult::kAccepted) {
      accepted.insert(id);
    } else if (settled) {
      break;
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
  ASSERT_EQ(last, SubmitResult::kBusy);
  ASSERT_EQ(e.stats().stages.at(0).name, "ingest");
  // Bounded: one in the blocked slot, at most a batch in the other, and the ingress.
  EXPECT_GE(accepted.size(), 1 + 1 + c.ingress_capacity);
  EXPECT_LE(accepted.size(), 1 + kBatchCommands + c.ingress_capacity);
  EXPECT_EQ(s.submit(deposit_cmd(1, 1), &Collector::on_done, &col, SteadyClock::now()),
            SubmitResult::kBusy);
  Bulk b(col);
  b.add(deposit_cmd(1, 1)).add(deposit_cmd(1, 1));
  EXPECT_EQ(s.submit_all(b.requests(), SteadyClock::now()), SubmitResult::kBusy);
  const auto t0 = SteadyClock::now();
  EXPECT_EQ(s.submit(deposit_cmd(1, 1), &Collector::on_done, &col, t0 + 20ms),
            SubmitResult::kTimedOut);
  EXPECT_GE(SteadyClock::now() - t0, 20ms);
  EXPECT_EQ(col.size(), 0u);
  blocker.open();
  e.stop();
  // Every accepted command completed exactly once; nothing refused ran.
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), accepted.size());
  std::set<std::uint64_t> seen;
  for (const Record& x : r) {
    EXPECT_EQ(x.status, CompletionStatus::kCommitted);
    EXPECT_TRUE(accepted.contains(x.request)) << x.request;
    EXPECT_TRUE(seen.insert(x.request).second) << "twice: " << x.request;
  }
  EXPECT_EQ(balance(e, 1), static_cast<std::int64_t>(accepted.size()) - 1);
  EXPECT_EQ(e.stats().committed, accepted.size());
}

// ---- The failed state -------------------------------------------------------------------

TEST(EngineRuntime, AFailedSyncFailsTheEngineAndNothingAfterItIsAcknowledged) {
  MemoryDisk disk;
  Collector col;
  std::int64_t committed_sum = 0;
  std::uint64_t acknowledged = 0;
  {
    BankEngine e(disk, bank::handlers(), memory_config());
    e.start();
    auto s = e.session(1);
    ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    ASSERT_EQ(run_one(s, deposit_cmd(1, 100), col).status, CompletionStatus::kCommitted);
    committed_sum += 100;
    // Two more frames are made durable, and then every sync fails.
    disk.fail(MemoryDisk::Op::kSync, syncs_so_far(disk) + 3, EIO, true);
    for (const std::int64_t amount : {10, 20}) {
      const Record r = run_one(s, deposit_cmd(1, amount), col);
      EXPECT_EQ(r.status, CompletionStatus::kCommitted);
      committed_sum += amount;
    }
    EXPECT_FALSE(e.failed());
    // The next frame fails: a whole bulk in it, never acknowledged.
    Bulk b(col);
    for (int i = 0; i < 20; ++i) b.add(deposit_cmd(1, 1000));
    ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
    ASSERT_TRUE(col.wait_for(4 + b.size()));
    EXPECT_TRUE(e.failed());
    EXPECT_NE(e.failure().find("EIO"), std::string::npos) << e.failure();
    EXPECT_NE(e.failure().find("journal"), std::string::npos) << e.failure();
    EXPECT_EQ(s.submit(deposit_cmd(1, 1), &Collector::on_done, &col), SubmitResult::kFailed);
    EXPECT_EQ(s.submit_all(b.requests()), SubmitResult::kFailed);
    e.stop();  // returns: nothing is owed
    const std::vector<Record> r = col.snapshot();
    ASSERT_EQ(r.size(), 4 + b.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i < 4) {
        EXPECT_EQ(r[i].status, CompletionStatus::kCommitted) << i;
      } else {
        EXPECT_EQ(r[i].status, CompletionStatus::kFailed) << i;
        EXPECT_EQ(r[i].sequence, kNoSequence) << i;
        EXPECT_TRUE(r[i].result.empty()) << i;
      }
    }
    const EngineStats st = e.stats();
    EXPECT_EQ(st.committed, 4u);
    EXPECT_EQ(st.failed, b.size());
    EXPECT_EQ(st.acknowledged_sequence, 4u);
    acknowledged = st.acknowledged_sequence;
  }
  // After a restart, the state is exactly the acknowledged prefix.
  MemoryDisk after = disk.restarted();
  BankEngine e(after, bank::handlers(), memory_config());
  EXPECT_EQ(e.executor().next_sequence(), acknowledged);
  EXPECT_EQ(balance(e, 1), committed_sum);
  MemoryDisk fresh;
  BankEngine reference(fresh, bank::handlers(), memory_config());
  reference.start();
  {
    Collector ref_col;
    auto s = reference.session(1);
    run_one(s, open_cmd(1), ref_col);
    for (const std::int64_t amount : {100, 10, 20}) run_one(s, deposit_cmd(1, amount), ref_col);
  }
  reference.stop();
  EXPECT_EQ(e.executor().state_hash(), reference.executor().state_hash());
  EXPECT_EQ(e.executor().recompute_state_hash(), reference.executor().state_hash());
  // It runs again from there.
  e.start();
  auto s = e.session(1);
  Collector col2;
  const Record r = run_one(s, deposit_cmd(1, 5), col2, 1000);
  EXPECT_EQ(r.status, CompletionStatus::kCommitted);
  EXPECT_EQ(r.sequence, acknowledged);
}

TEST(EngineRuntime, AFailureIsStickyEvenIfTheDiskRecovers) {
  MemoryDisk disk;
  Collector col;
  BankEngine e(disk, bank::handlers(), memory_config());
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  disk.fail(MemoryDisk::Op::kSync, syncs_so_far(disk) + 1, EIO, false);  // once only
  EXPECT_EQ(run_one(s, deposit_cmd(1, 1), col).status, CompletionStatus::kFailed);
  EXPECT_TRUE(e.failed());
  EXPECT_EQ(s.submit(deposit_cmd(1, 1), &Collector::on_done, &col), SubmitResult::kFailed);
  e.stop();
  EXPECT_EQ(e.stats().acknowledged_sequence, 1u);
  EXPECT_EQ(col.size(), 2u);
}

// The journal records that what was acknowledged is durable: an idle marker when the
// journal stage has had nothing to do for idle_marker_delay, a closing marker on stop().
// (Counted after stop(), which joins the stage threads: nothing races the counting.)
TEST(EngineRuntime, AnIdleJournalWritesAMarkerAndAStopAClosingOne) {
  for (const bool idle_markers : {true, false}) {
    SCOPED_TRACE(idle_markers ? "idle markers" : "no idle markers");
    MemoryDisk disk;
    EngineConfig c = memory_config();
    c.journal.idle_markers = idle_markers;
    c.journal.idle_marker_delay = std::chrono::microseconds(0);
    {
      Collector col;
      BankEngine e(disk, bank::handlers(), c);
      e.start();
      auto s = e.session(1);
      ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
      e.stop();
    }
    journal::RecoveryReport report;
    ASSERT_TRUE(
        journal::recover_journal(disk, journal::RecoveryMode::kVerifyOnly, &report).is_ok());
    EXPECT_EQ(report.markers, idle_markers ? 2u : 1u);  // (an idle one), then the closing one
    EXPECT_TRUE(report.closed_cleanly);
    EXPECT_EQ(report.proven_through, 1u);
    // Reopened: nothing to repair, and a second clean stop adds no second closing marker.
    {
      BankEngine again(disk, bank::handlers(), c);
      EXPECT_TRUE(again.recovery().closed_cleanly);
      EXPECT_FALSE(again.recovery().torn_tail);
      again.start();
      again.stop();
    }
    journal::RecoveryReport after;
    ASSERT_TRUE(journal::recover_journal(disk, journal::RecoveryMode::kVerifyOnly, &after).is_ok());
    EXPECT_EQ(after.markers, report.markers);
  }
}

TEST(EngineRuntime, AFailedJournalWritesNoClosingMarker) {
  MemoryDisk disk;
  {
    Collector col;
    BankEngine e(disk, bank::handlers(), memory_config());
    e.start();
    auto s = e.session(1);
    ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    disk.fail(MemoryDisk::Op::kSync, syncs_so_far(disk) + 1, EIO, true);
    EXPECT_EQ(run_one(s, deposit_cmd(1, 5), col).status, CompletionStatus::kFailed);
    e.stop();
  }
  journal::RecoveryReport report;
  MemoryDisk after = disk.restarted();
  ASSERT_TRUE(journal::recover_journal(after, journal::RecoveryMode::kVerifyOnly, &report).is_ok());
  EXPECT_FALSE(report.closed_cleanly);
  EXPECT_EQ(report.tail.next_sequence, 1u);
}

TEST(EngineRuntime, ATornFrameAfterAPowerLossIsDroppedOnReopen) {
  // The power fails while the third frame (a bulk of deposits, several sectors long) is
  // written: of its sectors, some reach the disk and some do not (the fault model: a
  // sector whole or not at all). Seeds are tried until the frame is torn, rather than
  // lost whole or kept whole.
  constexpr int kDeposits = 20;
  MemoryDisk disk;
  bool torn = false;
  for (std::uint64_t seed = 0; seed < 64 && !torn; ++seed) {
    disk = MemoryDisk();
    Collector col;
    BankEngine e(disk, bank::handlers(), memory_config());
    e.start();
    auto s = e.session(1);
    ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    ASSERT_EQ(run_one(s, deposit_cmd(1, 100), col).status, CompletionStatus::kCommitted);
    disk.crash_keeping_sectors_at(disk.io_count() + 1, seed);  // during the next write
    Bulk b(col);
    for (int i = 0; i < kDeposits; ++i) b.add(deposit_cmd(1, 5));
    ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
    ASSERT_TRUE(col.wait_for(2 + b.size()));
    EXPECT_TRUE(e.failed());
    e.stop();
    const std::vector<Record> records = col.snapshot();
    EXPECT_EQ(
        std::count_if(records.begin(), records.end(),
                      [](const Record& r) { return r.status == CompletionStatus::kCommitted; }),
        2);  // none of the bulk was acknowledged
    MemoryDisk probe = disk.restarted();
    journal::RecoveryReport report;
    const journal::RecoveryStatus st =
        journal::recover_journal(probe, journal::RecoveryMode::kVerifyOnly, &report);
    ASSERT_TRUE(st.is_ok()) << "a pure crash refused: " << st.message();
    torn = report.torn_tail;
  }
  ASSERT_TRUE(torn) << "no seed tore the frame";
  Collector col;
  MemoryDisk after = disk.restarted();
  BankEngine e(after, bank::handlers(), memory_config());
  EXPECT_TRUE(e.recovery().torn_tail);
  EXPECT_TRUE(e.recovery().repaired);
  EXPECT_EQ(e.executor().next_sequence(), 2u);
  EXPECT_EQ(balance(e, 1), 100);
  e.start();
  auto s = e.session(1);
  EXPECT_EQ(run_one(s, deposit_cmd(1, 5), col, 10).sequence, 2u);
  e.stop();
  EXPECT_EQ(balance(e, 1), 105);
}

// A power loss after the first frame of a linked chain and before the rest: the chain
// was never acknowledged (its slot was not durable), so it is simply not there after
// the restart. The journal must open: a crash is not corruption. Group commit fills
// frames to frame_bytes_max whatever the chains in them, so here a chain of 64 transfers
// (more than a 20 KiB frame holds) always spans two frames.
// A chain's results never span two frames: one that does not fit the rest of a frame
// moves whole to the next, so a power loss between the two frames loses the whole chain
// (it was never acknowledged) and the journal still opens.
TEST(EngineRuntime, AChainThatDoesNotFitTheRestOfAFrameGoesWholeIntoTheNext) {
  MemoryDisk disk;
  Collector col;
  EngineConfig c = memory_config();
  c.executor.result_bytes_max = 4192;  // the least allowed
  c.executor.chain_bytes_max = 12288;  // room for the chain's 24 results and one more
  c.journal.frame_bytes_max = 20480;   // the chain (about 8 KiB) fits, with a margin
  constexpr std::size_t kSingles = 40;
  constexpr std::size_t kChain = 24;
  {
    BankEngine e(disk, bank::handlers(), c);
    e.start();
    auto s = e.session(1);
    ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    ASSERT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
    ASSERT_EQ(run_one(s, deposit_cmd(1, 1000), col).status, CompletionStatus::kCommitted);
    // One slot: 40 single transfers (about 13 KiB of results), then a chain of 24 (about
    // 8 KiB): together more than a frame, so the chain goes to a second frame, whose
    // write is where the power fails.
    disk.crash_at(disk.io_count() + 3, 0);
    Bulk bulk(col);
    for (std::size_t i = 0; i < kSingles; ++i) bulk.add(transfer_cmd(100 + i, 1, 2, 1));
    for (std::size_t i = 0; i < kChain; ++i) bulk.add(transfer_cmd(i + 1, 1, 2, 1), i + 1 < kChain);
    ASSERT_EQ(s.submit_all(bulk.requests()), SubmitResult::kAccepted);
    ASSERT_TRUE(col.wait_for(3 + bulk.size()));
    EXPECT_TRUE(e.failed());
    const std::vector<Record> r = col.snapshot();
    // The failure is the second frame's, but the writer acknowledges nothing after its
    // first error, not even the first frame, whose sync succeeded: every one is kFailed
    // (not acknowledged: it may or may not have reached the disk).
    for (std::size_t i = 3; i < r.size(); ++i) {
      EXPECT_EQ(r[i].status, CompletionStatus::kFailed) << "command " << i;
    }
  }
  MemoryDisk after = disk.restarted();
  const std::string what = open_error([&] {
    BankEngine e(after, bank::handlers(), c);
    // The first frame (the singles) is on the disk; of the chain, nothing.
    EXPECT_EQ(e.executor().next_sequence(), 3u + kSingles);
    EXPECT_EQ(balance(e, 1), 1000 - static_cast<std::int64_t>(kSingles));
    EXPECT_EQ(balance(e, 2), static_cast<std::int64_t>(kSingles));
  });
  EXPECT_EQ(what, "opened");
}

// ---- Refusing to open -------------------------------------------------------------------

void write_bank_journal(const std::string& dir, int frames) {
  Collector col;
  BankEngine e(dir, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  for (int i = 1; i < frames; ++i) {
    ASSERT_EQ(run_one(s, deposit_cmd(1, 10), col).status, CompletionStatus::kCommitted);
  }
}

TEST(EngineRuntime, AJournalOfAnotherDomainIsRefused) {
  TempDir dir;
  write_bank_journal(dir.path, 3);
  const std::string what =
      open_error([&] { Engine<ledger::Domain> e(dir.path, ledger::handlers(), small_config()); });
  EXPECT_NE(what.find("schema"), std::string::npos) << what;
  EXPECT_NE(what.find("ledger"), std::string::npos) << what;
  // And the journal is left as it was.
  BankEngine e(dir.path, bank::handlers(), small_config());
  EXPECT_EQ(e.executor().next_sequence(), 3u);
}

Outcome deposit_twice(const bank::Deposit& c, bank::Tx& tx) {
  bank::Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return bank::reject(bank::Reject::account_not_found);
  a->balance += c.amount;
  a->balance += c.amount;
  return bank::ok();
}
Outcome withdraw_nothing(const bank::Withdraw&, bank::Tx&) { return bank::ok(); }

TEST(EngineRuntime, AReplayThatDivergesFromTheJournalIsRefusedNamingTheSequence) {
  TempDir dir;
  write_bank_journal(dir.path, 3);
  bank::Handlers changed = bank::handlers();
  changed.deposit = deposit_twice;
  const std::string what = open_error([&] { BankEngine e(dir.path, changed, small_config()); });
  EXPECT_NE(what.find("sequence 1"), std::string::npos) << what;
  // A change to a handler the journal never ran is no divergence.
  bank::Handlers other = bank::handlers();
  other.withdraw = withdraw_nothing;
  BankEngine e(dir.path, other, small_config());
  EXPECT_EQ(e.executor().next_sequence(), 3u);
}

TEST(EngineRuntime, ACorruptedFrameInTheMiddleOfASegmentIsRefused) {
  TempDir dir;
  write_bank_journal(dir.path, 6);
  const std::string file = lsj_file(dir.path);
  ASSERT_FALSE(file.empty());
  // The second frame: after the segment header and the first frame.
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  const auto header =
      static_cast<std::streamoff>(journal::segment_header_bytes(bank::Domain::descriptor().size()));
  const auto read_at = [&](std::streamoff at, char* out, std::size_t n) {
    f.seekg(at);
    f.read(out, static_cast<std::streamsize>(n));
  };
  char magic[4];
  read_at(header, magic, 4);
  ASSERT_EQ(std::memcmp(magic, journal::kFrameMagic.data(), 4), 0);
  std::uint32_t first_bytes = 0;
  read_at(header + journal::frame_field::kFrameBytes, reinterpret_cast<char*>(&first_bytes), 4);
  const std::streamoff second = header + first_bytes;
  read_at(second, magic, 4);
  ASSERT_EQ(std::memcmp(magic, journal::kFrameMagic.data(), 4), 0);
  const std::streamoff victim = second + journal::kFrameHeaderBytes + 20;
  char byte = 0;
  read_at(victim, &byte, 1);
  byte = static_cast<char>(byte ^ 0x10);
  f.seekp(victim);
  f.write(&byte, 1);
  f.close();
  const std::string what =
      open_error([&] { BankEngine e(dir.path, bank::handlers(), small_config()); });
  // Where and what: the segment, the frame's offset, the checksum.
  EXPECT_NE(what.rfind("engine: ", 0), std::string::npos) << what;
  EXPECT_NE(what.find(std::filesystem::path(file).filename().string()), std::string::npos) << what;
  EXPECT_NE(what.find("offset " + std::to_string(second)), std::string::npos) << what;
  EXPECT_NE(what.find("checksum"), std::string::npos) << what;
}

TEST(EngineRuntime, ABadConfigurationIsRefusedNamingTheField) {
  MemoryDisk disk;
  const auto error = [&](EngineConfig c) -> std::string {
    try {
      BankEngine e(disk, bank::handlers(), std::move(c));
    } catch (const std::invalid_argument& ex) {
      return ex.what();
    }
    return "accepted";
  };
  EngineConfig c = memory_config();
  c.ring_slots = 3;
  EXPECT_NE(error(c).find("ring_slots"), std::string::npos) << error(c);
  c = memory_config();
  c.arena_bytes = 1024;
  EXPECT_NE(error(c).find("arena_bytes"), std::string::npos) << error(c);
  c = memory_config();
  c.executor.chain_length_max = kBatchCommands + 1;
  EXPECT_NE(error(c).find("chain_length_max"), std::string::npos) << error(c);
  c = memory_config();
  c.ingress_capacity = 4 * kBatchCommands - 1;
  EXPECT_NE(error(c).find("ingress_capacity"), std::string::npos) << error(c);
  c = memory_config();
  c.batch_commands_max = 0;
  EXPECT_NE(error(c).find("batch_commands_max"), std::string::npos) << error(c);
  c.batch_commands_max = kBatchCommands + 1;
  EXPECT_NE(error(c).find("batch_commands_max"), std::string::npos) << error(c);
  c = memory_config();
  c.sessions_max = 0;
  EXPECT_NE(error(c).find("sessions_max"), std::string::npos) << error(c);
  c = memory_config();
  c.clock = nullptr;
  EXPECT_NE(error(c).find("clock"), std::string::npos) << error(c);
  // The directory form checks before touching the disk.
  c = memory_config();
  c.ring_slots = 3;
  const std::string missing = "/tmp/lockstep-engine-never-created";
  EXPECT_THROW(BankEngine(missing, bank::handlers(), c), std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(missing));
  EXPECT_EQ(error(memory_config()), "accepted");
}

// ---- Subscribers ------------------------------------------------------------------------

struct Subscription {
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> seen;
  static void on_result(void* self, std::uint64_t sequence, std::span<const std::byte> tx) {
    auto* me = static_cast<Subscription*>(self);
    std::lock_guard lock(me->mu);
    me->seen.emplace_back(sequence, std::vector<std::byte>(tx.begin(), tx.end()));
  }
};

TEST(EngineRuntime, SubscribersSeeEveryCommittedResultInSequenceOrderAndNoRefusedOne) {
  TempDir dir;
  Collector col;
  Subscription sub1;
  Subscription sub2;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.subscribe(&Subscription::on_result, &sub1);
  e.subscribe(&Subscription::on_result, &sub2);
  e.start();
  EXPECT_THROW(e.subscribe(&Subscription::on_result, &sub1), std::logic_error);
  auto s = e.session(3);
  Bulk b(col);
  b.add(open_cmd(1)).add(open_cmd(2)).add(deposit_cmd(1, 100));
  b.add(withdraw_cmd(2, 50));                               // refused: insufficient funds
  b.add(transfer_cmd(1, 1, 2, 30)).add(deposit_cmd(9, 1));  // the deposit: refused
  b.add_raw(77, {});                                        // invalid
  b.add(transfer_cmd(1, 1, 2, 30));                         // refused: transfer exists
  b.add(withdraw_cmd(2, 30));
  ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), b.size());
  std::vector<const Record*> committed;
  for (const Record& x : r) {
    if (x.status == CompletionStatus::kCommitted) committed.push_back(&x);
  }
  ASSERT_EQ(committed.size(), 5u);
  for (Subscription* sub : {&sub1, &sub2}) {
    ASSERT_EQ(sub->seen.size(), committed.size());
    for (std::size_t i = 0; i < committed.size(); ++i) {
      const auto& [sequence, bytes] = sub->seen[i];
      EXPECT_EQ(sequence, committed[i]->sequence);
      EXPECT_EQ(bytes, committed[i]->result);
      TxResultView v;
      std::string error;
      ASSERT_TRUE(decode_tx_result(bytes, &v, &error)) << error;
      EXPECT_EQ(v.command_sequence, sequence);
      EXPECT_TRUE(v.outcome.is_ok());
      EXPECT_EQ(v.client_id, 3u);
      EXPECT_EQ(v.request_id, committed[i]->request);
      if (i > 0) {
        EXPECT_GT(sequence, sub->seen[i - 1].first);
      }
    }
  }
  // Sequences 0, 1, 2, 4 and 7: refused commands have sequences (3, 5, 6), the invalid one
  // none.
  EXPECT_EQ(sub1.seen[3].first, 4u);
  EXPECT_EQ(sub1.seen[4].first, 7u);
}

// ---- Linked chains ----------------------------------------------------------------------

TEST(EngineRuntime, ALinkedChainCommitsEveryMember) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  ASSERT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
  Bulk b(col);
  b.add(deposit_cmd(1, 100), true).add(withdraw_cmd(1, 50), true).add(transfer_cmd(1, 1, 2, 25));
  ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), 5u);
  for (std::size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(r[i].status, CompletionStatus::kCommitted) << i;
    EXPECT_EQ(r[i].sequence, i) << i;
  }
  EXPECT_EQ(balance(e, 1), 25);
  EXPECT_EQ(balance(e, 2), 25);
}

TEST(EngineRuntime, ALinkedChainWithARefusedMemberIsRefusedWhole) {
  TempDir dir;
  Collector col;
  StateHash hash;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    auto s = e.session(1);
    ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
    ASSERT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
    Bulk b(col);
    b.add(deposit_cmd(1, 100), true).add(withdraw_cmd(1, 1000), true).add(deposit_cmd(2, 5));
    b.add(deposit_cmd(2, 1));  // after the chain: unaffected
    ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
    e.stop();
    const std::vector<Record> r = col.snapshot();
    ASSERT_EQ(r.size(), 6u);
    for (std::size_t i = 2; i < 5; ++i) {
      EXPECT_EQ(r[i].status, CompletionStatus::kRefused) << i;
      EXPECT_EQ(r[i].sequence, i) << i;  // journaled
    }
    EXPECT_EQ(r[2].code, code_of(EngineReject::kLinkedChainFailed));
    EXPECT_EQ(r[2].detail, 1u);
    EXPECT_EQ(r[3].code, code_of(bank::Reject::insufficient_funds));
    EXPECT_EQ(r[4].code, code_of(EngineReject::kLinkedChainFailed));
    EXPECT_EQ(r[4].detail, 1u);
    EXPECT_EQ(r[5].status, CompletionStatus::kCommitted);
    EXPECT_EQ(balance(e, 1), 0);
    EXPECT_EQ(balance(e, 2), 1);
    hash = e.executor().state_hash();
  }
  BankEngine e(dir.path, bank::handlers(), small_config());
  EXPECT_EQ(e.executor().next_sequence(), 6u);
  EXPECT_EQ(e.executor().state_hash(), hash);
}

// A chain is at most a slot long, but the ingest stage must not fill a slot with the
// next commands of the ingress whatever they are: a chain behind other commands would be
// cut at the slot's end, its first part refused (kLinkedChainOpen) and the rest committed
// as a chain of its own. (The first version of the engine did exactly that.)
TEST(EngineRuntime, ALinkedChainStraddlingARingSlotBoundaryIsStillAtomic) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  ASSERT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
  // Idle engine, one bulk: 62 single commands, then a chain of 4 (slot 64 ends after its
  // second member).
  Bulk b(col);
  for (std::size_t i = 0; i < kBatchCommands - 2; ++i) b.add(deposit_cmd(2, 1));
  for (int i = 0; i < 4; ++i) b.add(deposit_cmd(1, 1), i < 3);
  ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), 2 + b.size());
  for (std::size_t i = r.size() - 4; i < r.size(); ++i) {
    EXPECT_EQ(r[i].status, CompletionStatus::kCommitted)
        << "chain member " << i - (r.size() - 4) << ": " << to_string(r[i].status) << " code 0x"
        << std::hex << r[i].code;
  }
  EXPECT_EQ(balance(e, 1), 4);  // all or nothing: never 2
  EXPECT_EQ(balance(e, 2), static_cast<std::int64_t>(kBatchCommands - 2));
}

TEST(EngineRuntime, AChainAsLongAsBatchCommandsMaxCommitsAndALongerOneIsRefusedAtSubmit) {
  TempDir dir;
  Collector col;
  EngineConfig c = small_config();
  c.batch_commands_max = 8;
  BankEngine e(dir.path, bank::handlers(), c);
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  Bulk too_long(col);
  for (int i = 0; i < 9; ++i) too_long.add(deposit_cmd(1, 1), i < 8);
  EXPECT_EQ(s.submit_all(too_long.requests()), SubmitResult::kInvalid);
  // Singles, then a whole-slot chain, twice: each chain needs a slot of its own.
  Bulk b(col);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 5; ++i) b.add(deposit_cmd(1, 1));
    for (int i = 0; i < 8; ++i) b.add(deposit_cmd(1, 10), i < 7);
  }
  ASSERT_EQ(s.submit_all(b.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), 1 + b.size());
  for (std::size_t i = 1; i < r.size(); ++i) {
    EXPECT_EQ(r[i].status, CompletionStatus::kCommitted)
        << i << ": " << to_string(r[i].status) << " code 0x" << std::hex << r[i].code;
  }
  EXPECT_EQ(balance(e, 1), 2 * (5 + 80));
}

// The ingest stage holds back the drained members of a cut chain until the rest arrives.
// The ingress (moodycamel) drains one session (producer) until it has taken 256 commands
// from it, then rotates to another. If the rotation comes while session A's chain is cut,
// and session B's chain is next, the ingest takes part of B's chain too. (It once drained
// at most the slot's room minus what it held: with two cut chains holding a whole slot,
// nothing could be drained again, and stop() hung.)
//
// Deterministic: with the publish thread stalled and the ring full, the ingress holds A's
// 408 singles and 64-chain and B's 64-chain. Released, the ingest drains 64 at a time
// from A; moodycamel's quota runs out (for the second time, the first rotation lands on A
// itself) on A's 448th command after the stall: 40 members of A's chain are then held,
// the next drain (24) takes 24 of B's chain, and 64 are held. Run in a child process,
// which reports the stall by its exit code.
bool two_sessions_with_chains_all_complete() {
  MemoryDisk disk;
  Collector col;
  Blocker blocker;
  blocker.col = &col;
  EngineConfig c = memory_config();
  c.ring_slots = 2;
  c.ingress_capacity = 1024;
  auto* e = new BankEngine(disk, bank::handlers(), c);  // leaked if it stalls
  e->start();
  // Sessions go before their engine: held by pointer, deleted before it.
  auto sa = std::make_unique<BankEngine::Session>(e->session(1));
  auto sb = std::make_unique<BankEngine::Session>(e->session(2));
  BankEngine::Session& a = *sa;
  BankEngine::Session& b = *sb;
  if (a.submit(open_cmd(1), &Blocker::on_done, &blocker) != SubmitResult::kAccepted) {
    return false;
  }
  blocker.entered.wait();
  // Ring slot 1 (slot 0 holds the stalled first command); then the ring is full.
  Bulk fill(col);
  for (std::size_t i = 0; i < kBatchCommands; ++i) fill.add(deposit_cmd(1, 1));
  const auto singles = [&](int n) {
    Bulk bulk(col);
    for (int i = 0; i < n; ++i) bulk.add(deposit_cmd(1, 1));
    return bulk;
  };
  const auto chain = [&] {
    Bulk bulk(col);
    for (std::size_t i = 0; i < kBatchCommands; ++i) {
      bulk.add(deposit_cmd(1, 1), i + 1 < kBatchCommands);
    }
    return bulk;
  };
  const Bulk singles_1 = singles(256);
  const Bulk singles_2 = singles(408 - 256);
  const Bulk chain_a = chain();
  const Bulk chain_b = chain();
  const std::pair<BankEngine::Session*, const Bulk*> order[] = {
      {&a, &fill}, {&a, &singles_1}, {&a, &singles_2}, {&a, &chain_a}, {&b, &chain_b}};
  for (const auto& [session, bulk] : order) {
    if (session->submit_all(bulk->requests()) != SubmitResult::kAccepted) return false;
  }
  blocker.open();
  const std::size_t total =
      1 + fill.size() + singles_1.size() + singles_2.size() + chain_a.size() + chain_b.size();
  if (!col.wait_for(total, 1s)) {
    std::fprintf(stderr, "stalled: %zu of %zu commands completed\n", col.size(), total);
    std::_Exit(1);  // the engine's threads still use everything here
  }
  e->stop();
  sa.reset();
  sb.reset();
  delete e;
  return true;
}

TEST(EngineRuntimeDeathTest, TwoSessionsWithCutChainsDoNotStallTheIngest) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(two_sessions_with_chains_all_complete() ? 0 : 1),
              ::testing::ExitedWithCode(0), "");
}

// A chain member refused before sequencing (an unknown kind here) leaves the chain's
// other members linked to whatever command comes next in the ring: a command the
// submitter never chained to them decides their fate.
TEST(EngineRuntime, AChainWithAnInvalidMemberDoesNotAbsorbTheNextCommand) {
  TempDir dir;
  Collector col;
  BankEngine e(dir.path, bank::handlers(), small_config());
  e.start();
  auto s = e.session(1);
  ASSERT_EQ(run_one(s, open_cmd(1), col).status, CompletionStatus::kCommitted);
  ASSERT_EQ(run_one(s, open_cmd(2), col).status, CompletionStatus::kCommitted);
  // The same chain (a deposit linked to an unknown command), followed by a command that
  // is refused, and then by one that commits.
  Bulk refused_after(col);
  refused_after.add(deposit_cmd(1, 100), true).add_raw(200, {}).add(withdraw_cmd(2, 1000));
  Bulk committed_after(col);
  committed_after.add(deposit_cmd(1, 100), true).add_raw(200, {}).add(deposit_cmd(2, 1));
  ASSERT_EQ(run_one(s, open_cmd(3), col).status, CompletionStatus::kCommitted);
  ASSERT_EQ(s.submit_all(refused_after.requests()), SubmitResult::kAccepted);
  ASSERT_TRUE(col.wait_for(6));
  ASSERT_EQ(s.submit_all(committed_after.requests()), SubmitResult::kAccepted);
  e.stop();
  const std::vector<Record> r = col.snapshot();
  ASSERT_EQ(r.size(), 9u);
  EXPECT_EQ(r[4].status, CompletionStatus::kInvalid);
  EXPECT_EQ(r[5].status, CompletionStatus::kRefused);
  EXPECT_EQ(r[5].code, code_of(bank::Reject::insufficient_funds));
  EXPECT_EQ(r[7].status, CompletionStatus::kInvalid);
  EXPECT_EQ(r[8].status, CompletionStatus::kCommitted);
  // The deposit's fate must not depend on the command after its chain.
  EXPECT_EQ(r[3].status, r[6].status)
      << "first: " << to_string(r[3].status) << " code 0x" << std::hex << r[3].code << " detail "
      << std::dec << r[3].detail << "; second: " << to_string(r[6].status) << " code 0x" << std::hex
      << r[6].code;
  EXPECT_EQ(r[3].code, r[6].code);
}

// ---- Seeded stress ----------------------------------------------------------------------

std::uint64_t stress_seed() {
  if (const char* env = std::getenv("LOCKSTEP_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 0);
  }
  return std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
}

// One command of the stress test, as its thread made it.
struct StressOp {
  std::uint16_t kind = 0;  // bank kinds, or kStressUnknownKind
  std::uint64_t a = 0;     // account, or debit
  std::uint64_t b = 0;     // credit
  std::int64_t amount = 0;
  std::uint64_t transfer_id = 0;
};
constexpr std::uint16_t kStressUnknownKind = 200;
constexpr std::uint64_t kStressAccounts = 6;  // 1..6 exist; 7 never does

// The trivially correct model of the bank's deposit, withdraw and transfer.
struct BankModel {
  std::map<std::uint64_t, std::int64_t> balances;
  std::set<std::uint64_t> transfers;

  std::uint32_t apply(const StressOp& op) {
    const auto refuse = [](bank::Reject r) { return static_cast<std::uint32_t>(r); };
    switch (op.kind) {
      case bank::Deposit::kKind: {
        if (op.amount <= 0) return refuse(bank::Reject::amount_not_positive);
        auto it = balances.find(op.a);
        if (it == balances.end()) return refuse(bank::Reject::account_not_found);
        it->second += op.amount;
        return 0;
      }
      case bank::Withdraw::kKind: {
        if (op.amount <= 0) return refuse(bank::Reject::amount_not_positive);
        auto it = balances.find(op.a);
        if (it == balances.end()) return refuse(bank::Reject::account_not_found);
        if (it->second < op.amount) return refuse(bank::Reject::insufficient_funds);
        it->second -= op.amount;
        return 0;
      }
      case bank::MakeTransfer::kKind: {
        if (op.amount <= 0) return refuse(bank::Reject::amount_not_positive);
        if (op.a == op.b) return refuse(bank::Reject::same_account);
        if (transfers.contains(op.transfer_id)) return refuse(bank::Reject::transfer_exists);
        auto d = balances.find(op.a);
        auto c = balances.find(op.b);
        if (d == balances.end() || c == balances.end()) {
          return refuse(bank::Reject::account_not_found);
        }
        if (d->second < op.amount) return refuse(bank::Reject::insufficient_funds);
        d->second -= op.amount;
        c->second += op.amount;
        transfers.insert(op.transfer_id);
        return 0;
      }
    }
    return ~0u;
  }
};

// One submission of a stress client: a fresh request, or a retry of an earlier one.
struct StressSubmission {
  std::uint64_t request_id = 0;
  bool retry = false;
};

struct StressClient {
  std::uint64_t client = 0;
  Collector col;
  std::vector<StressOp> ops;  // by request id (ops[0] unused)
  std::vector<StressSubmission> submitted;
};

void add_op(Bulk& b, const StressOp& op, std::uint64_t request_id) {
  switch (op.kind) {
    case bank::Deposit::kKind: b.add(deposit_cmd(op.a, op.amount), false, request_id); break;
    case bank::Withdraw::kKind: b.add(withdraw_cmd(op.a, op.amount), false, request_id); break;
    case bank::MakeTransfer::kKind:
      b.add(transfer_cmd(op.transfer_id, op.a, op.b, op.amount), false, request_id);
      break;
    default: {
      const std::byte payload[16] = {};
      b.add_raw(op.kind, payload, false, request_id);
    }
  }
}

// Submits `commands` random commands, in random bulks, as client `me.client`.
void stress_thread(BankEngine& engine, StressClient& me, std::uint64_t seed, int commands) {
  std::mt19937_64 rng(seed);
  const auto pick = [&](std::uint64_t n) { return rng() % n; };
  auto s = engine.session(me.client);
  me.ops.assign(1, StressOp{});
  std::uint64_t last_valid = 0;  // the newest request id of a command that gets sequenced
  std::uint64_t transfers = 0;
  int made = 0;
  while (made < commands) {
    const std::uint64_t bulk = pick(8) == 0 ? 1 + pick(200) : 1 + pick(16);
    Bulk b(me.col);
    std::vector<StressSubmission> subs;
    for (std::uint64_t i = 0; i < bulk && made < commands; ++i, ++made) {
      const std::uint64_t roll = pick(100);
      if (roll < 3 && last_valid != 0) {
        add_op(b, me.ops[last_valid], last_valid);
        subs.push_back({last_valid, true});
        continue;
      }
      StressOp op;
      op.a = 1 + pick(kStressAccounts + 1);
      if (roll < 5) {
        op.kind = kStressUnknownKind;
      } else if (roll < 40) {
        op.kind = bank::Deposit::kKind;
        op.amount = pick(20) == 0 ? 0 : static_cast<std::int64_t>(1 + pick(50));
      } else if (roll < 70) {
        op.kind = bank::Withdraw::kKind;
        op.amount = static_cast<std::int64_t>(1 + pick(150));
      } else {
        op.kind = bank::MakeTransfer::kKind;
        op.b = 1 + pick(kStressAccounts + 1);
        op.amount = static_cast<std::int64_t>(1 + pick(150));
        const std::uint64_t n = pick(20) == 0 && transfers > 0 ? 1 + pick(transfers) : ++transfers;
        op.transfer_id = me.client << 32 | n;
      }
      const std::uint64_t request_id = me.ops.size();
      me.ops.push_back(op);
      add_op(b, op, request_id);
      subs.push_back({request_id, false});
      if (op.kind != kStressUnknownKind) last_valid = request_id;
    }
    SubmitResult r;
    if (b.size() == 1 && pick(2) == 0) {
      const Request& q = b.requests()[0];
      r = s.submit(q.kind, q.payload, q.done, q.context, kNoDeadline, q.request_id);
    } else {
      r = s.submit_all(b.requests());
    }
    ASSERT_EQ(r, SubmitResult::kAccepted);
    me.submitted.insert(me.submitted.end(), subs.begin(), subs.end());
  }
}

TEST(EngineRuntime, SeededStressAgreesWithAModelAndReplaysToTheSameState) {
  const std::uint64_t seed = stress_seed();
  std::printf("[ seed     ] LOCKSTEP_SEED=%llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("LOCKSTEP_SEED=" + std::to_string(seed));
  constexpr int kThreads = 3;
  constexpr int kCommands = 1000;
  TempDir dir;
  std::array<StressClient, kThreads> clients;
  BankModel model;
  StateHash hash;
  std::uint64_t next = 0;
  {
    BankEngine e(dir.path, bank::handlers(), small_config());
    e.start();
    {
      Collector setup;
      auto s = e.session(1);
      for (std::uint64_t id = 1; id <= kStressAccounts; ++id) {
        ASSERT_EQ(run_one(s, open_cmd(id), setup).status, CompletionStatus::kCommitted);
        ASSERT_EQ(run_one(s, deposit_cmd(id, 1000), setup).status, CompletionStatus::kCommitted);
        model.balances[id] = 1000;
      }
    }
    const std::uint64_t setup_commands = 2 * kStressAccounts;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      clients[t].client = 100 + t;
      threads.emplace_back(stress_thread, std::ref(e), std::ref(clients[t]), seed + t, kCommands);
    }
    for (auto& th : threads) th.join();
    e.stop();

    // Per client: exactly one completion per submission, in submission order.
    struct Sequenced {
      std::uint64_t sequence;
      const Record* record;
      const StressOp* op;
    };
    std::vector<Sequenced> sequenced;
    std::uint64_t duplicates = 0;
    std::uint64_t invalid = 0;
    for (StressClient& c : clients) {
      const std::vector<Record>& rec = c.col.records;
      ASSERT_EQ(rec.size(), c.submitted.size()) << "client " << c.client;
      std::uint64_t newest = kNoSequence;
      for (std::size_t i = 0; i < rec.size(); ++i) {
        const Record& r = rec[i];
        const StressSubmission& sub = c.submitted[i];
        ASSERT_EQ(r.client, c.client);
        ASSERT_EQ(r.request, sub.request_id) << "client " << c.client << " completion " << i;
        const StressOp& op = c.ops[sub.request_id];
        if (sub.retry) {
          EXPECT_EQ(r.status, CompletionStatus::kDuplicate);
          EXPECT_EQ(r.sequence, newest);
          ++duplicates;
        } else if (op.kind == kStressUnknownKind) {
          EXPECT_EQ(r.status, CompletionStatus::kInvalid);
          EXPECT_EQ(r.code, code_of(EngineReject::kUnknownCommand));
          ++invalid;
        } else {
          EXPECT_TRUE(r.status == CompletionStatus::kCommitted ||
                      r.status == CompletionStatus::kRefused)
              << to_string(r.status);
          newest = r.sequence;
          sequenced.push_back({r.sequence, &r, &op});
        }
      }
    }
    // In sequence order, each outcome is the model's.
    std::sort(sequenced.begin(), sequenced.end(),
              [](const Sequenced& x, const Sequenced& y) { return x.sequence < y.sequence; });
    std::uint64_t committed = setup_commands;
    std::uint64_t refused = 0;
    for (std::size_t i = 0; i < sequenced.size(); ++i) {
      const Sequenced& x = sequenced[i];
      ASSERT_EQ(x.sequence, setup_commands + i) << "a gap or a repeat in the sequence";
      const std::uint32_t want = model.apply(*x.op);
      if (want == 0) {
        EXPECT_EQ(x.record->status, CompletionStatus::kCommitted) << "sequence " << x.sequence;
        ++committed;
      } else {
        EXPECT_EQ(x.record->status, CompletionStatus::kRefused) << "sequence " << x.sequence;
        EXPECT_EQ(x.record->code, want) << "sequence " << x.sequence;
        ++refused;
      }
    }
    for (std::uint64_t id = 1; id <= kStressAccounts; ++id) {
      EXPECT_EQ(balance(e, id), model.balances[id]) << "account " << id;
    }
    EXPECT_FALSE(balance(e, kStressAccounts + 1).has_value());
    const EngineStats st = e.stats();
    EXPECT_EQ(st.committed, committed);
    EXPECT_EQ(st.refused, refused);
    EXPECT_EQ(st.duplicates, duplicates);
    EXPECT_EQ(st.invalid, invalid);
    EXPECT_EQ(st.failed, 0u);
    next = e.executor().next_sequence();
    EXPECT_EQ(next, setup_commands + sequenced.size());
    EXPECT_EQ(st.acknowledged_sequence, next);
    hash = e.executor().state_hash();
    EXPECT_EQ(e.executor().recompute_state_hash(), hash);
  }
  BankEngine e(dir.path, bank::handlers(), small_config());
  EXPECT_EQ(e.executor().next_sequence(), next);
  EXPECT_EQ(e.executor().state_hash(), hash);
  EXPECT_EQ(e.executor().recompute_state_hash(), hash);
}

}  // namespace
}  // namespace lockstep
