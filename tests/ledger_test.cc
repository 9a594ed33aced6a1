// The ledger domain (domains/ledger, docs/ledger.md) through Executor<ledger::Domain>:
// every reject code of ledger.lss, each refusal leaving balances and the state hash as
// they were; single-phase, pending, posted, voided, expired and balancing transfers;
// linked chains; and a seeded model-based test against a std::map reference model (the
// seed is printed; LOCKSTEP_SEED=N replays one).
//
// Codes reached only one way, and why: a post or void never refuses with
// debit_account_not_found / credit_account_not_found (accounts are never erased) nor
// overflows_*_posted (pending + posted never exceeds 2^64 - 1, checked when the pending
// transfer was made; the model test asserts it); those codes are reached by
// single-phase transfers here.
#include <gtest/gtest.h>

#include "tx_results.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/executor.h"
#include "engine/tx_result.h"
#include "ledger_domain.h"

namespace lockstep {
// gtest prints an outcome as its code and detail.
static void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "outcome " << o.code() << "/" << o.detail();
}
}  // namespace lockstep

namespace {

using namespace std::chrono_literals;
using ledger::Reject;
using ledger::TransferStatus;
using lockstep::EngineReject;
using lockstep::Outcome;
using lockstep::u128;
using std::chrono::nanoseconds;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kTimeMaxNs = std::numeric_limits<std::int64_t>::max();
constexpr u128 kIdZero{0, 0};
constexpr u128 kIdMax{kU64Max, kU64Max};

u128 id128(std::uint64_t v) { return u128::from_u64(v); }
Outcome refusal(Reject r) { return ledger::reject(r); }

// ---------------------------------------------------------------------------------------
// The harness: Executor<ledger::Domain> with a logical clock.

using lockstep_test::Decoded;

struct Balances {
  std::uint64_t debits_pending = 0;
  std::uint64_t debits_posted = 0;
  std::uint64_t credits_pending = 0;
  std::uint64_t credits_posted = 0;
  friend bool operator==(const Balances&, const Balances&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Balances& b) {
    return os << "{dp " << b.debits_pending << ", dP " << b.debits_posted << ", cp "
              << b.credits_pending << ", cP " << b.credits_posted << "}";
  }
};

Balances balances_of(const ledger::Account& a) {
  return {a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted};
}

// Each command runs at now(); the clock then moves on by kStep (stopping at the end of
// logical time). Tests may move it forward to reach a timeout.
class Ledger {
 public:
  static constexpr nanoseconds kStep = 1ms;

  explicit Ledger(lockstep::EngineOptions options = {})
      : exec_(std::make_unique<lockstep::Executor<ledger::Domain>>(ledger::handlers(),
                                                                   std::move(options))),
        out_(exec_->options().result_bytes_max + exec_->options().chain_bytes_max) {}

  // Executes one command; returns the results it made final (none while a chain is open).
  template <class C>
  std::vector<Decoded> submit(const C& c, bool linked = false, bool batch_end = true) {
    lockstep::CommandView v;
    v.kind = C::kKind;
    v.linked = linked;
    v.client_id = 1;
    v.request_id = exec_->next_sequence() + 1;
    v.sequence = exec_->next_sequence();
    v.logical_time_ns = now_.count();
    v.payload = std::as_bytes(std::span(&c, 1));
    now_ = now_.count() > kTimeMaxNs - kStep.count() ? nanoseconds(kTimeMaxNs) : now_ + kStep;
    const lockstep::ExecuteResult r = exec_->execute(v, batch_end, out_);
    return lockstep_test::decode_results(std::span(out_).first(r.bytes), r.results);
  }

  // One command that must produce exactly one result; returns its outcome.
  template <class C>
  Outcome outcome(const C& c) {
    const auto r = submit(c);
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? Outcome::engine(EngineReject::kUnknownCommand) : r.front().view.outcome;
  }

  // The logical time the next command runs at.
  nanoseconds now() const { return now_; }
  void set_now(nanoseconds t) { now_ = t; }

  const ledger::Account* account(const u128& id) const {
    const auto& t = std::get<0>(exec_->tables());
    const std::uint32_t slot = t.slot_of(ledger::detail_::Account_primary::make(id));
    return slot == lockstep::kNoSlot ? nullptr : &t.record(slot);
  }
  const ledger::Transfer* transfer(const u128& id) const {
    const auto& t = std::get<1>(exec_->tables());
    const std::uint32_t slot = t.slot_of(ledger::detail_::Transfer_primary::make(id));
    return slot == lockstep::kNoSlot ? nullptr : &t.record(slot);
  }
  const ledger::Account* account(std::uint64_t id) const { return account(id128(id)); }
  const ledger::Transfer* transfer(std::uint64_t id) const { return transfer(id128(id)); }
  // The balances of an account that must exist.
  Balances balances(std::uint64_t id) const {
    const ledger::Account* a = account(id);
    EXPECT_NE(a, nullptr) << "account " << id;
    return a == nullptr ? Balances{} : balances_of(*a);
  }
  // Every live record, in slot order.
  std::vector<ledger::Account> all_accounts() const {
    std::vector<ledger::Account> v;
    std::get<0>(exec_->tables()).for_each([&](std::uint32_t, const ledger::Account& a) {
      v.push_back(a);
    });
    return v;
  }
  std::vector<ledger::Transfer> all_transfers() const {
    std::vector<ledger::Transfer> v;
    std::get<1>(exec_->tables()).for_each([&](std::uint32_t, const ledger::Transfer& t) {
      v.push_back(t);
    });
    return v;
  }
  lockstep::Executor<ledger::Domain>& exec() { return *exec_; }

 private:
  std::unique_ptr<lockstep::Executor<ledger::Domain>> exec_;
  std::vector<std::byte> out_;
  nanoseconds now_ = 1s;
};

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Submits `c`, which must be refused with `why` and change nothing: no writes or events,
// the same records, the same state hash (incremental and recomputed).
template <class C>
::testing::AssertionResult refused(Ledger& l, const C& c, Reject why) {
  const lockstep::StateHash hash = l.exec().state_hash();
  const std::vector<ledger::Account> accounts = l.all_accounts();
  const std::vector<ledger::Transfer> transfers = l.all_transfers();
  const std::vector<Decoded> r = l.submit(c);
  if (r.size() != 1) return ::testing::AssertionFailure() << r.size() << " results";
  const lockstep::TxResultView& v = r[0].view;
  if (v.outcome != refusal(why)) {
    return ::testing::AssertionFailure()
           << "outcome " << v.outcome.code() << "/" << v.outcome.detail() << ", expected reject "
           << static_cast<std::uint32_t>(why);
  }
  if (!v.writes.empty() || !v.events.empty()) {
    return ::testing::AssertionFailure() << "a refusal with writes or events";
  }
  if (l.exec().state_hash() != hash) return ::testing::AssertionFailure() << "state hash moved";
  if (l.exec().recompute_state_hash() != hash) {
    return ::testing::AssertionFailure() << "recomputed state hash differs";
  }
  if (!same_bytes(l.all_accounts(), accounts)) {
    return ::testing::AssertionFailure() << "an account changed";
  }
  if (!same_bytes(l.all_transfers(), transfers)) {
    return ::testing::AssertionFailure() << "a transfer changed";
  }
  return ::testing::AssertionSuccess();
}

template <class E>
E event_as(const lockstep::TxEventView& e) {
  E out;
  EXPECT_EQ(e.kind, E::kKind);
  EXPECT_EQ(e.bytes.size(), sizeof out);
  std::memcpy(static_cast<void*>(&out), e.bytes.data(), std::min(sizeof out, e.bytes.size()));
  return out;
}

// Commands. Accounts are on ledger 1 with code 10, transfers on ledger 1 with code 1,
// unless a test says otherwise.
ledger::CreateAccount new_account(std::uint64_t id, std::uint16_t flags = 0,
                                  std::uint32_t ledger_id = 1) {
  ledger::CreateAccount c;
  c.id = id128(id);
  c.ledger = ledger_id;
  c.code = 10;
  c.flags = flags;
  return c;
}
ledger::CreateTransfer single(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                              std::uint64_t amount, std::uint16_t flags = 0) {
  ledger::CreateTransfer c;
  c.id = id128(id);
  c.debit_account_id = id128(debit);
  c.credit_account_id = id128(credit);
  c.amount = amount;
  c.ledger = 1;
  c.code = 1;
  c.flags = flags;
  return c;
}
ledger::CreateTransfer pending(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                               std::uint64_t amount, std::uint32_t timeout_s = 0) {
  ledger::CreateTransfer c = single(id, debit, credit, amount, ledger::kPending);
  c.timeout = timeout_s;
  return c;
}
// A post or void naming only the pending transfer (accounts, ledger and code are 0).
ledger::CreateTransfer resolve(std::uint16_t flag, std::uint64_t id, std::uint64_t pending_id,
                               std::uint64_t amount) {
  ledger::CreateTransfer c;
  c.id = id128(id);
  c.pending_id = id128(pending_id);
  c.amount = amount;
  c.flags = flag;
  return c;
}
ledger::CreateTransfer post(std::uint64_t id, std::uint64_t pending_id, std::uint64_t amount = 0) {
  return resolve(ledger::kPostPending, id, pending_id, amount);
}
ledger::CreateTransfer void_pending(std::uint64_t id, std::uint64_t pending_id,
                                    std::uint64_t amount = 0) {
  return resolve(ledger::kVoidPending, id, pending_id, amount);
}

class LedgerTest : public ::testing::Test {
 protected:
  void open(std::uint64_t account, std::uint16_t flags = 0, std::uint32_t ledger_id = 1) {
    const Outcome o = l.outcome(new_account(account, flags, ledger_id));
    ASSERT_TRUE(o.is_ok()) << "account " << account << ": " << o.code();
  }
  template <class C>
  void accept(const C& c) {
    const Outcome o = l.outcome(c);
    ASSERT_TRUE(o.is_ok()) << "refused with " << o.code();
  }
  // Credits `account` by `amount` from account 900 (no limits), with transfer ids from
  // 900'000 up.
  void fund(std::uint64_t account, std::uint64_t amount) {
    if (l.account(900) == nullptr) open(900);
    accept(single(next_funding_++, 900, account, amount));
  }
  // Debits `account` by `amount` to account 901 (no limits).
  void drain(std::uint64_t account, std::uint64_t amount) {
    if (l.account(901) == nullptr) open(901);
    accept(single(next_funding_++, account, 901, amount));
  }

