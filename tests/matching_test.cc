// The matching domain (domains/matching, docs/matching.md) through
// Executor<matching::Domain>:
//   - the worked example of docs/matching.md, step by step;
//   - every reject code of matching.lss, each refusal leaving the tables and the state hash
//     as they were;
//   - replace (priority kept or lost, matched again), self-trade prevention, post-only,
//     market and IOC remainders;
//   - fill-or-kill and sweeps across more than one batch of matching::kBookBatch resting
//     orders;
//   - good-till-time orders (the design's worked example goes on with them): which
//     expiries are refused (bad_expiry); ExpireOrders before, at and after an order's
//     time, in (expires_at, id) order, up to its limit and never more than
//     matching::kMaxExpiriesPerCommand; a taker (or a replace matched again) that meets
//     expired makers, its own account's too, expires them and goes on; fill-or-kill and
//     post-only ignore expired orders, across batches too; cancel and replace of an
//     expired order are refused (order_expired); a replace keeps the expiry; and an order
//     leaves its Expiry record when it leaves the book, however it leaves;
//   - a seeded model-based test against a plain reference book (a vector per book side,
//     best first, naive loops, the harness's logical time), comparing every command's
//     outcome and events (every field, and every byte), the books and the Expiry records,
//     with invariants on the engine's events checked against the engine's own book before
//     each command. The streams place good-till-time orders (some expiring within a few
//     commands, some far off), bad expiries, and ExpireOrders with small limits. The seeds
//     are fixed; LOCKSTEP_SEED=N runs the streams from seed N instead.
//
// Logical time is the harness's: command number n (from 0, every command counted, refused
// ones too) runs at 1'000'000 + 1000 * n ns (time_of()). An order with expires_at != 0 is
// expired from expires_at on (expires_at <= now).
//
// Where docs/matching.md leaves the order of the checks open (a command with two faults),
// the reference book checks in the handlers' order: PlaceOrder unknown_instrument,
// bad_price, bad_quantity, bad_expiry, order_id_in_use, post_only_would_cross,
// fok_not_fillable; CancelOrder unknown_order, not_owner, order_expired; ReplaceOrder
// unknown_order, not_owner, order_expired, bad_price, bad_quantity.
#include <gtest/gtest.h>

#include "tx_results.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
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
#include "matching_domain.h"
#include "matching_support.h"

namespace lockstep {
// gtest prints an outcome as its code and detail.
static void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "outcome " << o.code() << "/" << o.detail();
}
}  // namespace lockstep

namespace {

using lockstep::EngineReject;
using lockstep::Outcome;
using lockstep_test::Decoded;
using matching::CancelReason;
using matching::OrderType;
using matching::Reject;
using matching::Side;
using matching_support::bytes_of;
using matching_support::cat;
using matching_support::decode_event;
using matching_support::describe;
using matching_support::describe_all;
using matching_support::Event;
using matching_support::instruments_of;
using matching_support::name;
using matching_support::orders_of;

constexpr std::int64_t kMaxPrice = matching::kMaxPrice;
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::uint32_t kBatch = matching::kBookBatch;

// Accounts of the explicit tests.
constexpr std::uint64_t kA = 1;
constexpr std::uint64_t kB = 2;
constexpr std::uint64_t kC = 3;
constexpr std::uint64_t kD = 4;

using Command = std::variant<matching::AddInstrument, matching::PlaceOrder, matching::CancelOrder,
                             matching::ReplaceOrder, matching::ExpireOrders>;

// The logical time of the harness's command number `sequence` (from 0): Engine::submit_raw
// gives it, and the reference book keeps the same count.
constexpr std::int64_t time_of(std::uint64_t sequence) {
  return 1'000'000 + static_cast<std::int64_t>(sequence) * 1000;
}

// An order with an expiry is expired from that time on.
bool is_expired(std::int64_t expires_at, std::int64_t now) {
  return expires_at != 0 && expires_at <= now;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

Outcome refusal(Reject r) { return matching::reject(r); }

Side opposite(Side s) { return s == Side::buy ? Side::sell : Side::buy; }
std::int64_t level_of(Side s, std::int64_t price) { return s == Side::buy ? -price : price; }

// ---------------------------------------------------------------------------------------
// Descriptions of commands, for messages (events: matching_support.h).

std::string describe(const Command& c) {
  return std::visit(
      Overloaded{
          [](const matching::AddInstrument& x) {
            return cat("AddInstrument{id ", x.id, ", max_quantity ", x.max_quantity, "}");
          },
          [](const matching::PlaceOrder& x) {
            return cat("PlaceOrder{id ", x.id, ", account ", x.account, ", instrument ",
                       x.instrument, ", ", name(x.side), ", ", name(x.type), ", price ", x.price,
                       ", quantity ", x.quantity, ", expires_at ", x.expires_at, "}");
          },
          [](const matching::CancelOrder& x) {
            return cat("CancelOrder{id ", x.id, ", account ", x.account, "}");
          },
          [](const matching::ReplaceOrder& x) {
            return cat("ReplaceOrder{id ", x.id, ", account ", x.account, ", price ", x.price,
                       ", quantity ", x.quantity, "}");
          },
          [](const matching::ExpireOrders& x) { return cat("ExpireOrders{limit ", x.limit, "}"); },
      },
      c);
}

// Events, built field by field.
matching::PlaceOrder order(std::uint64_t id, std::uint64_t account, Side side, OrderType type,
                           std::int64_t price, std::uint64_t quantity,
                           std::uint32_t instrument = 1) {
  return {.id = id,
          .account = account,
          .price = price,
          .quantity = quantity,
          .instrument = instrument,
          .side = side,
          .type = type};
}
// A good-till-time order: `order` with an expiry.
matching::PlaceOrder gtt(std::uint64_t id, std::uint64_t account, Side side, OrderType type,
                         std::int64_t price, std::uint64_t quantity, std::int64_t expires_at,
                         std::uint32_t instrument = 1) {
  matching::PlaceOrder c = order(id, account, side, type, price, quantity, instrument);
  c.expires_at = expires_at;
  return c;
}
matching::ExpireOrders expire(std::uint32_t limit) { return {.limit = limit}; }
Event accepted(const matching::PlaceOrder& c) {
  return matching::OrderAccepted{.id = c.id,
                                 .account = c.account,
                                 .price = c.price,
                                 .quantity = c.quantity,
                                 .instrument = c.instrument,
                                 .side = c.side,
                                 .type = c.type};
}
Event trade(std::uint32_t instrument, std::uint64_t maker, std::uint64_t maker_account,
            std::uint64_t taker, std::uint64_t taker_account, Side taker_side, std::int64_t price,
            std::uint64_t quantity) {
  return matching::Trade{.maker_order = maker,
                         .taker_order = taker,
                         .maker_account = maker_account,
                         .taker_account = taker_account,
                         .price = price,
                         .quantity = quantity,
                         .instrument = instrument,
                         .taker_side = taker_side};
}
Event rested(std::uint64_t id, std::uint64_t quantity, std::uint64_t priority) {
  return matching::OrderRested{.id = id, .quantity = quantity, .priority = priority};
}
Event cancelled(std::uint64_t id, std::uint64_t quantity, CancelReason reason) {
  return matching::OrderCancelled{.id = id, .quantity = quantity, .reason = reason};
}
Event replaced(std::uint64_t id, std::int64_t old_price, std::uint64_t old_quantity,
               std::int64_t new_price, std::uint64_t new_quantity, bool kept) {
  return matching::OrderReplaced{.id = id,
                                 .old_price = old_price,
                                 .old_quantity = old_quantity,
                                 .new_price = new_price,
                                 .new_quantity = new_quantity,
                                 .kept_priority = kept};
}
Event expired(std::uint64_t id, std::uint64_t quantity) {
  return matching::OrderExpired{.id = id, .quantity = quantity};
}

// A resting order as both books see it, for comparing them.
struct Resting {
  std::uint64_t id = 0;
  std::uint64_t account = 0;
  std::uint32_t instrument = 0;
  Side side{};
  std::int64_t price = 0;
  std::uint64_t quantity = 0;
  std::int64_t level = 0;
  std::uint64_t priority = 0;
  std::int64_t expires_at = 0;
  friend bool operator==(const Resting&, const Resting&) = default;
};
void PrintTo(const Resting& o, std::ostream* os) {
  *os << "{id " << o.id << ", account " << o.account << ", instrument " << o.instrument << ", "
      << name(o.side) << ", price " << o.price << ", quantity " << o.quantity << ", level "
      << o.level << ", priority " << o.priority << ", expires_at " << o.expires_at << "}";
}
Resting resting_of(const matching::Order& o) {
  return {o.id,       o.account, o.instrument, o.side,      o.price,
          o.quantity, o.level,   o.priority,   o.expires_at};
}

// An Expiry record, as (order, expires_at).
using ExpiryState = std::pair<std::uint64_t, std::int64_t>;

struct InstrumentState {
  std::uint32_t id = 0;
  std::uint64_t max_quantity = 0;
  std::uint64_t next_priority = 0;
  friend bool operator==(const InstrumentState&, const InstrumentState&) = default;
};
void PrintTo(const InstrumentState& i, std::ostream* os) {
  *os << "{id " << i.id << ", max_quantity " << i.max_quantity << ", next_priority "
      << i.next_priority << "}";
}

// ---------------------------------------------------------------------------------------
// The harness: Executor<matching::Domain>, one command per batch.

struct Result {
  Outcome outcome;
  std::vector<Event> events;
  std::vector<std::vector<std::byte>> event_bytes;  // as the engine wrote them
  std::size_t writes = 0;
};

class Engine {
 public:
  static lockstep::EngineOptions default_options() {
    lockstep::EngineOptions o;
    o.table_capacity = {64, 1u << 14, 1u << 14};  // Instrument, Order, Expiry
    return o;
  }

  explicit Engine(lockstep::EngineOptions options = default_options())
      : exec_(std::make_unique<lockstep::Executor<matching::Domain>>(matching::handlers(),
                                                                     std::move(options))),
        out_(exec_->options().result_bytes_max + exec_->options().chain_bytes_max) {}

  // Executes one command as a batch of its own; returns the results it made final.
  std::vector<Decoded> submit_raw(std::uint16_t kind, std::span<const std::byte> payload) {
    lockstep::CommandView v;
    v.kind = kind;
    v.client_id = 1;
    v.request_id = exec_->next_sequence() + 1;
    v.sequence = exec_->next_sequence();
    v.logical_time_ns = time_of(v.sequence);
    v.payload = payload;
    const lockstep::ExecuteResult r = exec_->execute(v, true, out_);
    return lockstep_test::decode_results(std::span(out_).first(r.bytes), r.results);
  }

  template <class C>
  Result run(const C& c) {
    return result_of(submit_raw(C::kKind, std::as_bytes(std::span(&c, 1))));
  }
  Result run(const Command& c) {
    return std::visit([&](const auto& x) { return run(x); }, c);
  }

  static Result result_of(const std::vector<Decoded>& d) {
    Result r;
    EXPECT_EQ(d.size(), 1u);
    if (d.size() != 1) {
      r.outcome = Outcome::engine(EngineReject::kUnknownCommand);
      return r;
    }
    const lockstep::TxResultView& v = d[0].view;
    r.outcome = v.outcome;
    r.writes = v.writes.size();
    EXPECT_TRUE(v.has_state_hash);
    for (const lockstep::TxEventView& e : v.events) {
      r.events.push_back(decode_event(e));
      r.event_bytes.emplace_back(e.bytes.begin(), e.bytes.end());
    }
    return r;
  }

  // Every resting order, by id.
  std::vector<matching::Order> orders() const { return orders_of(*exec_); }
  // One side of one book, best first: ascending (level, priority).
  std::vector<matching::Order> book(std::uint32_t instrument, Side side) const {
    std::vector<matching::Order> v;
    for (const matching::Order& o : orders()) {
      if (o.instrument == instrument && o.side == side) v.push_back(o);
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.level != b.level ? a.level < b.level : a.priority < b.priority;
    });
    return v;
  }
  std::vector<std::uint64_t> book_ids(std::uint32_t instrument, Side side) const {
    std::vector<std::uint64_t> v;
    for (const matching::Order& o : book(instrument, side)) v.push_back(o.id);
    return v;
  }
  // Every instrument, by id.
  std::vector<matching::Instrument> instruments() const { return instruments_of(*exec_); }
  // Every Expiry record, by order.
  std::vector<ExpiryState> expiries() const {
    std::vector<ExpiryState> v;
    std::get<2>(exec_->tables()).for_each([&](std::uint32_t, const matching::Expiry& e) {
      v.emplace_back(e.order, e.expires_at);
    });
    std::sort(v.begin(), v.end());
    return v;
  }
  const matching::Order* order(std::uint64_t id) const {
    const auto& t = std::get<1>(exec_->tables());
    const std::uint32_t slot = t.slot_of(matching::detail_::Order_primary::make(id));
    return slot == lockstep::kNoSlot ? nullptr : &t.record(slot);
  }
  const matching::Instrument* instrument(std::uint32_t id) const {
    const auto& t = std::get<0>(exec_->tables());
    const std::uint32_t slot = t.slot_of(matching::detail_::Instrument_primary::make(id));
    return slot == lockstep::kNoSlot ? nullptr : &t.record(slot);
  }
  lockstep::Executor<matching::Domain>& exec() { return *exec_; }

 private:
  std::unique_ptr<lockstep::Executor<matching::Domain>> exec_;
  std::vector<std::byte> out_;
};

// ---------------------------------------------------------------------------------------
// The reference book: per instrument, a vector per book side kept best first (the best
// price, then the earliest priority), and the rules of docs/matching.md written plainly.

struct Expect {
  Outcome outcome;
  std::vector<Event> events;
};

class RefBook {
 public:
  struct Order {
    std::uint64_t id = 0;
    std::uint64_t account = 0;
    std::int64_t price = 0;
    std::uint64_t quantity = 0;
    std::uint64_t priority = 0;
    std::int64_t expires_at = 0;  // 0: good till cancelled
    std::uint32_t instrument = 0;
    Side side{};
  };
  struct Instrument {
    std::uint64_t max_quantity = 0;
    std::uint64_t next_priority = 0;
    std::vector<Order> bids;  // best first: the highest price, then the earliest
    std::vector<Order> asks;  // best first: the lowest price, then the earliest
    std::vector<Order>& book(Side s) { return s == Side::buy ? bids : asks; }
    const std::vector<Order>& book(Side s) const { return s == Side::buy ? bids : asks; }
  };

  // Commands applied so far: the harness's sequence of the next command.
  std::uint64_t commands() const { return commands_; }
  // The logical time of the next command.
  std::int64_t next_time() const { return time_of(commands_); }

  Expect apply(const Command& c) {
    now_ = time_of(commands_++);
    return std::visit(Overloaded{
                          [&](const matching::AddInstrument& x) { return add_instrument(x); },
                          [&](const matching::PlaceOrder& x) { return place(x); },
                          [&](const matching::CancelOrder& x) { return cancel(x); },
                          [&](const matching::ReplaceOrder& x) { return replace(x); },
                          [&](const matching::ExpireOrders& x) { return expire_orders(x); },
                      },
                      c);
  }

  Expect add_instrument(const matching::AddInstrument& c) {
    if (c.id == 0) return {refusal(Reject::bad_instrument), {}};
    if (instruments_.count(c.id) != 0) return {refusal(Reject::instrument_exists), {}};
    instruments_[c.id].max_quantity = c.max_quantity;
    return {Outcome::ok(), {}};
  }

