// TxCore: staging for the executing command. Writes go to the records in place and an
// undo log keeps what is needed to take them back (docs/semantics.md, "Staging" says why
// an undo log and not an overlay).
//
// A *member* is one command's execution; a linked chain is several members that commit
// or roll back together. For each record a member touches, the write set holds one
// entry: the record's image when the member began (its before-image, if it existed), and
// the image the secondary indexes reflect (the handler writes through a pointer, so
// unique keys and ordered indexes are brought up to date by sync(), before any index
// read and at the end of the member). Slot allocations and releases are logged so a
// rollback returns every slot to where it was, and slot allocation stays deterministic.
//
//   begin_member()  ->  handler: touch / note_insert / note_erase / sync / emit
//                   ->  finish_member(): sync, primary-key check, invariants, transitions
//                   ->  apply_member() (state hash, releases)  or  rollback_member()
//   chain:          apply_member() for each, then clear(); or rollback_applied() on failure
//
// Memory: every buffer is sized from the limits at construction; nothing allocates per
// command. Thread safety: one thread, the execute stage's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "engine/outcome.h"
#include "engine/state_hash.h"
#include "engine/table.h"

namespace lockstep {

struct TxLimits {
  // Records one command (or one linked chain, in all) may write.
  std::uint32_t writes_per_command_max = 4096;
  // Bytes of events one command may emit (each event also counts 8 bytes of header).
  std::uint32_t event_bytes_per_command_max = 64 * 1024;

  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

class TxCore {
 public:
  static constexpr std::uint32_t kNoImage = 0xFFFFFFFFu;

  struct Entry {
    TableBase* table = nullptr;
    std::uint32_t slot = 0;
    std::uint32_t bytes = 0;             // the record's size
    std::byte* record = nullptr;         // the record in its slot (records never move)
    const std::uint8_t* live = nullptr;  // its live flag
    bool is_live() const noexcept { return *live != 0; }
    bool existed = false;              // live when the member began
    std::uint32_t before = kNoImage;   // arena offset of the before-image (existed)
    std::uint32_t keyed = kNoImage;    // image whose primary key is in the primary index
    std::uint32_t indexed = kNoImage;  // image the secondary indexes reflect (kNoImage: none)
    bool indexed_owned = false;        // `indexed` is this entry's own copy, rewritable
  };

  // `tables`: by table id. `record_bytes_max`: the largest record of any table.
  TxCore(std::vector<TableBase*> tables, TxLimits limits, std::uint32_t record_bytes_max);

  // ---- The executor's side
  void begin_member(std::int64_t logical_time_ns) noexcept;
  // Ok, or why the member must be refused: a refusal recorded while it ran (first one
  // wins), or the checks at its end.
  Outcome finish_member() noexcept;
  // Commits the member's writes to `hash` and releases the slots it erased. Its entries
  // are kept (for rollback_applied) until clear().
  void apply_member(StateHash* hash) noexcept;
  // Takes back every write of the member that has not been applied.
  void rollback_member() noexcept;
  // Takes back every applied member since the last clear(), newest first. The state
  // hash is the caller's to restore.
  void rollback_applied() noexcept;
  // Forgets every member: their writes stand.
  void clear() noexcept;

  // The current member's entries, and its events (u16 kind, u16 0, u32 n, n bytes each).
  std::span<const Entry> member_entries() const noexcept {
    return {entries_.data() + member_.entries, entries_.size() - member_.entries};
  }
  std::span<const std::byte> member_events() const noexcept {
    return {events_.data(), events_used_};
  }
  std::uint32_t member_event_count() const noexcept { return event_count_; }
  const std::byte* image(std::uint32_t offset) const noexcept { return arena_.get() + offset; }

  // ---- The handler's side (through TableAccess and the generated Tx)
  std::int64_t now_ns() const noexcept { return now_ns_; }
  bool doomed() const noexcept { return !doom_.is_ok(); }
  // Records a refusal; the first one recorded is the member's outcome.
  void doom(Outcome why) noexcept {
    if (doom_.is_ok()) doom_ = why;
  }

  // Before the first write to a live record in this member: saves its before-image.
  // Returns false (and dooms the member) if the write limit is reached.
  [[nodiscard]] bool touch(TableBase& table, std::uint64_t& stamp, std::uint32_t& entry,
                           std::uint32_t slot) noexcept {
    if (stamp == member_stamp_) return true;
    return touch_slow(table, stamp, entry, slot);
  }
  // Whether one more record may be written (dooms the member if not).
  [[nodiscard]] bool can_write() noexcept;
  // After an insert into `slot` (allocated fresh or reused; keys already added).
  void note_insert(TableBase& table, std::uint64_t& stamp, std::uint32_t& entry, std::uint32_t slot,
                   bool fresh) noexcept;
  // Erases the touched, live record in `slot`: removes its keys, marks it dead; the
  // slot is released when the member is applied. Returns false (and erases nothing) if
  // the member is refused, possibly by the index sync this does first.
  // REQUIRES: touch() for it succeeded.
  bool erase(TableBase& table, std::uint32_t entry) noexcept;
  // Brings the secondary indexes up to date with every record the member wrote.
  void sync() noexcept {
    if (secondary_entries_ != 0) sync_slow();
  }
  // Appends an event. Returns false (and dooms the member) if over the limit.
  bool emit(std::uint16_t kind, const void* bytes, std::uint32_t n) noexcept;

  // Scan scratch: slots collected by a scan before its callback runs, so the callback
  // may write freely. Nested scans stack.
  std::vector<std::uint32_t>& scan_scratch() noexcept { return scan_scratch_; }

 private:
  struct FreeOp {
    TableBase* table;
    std::uint32_t slot;
    enum Kind : std::uint8_t { kAllocFresh, kAllocReused, kReleased } kind;
  };
  struct Mark {
    std::size_t entries = 0;
    std::size_t free_ops = 0;
    std::uint32_t arena = 0;
    std::uint32_t secondary = 0;
  };

  bool touch_slow(TableBase& table, std::uint64_t& stamp, std::uint32_t& entry,
                  std::uint32_t slot) noexcept;
  void sync_slow() noexcept;
  std::uint32_t copy_image(const std::byte* from, std::uint32_t bytes) noexcept;
  static Entry new_entry(TableBase& table, std::uint32_t slot) noexcept;
  void rollback_range(std::size_t entries_begin, std::size_t entries_end,
                      std::size_t free_ops_begin, std::size_t free_ops_end) noexcept;

  std::vector<TableBase*> tables_;
  TxLimits limits_;
  std::uint32_t image_bytes_;  // record_bytes_max rounded up to 16
  struct AlignedDelete {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{16}); }
  };
  std::unique_ptr<std::byte[], AlignedDelete> arena_;
  std::uint32_t arena_bytes_;
  std::uint32_t arena_used_ = 0;
  std::vector<Entry> entries_;
  std::vector<FreeOp> free_ops_;
  std::vector<std::pair<TableBase*, std::uint32_t>> pending_release_;
  std::vector<Mark> applied_;  // marks of the applied members since clear()
  Mark member_;
  std::uint32_t secondary_entries_ = 0;  // member entries in tables with secondary keys
  std::uint64_t member_stamp_ = 0;
  std::int64_t now_ns_ = 0;
  Outcome doom_;
  std::vector<std::byte> events_;
  std::size_t events_used_ = 0;
  std::uint32_t event_count_ = 0;
  std::vector<std::uint32_t> scan_scratch_;
};

}  // namespace lockstep
