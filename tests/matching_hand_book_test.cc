// The matching benchmark's baseline (bench/hand_book.h) does the engine's work: seeded
// order flows (domains/matching/order_flow.h) run through Executor<matching::Domain>
// (batches of 64, as in the benchmark) and through HandBook, and every command must give
// the same outcome and the same events (kinds and bytes, in order); every few thousand
// commands and at the end, the same resting orders (every field), the same instruments
// and the same order of each book side.
//
// One stream per test, each from its own FlowOptions: the benchmark's defaults, few
// accounts (self-trade prevention), many instruments, heavy cancel and replace,
// fill-or-kill heavy, deep sweeps (large market orders injected), and a stream with faults
// injected (every reject code).
// LOCKSTEP_SEED=N runs every stream from seed N instead of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "engine/executor.h"
#include "engine/tx_result.h"
#include "hand_book.h"
#include "matching_domain.h"
#include "matching_support.h"
#include "order_flow.h"
#include "tx_results.h"

namespace {

using matching::CancelReason;
using matching::FlowCommand;
using matching::FlowOptions;
using matching::Reject;
using matching::Side;
using matching_bench::HandBook;
using matching_bench::HandEvent;
using matching_bench::HandEvents;
using matching_support::bytes_of;
using matching_support::cat;
using matching_support::decode_event;
using matching_support::describe;
using matching_support::describe_all;
using matching_support::instruments_of;
using matching_support::orders_of;

// The hand book emits the engine's events, so the shared decoding, descriptions and bytes
// apply to both.
static_assert(std::is_same_v<HandEvent, matching_support::Event>);

constexpr std::size_t kBatch = 64;
constexpr std::uint32_t kOrdersMax = 1u << 15;  // resting orders: a flow keeps <= 10,001
constexpr int kCommands = 20'000;
constexpr int kCompareEvery = 5'000;

// ---------------------------------------------------------------------------------------
// Descriptions of commands, for failure messages (events: matching_support.h).

std::string describe(const FlowCommand& c) {
  switch (c.kind) {
    case matching::PlaceOrder::kKind:
      return cat("PlaceOrder{", c.place.id, " acct ", c.place.account, " inst ", c.place.instrument,
                 " side ", int(c.place.side), " type ", int(c.place.type), " px ", c.place.price,
                 " qty ", c.place.quantity, "}");
    case matching::CancelOrder::kKind:
      return cat("CancelOrder{", c.cancel.id, " acct ", c.cancel.account, "}");
    default:
      return cat("ReplaceOrder{", c.replace.id, " acct ", c.replace.account, " px ",
                 c.replace.price, " qty ", c.replace.quantity, "}");
  }
}

// ---------------------------------------------------------------------------------------
// The engine, fed one command at a time, a batch ending every kBatch commands.

struct EngineResult {
  lockstep::Outcome outcome;
  HandEvents events;
  std::vector<std::vector<std::byte>> event_bytes;  // as the engine wrote them
};

class Engine {
 public:
  Engine()
      : exec_(std::make_unique<lockstep::Executor<matching::Domain>>(matching::handlers(),
                                                                     options())),
        out_(exec_->options().result_bytes_max + exec_->options().chain_bytes_max) {}

  EngineResult run(std::uint16_t kind, const void* payload, std::size_t bytes) {
    lockstep::CommandView v;
    v.kind = kind;
    v.client_id = 1;
    v.sequence = exec_->next_sequence();
    v.request_id = v.sequence;
    v.logical_time_ns = static_cast<std::int64_t>(v.sequence);
    v.payload = {static_cast<const std::byte*>(payload), bytes};
    const bool batch_end = (v.sequence + 1) % kBatch == 0;
    const lockstep::ExecuteResult r = exec_->execute(v, batch_end, out_);
    std::vector<lockstep_test::Decoded> d =
        lockstep_test::decode_results(std::span(out_).first(r.bytes), r.results);
    EngineResult x;
    EXPECT_EQ(d.size(), 1u);
    if (d.size() != 1) {
      x.outcome = lockstep::Outcome::engine(lockstep::EngineReject::kUnknownCommand);
      return x;
    }
    x.outcome = d[0].view.outcome;
    for (const lockstep::TxEventView& e : d[0].view.events) {
      x.events.push_back(decode_event(e));
      x.event_bytes.emplace_back(e.bytes.begin(), e.bytes.end());
    }
    return x;
  }

  std::vector<matching::Order> orders() const { return orders_of(*exec_); }
  std::vector<matching::Instrument> instruments() const { return instruments_of(*exec_); }

