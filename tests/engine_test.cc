// The engine core on the bank domain: staging, refusals, linked chains, invariants, state
// machines, unique keys, capacity, TxResult contents and the state hash.
#include <gtest/gtest.h>

#include "bank/bank_harness.h"

namespace {

using bank_test::Bank;
using bank_test::deposit;
using bank_test::open;
using bank_test::transfer;
using bank_test::withdraw;
using lockstep::EngineLimit;
using lockstep::EngineReject;
using lockstep::Outcome;

Outcome domain(bank::Reject r) { return bank::reject(r); }
Outcome engine(EngineReject r, std::uint32_t detail = 0) { return Outcome::engine(r, detail); }
std::uint32_t limit(EngineLimit l) {
  return lockstep::kLimitDetailBase | static_cast<std::uint32_t>(l);
}

TEST(Engine, DepositCreditsTheAccountAndEmitsAnEvent) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  const auto r = b.submit(deposit(1, 500));
  ASSERT_EQ(r.size(), 1u);
  const auto& v = r[0].view;
  EXPECT_TRUE(v.outcome.is_ok());
  EXPECT_EQ(v.command_kind, bank::Deposit::kKind);
  EXPECT_EQ(v.command_sequence, 1u);
  EXPECT_EQ(v.tx_sequence, 2u);
  ASSERT_EQ(v.writes.size(), 1u);
  EXPECT_EQ(v.writes[0].op, lockstep::kWriteUpsert);
  EXPECT_EQ(v.writes[0].table, bank::Account::kTableId);
  bank::Account after;
  ASSERT_EQ(v.writes[0].bytes.size(), sizeof after);
  std::memcpy(&after, v.writes[0].bytes.data(), sizeof after);
  EXPECT_EQ(after.balance.units, 500);
  ASSERT_EQ(v.events.size(), 1u);
  EXPECT_EQ(v.events[0].kind, bank::Deposited::kKind);
  bank::Deposited e;
  std::memcpy(&e, v.events[0].bytes.data(), sizeof e);
  EXPECT_EQ(e.balance.units, 500);
  EXPECT_EQ(b.account(1)->balance.units, 500);
}

TEST(Engine, ARefusedCommandWritesNothingAndKeepsTheStateHash) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  const lockstep::StateHash before = b.exec().state_hash();
  const auto r = b.submit(withdraw(1, 10));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].view.outcome, domain(bank::Reject::insufficient_funds));
  EXPECT_TRUE(r[0].view.writes.empty());
  EXPECT_TRUE(r[0].view.events.empty());
  EXPECT_EQ(r[0].view.tx_sequence, 1u);  // no new transaction
  EXPECT_EQ(b.exec().state_hash(), before);
  EXPECT_EQ(b.outcome(deposit(9, 1)), domain(bank::Reject::account_not_found));
}

TEST(Engine, TransferMovesMoneyAndRecordsTheTransfer) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "bob")).is_ok());
  ASSERT_TRUE(b.outcome(deposit(1, 1000)).is_ok());
  const auto r = b.submit(transfer(77, 1, 2, 300));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].view.outcome.is_ok());
  EXPECT_EQ(r[0].view.writes.size(), 3u);
  EXPECT_EQ(b.account(1)->balance.units, 700);
  EXPECT_EQ(b.account(2)->balance.units, 300);
  EXPECT_EQ(b.transfers(), 1u);
  EXPECT_EQ(b.outcome(transfer(77, 1, 2, 1)), domain(bank::Reject::transfer_exists));
}

TEST(Engine, AHandlerRefusalAfterWritesTakesThemAllBack) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "bob")).is_ok());
  ASSERT_TRUE(b.outcome(deposit(1, 100)).is_ok());
  ASSERT_TRUE(
      b.outcome(bank::SetStatus{.account = 2, .status = bank::AccountStatus::frozen}).is_ok());
  // The handler modifies both accounts, then refuses because the credit one is frozen.
  const lockstep::StateHash before = b.exec().state_hash();
  EXPECT_EQ(b.outcome(transfer(5, 1, 2, 50)), domain(bank::Reject::account_not_open));
  EXPECT_EQ(b.account(1)->balance.units, 100);
  EXPECT_EQ(b.account(2)->balance.units, 0);
  EXPECT_EQ(b.transfers(), 0u);
  EXPECT_EQ(b.exec().state_hash(), before);
  EXPECT_EQ(b.exec().recompute_state_hash(), before);
}

