// Table<T>: the records of one record type, and their indexes.
//
// Storage: records live in chunks allocated whole (up to 2 MiB each: a huge page where
// the kernel grants one) as the table grows
// and never moved, so a record's address is stable while it is live. A slot is a
// record's place; slots are handed out deterministically: the most recently freed slot
// first (LIFO), else the next never-used one, so the same history of inserts and erases
// gives the same slots. Capacity is configuration: a full table refuses the insert
// (EngineReject::kCapacityExceeded), it does not grow past it.
//
// Indexes: the primary key in a KeyIndex (engine/key_index.h: hash to slot, the key
// confirmed from the record); each unique key in an absl::flat_hash_map from its
// encoding (engine/key.h) to the slot; each ordered index in an absl::btree_map from the
// index fields' encoding followed by the primary key's, so entries are unique and a
// prefix of the index fields selects a contiguous range. No output ever depends on the
// iteration order of a hash map; ordered scans and for_each (slot order) are
// deterministic.
//
// T is a generated table description (schemac): Record, kId, kName, Primary, Uniques,
// Indexes (tuples of key specs with kBytes and encode()), clear_padding(),
// same_secondary_fields() and check().
//
// Thread safety: one thread, the execute stage's. Handlers reach a table only through
// TableAccess (engine/table_access.h), which stages every write in the TxCore.
#pragma once

#include <absl/container/btree_map.h>
#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/mapped_memory.h"
#include "engine/key.h"
#include "engine/key_index.h"
#include "engine/load_tasks.h"
#include "engine/outcome.h"
#include "engine/state_hash.h"
#include "engine/state_hash_inline.h"

namespace lockstep {

inline constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;

// What TxCore needs of any table, for commit and rollback: called once or twice per
// written record, so a virtual call is cheap beside the work; handlers' reads and writes
// go through TableAccess<T> without it.
class TableBase {
 public:
  virtual ~TableBase() = default;
  virtual std::uint16_t id() const noexcept = 0;
  virtual std::uint32_t record_bytes() const noexcept = 0;
  virtual std::byte* record_bytes_at(std::uint32_t slot) noexcept = 0;
  virtual bool live(std::uint32_t slot) const noexcept = 0;
  virtual void set_live(std::uint32_t slot, bool live) noexcept = 0;
  virtual bool has_secondary() const noexcept = 0;
  // Moves the secondary index entries of `slot` from the keys of `indexed` to those of
  // the current record. Refuses (returns the outcome, changes nothing) if a new unique
  // key belongs to another record. Sets *changed if any key differed.
  virtual Outcome sync_secondary(std::uint32_t slot, const std::byte* indexed,
                                 bool* changed) noexcept = 0;
  // The primary key of `a` and of the record in `slot` are equal.
  virtual bool same_primary(const std::byte* a, std::uint32_t slot) const noexcept = 0;
  // Invariants and state machine of the record in `slot`; `before` is null for an insert.
  virtual Outcome check(const std::byte* before, std::uint32_t slot) const noexcept = 0;
  // Adds or removes the index entries of `image` for `slot`: the primary key's if
  // `primary`, the unique keys' and ordered indexes' if `secondary`.
  virtual void add_keys(std::uint32_t slot, const std::byte* image, bool primary,
                        bool secondary) noexcept = 0;
  virtual void remove_keys(std::uint32_t slot, const std::byte* image, bool primary,
                           bool secondary) noexcept = 0;
  virtual std::uint32_t primary_bytes() const noexcept = 0;
  // Writes the primary key encoding of `image` to `out`; returns its length.
  virtual std::uint32_t encode_primary(const std::byte* image, std::byte* out) const noexcept = 0;
  // Slot allocation, and its undo, for rollback.
  virtual void release(std::uint32_t slot) noexcept = 0;
  virtual void undo_release(std::uint32_t slot) noexcept = 0;
  virtual void undo_allocate(std::uint32_t slot, bool fresh) noexcept = 0;
  // The live records' contribution to the state hash, recomputed from scratch.
  virtual void hash_all(StateHash* into) const = 0;
  // One record image's contribution, added or removed.
  virtual void hash_add(StateHash* into, const std::byte* image) const noexcept = 0;
  virtual void hash_remove(StateHash* into, const std::byte* image) const noexcept = 0;
  // Where the live flag of `slot` is, for readers that must not make a virtual call.
  virtual const std::uint8_t* live_flag(std::uint32_t slot) const noexcept = 0;
};

template <class Spec>
struct UniqueIndex {
  absl::flat_hash_map<KeyBytes<Spec::kBytes>, std::uint32_t, absl::Hash<KeyBytes<Spec::kBytes>>,
                      KeyEq>
      map;
};
template <class Spec, std::size_t PkBytes>
struct OrderedIndex {
  absl::btree_map<KeyBytes<Spec::kBytes + PkBytes>, std::uint32_t, KeyLess> map;
};

namespace detail {
template <class Tuple>
struct UniquesOf;
template <class... S>
struct UniquesOf<std::tuple<S...>> {
  using type = std::tuple<UniqueIndex<S>...>;
};
template <class Tuple, std::size_t PkBytes>
struct OrderedOf;
template <class... S, std::size_t PkBytes>
struct OrderedOf<std::tuple<S...>, PkBytes> {
  using type = std::tuple<OrderedIndex<S, PkBytes>...>;
};
}  // namespace detail

template <class T>
class Table final : public TableBase {
 public:
  using Record = typename T::Record;
  static constexpr std::size_t kPkBytes = T::Primary::kBytes;
  using Pk = KeyBytes<kPkBytes>;
  using Uniques = typename detail::UniquesOf<typename T::Uniques>::type;
  using Ordered = typename detail::OrderedOf<typename T::Indexes, kPkBytes>::type;
  static constexpr std::size_t kUniqueCount = std::tuple_size_v<typename T::Uniques>;
  static constexpr std::size_t kIndexCount = std::tuple_size_v<typename T::Indexes>;
  // A slot: the record and the per-slot state the TxCore and the table keep, together,
  // so one record's write touches one or two cache lines (a 48-byte record makes a
  // 64-byte slot), not a line in each of several arrays.
  struct Slot {
    Record record;
    std::uint64_t stamp;  // the TxCore member that touched the slot last
    std::uint32_t entry;  // that member's write-set entry for it
    std::uint8_t live;
  };
  // Slots per chunk: a power of two filling at most 2 MiB, one huge page where the
  // kernel grants it (chunks are 2 MiB-aligned and advised MADV_HUGEPAGE).
  static constexpr std::size_t kChunkBytesMax = std::size_t{2} << 20;
  static constexpr std::uint32_t kChunkShift =
      std::bit_width(std::max<std::size_t>(1, kChunkBytesMax / sizeof(Slot))) - 1;
  static constexpr std::uint32_t kChunkRecords = 1u << kChunkShift;

