// Recovery: reads a journal directory from its first segment to its last, verifies
// everything docs/journal-format.md says a reader checks, and finds where appending
// resumes.
//
// It tells a torn tail from corruption:
// - a torn tail (the last segment ends in a frame that is truncated or fails its
//   checksum, and nothing valid follows it in that segment) is what a crash leaves: its
//   bytes are zeroed and synced, the report says what was dropped, and recovery succeeds;
// - anything else (a bad frame followed by a valid one, a broken chain, a misplaced frame,
//   a sequence gap, a bad segment header, a missing or out-of-place segment) is
//   corruption: recovery refuses, naming segment file, byte offset and sequence.
//
// Salvage, only when asked for, keeps what precedes the first bad frame and discards the
// rest: that frame and everything after it in its segment are zeroed, later segments are
// removed, and the report says exactly what was dropped.
//
// A visitor, if given, sees every good frame in order (replay, tools, tests).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "journal/frame.h"
#include "journal/io_backend.h"
#include "journal/journal_writer.h"
#include "journal/segment_header.h"

namespace lockstep::journal {

enum class RecoveryError : std::uint8_t {
  kNone,
  kIo,            // an I/O call failed (io holds which)
  kBadSegment,    // a segment header is invalid, or segments do not follow one another
  kCorruptFrame,  // a frame is wrong somewhere other than a torn tail
};

struct RecoveryStatus {
  RecoveryError error = RecoveryError::kNone;
  IoStatus io;
  std::string segment;         // file name
  std::uint64_t offset = 0;    // byte offset in that segment
  std::uint64_t sequence = 0;  // the sequence expected there
  std::string what;            // the check that failed
  bool is_ok() const noexcept { return error == RecoveryError::kNone; }
  // An I/O failure (kIo), keeping the file and offset it names.
  static RecoveryStatus from_io(IoStatus io);
  // "corrupt journal: 00000000000000000000.lsj at offset 8192 (sequence 41): broken hash chain"
  std::string message() const;
};

enum class RecoveryMode : std::uint8_t {
  kVerifyOnly,      // write nothing: a torn tail is reported, not repaired (read-only tools)
  kRepairTornTail,  // the default on open: zero a torn tail, remove an incomplete segment
  kSalvage,         // also cut the journal at the first bad frame instead of refusing
};

struct RecoveryReport {
  JournalTail tail;  // where a JournalWriter resumes
  std::uint64_t segments = 0;
  std::uint64_t frames = 0;
  std::uint64_t entries = 0;
  std::uint32_t flags = 0;  // of the segments (chain kind, direct I/O)
  std::vector<std::byte> descriptor;
  bool torn_tail = false;
  std::uint64_t torn_offset = 0;    // where the torn frame started, if any
  std::uint64_t dropped_bytes = 0;  // bytes zeroed there
  std::string torn_detail;          // why the tail frame was dropped
  bool salvaged = false;            // kSalvage cut the journal short
  std::string salvage_detail;       // where, why, and what was discarded
  // With a `from_sequence`: the segments before the one holding it, not read; and the
  // chain hash at from_sequence (after the frame that ends just before it, or the carried
  // hash of a segment that starts there), if from_sequence is a frame boundary.
  std::uint64_t skipped_segments = 0;
  bool boundary_found = false;
  ChainHash boundary_chain{};
};

using FrameVisitor = std::function<void(const DecodedFrame&)>;

// Recovers the journal in `io`'s directory, in the given mode.
//
// With `from_sequence` > 0 (opening from a snapshot that holds every entry below it),
// recovery starts at the segment holding from_sequence - 1 (the last one whose first
// sequence is below from_sequence; the first segment if it starts at from_sequence) and
// reads nothing before it, so its cost does not grow with the history before the
// snapshot. That segment is checked as a first segment is (its carried
// chain hash is trusted, its header checksum holding); the visitor still sees its frames
// from the segment's start (callers skip entries below from_sequence). A journal whose
// first segment starts after from_sequence is refused (kBadSegment): entries would be
// missing.
RecoveryStatus recover_journal(IoBackend& io, RecoveryMode mode, RecoveryReport* report,
                               const FrameVisitor& visit = {}, std::uint64_t from_sequence = 0);

}  // namespace lockstep::journal
