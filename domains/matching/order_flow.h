// A generated order flow for the matching domain (docs/matching.md, "Generated order
// flow"): what `lockstep-loadgen matching` submits and what the matching benchmark
// executes. Deterministic for a seed; it never looks at the engine's state.
//
// Orders are priced around a mid price per instrument that walks one tick at a time
// (every walk_every orders on that instrument).
// Orders that may rest (limit, post-only) are remembered; cancels and replaces pick one
// of them at random, so some find the order already filled (`unknown_order`), as real
// cancels racing fills do. When more than `resting_max` are remembered, the next command
// cancels one, which bounds the book.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "matching.schema.h"

namespace matching {

struct FlowOptions {
  std::uint32_t instruments = 1;  // ids 1..instruments, at most kMaxFlowInstruments
  std::uint64_t accounts = 1000;  // ids 1..accounts
  // The mix of new orders, in parts (need not sum to 100; each at most kMaxFlowParts).
  std::uint32_t limit_parts = 60;
  std::uint32_t market_parts = 5;
  std::uint32_t ioc_parts = 10;
  std::uint32_t fok_parts = 5;
  std::uint32_t post_only_parts = 20;
  // Of all commands, the percentage that cancel and that replace a remembered order.
  std::uint32_t cancel_percent = 30;
  std::uint32_t replace_percent = 5;
  // Prices: a buy is priced mid - spread/2 + t, a sell mid + spread/2 - t, with t
  // triangular on [-spread, spread]: most rest near the mid, some cross.
  std::int64_t mid = 100'000;        // the first mid, in ticks; spread <= (mid - 2) / 2
  std::int64_t spread = 20;          // ticks
  std::uint32_t walk_every = 64;     // orders on an instrument between steps of its mid (0: never)
  std::uint64_t max_quantity = 100;  // quantities 1..max_quantity
  std::uint64_t resting_max = 10'000;  // remembered orders per flow, at most kMaxFlowResting
  std::uint64_t seed = 1;
  // Order ids are first_id, first_id + 1, ...: flows that run side by side take
  // disjoint ranges.
  std::uint64_t first_id = 1;
};

inline constexpr std::uint32_t kMaxFlowInstruments = 1u << 20;
inline constexpr std::uint32_t kMaxFlowParts = 1'000'000;
inline constexpr std::uint64_t kMaxFlowResting = 1u << 22;
inline constexpr std::int64_t kMaxFlowMid = std::int64_t{1} << 40;

// Checks the options; throws std::invalid_argument naming the bad one and its range.
inline void validate(const FlowOptions& o) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (o.instruments == 0 || o.instruments > kMaxFlowInstruments) {
    fail("instruments must be in [1, " + std::to_string(kMaxFlowInstruments) + "]");
  }
  if (o.accounts == 0) fail("accounts must be at least 1");
  for (const std::uint32_t parts :
       {o.limit_parts, o.market_parts, o.ioc_parts, o.fok_parts, o.post_only_parts}) {
    if (parts > kMaxFlowParts) {
      fail("each part of the order-type mix must be at most " + std::to_string(kMaxFlowParts));
    }
  }
  if (o.limit_parts + o.market_parts + o.ioc_parts + o.fok_parts + o.post_only_parts == 0) {
    fail("the order-type mix has no parts");
  }
  if (o.cancel_percent > 100 || o.replace_percent > 100 ||
      o.cancel_percent + o.replace_percent > 100) {
    fail("cancel + replace percent is over 100");
  }
  if (o.mid < 2 || o.mid > kMaxFlowMid) {
    fail("mid must be in [2, " + std::to_string(kMaxFlowMid) + "]");
  }
  if (o.spread < 0 || o.spread > (o.mid - 2) / 2) {
    fail("spread must be in [0, " + std::to_string((o.mid - 2) / 2) + "] (below half the mid, " +
         std::to_string(o.mid) + ")");
  }
  if (o.max_quantity == 0) fail("max quantity must be at least 1");
  if (o.resting_max > kMaxFlowResting) {
    fail("resting max must be at most " + std::to_string(kMaxFlowResting));
  }
  if (o.first_id == 0) fail("order ids start at 1");
}

// An instrument a flow runs on: ids 1..instruments, added before the flow.
inline AddInstrument flow_instrument(std::uint32_t id) {
  return AddInstrument{.max_quantity = 0, .id = id};
}

// One command: its kind, and the union member that kind names (the only live one).
struct FlowCommand {
  std::uint16_t kind = 0;
  union {
    PlaceOrder place;
    CancelOrder cancel;
    ReplaceOrder replace;
  };
  FlowCommand() : place{} {}
  const void* data() const {
    switch (kind) {
      case CancelOrder::kKind: return &cancel;
      case ReplaceOrder::kKind: return &replace;
      default: assert(kind == PlaceOrder::kKind); return &place;
    }
  }
  std::size_t size() const {
    switch (kind) {
      case CancelOrder::kKind: return sizeof(CancelOrder);
      case ReplaceOrder::kKind: return sizeof(ReplaceOrder);
      default: assert(kind == PlaceOrder::kKind); return sizeof(PlaceOrder);
    }
  }
};

