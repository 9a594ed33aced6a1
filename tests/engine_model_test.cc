// Model-based test of the engine core: seeded random command streams (with linked chains
// and batch boundaries) run through Executor<bank::Domain> and through a trivially correct
// model of the bank; outcomes, events and states must match, and the incremental state
// hash must equal the one recomputed from scratch. The seed is printed; LOCKSTEP_SEED
// replays one. Also: determinism (two runs give identical bytes, and a fixed stream gives
// a fixed digest on every compiler and optimization level).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bank/bank_harness.h"
#include "schema/descriptor.h"

namespace {

using lockstep::EngineReject;
using lockstep::Outcome;

struct MAccount {
  std::string owner;
  std::int64_t balance = 0;
  std::int64_t limit = 0;
  bank::AccountStatus status = bank::AccountStatus::open;
};

struct Model {
  std::map<std::uint64_t, MAccount> accounts;
  std::map<std::uint64_t, bool> transfers;  // transfer ids (low word; high is 0)
  std::uint32_t account_capacity = 0;

  bool owner_taken(const std::string& owner, std::uint64_t except) const {
    for (const auto& [id, a] : accounts) {
      if (id != except && a.owner == owner) return true;
    }
    return false;
  }
};

Outcome domain(bank::Reject r) { return bank::reject(r); }

bool allowed(bank::AccountStatus from, bank::AccountStatus to) {
  using S = bank::AccountStatus;
  return from == to || (from == S::open && to == S::frozen) ||
         (from == S::frozen && to == S::open) || (from != S::closed && to == S::closed);
}

// One random command, as the bytes to submit, and what the model says of it.
struct Step {
  std::uint16_t kind = 0;
  std::vector<std::byte> payload;
};

template <class C>
Step step(const C& c) {
  Step s;
  s.kind = C::kKind;
  s.payload.resize(sizeof c);
  std::memcpy(s.payload.data(), &c, sizeof c);
  return s;
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }

  Step next() {
    const std::uint64_t id = 1 + below(12);
    const std::uint64_t other = 1 + below(12);
    const std::int64_t amount = static_cast<std::int64_t>(below(260)) - 10;
    static const char* kOwners[] = {"ann", "bo",  "cy", "di",  "ed", "flo", "gus",
                                    "hal", "ivy", "jo", "kim", "lu", "max", "ned"};
    const auto owner = lockstep::Chars<16>::from(kOwners[below(14)]);
    switch (below(10)) {
      case 0:
        return step(
            bank::OpenAccount{.id = id,
                              .owner = owner,
                              .overdraft_limit = {static_cast<std::int64_t>(below(3)) * 50}});
      case 1:
      case 2: return step(bank::Deposit{.account = id, .amount = {amount}});
      case 3: return step(bank::Withdraw{.account = id, .amount = {amount}});
      case 4:
      case 5:
        return step(bank::MakeTransfer{.id = lockstep::u128::from_u64(1 + below(40)),
                                       .debit = id,
                                       .credit = other,
                                       .amount = {amount}});
      case 6:
        return step(bank::SetStatus{.account = id,
                                    .status = static_cast<bank::AccountStatus>(1 + below(3))});
      case 7: return step(bank::CloseAccount{.account = id});
      case 8: return step(bank::Rename{.account = id, .owner = owner});
      default:
        return step(bank::SetLimit{.account = id,
                                   .overdraft_limit = {static_cast<std::int64_t>(below(4)) * 40},
                                   .force = below(2) == 0});
    }
  }

 private:
  std::mt19937_64 rng_;
};