TEST(Engine, AnInvariantViolationRefusesWithTheInvariantNamed) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice", 500)).is_ok());
  ASSERT_TRUE(b.outcome(withdraw(1, 400)).is_ok());
  // Forcing the limit below the overdraft breaks balance_within_limit (invariant 0).
  EXPECT_EQ(b.outcome(bank::SetLimit{.account = 1, .overdraft_limit = {100}, .force = true}),
            engine(EngineReject::kInvariantViolated, (0u << 16) | 0u));
  EXPECT_EQ(b.account(1)->overdraft_limit.units, 500);
  EXPECT_TRUE(
      b.outcome(bank::SetLimit{.account = 1, .overdraft_limit = {400}, .force = true}).is_ok());
}

TEST(Engine, ATakenUniqueKeyRefusesAnInsert) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  EXPECT_EQ(b.outcome(open(2, "alice")), engine(EngineReject::kUniqueKeyConflict, (0u << 16) | 1u));
  EXPECT_EQ(b.accounts(), 1u);
}

TEST(Engine, ATakenPrimaryKeyRefusesAnInsert) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  EXPECT_EQ(b.outcome(open(1, "bob")), engine(EngineReject::kUniqueKeyConflict, (0u << 16) | 0u));
  EXPECT_EQ(b.accounts(), 1u);
}

TEST(Engine, ChangingAUniqueKeyToATakenOneRefusesTheCommand) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "bob")).is_ok());
  EXPECT_EQ(b.outcome(bank::Rename{.account = 2, .owner = lockstep::Chars<16>::from("alice")}),
            engine(EngineReject::kUniqueKeyConflict, (0u << 16) | 1u));
  EXPECT_EQ(b.account(2)->owner.view(), "bob");
  // A free name is fine, and frees the old one.
  ASSERT_TRUE(
      b.outcome(bank::Rename{.account = 2, .owner = lockstep::Chars<16>::from("carol")}).is_ok());
  EXPECT_TRUE(b.outcome(open(3, "bob")).is_ok());
}

TEST(Engine, AnUndeclaredTransitionIsRefused) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  const auto closed = bank::SetStatus{.account = 1, .status = bank::AccountStatus::closed};
  const auto reopen = bank::SetStatus{.account = 1, .status = bank::AccountStatus::open};
  const auto freeze = bank::SetStatus{.account = 1, .status = bank::AccountStatus::frozen};
  ASSERT_TRUE(b.outcome(freeze).is_ok());
  ASSERT_TRUE(b.outcome(reopen).is_ok());
  ASSERT_TRUE(b.outcome(closed).is_ok());
  EXPECT_EQ(b.outcome(reopen), engine(EngineReject::kIllegalTransition, 0));
  EXPECT_EQ(b.account(1)->status, bank::AccountStatus::closed);
}

TEST(Engine, AnInsertInANonInitialStateIsRefused) {
  Bank b;
  const auto import = [](std::uint64_t id, bank::AccountStatus s) {
    return bank::ImportAccount{
        .id = id, .owner = lockstep::Chars<16>::from(std::to_string(id)), .status = s};
  };
  EXPECT_EQ(b.outcome(import(1, bank::AccountStatus::frozen)),
            engine(EngineReject::kIllegalTransition, 0));
  EXPECT_EQ(b.account(1), nullptr);
  EXPECT_TRUE(b.outcome(import(1, bank::AccountStatus::open)).is_ok());
}

TEST(Engine, AFullTableRefusesTheInsertWithItsTableId) {
  lockstep::EngineOptions o;
  o.table_capacity = {2, 10};
  Bank b(o);
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "b")).is_ok());
  EXPECT_EQ(b.outcome(open(3, "c")), engine(EngineReject::kCapacityExceeded, 0));
  // Erasing one makes room again.
  ASSERT_TRUE(b.outcome(bank::CloseAccount{.account = 1}).is_ok());
  EXPECT_TRUE(b.outcome(open(3, "c")).is_ok());
}

