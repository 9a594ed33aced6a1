// KeyIndex (engine/key_index.h) against a std::unordered_map model under seeded random
// operations, with crafted hashes (shared tags, clusters wrapping past the last position),
// growth, reserve and moves; and run_load_tasks (engine/load_tasks.h): every task once,
// the first failure in list order, largest cost first, concurrency.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/key_index.h"
#include "engine/load_tasks.h"

namespace {

using lockstep::KeyIndex;
using lockstep::LoadTask;
using lockstep::run_load_tasks;

constexpr std::uint32_t kMissing = KeyIndex::kMissing;

std::uint32_t tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32); }

// An index over "records": records[slot] is the key stored in slot, hashes[slot] the hash
// it was inserted under. find() also counts calls of `same` that the index should never
// make: on a slot out of range, or on a slot whose tag differs from the query's.
struct Table {
  KeyIndex index;
  std::vector<std::uint64_t> records;
  std::vector<std::uint64_t> hashes;
  std::size_t bad_same_calls = 0;

  std::uint32_t find(std::uint64_t key, std::uint64_t h) {
    return index.find(h, [&](std::uint32_t s) {
      if (s >= records.size() || tag_of(hashes[s]) != tag_of(h)) {
        ++bad_same_calls;
        return false;
      }
      return records[s] == key;
    });
  }
  // Appends a record and indexes it; returns its slot.
  std::uint32_t add(std::uint64_t key, std::uint64_t h) {
    const auto slot = static_cast<std::uint32_t>(records.size());
    records.push_back(key);
    hashes.push_back(h);
    index.insert(h, slot);
    return slot;
  }
};

// ---------------------------------------------------------------------------------------
// 1. Randomised model test.

struct ModelParam {
  std::uint64_t seed;
  bool few_tags;  // hashes drawn from 64 tags only: long clusters, many equal tags
};

class KeyIndexModel : public testing::TestWithParam<ModelParam> {};