// Applies one command to the model; returns its outcome and the number of events.
std::pair<Outcome, int> apply(Model& m, const Step& s) {
  using S = bank::AccountStatus;
  switch (s.kind) {
    case bank::OpenAccount::kKind: {
      bank::OpenAccount c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      const std::string owner(c.owner.view());
      if (m.accounts.count(c.id)) return {Outcome::engine(EngineReject::kUniqueKeyConflict, 0), 0};
      if (m.owner_taken(owner, 0)) return {Outcome::engine(EngineReject::kUniqueKeyConflict, 1), 0};
      if (m.accounts.size() >= m.account_capacity) {
        return {Outcome::engine(EngineReject::kCapacityExceeded, 0), 0};
      }
      m.accounts[c.id] = {owner, 0, c.overdraft_limit.units, S::open};
      return {Outcome::ok(), 0};
    }
    case bank::Deposit::kKind:
    case bank::Withdraw::kKind: {
      bank::Deposit c;  // same layout as Withdraw
      std::memcpy(&c, s.payload.data(), sizeof c);
      if (c.amount.units <= 0) return {domain(bank::Reject::amount_not_positive), 0};
      auto it = m.accounts.find(c.account);
      if (it == m.accounts.end()) return {domain(bank::Reject::account_not_found), 0};
      if (it->second.status != S::open) return {domain(bank::Reject::account_not_open), 0};
      if (s.kind == bank::Withdraw::kKind) {
        if (it->second.balance - c.amount.units < -it->second.limit) {
          return {domain(bank::Reject::insufficient_funds), 0};
        }
        it->second.balance -= c.amount.units;
      } else {
        it->second.balance += c.amount.units;
      }
      return {Outcome::ok(), 1};
    }
    case bank::MakeTransfer::kKind: {
      bank::MakeTransfer c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      if (c.amount.units <= 0) return {domain(bank::Reject::amount_not_positive), 0};
      if (c.debit == c.credit) return {domain(bank::Reject::same_account), 0};
      if (m.transfers.count(c.id.lo)) return {domain(bank::Reject::transfer_exists), 0};
      auto d = m.accounts.find(c.debit);
      auto k = m.accounts.find(c.credit);
      if (d == m.accounts.end() || k == m.accounts.end()) {
        return {domain(bank::Reject::account_not_found), 0};
      }
      if (d->second.status != S::open || k->second.status != S::open) {
        return {domain(bank::Reject::account_not_open), 0};
      }
      if (d->second.balance - c.amount.units < -d->second.limit) {
        return {domain(bank::Reject::insufficient_funds), 0};
      }
      d->second.balance -= c.amount.units;
      k->second.balance += c.amount.units;
      m.transfers[c.id.lo] = true;
      return {Outcome::ok(), 1};
    }
    case bank::SetStatus::kKind: {
      bank::SetStatus c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      auto it = m.accounts.find(c.account);
      if (it == m.accounts.end()) return {domain(bank::Reject::account_not_found), 0};
      if (!allowed(it->second.status, c.status)) {
        return {Outcome::engine(EngineReject::kIllegalTransition, 0), 0};
      }
      it->second.status = c.status;
      return {Outcome::ok(), 1};
    }
    case bank::CloseAccount::kKind: {
      bank::CloseAccount c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      auto it = m.accounts.find(c.account);
      if (it == m.accounts.end()) return {domain(bank::Reject::account_not_found), 0};
      if (it->second.balance != 0) return {domain(bank::Reject::balance_not_zero), 0};
      m.accounts.erase(it);
      return {Outcome::ok(), 1};
    }
    case bank::Rename::kKind: {
      bank::Rename c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      auto it = m.accounts.find(c.account);
      if (it == m.accounts.end()) return {domain(bank::Reject::account_not_found), 0};
      const std::string owner(c.owner.view());
      if (m.owner_taken(owner, c.account)) {
        return {Outcome::engine(EngineReject::kUniqueKeyConflict, 1), 0};
      }
      it->second.owner = owner;
      return {Outcome::ok(), 0};
    }
    case bank::SetLimit::kKind: {
      bank::SetLimit c;
      std::memcpy(&c, s.payload.data(), sizeof c);
      auto it = m.accounts.find(c.account);
      if (it == m.accounts.end()) return {domain(bank::Reject::account_not_found), 0};
      if (it->second.balance < -c.overdraft_limit.units) {
        return {c.force ? Outcome::engine(EngineReject::kInvariantViolated, 0)
                        : domain(bank::Reject::insufficient_funds),
                0};
      }
      it->second.limit = c.overdraft_limit.units;
      return {Outcome::ok(), 0};
    }
  }
  return {Outcome::engine(EngineReject::kUnknownCommand, s.kind), 0};
}