 private:
  static lockstep::EngineOptions options() {
    lockstep::EngineOptions o;
    o.table_capacity = {64, kOrdersMax};
    return o;
  }

  std::unique_ptr<lockstep::Executor<matching::Domain>> exec_;
  std::vector<std::byte> out_;
};

// ---------------------------------------------------------------------------------------
// Comparing the two.

using OrderFields = std::tuple<std::uint64_t, std::uint64_t, std::uint32_t, int, std::int64_t,
                               std::uint64_t, std::int64_t, std::uint64_t>;
std::vector<OrderFields> fields(const std::vector<matching::Order>& v) {
  std::vector<OrderFields> f;
  for (const matching::Order& o : v) {
    f.emplace_back(o.id, o.account, o.instrument, static_cast<int>(o.side), o.price, o.quantity,
                   o.level, o.priority);
  }
  return f;
}
using InstrumentFields = std::tuple<std::uint32_t, std::uint64_t, std::uint64_t>;
std::vector<InstrumentFields> fields(const std::vector<matching::Instrument>& v) {
  std::vector<InstrumentFields> f;
  for (const matching::Instrument& i : v) f.emplace_back(i.id, i.max_quantity, i.next_priority);
  return f;
}

// The engine's book side in fill order: ascending (level, priority).
std::vector<std::uint64_t> engine_book(const std::vector<matching::Order>& orders,
                                       std::uint32_t instrument, Side side) {
  std::vector<matching::Order> v;
  for (const matching::Order& o : orders) {
    if (o.instrument == instrument && o.side == side) v.push_back(o);
  }
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.level != b.level ? a.level < b.level : a.priority < b.priority;
  });
  std::vector<std::uint64_t> ids;
  for (const matching::Order& o : v) ids.push_back(o.id);
  return ids;
}

void expect_same_books(const Engine& engine, const HandBook& hand, const std::string& where) {
  const std::vector<matching::Order> orders = engine.orders();
  EXPECT_EQ(fields(orders), fields(hand.orders())) << where << ": resting orders differ";
  const std::vector<matching::Instrument> instruments = engine.instruments();
  EXPECT_EQ(fields(instruments), fields(hand.instruments())) << where << ": instruments differ";
  for (const matching::Instrument& i : instruments) {
    for (const Side s : {Side::buy, Side::sell}) {
      EXPECT_EQ(engine_book(orders, i.id, s), hand.book_ids(i.id, s))
          << where << ": instrument " << i.id << " side " << int(s) << " in another order";
    }
  }
}

// ---------------------------------------------------------------------------------------
// Changes to a flow: a share of its new orders made sweeps (market orders far larger
// than the resting ones, which meet more than one batch of makers), and a share of its
// commands made invalid, to reach every reject code.

class Perturb {
 public:
  Perturb(std::uint64_t seed, std::uint32_t sweep_percent, std::uint32_t fault_percent)
      : rng_(seed), sweep_percent_(sweep_percent), fault_percent_(fault_percent) {}

  void apply(FlowCommand* c) {
    if (c->kind == matching::PlaceOrder::kKind) {
      recent_.push_back(c->place.id);
      if (recent_.size() > 64) recent_.erase(recent_.begin());
      if (below(100) < sweep_percent_) {
        c->place.type = matching::OrderType::market;
        c->place.price = 0;
        c->place.quantity = 4'000 + below(2'000);
      }
    }
    if (below(100) >= fault_percent_) return;
    switch (c->kind) {
      case matching::PlaceOrder::kKind: place(&c->place); return;
      case matching::CancelOrder::kKind:
        if (below(2) == 0) {
          c->cancel.account += 1;
        } else {
          c->cancel.id = 0;
        }
        return;
      default: replace(&c->replace); return;
    }
  }

 private:
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }

  void place(matching::PlaceOrder* p) {
    switch (below(5)) {
      case 0: p->instrument = 999; return;
      case 1:
        if (p->type == matching::OrderType::market) {
          p->price = 1;
        } else {
          static constexpr std::int64_t kBad[] = {0, -1, matching::kMaxPrice + 1};
          p->price = kBad[below(3)];
        }
        return;
      case 2: p->quantity = 0; return;
      case 3: p->quantity = 1'000; return;                      // above instrument 2's max_quantity
      default: p->id = recent_[below(recent_.size())]; return;  // often still resting
    }
  }

  void replace(matching::ReplaceOrder* r) {
    switch (below(4)) {
      case 0: r->account += 1; return;
      case 1: r->price = below(2) == 0 ? 0 : matching::kMaxPrice + 1; return;
      case 2: r->quantity = 0; return;
      default: r->quantity = 1'000; return;
    }
  }

  std::mt19937_64 rng_;
  std::uint32_t sweep_percent_;
  std::uint32_t fault_percent_;
  std::vector<std::uint64_t> recent_;  // the last place ids
};

