// JournalWriter: appends group-committed frames to the journal, tells how far it is
// durable, and records that on the journal itself (docs/journal-format.md).
//
// The producer (in the engine, the journal stage) serializes entries straight into the
// payload area begin_frame() hands out (append_entry), then commit() seals the frame in
// place (with the durable sequence as the writer knows it) and submits it as one durable
// write: a write linked with an fdatasync. Up to `writes_in_flight` records are in
// flight; the durable sequence advances only as their completions arrive, strictly in
// order. A frame that would not fit in the current segment (with two markers after it)
// first rolls to a new one (preallocated, header written and synced, directory synced),
// whose header carries the chain hash forward.
//
// Markers: when the journal goes idle with something durable that no record on disk
// proves durable yet, marker_due() is true and write_marker() appends an idle marker;
// close() appends the closing marker of a clean stop. Recovery reads them as proof that
// what precedes them was acknowledged (so it is never dropped as a torn tail).
//
// Failure is sticky (STYLE: a failed sync poisons the log): after any I/O error the writer
// reports that error, naming operation, segment and offset, from every later call, and
// durable_sequence() never moves again. Nothing is retried.
//
// Memory: (writes_in_flight + 1) frame buffers of frame_bytes_max and one marker buffer,
// allocated once. Thread safety: one thread (the journal stage's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "journal/chain_hash.h"
#include "journal/format.h"
#include "journal/frame.h"
#include "journal/io_backend.h"
#include "journal/segment_header.h"

namespace lockstep::journal {

enum class Durability : std::uint8_t {
  kFsync,  // acknowledge after fdatasync: the default, and the only durable mode
  kNone,   // acknowledge after the write reached the OS: NOT durable; benchmarks only
};

std::string_view to_string(Durability durability) noexcept;

struct JournalOptions {
  std::uint64_t segment_bytes = std::uint64_t{256} << 20;  // preallocated size of a segment
  std::size_t frame_bytes_max = std::size_t{4} << 20;      // largest group commit
  std::size_t writes_in_flight = 4;
  ChainKind chain = ChainKind::kSha256;
  bool direct_io = false;
  Durability durability = Durability::kFsync;
  // Offer the frame buffers to the backend to register (io_uring fixed buffers).
  bool register_buffers = true;
  // Write an idle marker whenever the journal goes idle with something unproven
  // (marker_due). Off only to measure what markers cost, or in tests that count syncs: a
  // crash then leaves the last acknowledged frames provable only by the frames after
  // them (docs/journal-format.md).
  bool idle_markers = true;
  // How long the journal stays idle before it writes the idle marker. Commands that come
  // sooner make the next frame, which proves the last one durable by itself; a marker
  // would only compete with that frame's fdatasync. A power loss that also loses sectors
  // of the last frames within this time cannot be told from a torn tail
  // (docs/journal-format.md, "What no single-node format can tell").
  std::chrono::microseconds idle_marker_delay{2000};
  std::vector<std::byte> descriptor;  // the domain's schema descriptor

  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
  std::uint32_t segment_flags() const noexcept;
};

// Where appending resumes: what recovery found (or the start of an empty journal).
struct JournalTail {
  std::uint64_t next_sequence = 0;
  ChainHash chain{};
  // The segment to keep appending to, if any; otherwise the next commit creates one.
  std::optional<std::uint64_t> segment_first_sequence;
  std::uint64_t segment_index = 0;   // of that segment, or of the next one to create
  std::uint64_t segment_offset = 0;  // where the next frame goes in that segment
  // Every sequence below this is proven durable by a record on disk; the writer's first
  // idle marker proves the rest (after a crash, the last records are not).
  std::uint64_t proven_through = 0;
  bool closed = false;  // the last record is a closing marker
};

class JournalWriter {
 public:
  // REQUIRES: `io` outlives the writer; options.validate() passes (it throws otherwise).
  // Resuming a segment written with another chain kind, direct-I/O setting or descriptor
  // fails the writer at once (EINVAL, naming the option and both values: see failure());
  // one written with another size, writes_in_flight or frame_bytes_max is kept for
  // markers, and the first frame goes to a new segment.
  JournalWriter(IoBackend& io, JournalOptions options, const JournalTail& tail);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // The payload area of the next frame: at most payload_capacity() bytes. Waits for a
  // frame in flight to complete if every buffer is busy. Empty after a failure.
  std::span<std::byte> begin_frame();
  std::size_t payload_capacity() const noexcept;