TEST_P(KeyIndexModel, MatchesAnUnorderedMap) {
  const ModelParam param = GetParam();
  std::mt19937_64 rng(param.seed);
  const std::size_t universe_size = param.few_tags ? 600 : 2000;
  const int ops = param.few_tags ? 12000 : 20000;
  const int check_every = 50;

  std::set<std::uint64_t> distinct;
  while (distinct.size() < universe_size) distinct.insert(rng());
  std::vector<std::uint64_t> universe(distinct.begin(), distinct.end());
  std::shuffle(universe.begin(), universe.end(), rng);
  std::vector<std::uint32_t> tag_pool(64);
  for (auto& t : tag_pool) t = static_cast<std::uint32_t>(rng());

  Table t;
  const auto hash_of = [&](std::uint64_t key) {
    const std::uint64_t h = t.index.hash(&key, sizeof key);
    if (!param.few_tags) return h;
    return std::uint64_t{tag_pool[h % tag_pool.size()]} << 32 | (h & 0xFFFFFFFFu);
  };
  constexpr std::uint64_t kFreeRecord = 0xDEADDEADDEADDEADull;  // not in the universe
  ASSERT_EQ(distinct.count(kFreeRecord), 0u);

  std::unordered_map<std::uint64_t, std::uint32_t> model;  // key -> slot
  std::vector<std::uint64_t> live;                         // the model's keys, any order
  std::unordered_map<std::uint64_t, std::size_t> live_at;  // key -> position in `live`
  std::vector<std::uint32_t> free_slots;

  const auto check_all = [&](int op) {
    ASSERT_EQ(t.index.size(), model.size()) << "op " << op;
    ASSERT_GE(t.index.positions(), 2 * t.index.size()) << "op " << op;
    for (const std::uint64_t key : universe) {
      const auto it = model.find(key);
      const std::uint32_t want = it == model.end() ? kMissing : it->second;
      ASSERT_EQ(t.find(key, hash_of(key)), want) << "op " << op << " key " << key;
    }
    ASSERT_EQ(t.bad_same_calls, 0u) << "op " << op;
  };

  const double insert_share[] = {0.8, 0.5, 0.2, 0.65, 0.35};
  for (int op = 0; op < ops; ++op) {
    const double p_insert = insert_share[(op / 2000) % std::size(insert_share)];
    const double r = std::uniform_real_distribution<double>(0, 1)(rng);
    if (r < p_insert * 0.85) {
      // Insert, only of an absent key (the contract).
      const std::uint64_t key = universe[rng() % universe.size()];
      const std::uint64_t h = hash_of(key);
      const auto it = model.find(key);
      if (it != model.end()) {
        ASSERT_EQ(t.find(key, h), it->second) << "op " << op;
        continue;
      }
      ASSERT_EQ(t.find(key, h), kMissing) << "op " << op;
      std::uint32_t slot;
      if (!free_slots.empty() && rng() % 4 != 0) {
        const std::size_t i = rng() % free_slots.size();
        slot = free_slots[i];
        free_slots[i] = free_slots.back();
        free_slots.pop_back();
        t.records[slot] = key;
        t.hashes[slot] = h;
      } else {
        slot = static_cast<std::uint32_t>(t.records.size());
        t.records.push_back(key);
        t.hashes.push_back(h);
      }
      t.index.insert(h, slot);
      model.emplace(key, slot);
      live_at.emplace(key, live.size());
      live.push_back(key);
      ASSERT_EQ(t.find(key, h), slot) << "op " << op;
    } else if (r < 0.85) {
      // Erase: of a live key mostly, else of a random (maybe absent) one.
      const std::uint64_t key = !live.empty() && rng() % 4 != 0 ? live[rng() % live.size()]
                                                                : universe[rng() % universe.size()];
      const std::uint64_t h = hash_of(key);
      const auto it = model.find(key);
      if (it == model.end()) {
        const auto any_slot =
            static_cast<std::uint32_t>(t.records.empty() ? 0 : rng() % t.records.size());
        if (any_slot < t.records.size() && t.records[any_slot] != kFreeRecord &&
            tag_of(t.hashes[any_slot]) == tag_of(h)) {
          continue;  // (hash, slot) might name a live entry by tag; skip this case
        }
        ASSERT_FALSE(t.index.erase(h, any_slot)) << "op " << op;
        ASSERT_EQ(t.index.size(), model.size()) << "op " << op;
        continue;
      }
      const std::uint32_t slot = it->second;
      // The right hash with another slot that is not an entry under this tag: false.
      const auto wrong = static_cast<std::uint32_t>(slot + 1 + rng() % 1000);
      if (wrong >= t.records.size() || t.records[wrong] == kFreeRecord ||
          tag_of(t.hashes[wrong]) != tag_of(h)) {
        ASSERT_FALSE(t.index.erase(h, wrong)) << "op " << op;
        ASSERT_EQ(t.index.size(), model.size()) << "op " << op;
      }
      ASSERT_TRUE(t.index.erase(h, slot)) << "op " << op;
      ASSERT_FALSE(t.index.erase(h, slot)) << "op " << op;  // once only
      model.erase(it);
      const std::size_t at = live_at[key];
      live_at[live.back()] = at;
      live[at] = live.back();
      live.pop_back();
      live_at.erase(key);
      t.records[slot] = kFreeRecord;
      free_slots.push_back(slot);
      ASSERT_EQ(t.find(key, h), kMissing) << "op " << op;
    } else {
      // Find of a random key.
      const std::uint64_t key = universe[rng() % universe.size()];
      const auto it = model.find(key);
      ASSERT_EQ(t.find(key, hash_of(key)), it == model.end() ? kMissing : it->second)
          << "op " << op;
    }
    ASSERT_EQ(t.index.size(), model.size()) << "op " << op;
    if (op % check_every == 0) {
      ASSERT_NO_FATAL_FAILURE(check_all(op));
    }
  }
  ASSERT_NO_FATAL_FAILURE(check_all(ops));

  // Erase everything that is left; the index is empty and still usable.
  std::shuffle(live.begin(), live.end(), rng);
  for (const std::uint64_t key : live) ASSERT_TRUE(t.index.erase(hash_of(key), model[key]));
  EXPECT_EQ(t.index.size(), 0u);
  for (const std::uint64_t key : universe) EXPECT_EQ(t.find(key, hash_of(key)), kMissing);
}

