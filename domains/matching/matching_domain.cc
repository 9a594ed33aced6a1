#include "matching_domain.h"

#include <algorithm>
#include <limits>

#include "base/assert.h"

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
  std::int64_t expires_at;  // what it rests with (0: good till cancelled)
};

// A resting order past its expiry: it no longer trades, and whatever meets it first (a
// taker, or ExpireOrders) removes it.
bool expired(const Order& o, std::int64_t now) { return o.expires_at != 0 && o.expires_at <= now; }

// Removes a resting order and its expiry record (if it has one). False only if the engine
// has refused the command meanwhile (then nothing changes any more).
bool remove_order(const Order& o, Tx& tx) {
  const bool removed = tx.orders.erase(o.id) && (o.expires_at == 0 || tx.expiries.erase(o.id));
  LS_ASSERT(removed || tx.refused());
  return removed;
}

// The batch after one of `n` resting orders (see kFirstBookBatch).
std::uint32_t next_batch(std::uint32_t n) { return std::min(2 * n, kBookBatch); }

// The resting order `m` crosses the taker's limit.
bool crosses(const Taker& t, const Order& m) {
  if (t.market) return true;
  return t.side == Side::buy ? m.price <= t.price : m.price >= t.price;
}

// Fills the taker against the other side, best level first, earliest first within a
// level; a resting order past its expiry is expired instead, and one of the taker's own
// account cancelled (self-trade prevention). Stops when the taker is filled, the best
// order no longer crosses, or the engine has refused the command (a per-command limit
// reached: then nothing changes any more, and the same orders would come back in every
// batch).
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
      const Order maker = m;  // remove_order() below ends m's life
      if (expired(maker, tx.now_ns())) {
        tx.emit(OrderExpired{.id = maker.id, .quantity = maker.quantity});
        stopped = !remove_order(maker, tx);
        return !stopped;
      }
      if (maker.account == t.account) {
        tx.emit(OrderCancelled{
            .id = maker.id, .quantity = maker.quantity, .reason = CancelReason::self_trade});
        stopped = !remove_order(maker, tx);
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
        stopped = !remove_order(maker, tx);
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

// Visits the resting orders the taker crosses, in book order, until f returns false.
// Reads the book in batches, each resuming after the last order read, and writes
// nothing.
template <class F>
void visit_crossing(const Taker& t, Tx& tx, std::uint32_t first_batch, F f) {
  const Side other = opposite(t.side);
  bool done = false;
  std::int64_t level = 0;
  std::uint64_t priority = 0;
  std::uint32_t seen = 0;
  const auto visit = [&](const Order& m) {
    ++seen;
    level = m.level;
    priority = m.priority;
    done = !crosses(t, m) || !f(m);
    return !done;
  };
  std::uint32_t batch = first_batch;
  tx.orders.scan_by_book(lockstep::Limit{batch}, t.instrument, other, visit);
  while (!done && seen == batch) {
    // The rest of the last level read, then the levels after it.
    const std::int64_t at = level;
    batch = next_batch(batch);
    seen = 0;
    tx.orders.range_by_book(lockstep::Limit{batch}, t.instrument, other, at, priority + 1,
                            kPriorityEnd, visit);
    if (done || seen == batch) continue;
    seen = 0;
    tx.orders.range_by_book(lockstep::Limit{batch}, t.instrument, other, at + 1, kLevelEnd, visit);
  }
}

// Whether a fill-or-kill taker fills completely now: the crossing resting orders of other
// accounts that have not expired (its own would be cancelled, expired ones expired, not
// filled) hold at least t.left.
bool fillable(const Taker& t, Tx& tx) {
  const std::int64_t now = tx.now_ns();
  std::uint64_t sum = 0;
  visit_crossing(t, tx, kFirstBookBatch, [&](const Order& m) {
    if (m.account != t.account && !expired(m, now)) sum += std::min(m.quantity, t.left - sum);
    return sum < t.left;
  });
  return sum >= t.left;
}

// Whether a post-only order would take: some resting order it crosses has not expired
// (the best, almost always: so the first batch is one order).
bool would_take(const Taker& t, Tx& tx) {
  const std::int64_t now = tx.now_ns();
  bool take = false;
  visit_crossing(t, tx, 1, [&](const Order& m) {
    take = !expired(m, now);
    return !take;
  });
  return take;
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
                               .expires_at = t.expires_at,
                               .instrument = t.instrument,
                               .side = t.side});
  if (t.expires_at != 0)
    (void)tx.expiries.insert(Expiry{.order = t.id, .expires_at = t.expires_at});
  tx.emit(OrderRested{.id = t.id, .quantity = t.left, .priority = priority});
}

