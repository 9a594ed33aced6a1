// ExecuteStage: the single writer. Runs each sequenced command through the Executor and
// writes its TxResult into the result arena, as a journal entry.
//
// Speculative: it runs ahead of durability. Batch k+1 executes while the journal stage
// is still making batch k durable; nothing it produces is acknowledged before then (the
// publish stage waits for the journal stage).
//
// A ring slot is the executor's batch: its last sequenced command's result carries the
// state hash. The stage takes every slot available, but stops early (and resumes where
// it stopped, even inside a slot) when the arena has no room: room comes back as the
// terminal stages finish with older slots, whose arena bytes the stage then reclaims.
// So the arena bounds memory, and a slow consumer slows the writer instead of growing
// anything.
//
// After a journal failure it executes nothing more: the commands it still sees are
// completed as kFailed by the publish stage.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/endian.h"
#include "engine/executor.h"
#include "engine/tx_result.h"
#include "journal/format.h"
#include "pipeline/owner_check.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence_barrier.h"
#include "pipeline/stage.h"
#include "pipeline/stage_runner.h"
#include "runtime/command.h"
#include "runtime/engine_signals.h"
#include "runtime/result_arena.h"

namespace lockstep {

template <class D, std::size_t P, class Sequencer>
class ExecuteStage final : public Stage {
 public:
  using Slot = CommandBatch<P>;

  // `upstream`: the sequence stage. `terminal`: the stages whose progress frees arena
  // bytes (publish, project); set with set_terminal() before start.
  ExecuteStage(std::string name, RingBuffer<Slot>& ring, Sequencer& sequencer,
               std::span<const Sequence* const> upstream, Executor<D>& executor, ResultArena& arena,
               EngineSignals& signals)
      : Stage(std::move(name)),
        ring_(ring),
        sequencer_(sequencer),
        barrier_(sequencer, upstream),
        executor_(executor),
        arena_(arena),
        signals_(signals),
        slot_ends_(static_cast<std::size_t>(ring.capacity()) + 1),
        room_(executor.options().result_bytes_max + executor.options().chain_bytes_max +
              kEntryPrefixBytes * (executor.options().chain_length_max + 1)) {
    LS_ASSERT(room_ <= arena.capacity());
    waiting_.reserve(kBatchCommands);
    sizes_.reserve(kBatchCommands);
  }

  void set_terminal(std::vector<const Sequence*> terminal) { terminal_ = std::move(terminal); }

  std::int64_t poll() override {
    owner_.check();
    const std::int64_t first = sequence_.get_owned() + 1;
    const std::int64_t available = barrier_.available(first);
    if (available < first) return 0;
    reclaim();
    std::int64_t done = first - 1;
    for (std::int64_t s = first; s <= available; ++s) {
      if (!run_slot(s)) break;
      done = s;
      // Each slot goes on at once: the journal stage starts on it while this one runs
      // the next (a whole range at the end would hold the journal back by all of it).
      record(s, s);
      sequencer_.wait_strategy().publish(sequence_, s);
    }
    return done - first + 1;
  }

  bool has_work() const override {
    const std::int64_t next = sequence_.get_owned() + 1;
    if (barrier_.available(next) < next) return false;
    // Work it can do: room in the arena now, or room that reclaiming would give.
    return arena_has_room() || reclaimable();
  }

  const Sequence& sequence() const noexcept override { return sequence_; }

  // Each result is stored as a journal entry: its length first.
  static constexpr std::size_t kEntryPrefixBytes = journal::kEntryLengthBytes;

 private:
  struct SlotEnd {
    std::int64_t slot;
    std::uint64_t arena_end;
  };

  // Runs slot `s` from where it stopped. False if the arena ran out of room first.
  bool run_slot(std::int64_t s) {
    Slot& slot = ring_[s];
    if (item_ == 0) last_sequenced_ = last_sequenced_index(slot);
    const bool failed = signals_.failed.load(std::memory_order_acquire);
    for (; item_ < slot.count; ++item_) {
      CommandItem<P>& c = slot.items[item_];
      if (c.disposition != Disposition::kSequenced) continue;
      if (failed) continue;  // never executed: the publish stage reports kFailed
      std::uint64_t at = 0;
      std::byte* p = arena_.reserve(room_, &at);
      if (p == nullptr) {
        reclaim();
        p = arena_.reserve(room_, &at);
        if (p == nullptr) return false;
      }
      CommandView v;
      v.kind = c.kind;
      v.linked = c.linked != 0;
      v.client_id = c.client_id;
      v.request_id = c.request_id;
      v.sequence = c.sequence;
      v.logical_time_ns = c.logical_time_ns;
      v.payload = {c.payload, c.payload_bytes};
      const bool batch_end = static_cast<std::int64_t>(item_) == last_sequenced_;
      // Results start after one entry prefix; a chain's are spread out below.
      const ExecuteResult r = executor_.execute(
          v, batch_end, std::span<std::byte>(p + kEntryPrefixBytes, room_ - kEntryPrefixBytes));
      waiting_.push_back(&c);
      if (r.results == 0) {
        arena_.commit(at, 0);
        continue;
      }
      const std::size_t used = place_results(p, at, r);
      arena_.commit(at, used);
    }
    item_ = 0;
    last_sequenced_ = -1;
    // At most a ring's worth of slots are executed and not yet released.
    LS_ASSERT(ends_tail_ - ends_head_ < slot_ends_.size());
    slot_ends_[ends_tail_++ % slot_ends_.size()] = SlotEnd{s, arena_.write_position()};
    return true;
  }