  Expect place(const matching::PlaceOrder& c) {
    const auto it = instruments_.find(c.instrument);
    if (it == instruments_.end()) return {refusal(Reject::unknown_instrument), {}};
    Instrument& in = it->second;
    const bool market = c.type == OrderType::market;
    const bool rests = c.type == OrderType::limit || c.type == OrderType::post_only;
    if (market ? c.price != 0 : !price_ok(c.price)) return {refusal(Reject::bad_price), {}};
    if (!quantity_ok(c.quantity, in)) return {refusal(Reject::bad_quantity), {}};
    if (c.expires_at != 0 && (!rests || c.expires_at <= now_)) {
      return {refusal(Reject::bad_expiry), {}};
    }
    if (find(c.id).has_value()) return {refusal(Reject::order_id_in_use), {}};
    const std::vector<Order>& other = in.book(opposite(c.side));
    if (c.type == OrderType::post_only) {
      // Any crossing resting order that has not expired, of any account.
      for (const Order& m : other) {
        if (!crosses(c.side, false, c.price, m.price)) break;
        if (!expired_now(m)) return {refusal(Reject::post_only_would_cross), {}};
      }
    }
    if (c.type == OrderType::fok) {
      // Every crossing resting order of another account that has not expired, all of it
      // (saturating at 2^64-1, which is then at least any quantity).
      std::uint64_t sum = 0;
      for (const Order& m : other) {
        if (!crosses(c.side, false, c.price, m.price)) break;
        if (m.account == c.account || expired_now(m)) continue;
        sum = m.quantity > kU64Max - sum ? kU64Max : sum + m.quantity;
      }
      if (sum < c.quantity) return {refusal(Reject::fok_not_fillable), {}};
    }
    Expect x{Outcome::ok(), {accepted(c)}};
    Taker t{c.id, c.account, c.instrument, c.side, market, c.price, c.quantity, c.expires_at};
    if (c.type != OrderType::post_only) take(in, t, x.events);
    if (t.left > 0) {
      if (rests) {
        rest(in, t, x.events);
      } else {
        x.events.push_back(cancelled(c.id, t.left, CancelReason::unfilled));
      }
    }
    return x;
  }

  Expect cancel(const matching::CancelOrder& c) {
    const std::optional<Where> w = find(c.id);
    if (!w.has_value()) return {refusal(Reject::unknown_order), {}};
    const Order o = (*w->side)[w->index];
    if (o.account != c.account) return {refusal(Reject::not_owner), {}};
    if (expired_now(o)) return {refusal(Reject::order_expired), {}};
    w->side->erase(w->side->begin() + static_cast<long>(w->index));
    return {Outcome::ok(), {cancelled(o.id, o.quantity, CancelReason::requested)}};
  }

  Expect replace(const matching::ReplaceOrder& c) {
    const std::optional<Where> w = find(c.id);
    if (!w.has_value()) return {refusal(Reject::unknown_order), {}};
    const Order was = (*w->side)[w->index];
    if (was.account != c.account) return {refusal(Reject::not_owner), {}};
    if (expired_now(was)) return {refusal(Reject::order_expired), {}};
    if (!price_ok(c.price)) return {refusal(Reject::bad_price), {}};
    if (!quantity_ok(c.quantity, *w->in)) return {refusal(Reject::bad_quantity), {}};
    const bool keeps = c.price == was.price && c.quantity <= was.quantity;
    Expect x{Outcome::ok(), {replaced(c.id, was.price, was.quantity, c.price, c.quantity, keeps)}};
    if (keeps) {
      (*w->side)[w->index].quantity = c.quantity;
      return x;
    }
    // Out of the book, matched as an incoming limit order, and what is left rests anew,
    // with the same expiry.
    w->side->erase(w->side->begin() + static_cast<long>(w->index));
    Taker t{c.id,  was.account, was.instrument, was.side,
            false, c.price,     c.quantity,     was.expires_at};
    take(*w->in, t, x.events);
    if (t.left > 0) rest(*w->in, t, x.events);
    return x;
  }

  // Every expired resting order, soonest first, then by id; the first `limit` of them go,
  // and never more than matching::kMaxExpiriesPerCommand.
  Expect expire_orders(const matching::ExpireOrders& c) {
    std::vector<Order> due;
    for (const auto& [id, in] : instruments_) {
      for (const std::vector<Order>* side : {&in.bids, &in.asks}) {
        for (const Order& o : *side) {
          if (expired_now(o)) due.push_back(o);
        }
      }
    }
    std::sort(due.begin(), due.end(), [](const Order& a, const Order& b) {
      return a.expires_at != b.expires_at ? a.expires_at < b.expires_at : a.id < b.id;
    });
    const std::size_t limit = std::min(c.limit, matching::kMaxExpiriesPerCommand);
    if (due.size() > limit) due.resize(limit);
    Expect x{Outcome::ok(), {}};
    for (const Order& o : due) {
      x.events.push_back(expired(o.id, o.quantity));
      const std::optional<Where> w = find(o.id);
      w->side->erase(w->side->begin() + static_cast<long>(w->index));
    }
    return x;
  }