TEST(Engine, TheWriteLimitRefusesACommandThatWritesTooMuch) {
  lockstep::EngineOptions o;
  o.limits.writes_per_command_max = 2;
  Bank b(o);
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "b")).is_ok());
  ASSERT_TRUE(b.outcome(deposit(1, 10)).is_ok());
  // Two accounts and one transfer record: three writes.
  EXPECT_EQ(b.outcome(transfer(1, 1, 2, 5)),
            engine(EngineReject::kCapacityExceeded, limit(EngineLimit::kWritesPerCommand)));
  EXPECT_EQ(b.account(1)->balance.units, 10);
}

TEST(Engine, TheEventLimitRefusesACommandThatEmitsTooMuch) {
  lockstep::EngineOptions o;
  o.limits.event_bytes_per_command_max = 16;
  Bank b(o);
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  EXPECT_EQ(b.outcome(deposit(1, 10)),
            engine(EngineReject::kCapacityExceeded, limit(EngineLimit::kEventBytesPerCommand)));
  EXPECT_EQ(b.account(1)->balance.units, 0);
}

TEST(Engine, ALinkedChainCommitsTogether) {
  Bank b;
  EXPECT_TRUE(b.submit(open(1, "a"), /*linked=*/true, /*batch_end=*/false).empty());
  EXPECT_TRUE(b.submit(open(2, "b"), true, false).empty());
  const auto r = b.submit(deposit(2, 10), false);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& d : r) EXPECT_TRUE(d.view.outcome.is_ok());
  EXPECT_EQ(r[0].view.tx_sequence, 1u);
  EXPECT_EQ(r[2].view.tx_sequence, 3u);
  EXPECT_EQ(b.accounts(), 2u);
}

TEST(Engine, ALinkedChainWithOneRefusalIsRefusedWhole) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  const lockstep::StateHash before = b.exec().state_hash();
  EXPECT_TRUE(b.submit(deposit(1, 10), true, false).empty());
  EXPECT_TRUE(b.submit(open(2, "b"), true, false).empty());
  // Position 2 fails: the chain's results so far are final and delivered at once.
  auto r = b.submit(withdraw(1, 50), true, false);
  ASSERT_EQ(r.size(), 3u);
  auto closing = b.submit(deposit(1, 1), false);  // closes the chain, not run
  ASSERT_EQ(closing.size(), 1u);
  r.push_back(std::move(closing[0]));
  EXPECT_EQ(r[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 2));
  EXPECT_EQ(r[1].view.outcome, engine(EngineReject::kLinkedChainFailed, 2));
  EXPECT_EQ(r[2].view.outcome, domain(bank::Reject::insufficient_funds));
  EXPECT_EQ(r[3].view.outcome, engine(EngineReject::kLinkedChainFailed, 2));
  for (const auto& d : r) {
    EXPECT_TRUE(d.view.writes.empty());
    EXPECT_EQ(d.view.tx_sequence, 1u);
  }
  EXPECT_EQ(b.account(1)->balance.units, 0);
  EXPECT_EQ(b.account(2), nullptr);
  EXPECT_EQ(b.exec().state_hash(), before);
  EXPECT_EQ(b.exec().recompute_state_hash(), before);
  EXPECT_TRUE(b.outcome(open(2, "b")).is_ok());
}

TEST(Engine, ABatchEndingInsideAChainRefusesTheChain) {
  Bank b;
  EXPECT_TRUE(b.submit(open(1, "a"), true, false).empty());
  const auto r = b.submit(open(2, "b"), /*linked=*/true, /*batch_end=*/true);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& d : r) EXPECT_EQ(d.view.outcome, engine(EngineReject::kLinkedChainOpen));
  EXPECT_TRUE(r[1].view.has_state_hash);
  EXPECT_EQ(b.accounts(), 0u);
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
  // The slots the chain took are free again, and reused.
  ASSERT_TRUE(b.outcome(open(3, "c")).is_ok());
  EXPECT_EQ(std::get<0>(b.exec().tables()).slot_of(bank::detail_::Account_primary::make(3)), 0u);
}