class OrderFlow {
 public:
  explicit OrderFlow(const FlowOptions& o)
      : o_(o),
        state_(o.seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull),
        next_id_(o.first_id) {
    validate(o);
    mids_.assign(o.instruments, o.mid);
    placed_.assign(o.instruments, 0);
    total_parts_ = o.limit_parts + o.market_parts + o.ioc_parts + o.fok_parts + o.post_only_parts;
  }

  // The instruments, to add before the flow.
  std::vector<AddInstrument> instruments() const {
    std::vector<AddInstrument> v;
    for (std::uint32_t i = 1; i <= o_.instruments; ++i) v.push_back(flow_instrument(i));
    return v;
  }

  FlowCommand next() {
    FlowCommand c;
    const std::uint64_t roll = below(100);
    if (!resting_.empty() && (resting_.size() > o_.resting_max || roll < o_.cancel_percent)) {
      const Remembered r = take(below(resting_.size()));
      c.kind = CancelOrder::kKind;
      std::construct_at(&c.cancel, CancelOrder{.id = r.id, .account = r.account});
      return c;
    }
    if (!resting_.empty() && roll < o_.cancel_percent + o_.replace_percent) {
      // A new price near the mid and a new quantity; the order stays remembered under
      // its id (a replace that crosses may fill it).
      Remembered& r = resting_[below(resting_.size())];
      c.kind = ReplaceOrder::kKind;
      const std::int64_t new_price = price(r.instrument, r.side);
      std::construct_at(
          &c.replace,
          ReplaceOrder{
              .id = r.id, .account = r.account, .price = new_price, .quantity = quantity()});
      return c;
    }
    c.kind = PlaceOrder::kKind;
    PlaceOrder& p = c.place;
    p.id = next_id_++;
    p.account = 1 + below(o_.accounts);
    p.instrument = static_cast<std::uint32_t>(1 + below(o_.instruments));
    p.side = below(2) == 0 ? Side::buy : Side::sell;
    p.type = type();
    p.quantity = quantity();
    p.price = p.type == OrderType::market ? 0 : price(p.instrument, p.side);
    if (p.type == OrderType::limit || p.type == OrderType::post_only) {
      resting_.push_back({p.id, p.account, p.instrument, p.side});
    }
    if (o_.walk_every != 0 && ++placed_[p.instrument - 1] % o_.walk_every == 0) {
      std::int64_t& mid = mids_[p.instrument - 1];
      mid += below(2) == 0 ? -1 : 1;
      mid = std::clamp<std::int64_t>(mid, 2 * o_.spread + 2, kMaxFlowMid);
    }
    return c;
  }

  std::size_t remembered() const { return resting_.size(); }

 private:
  struct Remembered {
    std::uint64_t id;
    std::uint64_t account;
    std::uint32_t instrument;
    Side side;
  };

  // splitmix64: fast, and the same on every platform (unlike the standard
  // distributions).
  std::uint64_t random() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return random() % n; }

  Remembered take(std::uint64_t i) {
    const Remembered r = resting_[i];
    resting_[i] = resting_.back();
    resting_.pop_back();
    return r;
  }

  OrderType type() {
    std::uint64_t r = below(total_parts_);
    if (r < o_.limit_parts) return OrderType::limit;
    r -= o_.limit_parts;
    if (r < o_.market_parts) return OrderType::market;
    r -= o_.market_parts;
    if (r < o_.ioc_parts) return OrderType::ioc;
    r -= o_.ioc_parts;
    if (r < o_.fok_parts) return OrderType::fok;
    return OrderType::post_only;
  }

  std::int64_t price(std::uint32_t instrument, Side side) {
    const auto width = static_cast<std::uint64_t>(o_.spread) + 1;
    const std::int64_t t = static_cast<std::int64_t>(below(width) + below(width)) - o_.spread;
    const std::int64_t mid = mids_[instrument - 1];
    return side == Side::buy ? mid - o_.spread / 2 + t : mid + o_.spread / 2 - t;
  }

  std::uint64_t quantity() { return 1 + below(o_.max_quantity); }

  FlowOptions o_;
  std::uint64_t state_;
  std::uint64_t next_id_;
  std::uint64_t total_parts_ = 0;
  std::vector<std::uint64_t> placed_;  // orders placed, per instrument
  std::vector<std::int64_t> mids_;
  std::vector<Remembered> resting_;
};

}  // namespace matching