  Ledger l;
  std::uint64_t next_funding_ = 900'000;
};

// ---------------------------------------------------------------------------------------
// CreateAccount

using LedgerAccounts = LedgerTest;

TEST_F(LedgerAccounts, ANewAccountHasZeroBalancesAndTheCommandsTime) {
  const nanoseconds at = l.now();
  ledger::CreateAccount c = new_account(1, ledger::kDebitsMustNotExceedCredits, 7);
  c.user_data_128 = id128(5);
  c.user_data_64 = 6;
  c.user_data_32 = 7;
  const auto r = l.submit(c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].view.outcome.is_ok());
  EXPECT_EQ(r[0].view.writes.size(), 1u);
  const ledger::Account* a = l.account(1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(balances_of(*a), Balances{});
  EXPECT_EQ(a->timestamp, at.count());
  EXPECT_EQ(a->ledger, 7u);
  EXPECT_EQ(a->code, 10u);
  EXPECT_EQ(a->flags, ledger::kDebitsMustNotExceedCredits);
  EXPECT_EQ(a->user_data_128, id128(5));
  EXPECT_EQ(a->user_data_64, 6u);
  EXPECT_EQ(a->user_data_32, 7u);
}

TEST_F(LedgerAccounts, AReservedFlagIsRefused) {
  EXPECT_TRUE(refused(l, new_account(1, 1u << 0), Reject::reserved_flag));  // `linked`
  EXPECT_TRUE(refused(l, new_account(1, 1u << 3), Reject::reserved_flag));
  EXPECT_TRUE(refused(l, new_account(1, 1u << 15), Reject::reserved_flag));
}

TEST_F(LedgerAccounts, AZeroIdIsRefused) {
  EXPECT_TRUE(refused(l, new_account(0), Reject::id_must_not_be_zero));
}

TEST_F(LedgerAccounts, AnIntMaxIdIsRefused) {
  ledger::CreateAccount c = new_account(1);
  c.id = kIdMax;
  EXPECT_TRUE(refused(l, c, Reject::id_must_not_be_int_max));
  c.id = u128{kU64Max, 0};  // only the low word all ones: a fine id
  EXPECT_TRUE(l.outcome(c).is_ok());
}

TEST_F(LedgerAccounts, BothBalanceLimitFlagsTogetherAreRefused) {
  const std::uint16_t both =
      ledger::kDebitsMustNotExceedCredits | ledger::kCreditsMustNotExceedDebits;
  EXPECT_TRUE(refused(l, new_account(1, both), Reject::flags_are_mutually_exclusive));
}

TEST_F(LedgerAccounts, ALedgerOfZeroIsRefused) {
  EXPECT_TRUE(refused(l, new_account(1, 0, 0), Reject::ledger_must_not_be_zero));
}

TEST_F(LedgerAccounts, ACodeOfZeroIsRefused) {
  ledger::CreateAccount c = new_account(1);
  c.code = 0;
  EXPECT_TRUE(refused(l, c, Reject::code_must_not_be_zero));
}

TEST_F(LedgerAccounts, RecreatingAnAccountWithOtherFieldsNamesTheFirstThatDiffers) {
  ledger::CreateAccount c = new_account(1, ledger::kCreditsMustNotExceedDebits);
  c.user_data_128 = id128(5);
  c.user_data_64 = 6;
  c.user_data_32 = 7;
  accept(c);
  auto with = [&](auto change) {
    ledger::CreateAccount d = c;
    change(d);
    return d;
  };
  EXPECT_TRUE(refused(l, with([](auto& d) { d.flags = 0; }), Reject::exists_with_different_flags));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_128 = id128(9); }),
                      Reject::exists_with_different_user_data_128));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_64 = 9; }),
                      Reject::exists_with_different_user_data_64));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_32 = 9; }),
                      Reject::exists_with_different_user_data_32));
  EXPECT_TRUE(
      refused(l, with([](auto& d) { d.ledger = 2; }), Reject::exists_with_different_ledger));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.code = 11; }), Reject::exists_with_different_code));
  // Several differences: the first in the documented order is named.
  EXPECT_TRUE(refused(l, with([](auto& d) {
                        d.code = 11;
                        d.flags = 0;
                      }),
                      Reject::exists_with_different_flags));
}

TEST_F(LedgerAccounts, RecreatingAnIdenticalAccountReturnsExistsAndChangesNothing) {
  open(1);
  open(2);
  accept(single(10, 1, 2, 25));
  EXPECT_TRUE(refused(l, new_account(1), Reject::exists));
  EXPECT_EQ(l.balances(1), (Balances{0, 25, 0, 0}));
}

// ---------------------------------------------------------------------------------------
// CreateTransfer: the fields of a single-phase or pending transfer

class LedgerTransfers : public LedgerTest {
 protected:
  void SetUp() override {
    open(1);
    open(2);
    open(3);
  }
};

TEST_F(LedgerTransfers, ASinglePhaseTransferMovesPostedBalancesAndEmitsTransferCommitted) {
  ledger::CreateTransfer c = single(10, 1, 2, 300);
  c.user_data_64 = 42;
  const nanoseconds at = l.now();
  const auto r = l.submit(c);
  ASSERT_EQ(r.size(), 1u);
  const lockstep::TxResultView& v = r[0].view;
  ASSERT_TRUE(v.outcome.is_ok());
  EXPECT_EQ(v.writes.size(), 3u);  // two accounts, one transfer
  ASSERT_EQ(v.events.size(), 1u);
  const auto e = event_as<ledger::TransferCommitted>(v.events[0]);
  EXPECT_EQ(e.id, id128(10));
  EXPECT_EQ(e.debit_account_id, id128(1));
  EXPECT_EQ(e.credit_account_id, id128(2));
  EXPECT_EQ(e.amount, 300u);
  EXPECT_EQ(e.ledger, 1u);
  EXPECT_EQ(e.code, 1u);
  EXPECT_EQ(e.flags, 0u);
  EXPECT_EQ(e.status, TransferStatus::single);
  EXPECT_EQ(l.balances(1), (Balances{0, 300, 0, 0}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 0, 300}));
  EXPECT_EQ(l.balances(3), Balances{});
  const ledger::Transfer* t = l.transfer(10);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->status, TransferStatus::single);
  EXPECT_EQ(t->amount, 300u);
  EXPECT_EQ(t->user_data_64, 42u);
  EXPECT_EQ(t->timestamp, at.count());
  EXPECT_EQ(t->expires_at, 0);
  EXPECT_EQ(l.exec().recompute_state_hash(), l.exec().state_hash());
}

TEST_F(LedgerTransfers, AReservedFlagIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 1, 2, 5, 1u << 0), Reject::reserved_flag));  // `linked`
  EXPECT_TRUE(refused(l, single(10, 1, 2, 5, 1u << 6), Reject::reserved_flag));
}

TEST_F(LedgerTransfers, AZeroIdIsRefused) {
  EXPECT_TRUE(refused(l, single(0, 1, 2, 5), Reject::id_must_not_be_zero));
}

TEST_F(LedgerTransfers, AnIntMaxIdIsRefused) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.id = kIdMax;
  EXPECT_TRUE(refused(l, c, Reject::id_must_not_be_int_max));
}

TEST_F(LedgerTransfers, TwoPhaseFlagsOrBalancingWithPostOrVoidAreMutuallyExclusive) {
  using namespace ledger;
  for (const std::uint16_t flags :
       {std::uint16_t(kPending | kPostPending), std::uint16_t(kPending | kVoidPending),
        std::uint16_t(kPostPending | kVoidPending), std::uint16_t(kBalancingDebit | kPostPending),
        std::uint16_t(kBalancingCredit | kVoidPending)}) {
    EXPECT_TRUE(refused(l, single(10, 1, 2, 5, flags), Reject::flags_are_mutually_exclusive))
        << "flags " << flags;
  }
}

TEST_F(LedgerTransfers, AZeroOrIntMaxDebitAccountIdIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 0, 2, 5), Reject::debit_account_id_must_not_be_zero));
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.debit_account_id = kIdMax;
  EXPECT_TRUE(refused(l, c, Reject::debit_account_id_must_not_be_int_max));
}

TEST_F(LedgerTransfers, AZeroOrIntMaxCreditAccountIdIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 1, 0, 5), Reject::credit_account_id_must_not_be_zero));
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.credit_account_id = kIdMax;
  EXPECT_TRUE(refused(l, c, Reject::credit_account_id_must_not_be_int_max));
}

TEST_F(LedgerTransfers, ATransferFromAnAccountToItselfIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 1, 1, 5), Reject::accounts_must_be_different));
}

TEST_F(LedgerTransfers, ATransferThatIsNeitherPostNorVoidMustHaveNoPendingId) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.pending_id = id128(3);
  EXPECT_TRUE(refused(l, c, Reject::pending_id_must_be_zero));
  c.flags = ledger::kPending;
  EXPECT_TRUE(refused(l, c, Reject::pending_id_must_be_zero));
}