TEST(Engine, TheLastResultOfABatchCarriesTheStateHash) {
  Bank b;
  const auto first = b.submit(open(1, "a"), false, /*batch_end=*/false);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].view.has_state_hash);
  const auto last = b.submit(deposit(1, 5), false, true);
  ASSERT_EQ(last.size(), 1u);
  ASSERT_TRUE(last[0].view.has_state_hash);
  EXPECT_EQ(last[0].view.state_hash, b.exec().state_hash());
  EXPECT_EQ(last[0].view.state_hash.records, 1u);
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
}

TEST(Engine, MalformedAndUnknownCommandsAreRefused) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  const auto d = deposit(1, 5);
  auto bytes = std::as_bytes(std::span(&d, 1));
  EXPECT_EQ(b.submit_raw(bank::Deposit::kKind, bytes.first(bytes.size() - 1))[0].view.outcome,
            engine(EngineReject::kMalformedCommand, bank::Deposit::kKind));
  EXPECT_EQ(b.submit_raw(99, bytes)[0].view.outcome, engine(EngineReject::kUnknownCommand, 99));
  // Larger than any command: malformed, and recorded without its payload.
  const std::vector<std::byte> huge(1 << 20);
  const auto r = b.submit_raw(bank::Deposit::kKind, huge);
  EXPECT_EQ(r[0].view.outcome, engine(EngineReject::kMalformedCommand, bank::Deposit::kKind));
  EXPECT_TRUE(r[0].view.command.empty());
  bank::SetLimit s{.account = 1, .overdraft_limit = {1}, .force = false};
  std::vector<std::byte> raw(sizeof s);
  std::memcpy(raw.data(), &s, sizeof s);
  raw[offsetof(bank::SetLimit, force)] = std::byte{2};  // a bool must be 0 or 1
  EXPECT_EQ(b.submit_raw(bank::SetLimit::kKind, raw)[0].view.outcome,
            engine(EngineReject::kMalformedCommand, bank::SetLimit::kKind));
  bank::SetStatus st{.account = 1, .status = bank::AccountStatus::frozen};
  std::vector<std::byte> raw2(sizeof st);
  std::memcpy(raw2.data(), &st, sizeof st);
  raw2[offsetof(bank::SetStatus, status)] = std::byte{9};  // not a declared AccountStatus
  EXPECT_EQ(b.submit_raw(bank::SetStatus::kKind, raw2)[0].view.outcome,
            engine(EngineReject::kMalformedCommand, bank::SetStatus::kKind));
}

TEST(Engine, AnErasedRecordsKeyIsInTheResultAndItsSlotIsReused) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "b")).is_ok());
  const auto r = b.submit(bank::CloseAccount{.account = 1});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].view.writes.size(), 1u);
  EXPECT_EQ(r[0].view.writes[0].op, lockstep::kWriteErase);
  EXPECT_EQ(r[0].view.writes[0].bytes.size(), 8u);
  EXPECT_EQ(std::to_integer<int>(r[0].view.writes[0].bytes[7]), 1);  // big-endian id 1
  ASSERT_TRUE(b.outcome(open(3, "c")).is_ok());
  const auto& t = std::get<0>(b.exec().tables());
  EXPECT_EQ(t.slot_of(bank::detail_::Account_primary::make(3)), 0u);  // slot 0 again
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
}

TEST(Engine, ChangingAPrimaryKeyIsRefused) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  EXPECT_EQ(b.outcome(bank::Renumber{.account = 1, .new_id = 2}),
            engine(EngineReject::kPrimaryKeyChanged, 0));
  ASSERT_NE(b.account(1), nullptr);
  EXPECT_EQ(b.account(2), nullptr);
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
}

TEST(Engine, ARefusedPrimaryKeyChangeLeavesOtherRecordsIndexed) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "b")).is_ok());
  // Renumbering 1 to 2 would move its by_status entry (open, 1) onto account 2's (open, 2).
  EXPECT_EQ(b.outcome(bank::Renumber{.account = 1, .new_id = 2}),
            engine(EngineReject::kPrimaryKeyChanged, 0));
  const auto r = b.submit(bank::FreezeOpen{.limit = 10});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].view.events.size(), 2u);  // both accounts are still in the index
  ASSERT_TRUE(
      b.outcome(bank::SetStatus{.account = 2, .status = bank::AccountStatus::open}).is_ok());
  EXPECT_TRUE(b.outcome(bank::CloseAccount{.account = 2}).is_ok());
  EXPECT_EQ(b.exec().recompute_state_hash(), b.exec().state_hash());
}