std::vector<ModelParam> model_params() {
  std::vector<ModelParam> out;
  for (const std::uint64_t seed : {1ull, 2ull, 3ull, 0x5EEDull, 20240601ull}) {
    out.push_back({seed, false});
    out.push_back({seed, true});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Seeds, KeyIndexModel, testing::ValuesIn(model_params()),
                         [](const testing::TestParamInfo<ModelParam>& p) {
                           return "seed" + std::to_string(p.param.seed) +
                                  (p.param.few_tags ? "_few_tags" : "_xxh3");
                         });

// ---------------------------------------------------------------------------------------
// 2. Crafted hashes.

TEST(KeyIndex, AnEmptyIndexFindsAndErasesNothing) {
  KeyIndex index;
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.positions(), 0u);
  int calls = 0;
  EXPECT_EQ(index.find(0x123456789ull, [&](std::uint32_t) { return ++calls, true; }), kMissing);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(index.erase(0x123456789ull, 0));
  index.reserve(10, false);
  EXPECT_EQ(index.find(0x123456789ull, [&](std::uint32_t) { return ++calls, true; }), kMissing);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(index.erase(0x123456789ull, 0));
}

TEST(KeyIndex, HashIsAFunctionOfTheBytes) {
  KeyIndex index;
  const std::uint64_t a = 42, b = 42, c = 43;
  EXPECT_EQ(index.hash(&a, 8), index.hash(&b, 8));
  EXPECT_NE(index.hash(&a, 8), index.hash(&c, 8));
}

TEST(KeyIndex, KeysSharingATagAreToldApartByTheirRecords) {
  std::mt19937_64 rng(7);
  for (const bool reserve : {false, true}) {
    Table t;
    if (reserve) t.index.reserve(300, false);
    const std::uint64_t shared = 0xA5A5A5A500000000ull;
    std::vector<std::uint64_t> keys;
    for (int i = 0; i < 300; ++i) {
      const std::uint64_t key = 1000 + static_cast<std::uint64_t>(i);
      // Same top 32 bits (same tag and home); the low half varies or not.
      const std::uint64_t h = shared | (i % 2 == 0 ? 0 : rng() & 0xFFFFFFFFu);
      ASSERT_EQ(t.find(key, h), kMissing);
      t.add(key, h);
      keys.push_back(key);
    }
    ASSERT_EQ(t.index.size(), keys.size());
    for (std::uint32_t s = 0; s < keys.size(); ++s) ASSERT_EQ(t.find(keys[s], t.hashes[s]), s);
    EXPECT_EQ(t.find(999, shared), kMissing);

    // Erase in a random order; the others stay found, the erased are gone.
    std::vector<std::uint32_t> order(keys.size());
    for (std::uint32_t s = 0; s < order.size(); ++s) order[s] = s;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> gone(keys.size(), false);
    for (std::size_t n = 0; n < order.size(); ++n) {
      const std::uint32_t s = order[n];
      ASSERT_TRUE(t.index.erase(t.hashes[s], s));
      gone[s] = true;
      ASSERT_EQ(t.index.size(), keys.size() - n - 1);
      if (n % 7 == 0 || n + 10 > order.size()) {
        for (std::uint32_t u = 0; u < keys.size(); ++u) {
          ASSERT_EQ(t.find(keys[u], t.hashes[u]), gone[u] ? kMissing : u) << "after " << n;
        }
      }
    }
    EXPECT_EQ(t.bad_same_calls, 0u);
  }
}

