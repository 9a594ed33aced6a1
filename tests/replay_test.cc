// lockstep::replay (docs/replay.md): replay, verification, re-execution and snapshots of a
// journal, with no domain code except to re-execute.
//
// - A ledger run on the running engine, read at random moments through the projection:
//   the replay stopped at each point reproduces the live state hash, a full replay checks
//   every recorded batch-end hash and ends at the engine's final state, and re-execution
//   reproduces every TxResult. Seeded (LOCKSTEP_SEED replays).
// - A non-deterministic handler is caught at the first command it changes.
// - A damaged frame is refused naming segment, offset and sequence; an inconsistent
//   TxResult (built from an executor's bytes, then tampered with) is refused naming its
//   sequence.
// - Primary keys to and from JSON.
// - Snapshots written at several frame ends restart the replay there; a corrupted newest
//   one is skipped for the older one; re-execution starts from one when the journal's
//   older segments are gone.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bank/bank_harness.h"
#include "bank_domain.h"
#include "engine/tx_result.h"
#include "journal/format.h"
#include "journal/memory_disk.h"
#include "journal/segment_header.h"
#include "ledger_domain.h"
#include "replay/generic_state.h"
#include "replay/journal_scan.h"
#include "replay/reexecute.h"
#include "replay/replay.h"
#include "runtime/engine.h"
#include "schema/descriptor.h"
#include "snapshot/snapshot.h"

namespace lockstep {

inline void PrintTo(const StateHash& h, std::ostream* os) {
  *os << "{hi " << h.hi << ", lo " << h.lo << ", records " << h.records << "}";
}

namespace {

using journal::MemoryDisk;
using replay::DeltaReplay;
using replay::JournalEntry;
using namespace std::chrono_literals;

struct TempDir {
  std::string path;
  TempDir() {
    char templ[] = "/tmp/lockstep-replay-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("LOCKSTEP_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

template <class D>
schema::Domain domain_of() {
  schema::Domain d;
  std::string error;
  EXPECT_TRUE(schema::decode_descriptor(D::descriptor(), &d, &error)) << error;
  return d;
}

void ignore(void*, const Completion&) {}

// Completions counted; the test thread waits for a number of them.
struct Counter {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> committed{0};
  static void on(void* self, const Completion& c) {
    auto* me = static_cast<Counter*>(self);
    if (c.status == CompletionStatus::kCommitted) me->committed.fetch_add(1);
    me->done.fetch_add(1);
  }
  bool wait_for(std::uint64_t n) const {
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (done.load() < n) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(50us);
    }
    return true;
  }
};

template <class Tables>
StateHash tables_hash(const Tables& tables) {
  StateHash h;
  std::apply([&](const auto&... t) { (t.hash_all(&h), ...); }, tables);
  return h;
}

// Replays io's journal from the empty state up to (not including) sequence `stop` (all of
// it by default) into *r; false with *error if an entry is refused or the scan fails.
bool replay_until(journal::IoBackend& io, DeltaReplay* r, std::string* error,
                  std::uint64_t stop = UINT64_MAX) {
  error->clear();
  const auto s = replay::scan_journal_from(io, r->next_sequence(), [&](const JournalEntry& e) {
    if (e.sequence >= stop) return false;
    return r->apply(e, error);
  });
  if (!s.is_ok()) *error = s.message();
  return s.is_ok() && error->empty();
}

// ---- 1. The live engine against the replay ----------------------------------------------

using LedgerEngine = Engine<ledger::Domain>;

EngineConfig ledger_config() {
  EngineConfig c;
  c.executor.table_capacity = {64, 1u << 13};
  // Small results and chains, so small frames and segments are allowed.
  c.executor.result_bytes_max = 8u << 10;
  c.executor.chain_bytes_max = 32u << 10;
  c.executor.chain_length_max = 8;
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 256u << 10;  // several segments
  c.journal.frame_bytes_max = 64u << 10;
  c.journal.durability = journal::Durability::kNone;
  c.project = true;
  return c;
}

ledger::CreateAccount ledger_account(std::uint64_t id, std::uint16_t flags) {
  ledger::CreateAccount a{};
  a.id = u128::from_u64(id);
  a.ledger = 1;
  a.code = 1;
  a.flags = flags;
  return a;
}

ledger::CreateTransfer ledger_transfer(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                                       std::uint64_t amount, std::uint16_t flags = 0,
                                       std::uint64_t pending_id = 0) {
  ledger::CreateTransfer t{};
  t.id = u128::from_u64(id);
  t.debit_account_id = u128::from_u64(debit);
  t.credit_account_id = u128::from_u64(credit);
  t.pending_id = u128::from_u64(pending_id);
  t.amount = amount;
  t.flags = flags;
  if (pending_id == 0) {
    t.ledger = 1;
    t.code = 1;
  }
  return t;
}

struct LivePoint {
  std::uint64_t next_sequence = 0;
  StateHash hash;
};

TEST(Replay, ReproducesTheLiveEnginesStateAtEveryPointAndReexecutesIdentically) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (LOCKSTEP_SEED replays)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  const EngineConfig config = ledger_config();
  constexpr std::uint64_t kAccounts = 40;
  std::vector<LivePoint> points;
  StateHash final_hash;
  std::uint64_t final_sequence = 0;
  {
    LedgerEngine engine(dir.path, ledger::handlers(), config);
    engine.start();
    auto s = engine.session(1);
    // Every fourth account may not have more debits than credits: some transfers from it
    // are refused.
    for (std::uint64_t id = 1; id <= kAccounts; ++id) {
      ASSERT_EQ(s.submit(ledger_account(id, id % 4 == 0 ? ledger::kDebitsMustNotExceedCredits : 0),
                         ignore, nullptr),
                SubmitResult::kAccepted);
    }
    std::uint64_t next_id = 1;
    std::vector<std::uint64_t> pending;
    const auto account = [&] { return 1 + rng() % kAccounts; };
    const auto other = [&](std::uint64_t a) {
      const std::uint64_t b = 1 + rng() % (kAccounts - 1);
      return b >= a ? b + 1 : b;
    };
    const auto read_point = [&] {
      points.push_back(engine.read([](const ledger::Tables& t, std::uint64_t next) {
        return LivePoint{next, tables_hash(t)};
      }));
    };
    for (int op = 0; op < 3000; ++op) {
      const std::uint64_t a = account();
      const std::uint64_t b = other(a);
      SubmitResult r = SubmitResult::kAccepted;
      switch (rng() % 10) {
        case 5: {  // pending
          pending.push_back(next_id);
          r = s.submit(ledger_transfer(next_id++, a, b, 1 + rng() % 500, ledger::kPending), ignore,
                       nullptr);
          break;
        }
        case 6:  // post a pending transfer (refused if it was already posted or voided)
        case 7:  // void one
          if (!pending.empty()) {
            const std::uint64_t p = pending[rng() % pending.size()];
            r = s.submit(ledger_transfer(next_id++, 0, 0, 0,
                                         op % 2 ? ledger::kPostPending : ledger::kVoidPending, p),
                         ignore, nullptr);
          }
          break;
        case 8:  // to an account that does not exist: refused
          r = s.submit(ledger_transfer(next_id++, a, 100000, 5), ignore, nullptr);
          break;
        case 9: {  // a linked chain of three, refused together when one is
          const auto t1 = ledger_transfer(next_id++, a, b, 1 + rng() % 100);
          const auto t2 = ledger_transfer(next_id++, b, other(b), 1 + rng() % 2000);
          const auto t3 = ledger_transfer(next_id++, other(a), a, 1 + rng() % 100);
          const LedgerEngine::Session::Request chain[] = {
              {ledger::CreateTransfer::kKind, std::as_bytes(std::span(&t1, 1)), ignore, nullptr,
               true},
              {ledger::CreateTransfer::kKind, std::as_bytes(std::span(&t2, 1)), ignore, nullptr,
               true},
              {ledger::CreateTransfer::kKind, std::as_bytes(std::span(&t3, 1)), ignore, nullptr,
               false}};
          r = s.submit_all(chain);
          break;
        }
        default: r = s.submit(ledger_transfer(next_id++, a, b, 1 + rng() % 1000), ignore, nullptr);
      }
      ASSERT_EQ(r, SubmitResult::kAccepted) << "op " << op << ", seed " << seed;
      // At random moments, the live state; half of the time after waiting for the
      // projection to move past the last point read (a loaded machine's pipeline lags the
      // submitter, and reads would otherwise see few distinct points).
      if (rng() % 50 == 0) {
        if (rng() % 2 && !points.empty()) {
          const std::uint64_t submitted = kAccounts + next_id - 1;  // one id per command
          const auto until = std::chrono::steady_clock::now() + 5s;
          for (;;) {
            const std::uint64_t next =
                engine.read([](const ledger::Tables&, std::uint64_t n) { return n; });
            if (next > points.back().next_sequence || next >= submitted ||
                std::chrono::steady_clock::now() > until) {
              break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
          }
        }
        read_point();
      }
    }
    engine.stop();
    ASSERT_FALSE(engine.failed()) << engine.failure();
    final_hash = engine.executor().state_hash();
    final_sequence = engine.executor().next_sequence();
    read_point();
    EXPECT_EQ(points.back().next_sequence, final_sequence);
    EXPECT_EQ(points.back().hash, final_hash);
  }
  ASSERT_GT(points.size(), 20u) << "seed " << seed;

  std::unique_ptr<journal::IoBackend> io;
  std::string error;
  ASSERT_TRUE(replay::open_directory(dir.path, &io, &error)) << error;
  replay::JournalHead head;
  ASSERT_TRUE(replay::read_journal_head(*io, &head, &error)) << error;
  EXPECT_EQ(head.first_sequence, 0u);
  EXPECT_EQ(head.first_segment, journal::segment_file_name(0));
  schema::Domain domain;
  ASSERT_TRUE(replay::domain_of(head.descriptor, &domain, &error)) << error;
  EXPECT_EQ(domain.name, "ledger");

  // Point in time: the deltas up to each live point give exactly the state read there.
  std::sort(points.begin(), points.end(), [](const LivePoint& x, const LivePoint& y) {
    return x.next_sequence < y.next_sequence;
  });
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0 && points[i].next_sequence == points[i - 1].next_sequence) {
      EXPECT_EQ(points[i].hash, points[i - 1].hash)
          << "two reads at sequence " << points[i].next_sequence << ", seed " << seed;
      continue;
    }
    ++distinct;
    std::vector<std::string> skipped;
    auto r = replay::start_replay(*io, domain, std::nullopt, &skipped);
    EXPECT_TRUE(skipped.empty());
    ASSERT_TRUE(replay_until(*io, r.get(), &error, points[i].next_sequence)) << error;
    EXPECT_EQ(r->next_sequence(), points[i].next_sequence) << "seed " << seed;
    EXPECT_EQ(r->state().hash(), points[i].hash)
        << "the state after sequence " << points[i].next_sequence << " - 1, seed " << seed;
    EXPECT_FALSE(r->in_chain()) << "a read saw part of a linked chain";
  }
  EXPECT_GT(distinct, 10u) << "seed " << seed;
  std::printf("%zu live reads at %zu distinct sequences of %llu\n", points.size(), distinct,
              static_cast<unsigned long long>(final_sequence));