TEST(Engine, APrefixScanVisitsMatchesInIndexOrderAndMayWrite) {
  Bank b;
  for (std::uint64_t id : {5, 3, 9, 1, 7})
    ASSERT_TRUE(b.outcome(open(id, ("o" + std::to_string(id)).c_str())).is_ok());
  ASSERT_TRUE(
      b.outcome(bank::SetStatus{.account = 3, .status = bank::AccountStatus::frozen}).is_ok());
  const auto r = b.submit(bank::FreezeOpen{.limit = 3});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].view.outcome.is_ok());
  // Open accounts in id order: 1, 5, 7, 9; the first three are frozen.
  ASSERT_EQ(r[0].view.events.size(), 3u);
  std::vector<std::uint64_t> ids;
  for (const auto& e : r[0].view.events) {
    bank::StatusChanged s;
    std::memcpy(&s, e.bytes.data(), sizeof s);
    ids.push_back(s.account);
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 5, 7}));
  EXPECT_EQ(b.account(9)->status, bank::AccountStatus::open);
  EXPECT_EQ(b.account(7)->status, bank::AccountStatus::frozen);
  // The scan sees the index as the command left it: one open account remains.
  const auto again = b.submit(bank::FreezeOpen{.limit = 10});
  EXPECT_EQ(again[0].view.events.size(), 1u);
}

TEST(Engine, AScanWithALimitOfZeroVisitsNothing) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  const auto r = b.submit(bank::FreezeOpen{.limit = 0});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].view.outcome.is_ok());
  EXPECT_TRUE(r[0].view.events.empty());
  EXPECT_TRUE(r[0].view.writes.empty());
  EXPECT_EQ(b.account(1)->status, bank::AccountStatus::open);
}

TEST(Engine, ARangeScanSeesOnlyItsRange) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  ASSERT_TRUE(b.outcome(open(2, "b")).is_ok());
  ASSERT_TRUE(b.outcome(deposit(1, 1000)).is_ok());
  for (std::uint64_t t = 1; t <= 5; ++t)
    ASSERT_TRUE(b.outcome(transfer(t, 1, 2, 10 * static_cast<std::int64_t>(t))).is_ok());
  ASSERT_TRUE(b.outcome(deposit(2, 1000)).is_ok());
  ASSERT_TRUE(b.outcome(transfer(6, 2, 1, 1)).is_ok());
  // The harness's logical time is 1,000,000 + 10 x sequence: transfers 1..5 are
  // commands 3..7, at 1,000,030 .. 1,000,070.
  const auto r = b.submit(bank::AuditDebits{.account = 1, .from = 1'000'050, .to = 1'000'070});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].view.events.size(), 1u);
  bank::DebitsCounted e;
  std::memcpy(&e, r[0].view.events[0].bytes.data(), sizeof e);
  EXPECT_EQ(e.count, 2u);  // transfers 3 and 4; 5 is at the (open) end of the range
  EXPECT_EQ(e.total.units, 30 + 40);
}

TEST(Engine, AUniqueLookupSeesTheCommandsOwnWrite) {
  Bank b;
  ASSERT_TRUE(b.outcome(open(1, "alice")).is_ok());
  // The Rename handler looks itself up by the new owner before returning.
  EXPECT_TRUE(
      b.outcome(bank::Rename{.account = 1, .owner = lockstep::Chars<16>::from("zed")}).is_ok());
}

TEST(Engine, AResultOverTheSizeLimitIsRefused) {
  lockstep::EngineOptions o;
  o.result_bytes_max = lockstep::kTxResultHeaderBytes + lockstep::kTxStateHashBytes + 4096;
  Bank b(o);
  for (std::uint64_t id = 1; id <= 60; ++id) {
    ASSERT_TRUE(b.outcome(open(id, ("o" + std::to_string(id)).c_str())).is_ok());
  }
  // Freezing 60 accounts writes 60 x (8 + 48) bytes and 60 events: over 4 KiB.
  EXPECT_EQ(b.outcome(bank::FreezeOpen{.limit = 60}),
            engine(EngineReject::kCapacityExceeded, limit(EngineLimit::kResultBytes)));
  EXPECT_EQ(b.account(1)->status, bank::AccountStatus::open);
  EXPECT_TRUE(b.outcome(bank::FreezeOpen{.limit = 5}).is_ok());
}