  // The results just written at p + 4 are for the oldest waiting commands, in order:
  // gives each its entry prefix (moving results apart when there are several) and
  // notes where each is. Returns the bytes used.
  std::size_t place_results(std::byte* p, std::uint64_t at, const ExecuteResult& r) {
    LS_ASSERT(r.results <= waiting_.size());
    // Sizes, front to back.
    sizes_.clear();
    std::size_t read = 0;
    for (std::uint32_t i = 0; i < r.results; ++i) {
      const std::size_t n = tx_result_size(p + kEntryPrefixBytes + read);
      sizes_.push_back(n);
      read += n;
    }
    LS_ASSERT(read == r.bytes);
    // Move back to front: result i goes 4 * i bytes further on (it is at p + 4 + its
    // offset; its entry begins at p + 4 * i + offset).
    std::size_t offset = r.bytes;
    for (std::uint32_t i = r.results; i-- > 0;) {
      offset -= sizes_[i];
      std::byte* entry = p + kEntryPrefixBytes * i + offset;
      if (i > 0) std::memmove(entry + kEntryPrefixBytes, p + kEntryPrefixBytes + offset, sizes_[i]);
      const auto n = static_cast<std::uint32_t>(sizes_[i]);
      store_le<std::uint32_t>({entry, kEntryPrefixBytes}, 0, n);
      CommandItem<P>& c = *waiting_[i];
      c.result_at = at + (entry - p) + kEntryPrefixBytes;
      c.result_bytes = n;
      const TxResultHeader h = read_tx_result_header(entry + kEntryPrefixBytes);
      c.outcome_code = h.outcome_code;
      c.outcome_detail = h.outcome_detail;
      c.disposition = Disposition::kExecuted;
    }
    waiting_.erase(waiting_.begin(), waiting_.begin() + r.results);
    return r.bytes + kEntryPrefixBytes * r.results;
  }

  static std::int64_t last_sequenced_index(const Slot& slot) noexcept {
    for (std::uint32_t i = slot.count; i-- > 0;) {
      if (slot.items[i].disposition == Disposition::kSequenced) return i;
    }
    return -1;
  }

  // The slowest terminal stage's position.
  std::int64_t terminal_position() const noexcept {
    std::int64_t m = std::numeric_limits<std::int64_t>::max();
    for (const Sequence* t : terminal_) m = std::min(m, t->get());
    return m;
  }
  bool reclaimable() const noexcept {
    const std::int64_t t = terminal_position();
    return t > reclaimed_slot_ && t >= 0;
  }
  void reclaim() noexcept {
    const std::int64_t t = terminal_position();
    if (t <= reclaimed_slot_ || t < 0) return;
    // Every slot up to t is finished with: drop their ends, keep the newest.
    while (ends_head_ != ends_tail_ && slot_ends_[ends_head_ % slot_ends_.size()].slot <= t) {
      arena_.reclaim(slot_ends_[ends_head_ % slot_ends_.size()].arena_end);
      ++ends_head_;
    }
    reclaimed_slot_ = t;
  }
  bool arena_has_room() const noexcept { return arena_.has_room(room_); }

  void record(std::int64_t first, std::int64_t last) noexcept {
    record_slots(metrics(), ring_, first, last);
  }

  RingBuffer<Slot>& ring_;
  Sequencer& sequencer_;
  SequenceBarrier<Sequencer> barrier_;
  Executor<D>& executor_;
  ResultArena& arena_;
  EngineSignals& signals_;
  std::vector<const Sequence*> terminal_;
  std::vector<SlotEnd> slot_ends_;  // a queue: slots executed and not yet reclaimed
  std::size_t ends_head_ = 0;
  std::size_t ends_tail_ = 0;
  std::int64_t reclaimed_slot_ = -1;
  const std::size_t room_;
  std::uint32_t item_ = 0;  // where run_slot resumes in the current slot
  std::int64_t last_sequenced_ = -1;
  std::vector<CommandItem<P>*> waiting_;  // commands whose results are still to come
  std::vector<std::size_t> sizes_;
  Sequence sequence_;
  OwnerCheck owner_;
};

}  // namespace lockstep