  // The whole journal, with recovery's checks: every recorded batch-end hash reproduced.
  DeltaReplay full(domain);
  journal::RecoveryReport report;
  std::uint64_t batch_ends = 0;
  std::string apply_error;
  const auto s = replay::scan_journal(*io, &report, [&](const JournalEntry& e) {
    TxResultView v;
    std::string why;
    EXPECT_TRUE(decode_tx_result(e.bytes, &v, &why)) << why;
    batch_ends += (v.flags & kTxFlagBatchEnd) != 0 ? 1 : 0;
    return full.apply(e, &apply_error);
  });
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_EQ(apply_error, "");
  EXPECT_FALSE(report.torn_tail) << report.torn_detail;
  EXPECT_GT(report.segments, 1u) << "the journal should span several segments";
  EXPECT_EQ(full.next_sequence(), final_sequence);
  EXPECT_EQ(full.entries(), final_sequence);
  EXPECT_EQ(full.committed() + full.refused(), final_sequence);
  EXPECT_GT(full.refused(), 0u) << "the workload refuses some transfers";
  EXPECT_GT(full.hashes_checked(), 0u);
  EXPECT_EQ(full.hashes_checked(), batch_ends);
  EXPECT_EQ(full.state().hash(), final_hash);
  EXPECT_EQ(full.state().recompute_hash(), final_hash);
  EXPECT_TRUE(full.at_frame_end());
  EXPECT_FALSE(full.in_chain());
  ASSERT_EQ(full.sessions().size(), 1u);
  EXPECT_EQ(full.sessions().begin()->first, 1u);
  EXPECT_EQ(full.sessions().begin()->second.sequence, final_sequence - 1);