TEST_F(LedgerTransfers, ATimeoutOnASinglePhaseTransferIsRefused) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.timeout = 1;
  EXPECT_TRUE(refused(l, c, Reject::timeout_reserved_for_pending_transfer));
}

TEST_F(LedgerTransfers, ALedgerOfZeroIsRefused) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.ledger = 0;
  EXPECT_TRUE(refused(l, c, Reject::ledger_must_not_be_zero));
}

TEST_F(LedgerTransfers, ACodeOfZeroIsRefused) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.code = 0;
  EXPECT_TRUE(refused(l, c, Reject::code_must_not_be_zero));
}

TEST_F(LedgerTransfers, ATransferFromAnUnknownAccountIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 7, 2, 5), Reject::debit_account_not_found));
  // Both unknown: the debit account is named.
  EXPECT_TRUE(refused(l, single(10, 7, 8, 5), Reject::debit_account_not_found));
}

TEST_F(LedgerTransfers, ATransferToAnUnknownAccountIsRefused) {
  EXPECT_TRUE(refused(l, single(10, 1, 7, 5), Reject::credit_account_not_found));
}

TEST_F(LedgerTransfers, AccountsOnDifferentLedgersCannotTrade) {
  open(4, 0, 2);
  EXPECT_TRUE(refused(l, single(10, 1, 4, 5), Reject::accounts_must_have_the_same_ledger));
  EXPECT_TRUE(refused(l, single(10, 4, 1, 5), Reject::accounts_must_have_the_same_ledger));
}

TEST_F(LedgerTransfers, ATransferOnAnotherLedgerThanItsAccountsIsRefused) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.ledger = 2;
  EXPECT_TRUE(refused(l, c, Reject::transfer_must_have_the_same_ledger_as_accounts));
}

TEST_F(LedgerTransfers, RetryingATransferWithOtherFieldsNamesTheFirstThatDiffers) {
  ledger::CreateTransfer c = single(10, 1, 2, 5);
  c.user_data_128 = id128(1);
  c.user_data_64 = 2;
  c.user_data_32 = 3;
  accept(c);
  auto with = [&](auto change) {
    ledger::CreateTransfer d = c;
    change(d);
    return d;
  };
  EXPECT_TRUE(refused(l, with([](auto& d) { d.flags = ledger::kPending; }),
                      Reject::exists_with_different_flags));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.debit_account_id = id128(3); }),
                      Reject::exists_with_different_debit_account_id));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.credit_account_id = id128(3); }),
                      Reject::exists_with_different_credit_account_id));
  EXPECT_TRUE(
      refused(l, with([](auto& d) { d.amount = 6; }), Reject::exists_with_different_amount));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_128 = id128(9); }),
                      Reject::exists_with_different_user_data_128));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_64 = 9; }),
                      Reject::exists_with_different_user_data_64));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.user_data_32 = 9; }),
                      Reject::exists_with_different_user_data_32));
  EXPECT_TRUE(
      refused(l, with([](auto& d) { d.ledger = 2; }), Reject::exists_with_different_ledger));
  EXPECT_TRUE(refused(l, with([](auto& d) { d.code = 2; }), Reject::exists_with_different_code));
  // A retry is answered before its accounts are looked up.
  EXPECT_TRUE(refused(l, with([](auto& d) { d.credit_account_id = id128(77); }),
                      Reject::exists_with_different_credit_account_id));
}

TEST_F(LedgerTransfers, RetryingAPendingTransferWithAnotherTimeoutIsRefused) {
  accept(pending(10, 1, 2, 5, 10));
  EXPECT_TRUE(refused(l, pending(10, 1, 2, 5, 20), Reject::exists_with_different_timeout));
  EXPECT_TRUE(refused(l, pending(10, 1, 2, 5, 10), Reject::exists));
}

TEST_F(LedgerTransfers, AnIdenticalRetryReturnsExistsAndChangesNothing) {
  accept(single(10, 1, 2, 5));
  EXPECT_TRUE(refused(l, single(10, 1, 2, 5), Reject::exists));
  EXPECT_EQ(l.balances(1), (Balances{0, 5, 0, 0}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 0, 5}));
}

// ---------------------------------------------------------------------------------------
// Balance limits

class LedgerLimits : public LedgerTest {
 protected:
  void SetUp() override {
    open(1, ledger::kDebitsMustNotExceedCredits);
    open(2, ledger::kCreditsMustNotExceedDebits);
    open(3);
  }
};

TEST_F(LedgerLimits, ADebitBeyondTheAccountsCreditsIsRefused) {
  fund(1, 100);
  EXPECT_TRUE(refused(l, single(10, 1, 3, 101), Reject::exceeds_credits));
  accept(single(10, 1, 3, 100));
  EXPECT_EQ(l.balances(1), (Balances{0, 100, 0, 100}));
  EXPECT_TRUE(refused(l, single(11, 1, 3, 1), Reject::exceeds_credits));
}

TEST_F(LedgerLimits, PendingDebitsCountAgainstTheCredits) {
  fund(1, 100);
  accept(pending(10, 1, 3, 60));
  EXPECT_TRUE(refused(l, single(11, 1, 3, 41), Reject::exceeds_credits));
  EXPECT_TRUE(refused(l, pending(11, 1, 3, 41), Reject::exceeds_credits));
  accept(single(11, 1, 3, 40));
}

TEST_F(LedgerLimits, ACreditBeyondTheAccountsDebitsIsRefused) {
  drain(2, 100);
  EXPECT_TRUE(refused(l, single(10, 3, 2, 101), Reject::exceeds_debits));
  accept(single(10, 3, 2, 100));
  EXPECT_EQ(l.balances(2), (Balances{0, 100, 0, 100}));
}

TEST_F(LedgerLimits, PendingCreditsCountAgainstTheDebits) {
  drain(2, 100);
  accept(pending(10, 3, 2, 70));
  EXPECT_TRUE(refused(l, pending(11, 3, 2, 31), Reject::exceeds_debits));
  accept(pending(11, 3, 2, 30));
}

TEST_F(LedgerLimits, BothLimitsAreCheckedAndTheDebitAccountsFirst) {
  // 1 has no credits and 2 no debits: both limits are broken; the debit side is named.
  EXPECT_TRUE(refused(l, single(10, 1, 2, 1), Reject::exceeds_credits));
  fund(1, 10);
  EXPECT_TRUE(refused(l, single(10, 1, 2, 1), Reject::exceeds_debits));
}

// ---------------------------------------------------------------------------------------
// Overflows: amounts and balances are u64.

class LedgerOverflows : public LedgerTest {
 protected:
  void SetUp() override {
    for (std::uint64_t a = 1; a <= 4; ++a) open(a);
  }
};

TEST_F(LedgerOverflows, ATransferThatOverflowsDebitsPostedIsRefused) {
  accept(single(10, 1, 2, kU64Max));
  EXPECT_TRUE(refused(l, single(11, 1, 3, 1), Reject::overflows_debits_posted));
  accept(single(11, 1, 3, 0));  // an amount of 0 still fits
}

TEST_F(LedgerOverflows, ATransferThatOverflowsCreditsPostedIsRefused) {
  accept(single(10, 1, 2, kU64Max));
  EXPECT_TRUE(refused(l, single(11, 3, 2, 1), Reject::overflows_credits_posted));
}

TEST_F(LedgerOverflows, APendingTransferThatOverflowsDebitsPendingIsRefused) {
  accept(pending(10, 1, 2, kU64Max));
  EXPECT_TRUE(refused(l, pending(11, 1, 3, 1), Reject::overflows_debits_pending));
}

TEST_F(LedgerOverflows, APendingTransferThatOverflowsCreditsPendingIsRefused) {
  accept(pending(10, 1, 2, kU64Max));
  EXPECT_TRUE(refused(l, pending(11, 3, 2, 1), Reject::overflows_credits_pending));
}

TEST_F(LedgerOverflows, ATransferThatOverflowsPendingPlusPostedDebitsIsRefused) {
  accept(pending(10, 1, 2, kU64Max - 10));
  EXPECT_TRUE(refused(l, single(11, 1, 3, 11), Reject::overflows_debits));
  accept(single(11, 1, 3, 10));
  EXPECT_TRUE(refused(l, pending(12, 1, 4, 1), Reject::overflows_debits));
}

TEST_F(LedgerOverflows, ATransferThatOverflowsPendingPlusPostedCreditsIsRefused) {
  accept(pending(10, 1, 2, kU64Max - 10));
  EXPECT_TRUE(refused(l, single(11, 3, 2, 11), Reject::overflows_credits));
  accept(single(11, 3, 2, 10));
  EXPECT_TRUE(refused(l, pending(12, 4, 2, 1), Reject::overflows_credits));
}

TEST_F(LedgerOverflows, ATimeoutPastTheEndOfLogicalTimeIsRefused) {
  accept(pending(9, 1, 2, 5, std::numeric_limits<std::uint32_t>::max()));  // the longest
  l.set_now(nanoseconds(kTimeMaxNs) - 1s + 1ns);
  EXPECT_TRUE(refused(l, pending(10, 1, 2, 5, 1), Reject::overflows_timeout));
  EXPECT_TRUE(refused(l, pending(10, 1, 2, 5, std::numeric_limits<std::uint32_t>::max()),
                      Reject::overflows_timeout));
  l.set_now(nanoseconds(kTimeMaxNs) - 1s);  // expires at the very end: fine
  accept(pending(10, 1, 2, 5, 1));
  EXPECT_EQ(l.transfer(10)->expires_at, kTimeMaxNs);
}

// ---------------------------------------------------------------------------------------
// Two-phase transfers: pending, post, void

class LedgerTwoPhase : public LedgerTest {
 protected:
  void SetUp() override {
    open(1);
    open(2);
    open(3);
  }
};

