// JournalStage: group commit. Copies the TxResults of every slot the execute stage has
// finished into journal frames (as many slots per frame as fit) and submits each frame
// as one durable write; publishes its sequence past a slot only once every TxResult of
// that slot is durable. So the publish stage, behind it, acknowledges nothing early.
//
// While frames are in flight and nothing new has been executed, it waits for a
// completion in the kernel (io_uring), not in the pipeline's wait strategy, for at most
// kIoWaitNs at a time; then it looks for new slots, and submits them as the next frame
// while the earlier ones are still being synced. So up to
// JournalOptions::writes_in_flight frames are in flight, each gathering everything
// executed since the last: group commit grows with load.
//
// When it has had no work for JournalOptions::idle_marker_delay with nothing in flight,
// it appends an idle marker if one is due (JournalWriter::marker_due): the journal then
// records that everything acknowledged is durable, off the acknowledgement path. Its
// wake_by() has a parked thread wake for that.
//
// A linked chain's TxResults always go in one frame, so a frame is never durable with
// half a chain: recovery never finds a chain cut short.
//
// Failure: the first I/O error (the writer's failure is sticky) fails the engine
// (EngineSignals::fail): no later slot is acknowledged; the stage publishes past the
// rest with the failure recorded, and the publish stage completes them as kFailed.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "journal/format.h"
#include "journal/journal_writer.h"
#include "pipeline/owner_check.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence_barrier.h"
#include "pipeline/stage.h"
#include "pipeline/stage_runner.h"
#include "runtime/command.h"
#include "runtime/engine_signals.h"
#include "runtime/result_arena.h"

namespace lockstep {

template <std::size_t P, class Sequencer>
class JournalStage final : public Stage {
 public:
  using Slot = CommandBatch<P>;

  JournalStage(std::string name, RingBuffer<Slot>& ring, Sequencer& sequencer,
               std::span<const Sequence* const> upstream, journal::JournalWriter& writer,
               const ResultArena& arena, EngineSignals& signals)
      : Stage(std::move(name)),
        ring_(ring),
        sequencer_(sequencer),
        barrier_(sequencer, upstream),
        writer_(writer),
        arena_(arena),
        signals_(signals),
        pending_(static_cast<std::size_t>(ring.capacity()) + 1) {
    chain_.reserve(kBatchCommands);
  }

  std::int64_t poll() override {
    owner_.check();
    if (failed_) return publish_failed();
    const std::int64_t next = submitted_ + 1;
    const std::int64_t available = barrier_.available(next);
    if (available >= next) {
      submit(next, available);
      if (failed_) return publish_failed();
    }
    // Nothing new: wait in the kernel for a frame in flight, but not long, so a slot the
    // execute stage publishes meanwhile goes out in the next frame without waiting for
    // this one's fdatasync.
    const journal::IoStatus st = available < next && writer_.in_flight() > 0
                                     ? writer_.poll_within(kIoWaitNs)
                                     : writer_.poll(false);
    if (!st.is_ok()) {
      fail(st);
      return publish_failed();
    }
    const std::int64_t published = publish_durable();
    // Idle, with something durable that no record on disk proves durable yet: after
    // idle_marker_delay, an idle marker, so recovery never takes the last acknowledged
    // frames for a torn tail. After the acknowledgements: a backend that syncs inside
    // submit() must not delay them.
    if (available < next && writer_.marker_due()) {
      const std::int64_t now = monotonic_now_ns();
      if (idle_since_ns_ < 0) idle_since_ns_ = now;
      if (now - idle_since_ns_ >= marker_delay_ns_) {
        idle_since_ns_ = -1;
        if (const journal::IoStatus m = writer_.write_marker(); !m.is_ok()) {
          fail(m);
          return published + publish_failed();
        }
      }
    } else {
      idle_since_ns_ = -1;  // busy, or nothing to prove
    }
    return published + (available >= next ? available - next + 1 : 0);
  }

  bool has_work() const override {
    const std::int64_t next = (failed_ ? published_ : submitted_) + 1;
    if (barrier_.available(next) >= next) return true;
    return !failed_ && (writer_.in_flight() > 0 || durable_ready() || marker_ready());
  }

  Deadline wake_by() const noexcept override {
    if (failed_ || idle_since_ns_ < 0 || !writer_.marker_due()) return kNoDeadline;
    return Deadline(std::chrono::nanoseconds(idle_since_ns_ + marker_delay_ns_));
  }

  const Sequence& sequence() const noexcept override { return sequence_; }

  // The longest the stage waits in the kernel for a completion before it looks for new
  // slots again.
  static constexpr std::int64_t kIoWaitNs = 50'000;

 private:
  struct Pending {
    std::int64_t slot;
    std::uint64_t needed;  // the slot is durable once durable_sequence() >= needed
  };

