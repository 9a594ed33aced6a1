#include "ledger_domain.h"

#include <algorithm>
#include <limits>

namespace ledger {

namespace {

// a + b + c > limit, without overflow.
bool sum_exceeds(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t limit) {
  if (a > limit) return true;
  limit -= a;
  if (b > limit) return true;
  limit -= b;
  return c > limit;
}

// What is left of `limit` after a + b, or 0.
std::uint64_t room(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  if (a > limit) return 0;
  limit -= a;
  return b > limit ? 0 : limit - b;
}

}  // namespace

namespace invariants {
bool debits_within_credits(const Account& a) noexcept {
  return (a.flags & kDebitsMustNotExceedCredits) == 0 ||
         !sum_exceeds(a.debits_pending, a.debits_posted, 0, a.credits_posted);
}
bool credits_within_debits(const Account& a) noexcept {
  return (a.flags & kCreditsMustNotExceedDebits) == 0 ||
         !sum_exceeds(a.credits_pending, a.credits_posted, 0, a.debits_posted);
}
}  // namespace invariants

namespace {

using lockstep::u128;

constexpr u128 kZero{0, 0};
constexpr u128 kIntMax{~std::uint64_t{0}, ~std::uint64_t{0}};
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

bool adds_overflow(std::uint64_t a, std::uint64_t b) { return a > kU64Max - b; }

lockstep::Outcome create_account(const CreateAccount& c, Tx& tx) {
  if ((c.flags & ~kAccountFlagsKnown) != 0) return reject(Reject::reserved_flag);
  if (c.id == kZero) return reject(Reject::id_must_not_be_zero);
  if (c.id == kIntMax) return reject(Reject::id_must_not_be_int_max);
  if ((c.flags & kDebitsMustNotExceedCredits) != 0 &&
      (c.flags & kCreditsMustNotExceedDebits) != 0) {
    return reject(Reject::flags_are_mutually_exclusive);
  }
  if (c.ledger == 0) return reject(Reject::ledger_must_not_be_zero);
  if (c.code == 0) return reject(Reject::code_must_not_be_zero);
  if (const Account* e = tx.accounts.find(c.id); e != nullptr) {
    if (e->flags != c.flags) return reject(Reject::exists_with_different_flags);
    if (e->user_data_128 != c.user_data_128)
      return reject(Reject::exists_with_different_user_data_128);
    if (e->user_data_64 != c.user_data_64)
      return reject(Reject::exists_with_different_user_data_64);
    if (e->user_data_32 != c.user_data_32)
      return reject(Reject::exists_with_different_user_data_32);
    if (e->ledger != c.ledger) return reject(Reject::exists_with_different_ledger);
    if (e->code != c.code) return reject(Reject::exists_with_different_code);
    return reject(Reject::exists);
  }
  (void)tx.accounts.insert(Account{.id = c.id,
                                   .user_data_128 = c.user_data_128,
                                   .user_data_64 = c.user_data_64,
                                   .timestamp = tx.now_ns(),
                                   .user_data_32 = c.user_data_32,
                                   .ledger = c.ledger,
                                   .code = c.code,
                                   .flags = c.flags});
  return ok();
}

// An existing transfer with the same id: `exists` if the retry is identical.
lockstep::Outcome compare_existing(const Transfer& e, const CreateTransfer& c) {
  if (e.flags != c.flags) return reject(Reject::exists_with_different_flags);
  if (e.debit_account_id != c.debit_account_id && c.debit_account_id != kZero) {
    return reject(Reject::exists_with_different_debit_account_id);
  }
  if (e.credit_account_id != c.credit_account_id && c.credit_account_id != kZero) {
    return reject(Reject::exists_with_different_credit_account_id);
  }
  if (e.amount != c.amount && (c.flags & (kBalancingDebit | kBalancingCredit)) == 0) {
    return reject(Reject::exists_with_different_amount);
  }
  if (e.pending_id != c.pending_id) return reject(Reject::exists_with_different_pending_id);
  if (e.user_data_128 != c.user_data_128)
    return reject(Reject::exists_with_different_user_data_128);
  if (e.user_data_64 != c.user_data_64) return reject(Reject::exists_with_different_user_data_64);
  if (e.user_data_32 != c.user_data_32) return reject(Reject::exists_with_different_user_data_32);
  if (e.timeout != c.timeout) return reject(Reject::exists_with_different_timeout);
  if (e.ledger != c.ledger && c.ledger != 0) return reject(Reject::exists_with_different_ledger);
  if (e.code != c.code && c.code != 0) return reject(Reject::exists_with_different_code);
  return reject(Reject::exists);
}

void emit_committed(Tx& tx, const Transfer& t) {
  tx.emit(TransferCommitted{.id = t.id,
                            .debit_account_id = t.debit_account_id,
                            .credit_account_id = t.credit_account_id,
                            .amount = t.amount,
                            .ledger = t.ledger,
                            .code = t.code,
                            .flags = t.flags,
                            .status = t.status});
}

// Posts or voids the pending transfer c.pending_id.
lockstep::Outcome resolve_pending(const CreateTransfer& c, Tx& tx) {
  const bool post = (c.flags & kPostPending) != 0;
  if (c.pending_id == kZero) return reject(Reject::pending_id_must_not_be_zero);
  if (c.pending_id == kIntMax) return reject(Reject::pending_id_must_not_be_int_max);
  if (c.pending_id == c.id) return reject(Reject::pending_id_must_be_different);
  if (c.timeout != 0) return reject(Reject::timeout_reserved_for_pending_transfer);
  if (const Transfer* e = tx.transfers.find(c.id); e != nullptr) {
    // A retry's amount 0 means the whole pending amount, as it did the first time.
    CreateTransfer retry = c;
    const Transfer* pending = tx.transfers.find(c.pending_id);
    if (retry.amount == 0 && pending != nullptr) retry.amount = pending->amount;
    return compare_existing(*e, retry);
  }
  Transfer* p = tx.transfers.modify(c.pending_id);
  if (p == nullptr) return reject(Reject::pending_transfer_not_found);
  switch (p->status) {
    case TransferStatus::pending: break;
    case TransferStatus::posted: return reject(Reject::pending_transfer_already_posted);
    case TransferStatus::voided: return reject(Reject::pending_transfer_already_voided);
    case TransferStatus::expired: return reject(Reject::pending_transfer_expired);
    case TransferStatus::single: return reject(Reject::pending_transfer_not_pending);
  }
  if (c.debit_account_id != kZero && c.debit_account_id != p->debit_account_id) {
    return reject(Reject::pending_transfer_has_different_debit_account_id);
  }
  if (c.credit_account_id != kZero && c.credit_account_id != p->credit_account_id) {
    return reject(Reject::pending_transfer_has_different_credit_account_id);
  }
  if (c.ledger != 0 && c.ledger != p->ledger)
    return reject(Reject::pending_transfer_has_different_ledger);
  if (c.code != 0 && c.code != p->code) return reject(Reject::pending_transfer_has_different_code);
  // Post: 0 posts the whole amount, less posts part of it. Void: 0 or the whole amount.
  const std::uint64_t amount = c.amount == 0 ? p->amount : c.amount;
  if (amount > p->amount) return reject(Reject::exceeds_pending_transfer_amount);
  if (!post && amount != p->amount) return reject(Reject::pending_transfer_has_different_amount);
  if (p->expires_at != 0 && tx.now_ns() >= p->expires_at)
    return reject(Reject::pending_transfer_expired);
  Account* dr = tx.accounts.modify(p->debit_account_id);
  Account* cr = tx.accounts.modify(p->credit_account_id);
  if (dr == nullptr) return reject(Reject::debit_account_not_found);
  if (cr == nullptr) return reject(Reject::credit_account_not_found);
  dr->debits_pending -= p->amount;
  cr->credits_pending -= p->amount;
  if (post) {
    if (adds_overflow(dr->debits_posted, amount)) return reject(Reject::overflows_debits_posted);
    if (adds_overflow(cr->credits_posted, amount)) return reject(Reject::overflows_credits_posted);
    dr->debits_posted += amount;
    cr->credits_posted += amount;
  }
  p->status = post ? TransferStatus::posted : TransferStatus::voided;
  const Transfer* t = tx.transfers.insert(Transfer{.id = c.id,
                                                   .debit_account_id = p->debit_account_id,
                                                   .credit_account_id = p->credit_account_id,
                                                   .pending_id = c.pending_id,
                                                   .user_data_128 = c.user_data_128,
                                                   .amount = amount,
                                                   .user_data_64 = c.user_data_64,
                                                   .timestamp = tx.now_ns(),
                                                   .expires_at = 0,
                                                   .user_data_32 = c.user_data_32,
                                                   .timeout = 0,
                                                   .ledger = p->ledger,
                                                   .code = p->code,
                                                   .flags = c.flags,
                                                   .status = TransferStatus::single});
  if (t != nullptr) emit_committed(tx, *t);
  return ok();
}

lockstep::Outcome create_transfer(const CreateTransfer& c, Tx& tx) {
  if ((c.flags & ~kTransferFlagsKnown) != 0) return reject(Reject::reserved_flag);
  if (c.id == kZero) return reject(Reject::id_must_not_be_zero);
  if (c.id == kIntMax) return reject(Reject::id_must_not_be_int_max);
  const int phases = ((c.flags & kPending) != 0) + ((c.flags & kPostPending) != 0) +
                     ((c.flags & kVoidPending) != 0);
  const bool balancing = (c.flags & (kBalancingDebit | kBalancingCredit)) != 0;
  if (phases > 1 || (balancing && (c.flags & (kPostPending | kVoidPending)) != 0)) {
    return reject(Reject::flags_are_mutually_exclusive);
  }
  if ((c.flags & (kPostPending | kVoidPending)) != 0) return resolve_pending(c, tx);

  const bool pending = (c.flags & kPending) != 0;
  if (c.debit_account_id == kZero) return reject(Reject::debit_account_id_must_not_be_zero);
  if (c.debit_account_id == kIntMax) return reject(Reject::debit_account_id_must_not_be_int_max);
  if (c.credit_account_id == kZero) return reject(Reject::credit_account_id_must_not_be_zero);
  if (c.credit_account_id == kIntMax) return reject(Reject::credit_account_id_must_not_be_int_max);
  if (c.debit_account_id == c.credit_account_id) return reject(Reject::accounts_must_be_different);
  if (c.pending_id != kZero) return reject(Reject::pending_id_must_be_zero);
  if (!pending && c.timeout != 0) return reject(Reject::timeout_reserved_for_pending_transfer);
  if (c.ledger == 0) return reject(Reject::ledger_must_not_be_zero);
  if (c.code == 0) return reject(Reject::code_must_not_be_zero);
  if (const Transfer* e = tx.transfers.find(c.id); e != nullptr) return compare_existing(*e, c);

  Account* dr = tx.accounts.modify(c.debit_account_id);
  if (dr == nullptr) return reject(Reject::debit_account_not_found);
  Account* cr = tx.accounts.modify(c.credit_account_id);
  if (cr == nullptr) return reject(Reject::credit_account_not_found);
  if (dr->ledger != cr->ledger) return reject(Reject::accounts_must_have_the_same_ledger);
  if (c.ledger != dr->ledger) return reject(Reject::transfer_must_have_the_same_ledger_as_accounts);

  std::uint64_t amount = c.amount;
  // Balancing: as much of the amount as the account's balance leaves room for.
  if ((c.flags & kBalancingDebit) != 0) {
    amount = std::min(amount, room(dr->debits_pending, dr->debits_posted, dr->credits_posted));
  }
  if ((c.flags & kBalancingCredit) != 0) {
    amount = std::min(amount, room(cr->credits_pending, cr->credits_posted, cr->debits_posted));
  }
  if (pending) {
    if (adds_overflow(dr->debits_pending, amount)) return reject(Reject::overflows_debits_pending);
    if (adds_overflow(cr->credits_pending, amount))
      return reject(Reject::overflows_credits_pending);
  } else {
    if (adds_overflow(dr->debits_posted, amount)) return reject(Reject::overflows_debits_posted);
    if (adds_overflow(cr->credits_posted, amount)) return reject(Reject::overflows_credits_posted);
  }
  if (sum_exceeds(dr->debits_pending, dr->debits_posted, amount, kU64Max)) {
    return reject(Reject::overflows_debits);
  }
  if (sum_exceeds(cr->credits_pending, cr->credits_posted, amount, kU64Max)) {
    return reject(Reject::overflows_credits);
  }
  std::int64_t expires_at = 0;
  if (pending && c.timeout != 0) {
    const std::int64_t after = std::int64_t{c.timeout} * kNsPerTimeoutSecond;  // < 2^63
    if (tx.now_ns() > std::numeric_limits<std::int64_t>::max() - after) {
      return reject(Reject::overflows_timeout);
    }
    expires_at = tx.now_ns() + after;
  }
  if ((dr->flags & kDebitsMustNotExceedCredits) != 0 &&
      sum_exceeds(dr->debits_pending, dr->debits_posted, amount, dr->credits_posted)) {
    return reject(Reject::exceeds_credits);
  }
  if ((cr->flags & kCreditsMustNotExceedDebits) != 0 &&
      sum_exceeds(cr->credits_pending, cr->credits_posted, amount, cr->debits_posted)) {
    return reject(Reject::exceeds_debits);
  }
  if (pending) {
    dr->debits_pending += amount;
    cr->credits_pending += amount;
  } else {
    dr->debits_posted += amount;
    cr->credits_posted += amount;
  }
  const Transfer* t = tx.transfers.insert(
      Transfer{.id = c.id,
               .debit_account_id = c.debit_account_id,
               .credit_account_id = c.credit_account_id,
               .pending_id = kZero,
               .user_data_128 = c.user_data_128,
               .amount = amount,
               .user_data_64 = c.user_data_64,
               .timestamp = tx.now_ns(),
               .expires_at = expires_at,
               .user_data_32 = c.user_data_32,
               .timeout = c.timeout,
               .ledger = c.ledger,
               .code = c.code,
               .flags = c.flags,
               .status = pending ? TransferStatus::pending : TransferStatus::single});
  if (t != nullptr) emit_committed(tx, *t);
  return ok();
}

lockstep::Outcome expire_pending(const ExpirePending& c, Tx& tx) {
  std::uint32_t expired = 0;
  const auto expire = [&](const Transfer& found) {
    if (expired == c.limit) return false;
    Transfer* p = tx.transfers.modify(found.id);
    Account* dr = tx.accounts.modify(p->debit_account_id);
    Account* cr = tx.accounts.modify(p->credit_account_id);
    if (dr != nullptr) dr->debits_pending -= p->amount;
    if (cr != nullptr) cr->credits_pending -= p->amount;
    p->status = TransferStatus::expired;
    tx.emit(PendingExpired{.id = p->id, .amount = p->amount});
    ++expired;
    return true;
  };
  // Pending transfers with a timeout, soonest first, up to the command's logical time:
  // expires_at in [1, now + 1), or at the end of time [1, now) and then now itself. The
  // scans take only what the limit lets expire, however many are due.
  const std::int64_t now = tx.now_ns();
  if (now < std::numeric_limits<std::int64_t>::max()) {
    tx.transfers.range_by_expiry(lockstep::Limit{c.limit}, TransferStatus::pending, std::int64_t{1},
                                 now + 1, expire);
  } else {
    tx.transfers.range_by_expiry(lockstep::Limit{c.limit}, TransferStatus::pending, std::int64_t{1},
                                 now, expire);
    tx.transfers.scan_by_expiry(lockstep::Limit{c.limit - expired}, TransferStatus::pending, now,
                                expire);
  }
  return ok();
}

}  // namespace

lockstep::TimerCommand expiry_timer(std::chrono::nanoseconds every, std::uint32_t limit) {
  return lockstep::timer_command(ExpirePending{.limit = limit}, every);
}

Handlers handlers() {
  Handlers h;
  h.create_account = create_account;
  h.create_transfer = create_transfer;
  h.expire_pending = expire_pending;
  return h;
}

}  // namespace ledger