bool quantity_ok(std::uint64_t q, const Instrument& inst) {
  return q > 0 && (inst.max_quantity == 0 || q <= inst.max_quantity);
}
bool price_ok(std::int64_t p) { return p > 0 && p <= kMaxPrice; }
// An order's expiry: 0 (good till cancelled), or a time after now on an order that can
// rest.
bool expiry_ok(const PlaceOrder& c, std::int64_t now) {
  if (c.expires_at == 0) return true;
  const bool rests = c.type == OrderType::limit || c.type == OrderType::post_only;
  return rests && c.expires_at > now;
}

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
  if (!expiry_ok(c, tx.now_ns())) return reject(Reject::bad_expiry);
  if (tx.orders.find(c.id) != nullptr) return reject(Reject::order_id_in_use);
  Taker t{.id = c.id,
          .account = c.account,
          .instrument = c.instrument,
          .side = c.side,
          .market = market,
          .price = c.price,
          .left = c.quantity,
          .expires_at = c.expires_at};
  if (c.type == OrderType::post_only && would_take(t, tx)) {
    return reject(Reject::post_only_would_cross);
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
  if (expired(*o, tx.now_ns())) return reject(Reject::order_expired);
  const Order was = *o;
  tx.emit(
      OrderCancelled{.id = was.id, .quantity = was.quantity, .reason = CancelReason::requested});
  (void)remove_order(was, tx);
  return ok();
}

lockstep::Outcome replace_order(const ReplaceOrder& c, Tx& tx) {
  const Order* found = tx.orders.find(c.id);
  if (found == nullptr) return reject(Reject::unknown_order);
  const Order was = *found;
  if (was.account != c.account) return reject(Reject::not_owner);
  if (expired(was, tx.now_ns())) return reject(Reject::order_expired);
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
  // left rests with a new priority, in the same record, with the same expiry.
  Taker t{.id = c.id,
          .account = c.account,
          .instrument = was.instrument,
          .side = was.side,
          .market = false,
          .price = c.price,
          .left = c.quantity,
          .expires_at = was.expires_at};
  match(t, tx);
  if (t.left == 0) {
    (void)remove_order(was, tx);
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

// Resting orders whose expiry has come (expires_at <= now), soonest first, up to the
// limit: expiries in [min, now + 1), or at the end of time [min, now) and then now.
lockstep::Outcome expire_orders(const ExpireOrders& c, Tx& tx) {
  const std::uint32_t limit = std::min(c.limit, kMaxExpiriesPerCommand);
  std::uint32_t done = 0;
  const auto expire = [&](const Expiry& e) {
    const Order* o = tx.orders.find(e.order);
    LS_ASSERT(o != nullptr);  // an Expiry is removed with its order, always
    const Order was = *o;
    tx.emit(OrderExpired{.id = was.id, .quantity = was.quantity});
    ++done;
    return remove_order(was, tx);
  };
  constexpr std::int64_t kBegin = std::numeric_limits<std::int64_t>::min();
  const std::int64_t now = tx.now_ns();
  if (now < std::numeric_limits<std::int64_t>::max()) {
    tx.expiries.range_by_time(lockstep::Limit{limit}, kBegin, now + 1, expire);
  } else {
    tx.expiries.range_by_time(lockstep::Limit{limit}, kBegin, now, expire);
    tx.expiries.scan_by_time(lockstep::Limit{limit - done}, now, expire);
  }
  return ok();
}

}  // namespace

Handlers handlers() {
  Handlers h;
  h.add_instrument = add_instrument;
  h.place_order = place_order;
  h.cancel_order = cancel_order;
  h.replace_order = replace_order;
  h.expire_orders = expire_orders;
  return h;
}

lockstep::TimerCommand expiry_timer(std::chrono::nanoseconds every, std::uint32_t limit) {
  return lockstep::timer_command(ExpireOrders{.limit = limit}, every);
}

}  // namespace matching
