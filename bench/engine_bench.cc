// The engine's per-command cost against the same bank logic hand-written on
// absl::flat_hash_map, in the same binary (issue 4's target: engine <= 1.5x hand-written).
//
//   BM_HandWritten/transfer   the baseline: accounts and transfers in flat_hash_maps, the
//                             transfers also in a B-tree by (debit, timestamp) as the
//                             schema's index by_debit; check, debit, credit, record the
//                             transfer, count the outcome. No staging, no result, no hash.
//   BM_Engine/transfer        Executor<bank::Domain> runs MakeTransfer: staging (undo log),
//                             unique and ordered index sync, invariant and transition
//                             checks, the TxResult (three after-images and an event)
//                             serialized into a buffer, and the incremental state hash.
//   .../deposit               the same for Deposit (one account, one event).
//
// One thread, single writer, as in the engine. 100,000 accounts; transfers between
// accounts drawn from a fixed sequence (mt19937_64, seed 1); batches of 64 commands (the
// last result of each carries the state hash); the result buffer is reused per batch, as
// a journal frame would be. Every iteration is one command.
#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/numeric/int128.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "bank_domain.h"
#include "engine/executor.h"

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::int64_t kCommands = 2'000'000;  // iterations per run (tables sized for it)

struct Pair {
  std::uint64_t debit;
  std::uint64_t credit;
};

std::vector<Pair> pairs(std::uint64_t accounts) {
  std::vector<Pair> v(1 << 16);
  std::mt19937_64 rng(1);
  for (auto& x : v) {
    x.debit = 1 + rng() % accounts;
    do {
      x.credit = 1 + rng() % accounts;
    } while (x.credit == x.debit);
  }
  return v;
}

// ---- The baseline: the same rules, no engine.
struct HandAccount {
  std::uint64_t id;
  char owner[16];
  std::int64_t balance;
  std::int64_t overdraft_limit;
  std::uint8_t status;  // 1 open
};
struct HandTransfer {
  std::uint64_t debit;
  std::uint64_t credit;
  std::int64_t amount;
  std::int64_t timestamp;
};

struct HandBank {
  absl::flat_hash_map<std::uint64_t, HandAccount> accounts;
  absl::flat_hash_map<absl::uint128, HandTransfer> transfers;  // by id (u128, as the schema)
  // The schema's ordered index Transfer.by_debit (debit, timestamp), kept the way a
  // hand-written system would keep it: (debit, timestamp, id) in a B-tree. Transfer ids
  // are 128-bit, as in the schema.
  absl::btree_set<std::tuple<std::uint64_t, std::int64_t, absl::uint128>> transfers_by_debit;

  // 0 ok, else a reject code: the same checks, in the same order, as the bank handler.
  std::uint32_t transfer(absl::uint128 id, std::uint64_t debit, std::uint64_t credit,
                         std::int64_t amount, std::int64_t now) {
    if (amount <= 0) return 7;
    if (debit == credit) return 5;
    if (transfers.contains(id)) return 6;
    auto d = accounts.find(debit);
    auto c = accounts.find(credit);
    if (d == accounts.end() || c == accounts.end()) return 1;
    if (d->second.status != 1 || c->second.status != 1) return 4;
    if (d->second.balance - amount < -d->second.overdraft_limit) return 3;
    d->second.balance -= amount;
    c->second.balance += amount;
    transfers.emplace(id, HandTransfer{debit, credit, amount, now});
    transfers_by_debit.emplace(debit, now, id);
    return 0;
  }
  std::uint32_t deposit(std::uint64_t account, std::int64_t amount) {
    if (amount <= 0) return 7;
    auto a = accounts.find(account);
    if (a == accounts.end()) return 1;
    if (a->second.status != 1) return 4;
    a->second.balance += amount;
    return 0;
  }
};