  // Every resting order, by id.
  std::vector<Resting> resting() const {
    std::vector<Resting> v;
    for (const auto& [id, in] : instruments_) {
      for (const std::vector<Order>* side : {&in.bids, &in.asks}) {
        for (const Order& o : *side) {
          v.push_back({o.id, o.account, o.instrument, o.side, o.price, o.quantity,
                       level_of(o.side, o.price), o.priority, o.expires_at});
        }
      }
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return v;
  }
  // The Expiry records there should be: one per resting order that expires, by order.
  std::vector<ExpiryState> expiries() const {
    std::vector<ExpiryState> v;
    for (const Resting& o : resting()) {
      if (o.expires_at != 0) v.emplace_back(o.id, o.expires_at);
    }
    return v;
  }
  std::vector<InstrumentState> instrument_states() const {
    std::vector<InstrumentState> v;
    for (const auto& [id, in] : instruments_) v.push_back({id, in.max_quantity, in.next_priority});
    return v;
  }
  const Instrument* instrument(std::uint32_t id) const {
    const auto it = instruments_.find(id);
    return it == instruments_.end() ? nullptr : &it->second;
  }
  // The model's own invariant: each side is in (level, priority) order, with no two orders
  // at one priority, and the orders of each book that have not expired (at the last
  // command's time) do not cross: only a post-only order rests across an order, and only
  // across expired ones.
  void check_sorted() const {
    for (const auto& [id, in] : instruments_) {
      for (const std::vector<Order>* side : {&in.bids, &in.asks}) {
        for (std::size_t i = 1; i < side->size(); ++i) {
          const Order& a = (*side)[i - 1];
          const Order& b = (*side)[i];
          const std::int64_t la = level_of(a.side, a.price);
          const std::int64_t lb = level_of(b.side, b.price);
          EXPECT_TRUE(la < lb || (la == lb && a.priority < b.priority))
              << "reference book out of order at " << a.id << ", " << b.id;
        }
      }
      const auto live = [&](const std::vector<Order>& side) {
        return std::find_if(side.begin(), side.end(),
                            [&](const Order& o) { return !expired_now(o); });
      };
      const auto bid = live(in.bids);
      const auto ask = live(in.asks);
      if (bid != in.bids.end() && ask != in.asks.end()) {
        EXPECT_LT(bid->price, ask->price) << "crossed book " << id;
      }
    }
  }

 private:
  struct Taker {
    std::uint64_t id;
    std::uint64_t account;
    std::uint32_t instrument;
    Side side;
    bool market;
    std::int64_t price;
    std::uint64_t left;
    std::int64_t expires_at;  // what it rests with
  };
  struct Where {
    Instrument* in;
    std::vector<Order>* side;
    std::size_t index;
  };

  static bool price_ok(std::int64_t p) { return p >= 1 && p <= kMaxPrice; }
  static bool quantity_ok(std::uint64_t q, const Instrument& in) {
    return q != 0 && (in.max_quantity == 0 || q <= in.max_quantity);
  }
  static bool crosses(Side taker, bool market, std::int64_t limit, std::int64_t maker_price) {
    if (market) return true;
    return taker == Side::buy ? maker_price <= limit : maker_price >= limit;
  }
  // Expired at the time of the command being applied (or of the last one applied).
  bool expired_now(const Order& o) const { return is_expired(o.expires_at, now_); }

  // The resting order `id`, on whichever book and side it rests.
  std::optional<Where> find(std::uint64_t id) {
    for (auto& [iid, in] : instruments_) {
      for (std::vector<Order>* side : {&in.bids, &in.asks}) {
        for (std::size_t i = 0; i < side->size(); ++i) {
          if ((*side)[i].id == id) return Where{&in, side, i};
        }
      }
    }
    return std::nullopt;
  }

  // Takes from the front of the other side while it crosses and the taker has quantity:
  // an expired front order is expired, one of the taker's account cancelled, any other
  // traded with.
  void take(Instrument& in, Taker& t, std::vector<Event>& out) const {
    std::vector<Order>& other = in.book(opposite(t.side));
    while (t.left > 0 && !other.empty()) {
      Order& m = other.front();
      if (!crosses(t.side, t.market, t.price, m.price)) break;
      if (expired_now(m)) {
        out.push_back(expired(m.id, m.quantity));
        other.erase(other.begin());
        continue;
      }
      if (m.account == t.account) {
        out.push_back(cancelled(m.id, m.quantity, CancelReason::self_trade));
        other.erase(other.begin());
        continue;
      }
      const std::uint64_t q = std::min(t.left, m.quantity);
      out.push_back(trade(t.instrument, m.id, m.account, t.id, t.account, t.side, m.price, q));
      t.left -= q;
      m.quantity -= q;
      if (m.quantity == 0) other.erase(other.begin());
    }
  }

  // Rests what is left of `t` with the instrument's next priority: after every order at
  // the same or a better price (those all have earlier priorities).
  static void rest(Instrument& in, const Taker& t, std::vector<Event>& out) {
    const Order o{t.id,         t.account,    t.price, t.left, in.next_priority++,
                  t.expires_at, t.instrument, t.side};
    std::vector<Order>& side = in.book(t.side);
    const auto worse = [&](const Order& x) {
      return t.side == Side::buy ? x.price < o.price : x.price > o.price;
    };
    side.insert(std::find_if(side.begin(), side.end(), worse), o);
    out.push_back(rested(o.id, o.quantity, o.priority));
  }

  std::map<std::uint32_t, Instrument> instruments_;
  std::uint64_t commands_ = 0;  // applied so far
  std::int64_t now_ = 0;        // the time of the command being applied, or of the last one
};

// ---------------------------------------------------------------------------------------
// Checks on the engine's events that do not use the reference book: against the engine's
// own resting orders before the command, every trade is with the best resting order of
// the other side, at its price, between two accounts, within both orders' quantities;
// every self-trade cancel is of the best resting order, of the taker's account; every
// expiry met by a taker is of the best resting order, expired at `now` (the command's
// time); what rests or is cancelled unfilled is what is left; a taker that stops with
// quantity left leaves nothing that crosses it; a post-only order rests across expired
// orders only; and ExpireOrders expires only expired orders, soonest first (then by id),
// and all of them unless its limit stops it.

bool crosses_limit(Side taker, std::int64_t limit, std::int64_t maker_price) {
  return taker == Side::buy ? maker_price <= limit : maker_price >= limit;
}

void check_events(const std::vector<matching::Order>& before, const Command& c, std::int64_t now,
                  const Result& r) {
  std::map<std::uint64_t, matching::Order> book;
  for (const matching::Order& o : before) book[o.id] = o;
  const std::string what = describe(c);
  const auto* place = std::get_if<matching::PlaceOrder>(&c);
  const auto* replace = std::get_if<matching::ReplaceOrder>(&c);
  const auto* cancel = std::get_if<matching::CancelOrder>(&c);
  const auto* sweep = std::get_if<matching::ExpireOrders>(&c);
  using SweepKey = std::pair<std::int64_t, std::uint64_t>;  // (expires_at, id)
  std::optional<SweepKey> last_swept;  // ExpireOrders: the last order it expired

  struct Taker {
    bool on = false;
    bool takes = false;  // not post-only
    std::uint64_t id = 0;
    std::uint64_t account = 0;
    std::uint32_t instrument = 0;
    Side side{};
    bool market = false;
    std::int64_t price = 0;
    std::uint64_t left = 0;
  } t;
  bool ended = false;  // rested, or cancelled unfilled: nothing may follow
  // The best resting order on the side the taker takes from, or null.
  const auto best = [&]() -> const matching::Order* {
    const matching::Order* b = nullptr;
    for (const auto& [id, o] : book) {
      if (o.instrument != t.instrument || o.side != opposite(t.side)) continue;
      if (b == nullptr || o.level < b->level || (o.level == b->level && o.priority < b->priority)) {
        b = &o;
      }
    }
    return b;
  };
  const auto stop_with_left = [&] {
    const matching::Order* b = best();
    if (t.takes && b != nullptr) {
      EXPECT_FALSE(t.market || crosses_limit(t.side, t.price, b->price))
          << what << ": stopped with " << t.left << " left while order " << b->id << " crosses";
    }
  };

  for (std::size_t i = 0; i < r.events.size(); ++i) {
    SCOPED_TRACE(what + ", event " + std::to_string(i) + ": " + describe(r.events[i]));
    EXPECT_FALSE(ended) << "an event after the order rested or was cancelled unfilled";
    std::visit(
        Overloaded{
            [&](const matching::OrderAccepted& e) {
              EXPECT_EQ(i, 0u);
              ASSERT_NE(place, nullptr);
              EXPECT_EQ(describe(Event{e}), describe(accepted(*place)));
              t = {true,   e.type != OrderType::post_only, e.id,    e.account, e.instrument,
                   e.side, e.type == OrderType::market,    e.price, e.quantity};
            },
            [&](const matching::OrderReplaced& e) {
              EXPECT_EQ(i, 0u);
              ASSERT_NE(replace, nullptr);
              const auto it = book.find(e.id);
              ASSERT_NE(it, book.end());
              const matching::Order was = it->second;
              EXPECT_EQ(e.old_price, was.price);
              EXPECT_EQ(e.old_quantity, was.quantity);
              EXPECT_EQ(e.new_price, replace->price);
              EXPECT_EQ(e.new_quantity, replace->quantity);
              EXPECT_EQ(e.kept_priority,
                        e.new_price == was.price && e.new_quantity <= was.quantity);
              if (e.kept_priority) {
                EXPECT_EQ(r.events.size(), 1u);
                return;
              }
              book.erase(it);
              t = {true,     true,  e.id,        was.account,   was.instrument,
                   was.side, false, e.new_price, e.new_quantity};
            },
            [&](const matching::Trade& e) {
              ASSERT_TRUE(t.on && t.takes);
              const matching::Order* b = best();
              ASSERT_NE(b, nullptr) << "a trade with an empty side";
              const matching::Order m = *b;
              EXPECT_EQ(e.maker_order, m.id) << "not the best resting order";
              EXPECT_EQ(e.maker_account, m.account);
              EXPECT_EQ(e.taker_order, t.id);
              EXPECT_EQ(e.taker_account, t.account);
              EXPECT_EQ(e.taker_side, t.side);
              EXPECT_EQ(e.instrument, t.instrument);
              EXPECT_NE(e.maker_account, e.taker_account) << "a trade within one account";
              EXPECT_EQ(e.price, m.price) << "not at the maker's price";
              EXPECT_FALSE(is_expired(m.expires_at, now)) << "a trade with an expired maker";
              EXPECT_TRUE(t.market || crosses_limit(t.side, t.price, m.price)) << "no cross";
              EXPECT_GT(e.quantity, 0u);
              EXPECT_LE(e.quantity, m.quantity) << "more than the maker has";
              EXPECT_LE(e.quantity, t.left) << "more than the taker has";
              const std::uint64_t q = std::min({e.quantity, m.quantity, t.left});
              t.left -= q;
              if (q == m.quantity) {
                book.erase(m.id);
              } else {
                book[m.id].quantity -= q;
              }
            },
            [&](const matching::OrderCancelled& e) {
              if (e.reason == CancelReason::self_trade) {
                ASSERT_TRUE(t.on && t.takes);
                const matching::Order* b = best();
                ASSERT_NE(b, nullptr);
                EXPECT_EQ(e.id, b->id) << "not the best resting order";
                EXPECT_EQ(b->account, t.account) << "a self-trade cancel of another account";
                EXPECT_FALSE(is_expired(b->expires_at, now)) << "an expired maker cancelled";
                EXPECT_EQ(e.quantity, b->quantity);
                EXPECT_TRUE(t.market || crosses_limit(t.side, t.price, b->price));
                book.erase(b->id);
              } else if (e.reason == CancelReason::unfilled) {
                ASSERT_TRUE(t.on);
                ASSERT_NE(place, nullptr);
                EXPECT_TRUE(place->type == OrderType::market || place->type == OrderType::ioc);
                EXPECT_EQ(e.id, t.id);
                EXPECT_EQ(e.quantity, t.left);
                EXPECT_GT(e.quantity, 0u);
                stop_with_left();
                ended = true;
              } else {
                EXPECT_EQ(e.reason, CancelReason::requested);
                ASSERT_NE(cancel, nullptr);
                EXPECT_EQ(r.events.size(), 1u);
                const auto it = book.find(e.id);
                ASSERT_NE(it, book.end());
                EXPECT_EQ(e.id, cancel->id);
                EXPECT_EQ(it->second.account, cancel->account);
                EXPECT_EQ(e.quantity, it->second.quantity);
              }
            },
            [&](const matching::OrderRested& e) {
              ASSERT_TRUE(t.on);
              ASSERT_TRUE(replace != nullptr || place != nullptr);
              EXPECT_TRUE(replace != nullptr || place->type == OrderType::limit ||
                          place->type == OrderType::post_only);
              EXPECT_EQ(e.id, t.id);
              EXPECT_EQ(e.quantity, t.left);
              EXPECT_GT(e.quantity, 0u);
              stop_with_left();
              if (!t.takes) {
                for (const auto& [id, o] : book) {
                  if (o.instrument == t.instrument && o.side == opposite(t.side) &&
                      crosses_limit(t.side, t.price, o.price)) {
                    EXPECT_TRUE(is_expired(o.expires_at, now))
                        << "a post-only order rested across order " << id;
                  }
                }
              }
              ended = true;
            },
            [&](const matching::OrderExpired& e) {
              const auto it = book.find(e.id);
              ASSERT_NE(it, book.end()) << "the expiry of an order that is not resting";
              const matching::Order m = it->second;
              EXPECT_TRUE(is_expired(m.expires_at, now)) << "expires at " << m.expires_at;
              EXPECT_EQ(e.quantity, m.quantity);
              if (sweep != nullptr) {
                EXPECT_LT(i, std::size_t{std::min(sweep->limit, matching::kMaxExpiriesPerCommand)})
                    << "more than the limit";
                const SweepKey key{m.expires_at, m.id};
                if (last_swept.has_value()) {
                  EXPECT_LT(*last_swept, key) << "not soonest first, then by id";
                }
                last_swept = key;
              } else {
                ASSERT_TRUE(t.on && t.takes);
                const matching::Order* b = best();
                ASSERT_NE(b, nullptr);
                EXPECT_EQ(e.id, b->id) << "not the best resting order";
                EXPECT_TRUE(t.market || crosses_limit(t.side, t.price, b->price));
              }
              book.erase(it);
            },
        },
        r.events[i]);
  }
  if (t.on && !ended) {
    EXPECT_EQ(t.left, 0u) << what << ": the taker neither filled nor ended";
  }
  if (sweep != nullptr && r.outcome.is_ok()) {
    // What is left that has expired comes after what went, and is left only for the limit.
    for (const auto& [id, o] : book) {
      if (!is_expired(o.expires_at, now)) continue;
      EXPECT_EQ(r.events.size(),
                std::size_t{std::min(sweep->limit, matching::kMaxExpiriesPerCommand)})
          << what << ": order " << id << " left expired";
      if (last_swept.has_value()) {
        EXPECT_LT(*last_swept, (SweepKey{o.expires_at, id}))
            << what << ": order " << id << " left before one that went";
      }
    }
  }
}

// No book of `orders` is crossed, leaving out the orders expired at `now` (a post-only
// order rests across those).
void expect_uncrossed(const std::vector<matching::Order>& orders, std::int64_t now) {
  std::map<std::uint32_t, std::int64_t> best_bid;
  std::map<std::uint32_t, std::int64_t> best_ask;
  for (const matching::Order& o : orders) {
    if (is_expired(o.expires_at, now)) continue;
    if (o.side == Side::buy) {
      auto [it, fresh] = best_bid.emplace(o.instrument, o.price);
      if (!fresh) it->second = std::max(it->second, o.price);
    } else {
      auto [it, fresh] = best_ask.emplace(o.instrument, o.price);
      if (!fresh) it->second = std::min(it->second, o.price);
    }
  }
  for (const auto& [instrument, bid] : best_bid) {
    const auto ask = best_ask.find(instrument);
    if (ask != best_ask.end()) {
      EXPECT_LT(bid, ask->second) << "crossed book " << instrument;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The engine and the reference book side by side.

struct Stats {
  std::map<std::uint32_t, std::uint64_t> outcomes;  // by outcome code (0: accepted)
  std::uint64_t commands = 0;
  std::uint64_t trades = 0;
  std::uint64_t self_trades = 0;
  std::uint64_t rested = 0;
  std::uint64_t unfilled = 0;
  std::uint64_t requested = 0;
  std::uint64_t kept_priority = 0;
  std::uint64_t lost_priority = 0;
  std::uint64_t rested_gtt = 0;              // rested with an expiry
  std::uint64_t expired_taken = 0;           // expired by a taker that met them
  std::uint64_t expired_swept = 0;           // expired by ExpireOrders
  std::uint64_t empty_sweeps = 0;            // ExpireOrders that expired nothing
  std::uint64_t post_only_past_expired = 0;  // post-only orders that rested across expired ones
  std::uint64_t fok_past_expired = 0;        // fill-or-kill orders that crossed expired ones
  std::size_t most_makers = 0;   // the most resting orders one command took, cancelled or expired
  std::size_t most_resting = 0;  // the most resting orders at once

  void add(const Stats& s) {
    for (const auto& [code, n] : s.outcomes) outcomes[code] += n;
    commands += s.commands;
    trades += s.trades;
    self_trades += s.self_trades;
    rested += s.rested;
    unfilled += s.unfilled;
    requested += s.requested;
    kept_priority += s.kept_priority;
    lost_priority += s.lost_priority;
    rested_gtt += s.rested_gtt;
    expired_taken += s.expired_taken;
    expired_swept += s.expired_swept;
    empty_sweeps += s.empty_sweeps;
    post_only_past_expired += s.post_only_past_expired;
    fok_past_expired += s.fok_past_expired;
    most_makers = std::max(most_makers, s.most_makers);
    most_resting = std::max(most_resting, s.most_resting);
  }
};

class Checked {
 public:
  explicit Checked(lockstep::EngineOptions options = Engine::default_options())
      : engine(std::move(options)) {}

  // Runs `c` on the engine and on the reference book; the outcome and every event (every
  // field and byte) must be the same, and the engine's events must keep the invariants.
  Result step(const Command& c) {
    const std::string what = describe(c);
    const std::vector<matching::Order> before = engine.orders();
    const lockstep::StateHash hash = engine.exec().state_hash();
    // The same command number, so the same logical time.
    EXPECT_EQ(model.commands(), engine.exec().next_sequence()) << what;
    const std::int64_t now = model.next_time();
    const Expect x = model.apply(c);
    Result r = engine.run(c);
    EXPECT_EQ(r.outcome, x.outcome) << what;
    EXPECT_EQ(describe_all(r.events), describe_all(x.events)) << what;
    if (r.events.size() == x.events.size()) {
      for (std::size_t i = 0; i < r.events.size(); ++i) {
        EXPECT_TRUE(r.event_bytes[i] == bytes_of(x.events[i]))
            << what << ": event " << i << " has the right fields but other bytes";
      }
    }
    if (!r.outcome.is_ok()) {
      EXPECT_EQ(r.writes, 0u) << what << ": a refusal with writes";
      EXPECT_TRUE(r.events.empty()) << what << ": a refusal with events";
      EXPECT_EQ(engine.exec().state_hash(), hash) << what << ": a refusal moved the state hash";
    }
    check_events(before, c, now, r);
    const std::vector<matching::Order> after = engine.orders();
    expect_uncrossed(after, now);

    ++stats.commands;
    ++stats.outcomes[r.outcome.code()];
    std::size_t makers = 0;
    for (const Event& e : r.events) {
      if (std::holds_alternative<matching::Trade>(e)) {
        ++stats.trades;
        ++makers;
      } else if (const auto* k = std::get_if<matching::OrderCancelled>(&e)) {
        if (k->reason == CancelReason::self_trade) {
          ++stats.self_trades;
          ++makers;
        }
        if (k->reason == CancelReason::unfilled) ++stats.unfilled;
        if (k->reason == CancelReason::requested) ++stats.requested;
      } else if (const auto* o = std::get_if<matching::OrderRested>(&e)) {
        ++stats.rested;
        const matching::Order* now_resting = engine.order(o->id);
        if (now_resting != nullptr && now_resting->expires_at != 0) ++stats.rested_gtt;
      } else if (const auto* p = std::get_if<matching::OrderReplaced>(&e)) {
        ++(p->kept_priority ? stats.kept_priority : stats.lost_priority);
      } else if (std::holds_alternative<matching::OrderExpired>(e)) {
        if (std::holds_alternative<matching::ExpireOrders>(c)) {
          ++stats.expired_swept;
        } else {
          ++stats.expired_taken;
          ++makers;
        }
      }
    }
    if (std::holds_alternative<matching::ExpireOrders>(c) && r.events.empty()) ++stats.empty_sweeps;
    if (const auto* p = std::get_if<matching::PlaceOrder>(&c);
        p != nullptr && (p->type == OrderType::post_only || p->type == OrderType::fok)) {
      const bool past_expired = std::any_of(before.begin(), before.end(), [&](const auto& o) {
        return o.instrument == p->instrument && o.side == opposite(p->side) &&
               crosses_limit(p->side, p->price, o.price) && is_expired(o.expires_at, now);
      });
      if (past_expired && p->type == OrderType::fok) ++stats.fok_past_expired;
      if (past_expired && p->type == OrderType::post_only && r.outcome.is_ok()) {
        ++stats.post_only_past_expired;
      }
    }
    stats.most_makers = std::max(stats.most_makers, makers);
    stats.most_resting = std::max(stats.most_resting, after.size());
    return r;
  }
  template <class C>
  Result step(const C& c) {
    return step(Command{c});
  }

  // The engine's books and instruments are the reference book's; the state hash is what
  // recomputing it from the tables gives.
  void expect_same_books() {
    model.check_sorted();
    std::vector<Resting> got;
    for (const matching::Order& o : engine.orders()) got.push_back(resting_of(o));
    EXPECT_EQ(got, model.resting());
    std::vector<InstrumentState> instruments;
    for (const matching::Instrument& i : engine.instruments()) {
      instruments.push_back({i.id, i.max_quantity, i.next_priority});
    }
    EXPECT_EQ(instruments, model.instrument_states());
    EXPECT_EQ(engine.expiries(), model.expiries());
    EXPECT_EQ(engine.exec().recompute_state_hash(), engine.exec().state_hash());
  }

  Engine engine;
  RefBook model;
  Stats stats;
};

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// ---------------------------------------------------------------------------------------
// Explicit tests.

class MatchingTest : public ::testing::Test {
 protected:
  void add(std::uint32_t id, std::uint64_t max_quantity = 0) {
    const Result r = k.step(matching::AddInstrument{.max_quantity = max_quantity, .id = id});
    ASSERT_TRUE(r.outcome.is_ok()) << "instrument " << id << ": " << r.outcome.code();
    EXPECT_EQ(r.writes, 1u);
    EXPECT_TRUE(r.events.empty());
  }
  // A command that must be accepted; returns its events, described.
  template <class C>
  std::vector<std::string> accept(const C& c) {
    const Result r = k.step(c);
    EXPECT_TRUE(r.outcome.is_ok()) << describe(Command{c}) << " refused with " << r.outcome.code();
    return describe_all(r.events);
  }
  // Rests `c` (a limit or post-only order that must not cross).
  template <class C>
  void rest(const C& c) {
    const Result r = k.step(c);
    ASSERT_TRUE(r.outcome.is_ok()) << describe(Command{c}) << " refused with " << r.outcome.code();
    ASSERT_FALSE(r.events.empty());
    ASSERT_TRUE(std::holds_alternative<matching::OrderRested>(r.events.back()))
        << describe(Command{c}) << " did not rest";
  }
  // `c` must be refused with `why` and change nothing: no writes or events, the same
  // records, the same state hash (incremental and recomputed).
  template <class C>
  ::testing::AssertionResult refused(const C& c, Reject why) {
    const lockstep::StateHash hash = k.engine.exec().state_hash();
    const std::vector<matching::Order> orders = k.engine.orders();
    const std::vector<matching::Instrument> instruments = k.engine.instruments();
    const std::vector<ExpiryState> expiries = k.engine.expiries();
    const Result r = k.step(c);
    if (r.outcome != refusal(why)) {
      return ::testing::AssertionFailure()
             << describe(Command{c}) << ": outcome " << r.outcome.code() << "/"
             << r.outcome.detail() << ", expected " << name(why);
    }
    if (r.writes != 0 || !r.events.empty()) {
      return ::testing::AssertionFailure() << "a refusal with writes or events";
    }
    if (k.engine.exec().state_hash() != hash) {
      return ::testing::AssertionFailure() << "state hash moved";
    }
    if (k.engine.exec().recompute_state_hash() != hash) {
      return ::testing::AssertionFailure() << "recomputed state hash differs";
    }
    if (!same_bytes(k.engine.orders(), orders)) {
      return ::testing::AssertionFailure() << "an order changed";
    }
    if (!same_bytes(k.engine.instruments(), instruments)) {
      return ::testing::AssertionFailure() << "an instrument changed";
    }
    if (k.engine.expiries() != expiries) {
      return ::testing::AssertionFailure() << "an Expiry record changed";
    }
    return ::testing::AssertionSuccess();
  }
  static std::vector<std::string> names(const std::vector<Event>& events) {
    return describe_all(events);
  }
  // The logical time of the next command.
  std::int64_t now() { return time_of(k.engine.exec().next_sequence()); }
  // Lets time pass until the next command's time is `t` (a command's time, not before
  // now()): refused commands, a cancel of an order that never was.
  void wait_until(std::int64_t t) {
    ASSERT_LE(now(), t);
    ASSERT_EQ((t - now()) % 1000, 0);
    while (now() < t) {
      ASSERT_TRUE(
          refused(matching::CancelOrder{.id = kU64Max, .account = kA}, Reject::unknown_order));
    }
  }
  std::uint32_t expiry_records() { return std::get<2>(k.engine.exec().tables()).size(); }

  void TearDown() override { k.expect_same_books(); }

  Checked k;
};

// ---------------------------------------------------------------------------------------
// The worked example of docs/matching.md.

TEST_F(MatchingTest, TheWorkedExampleOfTheDesign) {
  add(1);
  // 1. A sells 5 at 101: rests with priority 0.
  const auto o10 = order(10, kA, Side::sell, OrderType::limit, 101, 5);
  EXPECT_EQ(accept(o10), names({accepted(o10), rested(10, 5, 0)}));
  // 2. B sells 3 at 100: rests with priority 1; the best ask is 100.
  const auto o11 = order(11, kB, Side::sell, OrderType::limit, 100, 3);
  EXPECT_EQ(accept(o11), names({accepted(o11), rested(11, 3, 1)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{11, 10}));
  // 3. C buys 6 at 101: 3 at 100 from 11, then 3 at 101 from 10.
  const auto o12 = order(12, kC, Side::buy, OrderType::limit, 101, 6);
  EXPECT_EQ(accept(o12), names({accepted(o12), trade(1, 11, kB, 12, kC, Side::buy, 100, 3),
                                trade(1, 10, kA, 12, kC, Side::buy, 101, 3)}));
  EXPECT_EQ(k.engine.order(11), nullptr);
  EXPECT_EQ(k.engine.order(12), nullptr);
  const matching::Order* left = k.engine.order(10);
  ASSERT_NE(left, nullptr);
  EXPECT_EQ(left->quantity, 2u);
  EXPECT_EQ(left->priority, 0u);
  EXPECT_EQ(left->price, 101);
  // 4. A's fill-or-kill buy of 2 at 101: A's own order 10 is left out of the sum.
  EXPECT_TRUE(refused(order(13, kA, Side::buy, OrderType::fok, 101, 2), Reject::fok_not_fillable));
  // 5. A's IOC buy of 2 at 101: cancels A's order 10, then its own unfilled rest.
  const auto o14 = order(14, kA, Side::buy, OrderType::ioc, 101, 2);
  EXPECT_EQ(accept(o14), names({accepted(o14), cancelled(10, 2, CancelReason::self_trade),
                                cancelled(14, 2, CancelReason::unfilled)}));
  EXPECT_TRUE(k.engine.orders().empty());
  EXPECT_EQ(k.engine.instrument(1)->next_priority, 2u);
  // Then with expiry, one command for each 50 of the design's times (100, 150, 200, 250).
  // 6. B sells 4 at 101 till 200: rests, with an Expiry record.
  const std::int64_t at200 = now() + 2000;
  const auto o15 = gtt(15, kB, Side::sell, OrderType::limit, 101, 4, at200);
  EXPECT_EQ(accept(o15), names({accepted(o15), rested(15, 4, 2)}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{15, at200}}));
  // 7. C sells 4 at 102: rests.
  const auto o16 = order(16, kC, Side::sell, OrderType::limit, 102, 4);
  EXPECT_EQ(accept(o16), names({accepted(o16), rested(16, 4, 3)}));
  // 8. At 200, B's cancel of order 15 is refused: it has expired.
  ASSERT_EQ(now(), at200);
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 15, .account = kB}, Reject::order_expired));
  // 9. A buys 3 at 102: expires order 15, then takes 3 of order 16.
  const auto o17 = order(17, kA, Side::buy, OrderType::limit, 102, 3);
  EXPECT_EQ(accept(o17),
            names({accepted(o17), expired(15, 4), trade(1, 16, kC, 17, kA, Side::buy, 102, 3)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{16}));
  EXPECT_EQ(k.engine.order(16)->quantity, 1u);
  EXPECT_EQ(expiry_records(), 0u);
}

// ---------------------------------------------------------------------------------------
// Reject codes, one by one.

TEST_F(MatchingTest, AnInstrumentIdOfZeroIsRefused) {
  EXPECT_TRUE(refused(matching::AddInstrument{.max_quantity = 0, .id = 0}, Reject::bad_instrument));
  EXPECT_TRUE(refused(matching::AddInstrument{.max_quantity = 5, .id = 0}, Reject::bad_instrument));
}

TEST_F(MatchingTest, AddingAnInstrumentTwiceIsRefused) {
  add(1, 10);
  EXPECT_TRUE(
      refused(matching::AddInstrument{.max_quantity = 10, .id = 1}, Reject::instrument_exists));
  EXPECT_TRUE(
      refused(matching::AddInstrument{.max_quantity = 0, .id = 1}, Reject::instrument_exists));
  EXPECT_EQ(k.engine.instrument(1)->max_quantity, 10u);
  add(0xFFFFFFFFu);  // the largest id is fine
}

TEST_F(MatchingTest, AnOrderOnAnUnknownInstrumentIsRefused) {
  add(1);
  EXPECT_TRUE(
      refused(order(1, kA, Side::buy, OrderType::limit, 100, 1, 2), Reject::unknown_instrument));
  EXPECT_TRUE(
      refused(order(1, kA, Side::sell, OrderType::market, 0, 1, 0), Reject::unknown_instrument));
  // Checked before the price and the quantity.
  EXPECT_TRUE(
      refused(order(1, kA, Side::buy, OrderType::limit, 0, 0, 2), Reject::unknown_instrument));
}

TEST_F(MatchingTest, ALimitTypePriceOutside1ToMaxPriceIsRefused) {
  add(1);
  for (const OrderType t :
       {OrderType::limit, OrderType::ioc, OrderType::fok, OrderType::post_only}) {
    SCOPED_TRACE(name(t));
    for (const std::int64_t p : {std::int64_t{0}, std::int64_t{-1}, kMaxPrice + 1, kI64Min,
                                 std::numeric_limits<std::int64_t>::max()}) {
      EXPECT_TRUE(refused(order(1, kA, Side::buy, t, p, 1), Reject::bad_price)) << p;
      EXPECT_TRUE(refused(order(1, kA, Side::sell, t, p, 1), Reject::bad_price)) << p;
    }
  }
  // The ends of the range are prices.
  rest(order(1, kA, Side::buy, OrderType::limit, 1, 1));
  rest(order(2, kA, Side::sell, OrderType::post_only, kMaxPrice, 1));
  EXPECT_EQ(k.engine.order(1)->level, -1);
  EXPECT_EQ(k.engine.order(2)->level, kMaxPrice);
}

TEST_F(MatchingTest, AMarketOrderWithAPriceIsRefused) {
  add(1);
  rest(order(1, kB, Side::sell, OrderType::limit, 100, 5));
  for (const std::int64_t p : {std::int64_t{100}, std::int64_t{1}, std::int64_t{-1}, kMaxPrice}) {
    EXPECT_TRUE(refused(order(2, kA, Side::buy, OrderType::market, p, 1), Reject::bad_price)) << p;
  }
  const auto m = order(2, kA, Side::buy, OrderType::market, 0, 1);
  EXPECT_EQ(accept(m), names({accepted(m), trade(1, 1, kB, 2, kA, Side::buy, 100, 1)}));
}

TEST_F(MatchingTest, AReplaceToABadPriceIsRefused) {
  add(1);
  rest(order(1, kA, Side::buy, OrderType::limit, 100, 5));
  for (const std::int64_t p : {std::int64_t{0}, std::int64_t{-100}, kMaxPrice + 1, kI64Min}) {
    EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = p, .quantity = 5},
                        Reject::bad_price))
        << p;
  }
}