TEST_F(LedgerTwoPhase, APendingTransferHoldsPendingAmounts) {
  const nanoseconds at = l.now();
  const auto r = l.submit(pending(10, 1, 2, 100, 5));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].view.outcome.is_ok());
  ASSERT_EQ(r[0].view.events.size(), 1u);
  const auto e = event_as<ledger::TransferCommitted>(r[0].view.events[0]);
  EXPECT_EQ(e.status, TransferStatus::pending);
  EXPECT_EQ(e.amount, 100u);
  EXPECT_EQ(e.flags, ledger::kPending);
  EXPECT_EQ(l.balances(1), (Balances{100, 0, 0, 0}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 100, 0}));
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::pending);
  EXPECT_EQ(l.transfer(10)->expires_at, (at + 5s).count());
}

TEST_F(LedgerTwoPhase, PostingAPendingTransferInFullMovesItsAmountToPosted) {
  accept(pending(10, 1, 2, 100));
  const auto r = l.submit(post(11, 10));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].view.outcome.is_ok());
  ASSERT_EQ(r[0].view.events.size(), 1u);
  const auto e = event_as<ledger::TransferCommitted>(r[0].view.events[0]);
  EXPECT_EQ(e.id, id128(11));
  EXPECT_EQ(e.amount, 100u);
  EXPECT_EQ(e.debit_account_id, id128(1));  // taken from the pending transfer
  EXPECT_EQ(e.credit_account_id, id128(2));
  EXPECT_EQ(e.ledger, 1u);
  EXPECT_EQ(e.code, 1u);
  EXPECT_EQ(e.status, TransferStatus::single);
  EXPECT_EQ(l.balances(1), (Balances{0, 100, 0, 0}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 0, 100}));
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::posted);
  EXPECT_EQ(l.transfer(11)->pending_id, id128(10));
  EXPECT_EQ(l.exec().recompute_state_hash(), l.exec().state_hash());
}

TEST_F(LedgerTwoPhase, PostingPartOfAPendingTransferReleasesTheRest) {
  accept(pending(10, 1, 2, 100));
  accept(pending(20, 1, 2, 7));  // another hold, untouched
  accept(post(11, 10, 30));
  EXPECT_EQ(l.balances(1), (Balances{7, 30, 0, 0}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 7, 30}));
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::posted);
  EXPECT_EQ(l.transfer(11)->amount, 30u);
}

TEST_F(LedgerTwoPhase, VoidingAPendingTransferReleasesItsAmount) {
  accept(pending(10, 1, 2, 100));
  accept(void_pending(11, 10));
  EXPECT_EQ(l.balances(1), Balances{});
  EXPECT_EQ(l.balances(2), Balances{});
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::voided);
  // The whole amount may also be named.
  accept(pending(12, 1, 2, 40));
  accept(void_pending(13, 12, 40));
  EXPECT_EQ(l.balances(1), Balances{});
}

TEST_F(LedgerTwoPhase, APostMayRepeatTheAccountsLedgerAndCodeOfItsPendingTransfer) {
  accept(pending(10, 1, 2, 100));
  ledger::CreateTransfer c = single(11, 1, 2, 100, ledger::kPostPending);
  c.pending_id = id128(10);
  accept(c);
  EXPECT_EQ(l.balances(1), (Balances{0, 100, 0, 0}));
}

TEST_F(LedgerTwoPhase, ARetriedPostReturnsExistsAndChangesNothing) {
  accept(pending(10, 1, 2, 100));
  accept(post(11, 10));  // amount 0: all of it
  EXPECT_TRUE(refused(l, post(11, 10), Reject::exists));
  EXPECT_TRUE(refused(l, post(11, 10, 100), Reject::exists));
  EXPECT_TRUE(refused(l, post(11, 10, 99), Reject::exists_with_different_amount));
  accept(pending(20, 1, 2, 100));
  accept(post(21, 20, 60));
  EXPECT_TRUE(refused(l, post(21, 20, 60), Reject::exists));
  EXPECT_TRUE(refused(l, post(21, 20), Reject::exists_with_different_amount));  // 0 is 100
  EXPECT_EQ(l.balances(1), (Balances{0, 160, 0, 0}));
}

TEST_F(LedgerTwoPhase, ARetriedVoidReturnsExistsAndChangesNothing) {
  accept(pending(10, 1, 2, 100));
  accept(void_pending(11, 10));
  EXPECT_TRUE(refused(l, void_pending(11, 10), Reject::exists));
  EXPECT_TRUE(refused(l, void_pending(11, 10, 100), Reject::exists));
}

TEST_F(LedgerTwoPhase, RetryingAPostAgainstAnotherPendingTransferIsRefused) {
  accept(pending(10, 1, 2, 100));
  accept(pending(20, 1, 2, 100));
  accept(post(11, 10, 100));
  EXPECT_TRUE(refused(l, post(11, 20, 100), Reject::exists_with_different_pending_id));
  EXPECT_TRUE(refused(l, void_pending(11, 10, 100), Reject::exists_with_different_flags));
}

TEST_F(LedgerTwoPhase, APostOrVoidWithoutAPendingIdIsRefused) {
  EXPECT_TRUE(refused(l, post(11, 0), Reject::pending_id_must_not_be_zero));
  EXPECT_TRUE(refused(l, void_pending(11, 0), Reject::pending_id_must_not_be_zero));
}

TEST_F(LedgerTwoPhase, APostOfPendingIdIntMaxIsRefused) {
  ledger::CreateTransfer c = post(11, 0);
  c.pending_id = kIdMax;
  EXPECT_TRUE(refused(l, c, Reject::pending_id_must_not_be_int_max));
}

TEST_F(LedgerTwoPhase, APostWhosePendingIdIsItsOwnIdIsRefused) {
  EXPECT_TRUE(refused(l, post(11, 11), Reject::pending_id_must_be_different));
}

TEST_F(LedgerTwoPhase, APostOrVoidWithATimeoutIsRefused) {
  accept(pending(10, 1, 2, 100));
  ledger::CreateTransfer c = post(11, 10);
  c.timeout = 1;
  EXPECT_TRUE(refused(l, c, Reject::timeout_reserved_for_pending_transfer));
  c.flags = ledger::kVoidPending;
  EXPECT_TRUE(refused(l, c, Reject::timeout_reserved_for_pending_transfer));
}

TEST_F(LedgerTwoPhase, APostOfAnUnknownTransferIsRefused) {
  EXPECT_TRUE(refused(l, post(11, 10), Reject::pending_transfer_not_found));
}

TEST_F(LedgerTwoPhase, APostOfATransferThatWasNeverPendingIsRefused) {
  accept(single(10, 1, 2, 100));
  EXPECT_TRUE(refused(l, post(11, 10), Reject::pending_transfer_not_pending));
  EXPECT_TRUE(refused(l, void_pending(11, 10), Reject::pending_transfer_not_pending));
  // Nor is a post itself pending.
  accept(pending(20, 1, 2, 5));
  accept(post(21, 20));
  EXPECT_TRUE(refused(l, post(22, 21), Reject::pending_transfer_not_pending));
}

TEST_F(LedgerTwoPhase, APostNamingOtherAccountsThanItsPendingTransferIsRefused) {
  accept(pending(10, 1, 2, 100));
  ledger::CreateTransfer c = post(11, 10);
  c.debit_account_id = id128(3);
  EXPECT_TRUE(refused(l, c, Reject::pending_transfer_has_different_debit_account_id));
  c.debit_account_id = id128(1);
  c.credit_account_id = id128(3);
  EXPECT_TRUE(refused(l, c, Reject::pending_transfer_has_different_credit_account_id));
}

TEST_F(LedgerTwoPhase, APostNamingAnotherLedgerOrCodeIsRefused) {
  accept(pending(10, 1, 2, 100));
  ledger::CreateTransfer c = post(11, 10);
  c.ledger = 2;
  EXPECT_TRUE(refused(l, c, Reject::pending_transfer_has_different_ledger));
  c.ledger = 0;
  c.code = 2;
  EXPECT_TRUE(refused(l, c, Reject::pending_transfer_has_different_code));
}

TEST_F(LedgerTwoPhase, APostOfMoreThanThePendingAmountIsRefused) {
  accept(pending(10, 1, 2, 100));
  EXPECT_TRUE(refused(l, post(11, 10, 101), Reject::exceeds_pending_transfer_amount));
  EXPECT_TRUE(refused(l, void_pending(11, 10, 101), Reject::exceeds_pending_transfer_amount));
}

TEST_F(LedgerTwoPhase, AVoidOfPartOfThePendingAmountIsRefused) {
  accept(pending(10, 1, 2, 100));
  EXPECT_TRUE(refused(l, void_pending(11, 10, 99), Reject::pending_transfer_has_different_amount));
}

TEST_F(LedgerTwoPhase, APostedTransferCannotBePostedOrVoidedAgain) {
  accept(pending(10, 1, 2, 100));
  accept(post(11, 10, 40));
  EXPECT_TRUE(refused(l, post(12, 10), Reject::pending_transfer_already_posted));
  EXPECT_TRUE(refused(l, void_pending(12, 10), Reject::pending_transfer_already_posted));
}

TEST_F(LedgerTwoPhase, AVoidedTransferCannotBePostedOrVoidedAgain) {
  accept(pending(10, 1, 2, 100));
  accept(void_pending(11, 10));
  EXPECT_TRUE(refused(l, post(12, 10), Reject::pending_transfer_already_voided));
  EXPECT_TRUE(refused(l, void_pending(12, 10), Reject::pending_transfer_already_voided));
}

// ---------------------------------------------------------------------------------------
// Timeouts and ExpirePending

