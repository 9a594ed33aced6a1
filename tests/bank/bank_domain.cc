#include "bank_domain.h"

namespace bank {

namespace invariants {
bool balance_within_limit(const Account& r) noexcept {
  return r.balance.units >= -r.overdraft_limit.units;
}
}  // namespace invariants

namespace {

lockstep::Outcome open_account(const OpenAccount& c, Tx& tx) {
  Account a;
  a.id = c.id;
  a.owner = c.owner;
  a.overdraft_limit = c.overdraft_limit;
  a.status = AccountStatus::open;
  // A taken id or owner, or a full table, refuses the command: the engine records why.
  (void)tx.accounts.insert(a);
  return ok();
}

lockstep::Outcome import_account(const ImportAccount& c, Tx& tx) {
  (void)tx.accounts.insert(Account{.id = c.id, .owner = c.owner, .status = c.status});
  return ok();
}

lockstep::Outcome deposit(const Deposit& c, Tx& tx) {
  if (c.amount.units <= 0) return reject(Reject::amount_not_positive);
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  if (a->status != AccountStatus::open) return reject(Reject::account_not_open);
  a->balance += c.amount;
  tx.emit(Deposited{.account = a->id, .amount = c.amount, .balance = a->balance});
  return ok();
}

lockstep::Outcome withdraw(const Withdraw& c, Tx& tx) {
  if (c.amount.units <= 0) return reject(Reject::amount_not_positive);
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  if (a->status != AccountStatus::open) return reject(Reject::account_not_open);
  if (a->balance.units - c.amount.units < -a->overdraft_limit.units) {
    return reject(Reject::insufficient_funds);
  }
  a->balance -= c.amount;
  tx.emit(Withdrew{.account = a->id, .amount = c.amount, .balance = a->balance});
  return ok();
}

lockstep::Outcome make_transfer(const MakeTransfer& c, Tx& tx) {
  if (c.amount.units <= 0) return reject(Reject::amount_not_positive);
  if (c.debit == c.credit) return reject(Reject::same_account);
  if (tx.transfers.find(c.id) != nullptr) return reject(Reject::transfer_exists);
  Account* debit = tx.accounts.modify(c.debit);
  Account* credit = tx.accounts.modify(c.credit);
  if (debit == nullptr || credit == nullptr) return reject(Reject::account_not_found);
  if (debit->status != AccountStatus::open || credit->status != AccountStatus::open) {
    return reject(Reject::account_not_open);
  }
  if (debit->balance.units - c.amount.units < -debit->overdraft_limit.units) {
    return reject(Reject::insufficient_funds);
  }
  debit->balance -= c.amount;
  credit->balance += c.amount;
  (void)tx.transfers.insert(Transfer{.id = c.id,
                                     .debit = c.debit,
                                     .credit = c.credit,
                                     .amount = c.amount,
                                     .timestamp = tx.now_ns()});
  tx.emit(Transferred{.id = c.id, .debit = c.debit, .credit = c.credit, .amount = c.amount});
  return ok();
}

lockstep::Outcome set_status(const SetStatus& c, Tx& tx) {
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  const AccountStatus from = a->status;
  a->status = c.status;  // the schema's transitions decide whether this may commit
  tx.emit(StatusChanged{.account = a->id, .from = from, .to = c.status});
  return ok();
}

lockstep::Outcome close_account(const CloseAccount& c, Tx& tx) {
  const Account* a = tx.accounts.find(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  if (a->balance.units != 0) return reject(Reject::balance_not_zero);
  tx.emit(StatusChanged{.account = a->id, .from = a->status, .to = AccountStatus::closed});
  (void)tx.accounts.erase(c.account);
  return ok();
}

lockstep::Outcome rename(const Rename& c, Tx& tx) {
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  a->owner = c.owner;  // a taken owner refuses the command (unique key by_owner)
  // The command sees its own write through the unique index. (If the owner is taken,
  // the engine has refused the command already, and that refusal stands.)
  if (tx.accounts.find_by_owner(c.owner) != a) return reject(Reject::index_stale);
  return ok();
}

lockstep::Outcome set_limit(const SetLimit& c, Tx& tx) {
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  if (!c.force && a->balance.units < -c.overdraft_limit.units) {
    return reject(Reject::insufficient_funds);
  }
  a->overdraft_limit = c.overdraft_limit;  // forced: the invariant decides
  return ok();
}

lockstep::Outcome renumber(const Renumber& c, Tx& tx) {
  Account* a = tx.accounts.modify(c.account);
  if (a == nullptr) return reject(Reject::account_not_found);
  a->id = c.new_id;  // not allowed: the engine refuses the command
  return ok();
}

lockstep::Outcome freeze_open(const FreezeOpen& c, Tx& tx) {
  // The first `limit` open accounts only: a scan with a Limit collects no more.
  tx.accounts.scan_by_status(lockstep::Limit{c.limit}, AccountStatus::open, [&](const Account& a) {
    Account* w = tx.accounts.modify(a.id);
    w->status = AccountStatus::frozen;
    tx.emit(
        StatusChanged{.account = a.id, .from = AccountStatus::open, .to = AccountStatus::frozen});
  });
  return ok();
}

lockstep::Outcome audit_debits(const AuditDebits& c, Tx& tx) {
  if (tx.accounts.find(c.account) == nullptr) return reject(Reject::account_not_found);
  DebitsCounted e{.account = c.account, .count = 0, .total = {}};
  tx.transfers.range_by_debit(c.account, c.from, c.to, [&](const Transfer& t) {
    ++e.count;
    e.total += t.amount;
  });
  tx.emit(e);
  return ok();
}

}  // namespace

Handlers handlers() {
  Handlers h;
  h.open_account = open_account;
  h.deposit = deposit;
  h.withdraw = withdraw;
  h.make_transfer = make_transfer;
  h.set_status = set_status;
  h.close_account = close_account;
  h.rename = rename;
  h.set_limit = set_limit;
  h.renumber = renumber;
  h.freeze_open = freeze_open;
  h.audit_debits = audit_debits;
  h.import_account = import_account;
  return h;
}

}  // namespace bank