// Builds tags whose home (with 2^bits positions) is `home`, with random low bits.
std::uint64_t hash_at_home(std::size_t home, int bits, std::mt19937_64& rng) {
  const std::uint32_t low_mask = (std::uint32_t{1} << (32 - bits)) - 1;
  const std::uint32_t tag = static_cast<std::uint32_t>(home << (32 - bits)) |
                            (static_cast<std::uint32_t>(rng()) & low_mask);
  return std::uint64_t{tag} << 32 | (rng() & 0xFFFFFFFFu);
}

TEST(KeyIndex, ClustersWrappingPastTheEndSurviveErasesInAnyOrder) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t capacity = trial % 3 == 0 ? 8 : (trial % 3 == 1 ? 32 : 64);
    Table t;
    t.index.reserve(capacity, false);
    const std::size_t positions = t.index.positions();
    ASSERT_GE(positions, 2 * capacity);
    const int bits = std::countr_zero(positions);
    ASSERT_EQ(std::size_t{1} << bits, positions);

    // Homes among the last few positions and the first few: clusters run past the end
    // to position 0 and mix with entries homed there. Some keys share a whole tag.
    const std::size_t n = capacity / 2 + rng() % (capacity / 2 + 1);  // up to capacity
    const int back = 1 + static_cast<int>(rng() % 4), front = static_cast<int>(rng() % 3);
    for (std::size_t i = 0; i < n; ++i) {
      const int d = static_cast<int>(rng() % static_cast<std::uint64_t>(back + front));
      const std::size_t home = d < back ? positions - 1 - static_cast<std::size_t>(d)
                                        : static_cast<std::size_t>(d - back);
      std::uint64_t h = hash_at_home(home, bits, rng);
      if (i > 0 && rng() % 5 == 0) {  // the tag of an earlier key
        h = (t.hashes[rng() % i] & 0xFFFFFFFF00000000ull) | (rng() & 0xFFFFFFFFu);
      }
      t.add(1'000'000 * static_cast<std::uint64_t>(trial) + i, h);
    }
    ASSERT_EQ(t.index.positions(), positions) << "no rehash: homes as crafted";
    for (std::uint32_t s = 0; s < n; ++s) ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);

    // Erase in insertion order (the start of the cluster first), reverse, or at random;
    // after each, every remaining key is found and the erased are not.
    std::vector<std::uint32_t> order(n);
    for (std::uint32_t s = 0; s < n; ++s) order[s] = s;
    if (trial % 4 == 1) std::reverse(order.begin(), order.end());
    if (trial % 4 >= 2) std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> gone(n, false);
    const std::size_t erase_count = trial % 5 == 4 ? n / 2 : n;
    for (std::size_t k = 0; k < erase_count; ++k) {
      const std::uint32_t s = order[k];
      ASSERT_TRUE(t.index.erase(t.hashes[s], s)) << "trial " << trial << " k " << k;
      gone[s] = true;
      ASSERT_EQ(t.index.size(), n - k - 1);
      for (std::uint32_t u = 0; u < n; ++u) {
        ASSERT_EQ(t.find(t.records[u], t.hashes[u]), gone[u] ? kMissing : u)
            << "trial " << trial << " after erasing " << k + 1 << " of " << n;
      }
    }
    // Refill (still without a rehash) and check again: the holes were left consistent.
    for (std::uint32_t s = 0; s < n; ++s) {
      if (gone[s]) t.index.insert(t.hashes[s], s);
    }
    ASSERT_EQ(t.index.positions(), positions);
    ASSERT_EQ(t.index.size(), n);
    for (std::uint32_t s = 0; s < n; ++s) {
      ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s) << "trial " << trial;
    }
    ASSERT_EQ(t.bad_same_calls, 0u);
  }
}