class LedgerExpiry : public LedgerTest {
 protected:
  void SetUp() override {
    open(1);
    open(2);
  }
  // ExpirePending{limit}: the (id, amount) of every PendingExpired, in order.
  std::vector<std::pair<u128, std::uint64_t>> expire(std::uint32_t limit) {
    const auto r = l.submit(ledger::ExpirePending{.limit = limit});
    EXPECT_EQ(r.size(), 1u);
    std::vector<std::pair<u128, std::uint64_t>> v;
    if (r.empty()) return v;
    EXPECT_TRUE(r[0].view.outcome.is_ok());
    for (const auto& e : r[0].view.events) {
      const auto x = event_as<ledger::PendingExpired>(e);
      v.emplace_back(x.id, x.amount);
    }
    return v;
  }
  using Expired = std::vector<std::pair<u128, std::uint64_t>>;
};

TEST_F(LedgerExpiry, APostJustBeforeTheTimeoutSucceeds) {
  const nanoseconds at = l.now();
  accept(pending(10, 1, 2, 100, 1));
  l.set_now(at + 1s - 1ns);
  accept(post(11, 10));
  EXPECT_EQ(l.balances(1), (Balances{0, 100, 0, 0}));
}

TEST_F(LedgerExpiry, APostOrVoidAtTheTimeoutIsRefusedAsExpired) {
  const nanoseconds at = l.now();
  accept(pending(10, 1, 2, 100, 1));
  l.set_now(at + 1s);  // ExpirePending has not run: the time alone expires it
  EXPECT_TRUE(refused(l, post(11, 10), Reject::pending_transfer_expired));
  EXPECT_TRUE(refused(l, void_pending(11, 10), Reject::pending_transfer_expired));
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::pending);
  EXPECT_EQ(l.balances(1), (Balances{100, 0, 0, 0}));
}

TEST_F(LedgerExpiry, APostAfterExpirePendingIsRefusedAsExpired) {
  const nanoseconds at = l.now();
  accept(pending(10, 1, 2, 100, 1));
  l.set_now(at + 5s);
  EXPECT_EQ(expire(10), (Expired{{id128(10), 100}}));
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::expired);
  EXPECT_EQ(l.balances(1), Balances{});
  EXPECT_EQ(l.balances(2), Balances{});
  EXPECT_TRUE(refused(l, post(11, 10), Reject::pending_transfer_expired));
  EXPECT_TRUE(refused(l, void_pending(11, 10), Reject::pending_transfer_expired));
}

TEST_F(LedgerExpiry, ExpirePendingExpiresNothingBeforeTheTimeout) {
  const nanoseconds at = l.now();
  accept(pending(10, 1, 2, 100, 1));
  l.set_now(at + 1s - 1ns);
  EXPECT_EQ(expire(10), Expired{});
  EXPECT_EQ(l.balances(1), (Balances{100, 0, 0, 0}));
  l.set_now(at + 1s);
  EXPECT_EQ(expire(10), (Expired{{id128(10), 100}}));
}

TEST_F(LedgerExpiry, ExpirePendingReleasesExpiredTransfersSoonestFirst) {
  const nanoseconds at = l.now();
  accept(pending(11, 1, 2, 10, 3));  // expires at + 3 s
  accept(pending(12, 1, 2, 20, 1));  // at + 1 ms + 1 s
  accept(pending(16, 1, 2, 60, 2));  // at + 2 ms + 2 s
  accept(pending(14, 1, 2, 40));     // never
  l.set_now(at + 1s + 2ms);
  accept(pending(15, 1, 2, 50, 1));  // at + 2 ms + 2 s too: ties with 16, and goes first by id
  accept(pending(13, 1, 2, 30, 1));  // at + 3 ms + 2 s
  EXPECT_EQ(l.balances(1).debits_pending, 210u);
  l.set_now(at + 10s);
  EXPECT_EQ(
      expire(100),
      (Expired{
          {id128(12), 20}, {id128(15), 50}, {id128(16), 60}, {id128(13), 30}, {id128(11), 10}}));
  EXPECT_EQ(l.balances(1), (Balances{40, 0, 0, 0}));  // 14 holds on
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 40, 0}));
  EXPECT_EQ(l.transfer(14)->status, TransferStatus::pending);
  EXPECT_EQ(l.transfer(16)->status, TransferStatus::expired);
  EXPECT_EQ(expire(100), Expired{});
  EXPECT_EQ(l.exec().recompute_state_hash(), l.exec().state_hash());
}

TEST_F(LedgerExpiry, ExpirePendingStopsAtItsLimit) {
  const nanoseconds at = l.now();
  accept(pending(11, 1, 2, 10, 3));
  accept(pending(12, 1, 2, 20, 1));
  accept(pending(13, 1, 2, 30, 2));
  l.set_now(at + 10s);
  EXPECT_EQ(expire(0), Expired{});
  EXPECT_EQ(expire(2), (Expired{{id128(12), 20}, {id128(13), 30}}));
  EXPECT_EQ(l.balances(1), (Balances{10, 0, 0, 0}));
  EXPECT_EQ(l.transfer(11)->status, TransferStatus::pending);
  EXPECT_EQ(expire(2), (Expired{{id128(11), 10}}));
  EXPECT_EQ(l.balances(1), Balances{});
}

TEST_F(LedgerExpiry, APendingTransferWithoutATimeoutNeverExpires) {
  accept(pending(10, 1, 2, 100));
  l.set_now(nanoseconds(kTimeMaxNs) - 1s);
  EXPECT_EQ(expire(10), Expired{});
  accept(post(11, 10));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 0, 100}));
}

TEST_F(LedgerExpiry, ExpirePendingAtTheEndOfLogicalTimeExpiresWhatIsDue) {
  l.set_now(nanoseconds(kTimeMaxNs) - 2s);
  accept(pending(10, 1, 2, 10, 1));  // expires a second before the end
  l.set_now(nanoseconds(kTimeMaxNs) - 1s);
  accept(pending(11, 1, 2, 20, 1));  // expires at the last nanosecond
  l.set_now(nanoseconds(kTimeMaxNs));
  EXPECT_EQ(expire(10), (Expired{{id128(10), 10}, {id128(11), 20}}));
  EXPECT_EQ(l.balances(1), Balances{});
}

// ---------------------------------------------------------------------------------------
// Balancing transfers

class LedgerBalancing : public LedgerTest {
 protected:
  void SetUp() override {
    open(1, ledger::kDebitsMustNotExceedCredits);
    open(2, ledger::kCreditsMustNotExceedDebits);
    open(3);
    open(4);
  }
};

TEST_F(LedgerBalancing, ABalancingDebitIsCutToTheDebitAccountsCredits) {
  fund(1, 100);
  accept(single(10, 1, 3, 30));
  accept(pending(11, 1, 3, 20));
  const auto r = l.submit(single(12, 1, 3, 500, ledger::kBalancingDebit));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].view.outcome.is_ok());
  EXPECT_EQ(event_as<ledger::TransferCommitted>(r[0].view.events.at(0)).amount, 50u);
  EXPECT_EQ(l.transfer(12)->amount, 50u);
  EXPECT_EQ(l.balances(1), (Balances{20, 80, 0, 100}));
  // Nothing is left: the next one moves 0, and is still accepted.
  accept(single(13, 1, 3, 5, ledger::kBalancingDebit));
  EXPECT_EQ(l.transfer(13)->amount, 0u);
}

TEST_F(LedgerBalancing, ABalancingDebitUnderTheLimitMovesTheWholeAmount) {
  fund(1, 100);
  accept(single(10, 1, 3, 40, ledger::kBalancingDebit));
  EXPECT_EQ(l.transfer(10)->amount, 40u);
  EXPECT_EQ(l.balances(1), (Balances{0, 40, 0, 100}));
}

TEST_F(LedgerBalancing, ABalancingCreditIsCutToTheCreditAccountsDebits) {
  drain(2, 100);
  accept(single(10, 3, 2, 30));
  accept(pending(11, 3, 2, 20));
  accept(single(12, 3, 2, 500, ledger::kBalancingCredit));
  EXPECT_EQ(l.transfer(12)->amount, 50u);
  EXPECT_EQ(l.balances(2), (Balances{0, 100, 20, 80}));
}

TEST_F(LedgerBalancing, ABalancingPendingTransferHoldsTheCutAmount) {
  fund(1, 100);
  accept(single(10, 1, 3, 500, ledger::kPending | ledger::kBalancingDebit));
  EXPECT_EQ(l.transfer(10)->amount, 100u);
  EXPECT_EQ(l.transfer(10)->status, TransferStatus::pending);
  EXPECT_EQ(l.balances(1), (Balances{100, 0, 0, 100}));
  accept(post(11, 10));
  EXPECT_EQ(l.balances(1), (Balances{0, 100, 0, 100}));
}

TEST_F(LedgerBalancing, BothBalancingFlagsCutToTheSmallerRoom) {
  fund(1, 100);
  drain(2, 30);
  const std::uint16_t both = ledger::kBalancingDebit | ledger::kBalancingCredit;
  accept(single(10, 1, 2, 500, both));
  EXPECT_EQ(l.transfer(10)->amount, 30u);
}

TEST_F(LedgerBalancing, ABalancingTransferBetweenAccountsWithoutLimitsIsCutToo) {
  // The cut is the account's balance, whether or not the account has a limit flag.
  fund(3, 25);
  accept(single(10, 3, 4, 100, ledger::kBalancingDebit));
  EXPECT_EQ(l.transfer(10)->amount, 25u);
}

// ---------------------------------------------------------------------------------------
// Linked chains (the engine's)

class LedgerChains : public LedgerTest {
 protected:
  void SetUp() override {
    open(1, ledger::kDebitsMustNotExceedCredits);
    open(2);
    open(3);
  }
};

