// The running engine's read-only projection (engine/projection.h, the `project` stage):
// fed only by durable deltas, it must hold exactly the writer's state: after inserts,
// modifies that change unique and ordered keys, erases, refusals and linked chains; read
// while the engine runs; and rebuilt by replay on reopen. Seeded (LOCKSTEP_SEED replays).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "bank_domain.h"
#include "runtime/engine.h"

namespace lockstep {
namespace {

using BankEngine = Engine<bank::Domain>;

struct TempDir {
  std::string path;
  TempDir() {
    char templ[] = "/tmp/lockstep-projection-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

EngineConfig config() {
  EngineConfig c;
  c.executor.table_capacity = {256, 1u << 14};
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 8u << 20;
  c.journal.frame_bytes_max = 1u << 20;
  c.project = true;
  return c;
}

StateHash projected_hash(const BankEngine& e) {
  return e.read([](const bank::Tables& tables, std::uint64_t) {
    StateHash h;
    std::apply([&](const auto&... t) { (t.hash_all(&h), ...); }, tables);
    return h;
  });
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("LOCKSTEP_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

void ignore(void*, const Completion&) {}

// Submits a random mix that exercises every kind of delta: opens (insert), deposits and
// transfers (modify; transfers insert), renames (unique key changes, some refused as
// taken), status changes (ordered index changes), closes (erase; refused unless the
// balance is zero), and linked chains.
void random_mix(BankEngine::Session& s, std::mt19937_64& rng, int n) {
  for (int i = 0; i < n; ++i) {
    const std::uint64_t a = 1 + rng() % 40;
    const std::uint64_t b = 1 + rng() % 40;
    switch (rng() % 8) {
      case 0:
        (void)s.submit(bank::OpenAccount{.id = a,
                                         .owner = Chars<16>::from("o" + std::to_string(rng() % 60)),
                                         .overdraft_limit = {100}},
                       ignore, nullptr);
        break;
      case 1:
        (void)s.submit(
            bank::Deposit{.account = a, .amount = {static_cast<std::int64_t>(rng() % 50)}}, ignore,
            nullptr);
        break;
      case 2:
        (void)s.submit(bank::MakeTransfer{.id = u128::from_u64(rng() % 5000),
                                          .debit = a,
                                          .credit = b,
                                          .amount = {static_cast<std::int64_t>(1 + rng() % 30)}},
                       ignore, nullptr);
        break;
      case 3:
        (void)s.submit(
            bank::Rename{.account = a, .owner = Chars<16>::from("o" + std::to_string(rng() % 60))},
            ignore, nullptr);
        break;
      case 4:
        (void)s.submit(bank::SetStatus{.account = a,
                                       .status = rng() % 2 ? bank::AccountStatus::frozen
                                                           : bank::AccountStatus::open},
                       ignore, nullptr);
        break;
      case 5: (void)s.submit(bank::CloseAccount{.account = a}, ignore, nullptr); break;
      case 6: {
        const bank::Deposit d{.account = a, .amount = {5}};
        const bank::Withdraw w{.account = b, .amount = {static_cast<std::int64_t>(rng() % 20)}};
        const BankEngine::Session::Request chain[] = {
            {bank::Deposit::kKind, std::as_bytes(std::span(&d, 1)), ignore, nullptr, true},
            {bank::Withdraw::kKind, std::as_bytes(std::span(&w, 1)), ignore, nullptr, false}};
        (void)s.submit_all(chain);
        break;
      }
      default:
        (void)s.submit(bank::FreezeOpen{.limit = static_cast<std::uint32_t>(rng() % 3)}, ignore,
                       nullptr);
    }
  }
}

TEST(EngineProjection, HoldsExactlyTheWritersStateAndSurvivesReopen) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (LOCKSTEP_SEED replays)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  StateHash final_hash;
  std::uint64_t final_sequence = 0;
  {
    BankEngine engine(dir.path, bank::handlers(), config());
    engine.start();
    auto s = engine.session(7);
    for (int round = 0; round < 5; ++round) {
      random_mix(s, rng, 400);
      // Read while running: a consistent prefix (the hash matches no torn command).
      (void)engine.read([](const bank::Tables& t, std::uint64_t next) {
        EXPECT_LE(std::get<0>(t).size(), 256u);
        return next;
      });
    }
    engine.stop();
    ASSERT_FALSE(engine.failed());
    final_hash = engine.executor().state_hash();
    final_sequence = engine.executor().next_sequence();
    EXPECT_EQ(projected_hash(engine), final_hash) << "seed " << seed;
    EXPECT_EQ(engine.read([](const bank::Tables&, std::uint64_t next) { return next; }),
              final_sequence);
    // Every account is found by its unique owner key in the projection as in the state.
    engine.read([&](const bank::Tables& t, std::uint64_t) {
      const auto& accounts = std::get<0>(t);
      std::size_t live = 0;
      accounts.for_each([&](std::uint32_t slot, const bank::Account& a) {
        ++live;
        KeyBytes<16> owner;
        std::memcpy(owner.data(), a.owner.data, 16);
        EXPECT_EQ(accounts.find_unique<0>(owner), slot);
      });
      EXPECT_EQ(live, accounts.size());
    });
  }
  // Reopened: the projection is rebuilt by the replay.
  BankEngine again(dir.path, bank::handlers(), config());
  EXPECT_EQ(again.executor().state_hash(), final_hash);
  EXPECT_EQ(projected_hash(again), final_hash);
  EXPECT_EQ(again.read([](const bank::Tables&, std::uint64_t next) { return next; }),
            final_sequence);
}

TEST(EngineProjection, ReadWithoutAProjectionIsRefused) {
  TempDir dir;
  EngineConfig c = config();
  c.project = false;
  BankEngine engine(dir.path, bank::handlers(), c);
  EXPECT_THROW((void)engine.read([](const bank::Tables&, std::uint64_t) { return 0; }),
               std::logic_error);
}

}  // namespace
}  // namespace lockstep