  // `capacity`: the most live records (at most kNoSlot - 1). With `preallocate`, every
  // chunk and the index tables are allocated now, so nothing allocates while running.
  // `reserve` (a hint, not a limit): without `preallocate`, allocate for that many records
  // now anyway.
  Table(std::uint32_t capacity, bool preallocate, std::uint32_t reserve = 0) : capacity_(capacity) {
    LS_ASSERT(capacity < kNoSlot);
    chunks_.resize((std::size_t{capacity} + kChunkRecords - 1) >> kChunkShift);
    const std::uint32_t now = preallocate ? capacity : std::min(reserve, capacity);
    if (now > 0) {
      const std::size_t chunks = (std::size_t{now} + kChunkRecords - 1) >> kChunkShift;
      for (std::size_t i = 0; i < chunks; ++i) chunks_[i] = new_chunk(true);
      primary_.reserve(now, preallocate);
      std::apply([&](auto&... u) { (u.map.reserve(now), ...); }, uniques_);
      free_.reserve(now);
    }
  }

  std::uint32_t capacity() const noexcept { return capacity_; }
  std::uint32_t size() const noexcept { return live_count_; }

  // The slot of the live record with primary key `pk`, or kNoSlot.
  std::uint32_t slot_of(const Pk& pk) const noexcept { return find_primary(pk, pk_hash(pk)); }
  Record& record(std::uint32_t slot) noexcept { return at(slot).record; }
  const Record& record(std::uint32_t slot) const noexcept { return at(slot).record; }
  // The TxCore's per-slot note of which command touched the slot last, and its entry.
  std::uint64_t& touch_stamp(std::uint32_t slot) noexcept { return at(slot).stamp; }
  std::uint32_t& touch_entry(std::uint32_t slot) noexcept { return at(slot).entry; }