TEST_F(LedgerChains, ALinkedChainOfTransfersCommitsTogether) {
  fund(1, 100);
  EXPECT_TRUE(l.submit(single(10, 1, 2, 40), /*linked=*/true, /*batch_end=*/false).empty());
  EXPECT_TRUE(l.submit(pending(11, 1, 3, 50), true, false).empty());
  const auto r = l.submit(post(12, 11, 10), /*linked=*/false, /*batch_end=*/true);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& d : r) EXPECT_TRUE(d.view.outcome.is_ok());
  EXPECT_EQ(l.balances(1), (Balances{0, 50, 0, 100}));
  EXPECT_EQ(l.balances(2), (Balances{0, 0, 0, 40}));
  EXPECT_EQ(l.balances(3), (Balances{0, 0, 0, 10}));
  EXPECT_EQ(l.exec().recompute_state_hash(), l.exec().state_hash());
}

TEST_F(LedgerChains, AChainWhoseLastTransferExceedsCreditsIsRefusedWhole) {
  fund(1, 100);
  const lockstep::StateHash before = l.exec().state_hash();
  const std::vector<ledger::Account> accounts = l.all_accounts();
  EXPECT_TRUE(l.submit(single(10, 1, 2, 40), true, false).empty());
  EXPECT_TRUE(l.submit(single(11, 1, 3, 40), true, false).empty());
  const auto r = l.submit(single(12, 1, 2, 40), false, true);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].view.outcome, Outcome::engine(EngineReject::kLinkedChainFailed, 2));
  EXPECT_EQ(r[1].view.outcome, Outcome::engine(EngineReject::kLinkedChainFailed, 2));
  EXPECT_EQ(r[2].view.outcome, refusal(Reject::exceeds_credits));
  for (const auto& d : r) {
    EXPECT_TRUE(d.view.writes.empty());
    EXPECT_TRUE(d.view.events.empty());
  }
  EXPECT_TRUE(same_bytes(l.all_accounts(), accounts));
  EXPECT_EQ(l.transfer(10), nullptr);
  EXPECT_EQ(l.transfer(11), nullptr);
  EXPECT_EQ(l.exec().state_hash(), before);
  EXPECT_EQ(l.exec().recompute_state_hash(), before);
  // Nothing was held: the first two alone fit.
  accept(single(10, 1, 2, 40));
  accept(single(11, 1, 3, 40));
}

TEST_F(LedgerChains, ARefusedPostTakesBackThePendingTransferBeforeItInTheChain) {
  fund(1, 100);
  EXPECT_TRUE(l.submit(pending(10, 1, 2, 60), true, false).empty());
  const auto r = l.submit(post(11, 10, 61), false, true);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].view.outcome, Outcome::engine(EngineReject::kLinkedChainFailed, 1));
  EXPECT_EQ(r[1].view.outcome, refusal(Reject::exceeds_pending_transfer_amount));
  EXPECT_EQ(l.transfer(10), nullptr);
  EXPECT_EQ(l.balances(1), (Balances{0, 0, 0, 100}));
}

// ---------------------------------------------------------------------------------------
// The model-based test: a reference model in std::maps, written from docs/ledger.md.

// a + b + ... > limit, in two 64-bit words (no 128-bit type under -Wpedantic).
bool exceeds(std::initializer_list<std::uint64_t> terms, std::uint64_t limit) {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  for (const std::uint64_t t : terms) {
    lo += t;
    if (lo < t) ++hi;
  }
  return hi != 0 || lo > limit;
}
// What `limit` leaves after a + b, or 0.
std::uint64_t headroom(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  return exceeds({a, b}, limit) ? 0 : limit - a - b;
}
bool has(std::uint16_t flags, std::uint16_t flag) { return (flags & flag) != 0; }

struct MAccount {
  ledger::CreateAccount spec;
  Balances b;
};
struct MTransfer {
  ledger::CreateTransfer spec;  // as stored: accounts, ledger, code and amount resolved
  TransferStatus status = TransferStatus::single;
  std::int64_t expires_at = 0;
};

// What the model says of one command.
struct Expected {
  Expected(Outcome o) : outcome(o) {}  // NOLINT: a bare outcome converts
  Expected(Outcome o, MTransfer t) : outcome(o), committed(t) {}
  Outcome outcome;
  std::optional<MTransfer> committed;                   // its TransferCommitted
  std::vector<std::pair<u128, std::uint64_t>> expired;  // its PendingExpired events
};

class Model {
 public:
  Expected create_account(const ledger::CreateAccount& c) {
    using namespace ledger;
    if ((c.flags & ~kAccountFlagsKnown) != 0) return {refusal(Reject::reserved_flag)};
    if (c.id == kIdZero) return {refusal(Reject::id_must_not_be_zero)};
    if (c.id == kIdMax) return {refusal(Reject::id_must_not_be_int_max)};
    if (has(c.flags, kDebitsMustNotExceedCredits) && has(c.flags, kCreditsMustNotExceedDebits)) {
      return {refusal(Reject::flags_are_mutually_exclusive)};
    }
    if (c.ledger == 0) return {refusal(Reject::ledger_must_not_be_zero)};
    if (c.code == 0) return {refusal(Reject::code_must_not_be_zero)};
    if (const auto it = accounts.find(c.id); it != accounts.end()) {
      const ledger::CreateAccount& e = it->second.spec;
      if (e.flags != c.flags) return {refusal(Reject::exists_with_different_flags)};
      if (e.user_data_128 != c.user_data_128) {
        return {refusal(Reject::exists_with_different_user_data_128)};
      }
      if (e.user_data_64 != c.user_data_64) {
        return {refusal(Reject::exists_with_different_user_data_64)};
      }
      if (e.user_data_32 != c.user_data_32) {
        return {refusal(Reject::exists_with_different_user_data_32)};
      }
      if (e.ledger != c.ledger) return {refusal(Reject::exists_with_different_ledger)};
      if (e.code != c.code) return {refusal(Reject::exists_with_different_code)};
      return {refusal(Reject::exists)};
    }
    accounts[c.id] = MAccount{c, {}};
    return {Outcome::ok()};
  }

  Expected create_transfer(const ledger::CreateTransfer& c, std::int64_t now) {
    using namespace ledger;
    const std::uint16_t f = c.flags;
    if ((f & ~kTransferFlagsKnown) != 0) return {refusal(Reject::reserved_flag)};
    if (c.id == kIdZero) return {refusal(Reject::id_must_not_be_zero)};
    if (c.id == kIdMax) return {refusal(Reject::id_must_not_be_int_max)};
    const bool resolving = has(f, kPostPending) || has(f, kVoidPending);
    const int phases =
        int{has(f, kPending)} + int{has(f, kPostPending)} + int{has(f, kVoidPending)};
    if (phases > 1 || (balancing(f) && resolving)) {
      return {refusal(Reject::flags_are_mutually_exclusive)};
    }
    if (resolving) return resolve(c, now);
    if (c.debit_account_id == kIdZero) return {refusal(Reject::debit_account_id_must_not_be_zero)};
    if (c.debit_account_id == kIdMax)
      return {refusal(Reject::debit_account_id_must_not_be_int_max)};
    if (c.credit_account_id == kIdZero)
      return {refusal(Reject::credit_account_id_must_not_be_zero)};
    if (c.credit_account_id == kIdMax) {
      return {refusal(Reject::credit_account_id_must_not_be_int_max)};
    }
    if (c.debit_account_id == c.credit_account_id) {
      return {refusal(Reject::accounts_must_be_different)};
    }
    if (c.pending_id != kIdZero) return {refusal(Reject::pending_id_must_be_zero)};
    if (!has(f, kPending) && c.timeout != 0) {
      return {refusal(Reject::timeout_reserved_for_pending_transfer)};
    }
    if (c.ledger == 0) return {refusal(Reject::ledger_must_not_be_zero)};
    if (c.code == 0) return {refusal(Reject::code_must_not_be_zero)};
    if (const auto e = transfers.find(c.id); e != transfers.end()) {
      return {existing(e->second.spec, c, c.amount)};
    }
    const auto dr = accounts.find(c.debit_account_id);
    if (dr == accounts.end()) return {refusal(Reject::debit_account_not_found)};
    const auto cr = accounts.find(c.credit_account_id);
    if (cr == accounts.end()) return {refusal(Reject::credit_account_not_found)};
    if (dr->second.spec.ledger != cr->second.spec.ledger) {
      return {refusal(Reject::accounts_must_have_the_same_ledger)};
    }
    if (c.ledger != dr->second.spec.ledger) {
      return {refusal(Reject::transfer_must_have_the_same_ledger_as_accounts)};
    }
    Balances& d = dr->second.b;
    Balances& k = cr->second.b;
    std::uint64_t amount = c.amount;
    if (has(f, kBalancingDebit)) {
      amount = std::min(amount, headroom(d.debits_pending, d.debits_posted, d.credits_posted));
    }
    if (has(f, kBalancingCredit)) {
      amount = std::min(amount, headroom(k.credits_pending, k.credits_posted, k.debits_posted));
    }
    const bool is_pending = has(f, kPending);
    if (is_pending) {
      if (exceeds({d.debits_pending, amount}, kU64Max)) {
        return {refusal(Reject::overflows_debits_pending)};
      }
      if (exceeds({k.credits_pending, amount}, kU64Max)) {
        return {refusal(Reject::overflows_credits_pending)};
      }
    } else {
      if (exceeds({d.debits_posted, amount}, kU64Max)) {
        return {refusal(Reject::overflows_debits_posted)};
      }
      if (exceeds({k.credits_posted, amount}, kU64Max)) {
        return {refusal(Reject::overflows_credits_posted)};
      }
    }
    if (exceeds({d.debits_pending, d.debits_posted, amount}, kU64Max)) {
      return {refusal(Reject::overflows_debits)};
    }
    if (exceeds({k.credits_pending, k.credits_posted, amount}, kU64Max)) {
      return {refusal(Reject::overflows_credits)};
    }
    std::int64_t expires_at = 0;
    if (is_pending && c.timeout != 0) {
      const std::int64_t after_ns = std::int64_t{c.timeout} * ledger::kNsPerTimeoutSecond;
      if (after_ns > kTimeMaxNs - now) return {refusal(Reject::overflows_timeout)};
      expires_at = now + after_ns;
    }
    if (has(dr->second.spec.flags, kDebitsMustNotExceedCredits) &&
        exceeds({d.debits_pending, d.debits_posted, amount}, d.credits_posted)) {
      return {refusal(Reject::exceeds_credits)};
    }
    if (has(cr->second.spec.flags, kCreditsMustNotExceedDebits) &&
        exceeds({k.credits_pending, k.credits_posted, amount}, k.debits_posted)) {
      return {refusal(Reject::exceeds_debits)};
    }
    (is_pending ? d.debits_pending : d.debits_posted) += amount;
    (is_pending ? k.credits_pending : k.credits_posted) += amount;
    MTransfer t{c, is_pending ? TransferStatus::pending : TransferStatus::single, expires_at};
    t.spec.amount = amount;
    transfers[c.id] = t;
    return {Outcome::ok(), t};
  }

