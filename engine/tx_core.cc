#include "engine/tx_core.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/tx_result.h"

namespace lockstep {

void TxLimits::validate() const {
  if (writes_per_command_max == 0 || writes_per_command_max > (1u << 20)) {
    throw std::invalid_argument("writes_per_command_max must be in 1..1048576, not " +
                                std::to_string(writes_per_command_max));
  }
  if (event_bytes_per_command_max > (64u << 20)) {
    throw std::invalid_argument("event_bytes_per_command_max must be at most 64 MiB, not " +
                                std::to_string(event_bytes_per_command_max));
  }
}

TxCore::TxCore(std::vector<TableBase*> tables, TxLimits limits, std::uint32_t record_bytes_max)
    : tables_(std::move(tables)), limits_(limits), image_bytes_((record_bytes_max + 15) / 16 * 16) {
  limits_.validate();
  // Two images per written record at most: before (or the inserted image) and the
  // image the secondary indexes were synced to.
  const std::uint64_t bytes = std::uint64_t{limits_.writes_per_command_max} * 2 * image_bytes_;
  if (bytes >= kNoImage) {
    throw std::invalid_argument("writes_per_command_max x 2 x the largest record (" +
                                std::to_string(bytes) + " bytes) must stay under 4 GiB");
  }
  arena_bytes_ = static_cast<std::uint32_t>(bytes);
  arena_.reset(static_cast<std::byte*>(::operator new[](arena_bytes_, std::align_val_t{16})));
  entries_.reserve(limits_.writes_per_command_max);
  free_ops_.reserve(std::size_t{limits_.writes_per_command_max} * 2);
  pending_release_.reserve(limits_.writes_per_command_max);
  events_.resize(limits_.event_bytes_per_command_max);
  scan_scratch_.reserve(1024);
}

void TxCore::begin_member(std::int64_t logical_time_ns) noexcept {
  ++member_stamp_;
  now_ns_ = logical_time_ns;
  doom_ = Outcome::ok();
  member_ = {entries_.size(), free_ops_.size(), arena_used_, 0};
  secondary_entries_ = 0;
  events_used_ = 0;
  event_count_ = 0;
  LS_DASSERT(pending_release_.empty());
}

bool TxCore::can_write() noexcept {
  if (entries_.size() < limits_.writes_per_command_max) return true;
  doom(Outcome::engine(
      EngineReject::kCapacityExceeded,
      kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kWritesPerCommand)));
  return false;
}

std::uint32_t TxCore::copy_image(const std::byte* from, std::uint32_t bytes) noexcept {
  LS_ASSERT(arena_used_ + image_bytes_ <= arena_bytes_);
  const std::uint32_t at = arena_used_;
  std::memcpy(arena_.get() + at, from, bytes);
  arena_used_ += image_bytes_;
  return at;
}

TxCore::Entry TxCore::new_entry(TableBase& table, std::uint32_t slot) noexcept {
  Entry e;
  e.table = &table;
  e.slot = slot;
  e.bytes = table.record_bytes();
  e.record = table.record_bytes_at(slot);
  e.live = table.live_flag(slot);
  return e;
}

bool TxCore::touch_slow(TableBase& table, std::uint64_t& stamp, std::uint32_t& entry,
                        std::uint32_t slot) noexcept {
  if (!can_write()) return false;
  Entry e = new_entry(table, slot);
  e.existed = true;
  e.before = copy_image(e.record, e.bytes);
  e.keyed = e.before;
  e.indexed = e.before;
  entry = static_cast<std::uint32_t>(entries_.size());
  stamp = member_stamp_;
  entries_.push_back(e);
  if (table.has_secondary()) ++secondary_entries_;
  return true;
}

void TxCore::note_insert(TableBase& table, std::uint64_t& stamp, std::uint32_t& entry,
                         std::uint32_t slot, bool fresh) noexcept {
  free_ops_.push_back({&table, slot, fresh ? FreeOp::kAllocFresh : FreeOp::kAllocReused});
  Entry e = new_entry(table, slot);
  e.existed = false;
  e.keyed = copy_image(e.record, e.bytes);
  e.indexed = e.keyed;
  entry = static_cast<std::uint32_t>(entries_.size());
  stamp = member_stamp_;
  entries_.push_back(e);
  if (table.has_secondary()) ++secondary_entries_;
}

bool TxCore::erase(TableBase& table, std::uint32_t entry) noexcept {
  sync();
  if (doomed()) return false;  // the indexes may not match the record: leave them
  Entry& e = entries_[entry];
  LS_ASSERT(e.table == &table && e.is_live());
  table.remove_keys(e.slot, arena_.get() + e.indexed, false, true);
  table.remove_keys(e.slot, arena_.get() + e.keyed, true, false);
  e.indexed = kNoImage;
  table.set_live(e.slot, false);
  pending_release_.emplace_back(&table, e.slot);
  return true;
}