  static Pk primary_of(const Record& r) noexcept {
    Pk k;
    T::Primary::encode(r, k.data());
    return k;
  }

  // Takes a slot for an insert; false if the table is full.
  [[nodiscard]] bool allocate(std::uint32_t* slot, bool* fresh) {
    if (!free_.empty()) {
      *slot = free_.back();
      free_.pop_back();
      *fresh = false;
    } else if (next_fresh_ < capacity_) {
      // The free list can hold every slot ever used, so release() never reallocates.
      if (free_.capacity() <= next_fresh_) {
        free_.reserve(
            std::min<std::size_t>(capacity_, std::max<std::size_t>(1024, 2 * free_.capacity())));
      }
      *slot = next_fresh_++;
      *fresh = true;
      auto& c = chunks_[*slot >> kChunkShift];
      if (c.data() == nullptr) c = new_chunk(false);
    } else {
      return false;
    }
    return true;
  }

  // ---- TableBase
  std::uint16_t id() const noexcept override { return T::kId; }
  std::uint32_t record_bytes() const noexcept override { return sizeof(Record); }
  std::byte* record_bytes_at(std::uint32_t slot) noexcept override {
    return reinterpret_cast<std::byte*>(&record(slot));
  }
  bool live(std::uint32_t slot) const noexcept override {
    return slot < next_fresh_ && at(slot).live != 0;
  }
  void set_live(std::uint32_t slot, bool live) noexcept override {
    std::uint8_t& l = at(slot).live;
    LS_DASSERT((l != 0) != live);
    l = live ? 1 : 0;
    live_count_ += live ? 1 : -1;
  }
  bool has_secondary() const noexcept override { return kUniqueCount + kIndexCount > 0; }

  Outcome sync_secondary(std::uint32_t slot, const std::byte* indexed,
                         bool* changed) noexcept override {
    const Record& now = record(slot);
    const Record& was = as_record(indexed);
    *changed = false;
    if (T::same_secondary_fields(was, now)) return Outcome::ok();
    // First every check, then every change: a refusal leaves the indexes as they were.
    Outcome refusal;
    for_each_unique([&](std::uint32_t i, auto& u, auto spec) {
      using Spec = decltype(spec);
      if (!refusal.is_ok()) return;
      KeyBytes<Spec::kBytes> a, b;
      Spec::encode(was, a.data());
      Spec::encode(now, b.data());
      if (a == b) return;
      const auto it = u.map.find(b);
      if (it != u.map.end() && it->second != slot) {
        refusal = Outcome::engine(EngineReject::kUniqueKeyConflict,
                                  std::uint32_t{T::kId} << 16 | (i + 1));
      }
    });
    if (!refusal.is_ok()) return refusal;
    for_each_unique([&](std::uint32_t, auto& u, auto spec) {
      using Spec = decltype(spec);
      KeyBytes<Spec::kBytes> a, b;
      Spec::encode(was, a.data());
      Spec::encode(now, b.data());
      if (a == b) return;
      *changed = true;
      u.map.erase(a);
      const bool fresh = u.map.emplace(b, slot).second;
      LS_ASSERT(fresh);
    });
    for_each_ordered([&](std::uint32_t, auto& o, auto spec) {
      using Spec = decltype(spec);
      const auto a = ordered_key<Spec>(was);
      const auto b = ordered_key<Spec>(now);
      if (a == b) return;
      *changed = true;
      const auto erased = o.map.erase(a);
      const bool fresh = o.map.emplace(b, slot).second;
      LS_ASSERT(erased == 1 && fresh);
    });
    return Outcome::ok();
  }

  bool same_primary(const std::byte* a, std::uint32_t slot) const noexcept override {
    return primary_of(as_record(a)) == primary_of(record(slot));
  }

  Outcome check(const std::byte* before, std::uint32_t slot) const noexcept override {
    return T::check(before == nullptr ? nullptr : &as_record(before), record(slot));
  }