TEST(KeyIndex, EraseOfAnAbsentPairReturnsFalseAndChangesNothing) {
  std::mt19937_64 rng(5);
  Table t;
  t.index.reserve(32, false);
  const int bits = std::countr_zero(t.index.positions());
  const std::size_t last = t.index.positions() - 1;
  // A cluster wrapping around the end, and a few keys elsewhere.
  for (int i = 0; i < 20; ++i) t.add(100 + i, hash_at_home(last - (i % 3), bits, rng));
  for (int i = 0; i < 5; ++i) t.add(200 + i, hash_at_home(10, bits, rng));
  const std::size_t n = t.records.size();
  const std::size_t positions = t.index.positions();

  const auto all_found = [&] {
    for (std::uint32_t s = 0; s < n; ++s) {
      if (t.find(t.records[s], t.hashes[s]) != s) return false;
    }
    return true;
  };
  ASSERT_TRUE(all_found());
  // The right hash, a slot that is not its own (a live one, and one never used).
  EXPECT_FALSE(t.index.erase(t.hashes[0], 1));
  EXPECT_FALSE(t.index.erase(t.hashes[0], static_cast<std::uint32_t>(n + 5)));
  // The right slot, a hash with another tag (same home, and another home).
  EXPECT_FALSE(t.index.erase(t.hashes[3] ^ (std::uint64_t{1} << 32), 3));
  EXPECT_FALSE(t.index.erase(hash_at_home(20, bits, rng), 3));
  // Hashes with new tags homed inside the wrapped cluster (it covers positions
  // last - 2 .. 16) and on an empty position.
  EXPECT_FALSE(t.index.erase(hash_at_home(5, bits, rng), 0));
  EXPECT_FALSE(t.index.erase(hash_at_home(last, bits, rng), 0));
  EXPECT_FALSE(t.index.erase(hash_at_home(30, bits, rng), 0));
  EXPECT_EQ(t.index.size(), n);
  EXPECT_EQ(t.index.positions(), positions);
  EXPECT_TRUE(all_found());

  // After a real erase, erasing it again is false and changes nothing more.
  ASSERT_TRUE(t.index.erase(t.hashes[4], 4));
  EXPECT_FALSE(t.index.erase(t.hashes[4], 4));
  EXPECT_EQ(t.index.size(), n - 1);
  EXPECT_EQ(t.find(t.records[4], t.hashes[4]), kMissing);
  for (std::uint32_t s = 0; s < n; ++s) {
    if (s != 4) {
      EXPECT_EQ(t.find(t.records[s], t.hashes[s]), s);
    }
  }
}

// ---------------------------------------------------------------------------------------
// 3./4. Growth and reserve.

TEST(KeyIndex, GrowsFarPastItsFirstSizeWithoutReserve) {
  Table t;
  constexpr std::uint32_t kKeys = 100'000;
  t.records.reserve(kKeys);
  t.hashes.reserve(kKeys);
  std::size_t rehashes = 0, last_positions = 0;
  for (std::uint32_t i = 0; i < kKeys; ++i) {
    const std::uint64_t key = 0x9E3779B97F4A7C15ull * (i + 1);
    t.add(key, t.index.hash(&key, 8));
    const std::size_t positions = t.index.positions();
    ASSERT_GE(positions, 2 * t.index.size()) << "after " << i + 1;
    ASSERT_TRUE(std::has_single_bit(positions));
    if (positions != last_positions) ++rehashes, last_positions = positions;
  }
  EXPECT_EQ(t.index.size(), kKeys);
  EXPECT_GT(rehashes, 10u);
  for (std::uint32_t s = 0; s < kKeys; ++s) ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);
  std::uint64_t absent = 12345;
  EXPECT_EQ(t.find(absent, t.index.hash(&absent, 8)), kMissing);
  EXPECT_EQ(t.bad_same_calls, 0u);
}

TEST(KeyIndex, ReserveOnAFilledIndexKeepsItsContents) {
  Table t;
  for (std::uint64_t key = 0; key < 1000; ++key) t.add(key, t.index.hash(&key, 8));
  const std::size_t before = t.index.positions();
  t.index.reserve(50'000, false);
  EXPECT_GT(t.index.positions(), before);
  EXPECT_GE(t.index.positions(), 100'000u);
  EXPECT_EQ(t.index.size(), 1000u);
  for (std::uint32_t s = 0; s < 1000; ++s) ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);
  // A smaller reserve never shrinks.
  const std::size_t grown = t.index.positions();
  t.index.reserve(10, false);
  EXPECT_EQ(t.index.positions(), grown);
  for (std::uint32_t s = 0; s < 1000; ++s) ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);
}