TEST_F(MatchingTest, AQuantityOfZeroOrAboveTheInstrumentsMaximumIsRefused) {
  add(1, 10);
  add(2);  // no maximum
  for (const OrderType t : {OrderType::limit, OrderType::market, OrderType::ioc, OrderType::fok,
                            OrderType::post_only}) {
    SCOPED_TRACE(name(t));
    const std::int64_t p = t == OrderType::market ? 0 : 100;
    EXPECT_TRUE(refused(order(1, kA, Side::buy, t, p, 0), Reject::bad_quantity));
    EXPECT_TRUE(refused(order(1, kA, Side::buy, t, p, 11), Reject::bad_quantity));
    EXPECT_TRUE(refused(order(1, kA, Side::buy, t, p, kU64Max), Reject::bad_quantity));
    EXPECT_TRUE(refused(order(1, kA, Side::sell, t, p, 0, 2), Reject::bad_quantity));
  }
  rest(order(1, kA, Side::buy, OrderType::limit, 100, 10));  // the maximum itself
  rest(order(2, kA, Side::buy, OrderType::limit, 100, kU64Max, 2));
  // Replace: 0 (cancel instead) and above the maximum.
  for (const std::uint64_t q : {std::uint64_t{0}, std::uint64_t{11}, kU64Max}) {
    EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = q},
                        Reject::bad_quantity))
        << q;
  }
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 2, .account = kA, .price = 100, .quantity = 0},
                      Reject::bad_quantity));
  // The price is checked before the quantity.
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = 0, .quantity = 0},
                      Reject::bad_price));
}

TEST_F(MatchingTest, TheIdOfARestingOrderIsInUseOnEveryInstrumentAndForEveryAccount) {
  add(1);
  add(2);
  rest(order(7, kA, Side::buy, OrderType::limit, 100, 5));
  for (const OrderType t : {OrderType::limit, OrderType::market, OrderType::ioc, OrderType::fok,
                            OrderType::post_only}) {
    const std::int64_t p = t == OrderType::market ? 0 : 90;
    EXPECT_TRUE(refused(order(7, kA, Side::buy, t, p, 1), Reject::order_id_in_use)) << name(t);
    EXPECT_TRUE(refused(order(7, kB, Side::sell, t, p, 1, 2), Reject::order_id_in_use)) << name(t);
  }
  // An order that does not rest leaves its id free: an IOC with nothing to take, then the
  // same id again.
  const auto ioc = order(8, kB, Side::sell, OrderType::ioc, 101, 2);
  EXPECT_EQ(accept(ioc), names({accepted(ioc), cancelled(8, 2, CancelReason::unfilled)}));
  rest(order(8, kB, Side::sell, OrderType::limit, 101, 2));
  // Filled, cancelled or self-trade-cancelled: the id is free again.
  const auto take = order(9, kC, Side::sell, OrderType::limit, 100, 5);
  EXPECT_EQ(accept(take), names({accepted(take), trade(1, 7, kA, 9, kC, Side::sell, 100, 5)}));
  rest(order(7, kD, Side::buy, OrderType::limit, 99, 1, 2));
  EXPECT_TRUE(accept(matching::CancelOrder{.id = 8, .account = kB}).size() == 1);
  rest(order(8, kA, Side::sell, OrderType::limit, 110, 1));
  const auto self = order(10, kA, Side::buy, OrderType::ioc, 110, 1);
  EXPECT_EQ(accept(self), names({accepted(self), cancelled(8, 1, CancelReason::self_trade),
                                 cancelled(10, 1, CancelReason::unfilled)}));
  rest(order(8, kB, Side::buy, OrderType::limit, 50, 1));
}

TEST_F(MatchingTest, APostOnlyOrderThatWouldCrossIsRefused) {
  add(1);
  rest(order(1, kB, Side::sell, OrderType::limit, 100, 5));
  rest(order(2, kB, Side::buy, OrderType::limit, 90, 5));
  EXPECT_TRUE(refused(order(3, kA, Side::buy, OrderType::post_only, 100, 1),
                      Reject::post_only_would_cross));
  EXPECT_TRUE(refused(order(3, kA, Side::buy, OrderType::post_only, 150, 1),
                      Reject::post_only_would_cross));
  EXPECT_TRUE(refused(order(3, kA, Side::sell, OrderType::post_only, 90, 1),
                      Reject::post_only_would_cross));
  EXPECT_TRUE(
      refused(order(3, kA, Side::sell, OrderType::post_only, 1, 1), Reject::post_only_would_cross));
  // Against an order of the same account too: it would cross the best opposite price.
  EXPECT_TRUE(refused(order(3, kB, Side::buy, OrderType::post_only, 100, 1),
                      Reject::post_only_would_cross));
  // One tick inside the spread rests, behind nothing.
  const auto p = order(3, kA, Side::buy, OrderType::post_only, 99, 4);
  EXPECT_EQ(accept(p), names({accepted(p), rested(3, 4, 2)}));
  const auto s = order(4, kA, Side::sell, OrderType::post_only, 100, 4);
  EXPECT_EQ(accept(s), names({accepted(s), rested(4, 4, 3)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{1, 4}));
}

TEST_F(MatchingTest, AFillOrKillOrderThatCannotFillIsRefused) {
  add(1);
  rest(order(1, kB, Side::sell, OrderType::limit, 100, 3));
  rest(order(2, kA, Side::sell, OrderType::limit, 101, 10));  // the taker's own
  rest(order(3, kC, Side::sell, OrderType::limit, 102, 4));
  rest(order(4, kC, Side::sell, OrderType::limit, 103, 50));  // does not cross 102
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::fok, 102, 8), Reject::fok_not_fillable));
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::fok, 99, 1), Reject::fok_not_fillable));
  EXPECT_TRUE(refused(order(5, kB, Side::buy, OrderType::fok, 100, 1), Reject::fok_not_fillable));
  // 3 + 4 from others: exactly 7 fills, own order 2 cancelled on the way.
  const auto f = order(5, kA, Side::buy, OrderType::fok, 102, 7);
  EXPECT_EQ(accept(f), names({accepted(f), trade(1, 1, kB, 5, kA, Side::buy, 100, 3),
                              cancelled(2, 10, CancelReason::self_trade),
                              trade(1, 3, kC, 5, kA, Side::buy, 102, 4)}));
  // With no book at all.
  EXPECT_TRUE(refused(order(6, kA, Side::sell, OrderType::fok, 1, 1), Reject::fok_not_fillable));
}

TEST_F(MatchingTest, CancelOrReplaceOfAnOrderThatIsNotRestingIsRefused) {
  add(1);
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 1, .account = kA}, Reject::unknown_order));
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 1},
                      Reject::unknown_order));
  // Filled, cancelled, an IOC that never rested.
  rest(order(1, kA, Side::sell, OrderType::limit, 100, 1));
  accept(order(2, kB, Side::buy, OrderType::limit, 100, 1));
  rest(order(3, kA, Side::sell, OrderType::limit, 100, 1));
  accept(matching::CancelOrder{.id = 3, .account = kA});
  accept(order(4, kA, Side::buy, OrderType::ioc, 50, 1));
  for (const std::uint64_t id : {1, 2, 3, 4}) {
    EXPECT_TRUE(refused(matching::CancelOrder{.id = id, .account = kA}, Reject::unknown_order));
    EXPECT_TRUE(refused(matching::CancelOrder{.id = id, .account = kB}, Reject::unknown_order));
    EXPECT_TRUE(
        refused(matching::ReplaceOrder{.id = id, .account = kA, .price = 100, .quantity = 1},
                Reject::unknown_order));
  }
  // Checked before the price and the quantity.
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 9, .account = kA, .price = 0, .quantity = 0},
                      Reject::unknown_order));
}

TEST_F(MatchingTest, CancelOrReplaceByAnotherAccountIsRefused) {
  add(1);
  rest(order(1, kA, Side::sell, OrderType::limit, 100, 5));
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 1, .account = kB}, Reject::not_owner));
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kB, .price = 100, .quantity = 1},
                      Reject::not_owner));
  // Checked before the price and the quantity.
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kB, .price = 0, .quantity = 0},
                      Reject::not_owner));
  EXPECT_EQ(accept(matching::CancelOrder{.id = 1, .account = kA}),
            names({cancelled(1, 5, CancelReason::requested)}));
}

