// The ledger on the running engine: pending transfers expire through the engine's timer
// (ledger::expiry_timer) as logical time passes, and the expiry is journaled and
// replayed. The logical clock is the test's, moved by hand.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include "ledger_domain.h"
#include "runtime/engine.h"

namespace lockstep {
namespace {

using LedgerEngine = Engine<ledger::Domain>;

std::atomic<std::int64_t> g_now{1'000'000'000};
std::int64_t test_clock() { return g_now.load(); }

struct TempDir {
  std::string path;
  TempDir() {
    char templ[] = "/tmp/lockstep-ledger-engine-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

EngineConfig config(bool timer) {
  EngineConfig c;
  c.executor.table_capacity = {64, 1024};
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 8u << 20;
  c.journal.frame_bytes_max = 1u << 20;
  c.clock = test_clock;
  c.project = true;
  if (timer) c.timers.push_back(ledger::expiry_timer(std::chrono::milliseconds(5)));
  return c;
}

struct Outcomes {
  std::atomic<int> committed{0};
  static void done(void* self, const Completion& c) {
    if (c.status == CompletionStatus::kCommitted) static_cast<Outcomes*>(self)->committed++;
  }
};

ledger::CreateAccount account(std::uint64_t id) {
  ledger::CreateAccount a{};
  a.id = u128::from_u64(id);
  a.ledger = 1;
  a.code = 1;
  return a;
}

// The pending transfer's status and the debit account's pending debits, from the
// projection.
std::pair<ledger::TransferStatus, std::uint64_t> pending_state(const LedgerEngine& e) {
  return e.read([](const ledger::Tables& t, std::uint64_t) {
    const auto& transfers = std::get<1>(t);
    const auto& accounts = std::get<0>(t);
    const std::uint32_t ts =
        transfers.slot_of(ledger::detail_::TransferTable::Primary::make(u128::from_u64(9)));
    const std::uint32_t as =
        accounts.slot_of(ledger::detail_::AccountTable::Primary::make(u128::from_u64(1)));
    EXPECT_NE(ts, kNoSlot);
    EXPECT_NE(as, kNoSlot);
    return std::make_pair(transfers.record(ts).status, accounts.record(as).debits_pending);
  });
}

TEST(LedgerEngine, TheExpiryTimerExpiresAPendingTransferOnceItsTimeoutHasPassed) {
  TempDir dir;
  Outcomes out;
  {
    LedgerEngine engine(dir.path, ledger::handlers(), config(true));
    engine.start();
    auto s = engine.session(1);
    ASSERT_EQ(s.submit(account(1), Outcomes::done, &out), SubmitResult::kAccepted);
    ASSERT_EQ(s.submit(account(2), Outcomes::done, &out), SubmitResult::kAccepted);
    ledger::CreateTransfer p{};
    p.id = u128::from_u64(9);
    p.debit_account_id = u128::from_u64(1);
    p.credit_account_id = u128::from_u64(2);
    p.amount = 50;
    p.ledger = 1;
    p.code = 1;
    p.flags = ledger::kPending;
    p.timeout = 2;  // seconds of logical time
    ASSERT_EQ(s.submit(p, Outcomes::done, &out), SubmitResult::kAccepted);
    const auto wait_for = [&](auto pred) {
      for (int i = 0; i < 2000 && !pred(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return pred();
    };
    ASSERT_TRUE(wait_for([&] { return out.committed.load() == 3; }));
    // The timer runs, but nothing has expired yet: the timeout has not passed.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(pending_state(engine).first, ledger::TransferStatus::pending);
    EXPECT_EQ(pending_state(engine).second, 50u);
    // Two seconds and a bit of logical time later, the next tick expires it.
    g_now.fetch_add(2'100'000'000);
    EXPECT_TRUE(
        wait_for([&] { return pending_state(engine).first == ledger::TransferStatus::expired; }));
    EXPECT_EQ(pending_state(engine).second, 0u);
    engine.stop();
  }
  // Reopened without the timer: the expiry was journaled, and replays.
  LedgerEngine again(dir.path, ledger::handlers(), config(false));
  EXPECT_EQ(pending_state(again).first, ledger::TransferStatus::expired);
  EXPECT_EQ(pending_state(again).second, 0u);
}

TEST(LedgerEngine, ATimerThatIsNotACommandOfTheDomainIsRefused) {
  TempDir dir;
  EngineConfig c = config(false);
  TimerCommand t = ledger::expiry_timer();
  t.payload.push_back(std::byte{0});  // the wrong size
  c.timers.push_back(t);
  EXPECT_THROW(LedgerEngine(dir.path, ledger::handlers(), c), std::invalid_argument);
  c.timers = {ledger::expiry_timer()};
  c.timers[0].kind = 77;
  EXPECT_THROW(LedgerEngine(dir.path, ledger::handlers(), c), std::invalid_argument);
  c.timers = {ledger::expiry_timer(std::chrono::nanoseconds(0))};
  EXPECT_THROW(LedgerEngine(dir.path, ledger::handlers(), c), std::invalid_argument);
}

}  // namespace
}  // namespace lockstep