  // Expires up to `limit` due pending transfers, soonest first (ties by id).
  Expected expire_pending(std::uint32_t limit, std::int64_t now) {
    std::vector<std::pair<std::int64_t, u128>> due;
    for (const auto& [id, t] : transfers) {
      if (t.status == TransferStatus::pending && t.expires_at != 0 && t.expires_at <= now) {
        due.emplace_back(t.expires_at, id);
      }
    }
    std::sort(due.begin(), due.end());
    Expected x{Outcome::ok()};
    for (std::size_t i = 0; i < due.size() && i < limit; ++i) {
      MTransfer& t = transfers.at(due[i].second);
      accounts.at(t.spec.debit_account_id).b.debits_pending -= t.spec.amount;
      accounts.at(t.spec.credit_account_id).b.credits_pending -= t.spec.amount;
      t.status = TransferStatus::expired;
      x.expired.emplace_back(t.spec.id, t.spec.amount);
    }
    return x;
  }

  std::map<u128, MAccount> accounts;
  std::map<u128, MTransfer> transfers;

 private:
  static bool balancing(std::uint16_t f) {
    return has(f, ledger::kBalancingDebit) || has(f, ledger::kBalancingCredit);
  }

  // A retry of transfer `e`; `amount` is the one it asks for (a post's or void's 0 is
  // its pending transfer's amount).
  static Outcome existing(const ledger::CreateTransfer& e, const ledger::CreateTransfer& c,
                          std::uint64_t amount) {
    if (e.flags != c.flags) return refusal(Reject::exists_with_different_flags);
    if (c.debit_account_id != kIdZero && c.debit_account_id != e.debit_account_id) {
      return refusal(Reject::exists_with_different_debit_account_id);
    }
    if (c.credit_account_id != kIdZero && c.credit_account_id != e.credit_account_id) {
      return refusal(Reject::exists_with_different_credit_account_id);
    }
    if (!balancing(c.flags) && amount != e.amount) {
      return refusal(Reject::exists_with_different_amount);
    }
    if (c.pending_id != e.pending_id) return refusal(Reject::exists_with_different_pending_id);
    if (c.user_data_128 != e.user_data_128) {
      return refusal(Reject::exists_with_different_user_data_128);
    }
    if (c.user_data_64 != e.user_data_64)
      return refusal(Reject::exists_with_different_user_data_64);
    if (c.user_data_32 != e.user_data_32)
      return refusal(Reject::exists_with_different_user_data_32);
    if (c.timeout != e.timeout) return refusal(Reject::exists_with_different_timeout);
    if (c.ledger != 0 && c.ledger != e.ledger) return refusal(Reject::exists_with_different_ledger);
    if (c.code != 0 && c.code != e.code) return refusal(Reject::exists_with_different_code);
    return refusal(Reject::exists);
  }

  Expected resolve(const ledger::CreateTransfer& c, std::int64_t now) {
    const bool is_post = has(c.flags, ledger::kPostPending);
    if (c.pending_id == kIdZero) return {refusal(Reject::pending_id_must_not_be_zero)};
    if (c.pending_id == kIdMax) return {refusal(Reject::pending_id_must_not_be_int_max)};
    if (c.pending_id == c.id) return {refusal(Reject::pending_id_must_be_different)};
    if (c.timeout != 0) return {refusal(Reject::timeout_reserved_for_pending_transfer)};
    const auto p = transfers.find(c.pending_id);
    if (const auto e = transfers.find(c.id); e != transfers.end()) {
      const bool whole = c.amount == 0 && p != transfers.end();
      return {existing(e->second.spec, c, whole ? p->second.spec.amount : c.amount)};
    }
    if (p == transfers.end()) return {refusal(Reject::pending_transfer_not_found)};
    MTransfer& pt = p->second;
    switch (pt.status) {
      case TransferStatus::pending: break;
      case TransferStatus::posted: return {refusal(Reject::pending_transfer_already_posted)};
      case TransferStatus::voided: return {refusal(Reject::pending_transfer_already_voided)};
      case TransferStatus::expired: return {refusal(Reject::pending_transfer_expired)};
      case TransferStatus::single: return {refusal(Reject::pending_transfer_not_pending)};
    }
    if (c.debit_account_id != kIdZero && c.debit_account_id != pt.spec.debit_account_id) {
      return {refusal(Reject::pending_transfer_has_different_debit_account_id)};
    }
    if (c.credit_account_id != kIdZero && c.credit_account_id != pt.spec.credit_account_id) {
      return {refusal(Reject::pending_transfer_has_different_credit_account_id)};
    }
    if (c.ledger != 0 && c.ledger != pt.spec.ledger) {
      return {refusal(Reject::pending_transfer_has_different_ledger)};
    }
    if (c.code != 0 && c.code != pt.spec.code) {
      return {refusal(Reject::pending_transfer_has_different_code)};
    }
    const std::uint64_t amount = c.amount == 0 ? pt.spec.amount : c.amount;
    if (amount > pt.spec.amount) return {refusal(Reject::exceeds_pending_transfer_amount)};
    if (!is_post && amount != pt.spec.amount) {
      return {refusal(Reject::pending_transfer_has_different_amount)};
    }
    if (pt.expires_at != 0 && now >= pt.expires_at) {
      return {refusal(Reject::pending_transfer_expired)};
    }
    Balances& d = accounts.at(pt.spec.debit_account_id).b;
    Balances& k = accounts.at(pt.spec.credit_account_id).b;
    // Pending + posted never exceeds 2^64 - 1, so a post cannot overflow posted.
    EXPECT_FALSE(exceeds({d.debits_posted, amount}, kU64Max));
    EXPECT_FALSE(exceeds({k.credits_posted, amount}, kU64Max));
    d.debits_pending -= pt.spec.amount;
    k.credits_pending -= pt.spec.amount;
    if (is_post) {
      d.debits_posted += amount;
      k.credits_posted += amount;
    }
    pt.status = is_post ? TransferStatus::posted : TransferStatus::voided;
    MTransfer t{c, TransferStatus::single, 0};
    t.spec.debit_account_id = pt.spec.debit_account_id;
    t.spec.credit_account_id = pt.spec.credit_account_id;
    t.spec.amount = amount;
    t.spec.ledger = pt.spec.ledger;
    t.spec.code = pt.spec.code;
    transfers[c.id] = t;
    return {Outcome::ok(), t};
  }
};

using Command = std::variant<ledger::CreateAccount, ledger::CreateTransfer, ledger::ExpirePending>;