  // Re-execution through the handlers: every TxResult identical.
  replay::ReexecuteReport rep;
  ASSERT_TRUE(replay::reexecute_journal<ledger::Domain>(*io, ledger::handlers(), config.executor,
                                                        &rep, &error))
      << error;
  EXPECT_FALSE(rep.diverged) << "at sequence " << rep.divergence_sequence << " (" << rep.where
                             << ")\njournal:     " << rep.journal_json
                             << "\nre-executed: " << rep.reexecuted_json;
  EXPECT_EQ(rep.from_sequence, 0u);
  EXPECT_EQ(rep.commands, final_sequence);
  EXPECT_EQ(rep.results, final_sequence);
}

// ---- 2. A non-deterministic handler -----------------------------------------------------

using BankEngine = Engine<bank::Domain>;

EngineConfig bank_config() {
  EngineConfig c;
  c.executor.table_capacity = {256, 1u << 14};
  // Small results and chains, so small frames and segments are allowed.
  c.executor.result_bytes_max = 8u << 10;
  c.executor.chain_bytes_max = 16u << 10;
  c.executor.chain_length_max = 8;
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 64u << 10;  // several segments
  c.journal.frame_bytes_max = 32u << 10;
  c.journal.durability = journal::Durability::kNone;
  return c;
}

decltype(bank::Handlers::deposit) g_real_deposit = nullptr;
decltype(bank::Handlers::withdraw) g_real_withdraw = nullptr;
int g_withdraw_calls = 0;
int g_refuse_withdraw_call = 0;

// Deposits one unit more into odd accounts.
Outcome odd_deposit(const bank::Deposit& c, bank::Tx& tx) {
  bank::Deposit d = c;
  if (d.account % 2 == 1) d.amount.units += 1;
  return g_real_deposit(d, tx);
}
// Refuses the g_refuse_withdraw_call-th withdrawal it sees.
Outcome nth_withdraw_refused(const bank::Withdraw& c, bank::Tx& tx) {
  if (++g_withdraw_calls == g_refuse_withdraw_call) return bank::reject(bank::Reject::index_stale);
  return g_real_withdraw(c, tx);
}

struct BankCommand {
  std::uint16_t kind = 0;
  std::uint64_t account = 0;
};

// A bank journal on `disk`: accounts 1..8, then `n` seeded deposits, withdrawals and
// transfers, one session, each command its own sequence in order. Returns the commands.
std::vector<BankCommand> write_bank_journal(MemoryDisk& disk, std::mt19937_64& rng, int n) {
  std::vector<BankCommand> cmds;
  BankEngine engine(disk, bank::handlers(), bank_config());
  engine.start();
  auto s = engine.session(3);
  Counter counter;
  for (std::uint64_t id = 1; id <= 8; ++id) {
    EXPECT_EQ(s.submit(bank_test::open(id, ("o" + std::to_string(id)).c_str(), 1000), Counter::on,
                       &counter),
              SubmitResult::kAccepted);
    cmds.push_back({bank::OpenAccount::kKind, id});
  }
  for (int i = 0; i < n; ++i) {
    const std::uint64_t a = 1 + rng() % 8;
    const std::int64_t amount = 1 + static_cast<std::int64_t>(rng() % 300);
    SubmitResult r = SubmitResult::kAccepted;
    switch (rng() % 3) {
      case 0:
        r = s.submit(bank_test::deposit(a, amount), Counter::on, &counter);
        cmds.push_back({bank::Deposit::kKind, a});
        break;
      case 1:
        r = s.submit(bank_test::withdraw(a, amount), Counter::on, &counter);
        cmds.push_back({bank::Withdraw::kKind, a});
        break;
      default:
        r = s.submit(bank_test::transfer(1000 + i, a, 1 + a % 8, amount), Counter::on, &counter);
        cmds.push_back({bank::MakeTransfer::kKind, a});
    }
    EXPECT_EQ(r, SubmitResult::kAccepted);
  }
  EXPECT_TRUE(counter.wait_for(cmds.size()));
  engine.stop();
  EXPECT_FALSE(engine.failed()) << engine.failure();
  EXPECT_EQ(engine.executor().next_sequence(), cmds.size());
  return cmds;
}

TEST(Replay, ReexecutionCatchesAHandlerThatBehavesDifferently) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (LOCKSTEP_SEED replays)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  MemoryDisk disk;
  const std::vector<BankCommand> cmds = write_bank_journal(disk, rng, 300);
  const schema::Domain domain = domain_of<bank::Domain>();
  // The journal holds the commands in submission order.
  {
    std::uint64_t n = 0;
    journal::RecoveryReport report;
    const auto s = replay::scan_journal(disk, &report, [&](const JournalEntry& e) {
      TxResultView v;
      std::string why;
      EXPECT_TRUE(decode_tx_result(e.bytes, &v, &why)) << why;
      EXPECT_LT(e.sequence, cmds.size());
      if (e.sequence < cmds.size()) {
        EXPECT_EQ(v.command_kind, cmds[e.sequence].kind);
      }
      ++n;
      return true;
    });
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_EQ(n, cmds.size());
  }
  const EngineOptions options = bank_config().executor;
  std::string error;
  {
    replay::ReexecuteReport rep;
    ASSERT_TRUE(
        replay::reexecute_journal<bank::Domain>(disk, bank::handlers(), options, &rep, &error))
        << error;
    EXPECT_FALSE(rep.diverged) << rep.where;
    EXPECT_EQ(rep.results, cmds.size());
  }

  g_real_deposit = bank::handlers().deposit;
  g_real_withdraw = bank::handlers().withdraw;
  {
    // Deposits into open accounts never fail here: the first into an odd account differs.
    std::uint64_t expected = UINT64_MAX;
    for (std::uint64_t i = 0; i < cmds.size() && expected == UINT64_MAX; ++i) {
      if (cmds[i].kind == bank::Deposit::kKind && cmds[i].account % 2 == 1) expected = i;
    }
    ASSERT_NE(expected, UINT64_MAX) << "seed " << seed;
    bank::Handlers h = bank::handlers();
    h.deposit = odd_deposit;
    replay::ReexecuteReport rep;
    ASSERT_TRUE(replay::reexecute_journal<bank::Domain>(disk, h, options, &rep, &error)) << error;
    ASSERT_TRUE(rep.diverged) << "seed " << seed;
    EXPECT_EQ(rep.divergence_sequence, expected) << "seed " << seed;
    EXPECT_EQ(rep.results, expected) << "every result before it compared equal";
    EXPECT_NE(rep.where.find("sequence " + std::to_string(expected)), std::string::npos)
        << rep.where;
    EXPECT_FALSE(rep.journal_json.empty());
    EXPECT_FALSE(rep.reexecuted_json.empty());
    EXPECT_NE(rep.journal_json, rep.reexecuted_json);
    const std::string seq = "\"sequence\":" + std::to_string(expected) + ",";
    EXPECT_NE(rep.journal_json.find(seq), std::string::npos) << rep.journal_json;
    EXPECT_NE(rep.reexecuted_json.find(seq), std::string::npos) << rep.reexecuted_json;
    EXPECT_NE(rep.journal_json.find("\"kind\":\"Deposit\""), std::string::npos);
  }
  {
    // The third withdrawal is refused with a code the real handler never gives.
    std::uint64_t expected = UINT64_MAX;
    int seen = 0;
    for (std::uint64_t i = 0; i < cmds.size() && expected == UINT64_MAX; ++i) {
      if (cmds[i].kind == bank::Withdraw::kKind && ++seen == 3) expected = i;
    }
    ASSERT_NE(expected, UINT64_MAX) << "seed " << seed;
    bank::Handlers h = bank::handlers();
    h.withdraw = nth_withdraw_refused;
    g_withdraw_calls = 0;
    g_refuse_withdraw_call = 3;
    replay::ReexecuteReport rep;
    ASSERT_TRUE(replay::reexecute_journal<bank::Domain>(disk, h, options, &rep, &error)) << error;
    ASSERT_TRUE(rep.diverged) << "seed " << seed;
    EXPECT_EQ(rep.divergence_sequence, expected) << "seed " << seed;
    EXPECT_NE(rep.journal_json, rep.reexecuted_json);
    EXPECT_EQ(rep.journal_json.find("index_stale"), std::string::npos) << rep.journal_json;
    EXPECT_NE(rep.reexecuted_json.find("\"outcome\":\"index_stale\""), std::string::npos)
        << rep.reexecuted_json;
  }
}

TEST(Replay, ReexecutionNamesTheFirstDifferingResultOfALinkedChain) {
  MemoryDisk disk;
  {
    BankEngine engine(disk, bank::handlers(), bank_config());
    engine.start();
    auto s = engine.session(3);
    Counter counter;
    ASSERT_EQ(s.submit(bank_test::open(1, "one"), Counter::on, &counter), SubmitResult::kAccepted);
    ASSERT_EQ(s.submit(bank_test::open(2, "two"), Counter::on, &counter), SubmitResult::kAccepted);
    ASSERT_EQ(s.submit(bank_test::deposit(2, 10), Counter::on, &counter), SubmitResult::kAccepted);
    // Sequences 3 and 4: the chain's first result is the same on re-execution, its second
    // (into odd account 1) is not.
    const bank::Deposit d2 = bank_test::deposit(2, 20);
    const bank::Deposit d1 = bank_test::deposit(1, 30);
    const BankEngine::Session::Request chain[] = {
        {bank::Deposit::kKind, std::as_bytes(std::span(&d2, 1)), Counter::on, &counter, true},
        {bank::Deposit::kKind, std::as_bytes(std::span(&d1, 1)), Counter::on, &counter, false}};
    ASSERT_EQ(s.submit_all(chain), SubmitResult::kAccepted);
    ASSERT_EQ(s.submit(bank_test::deposit(2, 10), Counter::on, &counter), SubmitResult::kAccepted);
    ASSERT_TRUE(counter.wait_for(6));
    EXPECT_EQ(counter.committed.load(), 6u);
    engine.stop();
  }
  g_real_deposit = bank::handlers().deposit;
  bank::Handlers h = bank::handlers();
  h.deposit = odd_deposit;
  replay::ReexecuteReport rep;
  std::string error;
  ASSERT_TRUE(
      replay::reexecute_journal<bank::Domain>(disk, h, bank_config().executor, &rep, &error))
      << error;
  ASSERT_TRUE(rep.diverged);
  EXPECT_EQ(rep.divergence_sequence, 4u);
  EXPECT_EQ(rep.results, 3u);
  EXPECT_EQ(rep.commands, 5u);
  // Both members of the chain are shown, on both sides.
  EXPECT_NE(rep.journal_json.find("\"sequence\":3,"), std::string::npos) << rep.journal_json;
  EXPECT_NE(rep.journal_json.find("\"sequence\":4,"), std::string::npos) << rep.journal_json;
  EXPECT_NE(rep.reexecuted_json.find("\"sequence\":4,"), std::string::npos);
  EXPECT_NE(rep.journal_json, rep.reexecuted_json);
}