void TxCore::sync_slow() noexcept {
  for (std::size_t i = member_.entries; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (!e.table->has_secondary() || e.indexed == kNoImage) continue;
    // A changed primary key refuses the command; its index entries stay as they are
    // (moving them could collide with another record's, which carry the primary key).
    if (!e.table->same_primary(arena_.get() + e.keyed, e.slot)) {
      doom(Outcome::engine(EngineReject::kPrimaryKeyChanged, e.table->id()));
      return;
    }
    bool changed = false;
    const Outcome o = e.table->sync_secondary(e.slot, arena_.get() + e.indexed, &changed);
    if (!o.is_ok()) {
      doom(o);
      return;
    }
    if (!changed) continue;
    if (e.indexed_owned) {
      std::memcpy(arena_.get() + e.indexed, e.record, e.bytes);
    } else {
      e.indexed = copy_image(e.record, e.bytes);
      e.indexed_owned = true;
    }
  }
}

bool TxCore::emit(std::uint16_t kind, const void* bytes, std::uint32_t n) noexcept {
  if (events_.size() - events_used_ < kTxEventHeaderBytes + std::size_t{n}) {
    doom(Outcome::engine(
        EngineReject::kCapacityExceeded,
        kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kEventBytesPerCommand)));
    return false;
  }
  std::byte* p = events_.data() + events_used_;
  const std::uint16_t zero = 0;
  std::memcpy(p, &kind, 2);
  std::memcpy(p + 2, &zero, 2);
  std::memcpy(p + 4, &n, 4);
  std::memcpy(p + kTxEventHeaderBytes, bytes, n);
  events_used_ += kTxEventHeaderBytes + n;
  ++event_count_;
  return true;
}

Outcome TxCore::finish_member() noexcept {
  sync();
  if (doomed()) return doom_;
  for (std::size_t i = member_.entries; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (!e.is_live()) continue;
    if (!e.table->same_primary(arena_.get() + e.keyed, e.slot)) {
      return Outcome::engine(EngineReject::kPrimaryKeyChanged, e.table->id());
    }
    const Outcome o = e.table->check(e.existed ? arena_.get() + e.before : nullptr, e.slot);
    if (!o.is_ok()) return o;
  }
  return Outcome::ok();
}

void TxCore::apply_member(StateHash* hash) noexcept {
  for (std::size_t i = member_.entries; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.existed) e.table->hash_remove(hash, arena_.get() + e.before);
    if (e.is_live()) e.table->hash_add(hash, e.record);
  }
  for (const auto& [table, slot] : pending_release_) {
    table->release(slot);
    free_ops_.push_back({table, slot, FreeOp::kReleased});
  }
  pending_release_.clear();
  applied_.push_back(member_);
  // The next member starts after this one.
  member_ = {entries_.size(), free_ops_.size(), arena_used_, 0};
  secondary_entries_ = 0;
}

void TxCore::rollback_range(std::size_t entries_begin, std::size_t entries_end,
                            std::size_t free_ops_begin, std::size_t free_ops_end) noexcept {
  // 1. Remove the index entries the member's records hold now.
  for (std::size_t i = entries_end; i-- > entries_begin;) {
    const Entry& e = entries_[i];
    if (!e.is_live()) continue;
    if (e.indexed != kNoImage) e.table->remove_keys(e.slot, arena_.get() + e.indexed, false, true);
    if (!e.existed) e.table->remove_keys(e.slot, arena_.get() + e.keyed, true, false);
  }
  // 2. Before-images back, with their index entries. (Before the slots are returned:
  // live() only answers for allocated slots.)
  for (std::size_t i = entries_end; i-- > entries_begin;) {
    const Entry& e = entries_[i];
    const bool live = e.is_live();
    if (e.existed) {
      std::memcpy(e.record, arena_.get() + e.before, e.bytes);
      if (!live) e.table->set_live(e.slot, true);
      e.table->add_keys(e.slot, arena_.get() + e.before, !live, true);
    } else if (live) {
      e.table->set_live(e.slot, false);
    }
  }
  // 3. Slots back where they were.
  for (std::size_t i = free_ops_end; i-- > free_ops_begin;) {
    const FreeOp& op = free_ops_[i];
    switch (op.kind) {
      case FreeOp::kAllocFresh: op.table->undo_allocate(op.slot, true); break;
      case FreeOp::kAllocReused: op.table->undo_allocate(op.slot, false); break;
      case FreeOp::kReleased: op.table->undo_release(op.slot); break;
    }
  }
}

void TxCore::rollback_member() noexcept {
  pending_release_.clear();
  rollback_range(member_.entries, entries_.size(), member_.free_ops, free_ops_.size());
  entries_.resize(member_.entries);
  free_ops_.resize(member_.free_ops);
  arena_used_ = member_.arena;
  secondary_entries_ = 0;
  events_used_ = 0;
  event_count_ = 0;
}

void TxCore::rollback_applied() noexcept {
  LS_ASSERT(member_.entries == entries_.size());  // the current member is rolled back or applied
  for (std::size_t m = applied_.size(); m-- > 0;) {
    const Mark& mark = applied_[m];
    rollback_range(mark.entries, entries_.size(), mark.free_ops, free_ops_.size());
    entries_.resize(mark.entries);
    free_ops_.resize(mark.free_ops);
    arena_used_ = mark.arena;
  }
  clear();
}

void TxCore::clear() noexcept {
  LS_DASSERT(pending_release_.empty());
  entries_.clear();
  free_ops_.clear();
  applied_.clear();
  arena_used_ = 0;
  member_ = {};
  secondary_entries_ = 0;
}

}  // namespace lockstep