// A side or an order type outside its enum never reaches the handler: the engine refuses
// the command as malformed (there is no domain reject code for it).
TEST_F(MatchingTest, AnUndeclaredSideOrTypeIsAMalformedCommand) {
  add(1);
  const lockstep::StateHash hash = k.engine.exec().state_hash();
  const std::pair<std::uint8_t, std::uint8_t> bad[] = {{0, 1}, {3, 1}, {1, 0}, {1, 6}, {2, 255}};
  for (const auto& [side, type] : bad) {
    std::array<std::byte, sizeof(matching::PlaceOrder)> payload{};
    const matching::PlaceOrder c = order(1, kA, Side::buy, OrderType::limit, 100, 1);
    std::memcpy(payload.data(), &c, sizeof c);
    std::memcpy(payload.data() + offsetof(matching::PlaceOrder, side), &side, 1);
    std::memcpy(payload.data() + offsetof(matching::PlaceOrder, type), &type, 1);
    const Result r = Engine::result_of(k.engine.submit_raw(matching::PlaceOrder::kKind, payload));
    EXPECT_TRUE(r.outcome.is(EngineReject::kMalformedCommand))
        << "side " << int{side} << " type " << int{type} << ": " << r.outcome.code();
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.writes, 0u);
  }
  EXPECT_EQ(k.engine.exec().state_hash(), hash);
}

// ---------------------------------------------------------------------------------------
// Matching, replace, cancel.

TEST_F(MatchingTest, FillsGoBestPriceFirstThenEarliestAndTheMakerSetsThePrice) {
  add(1);
  rest(order(1, kB, Side::buy, OrderType::limit, 99, 2));
  rest(order(2, kC, Side::buy, OrderType::limit, 101, 2));
  rest(order(3, kD, Side::buy, OrderType::limit, 100, 2));
  rest(order(4, kB, Side::buy, OrderType::limit, 101, 2));
  EXPECT_EQ(k.engine.book_ids(1, Side::buy), (std::vector<std::uint64_t>{2, 4, 3, 1}));
  const auto s = order(5, kA, Side::sell, OrderType::limit, 99, 7);
  EXPECT_EQ(accept(s), names({accepted(s), trade(1, 2, kC, 5, kA, Side::sell, 101, 2),
                              trade(1, 4, kB, 5, kA, Side::sell, 101, 2),
                              trade(1, 3, kD, 5, kA, Side::sell, 100, 2),
                              trade(1, 1, kB, 5, kA, Side::sell, 99, 1)}));
  // Order 1 keeps 1 and its priority.
  EXPECT_EQ(k.engine.order(1)->quantity, 1u);
  EXPECT_EQ(k.engine.order(1)->priority, 0u);
}

TEST_F(MatchingTest, MarketAndIocRemaindersAreCancelledAndNeverRest) {
  add(1);
  const auto m = order(1, kA, Side::buy, OrderType::market, 0, 5);
  EXPECT_EQ(accept(m), names({accepted(m), cancelled(1, 5, CancelReason::unfilled)}));
  rest(order(2, kB, Side::sell, OrderType::limit, 100, 2));
  rest(order(3, kB, Side::sell, OrderType::limit, 500, 2));
  const auto m2 = order(4, kA, Side::buy, OrderType::market, 0, 5);
  EXPECT_EQ(accept(m2), names({accepted(m2), trade(1, 2, kB, 4, kA, Side::buy, 100, 2),
                               trade(1, 3, kB, 4, kA, Side::buy, 500, 2),
                               cancelled(4, 1, CancelReason::unfilled)}));
  rest(order(5, kB, Side::sell, OrderType::limit, 100, 2));
  const auto i = order(6, kA, Side::buy, OrderType::ioc, 100, 2);
  EXPECT_EQ(accept(i), names({accepted(i), trade(1, 5, kB, 6, kA, Side::buy, 100, 2)}));
  EXPECT_TRUE(k.engine.orders().empty());
}

TEST_F(MatchingTest, AReplaceThatOnlyReducesKeepsPriority) {
  add(1);
  rest(order(1, kA, Side::sell, OrderType::limit, 100, 5));
  rest(order(2, kB, Side::sell, OrderType::limit, 100, 5));
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 3}),
            names({replaced(1, 100, 5, 100, 3, true)}));
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 3}),
            names({replaced(1, 100, 3, 100, 3, true)}));
  EXPECT_EQ(k.engine.order(1)->priority, 0u);
  EXPECT_EQ(k.engine.order(1)->quantity, 3u);
  EXPECT_EQ(k.engine.instrument(1)->next_priority, 2u);
  const auto b = order(3, kC, Side::buy, OrderType::limit, 100, 4);
  EXPECT_EQ(accept(b), names({accepted(b), trade(1, 1, kA, 3, kC, Side::buy, 100, 3),
                              trade(1, 2, kB, 3, kC, Side::buy, 100, 1)}));
}

TEST_F(MatchingTest, AReplaceToALargerQuantityOrAnotherPriceLosesPriority) {
  add(1);
  rest(order(1, kA, Side::sell, OrderType::limit, 100, 5));
  rest(order(2, kB, Side::sell, OrderType::limit, 100, 5));
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 6}),
            names({replaced(1, 100, 5, 100, 6, false), rested(1, 6, 2)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{2, 1}));
  // A worse price, even with less: a new priority.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 2, .account = kB, .price = 101, .quantity = 1}),
            names({replaced(2, 100, 5, 101, 1, false), rested(2, 1, 3)}));
  // Back to 100: behind nothing at 100 but order 1.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 2, .account = kB, .price = 100, .quantity = 1}),
            names({replaced(2, 101, 1, 100, 1, false), rested(2, 1, 4)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{1, 2}));
  const matching::Order* o = k.engine.order(2);
  EXPECT_EQ(o->price, 100);
  EXPECT_EQ(o->level, 100);
  EXPECT_EQ(o->priority, 4u);
}

TEST_F(MatchingTest, AReplaceToACrossingPriceMatchesThenRestsOrIsFilled) {
  add(1);
  rest(order(1, kB, Side::sell, OrderType::limit, 101, 2));
  rest(order(2, kA, Side::sell, OrderType::limit, 102, 2));  // the buyer's own
  rest(order(3, kC, Side::sell, OrderType::limit, 103, 2));
  rest(order(4, kA, Side::buy, OrderType::limit, 90, 3));
  // To 103 with 5: takes 2 from order 1, cancels own order 2, takes 2 from 3, rests 1.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 4, .account = kA, .price = 103, .quantity = 5}),
            names({replaced(4, 90, 3, 103, 5, false), trade(1, 1, kB, 4, kA, Side::buy, 101, 2),
                   cancelled(2, 2, CancelReason::self_trade),
                   trade(1, 3, kC, 4, kA, Side::buy, 103, 2), rested(4, 1, 4)}));
  const matching::Order* o = k.engine.order(4);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->price, 103);
  EXPECT_EQ(o->level, -103);
  EXPECT_EQ(o->quantity, 1u);
  // A sell replaced across it, fully filled: removed, no OrderRested.
  rest(order(5, kD, Side::sell, OrderType::limit, 110, 1));
  EXPECT_EQ(
      accept(matching::ReplaceOrder{.id = 5, .account = kD, .price = 100, .quantity = 1}),
      names({replaced(5, 110, 1, 100, 1, false), trade(1, 4, kA, 5, kD, Side::sell, 103, 1)}));
  EXPECT_EQ(k.engine.order(5), nullptr);
  EXPECT_EQ(k.engine.order(4), nullptr);
  EXPECT_EQ(k.engine.instrument(1)->next_priority, 6u);
}

TEST_F(MatchingTest, CancelRemovesTheOrderAndReportsWhatWasLeft) {
  add(1);
  rest(order(1, kA, Side::sell, OrderType::limit, 100, 5));
  accept(order(2, kB, Side::buy, OrderType::limit, 100, 2));
  EXPECT_EQ(accept(matching::CancelOrder{.id = 1, .account = kA}),
            names({cancelled(1, 3, CancelReason::requested)}));
  EXPECT_TRUE(k.engine.orders().empty());
}

// ---------------------------------------------------------------------------------------
// Good till time: expires_at and ExpireOrders.

TEST_F(MatchingTest, AnExpiryIsRefusedUnlessItIsAfterNowOnALimitOrPostOnlyOrder) {
  add(1);
  // 0 is good till cancelled: no Expiry record.
  const auto g = gtt(1, kA, Side::buy, OrderType::limit, 100, 1, 0);
  EXPECT_EQ(accept(g), names({accepted(g), rested(1, 1, 0)}));
  EXPECT_EQ(k.engine.order(1)->expires_at, 0);
  EXPECT_EQ(expiry_records(), 0u);
  // On a limit or post-only order: now itself, the past, and negative times.
  for (const OrderType t : {OrderType::limit, OrderType::post_only}) {
    for (const Side side : {Side::buy, Side::sell}) {
      SCOPED_TRACE(name(t) + " " + name(side));
      const std::int64_t p = side == Side::buy ? 90 : 110;
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, now()), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, now() - 1), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, now() - 1000), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, 1), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, -1), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, -now() - 1000), Reject::bad_expiry));
      EXPECT_TRUE(refused(gtt(2, kA, side, t, p, 1, kI64Min), Reject::bad_expiry));
    }
  }
  // On an order that cannot rest: any time at all, even one that would do on a limit order.
  for (const OrderType t : {OrderType::market, OrderType::ioc, OrderType::fok}) {
    SCOPED_TRACE(name(t));
    const std::int64_t p = t == OrderType::market ? 0 : 100;
    // Times after now, taken from each command's own now (every command, refused too,
    // takes a sequence and so a later time).
    for (const std::int64_t after : {1, 1000, 1'000'000}) {
      const std::int64_t at = now() + after;
      EXPECT_TRUE(refused(gtt(2, kA, Side::sell, t, p, 1, at), Reject::bad_expiry)) << at;
    }
    for (const std::int64_t at : {kI64Max, std::int64_t{-1}, kI64Min}) {
      EXPECT_TRUE(refused(gtt(2, kA, Side::sell, t, p, 1, at), Reject::bad_expiry)) << at;
    }
    const std::int64_t at_now = now();
    EXPECT_TRUE(refused(gtt(2, kA, Side::sell, t, p, 1, at_now), Reject::bad_expiry));
  }
  // Just after now, on a limit and a post-only order, and the end of time: they rest.
  const auto l = gtt(2, kA, Side::buy, OrderType::limit, 90, 2, now() + 1);
  EXPECT_EQ(accept(l), names({accepted(l), rested(2, 2, 1)}));
  const auto p = gtt(3, kB, Side::sell, OrderType::post_only, 110, 3, now() + 1000);
  EXPECT_EQ(accept(p), names({accepted(p), rested(3, 3, 2)}));
  const auto e = gtt(4, kC, Side::sell, OrderType::limit, 111, 4, kI64Max);
  EXPECT_EQ(accept(e), names({accepted(e), rested(4, 4, 3)}));
  EXPECT_EQ(k.engine.order(2)->expires_at, l.expires_at);
  EXPECT_EQ(k.engine.order(3)->expires_at, p.expires_at);
  EXPECT_EQ(k.engine.order(4)->expires_at, kI64Max);
  EXPECT_EQ(k.engine.expiries(),
            (std::vector<ExpiryState>{{2, l.expires_at}, {3, p.expires_at}, {4, kI64Max}}));
}

TEST_F(MatchingTest, TheExpiryIsCheckedAfterTheQuantityAndBeforeTheOrderId) {
  add(1, 10);
  rest(order(1, kB, Side::sell, OrderType::limit, 100, 5));
  const std::int64_t past = 1;
  // Before it: the instrument, the price, the quantity.
  EXPECT_TRUE(
      refused(gtt(2, kA, Side::buy, OrderType::limit, 90, 1, past, 2), Reject::unknown_instrument));
  EXPECT_TRUE(refused(gtt(2, kA, Side::buy, OrderType::limit, 0, 1, past), Reject::bad_price));
  EXPECT_TRUE(refused(gtt(2, kA, Side::buy, OrderType::market, 90, 1, past), Reject::bad_price));
  EXPECT_TRUE(refused(gtt(2, kA, Side::buy, OrderType::limit, 90, 0, past), Reject::bad_quantity));
  EXPECT_TRUE(refused(gtt(2, kA, Side::buy, OrderType::limit, 90, 11, past), Reject::bad_quantity));
  // After it: the id, post-only crossing, fill-or-kill (fillable or not).
  EXPECT_TRUE(refused(gtt(1, kA, Side::buy, OrderType::limit, 90, 1, past), Reject::bad_expiry));
  EXPECT_TRUE(
      refused(gtt(2, kA, Side::buy, OrderType::post_only, 100, 1, past), Reject::bad_expiry));
  EXPECT_TRUE(
      refused(gtt(2, kA, Side::buy, OrderType::fok, 100, 9, now() + 1000), Reject::bad_expiry));
  EXPECT_TRUE(
      refused(gtt(2, kA, Side::buy, OrderType::fok, 100, 1, now() + 1000), Reject::bad_expiry));
  EXPECT_TRUE(
      refused(gtt(1, kA, Side::buy, OrderType::ioc, 100, 1, now() + 1000), Reject::bad_expiry));
}

TEST_F(MatchingTest, ExpireOrdersExpiresAnOrderAtItsTimeAndAfterButNotBefore) {
  add(1);
  const std::int64_t t1 = now() + 10'000;
  const std::int64_t t2 = t1 + 2000;
  const auto s = gtt(1, kA, Side::sell, OrderType::limit, 100, 5, t1);
  EXPECT_EQ(accept(s), names({accepted(s), rested(1, 5, 0)}));
  const auto b = gtt(2, kB, Side::buy, OrderType::limit, 90, 4, t2);
  EXPECT_EQ(accept(b), names({accepted(b), rested(2, 4, 1)}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{1, t1}, {2, t2}}));
  // Before its time it trades: 3 left.
  const auto i = order(3, kC, Side::buy, OrderType::ioc, 100, 2);
  EXPECT_EQ(accept(i), names({accepted(i), trade(1, 1, kA, 3, kC, Side::buy, 100, 2)}));
  wait_until(t1 - 1000);
  EXPECT_EQ(accept(expire(5)), names({}));
  EXPECT_EQ(k.engine.orders().size(), 2u);
  // At its time: expired, with what is left; order 2's time has not come.
  ASSERT_EQ(now(), t1);
  EXPECT_EQ(accept(expire(5)), names({expired(1, 3)}));
  EXPECT_EQ(k.engine.order(1), nullptr);
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{2, t2}}));
  // After its time.
  wait_until(t2 + 3000);
  EXPECT_EQ(accept(expire(5)), names({expired(2, 4)}));
  EXPECT_TRUE(k.engine.orders().empty());
  EXPECT_EQ(expiry_records(), 0u);
  // Nothing left to expire: it commits all the same, writing nothing.
  const Result r = k.step(expire(5));
  EXPECT_TRUE(r.outcome.is_ok());
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.writes, 0u);
}