// ---- 3. Damaged and inconsistent journals ------------------------------------------------

struct Frame {
  std::string segment;
  std::uint64_t offset = 0;
  std::uint64_t first_sequence = 0;
  std::uint32_t bytes = 0;
};

// A bank journal of `n` commands, each waited for, so each is its own frame.
void write_one_frame_per_command(MemoryDisk& disk, int n) {
  BankEngine engine(disk, bank::handlers(), bank_config());
  engine.start();
  auto s = engine.session(3);
  Counter counter;
  ASSERT_EQ(s.submit(bank_test::open(1, "one"), Counter::on, &counter), SubmitResult::kAccepted);
  ASSERT_TRUE(counter.wait_for(1));
  for (int i = 1; i < n; ++i) {
    ASSERT_EQ(s.submit(bank_test::deposit(1, i), Counter::on, &counter), SubmitResult::kAccepted);
    ASSERT_TRUE(counter.wait_for(static_cast<std::uint64_t>(i) + 1));
  }
  engine.stop();
}

std::vector<Frame> frames_of(journal::IoBackend& io) {
  std::vector<Frame> frames;
  journal::RecoveryReport report;
  const auto s = replay::scan_journal(io, &report, [&](const JournalEntry& e) {
    if (frames.empty() || frames.back().segment != e.segment ||
        frames.back().offset != e.frame_offset) {
      frames.push_back({e.segment, e.frame_offset, e.sequence, e.frame_bytes});
    }
    return true;
  });
  EXPECT_TRUE(s.is_ok()) << s.message();
  return frames;
}

TEST(Replay, ABitFlipInAFrameInTheMiddleIsRefusedNamingSegmentOffsetAndSequence) {
  MemoryDisk disk;
  write_one_frame_per_command(disk, 60);
  const std::vector<Frame> frames = frames_of(disk);
  ASSERT_GE(frames.size(), 60u);
  // A frame from the middle on with at least 8 frames after it in its segment (more than
  // writes_in_flight: not a torn tail, whatever segment it is in).
  std::size_t bad = frames.size();
  for (std::size_t i = frames.size() / 2; i + 8 < frames.size(); ++i) {
    if (frames[i + 8].segment == frames[i].segment) {
      bad = i;
      break;
    }
  }
  ASSERT_LT(bad, frames.size());
  const Frame f = frames[bad];
  MemoryDisk damaged = disk;
  damaged.flip_bit(f.segment, f.offset + journal::kFrameHeaderBytes + 20, 2);

  std::uint64_t last_seen = 0;
  bool any = false;
  journal::RecoveryReport report;
  const auto s = replay::scan_journal(damaged, &report, [&](const JournalEntry& e) {
    last_seen = e.sequence;
    any = true;
    return true;
  });
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error, journal::RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.segment, f.segment);
  EXPECT_EQ(s.offset, f.offset);
  EXPECT_EQ(s.sequence, f.first_sequence);
  const std::string m = s.message();
  EXPECT_NE(m.find(f.segment), std::string::npos) << m;
  EXPECT_NE(m.find("offset " + std::to_string(f.offset)), std::string::npos) << m;
  EXPECT_NE(m.find("sequence " + std::to_string(f.first_sequence)), std::string::npos) << m;
  ASSERT_TRUE(any);
  EXPECT_EQ(last_seen + 1, f.first_sequence) << "entries after the bad frame were visited";

  // The reader from sequence 0 refuses it too, naming the segment.
  const schema::Domain domain = domain_of<bank::Domain>();
  DeltaReplay r(domain);
  std::string error;
  EXPECT_FALSE(replay_until(damaged, &r, &error));
  EXPECT_NE(error.find(f.segment), std::string::npos) << error;
  EXPECT_EQ(r.next_sequence(), f.first_sequence);

  // The undamaged journal still reads.
  DeltaReplay good(domain);
  EXPECT_TRUE(replay_until(disk, &good, &error)) << error;
  EXPECT_EQ(good.next_sequence(), 60u);
}

TEST(Replay, ADamagedLastFrameIsRefusedNotDroppedAsATornTail) {
  // The engine wrote and acknowledged every frame, then stopped cleanly: a flipped bit
  // in the last one is corruption, whatever the frame's place.
  MemoryDisk disk;
  write_one_frame_per_command(disk, 20);
  const std::vector<Frame> frames = frames_of(disk);
  ASSERT_FALSE(frames.empty());
  const Frame f = frames.back();
  MemoryDisk damaged = disk;
  damaged.flip_bit(f.segment, f.offset + journal::kFrameHeaderBytes + 20, 5);
  journal::RecoveryReport report;
  const schema::Domain domain = domain_of<bank::Domain>();
  DeltaReplay r(domain);
  std::string error;
  const auto s = replay::scan_journal(damaged, &report,
                                      [&](const JournalEntry& e) { return r.apply(e, &error); });
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error, journal::RecoveryError::kCorruptFrame) << s.message();
  EXPECT_EQ(s.offset, f.offset);
  EXPECT_EQ(s.sequence, f.first_sequence);
  EXPECT_EQ(error, "");
  EXPECT_EQ(r.next_sequence(), f.first_sequence);  // everything before it was read
  EXPECT_FALSE(report.torn_tail);
}

TEST(Replay, ATornLastFrameIsATornTailReportedNotRefused) {
  // What a crash leaves: the last frame's last sector never reached the disk, and no
  // record after it says it was durable (the journal was not closed).
  // A crash keeps a sector whole or loses it whole: the last frame must span two sectors
  // to be torn with its header kept. Commands are added until it does.
  MemoryDisk disk;
  std::vector<Frame> frames;
  std::uint64_t tear = 0;  // the last sector boundary inside the last frame
  for (int n = 20; n < 60 && tear == 0; ++n) {
    disk = MemoryDisk();
    write_one_frame_per_command(disk, n);
    frames = frames_of(disk);
    ASSERT_FALSE(frames.empty());
    const Frame& last = frames.back();
    const std::uint64_t boundary = (last.offset + last.bytes - 1) / 512 * 512;
    if (boundary > last.offset) tear = boundary;
  }
  ASSERT_NE(tear, 0u);
  const Frame f = frames.back();
  std::vector<std::byte> bytes = disk.contents(f.segment);
  // Tear: the frame's last sector, and everything after it (the markers), never written.
  MemoryDisk torn;
  {
    journal::FileHandle h = 0;
    ASSERT_TRUE(torn.open(f.segment, {.create = true}, &h).is_ok());
    std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(tear), bytes.end(), std::byte{0});
    ASSERT_TRUE(torn.write_and_sync(h, 0, bytes).is_ok());
    ASSERT_TRUE(torn.close(h).is_ok());
  }
  ASSERT_EQ(frames.front().segment, f.segment) << "the journal should be one segment";
  journal::RecoveryReport report;
  const schema::Domain domain = domain_of<bank::Domain>();
  DeltaReplay r(domain);
  std::string error;
  const auto s = replay::scan_journal(torn, &report,
                                      [&](const JournalEntry& e) { return r.apply(e, &error); });
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(error, "");
  EXPECT_TRUE(report.torn_tail);
  EXPECT_FALSE(report.repaired);  // read-only
  EXPECT_EQ(report.torn_offset, f.offset);
  EXPECT_EQ(report.dropped_entries, 1u);
  EXPECT_NE(report.torn_detail.find("none was acknowledged"), std::string::npos)
      << report.torn_detail;
  EXPECT_EQ(r.next_sequence(), f.first_sequence);
  // Read-only: the torn bytes are still there.
  EXPECT_EQ(torn.contents(f.segment), bytes);
}

