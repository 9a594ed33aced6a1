// EngineIngestStage: the running engine's source. Drains the ingress into ring slots,
// up to batch_commands_max commands per slot, and never lets a slot end inside a linked
// chain.
//
// Why it is not the pipeline core's IngestStage: a chain is queued by one session in one
// bulk enqueue, so its commands are contiguous in that session's queue; but a drain stops
// at the slot's room, which may cut a chain, and the next drain may start with another
// session's commands (moodycamel rotates between producers). The executor refuses a
// chain that is still open at the end of its batch (kLinkedChainOpen), so a cut chain
// would be refused for no reason of its own.
//
// So: a drained command that is linked, or that comes from a session with commands held
// back, is held back (in `carry_`, per session, in order) instead of going into the slot.
// Held-back commands go into a slot as whole units (one unlinked command, or a whole chain
// up to its unlinked last member), oldest first per session, when the unit fits the slot.
// Per session, order is kept; between sessions there is no order to keep.
//
// Progress: a drain takes up to the slot's room (held commands take no room), so each
// drain takes at least one command while the queue has any, and a held chain's remaining
// members are already in the queue (one bulk enqueue): every held chain completes. When
// the slot fills, it is published and the next one starts empty, and a complete chain
// always fits an empty slot.
//
// Bounded: a drain cuts at most one chain (at its end), and the queue visits every
// producer again within a bounded number of commands, so the commands held at once are
// bounded by the producers and the slot size; their storage is reserved up front
// (producers_max sessions, 4 slots' worth each) and reused, and grows only past that.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/clock.h"
#include "pipeline/ingress.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/stage.h"
#include "runtime/command.h"

namespace lockstep {

template <std::size_t P, WaitStrategy W>
class EngineIngestStage final : public Stage {
 public:
  using Item = CommandItem<P>;
  using Slot = CommandBatch<P>;
  using Sequencer = SingleProducerSequencer<W>;

  // All must outlive the stage. REQUIRES: 1 <= per_slot <= kBatchCommands, and no chain
  // longer than per_slot is ever submitted (the engine refuses those at submit).
  EngineIngestStage(std::string name, Ingress<Item, W>& ingress, RingBuffer<Slot>& ring,
                    Sequencer& sequencer, std::size_t per_slot, std::size_t sessions_max)
      : Stage(std::move(name)),
        ingress_(ingress),
        ring_(ring),
        sequencer_(sequencer),
        per_slot_(per_slot),
        drained_(per_slot) {
    LS_ASSERT(per_slot >= 1 && per_slot <= kBatchCommands);
    carry_.reserve(sessions_max);
    spare_.resize(sessions_max);
    for (auto& v : spare_) v.reserve(4 * per_slot);
  }

  std::int64_t poll() override {
    std::int64_t first = -1;
    std::int64_t last = -1;
    const std::int64_t now = monotonic_now_ns();
    for (;;) {
      bool more = ingress_.size() > 0 || has_ready_unit();
      if (pending_ < 0) {
        if (!more) break;
        const Claim claim = sequencer_.try_claim(1);
        if (!claim) break;
        pending_ = claim.first;
        ring_[pending_].count = 0;
      }
      Slot& slot = ring_[pending_];
      if (more) {
        place_ready(slot);
        // A held unit that is whole but does not fit what is left: this slot is done (it
        // goes out now, and the unit starts the next one), rather than draining more to
        // hold behind it.
        if (has_ready_unit()) {
          LS_ASSERT(slot.count > 0);  // a whole unit always fits an empty slot
          more = false;
        }
      }
      if (more) {
        const std::size_t room = per_slot_ - slot.count;
        std::size_t n = 0;
        if (room > 0 && ingress_.size() > 0) {
          n = ingress_.drain(drained_.data(), room);
          for (std::size_t i = 0; i < n; ++i) route(drained_[i], slot);
          place_ready(slot);
        }
        // More may fit this slot, unless a whole held unit did not.
        if (n > 0 && slot.count < per_slot_ && !has_ready_unit()) continue;
      }
      if (slot.count == 0) break;  // keep the claim for the next poll
      slot.ingest_ns = now;
      if (first < 0) first = pending_;
      last = pending_;
      pending_ = -1;
    }
    if (first < 0) return 0;
    sequencer_.publish(first, last);
    metrics().batch_slots.record(last - first + 1);
    return last - first + 1;
  }

  // Work it can do: commands waiting (queued, or held and ready), and a slot to put them
  // in (a kept claim, or room in the ring); with the ring full it waits, not spins.
  bool has_work() const override {
    return (ingress_.size() > 0 || has_ready_unit()) && (pending_ >= 0 || sequencer_.can_claim(1));
  }

  const Sequence& sequence() const noexcept override { return sequencer_.cursor(); }

 private:
  struct Held {
    std::uint64_t session = 0;
    std::vector<Item> items;  // in submission order
  };

  void route(const Item& item, Slot& slot) {
    for (Held& h : carry_) {
      if (h.session == item.session_id) {
        h.items.push_back(item);
        return;
      }
    }
    if (item.linked != 0) {
      Held h;
      h.session = item.session_id;
      if (!spare_.empty()) {
        h.items = std::move(spare_.back());
        spare_.pop_back();
      }
      h.items.push_back(item);
      carry_.push_back(std::move(h));
      return;
    }
    LS_DASSERT(slot.count < per_slot_);
    slot.items[slot.count++] = item;
  }

  // Whether some session's held commands begin with a whole unit (a single command, or a
  // chain up to its unlinked last member).
  bool has_ready_unit() const noexcept {
    for (const Held& h : carry_) {
      for (const Item& item : h.items) {
        if (item.linked == 0) return true;
      }
    }
    return false;
  }

  // Moves whole units from the held commands into `slot` while they fit.
  void place_ready(Slot& slot) {
    for (std::size_t k = 0; k < carry_.size();) {
      Held& h = carry_[k];
      std::size_t taken = 0;
      for (;;) {
        std::size_t unit = 0;
        for (std::size_t i = taken; i < h.items.size(); ++i) {
          if (h.items[i].linked == 0) {
            unit = i + 1 - taken;
            break;
          }
        }
        if (unit == 0 || slot.count + unit > per_slot_) break;
        for (std::size_t i = 0; i < unit; ++i) slot.items[slot.count++] = h.items[taken + i];
        taken += unit;
      }
      if (taken > 0) {
        h.items.erase(h.items.begin(), h.items.begin() + static_cast<std::ptrdiff_t>(taken));
      }
      if (h.items.empty()) {
        spare_.push_back(std::move(h.items));  // keeps its capacity for the next one
        carry_.erase(carry_.begin() + static_cast<std::ptrdiff_t>(k));
      } else {
        ++k;
      }
    }
  }

  Ingress<Item, W>& ingress_;
  RingBuffer<Slot>& ring_;
  Sequencer& sequencer_;
  const std::size_t per_slot_;
  std::vector<Item> drained_;
  std::vector<Held> carry_;               // per session with held commands
  std::vector<std::vector<Item>> spare_;  // emptied item lists, capacity kept
  std::int64_t pending_ = -1;             // a claimed, unfilled slot kept for the next poll
};

}  // namespace lockstep