  // Seals the frame begun last, with `entry_count` entries in its first `payload_bytes`
  // payload bytes, as sequences next_sequence() .. + entry_count - 1, and submits it.
  // REQUIRES: not closed.
  IoStatus commit(std::uint32_t payload_bytes, std::uint32_t entry_count);

  // Whether an idle marker is due: nothing in flight, no failure, not closed, something
  // durable that no record proves durable yet, and room for a marker in the segment.
  bool marker_due() const noexcept;
  // Submits an idle marker (durable_through = durable_sequence()). REQUIRES: marker_due().
  // Its completion is taken by poll() like a frame's.
  IoStatus write_marker();
  // A clean stop: waits for everything in flight, then writes and syncs the closing
  // marker (unless the journal's last record already is one, or it never had a segment).
  // Returns the writer's failure, if any; afterwards nothing more may be committed.
  IoStatus close();

  // Takes the completions that are ready (with `wait`, waits for at least one if any is
  // in flight). Returns the writer's failure, if it has one.
  IoStatus poll(bool wait);
  // Takes the completions that are ready; if none is, waits up to `timeout_ns` for one.
  // Returns the writer's failure, if it has one.
  IoStatus poll_within(std::int64_t timeout_ns);
  // Waits for every record in flight.
  IoStatus flush();

  // Every sequence below this is durable (with Durability::kNone: written to the OS, not
  // durable; every output that shows it must say so). Starts at the tail's next_sequence.
  std::uint64_t durable_sequence() const noexcept { return durable_sequence_; }
  // Every sequence below this is proven durable by a record submitted to the journal.
  std::uint64_t proven_sequence() const noexcept { return proven_; }
  // The sequence the next committed entry gets.
  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  std::size_t in_flight() const noexcept { return io_.in_flight(); }
  const IoStatus& failure() const noexcept { return failure_; }
  // Whether the backend took the frame buffers as registered (fixed) buffers.
  bool buffers_registered() const noexcept { return buffers_registered_; }
  const ChainHash& chain() const noexcept { return chain_; }
  std::uint64_t markers_written() const noexcept { return markers_written_; }
  const JournalOptions& options() const noexcept { return options_; }

 private:
  struct Buffer;
  IoStatus roll_segment();
  // When resuming: the segment must have been written with these options.
  IoStatus check_resumed_segment(const std::string& name);
  IoStatus fail(IoStatus status);
  // Applies the completions in reaped_: frees their buffers, advances durability.
  IoStatus take_reaped();
  Buffer* free_buffer() noexcept;
  std::size_t alignment() const noexcept;
  std::size_t marker_bytes() const noexcept;
  IoStatus submit_marker(RecordKind kind);

  IoBackend& io_;
  const JournalOptions options_;
  ChainHasher hasher_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::unique_ptr<Buffer> marker_buffer_;  // at most one marker is in flight
  Buffer* current_ = nullptr;              // the frame begun and not yet committed

  std::uint64_t next_sequence_;
  std::uint64_t durable_sequence_;
  std::uint64_t proven_;  // the largest durable_through in a record submitted (or on disk)
  ChainHash chain_;
  bool have_segment_ = false;
  bool roll_before_frame_ = false;  // the resumed segment was written with other limits
  bool last_is_close_ = false;      // the journal's last record is a closing marker
  bool closed_ = false;
  FileHandle segment_file_ = 0;
  std::uint64_t segment_first_sequence_ = 0;
  std::uint64_t segment_index_ = 0;
  std::uint64_t segment_offset_ = 0;
  std::uint64_t segment_bytes_ = 0;  // of the current segment (a resumed one's may differ)
  std::uint64_t markers_written_ = 0;
  IoStatus failure_;
  bool buffers_registered_ = false;
  std::vector<Completion> reaped_;  // reused, so polling allocates nothing in steady state
};

}  // namespace lockstep::journal
