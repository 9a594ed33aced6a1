// A test harness around Executor<bank::Domain>: submits typed commands, decodes every
// TxResult the executor writes, and keeps them.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "bank_domain.h"
#include "engine/executor.h"
#include "engine/tx_result.h"
#include "tx_results.h"

namespace bank_test {

using lockstep_test::Decoded;

class Bank {
 public:
  explicit Bank(lockstep::EngineOptions options = {})
      : exec_(std::make_unique<lockstep::Executor<bank::Domain>>(bank::handlers(),
                                                                 std::move(options))),
        out_(exec_->options().result_bytes_max + exec_->options().chain_bytes_max) {}

  // Executes one command; returns the results it made final (none while a chain is open).
  template <class C>
  std::vector<Decoded> submit(const C& c, bool linked = false, bool batch_end = true) {
    return submit_raw(C::kKind, std::as_bytes(std::span(&c, 1)), linked, batch_end);
  }

  std::vector<Decoded> submit_raw(std::uint16_t kind, std::span<const std::byte> payload,
                                  bool linked = false, bool batch_end = true) {
    lockstep::CommandView v;
    v.kind = kind;
    v.linked = linked;
    v.client_id = 7;
    v.request_id = exec_->next_sequence() + 1000;
    v.sequence = exec_->next_sequence();
    v.logical_time_ns = 1'000'000 + static_cast<std::int64_t>(v.sequence) * 10;
    v.payload = payload;
    const lockstep::ExecuteResult r = exec_->execute(v, batch_end, out_);
    all_bytes_.insert(all_bytes_.end(), out_.begin(), out_.begin() + static_cast<long>(r.bytes));
    return lockstep_test::decode_results(std::span(out_).first(r.bytes), r.results);
  }

  // One command that must produce exactly one result; returns its outcome.
  template <class C>
  lockstep::Outcome outcome(const C& c) {
    auto r = submit(c);
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? lockstep::Outcome::engine(lockstep::EngineReject::kUnknownCommand)
                     : r.front().view.outcome;
  }

  const bank::Account* account(std::uint64_t id) const {
    const auto& t = std::get<0>(exec_->tables());
    const std::uint32_t slot = t.slot_of(bank::detail_::Account_primary::make(id));
    return slot == lockstep::kNoSlot ? nullptr : &t.record(slot);
  }
  std::uint32_t accounts() const { return std::get<0>(exec_->tables()).size(); }
  std::uint32_t transfers() const { return std::get<1>(exec_->tables()).size(); }
  lockstep::Executor<bank::Domain>& exec() { return *exec_; }
  // Every result byte written so far.
  const std::vector<std::byte>& all_bytes() const { return all_bytes_; }

 private:
  std::unique_ptr<lockstep::Executor<bank::Domain>> exec_;
  std::vector<std::byte> out_;
  std::vector<std::byte> all_bytes_;
};

inline bank::OpenAccount open(std::uint64_t id, const char* owner, std::int64_t limit = 0) {
  return {.id = id, .owner = lockstep::Chars<16>::from(owner), .overdraft_limit = {limit}};
}
inline bank::Deposit deposit(std::uint64_t id, std::int64_t amount) {
  return {.account = id, .amount = {amount}};
}
inline bank::Withdraw withdraw(std::uint64_t id, std::int64_t amount) {
  return {.account = id, .amount = {amount}};
}
inline bank::MakeTransfer transfer(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                                   std::int64_t amount) {
  return {.id = lockstep::u128::from_u64(id), .debit = debit, .credit = credit, .amount = {amount}};
}

}  // namespace bank_test