std::uint64_t seed_from_env(std::uint64_t fallback) {
  const char* s = std::getenv("LOCKSTEP_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : fallback;
}

void expect_same_state(bank_test::Bank& b, const Model& m) {
  ASSERT_EQ(b.accounts(), m.accounts.size());
  for (const auto& [id, a] : m.accounts) {
    const bank::Account* e = b.account(id);
    ASSERT_NE(e, nullptr) << "account " << id;
    EXPECT_EQ(e->owner.view(), a.owner) << "account " << id;
    EXPECT_EQ(e->balance.units, a.balance) << "account " << id;
    EXPECT_EQ(e->overdraft_limit.units, a.limit) << "account " << id;
    EXPECT_EQ(e->status, a.status) << "account " << id;
  }
  EXPECT_EQ(b.transfers(), m.transfers.size());
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
}

// Runs `commands` random commands from `seed` through both; returns the engine's bytes.
std::vector<std::byte> run_against_model(std::uint64_t seed, int commands) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED=" + std::to_string(seed) +
               " replays it)");
  lockstep::EngineOptions options;
  options.table_capacity = {10, 1000};
  bank_test::Bank b(options);
  Model m;
  m.account_capacity = 10;
  Generator g(seed);
  int i = 0;
  while (i < commands) {
    // A linked chain of 2..4 commands one time in eight; otherwise one command.
    const int length = g.below(8) == 0 ? 2 + static_cast<int>(g.below(3)) : 1;
    const bool batch_end = g.below(4) == 0;
    const bool chain_open = length > 1 && g.below(10) == 0;  // the batch ends inside it
    Model trial = m;
    std::vector<std::pair<Outcome, int>> expected;
    std::optional<std::size_t> failed;
    std::vector<bank_test::Decoded> results;
    for (int k = 0; k < length; ++k) {
      const Step s = g.next();
      const bool last = k == length - 1;
      const bool linked = length > 1 && (!last || chain_open);
      auto got = b.submit_raw(s.kind, s.payload, linked, last && (batch_end || chain_open));
      for (auto& d : got) results.push_back(std::move(d));
      if (failed.has_value()) {
        expected.push_back(
            {Outcome::engine(EngineReject::kLinkedChainFailed, static_cast<std::uint32_t>(*failed)),
             0});
        continue;
      }
      auto e = apply(trial, s);
      if (!e.first.is_ok() && length > 1) failed = static_cast<std::size_t>(k);
      expected.push_back(e);
    }
    if (chain_open && !failed.has_value()) {
      for (auto& e : expected) e = {Outcome::engine(EngineReject::kLinkedChainOpen), 0};
    } else if (failed.has_value()) {
      for (std::size_t k = 0; k < expected.size(); ++k) {
        if (k != *failed) {
          expected[k] = {Outcome::engine(EngineReject::kLinkedChainFailed,
                                         static_cast<std::uint32_t>(*failed)),
                         0};
        }
      }
    }
    if (!chain_open && !failed.has_value()) m = trial;
    EXPECT_EQ(results.size(), expected.size()) << "at command " << i;
    for (std::size_t k = 0; k < std::min(results.size(), expected.size()); ++k) {
      const auto& v = results[k].view;
      EXPECT_EQ(v.outcome, expected[k].first)
          << "command " << v.command_sequence << " kind " << v.command_kind << ": got "
          << v.outcome.code() << "/" << v.outcome.detail() << ", model says "
          << expected[k].first.code() << "/" << expected[k].first.detail();
      EXPECT_EQ(static_cast<int>(v.events.size()), expected[k].second)
          << "command " << v.command_sequence;
      if (!v.outcome.is_ok()) {
        EXPECT_TRUE(v.writes.empty());
      }
    }
    i += length;
    if (::testing::Test::HasFailure()) break;
    if (i % 500 < length) expect_same_state(b, m);
  }
  expect_same_state(b, m);
  return b.all_bytes();
}

TEST(EngineModel, RandomStreamsMatchTheModel) {
  const std::uint64_t base = seed_from_env(std::random_device{}());
  for (std::uint64_t k = 0; k < 4; ++k) {
    const std::uint64_t seed = base + k;
    std::printf("engine model seed %llu\n", static_cast<unsigned long long>(seed));
    run_against_model(seed, 4000);
    if (HasFailure()) return;
  }
}

TEST(EngineModel, TwoRunsOfTheSameCommandsGiveIdenticalBytes) {
  const std::uint64_t seed = seed_from_env(20261122);
  EXPECT_EQ(run_against_model(seed, 3000), run_against_model(seed, 3000));
}

// The digest of every TxResult byte of a fixed stream. It must not change between
// compilers (gcc, clang), optimization levels and sanitizer builds; if the TxResult
// format or the bank domain changes on purpose, update it here.
TEST(EngineModel, AFixedStreamGivesAFixedDigestEverywhere) {
  const std::vector<std::byte> bytes = run_against_model(424242, 3000);
  std::array<std::byte, 32> digest{};
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(digest.data()),
                       &len, EVP_sha256(), nullptr),
            1);
  EXPECT_EQ(lockstep::schema::to_hex(digest),
            "6c817fb59a757dcfcf1bff14142bf717c62d766ae3f4c792cd32b9fac9d6a1c3")
      << bytes.size() << " bytes";
}

}  // namespace