TEST(Engine, AChainOverTheLengthLimitIsRefusedWhole) {
  lockstep::EngineOptions o;
  o.chain_length_max = 2;
  Bank b(o);
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
  EXPECT_TRUE(b.submit(deposit(1, 1), true, false).empty());
  EXPECT_TRUE(b.submit(deposit(1, 2), true, false).empty());
  const auto r = b.submit(deposit(1, 3), false);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 2));
  EXPECT_EQ(r[2].view.outcome,
            engine(EngineReject::kCapacityExceeded, limit(EngineLimit::kChainLength)));
  EXPECT_EQ(b.account(1)->balance.units, 0);
}

TEST(Engine, ARefusedChainOfAnyLengthStaysWithinItsBuffers) {
  lockstep::EngineOptions o;
  o.result_bytes_max = lockstep::kTxResultHeaderBytes + lockstep::kTxStateHashBytes + 4096;
  o.chain_bytes_max = 2 * o.result_bytes_max;
  o.chain_length_max = 8;
  Bank b(o);
  // The first member fails; 500 more follow before the chain ends. (ASan watches.)
  auto first = b.submit(deposit(99, 1), /*linked=*/true, /*batch_end=*/false);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].view.outcome, domain(bank::Reject::account_not_found));
  for (int i = 0; i < 500; ++i) {
    const auto r = b.submit(deposit(99, 1), true, false);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 0));
  }
  const auto last = b.submit(deposit(99, 1), false, true);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 0));
  EXPECT_TRUE(last[0].view.has_state_hash);
  // The next chain starts afresh.
  ASSERT_TRUE(b.outcome(open(1, "a")).is_ok());
}

TEST(Engine, AChainWhoseResultsWouldOverflowItsBufferIsRefused) {
  lockstep::EngineOptions o;
  o.result_bytes_max = lockstep::kTxResultHeaderBytes + lockstep::kTxStateHashBytes + 4096;
  o.chain_bytes_max = 2 * o.result_bytes_max;
  Bank b(o);
  for (std::uint64_t id = 1; id <= 102; ++id) {
    ASSERT_TRUE(b.outcome(open(id, ("o" + std::to_string(id)).c_str())).is_ok());
  }
  // Each FreezeOpen{51} result is about 4 KiB: the second no longer fits beside the first.
  EXPECT_TRUE(b.submit(bank::FreezeOpen{.limit = 51}, true, false).empty());
  const auto r = b.submit(bank::FreezeOpen{.limit = 51}, true, false);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 1));
  EXPECT_EQ(r[1].view.outcome,
            engine(EngineReject::kCapacityExceeded, limit(EngineLimit::kChainLength)));
  const auto end = b.submit(deposit(1, 5), false, true);
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0].view.outcome, engine(EngineReject::kLinkedChainFailed, 1));
  EXPECT_EQ(b.account(1)->status, bank::AccountStatus::open);
  EXPECT_EQ(b.account(1)->balance.units, 0);
}

TEST(Engine, ACharFieldWithBytesAfterItsEndIsMalformed) {
  Bank b;
  bank::OpenAccount c = open(1, "a");
  c.owner.data[5] = 'x';  // "a", NUL, ..., 'x': not NUL-padded
  EXPECT_EQ(b.outcome(c), engine(EngineReject::kMalformedCommand, bank::OpenAccount::kKind));
}

TEST(Engine, MissingHandlersAreRefusedAtConstruction) {
  bank::Handlers h = bank::handlers();
  h.withdraw = nullptr;
  EXPECT_THROW((lockstep::Executor<bank::Domain>(h, {})), std::invalid_argument);
}

TEST(Engine, BadOptionsAreRefusedAtConstruction) {
  lockstep::EngineOptions o;
  o.limits.writes_per_command_max = 0;
  EXPECT_THROW((lockstep::Executor<bank::Domain>(bank::handlers(), o)), std::invalid_argument);
  lockstep::EngineOptions p;
  p.chain_bytes_max = p.result_bytes_max;
  EXPECT_THROW((lockstep::Executor<bank::Domain>(bank::handlers(), p)), std::invalid_argument);
}

}  // namespace