// A TxResult built field by field (engine/tx_result.h).
struct Built {
  std::uint16_t flags = 0;
  std::uint16_t kind = bank::Deposit::kKind;
  std::uint64_t client = 7;
  std::uint64_t request = 1;
  std::uint64_t sequence = 0;
  std::uint64_t tx_sequence = 0;
  std::int64_t time = 0;
  std::uint32_t code = 0;
  std::uint32_t detail = 0;
  std::vector<std::byte> command;
  struct Write {
    std::uint8_t op = kWriteUpsert;
    std::uint16_t table = 0;
    std::vector<std::byte> bytes;
  };
  std::vector<Write> writes;
  struct Event {
    std::uint16_t kind = 0;
    std::vector<std::byte> bytes;
  };
  std::vector<Event> events;
  std::optional<StateHash> hash;
};

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

std::vector<std::byte> encode(const Built& b) {
  std::vector<std::byte> body = b.command;
  for (const auto& w : b.writes) {
    put(body, w.op);
    put(body, std::uint8_t{0});
    put(body, w.table);
    put(body, static_cast<std::uint32_t>(w.bytes.size()));
    body.insert(body.end(), w.bytes.begin(), w.bytes.end());
  }
  for (const auto& e : b.events) {
    put(body, e.kind);
    put(body, std::uint16_t{0});
    put(body, static_cast<std::uint32_t>(e.bytes.size()));
    body.insert(body.end(), e.bytes.begin(), e.bytes.end());
  }
  if (b.hash) {
    put(body, b.hash->lo);
    put(body, b.hash->hi);
    put(body, b.hash->records);
  }
  std::vector<std::byte> out;
  put(out, kTxResultFormat);
  put(out, b.flags);
  put(out, b.kind);
  put(out, std::uint16_t{0});
  put(out, b.client);
  put(out, b.request);
  put(out, b.sequence);
  put(out, b.tx_sequence);
  put(out, b.time);
  put(out, b.code);
  put(out, b.detail);
  put(out, static_cast<std::uint32_t>(b.command.size()));
  put(out, static_cast<std::uint32_t>(b.writes.size()));
  put(out, static_cast<std::uint32_t>(b.events.size()));
  put(out, static_cast<std::uint32_t>(body.size()));
  EXPECT_EQ(out.size(), kTxResultHeaderBytes);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Built built_from(const TxResultView& v) {
  Built b;
  b.flags = v.flags;
  b.kind = v.command_kind;
  b.client = v.client_id;
  b.request = v.request_id;
  b.sequence = v.command_sequence;
  b.tx_sequence = v.tx_sequence;
  b.time = v.logical_time_ns;
  b.code = v.outcome.code();
  b.detail = v.outcome.detail();
  b.command.assign(v.command.begin(), v.command.end());
  for (const auto& w : v.writes)
    b.writes.push_back({w.op, w.table, {w.bytes.begin(), w.bytes.end()}});
  for (const auto& e : v.events) b.events.push_back({e.kind, {e.bytes.begin(), e.bytes.end()}});
  if (v.has_state_hash) b.hash = v.state_hash;
  return b;
}

template <class T>
std::vector<std::byte> bytes_of(const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  return {p, p + sizeof v};
}

template <class T>
void set(std::vector<std::byte>& bytes, std::size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

class ReplayDeltaChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    // 0 open 1, 1 open 2, 2 deposit, 3 transfer, 4 refused withdrawal, 5 deposit, 6 close
    // (refused: balance not zero), 7 open 3, each its own batch (a state hash each).
    using namespace bank_test;
    for (auto& r : bank_.submit(open(1, "alice"))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(open(2, "bob"))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(deposit(1, 500))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(transfer(9, 1, 2, 100))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(withdraw(2, 5000))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(deposit(2, 5))) results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(bank::CloseAccount{.account = 2}))
      results_.push_back(std::move(r.bytes));
    for (auto& r : bank_.submit(open(3, "carol"))) results_.push_back(std::move(r.bytes));
    ASSERT_EQ(results_.size(), 8u);
  }

  JournalEntry entry(std::uint64_t sequence, std::span<const std::byte> bytes,
                     bool last_in_frame = true) const {
    JournalEntry e;
    e.segment = journal::segment_file_name(0);
    e.frame_offset = 4096 + sequence * 512;
    e.sequence = sequence;
    e.bytes = bytes;
    e.last_in_frame = last_in_frame;
    e.frame_chain[0] = static_cast<std::byte>(sequence);
    return e;
  }
  TxResultView view(std::uint64_t i) const {
    TxResultView v;
    std::string why;
    EXPECT_TRUE(decode_tx_result(results_[i], &v, &why)) << why;
    return v;
  }

  // A replay with results 0 .. n-1 applied.
  std::unique_ptr<DeltaReplay> after(std::uint64_t n) {
    auto r = std::make_unique<DeltaReplay>(domain_);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string error;
      EXPECT_TRUE(r->apply(entry(i, results_[i]), &error)) << error;
    }
    return r;
  }

  // Applying `bytes` as sequence n after results 0 .. n-1 is refused with a message
  // naming sequence n (or `entry_sequence`, the entry's) and containing `what`.
  void expect_refused(std::uint64_t n, std::span<const std::byte> bytes, const std::string& what,
                      bool last_in_frame = true) {
    auto r = after(n);
    std::string error;
    EXPECT_FALSE(r->apply(entry(n, bytes, last_in_frame), &error)) << what;
    EXPECT_EQ(error.rfind("sequence " + std::to_string(n) + " (", 0), 0u) << error;
    EXPECT_NE(error.find(what), std::string::npos) << error;
  }

  bank_test::Bank bank_;
  schema::Domain domain_ = domain_of<bank::Domain>();
  std::vector<std::vector<std::byte>> results_;
};

TEST_F(ReplayDeltaChecks, TheExecutorsResultsReplayToItsState) {
  // The hand encoder writes what the executor writes.
  for (std::size_t i = 0; i < results_.size(); ++i) {
    EXPECT_EQ(encode(built_from(view(i))), results_[i]) << "result " << i;
  }
  auto r = after(results_.size());
  EXPECT_EQ(r->next_sequence(), results_.size());
  EXPECT_EQ(r->state().hash(), bank_.exec().state_hash());
  EXPECT_EQ(r->hashes_checked(), results_.size());
  EXPECT_EQ(r->committed(), 6u);
  EXPECT_EQ(r->refused(), 2u);
  EXPECT_EQ(r->tx_sequence(), bank_.exec().tx_sequence());
  EXPECT_EQ(r->last_time_ns(), view(7).logical_time_ns);
  EXPECT_EQ(r->chain()[0], std::byte{7});  // the last frame's
  EXPECT_EQ(r->state().records(bank::Account::kTableId), 3u);
  EXPECT_EQ(r->state().records(bank::Transfer::kTableId), 1u);
  ASSERT_EQ(r->sessions().size(), 1u);
  EXPECT_EQ(r->sessions().at(7).sequence, 7u);
  EXPECT_EQ(r->sessions().at(7).request_id, view(7).request_id);
  // The record as the executor has it.
  std::string key;
  std::string error;
  const schema::Struct& account = domain_.records[bank::Account::kTableId];
  ASSERT_TRUE(replay::key_from_json(domain_, account, "2", &key, &error)) << error;
  const auto image = r->state().find(bank::Account::kTableId, key);
  ASSERT_EQ(image.size(), sizeof(bank::Account));
  EXPECT_EQ(std::memcmp(image.data(), bank_.account(2), sizeof(bank::Account)), 0);
  // result_json decodes by name.
  const std::string json = replay::result_json(domain_, view(4));
  EXPECT_NE(json.find("\"kind\":\"Withdraw\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"outcome\":\"insufficient_funds\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"command\":{\"account\":2,\"amount\":\"50.00\"}"), std::string::npos)
      << json;
}

