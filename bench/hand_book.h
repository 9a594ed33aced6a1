// HandBook: the matching domain's rules (docs/matching.md) written by hand on standard
// containers, with no engine: the baseline of bench/matching_bench.cc, checked against
// Executor<matching::Domain> outcome for outcome and event for event by
// tests/matching_hand_book_test.cc.
//
// Layout, as a hand-written book would be kept for speed:
//   - per instrument and side, a std::map from level (price for a sell, -price for a buy,
//     as the schema's Order.level, so begin() is the best price on both sides) to the FIFO
//     of its resting orders: a doubly linked list through node indexes;
//   - the nodes in one std::vector, reused through a free list (no allocation per order
//     once the pool has grown to the most orders that rest at once);
//   - an absl::flat_hash_map from order id to node index; each node keeps its level's map
//     iterator, so a cancel unlinks in O(1).
// What it leaves out of the engine's work: staging (undo log), the TxResult (command,
// after-images), the state hash and the journal. It leaves out good-till-time orders and
// ExpireOrders too: the generated flow (domains/matching/order_flow.h) has none, so a
// PlaceOrder's expires_at is not read here.
//
// Every command returns kAccepted (0) or its matching::Reject code, checked in the
// handlers' order, and appends to *out exactly the events its handler emits, in the same
// order, as the schema's event structs. A refused command appends nothing and changes
// nothing.
//
// Thread safety: none; one thread at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <variant>
#include <vector>

#include "matching_domain.h"
#include "order_flow.h"

namespace matching_bench {

// One event, as the handlers emit it: the same type list as the engine's events (the
// hand book never emits OrderExpired: the benchmark's flows place no good-till-time orders).
using HandEvent =
    std::variant<matching::OrderAccepted, matching::Trade, matching::OrderRested,
                 matching::OrderCancelled, matching::OrderReplaced, matching::OrderExpired>;
// The caller's event buffer: commands append; the caller clears it when it likes (the
// benchmark once per batch, as the engine reuses its result buffer).
using HandEvents = std::vector<HandEvent>;

inline constexpr std::uint32_t kAccepted = 0;

class HandBook {
 public:
  // `orders_max`: the resting orders to allocate for at construction (the node pool and
  // the id map); more may rest, then they grow.
  explicit HandBook(std::size_t orders_max) {
    nodes_.reserve(orders_max);
    free_.reserve(orders_max);
    by_id_.reserve(orders_max);
  }
  HandBook(const HandBook&) = delete;
  HandBook& operator=(const HandBook&) = delete;

  std::uint32_t add_instrument(const matching::AddInstrument& c) {
    if (c.id == 0) return code(matching::Reject::bad_instrument);
    auto [it, fresh] = books_.try_emplace(c.id);
    if (!fresh) return code(matching::Reject::instrument_exists);
    it->second = std::make_unique<Book>();
    it->second->id = c.id;
    it->second->max_quantity = c.max_quantity;
    return kAccepted;
  }