  void add_keys(std::uint32_t slot, const std::byte* image, bool primary,
                bool secondary) noexcept override {
    const Record& r = as_record(image);
    if (primary) {
      const Pk k = primary_of(r);
      const std::uint64_t h = pk_hash(k);
      LS_ASSERT(find_primary(k, h) == kNoSlot);
      primary_.insert(h, slot);
    }
    if (!secondary) return;
    for_each_unique([&](std::uint32_t, auto& u, auto spec) {
      using Spec = decltype(spec);
      KeyBytes<Spec::kBytes> k;
      Spec::encode(r, k.data());
      const bool fresh = u.map.emplace(k, slot).second;
      LS_ASSERT(fresh);
    });
    for_each_ordered([&](std::uint32_t, auto& o, auto spec) {
      const bool fresh = o.map.emplace(ordered_key<decltype(spec)>(r), slot).second;
      LS_ASSERT(fresh);
    });
  }

  void remove_keys(std::uint32_t slot, const std::byte* image, bool primary,
                   bool secondary) noexcept override {
    const Record& r = as_record(image);
    if (primary) {
      const bool erased = primary_.erase(pk_hash(primary_of(r)), slot);
      LS_ASSERT(erased);
    }
    if (!secondary) return;
    for_each_unique([&](std::uint32_t, auto& u, auto spec) {
      using Spec = decltype(spec);
      KeyBytes<Spec::kBytes> k;
      Spec::encode(r, k.data());
      const auto it = u.map.find(k);
      LS_ASSERT(it != u.map.end() && it->second == slot);
      u.map.erase(it);
    });
    for_each_ordered([&](std::uint32_t, auto& o, auto spec) {
      const auto erased = o.map.erase(ordered_key<decltype(spec)>(r));
      LS_ASSERT(erased == 1);
    });
  }

  std::uint32_t primary_bytes() const noexcept override { return kPkBytes; }
  std::uint32_t encode_primary(const std::byte* image, std::byte* out) const noexcept override {
    const Pk k = primary_of(as_record(image));
    std::memcpy(out, k.data(), k.size());
    return static_cast<std::uint32_t>(k.size());
  }

  void release(std::uint32_t slot) noexcept override { free_.push_back(slot); }
  void undo_release(std::uint32_t slot) noexcept override {
    LS_ASSERT(!free_.empty() && free_.back() == slot);
    free_.pop_back();
  }
  void undo_allocate(std::uint32_t slot, bool fresh) noexcept override {
    if (fresh) {
      LS_ASSERT(next_fresh_ == slot + 1);
      --next_fresh_;
    } else {
      free_.push_back(slot);
    }
  }

  void hash_add(StateHash* into, const std::byte* image) const noexcept override {
    into->add_sized<sizeof(Record)>(T::kId, image);
  }
  void hash_remove(StateHash* into, const std::byte* image) const noexcept override {
    into->remove_sized<sizeof(Record)>(T::kId, image);
  }
  const std::uint8_t* live_flag(std::uint32_t slot) const noexcept override {
    return &at(slot).live;
  }

  void hash_all(StateHash* into) const override {
    for_each([&](std::uint32_t, const Record& r) {
      into->add(T::kId, {reinterpret_cast<const std::byte*>(&r), sizeof r});
    });
  }