// reserve(n, true) on an index that holds entries: touching the pages must not change
// them. Entries are crafted to sit at the first position of each 4 KiB page (every 512th
// position), with tags whose low byte is not 0; both without and with a rehash.
TEST(KeyIndex, ReserveWithTouchOnAFilledIndexKeepsItsContents) {
  std::mt19937_64 rng(3);
  for (const bool rehash : {false, true}) {
    Table t;
    t.index.reserve(2048, false);
    ASSERT_EQ(t.index.positions(), 4096u);
    const std::size_t target_positions = rehash ? 8192 : 4096;
    const int bits = std::countr_zero(target_positions);
    for (std::size_t home = 0; home < target_positions; home += 512) {
      for (int i = 0; i < 3; ++i) {  // three per page start: the next two positions too
        std::uint64_t h = hash_at_home(home, bits, rng);
        h |= std::uint64_t{0x5A} << 32;  // the tag's low byte
        t.add(t.records.size() + 1, h);
      }
    }
    ASSERT_EQ(t.index.positions(), 4096u);
    for (std::uint32_t s = 0; s < t.records.size(); ++s) {
      ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);
    }
    t.index.reserve(target_positions / 2, true);
    ASSERT_EQ(t.index.positions(), target_positions);
    ASSERT_EQ(t.index.size(), t.records.size());
    for (std::uint32_t s = 0; s < t.records.size(); ++s) {
      EXPECT_EQ(t.find(t.records[s], t.hashes[s]), s)
          << (rehash ? "with" : "without") << " a rehash, slot " << s;
    }
  }
}