TEST_F(ReplayDeltaChecks, AnEntryOutOfSequenceIsRefused) {
  auto r = after(3);
  std::string error;
  EXPECT_FALSE(r->apply(entry(4, results_[4]), &error));
  EXPECT_EQ(error.rfind("sequence 4 (", 0), 0u) << error;
  EXPECT_NE(error.find("expected sequence 3"), std::string::npos) << error;
  EXPECT_EQ(r->next_sequence(), 3u);
  // The same entry twice.
  EXPECT_FALSE(r->apply(entry(2, results_[2]), &error));
  EXPECT_NE(error.find("expected sequence 3"), std::string::npos) << error;
}

TEST_F(ReplayDeltaChecks, ATxResultClaimingAnotherSequenceIsRefused) {
  std::vector<std::byte> b = results_[3];
  set(b, tx_field::kCommandSequence, std::uint64_t{4});
  expect_refused(3, b, "the TxResult says it is sequence 4");
}

TEST_F(ReplayDeltaChecks, LogicalTimeThatDoesNotIncreaseIsRefused) {
  std::vector<std::byte> b = results_[3];
  set(b, tx_field::kLogicalTime, view(2).logical_time_ns);
  expect_refused(3, b, "does not increase");
  set(b, tx_field::kLogicalTime, view(2).logical_time_ns - 1);
  expect_refused(3, b, "does not increase");
}

TEST_F(ReplayDeltaChecks, AWrongTransactionSequenceIsRefused) {
  std::vector<std::byte> b = results_[3];
  set(b, tx_field::kTxSequence, view(3).tx_sequence + 1);
  expect_refused(3, b, "transaction sequence " + std::to_string(view(3).tx_sequence + 1));
  // A refused result does not count: the same transaction sequence as the one before.
  b = results_[4];
  set(b, tx_field::kTxSequence, view(4).tx_sequence + 1);
  expect_refused(4, b, "a refused result after");
}

TEST_F(ReplayDeltaChecks, ARefusedResultWithWritesOrEventsIsRefused) {
  // Sequence 4 refused (insufficient funds), built by hand with the account's image.
  Built b = built_from(view(4));
  ASSERT_NE(b.code, 0u);
  ASSERT_TRUE(b.writes.empty());
  b.writes.push_back({kWriteUpsert, bank::Account::kTableId, bytes_of(*bank_.account(2))});
  // decode_tx_result refuses it already (DeltaReplay checks again after decoding).
  expect_refused(4, encode(b), "a refused command with writes or events");
  b.writes.clear();
  b.events.push_back({bank::Withdrew::kKind, bytes_of(bank::Withdrew{.account = 2})});
  expect_refused(4, encode(b), "a refused command with writes or events");
}

TEST_F(ReplayDeltaChecks, AnEraseOfAMissingRecordIsRefused) {
  Built b = built_from(view(5));  // a committed deposit
  b.flags = 0;
  b.hash.reset();
  std::string key;
  std::string error;
  ASSERT_TRUE(
      replay::key_from_json(domain_, domain_.records[bank::Account::kTableId], "99", &key, &error))
      << error;
  b.writes.push_back({kWriteErase,
                      bank::Account::kTableId,
                      {reinterpret_cast<const std::byte*>(key.data()),
                       reinterpret_cast<const std::byte*>(key.data()) + key.size()}});
  expect_refused(5, encode(b), "an erase of Account {\"id\":99}, which does not exist");
  // The state is unchanged by the refused delta (its upsert was not applied either).
  auto r = after(5);
  const StateHash before = r->state().hash();
  EXPECT_FALSE(r->apply(entry(5, encode(b)), &error));
  EXPECT_EQ(r->state().hash(), before);
}

TEST_F(ReplayDeltaChecks, WritesTheSchemaCannotHoldAreRefused) {
  Built b = built_from(view(5));
  b.writes[0].bytes.pop_back();
  expect_refused(5, encode(b), "an upsert of Account carries 47 bytes, not 48");
  b = built_from(view(5));
  b.writes[0].table = 9;
  expect_refused(5, encode(b), "a write to table 9, which the schema does not have");
}

TEST_F(ReplayDeltaChecks, ARecordedStateHashTheDeltasDoNotProduceIsRefused) {
  std::vector<std::byte> b = results_[3];
  ASSERT_TRUE(view(3).has_state_hash);
  b[b.size() - kTxStateHashBytes + 3] ^= std::byte{0x10};  // the hash's lo word
  expect_refused(3, b, "the recorded state hash differs from the one the deltas produce");
  b = results_[3];
  b[b.size() - 8] ^= std::byte{0x01};  // its record count
  expect_refused(3, b, "the recorded state hash differs");
}

TEST_F(ReplayDeltaChecks, UndecodableBytesAndBrokenChainsAreRefused) {
  std::vector<std::byte> b = results_[3];
  b.pop_back();
  expect_refused(3, b, "the TxResult does not decode");
  // A linked result that ends its batch, or its frame, leaves a chain open.
  Built linked = built_from(view(3));
  linked.flags |= kTxFlagLinked;
  expect_refused(3, encode(linked), "a linked chain is left open at its batch's end");
  linked.flags = kTxFlagLinked;
  linked.hash.reset();
  expect_refused(3, encode(linked), "a linked chain is split across frames", true);
  // Inside a frame it is fine, and the replay is then in a chain, not at a frame's end.
  auto r = after(3);
  std::string error;
  const auto bytes = encode(linked);
  ASSERT_TRUE(r->apply(entry(3, bytes, false), &error)) << error;
  EXPECT_TRUE(r->in_chain());
  EXPECT_FALSE(r->at_frame_end());
  std::string name;
  MemoryDisk disk;
  EXPECT_FALSE(r->write_snapshot(disk, 0, bank::Domain::descriptor(), &name, &error));
  EXPECT_NE(error.find("frame's end"), std::string::npos) << error;
}

// ---- 4. Keys as JSON ---------------------------------------------------------------------

