#include "pipeline/sequence.h"

#include <gtest/gtest.h>

#include <array>

namespace lockstep {
namespace {

TEST(Sequence, StartsBeforeTheFirstSlot) {
  Sequence s;
  EXPECT_EQ(s.get(), -1);
  EXPECT_EQ(Sequence::kInitial, -1);
}

TEST(Sequence, SetIsVisibleToGetAndToTheOwner) {
  Sequence s;
  s.set(41);
  EXPECT_EQ(s.get(), 41);
  s.set_seq_cst(42);
  EXPECT_EQ(s.get_owned(), 42);
}

TEST(Sequence, CompareAndSetOnlySucceedsFromTheExpectedValue) {
  Sequence s(10);
  EXPECT_FALSE(s.compare_and_set(9, 20));
  EXPECT_EQ(s.get(), 10);
  EXPECT_TRUE(s.compare_and_set(10, 20));
  EXPECT_EQ(s.get(), 20);
}

TEST(Sequence, OccupiesAFalseSharingRegionOfItsOwn) {
  std::array<Sequence, 2> pair;
  const auto a = reinterpret_cast<std::uintptr_t>(&pair[0]);
  const auto b = reinterpret_cast<std::uintptr_t>(&pair[1]);
  EXPECT_EQ(a % kFalseSharingBytes, 0u);
  EXPECT_EQ(b - a, kFalseSharingBytes);
}

TEST(Sequence, MinOfSeveralIsTheSmallestOrTheFloor) {
  Sequence a(5), b(3), c(9);
  const Sequence* all[] = {&a, &b, &c};
  EXPECT_EQ(min_sequence(all), 3);
  EXPECT_EQ(min_sequence(all, 2), 2);
  EXPECT_EQ(min_sequence({}, 7), 7);
}

}  // namespace
}  // namespace lockstep