TEST(KeyIndex, InsertingAsManyKeysAsReservedDoesNotRehash) {
  for (const std::size_t n : {1u, 2u, 3u, 7u, 8u, 9u, 100u, 1000u, 4096u, 65536u, 100'000u}) {
    Table t;
    t.index.reserve(n, true);
    const std::size_t positions = t.index.positions();
    ASSERT_GE(positions, 2 * n);
    for (std::uint64_t key = 0; key < n; ++key) {
      t.add(key, t.index.hash(&key, 8));
      ASSERT_EQ(t.index.positions(), positions) << "n " << n << " after " << key + 1;
    }
    for (std::uint32_t s = 0; s < n; ++s) ASSERT_EQ(t.find(t.records[s], t.hashes[s]), s);
  }
}

// ---------------------------------------------------------------------------------------
// 5. Moves.

TEST(KeyIndex, MoveConstructionKeepsTheContents) {
  Table t;
  for (std::uint64_t key = 0; key < 500; ++key) t.add(key, t.index.hash(&key, 8));
  const std::size_t positions = t.index.positions();
  const std::uint64_t probe = 77;
  const std::uint64_t probe_hash = t.index.hash(&probe, 8);

  KeyIndex moved(std::move(t.index));
  EXPECT_EQ(moved.size(), 500u);
  EXPECT_EQ(moved.positions(), positions);
  EXPECT_EQ(moved.hash(&probe, 8), probe_hash) << "the seed moves too";
  for (std::uint32_t s = 0; s < 500; ++s) {
    ASSERT_EQ(moved.find(t.hashes[s], [&](std::uint32_t x) { return t.records[x] == s; }), s);
  }

  // The moved-from index is empty (and still usable).
  EXPECT_EQ(t.index.size(), 0u);
  for (std::uint32_t s = 0; s < 500; ++s) EXPECT_EQ(t.find(t.records[s], t.hashes[s]), kMissing);
  EXPECT_FALSE(t.index.erase(t.hashes[0], 0));
  t.index.insert(t.hashes[0], 0);
  EXPECT_EQ(t.index.size(), 1u);
  EXPECT_EQ(t.find(t.records[0], t.hashes[0]), 0u);
  EXPECT_EQ(t.bad_same_calls, 0u);
}

TEST(KeyIndex, MoveAssignmentReplacesTheContents) {
  std::vector<std::uint64_t> records;
  std::vector<std::uint64_t> hashes;
  KeyIndex a, b;
  for (std::uint64_t key = 0; key < 300; ++key) {
    const auto slot = static_cast<std::uint32_t>(records.size());
    records.push_back(key);
    hashes.push_back(a.hash(&key, 8));
    a.insert(hashes.back(), slot);
  }
  // b holds other keys, in other slots, under its own hashes.
  std::vector<std::uint64_t> b_hashes;
  for (std::uint64_t key = 10'000; key < 10'050; ++key) {
    b_hashes.push_back(b.hash(&key, 8));
    b.insert(b_hashes.back(), static_cast<std::uint32_t>(key - 10'000 + 300));
  }
  records.resize(350);
  for (std::uint64_t key = 10'000; key < 10'050; ++key) records[key - 10'000 + 300] = key;
  const std::size_t positions = a.positions();

  b = std::move(a);
  EXPECT_EQ(b.size(), 300u);
  EXPECT_EQ(b.positions(), positions);
  for (std::uint32_t s = 0; s < 300; ++s) {
    const std::uint64_t key = records[s];
    EXPECT_EQ(b.hash(&key, 8), hashes[s]);
    ASSERT_EQ(b.find(hashes[s], [&](std::uint32_t x) { return records[x] == key; }), s);
  }
  for (std::size_t i = 0; i < b_hashes.size(); ++i) {
    const std::uint64_t key = 10'000 + i;
    EXPECT_EQ(b.find(b_hashes[i], [&](std::uint32_t x) { return records[x] == key; }), kMissing)
        << "b's old entries are gone";
    EXPECT_EQ(b.find(b.hash(&key, 8), [&](std::uint32_t x) { return records[x] == key; }),
              kMissing);
  }
  EXPECT_EQ(a.size(), 0u);
  for (std::uint32_t s = 0; s < 300; ++s) {
    EXPECT_EQ(a.find(hashes[s], [&](std::uint32_t x) { return records[x] == records[s]; }),
              kMissing);
  }
}

// ---------------------------------------------------------------------------------------
// 6. run_load_tasks.

TEST(LoadTasks, AnEmptyListSucceeds) {
  for (const unsigned threads : {0u, 1u, 4u}) {
    std::string error = "untouched";
    EXPECT_TRUE(run_load_tasks({}, &error, threads));
  }
}

TEST(LoadTasks, EveryTaskRunsExactlyOnce) {
  for (const unsigned threads : {1u, 2u, 4u, 0u, 64u}) {
    for (const std::size_t n : {1u, 3u, 100u}) {
      std::vector<std::atomic<int>> runs(n);
      std::vector<LoadTask> tasks;
      for (std::size_t i = 0; i < n; ++i) {
        tasks.push_back({(i * 7919) % 13, [&runs, i](std::string*) {
                           runs[i].fetch_add(1);
                           return true;
                         }});
      }
      std::string error;
      EXPECT_TRUE(run_load_tasks(std::move(tasks), &error, threads))
          << "threads " << threads << " n " << n << ": " << error;
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(runs[i].load(), 1) << "threads " << threads << " n " << n << " task " << i;
      }
    }
  }
}

TEST(LoadTasks, OneThreadRunsOnTheCallerLargestCostFirst) {
  const std::uint64_t costs[] = {5, 1, 9, 5, 0, 9, 3};
  std::vector<std::size_t> order;
  std::set<std::thread::id> ids;
  std::vector<LoadTask> tasks;
  for (std::size_t i = 0; i < std::size(costs); ++i) {
    tasks.push_back({costs[i], [&, i](std::string*) {
                       order.push_back(i);
                       ids.insert(std::this_thread::get_id());
                       return true;
                     }});
  }
  std::string error;
  ASSERT_TRUE(run_load_tasks(std::move(tasks), &error, 1));
  // Decreasing cost; equal costs in list order.
  EXPECT_EQ(order, (std::vector<std::size_t>{2, 5, 0, 3, 6, 1, 4}));
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(LoadTasks, NoMoreThreadsThanAskedFor) {
  for (const unsigned threads : {1u, 2u, 4u}) {
    std::mutex m;
    std::set<std::thread::id> ids;
    std::vector<LoadTask> tasks;
    for (int i = 0; i < 40; ++i) {
      tasks.push_back({static_cast<std::uint64_t>(i), [&](std::string*) {
                         std::this_thread::sleep_for(std::chrono::microseconds(200));
                         std::lock_guard lock(m);
                         ids.insert(std::this_thread::get_id());
                         return true;
                       }});
    }
    std::string error;
    ASSERT_TRUE(run_load_tasks(std::move(tasks), &error, threads));
    EXPECT_GE(ids.size(), 1u);
    EXPECT_LE(ids.size(), threads);
  }
}

TEST(LoadTasks, TwoThreadsRunTwoTasksAtOnce) {
  // Each task waits (up to 10 s) for the other to have started: both must run at once.
  std::atomic<int> started{0};
  const auto meet = [&started](std::string* error) {
    started.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < 2) {
      if (std::chrono::steady_clock::now() > deadline) {
        *error = "ran alone";
        return false;
      }
      std::this_thread::yield();
    }
    return true;
  };
  std::vector<LoadTask> tasks;
  tasks.push_back({1, meet});
  tasks.push_back({1, meet});
  std::string error;
  EXPECT_TRUE(run_load_tasks(std::move(tasks), &error, 2)) << error;
}

TEST(LoadTasks, ReportsTheFirstFailureInListOrder) {
  // Task 1 fails, cheap; task 3 fails too, with the largest cost, so it is started first.
  for (const unsigned threads : {1u, 2u, 4u, 0u}) {
    std::vector<std::atomic<int>> runs(5);
    std::vector<LoadTask> tasks;
    const std::uint64_t costs[] = {2, 1, 3, 100, 0};
    for (std::size_t i = 0; i < 5; ++i) {
      tasks.push_back({costs[i], [&runs, i](std::string* error) {
                         runs[i].fetch_add(1);
                         if (i == 1 || i == 3) {
                           *error = "task " + std::to_string(i) + " failed";
                           return false;
                         }
                         return true;
                       }});
    }
    std::string error;
    EXPECT_FALSE(run_load_tasks(std::move(tasks), &error, threads)) << "threads " << threads;
    EXPECT_EQ(error, "task 1 failed") << "threads " << threads;
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(runs[i].load(), 1) << "every task runs, failures or not; task " << i;
    }
  }
}

TEST(LoadTasks, TheFirstFailureWinsHoweverTheTasksAreScheduled) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 60; ++trial) {
    const unsigned threads = std::vector<unsigned>{1, 2, 4, 0}[trial % 4];
    const std::size_t n = 2 + rng() % 30;
    std::vector<bool> fails(n);
    std::size_t first = n;
    for (std::size_t i = 0; i < n; ++i) {
      fails[i] = rng() % 4 == 0;
      if (fails[i] && first == n) first = i;
    }
    std::vector<std::atomic<int>> runs(n);
    std::vector<LoadTask> tasks;
    for (std::size_t i = 0; i < n; ++i) {
      // Later tasks tend to cost more, so they are scheduled before earlier ones.
      const std::uint64_t cost = i * 10 + rng() % 15;
      const bool fail = fails[i];
      tasks.push_back({cost, [&runs, i, fail](std::string* error) {
                         runs[i].fetch_add(1);
                         if (!fail) return true;
                         *error = "bad records in task " + std::to_string(i);
                         return false;
                       }});
    }
    std::string error;
    const bool ok = run_load_tasks(std::move(tasks), &error, threads);
    EXPECT_EQ(ok, first == n) << "trial " << trial;
    if (first != n) {
      EXPECT_EQ(error, "bad records in task " + std::to_string(first)) << "trial " << trial;
    }
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << "trial " << trial;
  }
}

}  // namespace