TEST(ReplayKeys, PrimaryKeysRoundTripThroughJson) {
  const schema::Domain d = domain_of<bank::Domain>();
  const schema::Struct& account = d.records[bank::Account::kTableId];
  const schema::Struct& transfer = d.records[bank::Transfer::kTableId];
  ASSERT_EQ(account.name, "Account");
  ASSERT_EQ(transfer.name, "Transfer");
  std::string bare, object, json, error;

  // u64: a bare number or {"id":N}; big-endian, so byte order is numeric order.
  ASSERT_TRUE(replay::key_from_json(d, account, "42", &bare, &error)) << error;
  ASSERT_TRUE(replay::key_from_json(d, account, " {\"id\":42}", &object, &error)) << error;
  EXPECT_EQ(bare, object);
  ASSERT_EQ(bare.size(), 8u);
  EXPECT_EQ(bare, std::string("\0\0\0\0\0\0\0\x2a", 8));
  ASSERT_TRUE(replay::key_to_json(d, account, std::as_bytes(std::span(bare)), &json, &error));
  EXPECT_EQ(json, "{\"id\":42}");
  // The encoding of a record's key is the same.
  const bank::Account a{.id = 42, .owner = Chars<16>::from("x")};
  std::string from_record;
  replay::encode_key(account, account.primary, reinterpret_cast<const std::byte*>(&a),
                     &from_record);
  EXPECT_EQ(from_record, bare);
  std::string k255, k256;
  ASSERT_TRUE(replay::key_from_json(d, account, "255", &k255, &error));
  ASSERT_TRUE(replay::key_from_json(d, account, "256", &k256, &error));
  EXPECT_LT(k255, k256);
  ASSERT_TRUE(replay::key_from_json(d, account, "18446744073709551615", &bare, &error));
  ASSERT_TRUE(replay::key_to_json(d, account, std::as_bytes(std::span(bare)), &json, &error));
  EXPECT_EQ(json, "{\"id\":18446744073709551615}");

  // u128: a string (decimal or hex) or a number, bare or in an object; high word first.
  ASSERT_TRUE(replay::key_from_json(d, transfer, "\"0x10000000000000001\"", &bare, &error))
      << error;
  ASSERT_TRUE(
      replay::key_from_json(d, transfer, "{\"id\":\"18446744073709551617\"}", &object, &error))
      << error;
  EXPECT_EQ(bare, object);
  EXPECT_EQ(bare, std::string("\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x01", 16));
  ASSERT_TRUE(replay::key_to_json(d, transfer, std::as_bytes(std::span(bare)), &json, &error));
  EXPECT_EQ(json, "{\"id\":\"18446744073709551617\"}");
  const bank::Transfer t{.id = {1, 1}};
  from_record.clear();
  replay::encode_key(transfer, transfer.primary, reinterpret_cast<const std::byte*>(&t),
                     &from_record);
  EXPECT_EQ(from_record, bare);
  ASSERT_TRUE(replay::key_from_json(d, transfer, "7", &bare, &error)) << error;
  ASSERT_TRUE(replay::key_to_json(d, transfer, std::as_bytes(std::span(bare)), &json, &error));
  EXPECT_EQ(json, "{\"id\":\"7\"}");
  std::string lo_max, hi_one;
  ASSERT_TRUE(replay::key_from_json(d, transfer, "\"18446744073709551615\"", &lo_max, &error));
  ASSERT_TRUE(replay::key_from_json(d, transfer, "\"18446744073709551616\"", &hi_one, &error));
  EXPECT_LT(lo_max, hi_one);
}