void BM_HandWritten(benchmark::State& state, bool transfers) {
  const auto kAccounts = static_cast<std::uint64_t>(state.range(0));
  HandBank bank;
  bank.accounts.reserve(kAccounts);
  bank.transfers.reserve(static_cast<std::size_t>(kCommands) + 1);
  for (std::uint64_t id = 1; id <= kAccounts; ++id) {
    HandAccount a{};
    a.id = id;
    // Like the engine's Chars<16>::from: the first 16 bytes, zero-padded.
    const std::string owner = "owner" + std::to_string(id);
    std::memset(a.owner, 0, sizeof a.owner);
    std::memcpy(a.owner, owner.data(), std::min(owner.size(), sizeof a.owner));
    a.balance = 1'000'000'000;
    a.status = 1;
    bank.accounts.emplace(id, a);
  }
  const std::vector<Pair> p = pairs(kAccounts);
  std::uint64_t n = 0;
  std::uint64_t ok = 0;
  for (auto _ : state) {
    const Pair& x = p[n & (p.size() - 1)];
    const std::uint32_t code =
        transfers ? bank.transfer(n + 1, x.debit, x.credit, 100, static_cast<std::int64_t>(n))
                  : bank.deposit(x.debit, 100);
    ok += code == 0 ? 1 : 0;
    ++n;
  }
  benchmark::DoNotOptimize(ok);
  if (ok != n) state.SkipWithError("a command was refused");
  state.SetItemsProcessed(state.iterations());
}

