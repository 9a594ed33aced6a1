// TableAccess<T>: what a handler can do to one table, staged in the TxCore. The
// generated accessors (tx.accounts.find(id), ...) are thin typed wrappers over these.
//
//   find       read a live record by primary key; null if there is none
//   modify     the same, for writing: the returned record may be changed in place until
//              the handler returns (its primary key must not change: if it does, the
//              command is refused, and meanwhile find knows the record by neither key)
//   insert     a new record; null, with the command refused, if its primary or a unique
//              key is taken, the table is full, or the command's write limit is reached
//              (and null once the command is refused: insert and erase change nothing
//              after a refusal)
//   erase      remove a live record by primary key; false if there is none
//   find_unique, scan_prefix, scan_range
//              unique-key lookups and ordered-index scans, which see the command's own
//              writes (the indexes are synced first); a scan given a Limit collects and
//              visits only the first that many records, so taking a few of many costs
//              what it takes
//
// A command's writes are visible to itself at once, and to nothing else until it
// commits. Pointers returned by find/modify/insert stay valid until the handler returns
// (records never move), but a record erased meanwhile is no longer the table's.
// Thread safety: the execute stage's thread only.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

#include "engine/table.h"
#include "engine/tx_core.h"

namespace lockstep {

// The most records a scan collects (scan_prefix, scan_range, and the generated
// scan_<index> and range_<index> overloads that take it first): the first `n` in index
// order. Without one, a scan collects every match before the first call.
struct Limit {
  std::uint32_t n;
};

template <class T>
class TableAccess {
 public:
  using Record = typename T::Record;
  using Pk = typename Table<T>::Pk;

  TableAccess(Table<T>& table, TxCore& core) noexcept : table_(table), core_(core) {}

  const Record* find_pk(const Pk& pk) const noexcept {
    const std::uint32_t slot = table_.slot_of(pk);
    return slot == kNoSlot ? nullptr : &table_.record(slot);
  }

  Record* modify_pk(const Pk& pk) noexcept {
    const std::uint32_t slot = table_.slot_of(pk);
    if (slot == kNoSlot) return nullptr;
    if (!core_.touch(table_, table_.touch_stamp(slot), table_.touch_entry(slot), slot)) {
      return nullptr;
    }
    return &table_.record(slot);
  }

  Record* insert(const Record& r) noexcept {
    if (core_.doomed()) return nullptr;  // refused already: change nothing more
    core_.sync();
    if (core_.doomed()) return nullptr;
    Record copy = r;
    T::clear_padding(copy);
    std::uint32_t slot = 0;
    bool fresh = false;
    bool limit_hit = false;
    const Outcome refusal = table_.insert(
        copy,
        [&] {
          limit_hit = !core_.can_write();  // dooms the command with the limit's detail
          return !limit_hit;
        },
        &slot, &fresh);
    if (!refusal.is_ok()) {
      if (!limit_hit) core_.doom(refusal);
      return nullptr;
    }
    core_.note_insert(table_, table_.touch_stamp(slot), table_.touch_entry(slot), slot, fresh);
    return &table_.record(slot);
  }

  bool erase_pk(const Pk& pk) noexcept {
    if (core_.doomed()) return false;  // refused already: change nothing more
    const std::uint32_t slot = table_.slot_of(pk);
    if (slot == kNoSlot) return false;
    if (!core_.touch(table_, table_.touch_stamp(slot), table_.touch_entry(slot), slot)) {
      return false;
    }
    return core_.erase(table_, table_.touch_entry(slot));
  }

  template <std::size_t I, std::size_t N>
  const Record* find_unique(const KeyBytes<N>& k) noexcept {
    core_.sync();
    const std::uint32_t slot = table_.template find_unique<I>(k);
    return slot == kNoSlot ? nullptr : &table_.record(slot);
  }

  // Every record whose index-I encoding begins with `prefix`, in index order (the first
  // limit.n of them). The slots are collected first, so f may write (even to this table);
  // records erased meanwhile are skipped. f(const Record&) returns void, or bool: false
  // stops the scan.
  template <std::size_t I, class F>
  void scan_prefix(std::span<const std::uint8_t> prefix, F&& f, Limit limit = {kNoLimit}) {
    if (limit.n == 0) return;
    core_.sync();
    const std::size_t base = collect_begin();
    std::uint32_t taken = 0;
    table_.template scan_prefix<I>(prefix, [&](std::uint32_t slot) {
      core_.scan_scratch().push_back(slot);
      return ++taken < limit.n;
    });
    visit(base, f);
  }

  // Every record whose index-I encoding is in [lo, hi), in index order; an empty hi
  // means to the end. Same rules as scan_prefix.
  template <std::size_t I, class F>
  void scan_range(std::span<const std::uint8_t> lo, std::span<const std::uint8_t> hi, F&& f,
                  Limit limit = {kNoLimit}) {
    if (limit.n == 0) return;
    core_.sync();
    const std::size_t base = collect_begin();
    std::uint32_t taken = 0;
    table_.template scan<I>(lo, hi, [&](std::uint32_t slot) {
      core_.scan_scratch().push_back(slot);
      return ++taken < limit.n;
    });
    visit(base, f);
  }

  // Live records in this table.
  std::uint32_t size() const noexcept { return table_.size(); }
  std::uint32_t capacity() const noexcept { return table_.capacity(); }

 protected:
  static constexpr std::uint32_t kNoLimit = 0xFFFFFFFFu;

  std::size_t collect_begin() noexcept { return core_.scan_scratch().size(); }

  template <class F>
  void visit(std::size_t base, F& f) {
    auto& scratch = core_.scan_scratch();
    for (std::size_t i = base; i < scratch.size(); ++i) {
      const std::uint32_t slot = scratch[i];
      if (!table_.live(slot)) continue;
      if constexpr (std::is_same_v<std::invoke_result_t<F&, const Record&>, bool>) {
        if (!f(static_cast<const Record&>(table_.record(slot)))) break;
      } else {
        f(static_cast<const Record&>(table_.record(slot)));
      }
    }
    scratch.resize(base);
  }

  Table<T>& table_;
  TxCore& core_;
};

}  // namespace lockstep