TEST_F(MatchingTest, ExpireOrdersGoesSoonestFirstThenByIdUpToItsLimit) {
  add(1);
  add(2);
  const std::int64_t t = now() + 20'000;
  // Placed in an order unlike the one they expire in, on both sides of two books.
  rest(gtt(5, kA, Side::sell, OrderType::limit, 110, 5, t + 2000));
  rest(gtt(7, kB, Side::buy, OrderType::post_only, 90, 7, t));
  rest(gtt(3, kC, Side::sell, OrderType::limit, 120, 3, t, 2));
  rest(order(8, kA, Side::buy, OrderType::limit, 80, 8));               // good till cancelled
  rest(gtt(9, kD, Side::sell, OrderType::limit, 130, 9, t + 100'000));  // far off
  rest(gtt(4, kD, Side::buy, OrderType::limit, 85, 4, t, 2));
  rest(gtt(6, kB, Side::sell, OrderType::limit, 111, 6, t + 3000));
  wait_until(t + 3000);
  EXPECT_EQ(accept(expire(0)), names({}));  // a limit of 0: nothing
  EXPECT_EQ(k.engine.orders().size(), 7u);
  EXPECT_EQ(accept(expire(2)), names({expired(3, 3), expired(4, 4)}));
  EXPECT_EQ(accept(expire(1)), names({expired(7, 7)}));
  EXPECT_EQ(accept(expire(5)), names({expired(5, 5), expired(6, 6)}));
  EXPECT_EQ(accept(expire(5)), names({}));
  std::vector<std::uint64_t> left;
  for (const matching::Order& o : k.engine.orders()) left.push_back(o.id);
  EXPECT_EQ(left, (std::vector<std::uint64_t>{8, 9}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{9, t + 100'000}}));
}

TEST_F(MatchingTest, ATakerExpiresTheExpiredMakersItMeetsAndGoesOn) {
  add(1);
  const std::int64_t t = now() + 10'000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 5, t));
  rest(order(2, kC, Side::sell, OrderType::limit, 100, 3));
  rest(gtt(3, kB, Side::sell, OrderType::post_only, 101, 4, t));
  rest(order(4, kD, Side::sell, OrderType::limit, 102, 2));
  rest(gtt(5, kC, Side::sell, OrderType::limit, 105, 1, t));  // expired, but not crossed
  wait_until(t);
  const auto b = order(6, kA, Side::buy, OrderType::limit, 102, 6);
  EXPECT_EQ(accept(b),
            names({accepted(b), expired(1, 5), trade(1, 2, kC, 6, kA, Side::buy, 100, 3),
                   expired(3, 4), trade(1, 4, kD, 6, kA, Side::buy, 102, 2), rested(6, 1, 5)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{5, t}}));
}

TEST_F(MatchingTest, AMakerTradesBeforeItsTimeAndIsExpiredFromIt) {
  add(1);
  const std::int64_t t = now() + 5000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 5, t));
  wait_until(t - 1000);
  const auto b = order(2, kA, Side::buy, OrderType::ioc, 100, 2);
  EXPECT_EQ(accept(b), names({accepted(b), trade(1, 1, kB, 2, kA, Side::buy, 100, 2)}));
  ASSERT_EQ(now(), t);
  const auto b2 = order(3, kA, Side::buy, OrderType::ioc, 100, 2);
  EXPECT_EQ(accept(b2),
            names({accepted(b2), expired(1, 3), cancelled(3, 2, CancelReason::unfilled)}));
  EXPECT_TRUE(k.engine.orders().empty());
  EXPECT_EQ(expiry_records(), 0u);
}

TEST_F(MatchingTest, AnExpiredMakerOfTheTakersAccountIsExpiredNotCancelled) {
  add(1);
  const std::int64_t t = now() + 5000;
  rest(gtt(1, kA, Side::sell, OrderType::limit, 100, 2, t));
  rest(order(2, kA, Side::sell, OrderType::limit, 100, 3));
  rest(order(3, kB, Side::sell, OrderType::limit, 101, 4));
  wait_until(t);
  const auto m = order(4, kA, Side::buy, OrderType::market, 0, 5);
  EXPECT_EQ(accept(m), names({accepted(m), expired(1, 2), cancelled(2, 3, CancelReason::self_trade),
                              trade(1, 3, kB, 4, kA, Side::buy, 101, 4),
                              cancelled(4, 1, CancelReason::unfilled)}));
  EXPECT_TRUE(k.engine.orders().empty());
  EXPECT_EQ(expiry_records(), 0u);
}

TEST_F(MatchingTest, AReplaceMatchedAgainExpiresTheExpiredMakersItMeets) {
  add(1);
  const std::int64_t t = now() + 5000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 3, t));
  rest(order(2, kC, Side::sell, OrderType::limit, 101, 2));
  rest(order(3, kA, Side::buy, OrderType::limit, 90, 4));
  wait_until(t);
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 3, .account = kA, .price = 101, .quantity = 4}),
            names({replaced(3, 90, 4, 101, 4, false), expired(1, 3),
                   trade(1, 2, kC, 3, kA, Side::buy, 101, 2), rested(3, 2, 3)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), std::vector<std::uint64_t>{});
  EXPECT_EQ(expiry_records(), 0u);
}

TEST_F(MatchingTest, AFillOrKillOrderDoesNotCountExpiredMakers) {
  add(1);
  const std::int64_t t = now() + 10'000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 3, t));
  rest(order(2, kC, Side::sell, OrderType::limit, 101, 4));
  rest(gtt(3, kD, Side::sell, OrderType::limit, 101, 5, t));
  rest(gtt(4, kC, Side::sell, OrderType::limit, 102, 2, t + 1'000'000));  // not yet
  wait_until(t);
  // 4 + 2 of orders that have not expired (12 more if the expired ones counted).
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::fok, 102, 7), Reject::fok_not_fillable));
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::fok, 101, 5), Reject::fok_not_fillable));
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::fok, 100, 1), Reject::fok_not_fillable));
  const auto f = order(5, kA, Side::buy, OrderType::fok, 102, 6);
  EXPECT_EQ(accept(f), names({accepted(f), expired(1, 3), trade(1, 2, kC, 5, kA, Side::buy, 101, 4),
                              expired(3, 5), trade(1, 4, kC, 5, kA, Side::buy, 102, 2)}));
  EXPECT_TRUE(k.engine.orders().empty());
  EXPECT_EQ(expiry_records(), 0u);
}

TEST_F(MatchingTest, APostOnlyOrderIsNotBlockedByExpiredOrdersAndLeavesThem) {
  add(1);
  const std::int64_t t = now() + 10'000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 5, t));
  rest(gtt(2, kC, Side::sell, OrderType::post_only, 101, 5, t));
  rest(order(3, kB, Side::sell, OrderType::limit, 103, 5));
  wait_until(t);
  // Across 1 and 2, both expired: it rests, and they stay.
  const auto p = order(4, kA, Side::buy, OrderType::post_only, 102, 3);
  EXPECT_EQ(accept(p), names({accepted(p), rested(4, 3, 3)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{1, t}, {2, t}}));
  // Across order 3, which has not expired, behind the two that have: refused.
  EXPECT_TRUE(refused(order(5, kA, Side::buy, OrderType::post_only, 103, 1),
                      Reject::post_only_would_cross));
  EXPECT_TRUE(refused(gtt(5, kA, Side::buy, OrderType::post_only, 104, 1, t + 100'000),
                      Reject::post_only_would_cross));
  // The expired best's own account's post-only order, at its price, with an expiry.
  const auto p2 = gtt(5, kB, Side::buy, OrderType::post_only, 100, 1, t + 100'000);
  EXPECT_EQ(accept(p2), names({accepted(p2), rested(5, 1, 4)}));
  EXPECT_EQ(accept(expire(5)), names({expired(1, 5), expired(2, 5)}));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(k.engine.book_ids(1, Side::buy), (std::vector<std::uint64_t>{4, 5}));
}

TEST_F(MatchingTest, CancelOrReplaceOfAnExpiredOrderIsRefusedAndChangesNothing) {
  add(1);
  const std::int64_t t = now() + 5000;
  rest(gtt(1, kA, Side::sell, OrderType::limit, 100, 5, t));
  wait_until(t - 1000);
  // Just before its time, a replace is fine.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 4}),
            names({replaced(1, 100, 5, 100, 4, true)}));
  ASSERT_EQ(now(), t);
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 1, .account = kA}, Reject::order_expired));
  for (const auto& [price, quantity] :
       std::vector<std::pair<std::int64_t, std::uint64_t>>{{100, 4}, {100, 3}, {101, 9}, {90, 1}}) {
    EXPECT_TRUE(refused(
        matching::ReplaceOrder{.id = 1, .account = kA, .price = price, .quantity = quantity},
        Reject::order_expired))
        << price << " " << quantity;
  }
  // After unknown_order and not_owner; before the price and the quantity.
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 2, .account = kA}, Reject::unknown_order));
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 1, .account = kB}, Reject::not_owner));
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kB, .price = 0, .quantity = 0},
                      Reject::not_owner));
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = 0, .quantity = 4},
                      Reject::order_expired));
  EXPECT_TRUE(refused(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 0},
                      Reject::order_expired));
  // It is left, as it was, for ExpireOrders (or a taker).
  EXPECT_EQ(k.engine.order(1)->quantity, 4u);
  EXPECT_EQ(accept(expire(1)), names({expired(1, 4)}));
  EXPECT_TRUE(refused(matching::CancelOrder{.id = 1, .account = kA}, Reject::unknown_order));
}

TEST_F(MatchingTest, AReplaceKeepsTheExpiryWhetherItKeepsPriorityOrRestsAgain) {
  add(1);
  const std::int64_t t = now() + 20'000;
  rest(gtt(1, kA, Side::sell, OrderType::limit, 100, 5, t));
  rest(order(2, kB, Side::buy, OrderType::limit, 95, 2));
  const std::vector<ExpiryState> expiry{{1, t}};
  // Priority kept.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 100, .quantity = 4}),
            names({replaced(1, 100, 5, 100, 4, true)}));
  EXPECT_EQ(k.engine.order(1)->expires_at, t);
  EXPECT_EQ(k.engine.expiries(), expiry);
  // Rests again, at another price.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 101, .quantity = 6}),
            names({replaced(1, 100, 4, 101, 6, false), rested(1, 6, 2)}));
  EXPECT_EQ(k.engine.order(1)->expires_at, t);
  EXPECT_EQ(k.engine.expiries(), expiry);
  // Matched again, then rests.
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 95, .quantity = 8}),
            names({replaced(1, 101, 6, 95, 8, false), trade(1, 2, kB, 1, kA, Side::sell, 95, 2),
                   rested(1, 6, 3)}));
  EXPECT_EQ(k.engine.order(1)->expires_at, t);
  EXPECT_EQ(k.engine.order(1)->priority, 3u);
  EXPECT_EQ(k.engine.expiries(), expiry);
  // And it expires then.
  wait_until(t - 1000);
  EXPECT_EQ(accept(expire(5)), names({}));
  EXPECT_EQ(accept(expire(5)), names({expired(1, 6)}));
  EXPECT_EQ(expiry_records(), 0u);
}

TEST_F(MatchingTest, AnOrderThatLeavesTheBookBeforeItsTimeLeavesNoExpiryRecord) {
  add(1);
  const std::int64_t t = now() + 20'000;
  rest(gtt(1, kB, Side::sell, OrderType::limit, 100, 2, t));      // to be filled
  rest(gtt(2, kB, Side::sell, OrderType::limit, 110, 2, t));      // cancelled
  rest(gtt(3, kA, Side::sell, OrderType::limit, 101, 2, t));      // self-trade cancelled
  rest(gtt(4, kC, Side::buy, OrderType::limit, 90, 3, t));        // replaced and filled
  rest(gtt(5, kD, Side::sell, OrderType::post_only, 120, 5, t));  // partly filled
  rest(order(6, kB, Side::sell, OrderType::limit, 105, 1));
  EXPECT_EQ(expiry_records(), 5u);
  const auto b = order(7, kC, Side::buy, OrderType::ioc, 100, 2);
  EXPECT_EQ(accept(b), names({accepted(b), trade(1, 1, kB, 7, kC, Side::buy, 100, 2)}));
  EXPECT_EQ(accept(matching::CancelOrder{.id = 2, .account = kB}),
            names({cancelled(2, 2, CancelReason::requested)}));
  const auto s = order(8, kA, Side::buy, OrderType::ioc, 101, 1);
  EXPECT_EQ(accept(s), names({accepted(s), cancelled(3, 2, CancelReason::self_trade),
                              cancelled(8, 1, CancelReason::unfilled)}));
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 4, .account = kC, .price = 105, .quantity = 1}),
            names({replaced(4, 90, 3, 105, 1, false), trade(1, 6, kB, 4, kC, Side::buy, 105, 1)}));
  const auto p = order(9, kA, Side::buy, OrderType::ioc, 120, 2);
  EXPECT_EQ(accept(p), names({accepted(p), trade(1, 5, kD, 9, kA, Side::buy, 120, 2)}));
  EXPECT_EQ(k.engine.expiries(), (std::vector<ExpiryState>{{5, t}}));
  // At their time only order 5 is left to expire, with what is left of it.
  wait_until(t);
  EXPECT_EQ(accept(expire(10)), names({expired(5, 3)}));
  EXPECT_EQ(std::get<2>(k.engine.exec().tables()).size(), 0u);
  EXPECT_TRUE(k.engine.orders().empty());
}

// ---------------------------------------------------------------------------------------
// More than one batch of kBookBatch resting orders.

class MatchingDeepTest : public MatchingTest {
 protected:
  // `count` resting sells of `quantity` each on instrument 1: the first `at_100` (by
  // index) at 100, the others at 101..109. Every `own_every`-th is account kA's (0: none),
  // the others kB's, kC's and kD's in turn. Placed in a scrambled order, so priorities
  // interleave across prices. Ids are 1000 + index.
  void build_sells(int count, int at_100, int own_every, std::uint64_t quantity = 1) {
    ASSERT_EQ(std::gcd(count, 37), 1);
    for (int j = 0; j < count; ++j) {
      const int i = (j * 37) % count;
      const std::int64_t price = i < at_100 ? 100 : 101 + (i * 7) % 9;
      const std::uint64_t account =
          own_every != 0 && i % own_every == 0 ? kA : kB + static_cast<std::uint64_t>(i % 3);
      rest(order(1000 + static_cast<std::uint64_t>(i), account, Side::sell, OrderType::limit, price,
                 quantity));
    }
    k.expect_same_books();
  }
  // What a buy at `price` by `account` could fill now: the crossing quantity of other
  // accounts (from the engine's book).
  std::uint64_t fillable(std::int64_t price, std::uint64_t account) {
    std::uint64_t sum = 0;
    for (const matching::Order& o : k.engine.book(1, Side::sell)) {
      if (o.price <= price && o.account != account) sum += o.quantity;
    }
    return sum;
  }
  // The events a buy by kA at `price` with `quantity` must make against the book as it
  // is (made from the engine's book, not from the reference book): self-trade cancels
  // and trades in (level, priority) order. Call it before the command runs, in a statement
  // of its own: the order in which one call's arguments are evaluated is unspecified (GCC
  // and clang differ), so `EXPECT_EQ(accept(x), names(sweep(...)))` may sweep the book
  // after the command has changed it.
  std::vector<Event> sweep(std::uint64_t taker, std::uint64_t account, std::int64_t price,
                           std::uint64_t quantity) {
    std::vector<Event> v;
    for (const matching::Order& o : k.engine.book(1, Side::sell)) {
      if (quantity == 0 || o.price > price) break;
      if (o.account == account) {
        v.push_back(cancelled(o.id, o.quantity, CancelReason::self_trade));
        continue;
      }
      const std::uint64_t q = std::min(quantity, o.quantity);
      v.push_back(trade(1, o.id, o.account, taker, account, Side::buy, o.price, q));
      quantity -= q;
    }
    return v;
  }
  static std::size_t trades_in(const std::vector<Event>& events) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [](const Event& e) {
      return std::holds_alternative<matching::Trade>(e);
    }));
  }
  static std::vector<Event> with(std::vector<Event> first, const std::vector<Event>& then) {
    first.insert(first.end(), then.begin(), then.end());
    return first;
  }
};

