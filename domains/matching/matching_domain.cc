#include "matching_domain.h"

#include <algorithm>
#include <limits>

namespace matching {

namespace {

constexpr std::uint64_t kPriorityEnd = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kLevelEnd = std::numeric_limits<std::int64_t>::max();

Side opposite(Side s) { return s == Side::buy ? Side::sell : Side::buy; }
std::int64_t level_of(Side side, std::int64_t price) { return side == Side::buy ? -price : price; }

// An incoming order (or a replaced one, matched again) while it takes from the book.
struct Taker {
  std::uint64_t id;
  std::uint64_t account;
  std::uint32_t instrument;
  Side side;
  bool market;
  std::int64_t price;  // the limit (unused for a market order)
  std::uint64_t left;
};

// The batch after one of `n` resting orders (see kFirstBookBatch).
std::uint32_t next_batch(std::uint32_t n) { return std::min(2 * n, kBookBatch); }

// The resting order `m` crosses the taker's limit.
bool crosses(const Taker& t, const Order& m) {
  if (t.market) return true;
  return t.side == Side::buy ? m.price <= t.price : m.price >= t.price;
}

// Fills the taker against the other side, best level first, earliest first within a
// level; a resting order of the taker's own account is cancelled instead (self-trade
// prevention). Stops when the taker is filled, the best order no longer crosses, or the
// engine has refused the command (a per-command limit reached: then nothing changes any
// more, and the same orders would come back in every batch).
void match(Taker& t, Tx& tx) {
  const Side other = opposite(t.side);
  std::uint32_t batch = kFirstBookBatch;
  for (bool more = true; more && t.left > 0 && !tx.refused(); batch = next_batch(batch)) {
    std::uint32_t seen = 0;
    bool stopped = false;
    tx.orders.scan_by_book(lockstep::Limit{batch}, t.instrument, other, [&](const Order& m) {
      ++seen;
      if (t.left == 0 || !crosses(t, m) || tx.refused()) {
        stopped = true;
        return false;
      }
      const Order maker = m;  // erase() below ends m's life
      if (maker.account == t.account) {
        tx.emit(OrderCancelled{
            .id = maker.id, .quantity = maker.quantity, .reason = CancelReason::self_trade});
        stopped = !tx.orders.erase(maker.id);
        return !stopped;
      }
      const std::uint64_t q = std::min(t.left, maker.quantity);
      tx.emit(Trade{.maker_order = maker.id,
                    .taker_order = t.id,
                    .maker_account = maker.account,
                    .taker_account = t.account,
                    .price = maker.price,
                    .quantity = q,
                    .instrument = t.instrument,
                    .taker_side = t.side});
      t.left -= q;
      if (q == maker.quantity) {
        stopped = !tx.orders.erase(maker.id);
      } else if (Order* w = tx.orders.modify(maker.id); w != nullptr) {
        w->quantity -= q;
      } else {
        stopped = true;
      }
      return !stopped;
    });
    // Every order the batch held was taken or cancelled: the next batch is the next best.
    more = !stopped && seen == batch;
  }
}

// Whether a fill-or-kill taker fills completely now: the crossing resting orders of other
// accounts (its own would be cancelled, not filled) hold at least t.left. Reads the book
// in batches, each resuming after the last order read, and writes nothing.
bool fillable(const Taker& t, Tx& tx) {
  const Side other = opposite(t.side);
  std::uint64_t sum = 0;
  bool done = false;
  std::int64_t level = 0;
  std::uint64_t priority = 0;
  std::uint32_t seen = 0;
  const auto count = [&](const Order& m) {
    ++seen;
    level = m.level;
    priority = m.priority;
    if (!crosses(t, m)) {
      done = true;
      return false;
    }
    if (m.account != t.account) sum += std::min(m.quantity, t.left - sum);
    if (sum >= t.left) done = true;
    return !done;
  };
  std::uint32_t batch = kFirstBookBatch;
  tx.orders.scan_by_book(lockstep::Limit{batch}, t.instrument, other, count);
  while (!done && seen == batch) {
    // The rest of the last level read, then the levels after it.
    const std::int64_t at = level;
    batch = next_batch(batch);
    seen = 0;
    tx.orders.range_by_book(lockstep::Limit{batch}, t.instrument, other, at, priority + 1,
                            kPriorityEnd, count);
    if (done || seen == batch) continue;
    seen = 0;
    tx.orders.range_by_book(lockstep::Limit{batch}, t.instrument, other, at + 1, kLevelEnd, count);
  }
  return sum >= t.left;
}

// Rests what is left of a limit or post-only order, with the instrument's next priority.
// (If the engine has refused the command, modify() and insert() change nothing.)
void rest(const Taker& t, Tx& tx) {
  Instrument* inst = tx.instruments.modify(t.instrument);
  if (inst == nullptr) return;
  const std::uint64_t priority = inst->next_priority++;
  (void)tx.orders.insert(Order{.id = t.id,
                               .account = t.account,
                               .price = t.price,
                               .quantity = t.left,
                               .level = level_of(t.side, t.price),
                               .priority = priority,
                               .instrument = t.instrument,
                               .side = t.side});
  tx.emit(OrderRested{.id = t.id, .quantity = t.left, .priority = priority});
}

bool quantity_ok(std::uint64_t q, const Instrument& inst) {
  return q > 0 && (inst.max_quantity == 0 || q <= inst.max_quantity);
}
bool price_ok(std::int64_t p) { return p > 0 && p <= kMaxPrice; }

lockstep::Outcome add_instrument(const AddInstrument& c, Tx& tx) {
  if (c.id == 0) return reject(Reject::bad_instrument);
  if (tx.instruments.find(c.id) != nullptr) return reject(Reject::instrument_exists);
  (void)tx.instruments.insert(
      Instrument{.max_quantity = c.max_quantity, .next_priority = 0, .id = c.id});
  return ok();
}

lockstep::Outcome place_order(const PlaceOrder& c, Tx& tx) {
  const Instrument* found = tx.instruments.find(c.instrument);
  if (found == nullptr) return reject(Reject::unknown_instrument);
  const bool market = c.type == OrderType::market;
  if (market ? c.price != 0 : !price_ok(c.price)) return reject(Reject::bad_price);
  if (!quantity_ok(c.quantity, *found)) return reject(Reject::bad_quantity);
  if (tx.orders.find(c.id) != nullptr) return reject(Reject::order_id_in_use);
  Taker t{.id = c.id,
          .account = c.account,
          .instrument = c.instrument,
          .side = c.side,
          .market = market,
          .price = c.price,
          .left = c.quantity};
  if (c.type == OrderType::post_only) {
    bool cross = false;
    tx.orders.scan_by_book(lockstep::Limit{1}, c.instrument, opposite(c.side),
                           [&](const Order& best) { cross = crosses(t, best); });
    if (cross) return reject(Reject::post_only_would_cross);
  }
  if (c.type == OrderType::fok && !fillable(t, tx)) return reject(Reject::fok_not_fillable);
  tx.emit(OrderAccepted{.id = c.id,
                        .account = c.account,
                        .price = c.price,
                        .quantity = c.quantity,
                        .instrument = c.instrument,
                        .side = c.side,
                        .type = c.type});
  if (c.type != OrderType::post_only) match(t, tx);
  if (t.left == 0) return ok();
  if (c.type == OrderType::limit || c.type == OrderType::post_only) {
    rest(t, tx);
  } else {
    tx.emit(OrderCancelled{.id = c.id, .quantity = t.left, .reason = CancelReason::unfilled});
  }
  return ok();
}

lockstep::Outcome cancel_order(const CancelOrder& c, Tx& tx) {
  const Order* o = tx.orders.find(c.id);
  if (o == nullptr) return reject(Reject::unknown_order);
  if (o->account != c.account) return reject(Reject::not_owner);
  tx.emit(OrderCancelled{.id = o->id, .quantity = o->quantity, .reason = CancelReason::requested});
  (void)tx.orders.erase(c.id);
  return ok();
}

lockstep::Outcome replace_order(const ReplaceOrder& c, Tx& tx) {
  const Order* found = tx.orders.find(c.id);
  if (found == nullptr) return reject(Reject::unknown_order);
  const Order was = *found;
  if (was.account != c.account) return reject(Reject::not_owner);
  if (!price_ok(c.price)) return reject(Reject::bad_price);
  const Instrument* inst = tx.instruments.find(was.instrument);
  if (!quantity_ok(c.quantity, *inst)) return reject(Reject::bad_quantity);
  // A pure quantity reduction (or nothing) at the same price keeps priority.
  const bool keeps = c.price == was.price && c.quantity <= was.quantity;
  tx.emit(OrderReplaced{.id = c.id,
                        .old_price = was.price,
                        .old_quantity = was.quantity,
                        .new_price = c.price,
                        .new_quantity = c.quantity,
                        .kept_priority = keeps});
  if (keeps) {
    if (Order* o = tx.orders.modify(c.id); o != nullptr) o->quantity = c.quantity;
    return ok();
  }
  // Anything else: matched again as an incoming limit order at the new price (the order
  // itself rests on the other side of the book, so it is not in the way), then what is
  // left rests with a new priority, in the same record.
  Taker t{.id = c.id,
          .account = c.account,
          .instrument = was.instrument,
          .side = was.side,
          .market = false,
          .price = c.price,
          .left = c.quantity};
  match(t, tx);
  if (t.left == 0) {
    (void)tx.orders.erase(c.id);
    return ok();
  }
  Instrument* inst_w = tx.instruments.modify(was.instrument);
  Order* o = tx.orders.modify(c.id);
  if (inst_w == nullptr || o == nullptr) return ok();  // refused by the engine already
  const std::uint64_t priority = inst_w->next_priority++;
  o->price = c.price;
  o->level = level_of(was.side, c.price);
  o->priority = priority;
  o->quantity = t.left;
  tx.emit(OrderRested{.id = c.id, .quantity = t.left, .priority = priority});
  return ok();
}

}  // namespace

Handlers handlers() {
  Handlers h;
  h.add_instrument = add_instrument;
  h.place_order = place_order;
  h.cancel_order = cancel_order;
  h.replace_order = replace_order;
  return h;
}

}  // namespace matching