  // REQUIRES (as the engine's enum check guarantees a handler): c.side and c.type are
  // values of their enums.
  std::uint32_t place(const matching::PlaceOrder& c, HandEvents* out) {
    const auto found = books_.find(c.instrument);
    if (found == books_.end()) return code(matching::Reject::unknown_instrument);
    Book& book = *found->second;
    const bool market = c.type == matching::OrderType::market;
    if (market ? c.price != 0 : !price_ok(c.price)) return code(matching::Reject::bad_price);
    if (!quantity_ok(c.quantity, book)) return code(matching::Reject::bad_quantity);
    if (by_id_.contains(c.id)) return code(matching::Reject::order_id_in_use);
    Taker t{.id = c.id,
            .account = c.account,
            .side = c.side,
            .price = c.price,
            .limit = market ? kLevelMax : limit_of(c.side, c.price),
            .left = c.quantity};
    Levels& other = book.levels(opposite(c.side));
    if (c.type == matching::OrderType::post_only && !other.empty() &&
        other.begin()->first <= t.limit) {
      return code(matching::Reject::post_only_would_cross);
    }
    if (c.type == matching::OrderType::fok && !fillable(other, t)) {
      return code(matching::Reject::fok_not_fillable);
    }
    out->emplace_back(matching::OrderAccepted{.id = c.id,
                                              .account = c.account,
                                              .price = c.price,
                                              .quantity = c.quantity,
                                              .instrument = c.instrument,
                                              .side = c.side,
                                              .type = c.type});
    if (c.type != matching::OrderType::post_only) match(book, other, t, out);
    if (t.left == 0) return kAccepted;
    if (c.type == matching::OrderType::limit || c.type == matching::OrderType::post_only) {
      const std::uint32_t i = new_node();
      by_id_.emplace(c.id, i);
      rest(book, t, i, out);
    } else {
      out->emplace_back(matching::OrderCancelled{
          .id = c.id, .quantity = t.left, .reason = matching::CancelReason::unfilled});
    }
    return kAccepted;
  }

  std::uint32_t cancel(const matching::CancelOrder& c, HandEvents* out) {
    const auto found = by_id_.find(c.id);
    if (found == by_id_.end()) return code(matching::Reject::unknown_order);
    const std::uint32_t i = found->second;
    const Node& n = nodes_[i];
    if (n.account != c.account) return code(matching::Reject::not_owner);
    out->emplace_back(matching::OrderCancelled{
        .id = n.id, .quantity = n.quantity, .reason = matching::CancelReason::requested});
    unlink(i);
    by_id_.erase(found);
    free_.push_back(i);
    return kAccepted;
  }

  std::uint32_t replace(const matching::ReplaceOrder& c, HandEvents* out) {
    const auto found = by_id_.find(c.id);
    if (found == by_id_.end()) return code(matching::Reject::unknown_order);
    const std::uint32_t i = found->second;
    Node& n = nodes_[i];  // stays put: nothing below adds nodes
    if (n.account != c.account) return code(matching::Reject::not_owner);
    if (!price_ok(c.price)) return code(matching::Reject::bad_price);
    Book& book = *n.book;
    if (!quantity_ok(c.quantity, book)) return code(matching::Reject::bad_quantity);
    // A pure quantity reduction (or nothing) at the same price keeps priority.
    const bool keeps = c.price == n.price && c.quantity <= n.quantity;
    out->emplace_back(matching::OrderReplaced{.id = c.id,
                                              .old_price = n.price,
                                              .old_quantity = n.quantity,
                                              .new_price = c.price,
                                              .new_quantity = c.quantity,
                                              .kept_priority = keeps});
    if (keeps) {
      n.quantity = c.quantity;
      return kAccepted;
    }
    // Out of its level, matched as an incoming limit order at the new price, and what is
    // left rests anew in the same node.
    unlink(i);
    Taker t{.id = c.id,
            .account = c.account,
            .side = n.side,
            .price = c.price,
            .limit = limit_of(n.side, c.price),
            .left = c.quantity};
    match(book, book.levels(opposite(n.side)), t, out);
    if (t.left == 0) {
      by_id_.erase(c.id);  // `found` may be stale: match() erased other ids
      free_.push_back(i);
      return kAccepted;
    }
    rest(book, t, i, out);
    return kAccepted;
  }

  // A generated flow's command (domains/matching/order_flow.h).
  std::uint32_t execute(const matching::FlowCommand& c, HandEvents* out) {
    switch (c.kind) {
      case matching::PlaceOrder::kKind: return place(c.place, out);
      case matching::CancelOrder::kKind: return cancel(c.cancel, out);
      default: assert(c.kind == matching::ReplaceOrder::kKind); return replace(c.replace, out);
    }
  }

  // ---- Inspection (tests): not on the hot path.

  std::size_t resting() const noexcept { return by_id_.size(); }

