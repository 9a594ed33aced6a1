// What the matching tests (matching_test.cc, matching_hand_book_test.cc) share: the
// matching domain's events as one variant, decoded from an engine's TxResult; their bytes;
// descriptions for failure messages and for comparing events field by field; and the
// executor's Instrument and Order tables, sorted by id.
//
// Header-only, for tests: failures are reported through gtest (ADD_FAILURE), not thrown.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "engine/executor.h"
#include "engine/tx_result.h"
#include "matching_domain.h"

namespace matching_support {

// Every event the matching handlers emit. bench/hand_book.h's HandEvent is the same type.
using Event =
    std::variant<matching::OrderAccepted, matching::Trade, matching::OrderRested,
                 matching::OrderCancelled, matching::OrderReplaced, matching::OrderExpired>;

// An event as the engine wrote it. A size that does not match its kind, or an unknown
// kind, adds a gtest failure; the result is then a placeholder.
inline Event decode_event(const lockstep::TxEventView& e) {
  const auto as = [&]<class E>(E out) -> Event {
    if (e.bytes.size() != sizeof out) {
      ADD_FAILURE() << "event kind " << e.kind << " of " << e.bytes.size() << " bytes";
      return out;
    }
    std::memcpy(static_cast<void*>(&out), e.bytes.data(), sizeof out);
    return out;
  };
  switch (e.kind) {
    case matching::OrderAccepted::kKind: return as(matching::OrderAccepted{});
    case matching::Trade::kKind: return as(matching::Trade{});
    case matching::OrderRested::kKind: return as(matching::OrderRested{});
    case matching::OrderCancelled::kKind: return as(matching::OrderCancelled{});
    case matching::OrderReplaced::kKind: return as(matching::OrderReplaced{});
    case matching::OrderExpired::kKind: return as(matching::OrderExpired{});
    default: break;
  }
  ADD_FAILURE() << "unknown event kind " << e.kind;
  return matching::OrderRested{.id = std::numeric_limits<std::uint64_t>::max()};
}

// An event's bytes as the engine should write them (the generated structs zero their
// padding). A copy, so it may outlive `e`.
inline std::vector<std::byte> bytes_of(const Event& e) {
  return std::visit(
      [](const auto& x) {
        const auto* p = reinterpret_cast<const std::byte*>(&x);
        return std::vector<std::byte>(p, p + sizeof x);
      },
      e);
}

// ---------------------------------------------------------------------------------------
// Names and descriptions, for messages and for comparing events field by field.

template <class... A>
std::string cat(const A&... a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}

inline std::string name(matching::Side s) {
  switch (s) {
    case matching::Side::buy: return "buy";
    case matching::Side::sell: return "sell";
  }
  return "side?" + std::to_string(static_cast<int>(s));
}
inline std::string name(matching::OrderType t) {
  switch (t) {
    case matching::OrderType::limit: return "limit";
    case matching::OrderType::market: return "market";
    case matching::OrderType::ioc: return "ioc";
    case matching::OrderType::fok: return "fok";
    case matching::OrderType::post_only: return "post_only";
  }
  return "type?" + std::to_string(static_cast<int>(t));
}
inline std::string name(matching::CancelReason r) {
  switch (r) {
    case matching::CancelReason::requested: return "requested";
    case matching::CancelReason::self_trade: return "self_trade";
    case matching::CancelReason::unfilled: return "unfilled";
  }
  return "reason?" + std::to_string(static_cast<int>(r));
}
inline std::string name(matching::Reject r) {
  using matching::Reject;
  switch (r) {
    case Reject::unknown_instrument: return "unknown_instrument";
    case Reject::instrument_exists: return "instrument_exists";
    case Reject::bad_price: return "bad_price";
    case Reject::bad_quantity: return "bad_quantity";
    case Reject::order_id_in_use: return "order_id_in_use";
    case Reject::post_only_would_cross: return "post_only_would_cross";
    case Reject::fok_not_fillable: return "fok_not_fillable";
    case Reject::unknown_order: return "unknown_order";
    case Reject::not_owner: return "not_owner";
    case Reject::bad_instrument: return "bad_instrument";
    case Reject::bad_expiry: return "bad_expiry";
    case Reject::order_expired: return "order_expired";
  }
  return "reject?" + std::to_string(static_cast<std::uint32_t>(r));
}

inline std::string describe(const matching::OrderAccepted& e) {
  return cat("OrderAccepted{id ", e.id, ", account ", e.account, ", price ", e.price, ", quantity ",
             e.quantity, ", instrument ", e.instrument, ", ", name(e.side), ", ", name(e.type),
             "}");
}
inline std::string describe(const matching::Trade& e) {
  return cat("Trade{maker ", e.maker_order, ", taker ", e.taker_order, ", maker_account ",
             e.maker_account, ", taker_account ", e.taker_account, ", price ", e.price,
             ", quantity ", e.quantity, ", instrument ", e.instrument, ", taker_side ",
             name(e.taker_side), "}");
}
inline std::string describe(const matching::OrderRested& e) {
  return cat("OrderRested{id ", e.id, ", quantity ", e.quantity, ", priority ", e.priority, "}");
}
inline std::string describe(const matching::OrderCancelled& e) {
  return cat("OrderCancelled{id ", e.id, ", quantity ", e.quantity, ", ", name(e.reason), "}");
}
inline std::string describe(const matching::OrderReplaced& e) {
  return cat("OrderReplaced{id ", e.id, ", price ", e.old_price, " -> ", e.new_price, ", quantity ",
             e.old_quantity, " -> ", e.new_quantity,
             e.kept_priority ? ", kept priority}" : ", new priority}");
}
inline std::string describe(const matching::OrderExpired& e) {
  return cat("OrderExpired{id ", e.id, ", quantity ", e.quantity, "}");
}
inline std::string describe(const Event& e) {
  return std::visit([](const auto& x) { return describe(x); }, e);
}
inline std::vector<std::string> describe_all(const std::vector<Event>& events) {
  std::vector<std::string> v;
  for (const Event& e : events) v.push_back(describe(e));
  return v;
}

// ---------------------------------------------------------------------------------------
// The executor's tables (matching::Domain: 0 Instrument, 1 Order), sorted by id.

template <std::size_t Table, class Record>
std::vector<Record> records_by_id(const lockstep::Executor<matching::Domain>& exec) {
  std::vector<Record> v;
  std::get<Table>(exec.tables()).for_each([&](std::uint32_t, const Record& r) { v.push_back(r); });
  std::sort(v.begin(), v.end(), [](const Record& a, const Record& b) { return a.id < b.id; });
  return v;
}

// Every resting order, by id.
inline std::vector<matching::Order> orders_of(const lockstep::Executor<matching::Domain>& exec) {
  return records_by_id<1, matching::Order>(exec);
}
// Every instrument, by id.
inline std::vector<matching::Instrument> instruments_of(
    const lockstep::Executor<matching::Domain>& exec) {
  return records_by_id<0, matching::Instrument>(exec);
}

}  // namespace matching_support