TEST_F(MatchingDeepTest, FillOrKillSumsAcrossBatchesAndLevels) {
  add(1);
  build_sells(150, 70, 5);  // 70 at 100 (14 own), 80 at 101..109 (16 own)
  ASSERT_GT(k.engine.book(1, Side::sell).size(), 2u * kBatch);
  ASSERT_EQ(fillable(109, kA), 120u);
  EXPECT_TRUE(refused(order(1, kA, Side::buy, OrderType::fok, 109, 121), Reject::fok_not_fillable));
  EXPECT_TRUE(
      refused(order(1, kA, Side::buy, OrderType::fok, 109, kU64Max), Reject::fok_not_fillable));
  // Within level 100 only, which is longer than a batch: 56 of others.
  ASSERT_EQ(fillable(100, kA), 56u);
  EXPECT_TRUE(refused(order(1, kA, Side::buy, OrderType::fok, 100, 57), Reject::fok_not_fillable));
  // Another account counts A's orders too: all 150.
  EXPECT_TRUE(refused(order(1, kB, Side::buy, OrderType::fok, 109, 151), Reject::fok_not_fillable));
  // Exactly what others have: fills, cancelling A's own orders on the way.
  const auto f = order(1, kA, Side::buy, OrderType::fok, 109, 120);
  const std::vector<Event> expected = with({accepted(f)}, sweep(1, kA, 109, 120));
  EXPECT_EQ(trades_in(expected), 120u);
  EXPECT_EQ(accept(f), names(expected));
  // What is left, if anything, is A's own orders behind the last of the others'.
  EXPECT_EQ(k.engine.orders().size(), 150u - (expected.size() - 1));
  EXPECT_EQ(fillable(kMaxPrice, kA), 0u);
}

TEST_F(MatchingDeepTest, FillOrKillWithinALevelLongerThanABatch) {
  add(1);
  build_sells(150, 70, 5);
  const auto f = order(1, kA, Side::buy, OrderType::fok, 100, 56);
  const std::vector<Event> expected = with({accepted(f)}, sweep(1, kA, 100, 56));
  EXPECT_EQ(trades_in(expected), 56u);
  EXPECT_EQ(accept(f), names(expected));
  // Level 100 holds only A's orders now, if any; the 80 at 101..109 are all there.
  EXPECT_EQ(fillable(100, kA), 0u);
  EXPECT_EQ(k.engine.book(1, Side::sell).size(), 150u - (expected.size() - 1));
  EXPECT_EQ(fillable(kMaxPrice, kA), 64u);
}

TEST_F(MatchingDeepTest, FillOrKillWhenABatchEndsAtALevelBoundary) {
  add(1);
  build_sells(150, static_cast<int>(kBatch), 5);  // exactly one batch at 100
  for (const std::int64_t price : {100, 101, 102, 105, 109}) {
    SCOPED_TRACE(price);
    const std::uint64_t can = fillable(price, kA);
    EXPECT_TRUE(
        refused(order(1, kA, Side::buy, OrderType::fok, price, can + 1), Reject::fok_not_fillable));
  }
  const std::uint64_t can = fillable(102, kA);
  const auto f = order(1, kA, Side::buy, OrderType::fok, 102, can);
  const std::vector<Event> expected = with({accepted(f)}, sweep(1, kA, 102, can));
  EXPECT_EQ(accept(f), names(expected));
  EXPECT_EQ(fillable(102, kA), 0u);
}

TEST_F(MatchingDeepTest, FillOrKillEndingInsideAMakerLeavesItItsRestAndPriority) {
  add(1);
  build_sells(150, 70, 5, 2);
  ASSERT_EQ(fillable(109, kA), 240u);
  EXPECT_TRUE(refused(order(1, kA, Side::buy, OrderType::fok, 109, 241), Reject::fok_not_fillable));
  const auto f = order(1, kA, Side::buy, OrderType::fok, 109, 201);
  const std::vector<Event> expected = with({accepted(f)}, sweep(1, kA, 109, 201));
  const auto& last = std::get<matching::Trade>(expected.back());
  ASSERT_EQ(last.quantity, 1u);
  const std::uint64_t priority = k.engine.order(last.maker_order)->priority;
  EXPECT_EQ(accept(f), names(expected));
  const matching::Order* o = k.engine.order(last.maker_order);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->quantity, 1u);
  EXPECT_EQ(o->priority, priority);
  EXPECT_EQ(k.engine.book_ids(1, Side::sell).front(), last.maker_order);
}

TEST_F(MatchingDeepTest, ALimitOrderSweepsMoreThanABatchAndRestsTheRest) {
  add(1);
  build_sells(150, 70, 0);  // none of A's
  const auto b = order(1, kA, Side::buy, OrderType::limit, 109, 200);
  const std::vector<Event> expected =
      with(with({accepted(b)}, sweep(1, kA, 109, 200)), {rested(1, 50, 150)});
  ASSERT_EQ(expected.size(), 152u);
  EXPECT_EQ(accept(b), names(expected));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), std::vector<std::uint64_t>{});
  EXPECT_EQ(k.engine.book_ids(1, Side::buy), std::vector<std::uint64_t>{1});
}

TEST_F(MatchingDeepTest, AMarketOrderSweepsMoreThanABatch) {
  add(1);
  build_sells(150, 70, 5);
  const auto m = order(1, kA, Side::buy, OrderType::market, 0, 119);
  const std::vector<Event> expected = with({accepted(m)}, sweep(1, kA, kMaxPrice, 119));
  EXPECT_EQ(accept(m), names(expected));
  // The last order of others is left, and A's orders behind it.
  EXPECT_EQ(fillable(109, kA), 1u);
  const auto m2 = order(2, kA, Side::buy, OrderType::market, 0, 5);
  const std::vector<Event> expected2 = with(with({accepted(m2)}, sweep(2, kA, kMaxPrice, 5)),
                                            {cancelled(2, 4, CancelReason::unfilled)});
  EXPECT_EQ(accept(m2), names(expected2));
  EXPECT_TRUE(k.engine.orders().empty());
}

TEST_F(MatchingDeepTest, AReplaceSweepsMoreThanABatch) {
  add(1);
  build_sells(150, 70, 0);
  rest(order(1, kA, Side::buy, OrderType::limit, 90, 5));
  const std::vector<Event> expected = with(
      with({replaced(1, 90, 5, 109, 160, false)}, sweep(1, kA, 109, 160)), {rested(1, 10, 151)});
  EXPECT_EQ(accept(matching::ReplaceOrder{.id = 1, .account = kA, .price = 109, .quantity = 160}),
            names(expected));
  EXPECT_EQ(k.engine.book_ids(1, Side::sell), std::vector<std::uint64_t>{});
}

TEST_F(MatchingDeepTest, ABatchOfOnlyOwnOrdersIsCancelledAndMatchingGoesOn) {
  add(1);
  // A's 64 (then 65) best sells at 100, others' at 101.
  for (std::uint64_t i = 0; i < kBatch + 1; ++i) {
    rest(order(2000 + i, kA, Side::sell, OrderType::limit, 100, 1));
  }
  for (std::uint64_t i = 0; i < 100; ++i) {
    rest(order(3000 + i, kB + i % 3, Side::sell, OrderType::limit, 101, 1));
  }
  const auto b = order(1, kA, Side::buy, OrderType::limit, 101, 100);
  const std::vector<Event> expected = with({accepted(b)}, sweep(1, kA, 101, 100));
  ASSERT_EQ(expected.size(), 1u + kBatch + 1 + 100);
  EXPECT_EQ(accept(b), names(expected));
  EXPECT_TRUE(k.engine.orders().empty());
}

TEST_F(MatchingDeepTest, ATakerFilledByExactlyOneBatchStops) {
  add(1);
  build_sells(130, 0, 0);
  const auto b = order(1, kA, Side::buy, OrderType::limit, 109, kBatch);
  const std::vector<Event> expected = with({accepted(b)}, sweep(1, kA, 109, kBatch));
  EXPECT_EQ(accept(b), names(expected));
  EXPECT_EQ(k.engine.book(1, Side::sell).size(), 130u - kBatch);
  const auto b2 = order(2, kA, Side::buy, OrderType::ioc, 109, kBatch + 1);
  const std::vector<Event> expected2 = with({accepted(b2)}, sweep(2, kA, 109, kBatch + 1));
  EXPECT_EQ(accept(b2), names(expected2));
  EXPECT_EQ(k.engine.book(1, Side::sell).size(), 130u - 2 * kBatch - 1);
}

// Takers that end at, just before and just after the end of each batch of match():
// kFirstBookBatch resting orders, then twice as many each time up to kBookBatch (after 4,
// 12, 28, 60, 124 and 188 orders). fillable() reads in batches of the same sizes, but
// splits each at the end of a level, so where its batches end depends on the book: the
// fill-or-kill orders here run over levels that change at every order, which does not pin
// those ends (the deep-book tests above do, for one layout each).
TEST_F(MatchingDeepTest, TakersEndingAtAndAroundEachBatchEnd) {
  std::vector<std::uint64_t> ends;
  for (std::uint64_t batch = matching::kFirstBookBatch, end = batch; end < 190;
       batch = std::min<std::uint64_t>(2 * batch, kBatch), end += batch) {
    ends.push_back(end);
  }
  ASSERT_EQ(ends, (std::vector<std::uint64_t>{4, 12, 28, 60, 124, 188}));
  add(1);
  std::uint64_t maker = 1000;
  std::uint64_t taker = 1;
  for (const std::uint64_t end : ends) {
    for (const std::uint64_t n : {end - 1, end, end + 1}) {
      SCOPED_TRACE(n);
      // n + 2 sells of 1 by others, on levels 100 to 103 in turn: batches end inside
      // levels and at their edges.
      for (std::uint64_t i = 0; i < n + 2; ++i) {
        rest(order(maker++, kB + i % 3, Side::sell, OrderType::limit,
                   100 + static_cast<std::int64_t>(i % 4), 1));
      }
      EXPECT_TRUE(refused(order(taker++, kA, Side::buy, OrderType::fok, 103, n + 3),
                          Reject::fok_not_fillable));
      const auto f = order(taker++, kA, Side::buy, OrderType::fok, 103, n);
      const std::vector<Event> expected = with({accepted(f)}, sweep(f.id, kA, 103, n));
      EXPECT_EQ(trades_in(expected), n);
      EXPECT_EQ(accept(f), names(expected));
      EXPECT_EQ(k.engine.book(1, Side::sell).size(), 2u);
      // An IOC for 5 takes the last 2 and cancels the rest of itself.
      const auto i = order(taker++, kA, Side::buy, OrderType::ioc, 103, 5);
      const std::vector<Event> expected_ioc = with(with({accepted(i)}, sweep(i.id, kA, 103, 5)),
                                                   {cancelled(i.id, 3, CancelReason::unfilled)});
      EXPECT_EQ(accept(i), names(expected_ioc));
      EXPECT_TRUE(k.engine.book(1, Side::sell).empty());
    }
  }
}

// would_take() and fillable() read the book in batches (a post-only order's first batch
// is one order), and match() takes it in batches: expired orders across several batches
// and levels, then one that has not expired.
TEST_F(MatchingDeepTest, ExpiredOrdersAcrossBatchesNeitherBlockPostOnlyNorCountForFillOrKill) {
  add(1);
  const std::int64_t t = now() + 160'000;
  for (std::uint64_t i = 0; i < 150; ++i) {
    rest(gtt(1000 + i, kB + i % 3, Side::sell, OrderType::limit,
             100 + static_cast<std::int64_t>(i % 5), 1 + i % 2, t));
  }
  rest(order(2000, kC, Side::sell, OrderType::limit, 104, 2));  // behind every one of them
  wait_until(t);
  // Across the 120 expired orders at 100 to 103: rests.
  const auto p = order(1, kA, Side::buy, OrderType::post_only, 103, 1);
  EXPECT_EQ(accept(p), names({accepted(p), rested(1, 1, 151)}));
  EXPECT_TRUE(refused(order(2, kA, Side::buy, OrderType::post_only, 104, 1),
                      Reject::post_only_would_cross));
  EXPECT_TRUE(refused(order(2, kA, Side::buy, OrderType::fok, 104, 3), Reject::fok_not_fillable));
  EXPECT_TRUE(
      refused(order(2, kA, Side::buy, OrderType::fok, kMaxPrice, 3), Reject::fok_not_fillable));
  const auto f = order(2, kA, Side::buy, OrderType::fok, 104, 2);
  std::vector<Event> expected{accepted(f)};
  for (const matching::Order& o : k.engine.book(1, Side::sell)) {
    expected.push_back(o.id == 2000 ? trade(1, 2000, kC, 2, kA, Side::buy, 104, 2)
                                    : expired(o.id, o.quantity));
  }
  ASSERT_EQ(expected.size(), 152u);
  EXPECT_EQ(accept(f), names(expected));
  EXPECT_TRUE(k.engine.book(1, Side::sell).empty());
  EXPECT_EQ(expiry_records(), 0u);
}

// Each expiry costs two writes and an event: kMaxExpiriesPerCommand keeps ExpireOrders
// within the engine's per-command limits, whatever its limit.
TEST_F(MatchingDeepTest, ExpireOrdersExpiresAtMost1000OrdersInOneCommand) {
  ASSERT_EQ(matching::kMaxExpiriesPerCommand, 1000u);
  add(1);
  const std::int64_t t = now() + 1'010'000;
  // Ids from 5000 down to 4000, all expiring at t: they go by id.
  for (std::uint64_t i = 0; i <= 1000; ++i) {
    rest(gtt(5000 - i, kB + i % 3, i % 2 == 0 ? Side::sell : Side::buy, OrderType::limit,
             i % 2 == 0 ? 200 + static_cast<std::int64_t>(i % 7) : 100, 1, t));
  }
  wait_until(t);
  std::vector<Event> expected;
  for (std::uint64_t id = 4000; id < 5000; ++id) expected.push_back(expired(id, 1));
  EXPECT_EQ(accept(expire(0xFFFFFFFFu)), names(expected));
  EXPECT_EQ(expiry_records(), 1u);
  EXPECT_EQ(accept(expire(1001)), names({expired(5000, 1)}));
  EXPECT_TRUE(k.engine.orders().empty());
}

// ---------------------------------------------------------------------------------------
// The model-based test.

constexpr std::uint64_t kAccounts = 4;

class Generator {
 public:
  Generator(std::uint64_t seed, bool deep) : rng_(seed), deep_(deep), ids_(deep ? 3000 : 400) {}

  Command next(const RefBook& m) {
    ++count_;
    const std::vector<Resting> resting = m.resting();
    const std::uint64_t r = below(100);
    if (r < 3) return add_instrument();
    if (r < 7) return expire_orders();
    if (r < (deep_ ? 80 : 63)) return place(m, resting);
    if (r < (deep_ ? 86 : 78)) return cancel(resting);
    return replace(resting);
  }

 private:
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool percent(std::uint64_t p) { return below(100) < p; }
  std::int64_t offset(std::uint64_t n) { return static_cast<std::int64_t>(below(n)); }
  std::uint64_t account() { return 1 + below(kAccounts); }

  matching::AddInstrument add_instrument() {
    static constexpr std::uint64_t kMax[] = {0, 15, 20, 25};
    return {.max_quantity = kMax[below(4)], .id = static_cast<std::uint32_t>(below(5))};
  }

  // Small limits, so that expired orders are often left for takers, cancels and replaces
  // to meet; now and then no limit at all.
  matching::ExpireOrders expire_orders() {
    return {.limit = percent(5) ? 0xFFFFFFFFu : static_cast<std::uint32_t>(below(6))};
  }