  // Calls f(slot, record) for every live record, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t s = 0; s < next_fresh_; ++s) {
      if (live(s)) f(s, record(s));
    }
  }

  // Unique-key lookup: the slot of the live record whose I-th unique key encodes to
  // `k`, or kNoSlot. (The TxCore brings the indexes up to date first.)
  template <std::size_t I, std::size_t N>
  std::uint32_t find_unique(const KeyBytes<N>& k) const noexcept {
    const auto& map = std::get<I>(uniques_).map;
    const auto it = map.find(k);
    return it == map.end() ? kNoSlot : it->second;
  }

  // Ordered scan of index I over [lo, hi) in encoded bytes (lo, hi: index-field prefixes
  // of any length; an empty hi means to the end). f(slot) returns false to stop.
  template <std::size_t I, class F>
  void scan(std::span<const std::uint8_t> lo, std::span<const std::uint8_t> hi, F&& f) const {
    const auto& map = std::get<I>(ordered_).map;
    using Full = typename std::remove_cvref_t<decltype(map)>::key_type;
    Full from{};
    LS_DASSERT(lo.size() <= from.size());
    if (!lo.empty()) std::memcpy(from.data(), lo.data(), lo.size());
    for (auto it = map.lower_bound(from); it != map.end(); ++it) {
      if (!hi.empty() && std::memcmp(it->first.data(), hi.data(), hi.size()) >= 0) return;
      if (!f(it->second)) return;
    }
  }
  // Prefix scan of index I: every entry whose encoding begins with `prefix`.
  template <std::size_t I, class F>
  void scan_prefix(std::span<const std::uint8_t> prefix, F&& f) const {
    const auto& map = std::get<I>(ordered_).map;
    using Full = typename std::remove_cvref_t<decltype(map)>::key_type;
    Full from{};
    LS_DASSERT(prefix.size() <= from.size());
    if (!prefix.empty()) std::memcpy(from.data(), prefix.data(), prefix.size());
    for (auto it = map.lower_bound(from); it != map.end(); ++it) {
      if (std::memcmp(it->first.data(), prefix.data(), prefix.size()) != 0) return;
      if (!f(it->second)) return;
    }
  }

  // ---- For projections (engine/projection.h): committed deltas, applied without staging.
  // The slot of the live record whose primary key encodes to `key`, or kNoSlot.
  std::uint32_t slot_of_key(std::span<const std::byte> key) const noexcept {
    if (key.size() != kPkBytes) return kNoSlot;
    Pk k;
    std::memcpy(k.data(), key.data(), kPkBytes);
    return slot_of(k);
  }
  // The slot of the live record with `image`'s primary key, or kNoSlot.
  std::uint32_t slot_of_image(const std::byte* image) const noexcept {
    Record r;
    std::memcpy(static_cast<void*>(&r), image, sizeof r);
    return slot_of(primary_of(r));
  }
  // Removes the live record in `slot` and every index entry of it.
  void remove_slot(std::uint32_t slot) noexcept {
    remove_keys(slot, reinterpret_cast<const std::byte*>(&record(slot)), true, true);
    set_live(slot, false);
    release(slot);
  }
  // Overwrites the record in `slot` with `image` if that changes none of its keys; else
  // changes nothing and returns false.
  bool overwrite_same_keys(std::uint32_t slot, const std::byte* image) noexcept {
    Record r;
    std::memcpy(static_cast<void*>(&r), image, sizeof r);
    Record& now = record(slot);
    if (!(primary_of(r) == primary_of(now)) || !T::same_secondary_fields(now, r)) return false;
    now = r;
    return true;
  }
  // Inserts `image` with its index entries. REQUIRES: none of its keys is taken, and room
  // (a committed delta applied to a table of the writer's capacity has both).
  void insert_image(const std::byte* image) {
    Record r;
    std::memcpy(static_cast<void*>(&r), image, sizeof r);
    std::uint32_t slot = kNoSlot;
    bool fresh = false;
    const Outcome o = insert(
        r, [] { return true; }, &slot, &fresh);
    LS_ASSERT(o.is_ok());
  }

  // Loading a snapshot, in two steps. load_image() only places records: each in the next
  // slot, live, its state-hash contribution added to *hash (false if the table is full).
  // load_tasks() then adds the tasks that build every index from those slots
  // (engine/load_tasks.h): one for the primary and unique keys (prefetching ahead: the
  // keys are all known), one per ordered index (sorted once, or not at all when slot
  // order is already index order, and appended in order). They may run at once; the
  // keys' task fails if two records share a primary or unique key (the table must then be
  // discarded). Nothing else may touch the table until every task has run.
  // finish_load() is both steps' second half on this table alone.
  [[nodiscard]] bool load_image(const std::byte* image, StateHash* hash) {
    std::uint32_t slot = kNoSlot;
    bool fresh = false;
    if (!allocate(&slot, &fresh)) return false;
    Record& stored = record(slot);
    std::memcpy(static_cast<void*>(&stored), image, sizeof stored);
    set_live(slot, true);
    hash->add_sized<sizeof(Record)>(T::kId, image);
    ++loading_;
    return true;
  }
  void load_tasks(std::vector<LoadTask>* tasks) {
    const std::uint32_t end = next_fresh_;
    const std::uint32_t begin = end - loading_;
    loading_ = 0;
    if (begin == end) return;
    // Relative costs per record, roughly as a ledger snapshot's load measured them: a
    // primary key 1, a unique key 3 (an absl::flat_hash_map insert), an ordered index 3.
    const std::uint64_t n = end - begin;
    tasks->push_back({n * (1 + 3 * kUniqueCount), [this, begin, end](std::string* error) {
                        return build_keys(begin, end, error);
                      }});
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (tasks->push_back({3 * n,
                         [this, begin, end](std::string*) {
                           build_one_ordered<std::tuple_element_t<I, typename T::Indexes>>(
                               std::get<I>(ordered_).map, begin, end);
                           return true;
                         }}),
       ...);
    }
    (std::make_index_sequence<kIndexCount>{});
  }
  [[nodiscard]] bool finish_load(std::string* error) {
    std::vector<LoadTask> tasks;
    load_tasks(&tasks);
    return run_load_tasks(std::move(tasks), error);
  }

  // Inserts `r` (padding already cleared) into a free slot with all its index entries,
  // or refuses: a taken primary key, then a taken unique key, then `may_write` false
  // (its refusal is the caller's), then a full table; a refusal changes nothing.
  // On success sets *slot and whether it was never used before (*fresh).
  template <class MayWrite>
  Outcome insert(const Record& r, MayWrite&& may_write, std::uint32_t* slot, bool* fresh) {
    const Pk pk = primary_of(r);
    const std::uint64_t h = pk_hash(pk);
    if (find_primary(pk, h) != kNoSlot)
      return Outcome::engine(EngineReject::kUniqueKeyConflict, std::uint32_t{T::kId} << 16);
    primary_.make_room();  // (may throw std::bad_alloc: before anything changed)
    Outcome refusal;
    for_each_unique([&](std::uint32_t i, auto& u, auto spec) {
      using Spec = decltype(spec);
      if (!refusal.is_ok()) return;
      KeyBytes<Spec::kBytes> k;
      Spec::encode(r, k.data());
      if (u.map.contains(k)) {
        refusal = Outcome::engine(EngineReject::kUniqueKeyConflict,
                                  std::uint32_t{T::kId} << 16 | (i + 1));
      }
    });
    if (refusal.is_ok() && !may_write())
      refusal = Outcome::engine(EngineReject::kCapacityExceeded, 0);
    if (refusal.is_ok() && !allocate(slot, fresh)) {
      refusal = Outcome::engine(EngineReject::kCapacityExceeded, T::kId);
    }
    if (!refusal.is_ok()) return refusal;
    Record& stored = record(*slot);
    stored = r;
    primary_.insert(h, *slot);
    set_live(*slot, true);
    add_keys(*slot, reinterpret_cast<const std::byte*>(&stored), false, true);
    return Outcome::ok();
  }

 private:
  // A chunk: a MappedMemory (zeros, as a fresh slot must be; huge pages where the kernel
  // grants them), rounded up to a whole 2 MiB when it is at least half that, so it takes
  // one huge page rather than hundreds of small ones.
  static constexpr std::size_t kChunkBytes = sizeof(Slot) * kChunkRecords;
  static constexpr std::size_t kChunkMapped =
      kChunkBytes >= kChunkBytesMax / 2 ? kChunkBytesMax : kChunkBytes;
  // `touch`: fault every page in now (preallocation: no page faults while running).
  static MappedMemory new_chunk(bool touch) {
    static_assert(alignof(Slot) <= 4096);
    return MappedMemory(kChunkMapped, touch);
  }

  static const Record& as_record(const std::byte* p) noexcept {
    return *reinterpret_cast<const Record*>(p);  // images are stored aligned (TxCore)
  }
  static std::uint32_t offset(std::uint32_t slot) noexcept { return slot & (kChunkRecords - 1); }
  Slot& at(std::uint32_t slot) noexcept {
    LS_DASSERT(chunks_[slot >> kChunkShift].data() != nullptr);
    return reinterpret_cast<Slot*>(chunks_[slot >> kChunkShift].data())[offset(slot)];
  }
  const Slot& at(std::uint32_t slot) const noexcept {
    LS_DASSERT(chunks_[slot >> kChunkShift].data() != nullptr);
    return reinterpret_cast<Slot*>(chunks_[slot >> kChunkShift].data())[offset(slot)];
  }

  std::uint64_t pk_hash(const Pk& k) const noexcept { return primary_.hash(k.data(), kPkBytes); }
  // The slot of the live record with primary key `k` (hash `h`), or kNoSlot.
  std::uint32_t find_primary(const Pk& k, std::uint64_t h) const noexcept {
    static_assert(KeyIndex::kMissing == kNoSlot);
    return primary_.find(h, [&](std::uint32_t s) { return primary_of(record(s)) == k; });
  }

  template <class Spec>
  static KeyBytes<Spec::kBytes + kPkBytes> ordered_key(const Record& r) noexcept {
    KeyBytes<Spec::kBytes + kPkBytes> k;
    Spec::encode(r, k.data());
    T::Primary::encode(r, k.data() + Spec::kBytes);
    return k;
  }

  // f(index, container, Spec{}) for each unique key / ordered index.
  template <class F>
  void for_each_unique(F&& f) {
    for_each_in<typename T::Uniques>(uniques_, f, std::make_index_sequence<kUniqueCount>{});
  }
  template <class F>
  void for_each_ordered(F&& f) {
    for_each_in<typename T::Indexes>(ordered_, f, std::make_index_sequence<kIndexCount>{});
  }
  // Snapshot loading: the primary and unique keys of slots [begin, end).
  bool build_keys(std::uint32_t begin, std::uint32_t end, std::string* error) {
    primary_.reserve(primary_.size() + (end - begin), false);
    // Keys hashed and their index lines prefetched kAhead records before their insert:
    // the inserts' cache misses overlap instead of following one another.
    constexpr std::uint32_t kAhead = 16;
    std::uint64_t ahead[kAhead];
    const auto hash_ahead = [&](std::uint32_t s) {
      const std::uint64_t h = pk_hash(primary_of(record(s)));
      ahead[s % kAhead] = h;
      primary_.prefetch(h);
    };
    for (std::uint32_t s = begin; s < std::min(end, begin + kAhead); ++s) hash_ahead(s);
    for (std::uint32_t s = begin; s < end; ++s) {
      const std::uint64_t h = ahead[s % kAhead];
      if (end - s > kAhead) hash_ahead(s + kAhead);
      if (find_primary(primary_of(record(s)), h) != kNoSlot) {
        *error = std::string(T::kName) + ": two records with one primary key";
        return false;
      }
      primary_.insert(h, s);
      bool unique_ok = true;
      for_each_unique([&](std::uint32_t, auto& u, auto spec) {
        using Spec = decltype(spec);
        KeyBytes<Spec::kBytes> k;
        Spec::encode(record(s), k.data());
        unique_ok &= u.map.emplace(k, s).second;
      });
      if (!unique_ok) {
        *error = std::string(T::kName) + ": two records with one unique key";
        return false;
      }
    }
    return true;
  }
  // Snapshot loading: one ordered index's entries for slots [begin, end), appended in
  // order: straight from the records when slot order is index order (keys issued in
  // order, as ids and timestamps often are), else sorted once first.
  template <class Spec, class Map>
  void build_one_ordered(Map& map, std::uint32_t begin, std::uint32_t end) {
    using Key = KeyBytes<Spec::kBytes + kPkBytes>;
    const auto key_of = [&](std::uint32_t s) { return ordered_key<Spec>(record(s)); };
    bool sorted = map.empty();
    for (std::uint32_t s = begin + 1; sorted && s < end; ++s) {
      sorted = KeyLess{}(key_of(s - 1), key_of(s));
    }
    if (sorted) {
      for (std::uint32_t s = begin; s < end; ++s) map.insert(map.end(), {key_of(s), s});
      return;
    }
    struct Entry {
      Key key;
      std::uint32_t slot;
    };
    std::vector<Entry> entries;
    entries.reserve(end - begin);
    for (std::uint32_t s = begin; s < end; ++s) entries.push_back({key_of(s), s});
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return KeyLess{}(a.key, b.key); });
    for (const Entry& e : entries) map.insert(map.end(), {e.key, e.slot});
  }
  template <class Specs, class Tuple, class F, std::size_t... I>
  static void for_each_in(Tuple& t, F& f, std::index_sequence<I...>) {
    (f(static_cast<std::uint32_t>(I), std::get<I>(t), std::tuple_element_t<I, Specs>{}), ...);
  }

  std::uint32_t capacity_;
  std::uint32_t next_fresh_ = 0;
  std::uint32_t live_count_ = 0;
  std::vector<MappedMemory> chunks_;
  std::vector<std::uint32_t> free_;
  KeyIndex primary_;
  Uniques uniques_;
  Ordered ordered_;
  std::uint32_t loading_ = 0;  // records placed by load_image() since finish_load()
};

}  // namespace lockstep