// Random commands over 8 accounts: mostly sensible, some with bad fields, retries of
// earlier transfers (some altered), posts and voids of earlier pending transfers, and
// now and then amounts near 2^64.
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool percent(std::uint64_t p) { return below(100) < p; }

  Command next(bool early) {
    const std::uint64_t r = below(100);
    if (early || r < 10) return account();
    if (r < 92) return transfer();
    return ledger::ExpirePending{.limit =
                                     percent(20) ? 1000u : static_cast<std::uint32_t>(below(4))};
  }

 private:
  u128 account_id() {
    switch (below(40)) {
      case 0: return kIdZero;
      case 1: return kIdMax;
      case 2: return id128(99);  // never created
      default: return id128(1 + below(8));
    }
  }
  std::uint64_t amount() {
    if (percent(2)) return kU64Max - below(3);
    if (percent(1)) return std::uint64_t{1} << 63;
    return below(150);
  }

  ledger::CreateAccount account() {
    ledger::CreateAccount c;
    c.id = percent(3) ? (percent(50) ? kIdZero : kIdMax) : id128(1 + below(8));
    c.user_data_128 = id128(percent(90) ? 0 : 1);
    c.user_data_64 = below(2);
    c.ledger = percent(3) ? 0 : (percent(15) ? 2 : 1);
    c.code = percent(3) ? 0 : 10;
    const std::uint64_t f = below(100);
    c.flags = f < 50   ? 0
              : f < 72 ? ledger::kDebitsMustNotExceedCredits
              : f < 94 ? ledger::kCreditsMustNotExceedDebits
              : f < 97 ? ledger::kDebitsMustNotExceedCredits | ledger::kCreditsMustNotExceedDebits
                       : std::uint16_t{1} << (percent(50) ? 0 : 3);
    return c;
  }

  ledger::CreateTransfer transfer() {
    if (!sent_.empty() && percent(12)) return retry();
    ledger::CreateTransfer c;
    c.id = percent(3) ? (percent(50) ? kIdZero : kIdMax)
                      : (percent(92) ? id128(next_id_++) : id128(1 + below(next_id_)));
    c.user_data_32 = static_cast<std::uint32_t>(below(2));
    const std::uint64_t kind = below(100);
    if (kind < 60) {
      c.debit_account_id = account_id();
      c.credit_account_id = percent(4) ? c.debit_account_id : account_id();
      c.amount = amount();
      c.ledger = percent(3) ? 0 : (percent(4) ? 2 : 1);
      c.code = percent(3) ? 0 : 1;
      if (percent(3)) c.pending_id = id128(1 + below(next_id_));
      if (kind < 25) {
        c.flags = ledger::kPending;
        c.timeout = percent(40) ? 0 : static_cast<std::uint32_t>(1 + below(3));
      } else if (kind < 33) {
        const std::uint64_t b = below(3);
        c.flags = b == 0   ? ledger::kBalancingDebit
                  : b == 1 ? ledger::kBalancingCredit
                           : ledger::kBalancingDebit | ledger::kBalancingCredit;
        if (percent(30)) c.flags |= ledger::kPending;
      }
      if (c.flags == 0 && percent(3)) c.timeout = 1;
    } else {
      // A post (60%) or a void of an earlier pending transfer, mostly.
      c.flags = kind < 84 ? ledger::kPostPending : ledger::kVoidPending;
      if (!pending_ids_.empty() && percent(85)) {
        c.pending_id = pending_ids_[below(pending_ids_.size())];
      } else {
        c.pending_id = percent(20) ? kIdZero : id128(1 + below(next_id_));
      }
      if (percent(3)) c.pending_id = percent(50) ? kIdMax : c.id;
      const bool post_flag = c.flags == ledger::kPostPending;
      c.amount = percent(post_flag ? 50 : 85) ? 0 : below(120);
      if (percent(15)) c.debit_account_id = account_id();
      if (percent(15)) c.credit_account_id = account_id();
      if (percent(10)) c.ledger = static_cast<std::uint32_t>(1 + below(2));
      if (percent(10)) c.code = static_cast<std::uint16_t>(1 + below(2));
      if (percent(3)) c.timeout = 1;
    }
    if (percent(2)) c.flags |= std::uint16_t{1} << (percent(50) ? 0 : 6);  // reserved
    if (percent(2)) c.flags |= ledger::kPostPending;                       // conflicting
    sent_.push_back(c);
    if (c.flags == ledger::kPending) pending_ids_.push_back(c.id);
    return c;
  }

  // An earlier transfer again, as it was or with one field changed.
  ledger::CreateTransfer retry() {
    ledger::CreateTransfer c = sent_[below(sent_.size())];
    switch (below(12)) {
      case 0: c.amount = amount(); break;
      case 1: c.user_data_32 ^= 1; break;
      case 2: c.timeout = static_cast<std::uint32_t>(below(3)); break;
      case 3: c.debit_account_id = account_id(); break;
      case 4: c.ledger = static_cast<std::uint32_t>(below(3)); break;
      case 5: c.flags ^= ledger::kPending; break;
      case 6: c.code = static_cast<std::uint16_t>(1 + below(2)); break;
      case 7:
        if (!pending_ids_.empty()) c.pending_id = pending_ids_[below(pending_ids_.size())];
        break;
      default: break;  // identical
    }
    return c;
  }

  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 1;
  std::vector<ledger::CreateTransfer> sent_;
  std::vector<u128> pending_ids_;
};

Expected apply(Model& m, const Command& c, std::int64_t now) {
  if (const auto* a = std::get_if<ledger::CreateAccount>(&c)) return m.create_account(*a);
  if (const auto* t = std::get_if<ledger::CreateTransfer>(&c)) return m.create_transfer(*t, now);
  return m.expire_pending(std::get<ledger::ExpirePending>(c).limit, now);
}

void expect_result(const lockstep::TxResultView& v, const Expected& x) {
  EXPECT_EQ(v.outcome, x.outcome) << "command " << v.command_sequence << " kind " << v.command_kind
                                  << " at " << v.logical_time_ns;
  if (!v.outcome.is_ok() || !x.outcome.is_ok()) {
    EXPECT_TRUE(v.writes.empty());
    EXPECT_TRUE(v.events.empty());
    return;
  }
  if (v.command_kind == ledger::CreateTransfer::kKind) {
    ASSERT_EQ(v.events.size(), 1u) << "command " << v.command_sequence;
    ASSERT_TRUE(x.committed.has_value());
    const auto e = event_as<ledger::TransferCommitted>(v.events[0]);
    EXPECT_EQ(e.id, x.committed->spec.id);
    EXPECT_EQ(e.amount, x.committed->spec.amount) << "command " << v.command_sequence;
    EXPECT_EQ(e.status, x.committed->status);
    EXPECT_EQ(e.debit_account_id, x.committed->spec.debit_account_id);
    EXPECT_EQ(e.credit_account_id, x.committed->spec.credit_account_id);
  } else if (v.command_kind == ledger::ExpirePending::kKind) {
    std::vector<std::pair<u128, std::uint64_t>> got;
    for (const auto& e : v.events) {
      const auto p = event_as<ledger::PendingExpired>(e);
      got.emplace_back(p.id, p.amount);
    }
    EXPECT_EQ(got, x.expired) << "command " << v.command_sequence;
  } else {
    EXPECT_TRUE(v.events.empty());
  }
}

void expect_same_state(Ledger& l, const Model& m) {
  const std::vector<ledger::Account> accounts = l.all_accounts();
  ASSERT_EQ(accounts.size(), m.accounts.size());
  for (const ledger::Account& a : accounts) {
    const auto it = m.accounts.find(a.id);
    ASSERT_NE(it, m.accounts.end()) << "account " << a.id.lo;
    EXPECT_EQ(balances_of(a), it->second.b) << "account " << a.id.lo;
    EXPECT_EQ(a.flags, it->second.spec.flags);
    EXPECT_EQ(a.ledger, it->second.spec.ledger);
  }
  const std::vector<ledger::Transfer> transfers = l.all_transfers();
  ASSERT_EQ(transfers.size(), m.transfers.size());
  for (const ledger::Transfer& t : transfers) {
    const auto it = m.transfers.find(t.id);
    ASSERT_NE(it, m.transfers.end()) << "transfer " << t.id.lo;
    const MTransfer& x = it->second;
    EXPECT_EQ(t.status, x.status) << "transfer " << t.id.lo;
    EXPECT_EQ(t.amount, x.spec.amount) << "transfer " << t.id.lo;
    EXPECT_EQ(t.expires_at, x.expires_at) << "transfer " << t.id.lo;
    EXPECT_EQ(t.debit_account_id, x.spec.debit_account_id) << "transfer " << t.id.lo;
    EXPECT_EQ(t.pending_id, x.spec.pending_id) << "transfer " << t.id.lo;
  }
  EXPECT_EQ(l.exec().recompute_state_hash(), l.exec().state_hash());
}

template <class C>
std::vector<Decoded> submit_command(Ledger& l, const C& c, bool linked, bool batch_end) {
  return std::visit([&](const auto& x) { return l.submit(x, linked, batch_end); }, c);
}

// Runs `commands` random commands from `seed` through the engine and the model.
void run_against_model(std::uint64_t seed, int commands) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED=" + std::to_string(seed) +
               " replays it)");
  Ledger l;
  Model m;
  Generator g(seed);
  int i = 0;
  while (i < commands) {
    if (g.percent(4)) l.set_now(l.now() + nanoseconds(g.below(2500) * 1'000'000));
    // A linked chain of 2 or 3 commands one time in ten; otherwise one command.
    const int length = g.percent(10) ? 2 + static_cast<int>(g.below(2)) : 1;
    Model trial = length > 1 ? m : Model{};
    Model& target = length > 1 ? trial : m;
    std::vector<Expected> expected;
    std::optional<std::size_t> failed;
    std::vector<Decoded> results;
    for (int k = 0; k < length; ++k) {
      const Command c = g.next(i + k < 12);
      const bool last = k == length - 1;
      const std::int64_t now = l.now().count();
      for (auto& d : submit_command(l, c, !last, last)) results.push_back(std::move(d));
      if (failed.has_value()) {
        expected.push_back({Outcome::engine(EngineReject::kLinkedChainFailed,
                                            static_cast<std::uint32_t>(*failed))});
        continue;
      }
      expected.push_back(apply(target, c, now));
      if (!expected.back().outcome.is_ok() && length > 1) failed = static_cast<std::size_t>(k);
    }
    if (failed.has_value()) {
      for (std::size_t k = 0; k < expected.size(); ++k) {
        if (k != *failed) {
          expected[k] = {Outcome::engine(EngineReject::kLinkedChainFailed,
                                         static_cast<std::uint32_t>(*failed))};
        }
      }
    } else if (length > 1) {
      m = std::move(trial);
    }
    EXPECT_EQ(results.size(), expected.size()) << "at command " << i;
    for (std::size_t k = 0; k < std::min(results.size(), expected.size()); ++k) {
      expect_result(results[k].view, expected[k]);
    }
    i += length;
    if (::testing::Test::HasFailure()) return;
    if (i % 250 < length) expect_same_state(l, m);
  }
  expect_same_state(l, m);
}

std::uint64_t seed_from_env() {
  const char* s = std::getenv("LOCKSTEP_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
}

TEST(LedgerModel, RandomStreamsMatchTheReferenceModel) {
  const std::uint64_t base = seed_from_env();
  for (std::uint64_t k = 0; k < 6; ++k) {
    const std::uint64_t seed = base + k;
    std::printf("ledger model seed %llu\n", static_cast<unsigned long long>(seed));
    run_against_model(seed, 3000);
    if (HasFailure()) return;
  }
}

}  // namespace