TEST(ReplayKeys, BadKeyJsonIsRefusedNamingTheField) {
  const schema::Domain d = domain_of<bank::Domain>();
  const schema::Struct& account = d.records[bank::Account::kTableId];
  const schema::Struct& transfer = d.records[bank::Transfer::kTableId];
  std::string key = "untouched";
  std::string error;
  for (const char* bad : {"\"alice\"", "-1", "1.5", "18446744073709551616", "{\"id\":\"7\"}"}) {
    error.clear();
    EXPECT_FALSE(replay::key_from_json(d, account, bad, &key, &error)) << bad;
    EXPECT_NE(error.find("id"), std::string::npos) << bad << ": " << error;
  }
  EXPECT_EQ(key, "untouched");
  error.clear();
  EXPECT_FALSE(replay::key_from_json(d, account, "{\"idd\":1}", &key, &error));
  EXPECT_NE(error.find("idd"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(replay::key_from_json(d, account, "{}", &key, &error));
  EXPECT_NE(error.find("Account.id: missing"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(replay::key_from_json(d, account, "{\"id\":1,\"owner\":\"x\"}", &key, &error));
  EXPECT_NE(error.find("owner"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(replay::key_from_json(d, account, "", &key, &error));
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(replay::key_from_json(d, transfer, "\"0xZZ\"", &key, &error));
  EXPECT_NE(error.find("Transfer.id"), std::string::npos) << error;
  // Encoded bytes of the wrong length.
  error.clear();
  std::string json;
  const std::string seven(7, '\0');
  EXPECT_FALSE(replay::key_to_json(d, account, std::as_bytes(std::span(seven)), &json, &error));
  EXPECT_NE(error.find("Account"), std::string::npos) << error;
  EXPECT_NE(error.find("8 bytes, got 7"), std::string::npos) << error;
}

// ---- 5. Snapshots -------------------------------------------------------------------------

// A seeded random bank mix (every kind of delta, linked chains), submitted in waves so the
// journal has many frames, some of several entries.
void random_bank_journal(MemoryDisk& disk, std::mt19937_64& rng, int waves) {
  BankEngine engine(disk, bank::handlers(), bank_config());
  engine.start();
  auto s = engine.session(5);
  Counter counter;
  std::uint64_t submitted = 0;
  const auto one = [&](auto cmd) {
    ASSERT_EQ(s.submit(cmd, Counter::on, &counter), SubmitResult::kAccepted);
    ++submitted;
  };
  for (int wave = 0; wave < waves; ++wave) {
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t a = 1 + rng() % 30;
      const std::uint64_t b = 1 + rng() % 30;
      switch (rng() % 8) {
        case 0:
          one(bank::OpenAccount{.id = a,
                                .owner = Chars<16>::from("o" + std::to_string(rng() % 40)),
                                .overdraft_limit = {100}});
          break;
        case 1: one(bank_test::deposit(a, 1 + static_cast<std::int64_t>(rng() % 50))); break;
        case 2:
          one(bank_test::transfer(rng() % 3000, a, b, 1 + static_cast<std::int64_t>(rng() % 30)));
          break;
        case 3:
          one(bank::Rename{.account = a,
                           .owner = Chars<16>::from("o" + std::to_string(rng() % 40))});
          break;
        case 4:
          one(bank::SetStatus{
              .account = a,
              .status = rng() % 2 ? bank::AccountStatus::frozen : bank::AccountStatus::open});
          break;
        case 5: one(bank::CloseAccount{.account = a}); break;
        case 6: {
          const bank::Deposit d = bank_test::deposit(a, 5);
          const bank::Withdraw w = bank_test::withdraw(b, static_cast<std::int64_t>(rng() % 20));
          const BankEngine::Session::Request chain[] = {
              {bank::Deposit::kKind, std::as_bytes(std::span(&d, 1)), Counter::on, &counter, true},
              {bank::Withdraw::kKind, std::as_bytes(std::span(&w, 1)), Counter::on, &counter,
               false}};
          ASSERT_EQ(s.submit_all(chain), SubmitResult::kAccepted);
          submitted += 2;
          break;
        }
        default: one(bank_test::withdraw(a, static_cast<std::int64_t>(rng() % 40)));
      }
    }
    if (rng() % 2) {
      ASSERT_TRUE(counter.wait_for(submitted));
    }
  }
  ASSERT_TRUE(counter.wait_for(submitted));
  engine.stop();
  ASSERT_FALSE(engine.failed()) << engine.failure();
}

struct Written {
  std::string name;
  std::uint64_t next_sequence = 0;
  StateHash hash;
  journal::ChainHash chain{};
  std::uint64_t tx_sequence = 0;
};

TEST(ReplaySnapshots, ReplayFromEachSnapshotEndsInTheFullReplaysState) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (LOCKSTEP_SEED replays)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  MemoryDisk disk;
  random_bank_journal(disk, rng, 150);
  const schema::Domain domain = domain_of<bank::Domain>();
  replay::JournalHead head;
  std::string error;
  ASSERT_TRUE(replay::read_journal_head(disk, &head, &error)) << error;

  DeltaReplay full(domain);
  ASSERT_TRUE(replay_until(disk, &full, &error)) << error;
  const std::uint64_t total = full.next_sequence();
  const StateHash final_hash = full.state().hash();
  ASSERT_GT(total, 500u) << "seed " << seed;
  EXPECT_GT(full.hashes_checked(), 0u);

  // Snapshots at the first frame ends at or after 1/5, 2/5, 3/5 and 4/5 of the journal.
  std::vector<Written> snaps;
  DeltaReplay r(domain);
  bool tried_mid_frame = false;
  for (int k = 1; k <= 4; ++k) {
    const std::uint64_t target = total * static_cast<std::uint64_t>(k) / 5;
    const auto s = replay::scan_journal_from(disk, r.next_sequence(), [&](const JournalEntry& e) {
      if (!r.apply(e, &error)) return false;
      if (!r.at_frame_end() && !tried_mid_frame) {
        tried_mid_frame = true;
        std::string name, why;
        EXPECT_FALSE(r.write_snapshot(disk, head.flags, head.descriptor, &name, &why));
      }
      return !(r.at_frame_end() && r.next_sequence() >= target);
    });
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_EQ(error, "");
    ASSERT_TRUE(r.at_frame_end());
    Written w;
    ASSERT_TRUE(r.write_snapshot(disk, head.flags, head.descriptor, &w.name, &error)) << error;
    EXPECT_EQ(w.name, snapshot::snapshot_file_name(r.next_sequence()));
    w.next_sequence = r.next_sequence();
    w.hash = r.state().hash();
    w.chain = r.chain();
    w.tx_sequence = r.tx_sequence();
    if (!snaps.empty() && snaps.back().next_sequence == w.next_sequence) continue;
    snaps.push_back(w);
  }
  ASSERT_GE(snaps.size(), 3u);
  EXPECT_TRUE(tried_mid_frame) << "no frame of several entries, seed " << seed;
  std::vector<std::pair<std::uint64_t, std::string>> listed;
  ASSERT_TRUE(snapshot::list_snapshots(disk, &listed).is_ok());
  ASSERT_EQ(listed.size(), snaps.size());
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    EXPECT_EQ(listed[i].first, snaps[i].next_sequence);
    EXPECT_EQ(listed[i].second, snaps[i].name);
  }

  for (std::size_t i = 0; i < snaps.size(); ++i) {
    const Written& w = snaps[i];
    std::vector<std::string> skipped;
    auto from = replay::start_replay(disk, domain, w.next_sequence, &skipped);
    EXPECT_TRUE(skipped.empty()) << skipped.front();
    ASSERT_TRUE(from->snapshot().has_value()) << w.name;
    EXPECT_EQ(from->snapshot()->next_sequence, w.next_sequence);
    EXPECT_EQ(from->next_sequence(), w.next_sequence);
    EXPECT_EQ(from->state().hash(), w.hash);
    EXPECT_EQ(from->state().recompute_hash(), w.hash);
    EXPECT_EQ(from->chain(), w.chain);
    EXPECT_EQ(from->tx_sequence(), w.tx_sequence);
    ASSERT_TRUE(replay_until(disk, from.get(), &error)) << w.name << ": " << error;
    EXPECT_EQ(from->next_sequence(), total);
    EXPECT_EQ(from->entries(), total - w.next_sequence);
    EXPECT_EQ(from->state().hash(), final_hash) << "from " << w.name << ", seed " << seed;
    EXPECT_EQ(from->sessions().size(), full.sessions().size());
    // One below its sequence: the snapshot before it, or none.
    skipped.clear();
    auto before = replay::start_replay(disk, domain, w.next_sequence - 1, &skipped);
    if (i == 0) {
      EXPECT_FALSE(before->snapshot().has_value());
      EXPECT_EQ(before->next_sequence(), 0u);
    } else {
      ASSERT_TRUE(before->snapshot().has_value());
      EXPECT_EQ(before->snapshot()->next_sequence, snaps[i - 1].next_sequence);
    }
  }
  // No bound: the empty state.
  std::vector<std::string> skipped;
  EXPECT_FALSE(replay::start_replay(disk, domain, std::nullopt, &skipped)->snapshot().has_value());

  // The newest snapshot corrupted: skipped, with a note, for the one before it.
  const Written& newest = snaps.back();
  const std::vector<std::byte> bytes = disk.contents(newest.name);
  ASSERT_GT(bytes.size(), 64u);
  disk.flip_bit(newest.name, bytes.size() / 2, 4);
  skipped.clear();
  auto older = replay::start_replay(disk, domain, UINT64_MAX, &skipped);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(newest.name), std::string::npos) << skipped[0];
  ASSERT_TRUE(older->snapshot().has_value());
  EXPECT_EQ(older->snapshot()->next_sequence, snaps[snaps.size() - 2].next_sequence);
  ASSERT_TRUE(replay_until(disk, older.get(), &error)) << error;
  EXPECT_EQ(older->state().hash(), final_hash);
  // Loading it directly says why.
  DeltaReplay direct(domain);
  EXPECT_FALSE(direct.load_snapshot(disk, newest.name, &error));
  EXPECT_NE(error.find(newest.name), std::string::npos) << error;
}

TEST(ReplaySnapshots, ReexecutionStartsFromASnapshotWhenOlderSegmentsAreGone) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (LOCKSTEP_SEED replays)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  MemoryDisk disk;
  random_bank_journal(disk, rng, 150);
  const schema::Domain domain = domain_of<bank::Domain>();
  replay::JournalHead head;
  std::string error;
  ASSERT_TRUE(replay::read_journal_head(disk, &head, &error)) << error;
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  std::vector<std::uint64_t> segments;
  for (const std::string& n : names) {
    if (const auto seq = journal::parse_segment_file_name(n)) segments.push_back(*seq);
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 3u) << "seed " << seed;
  DeltaReplay full(domain);
  ASSERT_TRUE(replay_until(disk, &full, &error)) << error;

  // A snapshot at the first frame end inside the second segment, then the first segment
  // removed (what a retention policy does).
  DeltaReplay r(domain);
  ASSERT_TRUE(replay_until(disk, &r, &error, segments[1] + 1)) << error;
  while (!r.at_frame_end()) {
    ASSERT_TRUE(replay_until(disk, &r, &error, r.next_sequence() + 1)) << error;
  }
  std::string name;
  ASSERT_TRUE(r.write_snapshot(disk, head.flags, head.descriptor, &name, &error)) << error;
  ASSERT_TRUE(disk.remove(journal::segment_file_name(segments[0])));

  ASSERT_TRUE(replay::read_journal_head(disk, &head, &error)) << error;
  EXPECT_EQ(head.first_sequence, segments[1]);
  replay::ReexecuteReport rep;
  ASSERT_TRUE(replay::reexecute_journal<bank::Domain>(disk, bank::handlers(),
                                                      bank_config().executor, &rep, &error))
      << error;
  EXPECT_FALSE(rep.diverged) << rep.where << "\n"
                             << rep.journal_json << "\n"
                             << rep.reexecuted_json;
  EXPECT_EQ(rep.snapshot, name);
  EXPECT_EQ(rep.from_sequence, r.next_sequence());
  EXPECT_EQ(rep.results, full.next_sequence() - r.next_sequence());

  // Without the snapshot, re-execution cannot start, and says why.
  ASSERT_TRUE(disk.remove(name));
  replay::ReexecuteReport none;
  EXPECT_FALSE(replay::reexecute_journal<bank::Domain>(disk, bank::handlers(),
                                                       bank_config().executor, &none, &error));
  EXPECT_NE(error.find("no snapshot that loads covers it"), std::string::npos) << error;
}

}  // namespace
}  // namespace lockstep