  // The expiry of an order of `type` placed at `now`: mostly 0 (good till cancelled); on
  // limit and post-only orders now and then a time within a few commands (often on a
  // command's time, so that expiries tie), or far off; and now and then one that is
  // refused (now, the past, negative, or any time on an order that cannot rest).
  std::int64_t expiry(std::int64_t now, OrderType type) {
    const bool rests = type == OrderType::limit || type == OrderType::post_only;
    if (percent(3)) {
      switch (below(5)) {
        case 0: return now;
        case 1: return now - 1 - offset(5000);
        case 2: return -1 - offset(1000);
        case 3: return kI64Min;
        default: return rests ? 1 : now + 1000 * (1 + offset(10));
      }
    }
    if (!rests) return percent(2) ? now + 1000 * (1 + offset(10)) : 0;
    if (!percent(deep_ ? 20 : 35)) return 0;
    const std::uint64_t how = below(10);
    if (how < 5) return now + 1000 * (1 + offset(8));
    if (how < 7) return now + 1 + offset(3000);
    if (how < 9) return now + 1000 * (50 + offset(3000));
    return kI64Max - offset(2);
  }

  // Deep books: small passive orders, and now and then a large aggressive one.
  std::uint64_t quantity(const RefBook& m, std::uint32_t instrument, bool passive) {
    const std::uint64_t r = below(100);
    if (r < 2) return 0;
    if (r < 3) return kU64Max - below(2);
    if (r < 5) {
      const RefBook::Instrument* in = m.instrument(instrument);
      const std::uint64_t max = in != nullptr && in->max_quantity != 0 ? in->max_quantity : 20;
      return max + below(2);  // the maximum, or one more
    }
    if (deep_) return passive ? 1 + below(10) : r < 9 ? 1 + below(1000) : 1 + below(10);
    return 1 + below(20);
  }

  matching::PlaceOrder place(const RefBook& m, const std::vector<Resting>& resting) {
    matching::PlaceOrder c;
    // Deep books: mostly instrument 1 (no maximum quantity), so that it gets deep.
    c.instrument = percent(3)             ? 9
                   : deep_ && percent(60) ? 1
                                          : static_cast<std::uint32_t>(1 + below(4));
    c.account = account();
    const std::uint64_t pick = below(100);
    if (pick < 10 && !resting.empty()) {
      c.id = resting[below(resting.size())].id;
    } else if (pick < 18) {
      c.id = below(ids_ + 1);
    } else {
      c.id = next_id_;
      next_id_ = next_id_ % ids_ + 1;
    }
    c.side = percent(50) ? Side::buy : Side::sell;
    const std::uint64_t t = below(100);
    c.type = t < 35   ? OrderType::limit
             : t < 45 ? OrderType::market
             : t < 60 ? OrderType::ioc
             : t < 80 ? OrderType::fok
                      : OrderType::post_only;
    std::int64_t& mid = mid_.try_emplace(c.instrument, 100).first->second;
    if (!deep_ || percent(10)) mid = std::clamp<std::int64_t>(mid + offset(3) - 1, 30, 300);
    bool passive = false;
    // Deep books: in cycles of 500 commands, 350 that only add resting orders (while
    // fewer than 500 rest: a sweep of every order of a side stays far below the engine's
    // limit of event bytes per command), then 150 of every kind.
    const bool building = deep_ && count_ % 500 < 350 && resting.size() < 500;
    if (building) c.type = percent(70) ? OrderType::limit : OrderType::post_only;
    if (deep_) {
      // Mostly resting orders away from the middle, fewer once the books are deep.
      const bool rests = c.type == OrderType::limit || c.type == OrderType::post_only;
      passive = building || percent(rests ? (resting.size() > 400 ? 50 : 95) : 40);
      const std::int64_t off = offset(passive ? 25 : 40);
      const bool up = (c.side == Side::buy) != passive;
      c.price = up ? mid + 1 + off : mid - off;
    } else {
      c.price = mid + offset(9) - 4;
    }
    if (c.type == OrderType::market) c.price = 0;
    if (percent(3)) {
      static constexpr std::int64_t kBad[] = {0, -1, kMaxPrice + 1, kI64Min, -100};
      c.price = c.type == OrderType::market ? (percent(50) ? mid : -1) : kBad[below(5)];
    } else if (c.type != OrderType::market && percent(1)) {
      c.price = percent(50) ? 1 : kMaxPrice;
    }
    c.quantity = quantity(m, c.instrument, passive);
    c.expires_at = expiry(m.next_time(), c.type);
    return c;
  }

  matching::CancelOrder cancel(const std::vector<Resting>& resting) {
    matching::CancelOrder c;
    if (!resting.empty() && percent(75)) {
      const Resting& o = resting[below(resting.size())];
      c.id = o.id;
      c.account = percent(85) ? o.account : account();
    } else {
      c.id = below(ids_ + 1);
      c.account = account();
    }
    return c;
  }

  matching::ReplaceOrder replace(const std::vector<Resting>& resting) {
    matching::ReplaceOrder c;
    if (!resting.empty() && percent(85)) {
      const Resting& o = resting[below(resting.size())];
      c.id = o.id;
      c.account = percent(90) ? o.account : account();
      const std::uint64_t how = below(100);
      if (how < 25) {  // the same price, the same or less
        c.price = o.price;
        c.quantity = 1 + below(o.quantity);
      } else if (how < 35) {  // the same price, more
        c.price = o.price;
        c.quantity = o.quantity + 1 + below(10);
      } else {
        const std::int64_t span = deep_ ? 41 : 11;
        c.price = std::max<std::int64_t>(
            1, o.price + offset(static_cast<std::uint64_t>(span)) - span / 2);
        c.quantity = 1 + below(20);
      }
    } else {
      c.id = below(ids_ + 1);
      c.account = account();
      c.price = 90 + offset(20);
      c.quantity = 1 + below(20);
    }
    if (percent(3)) {
      static constexpr std::int64_t kBad[] = {0, -2, kMaxPrice + 1};
      c.price = kBad[below(3)];
    }
    if (percent(3)) c.quantity = percent(70) ? 0 : kU64Max;
    return c;
  }

  std::mt19937_64 rng_;
  bool deep_;
  std::uint64_t ids_;  // order ids are 1..ids_, reused round robin (and 0 now and then)
  std::map<std::uint32_t, std::int64_t> mid_;
  std::uint64_t next_id_ = 1;
  std::uint64_t count_ = 0;  // commands made
};

// Runs `commands` random commands from `seed` through the engine and the reference book.
Stats run_stream(std::uint64_t seed, bool deep, int commands) {
  const std::string trace = cat("seed ", seed, deep ? " (deep books)" : "",
                                " (LOCKSTEP_SEED replays the streams from a base seed)");
  SCOPED_TRACE(trace);
  Checked k;
  Generator g(seed, deep);
  k.step(matching::AddInstrument{.max_quantity = 0, .id = 1});
  k.step(matching::AddInstrument{.max_quantity = 20, .id = 2});
  for (int i = 0; i < commands; ++i) {
    const Command c = g.next(k.model);
    k.step(c);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "stopped at command " << i << ": " << describe(c);
      return k.stats;
    }
    if ((i + 1) % 250 == 0) k.expect_same_books();
  }
  k.expect_same_books();
  return k.stats;
}

constexpr int kSeeds = 5;
constexpr int kDeepSeeds = 2;
constexpr int kCommands = 3000;
constexpr int kDeepCommands = 6000;

// The streams run once; both tests below read their statistics.
const Stats& stream_stats() {
  static const Stats total = [] {
    const char* env = std::getenv("LOCKSTEP_SEED");
    const std::uint64_t base = env != nullptr ? std::strtoull(env, nullptr, 10) : 1;
    Stats all;
    for (int s = 0; s < kSeeds + kDeepSeeds; ++s) {
      const std::uint64_t seed = base + static_cast<std::uint64_t>(s);
      const bool deep = s >= kSeeds;
      const Stats st = run_stream(seed, deep, deep ? kDeepCommands : kCommands);
      std::printf(
          "matching model seed %llu%s: %llu commands, %llu accepted, %llu trades, %llu "
          "self-trade cancels, %llu rested (%llu with an expiry), %llu unfilled, %llu "
          "cancelled, %llu/%llu replaces kept/lost priority, %llu/%llu expired by "
          "takers/ExpireOrders (%llu ExpireOrders with nothing), %llu post-only rested and "
          "%llu fill-or-kill crossed past expired orders, at most %zu makers in one command, "
          "%zu resting\n",
          static_cast<unsigned long long>(seed), deep ? " (deep)" : "",
          static_cast<unsigned long long>(st.commands),
          static_cast<unsigned long long>(st.outcomes.count(0) ? st.outcomes.at(0) : 0),
          static_cast<unsigned long long>(st.trades),
          static_cast<unsigned long long>(st.self_trades),
          static_cast<unsigned long long>(st.rested),
          static_cast<unsigned long long>(st.rested_gtt),
          static_cast<unsigned long long>(st.unfilled),
          static_cast<unsigned long long>(st.requested),
          static_cast<unsigned long long>(st.kept_priority),
          static_cast<unsigned long long>(st.lost_priority),
          static_cast<unsigned long long>(st.expired_taken),
          static_cast<unsigned long long>(st.expired_swept),
          static_cast<unsigned long long>(st.empty_sweeps),
          static_cast<unsigned long long>(st.post_only_past_expired),
          static_cast<unsigned long long>(st.fok_past_expired), st.most_makers, st.most_resting);
      all.add(st);
      if (::testing::Test::HasFailure()) break;
    }
    return all;
  }();
  return total;
}

TEST(MatchingModel, RandomStreamsMatchTheReferenceBook) {
  const Stats& s = stream_stats();
  EXPECT_EQ(s.commands, static_cast<std::uint64_t>(kSeeds * (kCommands + 2) +
                                                   kDeepSeeds * (kDeepCommands + 2)));
  // The streams did what they are for.
  EXPECT_GT(s.trades, 1000u);
  EXPECT_GT(s.self_trades, 100u);
  EXPECT_GT(s.rested, 1000u);
  EXPECT_GT(s.unfilled, 100u);
  EXPECT_GT(s.requested, 100u);
  EXPECT_GT(s.kept_priority, 100u);
  EXPECT_GT(s.lost_priority, 100u);
  EXPECT_GT(s.rested_gtt, 1000u);
  EXPECT_GT(s.expired_taken, 100u);
  EXPECT_GT(s.expired_swept, 100u);
  EXPECT_GT(s.empty_sweeps, 100u);
  EXPECT_GT(s.post_only_past_expired, 10u);
  EXPECT_GT(s.fok_past_expired, 10u);
  EXPECT_GT(s.most_makers, std::size_t{kBatch}) << "no command took more than one batch";
}

// The last reject code of matching.lss: codes are 1 to it.
constexpr Reject kLastReject = Reject::order_expired;

TEST(MatchingModel, EveryRejectCodeIsReachedByTheStreams) {
  const Stats& s = stream_stats();
  ASSERT_EQ(static_cast<std::uint32_t>(kLastReject), 12u);
  for (std::uint32_t code = 1; code <= static_cast<std::uint32_t>(kLastReject); ++code) {
    const auto it = s.outcomes.find(code);
    const std::uint64_t n = it == s.outcomes.end() ? 0 : it->second;
    std::printf("  %-22s %llu\n", name(static_cast<Reject>(code)).c_str(),
                static_cast<unsigned long long>(n));
    EXPECT_GT(n, 0u) << name(static_cast<Reject>(code)) << " never reached";
  }
  // And nothing else: no engine refusal.
  for (const auto& [code, n] : s.outcomes) {
    EXPECT_LE(code, static_cast<std::uint32_t>(kLastReject)) << n << " outcomes with code " << code;
  }
}

// ---------------------------------------------------------------------------------------
// A command the engine refuses while it matches (a per-command limit reached) is refused
// whole, and the handler returns.

// The engine's default limit of 64 KiB of events per command: OrderAccepted and 1023
// trades fill it, and the next event is refused. Once refused, erase() changes nothing, so
// every batch would hold the same resting orders again (a batch of only the taker's own
// orders "cancelled" over and over): match() must stop (Tx::refused()).
TEST(MatchingLimits, AnOrderRefusedForItsEventsWhileMatchingIsRefusedAndEnds) {
  Engine e;
  ASSERT_TRUE(e.run(matching::AddInstrument{.max_quantity = 0, .id = 1}).outcome.is_ok());
  for (std::uint64_t i = 0; i < 1023; ++i) {
    ASSERT_TRUE(
        e.run(order(100'000 + i, kB, Side::sell, OrderType::limit, 100, 1)).outcome.is_ok());
  }
  for (std::uint64_t i = 0; i < kBatch; ++i) {
    ASSERT_TRUE(
        e.run(order(200'000 + i, kA, Side::sell, OrderType::limit, 101, 1)).outcome.is_ok());
  }
  const lockstep::StateHash hash = e.exec().state_hash();
  const Result r = e.run(order(1, kA, Side::buy, OrderType::market, 0, 2000));
  EXPECT_EQ(r.outcome, Outcome::engine(EngineReject::kCapacityExceeded,
                                       lockstep::kLimitDetailBase |
                                           static_cast<std::uint32_t>(
                                               lockstep::EngineLimit::kEventBytesPerCommand)));
  EXPECT_EQ(e.exec().state_hash(), hash);
  EXPECT_EQ(e.orders().size(), 1023u + kBatch);
}

// modify() returns null once the command's write limit is reached: here 5 makers are
// erased (5 writes, the limit), then rest() must not use the instrument it cannot modify.
TEST(MatchingLimits, AnOrderRefusedForItsWritesWhileMatchingIsRefused) {
  lockstep::EngineOptions options = Engine::default_options();
  options.limits.writes_per_command_max = 5;
  Engine e(options);
  ASSERT_TRUE(e.run(matching::AddInstrument{.max_quantity = 0, .id = 1}).outcome.is_ok());
  for (std::uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(e.run(order(100 + i, kB, Side::sell, OrderType::limit, 100, 1)).outcome.is_ok());
  }
  const lockstep::StateHash hash = e.exec().state_hash();
  const Result r = e.run(order(1, kA, Side::buy, OrderType::limit, 100, 6));
  EXPECT_TRUE(r.outcome.is(EngineReject::kCapacityExceeded)) << r.outcome.code();
  EXPECT_EQ(e.exec().state_hash(), hash);
  EXPECT_EQ(e.orders().size(), 5u);
}

// The same on a partial fill: 4 makers erased (the limit of 4 writes), then the fifth
// maker, partly filled, cannot be modified.
TEST(MatchingLimits, APartialFillPastTheWriteLimitIsRefused) {
  lockstep::EngineOptions options = Engine::default_options();
  options.limits.writes_per_command_max = 4;
  Engine e(options);
  ASSERT_TRUE(e.run(matching::AddInstrument{.max_quantity = 0, .id = 1}).outcome.is_ok());
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(e.run(order(100 + i, kB, Side::sell, OrderType::limit, 100, 1)).outcome.is_ok());
  }
  ASSERT_TRUE(e.run(order(200, kB, Side::sell, OrderType::limit, 100, 10)).outcome.is_ok());
  const lockstep::StateHash hash = e.exec().state_hash();
  const Result r = e.run(order(1, kA, Side::buy, OrderType::ioc, 100, 6));
  EXPECT_TRUE(r.outcome.is(EngineReject::kCapacityExceeded)) << r.outcome.code();
  EXPECT_EQ(e.exec().state_hash(), hash);
  EXPECT_EQ(e.orders().size(), 5u);
}

}  // namespace
