// KeyIndex: a table's primary key index, key hash → slot.
//
// Open addressing with linear probing over one array of 8-byte entries {tag, slot + 1}
// (0: empty), at most half full: a lookup reads one cache line of the index in almost
// every case, and then the record it names, which the caller reads anyway. The key itself
// is not stored; the caller confirms a candidate by comparing the key of its record
// (find's `same`). The tag is the hash's top 32 bits, and an entry's home position is
// the tag's top bits, so a lookup compares a record only when 32 bits of hash agree, and
// growing rehashes without reading records. Erase shifts the rest of a cluster back (no
// tombstones), so lookups stay short however many erases there were.
//
// Hashes are XXH3 seeded per index from std::random_device: clients choose keys, and a
// fixed seed would let them build long clusters. Positions therefore differ between
// processes; nothing may depend on them (nothing iterates the index).
//
// The array is a MappedMemory (base/mapped_memory.h): huge pages where the kernel
// grants them, so building an index of millions of keys takes few page faults and random
// probes over hundreds of megabytes miss the TLB less.
//
// Thread safety: none; the table's owner's.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include "base/assert.h"
#include "base/mapped_memory.h"

namespace lockstep {

class KeyIndex {
 public:
  static constexpr std::uint32_t kMissing = 0xFFFFFFFFu;  // kNoSlot (engine/table.h)

  KeyIndex() : seed_(std::random_device{}() | std::uint64_t{std::random_device{}()} << 32) {}
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;
  KeyIndex(KeyIndex&& o) noexcept
      : memory_(std::move(o.memory_)),
        entries_(std::exchange(o.entries_, nullptr)),
        bits_(std::exchange(o.bits_, 0)),
        size_(std::exchange(o.size_, 0)),
        seed_(o.seed_) {}
  KeyIndex& operator=(KeyIndex&& o) noexcept {
    if (this != &o) {
      memory_ = std::move(o.memory_);
      entries_ = std::exchange(o.entries_, nullptr);
      bits_ = std::exchange(o.bits_, 0);
      size_ = std::exchange(o.size_, 0);
      seed_ = o.seed_;
    }
    return *this;
  }
  ~KeyIndex() = default;

  std::uint64_t hash(const void* key, std::size_t n) const noexcept {
    return XXH3_64bits_withSeed(key, n, seed_);
  }
  std::size_t size() const noexcept { return size_; }
  std::size_t positions() const noexcept { return bits_ == 0 ? 0 : std::size_t{1} << bits_; }

  // Room for `n` keys without growing; with `touch`, every page faulted in now.
  void reserve(std::size_t n, bool touch) {
    int bits = std::max(bits_, 4);
    while (bits < 32 && (std::size_t{1} << bits) < 2 * n) ++bits;
    if (bits != bits_) rehash(bits);
    if (touch) {  // each page written with what it holds: entries may be there already
      auto* bytes = reinterpret_cast<volatile std::byte*>(memory_.data());
      for (std::size_t at = 0; at < memory_.size(); at += 4096) bytes[at] = bytes[at];
    }
  }

  void prefetch(std::uint64_t h) const noexcept {
    if (entries_ != nullptr) __builtin_prefetch(&entries_[home(tag_of(h))]);
  }

  // The slot of the entry with hash `h` for which same(slot) holds, or kMissing.
  template <class Same>
  std::uint32_t find(std::uint64_t h, Same&& same) const noexcept {
    if (size_ == 0) return kMissing;
    const std::uint32_t tag = tag_of(h);
    for (std::size_t p = home(tag);; p = next(p)) {
      const Entry e = entries_[p];
      if (e.slot1 == 0) return kMissing;
      if (e.tag == tag && same(e.slot1 - 1)) return e.slot1 - 1;
    }
  }

  // Makes room for one more entry: grows now if the next insert would (std::bad_alloc
  // leaves the index as it was), so a caller can allocate before changing anything else.
  void make_room() {
    if (2 * (size_ + 1) > positions() && bits_ < 32) rehash(std::max(bits_ + 1, 4));
  }
  // Adds `slot` under hash `h`. REQUIRES: no entry for the same key (the caller found none).
  void insert(std::uint64_t h, std::uint32_t slot) {
    LS_DASSERT(slot != kMissing);
    make_room();
    place({tag_of(h), slot + 1});
    ++size_;
  }

  // Removes the entry of `slot` under hash `h`; false if there is none.
  bool erase(std::uint64_t h, std::uint32_t slot) noexcept {
    if (size_ == 0) return false;
    const std::uint32_t tag = tag_of(h);
    std::size_t p = home(tag);
    for (;; p = next(p)) {
      const Entry e = entries_[p];
      if (e.slot1 == 0) return false;
      if (e.tag == tag && e.slot1 == slot + 1) break;
    }
    // Backward shift: move later entries of the cluster into the hole when their home
    // does not lie cyclically in (hole, their position].
    std::size_t hole = p;
    for (std::size_t q = next(p);; q = next(q)) {
      const Entry e = entries_[q];
      if (e.slot1 == 0) break;
      const std::size_t h0 = home(e.tag);
      const bool stays = hole <= q ? (hole < h0 && h0 <= q) : (hole < h0 || h0 <= q);
      if (stays) continue;
      entries_[hole] = e;
      hole = q;
    }
    entries_[hole] = Entry{};
    --size_;
    return true;
  }

 private:
  struct Entry {
    std::uint32_t tag = 0;
    std::uint32_t slot1 = 0;  // slot + 1; 0: empty
  };
  static std::uint32_t tag_of(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(h >> 32);
  }
  std::size_t home(std::uint32_t tag) const noexcept { return std::size_t{tag} >> (32 - bits_); }
  std::size_t next(std::size_t p) const noexcept { return (p + 1) & (positions() - 1); }

  void place(Entry e) noexcept {
    std::size_t p = home(e.tag);
    while (entries_[p].slot1 != 0) p = next(p);
    entries_[p] = e;
  }

  // Moves every entry to a new array of 2^bits positions: homes come from the tags.
  void rehash(int bits) {
    LS_ASSERT(bits >= 4 && bits <= 32);
    MappedMemory old_memory =
        std::exchange(memory_, MappedMemory((std::size_t{1} << bits) * sizeof(Entry)));
    const Entry* old = entries_;
    const std::size_t old_positions = positions();
    entries_ = reinterpret_cast<Entry*>(memory_.data());
    bits_ = bits;
    for (std::size_t p = 0; p < old_positions; ++p) {
      if (old[p].slot1 != 0) place(old[p]);
    }
  }

  MappedMemory memory_;
  Entry* entries_ = nullptr;  // memory_'s
  int bits_ = 0;              // 2^bits_ positions; 0: none yet
  std::size_t size_ = 0;
  std::uint64_t seed_ = 0;
};

}  // namespace lockstep