// ---- The engine.
void BM_Engine(benchmark::State& state, bool transfers) {
  const auto kAccounts = static_cast<std::uint64_t>(state.range(0));
  lockstep::EngineOptions options;
  options.table_capacity = {static_cast<std::uint32_t>(kAccounts),
                            static_cast<std::uint32_t>(transfers ? kCommands + 1 : 1)};
  options.preallocate = true;
  auto exec = std::make_unique<lockstep::Executor<bank::Domain>>(bank::handlers(), options);
  std::vector<std::byte> out(options.result_bytes_max * (kBatch + 1) + options.chain_bytes_max);
  std::uint64_t seq = 0;
  const auto run = [&](std::uint16_t kind, const void* payload, std::size_t bytes, bool batch_end,
                       std::size_t* at) {
    lockstep::CommandView v;
    v.kind = kind;
    v.client_id = 1;
    v.request_id = seq;
    v.sequence = seq++;
    v.logical_time_ns = static_cast<std::int64_t>(v.sequence);
    v.payload = {static_cast<const std::byte*>(payload), bytes};
    const auto r = exec->execute(v, batch_end, std::span(out).subspan(*at));
    *at += r.bytes;
    if (batch_end) *at = 0;
    return r;
  };
  std::size_t at = 0;
  for (std::uint64_t id = 1; id <= kAccounts; ++id) {
    bank::OpenAccount o{.id = id,
                        .owner = lockstep::Chars<16>::from("owner" + std::to_string(id)),
                        .overdraft_limit = {0}};
    run(o.kKind, &o, sizeof o, id % kBatch == 0, &at);
    bank::Deposit d{.account = id, .amount = {1'000'000'000}};
    run(d.kKind, &d, sizeof d, id % kBatch == 0, &at);
  }
  at = 0;
  const std::vector<Pair> p = pairs(kAccounts);
  std::uint64_t n = 0;
  std::uint64_t ok = 0;
  const std::uint64_t first_tx = exec->tx_sequence();
  for (auto _ : state) {
    const Pair& x = p[n & (p.size() - 1)];
    const bool batch_end = (n + 1) % kBatch == 0;
    if (transfers) {
      const bank::MakeTransfer c{.id = lockstep::u128::from_u64(n + 1),
                                 .debit = x.debit,
                                 .credit = x.credit,
                                 .amount = {100}};
      run(c.kKind, &c, sizeof c, batch_end, &at);
    } else {
      const bank::Deposit c{.account = x.debit, .amount = {100}};
      run(c.kKind, &c, sizeof c, batch_end, &at);
    }
    ++n;
  }
  ok = exec->tx_sequence() - first_tx;
  if (ok != n) state.SkipWithError("a command was refused");
  state.SetItemsProcessed(state.iterations());
}

// ---- Staging: undo log vs overlay (docs/semantics.md, "Staging").
//
// The two ways to keep a command's writes invisible until it commits, reduced to their
// mechanism on 64-byte records: each command reads `writes` random records, writes each
// once, reads them back (its own writes), and commits; one command in 16 is refused at
// its end and rolled back.
//   undo_log  write in place; save a record's before-image on its first write; commit
//             forgets the log, a refusal copies the images back.
//   overlay   write to a private copy found through a small hash map; every read looks
//             there first; commit copies the staged records into place.
struct StageRecord {
  std::uint64_t id;
  std::int64_t balance;
  std::uint8_t rest[48];
};

void BM_Staging(benchmark::State& state, bool overlay) {
  const auto records = static_cast<std::size_t>(state.range(0));
  const auto writes = static_cast<std::size_t>(state.range(1));
  std::vector<StageRecord> base(records);
  for (std::size_t i = 0; i < records; ++i) base[i] = {i, 0, {}};
  std::vector<std::uint32_t> slots(1 << 16);
  std::mt19937_64 rng(1);
  for (auto& x : slots) x = static_cast<std::uint32_t>(rng() % records);
  std::vector<std::pair<std::uint32_t, StageRecord>> undo;
  undo.reserve(64);
  absl::flat_hash_map<std::uint32_t, std::uint32_t> staged_index;
  staged_index.reserve(64);
  std::vector<std::pair<std::uint32_t, StageRecord>> staged;
  staged.reserve(64);
  std::uint64_t n = 0;
  std::int64_t sum = 0;
  for (auto _ : state) {
    const bool refuse = n % 16 == 15;
    const std::size_t first = (n * writes) & (slots.size() - 1);
    if (!overlay) {
      for (std::size_t k = 0; k < writes; ++k) {
        const std::uint32_t s = slots[(first + k) & (slots.size() - 1)];
        sum += base[s].balance;
        if (std::none_of(undo.begin(), undo.end(), [&](const auto& u) { return u.first == s; })) {
          undo.emplace_back(s, base[s]);
        }
        base[s].balance += 1;
      }
      for (std::size_t k = 0; k < writes; ++k)
        sum += base[slots[(first + k) & (slots.size() - 1)]].balance;
      if (refuse) {
        for (auto it = undo.rbegin(); it != undo.rend(); ++it) base[it->first] = it->second;
      }
      undo.clear();
    } else {
      const auto read = [&](std::uint32_t s) -> const StageRecord& {
        const auto it = staged_index.find(s);
        return it == staged_index.end() ? base[s] : staged[it->second].second;
      };
      for (std::size_t k = 0; k < writes; ++k) {
        const std::uint32_t s = slots[(first + k) & (slots.size() - 1)];
        sum += read(s).balance;
        auto [it, fresh] = staged_index.try_emplace(s, static_cast<std::uint32_t>(staged.size()));
        if (fresh) staged.emplace_back(s, base[s]);
        staged[it->second].second.balance += 1;
      }
      for (std::size_t k = 0; k < writes; ++k)
        sum += read(slots[(first + k) & (slots.size() - 1)]).balance;
      if (!refuse) {
        for (const auto& [s, r] : staged) base[s] = r;
      }
      staged.clear();
      staged_index.clear();
    }
    ++n;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(BM_Staging, undo_log, false)
    ->ArgNames({"records", "writes"})
    ->ArgsProduct({{1000, 100000}, {2, 16}});
BENCHMARK_CAPTURE(BM_Staging, overlay, true)
    ->ArgNames({"records", "writes"})
    ->ArgsProduct({{1000, 100000}, {2, 16}});

// Accounts: 1,000 (everything fits in L2: the software cost) and 100,000 (the accounts
// and their index spill out of L2).
#define LOCKSTEP_ENGINE_BENCH(fn, name, transfers) \
  BENCHMARK_CAPTURE(fn, name, transfers)           \
      ->ArgName("accounts")                        \
      ->Arg(1000)                                  \
      ->Arg(100000)                                \
      ->Iterations(kCommands)                      \
      ->UseRealTime()
LOCKSTEP_ENGINE_BENCH(BM_HandWritten, transfer, true);
LOCKSTEP_ENGINE_BENCH(BM_Engine, transfer, true);
LOCKSTEP_ENGINE_BENCH(BM_HandWritten, deposit, false);
LOCKSTEP_ENGINE_BENCH(BM_Engine, deposit, false);

BENCHMARK_MAIN();
