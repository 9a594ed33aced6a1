// matching::OrderFlow (domains/matching/order_flow.h), the generated order flow of
// lockstep-loadgen matching and the matching benchmark: its option checks, determinism,
// the bound on remembered orders the loadgen sizes its tables by, prices inside the
// domain's range at the extremes of the options, and order ids.
#include "order_flow.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "matching_domain.h"

namespace {

using matching::FlowCommand;
using matching::FlowOptions;
using matching::OrderFlow;

std::string refusal(const FlowOptions& o) {
  try {
    matching::validate(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(OrderFlow, TheDefaultsAreValid) { EXPECT_EQ(refusal(FlowOptions{}), ""); }

TEST(OrderFlow, EachBadOptionIsRefusedByName) {
  const auto with = [](auto change) {
    FlowOptions o;
    change(o);
    return refusal(o);
  };
  EXPECT_EQ(with([](FlowOptions& o) { o.instruments = 0; }), "instruments must be in [1, 1048576]");
  EXPECT_EQ(with([](FlowOptions& o) { o.instruments = matching::kMaxFlowInstruments + 1; }),
            "instruments must be in [1, 1048576]");
  EXPECT_EQ(with([](FlowOptions& o) { o.accounts = 0; }), "accounts must be at least 1");
  EXPECT_EQ(with([](FlowOptions& o) {
              o.limit_parts = o.market_parts = o.ioc_parts = o.fok_parts = o.post_only_parts = 0;
            }),
            "the order-type mix has no parts");
  // Parts that would wrap a 32-bit sum to a small number.
  EXPECT_EQ(with([](FlowOptions& o) {
              o.limit_parts = 0xFFFFFFFFu;
              o.market_parts = 2;
            }),
            "each part of the order-type mix must be at most 1000000");
  EXPECT_EQ(with([](FlowOptions& o) { o.replace_percent = 101; }),
            "cancel + replace percent is over 100");
  EXPECT_EQ(with([](FlowOptions& o) {
              o.cancel_percent = 0xFFFFFFFFu;
              o.replace_percent = 1;
            }),
            "cancel + replace percent is over 100");
  EXPECT_EQ(with([](FlowOptions& o) { o.cancel_percent = 60, o.replace_percent = 41; }),
            "cancel + replace percent is over 100");
  EXPECT_EQ(with([](FlowOptions& o) { o.mid = 1; }), "mid must be in [2, 1099511627776]");
  EXPECT_EQ(with([](FlowOptions& o) { o.mid = matching::kMaxFlowMid + 1; }),
            "mid must be in [2, 1099511627776]");
  EXPECT_EQ(with([](FlowOptions& o) { o.spread = -1; }),
            "spread must be in [0, 49999] (below half the mid, 100000)");
  EXPECT_EQ(with([](FlowOptions& o) { o.spread = 50'000; }),
            "spread must be in [0, 49999] (below half the mid, 100000)");
  EXPECT_EQ(with([](FlowOptions& o) { o.max_quantity = 0; }), "max quantity must be at least 1");
  EXPECT_EQ(with([](FlowOptions& o) { o.resting_max = matching::kMaxFlowResting + 1; }),
            "resting max must be at most 4194304");
  EXPECT_EQ(with([](FlowOptions& o) { o.first_id = 0; }), "order ids start at 1");
  // The edges that are allowed.
  EXPECT_EQ(with([](FlowOptions& o) { o.spread = 49'999; }), "");
  EXPECT_EQ(with([](FlowOptions& o) { o.cancel_percent = 100, o.replace_percent = 0; }), "");
  EXPECT_EQ(with([](FlowOptions& o) { o.resting_max = 0; }), "");
  // The constructor checks too.
  FlowOptions bad;
  bad.accounts = 0;
  EXPECT_THROW(OrderFlow{bad}, std::invalid_argument);
}

std::vector<std::byte> bytes_of(const FlowCommand& c) {
  std::vector<std::byte> b(c.size());
  std::memcpy(b.data(), c.data(), c.size());
  return b;
}

TEST(OrderFlow, TheSameSeedGivesTheSameCommandsAndAnotherSeedOthers) {
  FlowOptions o;
  o.instruments = 3;
  OrderFlow a(o), b(o);
  o.seed = 2;
  OrderFlow c(o);
  bool differs = false;
  for (int i = 0; i < 20'000; ++i) {
    const FlowCommand x = a.next(), y = b.next(), z = c.next();
    ASSERT_EQ(x.kind, y.kind) << i;
    ASSERT_EQ(bytes_of(x), bytes_of(y)) << i;
    differs |= x.kind != z.kind || bytes_of(x) != bytes_of(z);
  }
  EXPECT_TRUE(differs);
}

TEST(OrderFlow, EachCommandIsOneOfTheThreeWithItsOwnSize) {
  OrderFlow f{FlowOptions{}};
  int seen[5] = {};
  for (int i = 0; i < 10'000; ++i) {
    const FlowCommand c = f.next();
    switch (c.kind) {
      case matching::PlaceOrder::kKind:
        EXPECT_EQ(c.size(), sizeof(matching::PlaceOrder));
        EXPECT_EQ(c.data(), static_cast<const void*>(&c.place));
        break;
      case matching::CancelOrder::kKind:
        EXPECT_EQ(c.size(), sizeof(matching::CancelOrder));
        EXPECT_EQ(c.data(), static_cast<const void*>(&c.cancel));
        break;
      case matching::ReplaceOrder::kKind:
        EXPECT_EQ(c.size(), sizeof(matching::ReplaceOrder));
        EXPECT_EQ(c.data(), static_cast<const void*>(&c.replace));
        break;
      default: FAIL() << "kind " << c.kind;
    }
    ++seen[c.kind];
  }
  // About 30% cancels and 5% replaces (of 10,000: well inside these bounds).
  EXPECT_GT(seen[matching::CancelOrder::kKind], 2'500);
  EXPECT_LT(seen[matching::CancelOrder::kKind], 3'500);
  EXPECT_GT(seen[matching::ReplaceOrder::kKind], 300);
  EXPECT_LT(seen[matching::ReplaceOrder::kKind], 700);
}

// lockstep-loadgen sizes the Order table from this bound: resting_max + 1 per flow.
TEST(OrderFlow, ItRemembersAtMostRestingMaxPlusOneOrders) {
  for (const std::uint64_t most : {0u, 1u, 100u}) {
    SCOPED_TRACE(most);
    FlowOptions o;
    o.resting_max = most;
    o.cancel_percent = 0;  // only the bound cancels
    o.replace_percent = 0;
    OrderFlow f(o);
    std::size_t peak = 0;
    for (int i = 0; i < 20'000; ++i) {
      (void)f.next();
      peak = std::max(peak, f.remembered());
      ASSERT_LE(f.remembered(), most + 1) << i;
    }
    EXPECT_EQ(peak, most + 1);
  }
}

// Every price a flow makes is a valid price for the handlers (1..kMaxPrice; 0 for a
// market order), at the extremes of the options, with the mid walking every order.
TEST(OrderFlow, PricesStayInsideTheDomainsRange) {
  struct Case {
    std::int64_t mid;
    std::int64_t spread;
  };
  for (const Case k : {Case{2, 0}, Case{100'000, 0}, Case{100'000, 49'999}, Case{4, 1},
                       Case{matching::kMaxFlowMid, 0},
                       Case{matching::kMaxFlowMid, (matching::kMaxFlowMid - 2) / 2}}) {
    SCOPED_TRACE(std::to_string(k.mid) + " " + std::to_string(k.spread));
    FlowOptions o;
    o.mid = k.mid;
    o.spread = k.spread;
    o.walk_every = 1;
    o.instruments = 2;
    OrderFlow f(o);
    std::int64_t low = matching::kMaxPrice, high = 0;
    for (int i = 0; i < 20'000; ++i) {
      const FlowCommand c = f.next();
      std::int64_t price = 0;
      if (c.kind == matching::PlaceOrder::kKind) {
        if (c.place.type == matching::OrderType::market) {
          EXPECT_EQ(c.place.price, 0);
          continue;
        }
        price = c.place.price;
      } else if (c.kind == matching::ReplaceOrder::kKind) {
        price = c.replace.price;
      } else {
        continue;
      }
      ASSERT_GE(price, 1) << i;
      ASSERT_LE(price, matching::kMaxPrice) << i;
      low = std::min(low, price);
      high = std::max(high, price);
    }
    EXPECT_LE(low, high);
  }
}

TEST(OrderFlow, OrderIdsRunFromFirstIdOnePerNewOrder) {
  FlowOptions o;
  o.first_id = 1'000'000;
  OrderFlow f(o);
  std::uint64_t next = o.first_id;
  std::set<std::uint64_t> placed;
  for (int i = 0; i < 10'000; ++i) {
    const FlowCommand c = f.next();
    if (c.kind == matching::PlaceOrder::kKind) {
      EXPECT_EQ(c.place.id, next++);
      placed.insert(c.place.id);
      EXPECT_GE(c.place.account, 1u);
      EXPECT_LE(c.place.account, o.accounts);
      EXPECT_GE(c.place.instrument, 1u);
      EXPECT_LE(c.place.instrument, o.instruments);
      EXPECT_GE(c.place.quantity, 1u);
      EXPECT_LE(c.place.quantity, o.max_quantity);
    } else if (c.kind == matching::CancelOrder::kKind) {
      EXPECT_TRUE(placed.count(c.cancel.id)) << "a cancel of an order the flow never placed";
    } else {
      EXPECT_TRUE(placed.count(c.replace.id)) << "a replace of an order the flow never placed";
    }
  }
}

TEST(OrderFlow, TheMixDecidesTheOrderTypes) {
  FlowOptions o;
  o.limit_parts = o.market_parts = o.ioc_parts = o.fok_parts = 0;
  o.post_only_parts = 1;
  OrderFlow f(o);
  for (int i = 0; i < 2'000; ++i) {
    const FlowCommand c = f.next();
    if (c.kind == matching::PlaceOrder::kKind) {
      ASSERT_EQ(c.place.type, matching::OrderType::post_only);
    }
  }
}

TEST(OrderFlow, InstrumentsAreOneToN) {
  FlowOptions o;
  o.instruments = 4;
  const std::vector<matching::AddInstrument> v = OrderFlow(o).instruments();
  ASSERT_EQ(v.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(v[i].id, i + 1);
    EXPECT_EQ(v[i].max_quantity, 0u);
  }
}

}  // namespace