  void submit(std::int64_t first, std::int64_t last) {
    for (std::int64_t s = first; s <= last; ++s) {
      const Slot& slot = ring_[s];
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        const CommandItem<P>& c = slot.items[i];
        if (c.disposition != Disposition::kExecuted) continue;
        const std::size_t n = journal::kEntryLengthBytes + c.result_bytes;
        if (payload_.empty() || used_ + n > payload_.size()) {
          if (!next_frame()) return;
          LS_ASSERT(used_ + n <= payload_.size());  // EngineConfig::validate() makes sure
        }
        if (c.linked != 0 && chain_.empty()) {
          chain_used_ = used_;
          chain_entries_ = entries_;
        }
        copy(c);
        if (c.linked != 0) {
          chain_.push_back(&c);
        } else {
          chain_.clear();  // the chain (if any) ends here, in this frame
        }
      }
      LS_ASSERT(pending_tail_ - pending_head_ < pending_.size());
      pending_[pending_tail_++ % pending_.size()] = Pending{s, writer_.next_sequence() + entries_};
    }
    LS_ASSERT(chain_.empty());  // chains never span ring slots (the ingest stage)
    if (entries_ > 0) (void)commit();
    submitted_ = last;
  }

  void copy(const CommandItem<P>& c) {
    const std::size_t n = journal::kEntryLengthBytes + c.result_bytes;
    LS_ASSERT(c.sequence == writer_.next_sequence() + entries_);
    std::memcpy(payload_.data() + used_, arena_.at(c.result_at - journal::kEntryLengthBytes), n);
    used_ += n;
    ++entries_;
  }

  // Commits the frame being filled and begins the next. A linked chain never spans two
  // frames (a power loss between them would leave half a chain durable): the members of
  // an open chain move to the new frame. False after a failure.
  bool next_frame() {
    std::size_t keep_used = used_;
    std::size_t keep_entries = entries_;
    if (!chain_.empty()) {
      keep_used = chain_used_;
      keep_entries = chain_entries_;
    }
    if (keep_entries > 0) {
      used_ = keep_used;
      entries_ = keep_entries;
      if (!commit()) return false;
    }
    // A chain that began this frame and outgrew it: the frame is too small for it, which
    // EngineConfig::validate() rules out.
    LS_ASSERT(payload_.empty());
    payload_ = writer_.begin_frame();
    if (payload_.empty()) {
      fail(writer_.failure());
      return false;
    }
    used_ = 0;
    entries_ = 0;
    if (!chain_.empty()) {
      chain_used_ = 0;
      chain_entries_ = 0;
      for (const CommandItem<P>* m : chain_) copy(*m);
    }
    return true;
  }

  bool commit() {
    const journal::IoStatus st =
        writer_.commit(static_cast<std::uint32_t>(used_), static_cast<std::uint32_t>(entries_));
    payload_ = {};
    used_ = 0;
    entries_ = 0;
    if (!st.is_ok()) {
      fail(st);
      return false;
    }
    return true;
  }

  // An idle marker is due and its delay has passed, or its delay has yet to start.
  bool marker_ready() const noexcept {
    if (!writer_.marker_due()) return false;
    return idle_since_ns_ < 0 || monotonic_now_ns() - idle_since_ns_ >= marker_delay_ns_;
  }

  bool durable_ready() const noexcept {
    return pending_head_ != pending_tail_ &&
           pending_[pending_head_ % pending_.size()].needed <= writer_.durable_sequence();
  }

  std::int64_t publish_durable() {
    const std::uint64_t durable = writer_.durable_sequence();
    std::int64_t last = published_;
    while (pending_head_ != pending_tail_ &&
           pending_[pending_head_ % pending_.size()].needed <= durable) {
      last = pending_[pending_head_ % pending_.size()].slot;
      ++pending_head_;
    }
    if (last == published_) return 0;
    const std::int64_t n = last - published_;
    record(published_ + 1, last);
    published_ = last;
    sequencer_.wait_strategy().publish(sequence_, last);
    return n;
  }

  void fail(const journal::IoStatus& st) {
    if (failed_) return;
    failed_ = true;
    signals_.fail(published_, "journal: " + st.message());
  }

  // After a failure: every slot the execute stage has finished goes on, unacknowledged.
  std::int64_t publish_failed() {
    const std::int64_t next = published_ + 1;
    const std::int64_t available = barrier_.available(next);
    if (available < next) return 0;
    published_ = available;
    sequencer_.wait_strategy().publish(sequence_, available);
    return available - next + 1;
  }

  void record(std::int64_t first, std::int64_t last) noexcept {
    record_slots(metrics(), ring_, first, last);
  }

  RingBuffer<Slot>& ring_;
  Sequencer& sequencer_;
  SequenceBarrier<Sequencer> barrier_;
  journal::JournalWriter& writer_;
  const ResultArena& arena_;
  EngineSignals& signals_;
  std::vector<Pending> pending_;  // a queue: slots submitted, not yet durable
  std::size_t pending_head_ = 0;
  std::size_t pending_tail_ = 0;
  std::span<std::byte> payload_;  // the frame being filled
  // The open linked chain's members in this frame, and where in it the chain began.
  std::vector<const CommandItem<P>*> chain_;
  std::size_t chain_used_ = 0;
  std::size_t chain_entries_ = 0;
  std::size_t used_ = 0;
  std::size_t entries_ = 0;
  std::int64_t submitted_ = -1;
  std::int64_t published_ = -1;
  bool failed_ = false;
  // Since when the stage has been idle with a marker due (monotonic ns), or -1.
  std::int64_t idle_since_ns_ = -1;
  const std::int64_t marker_delay_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(writer_.options().idle_marker_delay)
          .count();
  Sequence sequence_;
  OwnerCheck owner_;
};

}  // namespace lockstep