  // Every resting order as the engine's Order record holds it, by ascending id.
  std::vector<matching::Order> orders() const {
    std::vector<matching::Order> v;
    for (const auto& [id, i] : by_id_) {
      const Node& n = nodes_[i];
      v.push_back(matching::Order{.id = n.id,
                                  .account = n.account,
                                  .price = n.price,
                                  .quantity = n.quantity,
                                  .level = level_of(n.side, n.price),
                                  .priority = n.priority,
                                  .instrument = n.book->id,
                                  .side = n.side});
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return v;
  }

  // The ids of one side of one book in the order it fills them: best level first, then
  // each level's FIFO.
  std::vector<std::uint64_t> book_ids(std::uint32_t instrument, matching::Side side) const {
    std::vector<std::uint64_t> v;
    const auto found = books_.find(instrument);
    if (found == books_.end()) return v;
    for (const auto& [level, l] : found->second->levels(side)) {
      for (std::uint32_t i = l.head; i != kNil; i = nodes_[i].next) v.push_back(nodes_[i].id);
    }
    return v;
  }

  // Every instrument as the engine's Instrument record holds it, by ascending id.
  std::vector<matching::Instrument> instruments() const {
    std::vector<matching::Instrument> v;
    for (const auto& [id, b] : books_) {
      v.push_back(matching::Instrument{
          .max_quantity = b->max_quantity, .next_priority = b->next_priority, .id = b->id});
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return v;
  }

 private:
  static constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::int64_t kLevelMax = std::numeric_limits<std::int64_t>::max();

  struct Level {
    std::uint32_t head = kNil;  // the earliest priority
    std::uint32_t tail = kNil;  // the latest
  };
  using Levels = std::map<std::int64_t, Level>;  // by level, ascending: best first

  struct Book {
    std::uint64_t max_quantity = 0;
    std::uint64_t next_priority = 0;
    std::uint32_t id = 0;
    Levels sides[2];  // buy, sell
    Levels& levels(matching::Side s) { return sides[s == matching::Side::buy ? 0 : 1]; }
    const Levels& levels(matching::Side s) const { return sides[s == matching::Side::buy ? 0 : 1]; }
  };

  struct Node {
    std::uint64_t id = 0;
    std::uint64_t account = 0;
    std::int64_t price = 0;
    std::uint64_t quantity = 0;
    std::uint64_t priority = 0;
    Book* book = nullptr;
    Levels::iterator level;
    std::uint32_t prev = kNil;
    std::uint32_t next = kNil;
    matching::Side side{};
  };

  // An incoming order (or a replaced one, matched again) while it takes from the book.
  struct Taker {
    std::uint64_t id;
    std::uint64_t account;
    matching::Side side;
    std::int64_t price;
    std::int64_t limit;  // the worst level of the other side it crosses
    std::uint64_t left;
  };

  static constexpr std::uint32_t code(matching::Reject r) { return static_cast<std::uint32_t>(r); }
  static matching::Side opposite(matching::Side s) {
    return s == matching::Side::buy ? matching::Side::sell : matching::Side::buy;
  }
  static std::int64_t level_of(matching::Side s, std::int64_t price) {
    return s == matching::Side::buy ? -price : price;
  }
  // A buy at `price` crosses a sell at or below it (level = price); a sell crosses a buy
  // at or above it (level = -buy price <= -price).
  static std::int64_t limit_of(matching::Side taker, std::int64_t price) {
    return taker == matching::Side::buy ? price : -price;
  }
  static bool price_ok(std::int64_t p) { return p > 0 && p <= matching::kMaxPrice; }
  static bool quantity_ok(std::uint64_t q, const Book& b) {
    return q > 0 && (b.max_quantity == 0 || q <= b.max_quantity);
  }

  std::uint32_t new_node() {
    if (!free_.empty()) {
      const std::uint32_t i = free_.back();
      free_.pop_back();
      return i;
    }
    nodes_.emplace_back();
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }

  // Appends node i to the FIFO of its level (created if new).
  void link(std::uint32_t i) {
    Node& n = nodes_[i];
    const auto [lv, fresh] = n.book->levels(n.side).try_emplace(level_of(n.side, n.price));
    Level& l = lv->second;
    n.level = lv;
    n.prev = l.tail;
    n.next = kNil;
    if (l.tail == kNil) {
      l.head = i;
    } else {
      nodes_[l.tail].next = i;
    }
    l.tail = i;
  }

  // Takes node i out of its level's FIFO, and the level out of its side once empty.
  void unlink(std::uint32_t i) {
    const Node& n = nodes_[i];
    Level& l = n.level->second;
    (n.prev == kNil ? l.head : nodes_[n.prev].next) = n.next;
    (n.next == kNil ? l.tail : nodes_[n.next].prev) = n.prev;
    if (l.head == kNil) n.book->levels(n.side).erase(n.level);
  }

  // Takes a filled or self-trade-cancelled maker out of the book.
  void remove(std::uint32_t i) {
    const std::uint64_t id = nodes_[i].id;
    unlink(i);
    by_id_.erase(id);
    free_.push_back(i);
  }

  // Fills the taker against `other`, best level first, earliest first within a level; a
  // resting order of the taker's own account is cancelled instead (self-trade
  // prevention). Stops when the taker is filled or the best order no longer crosses.
  void match(const Book& book, Levels& other, Taker& t, HandEvents* out) {
    while (t.left > 0 && !other.empty()) {
      const auto best = other.begin();
      if (best->first > t.limit) return;
      const std::uint32_t i = best->second.head;
      Node& m = nodes_[i];
      if (m.account == t.account) {
        out->emplace_back(matching::OrderCancelled{
            .id = m.id, .quantity = m.quantity, .reason = matching::CancelReason::self_trade});
        remove(i);
        continue;
      }
      const std::uint64_t q = std::min(t.left, m.quantity);
      out->emplace_back(matching::Trade{.maker_order = m.id,
                                        .taker_order = t.id,
                                        .maker_account = m.account,
                                        .taker_account = t.account,
                                        .price = m.price,
                                        .quantity = q,
                                        .instrument = book.id,
                                        .taker_side = t.side});
      t.left -= q;
      m.quantity -= q;
      if (m.quantity == 0) remove(i);
    }
  }

  // Whether a fill-or-kill taker fills completely now: the crossing resting orders of
  // other accounts hold at least t.left. Writes nothing.
  bool fillable(const Levels& other, const Taker& t) const {
    std::uint64_t sum = 0;
    for (const auto& [level, l] : other) {
      if (level > t.limit) return false;
      for (std::uint32_t i = l.head; i != kNil; i = nodes_[i].next) {
        const Node& m = nodes_[i];
        if (m.account == t.account) continue;
        sum += std::min(m.quantity, t.left - sum);
        if (sum >= t.left) return true;
      }
    }
    return false;
  }

  // Rests what is left of `t` in node i (already in by_id_) with the instrument's next
  // priority: the tail of its level.
  void rest(Book& book, const Taker& t, std::uint32_t i, HandEvents* out) {
    Node& n = nodes_[i];
    n.id = t.id;
    n.account = t.account;
    n.price = t.price;
    n.quantity = t.left;
    n.priority = book.next_priority++;
    n.book = &book;
    n.side = t.side;
    link(i);
    out->emplace_back(
        matching::OrderRested{.id = t.id, .quantity = t.left, .priority = n.priority});
  }

  absl::flat_hash_map<std::uint32_t, std::unique_ptr<Book>> books_;  // by instrument id
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> free_;  // nodes_ not in use, the most recently freed last
  absl::flat_hash_map<std::uint64_t, std::uint32_t> by_id_;  // resting order id -> node
};

}  // namespace matching_bench
