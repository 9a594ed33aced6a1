// The generated header for a schema whose names are also names the generator uses
// (tests/data/names.lss): it compiles, and its accessors work.
#include <gtest/gtest.h>

#include "engine/executor.h"
#include "names.schema.h"

namespace names {
namespace {

lockstep::Outcome handle_c(const C& c, Tx& tx) {
  R* r = tx.rs.insert(R{.k = c.payload,
                        .p = c.tx,
                        .a = c.c,
                        .b = -3,
                        .f = lockstep::Chars<4>::from("ab"),
                        .lo = {1500},
                        .hi = {7, 9},
                        .find_pk = 1,
                        .size = c.h,
                        .out = {},
                        .r = -1});
  if (r == nullptr) return ok();
  int found = 0;
  tx.rs.scan_by_a(c.c, std::int16_t{-3}, [&](const R&) { ++found; });
  tx.rs.range_by_a(c.c, std::int16_t{-10}, std::int16_t{0}, [&](const R&) { ++found; });
  tx.rs.scan_by_hi(lockstep::u128{7, 9}, [&](const R&) { ++found; });
  if (found != 3 || tx.rs.find(c.payload, c.tx) != r ||
      tx.rs.find_by_f(lockstep::Chars<4>::from("ab"), std::uint8_t{1}) != r) {
    return reject(Reject::nope);
  }
  tx.emit(Ev{.before = 1, .after = 2, .to = 3, .from = 4, .allowed = true});
  return ok();
}

TEST(SchemaCodegen, AHeaderWhoseNamesShadowTheGeneratorsOwnCompilesAndWorks) {
  Handlers h;
  h.c = handle_c;
  lockstep::Executor<Domain> exec(h, {});
  const C c{.kind = 1, .payload = 42, .tx = 5, .h = true, .c = E::b, .v = {}, .malformed = 0};
  std::vector<std::byte> out(exec.room_needed());
  lockstep::CommandView v;
  v.kind = C::kKind;
  v.sequence = 0;
  v.payload = std::as_bytes(std::span(&c, 1));
  const auto r = exec.execute(v, true, out);
  lockstep::TxResultView view;
  std::string error;
  ASSERT_TRUE(lockstep::decode_tx_result(std::span(out).first(r.bytes), &view, &error)) << error;
  EXPECT_TRUE(view.outcome.is_ok()) << view.outcome.code();
  EXPECT_EQ(view.writes.size(), 1u);
  EXPECT_EQ(view.events.size(), 1u);
}

}  // namespace
}  // namespace names