// ---------------------------------------------------------------------------------------
// One stream.

struct Stream {
  std::string name;
  FlowOptions options;
  std::uint32_t sweep_percent = 0;
  std::uint32_t fault_percent = 0;
};

struct Stats {
  std::map<std::uint32_t, std::uint64_t> outcomes;  // by code (0: accepted)
  std::uint64_t trades = 0;
  std::uint64_t self_trades = 0;
  std::uint64_t unfilled = 0;
  std::uint64_t rested = 0;
  std::uint64_t kept_priority = 0;
  std::uint64_t lost_priority = 0;
  std::size_t most_events = 0;  // in one command
  std::uint64_t count(Reject r) const {
    const auto it = outcomes.find(static_cast<std::uint32_t>(r));
    return it == outcomes.end() ? 0 : it->second;
  }
};

void count(const HandEvents& events, Stats* s) {
  s->most_events = std::max(s->most_events, events.size());
  for (const HandEvent& e : events) {
    if (std::holds_alternative<matching::Trade>(e)) ++s->trades;
    if (std::holds_alternative<matching::OrderRested>(e)) ++s->rested;
    if (const auto* c = std::get_if<matching::OrderCancelled>(&e)) {
      if (c->reason == CancelReason::self_trade) ++s->self_trades;
      if (c->reason == CancelReason::unfilled) ++s->unfilled;
    }
    if (const auto* r = std::get_if<matching::OrderReplaced>(&e)) {
      ++(r->kept_priority ? s->kept_priority : s->lost_priority);
    }
  }
}

// The engine's result and the hand book's must be the same; false (with failures added)
// if not.
bool same(const EngineResult& r, std::uint32_t code, const HandEvents& events,
          const std::string& what) {
  EXPECT_EQ(r.outcome.code(), code) << what;
  EXPECT_EQ(r.outcome.detail(), 0u) << what;
  EXPECT_EQ(describe_all(r.events), describe_all(events)) << what;
  if (r.events.size() == events.size()) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_TRUE(r.event_bytes[i] == bytes_of(events[i]))
          << what << ": event " << i << " has the same fields but other bytes";
    }
  }
  return !::testing::Test::HasFailure();
}

Stats run_stream(const Stream& s) {
  FlowOptions o = s.options;
  if (const char* env = std::getenv("LOCKSTEP_SEED"); env != nullptr) {
    o.seed = std::strtoull(env, nullptr, 10);
  }
  SCOPED_TRACE(cat("stream ", s.name, ", seed ", o.seed, " (LOCKSTEP_SEED=N replays from N)"));
  Engine engine;
  HandBook hand(kOrdersMax);
  matching::OrderFlow flow(o);
  Perturb perturb(o.seed, s.sweep_percent, s.fault_percent);
  Stats stats;
  HandEvents events;

  std::vector<matching::AddInstrument> adds = flow.instruments();
  if (s.fault_percent > 0) {
    // A maximum quantity on instrument 2, and the two AddInstrument refusals.
    if (adds.size() >= 2) adds[1].max_quantity = 80;
    adds.push_back({.max_quantity = 0, .id = 0});
    adds.push_back({.max_quantity = 5, .id = 1});
  }
  for (const matching::AddInstrument& a : adds) {
    const EngineResult r = engine.run(a.kKind, &a, sizeof a);
    const std::uint32_t code = hand.add_instrument(a);
    ++stats.outcomes[code];
    if (!same(r, code, {}, cat("AddInstrument{", a.id, ", max ", a.max_quantity, "}"))) {
      return stats;
    }
  }
  for (int n = 0; n < kCommands; ++n) {
    FlowCommand c = flow.next();
    perturb.apply(&c);
    const EngineResult r = engine.run(c.kind, c.data(), c.size());
    events.clear();
    const std::uint32_t code = hand.execute(c, &events);
    ++stats.outcomes[code];
    count(events, &stats);
    if (!same(r, code, events, cat("command ", n, ": ", describe(c)))) return stats;
    if ((n + 1) % kCompareEvery == 0) {
      expect_same_books(engine, hand, cat("after command ", n));
      if (::testing::Test::HasFailure()) return stats;
    }
  }
  expect_same_books(engine, hand, "at the end");
  std::printf(
      "%s: %d commands, %llu accepted, %llu trades, %llu self-trade cancels, %llu rested, "
      "%llu unfilled, %llu/%llu replaces kept/lost priority, %llu fok refused, %llu post-only "
      "refused, at most %zu events in one command, %zu resting at the end\n",
      s.name.c_str(), kCommands, static_cast<unsigned long long>(stats.outcomes[0]),
      static_cast<unsigned long long>(stats.trades),
      static_cast<unsigned long long>(stats.self_trades),
      static_cast<unsigned long long>(stats.rested),
      static_cast<unsigned long long>(stats.unfilled),
      static_cast<unsigned long long>(stats.kept_priority),
      static_cast<unsigned long long>(stats.lost_priority),
      static_cast<unsigned long long>(stats.count(Reject::fok_not_fillable)),
      static_cast<unsigned long long>(stats.count(Reject::post_only_would_cross)),
      stats.most_events, hand.resting());
  return stats;
}

Stream stream(std::string name, std::uint64_t seed, void (*change)(FlowOptions&)) {
  Stream s{.name = std::move(name), .options = {}};
  s.options.seed = seed;
  change(s.options);
  return s;
}

// ---------------------------------------------------------------------------------------

TEST(MatchingHandBook, TheBenchmarksDefaultFlowGivesTheSameOutcomesEventsAndBooks) {
  const Stats s = run_stream(stream("default", 1, [](FlowOptions&) {}));
  EXPECT_GT(s.trades, 1000u);
  EXPECT_GT(s.rested, 1000u);
  EXPECT_GT(s.unfilled, 100u);
  EXPECT_GT(s.count(Reject::post_only_would_cross), 100u);
  EXPECT_GT(s.count(Reject::unknown_order), 100u);
}

TEST(MatchingHandBook, SixteenInstrumentsGiveTheSameOutcomesEventsAndBooks) {
  const Stats s =
      run_stream(stream("16 instruments", 2, [](FlowOptions& o) { o.instruments = 16; }));
  EXPECT_GT(s.trades, 1000u);
}

TEST(MatchingHandBook, FewAccountsCancelTheSameSelfTradesInBoth) {
  const Stats s = run_stream(stream("3 accounts, 2 instruments", 3, [](FlowOptions& o) {
    o.accounts = 3;
    o.instruments = 2;
  }));
  EXPECT_GT(s.self_trades, 1000u);
  EXPECT_GT(s.count(Reject::fok_not_fillable), 10u);
}

TEST(MatchingHandBook, HeavyCancelAndReplaceGiveTheSameOutcomesEventsAndBooks) {
  const Stats s = run_stream(stream("cancel 35%, replace 35%", 4, [](FlowOptions& o) {
    o.accounts = 4;
    o.instruments = 3;
    o.cancel_percent = 35;
    o.replace_percent = 35;
    o.resting_max = 500;
  }));
  EXPECT_GT(s.kept_priority, 50u);
  EXPECT_GT(s.lost_priority, 1000u);
  EXPECT_GT(s.self_trades, 10u);
}

TEST(MatchingHandBook, FillOrKillHeavyFlowsRefuseAndFillTheSameOrders) {
  const Stats s = run_stream(stream("fill-or-kill heavy", 5, [](FlowOptions& o) {
    o.accounts = 5;
    o.limit_parts = 40;
    o.market_parts = 5;
    o.ioc_parts = 10;
    o.fok_parts = 40;
    o.post_only_parts = 5;
    o.spread = 6;
  }));
  EXPECT_GT(s.count(Reject::fok_not_fillable), 500u);
  EXPECT_GT(s.outcomes.at(0), 10'000u);
  EXPECT_GT(s.self_trades, 100u);
}

TEST(MatchingHandBook, DeepSweepsAcrossManyLevelsGiveTheSameTrades) {
  Stream s = stream("deep sweeps", 6, [](FlowOptions& o) {
    o.accounts = 2;
    o.spread = 200;
    o.walk_every = 4;
  });
  s.sweep_percent = 1;
  const Stats st = run_stream(s);
  EXPECT_GT(st.most_events, std::size_t{2 * matching::kBookBatch}) << "no sweep took 3 batches";
  EXPECT_GT(st.self_trades, 1000u);
}

TEST(MatchingHandBook, InjectedFaultsReachEveryRejectCodeInTheSameOrderOfChecks) {
  Stream s = stream("faults 10%", 7, [](FlowOptions& o) {
    o.accounts = 20;
    o.instruments = 2;
    o.replace_percent = 15;
  });
  s.fault_percent = 10;
  const Stats st = run_stream(s);
  for (std::uint32_t code = 1; code <= static_cast<std::uint32_t>(Reject::bad_instrument); ++code) {
    EXPECT_GT(st.count(static_cast<Reject>(code)), 0u)
        << "reject code " << code << " never reached";
  }
}

}  // namespace
