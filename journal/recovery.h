// Recovery: reads a journal directory from its first segment to its last, verifies
// everything docs/journal-format.md says a reader checks, and finds where appending
// resumes.
//
// It tells a torn tail from corruption (docs/journal-format.md, "Recovery: what a crash
// can leave, and what it cannot"):
// - a torn tail is what a crash leaves of the records in flight: it is dropped (zeroed
//   and synced) only when nothing on disk says any of it was durable: no later record's
//   durable_through reaches it, fewer records follow it than can be in flight, nothing
//   lies beyond their reach, its header is zeros or good, and it is not a complete record
//   whose bytes changed. The report says what was dropped and why none of it was
//   acknowledged;
// - anything else (a bad record an intact later record proves durable, a complete record
//   whose checksum fails, a truncated or extended segment file, a broken chain, a
//   misplaced record, a sequence gap, a bad segment header, a missing segment, a file
//   named like a segment that is not the journal's) is corruption: recovery refuses,
//   naming segment file, byte offset, sequence and the evidence.
//
// It never removes a file: one named like a segment that is not the journal's (the
// writer names a segment only once its header is durable) is refused by name.
//
// Salvage, only when asked for, keeps what precedes the first bad record and discards the
// rest without destroying it: the bytes cut from a segment are copied to
// NAME.discarded-at-OFFSET first, later segments are renamed NAME.discarded, and the
// report lists them.
//
// Memory: each segment is read in chunks (kReadChunkBytes, more for a larger record),
// not whole. A visitor, if given, sees every good entry frame in order (replay, tools,
// tests); markers are checked and counted, not visited.
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

// How much of a segment recovery reads at a time.
inline constexpr std::size_t kReadChunkBytes = std::size_t{8} << 20;

enum class RecoveryError : std::uint8_t {
  kNone,
  kIo,            // an I/O call failed (io holds which)
  kBadSegment,    // a segment header or file is invalid, or segments do not follow one another
  kCorruptFrame,  // a record is wrong somewhere a crash could not have left it
};

struct RecoveryStatus {
  RecoveryError error = RecoveryError::kNone;
  IoStatus io;
  std::string segment;         // file name
  std::uint64_t offset = 0;    // byte offset in that segment
  std::uint64_t sequence = 0;  // the sequence expected there
  std::string what;            // the check that failed, and the evidence
  bool is_ok() const noexcept { return error == RecoveryError::kNone; }
  // An I/O failure (kIo), keeping the file and offset it names.
  static RecoveryStatus from_io(IoStatus io);
  // "corrupt journal: 00000000000000000000.lsj at offset 8192 (sequence 41): broken hash chain"
  std::string message() const;
};

enum class RecoveryMode : std::uint8_t {
  kVerifyOnly,      // write nothing: a torn tail is reported, not repaired (read-only tools)
  kRepairTornTail,  // the default on open: zero a torn tail
  kSalvage,         // also cut the journal at the first bad record instead of refusing
  kSalvageDryRun,   // write nothing: say what kSalvage would cut and set aside
};

struct RecoveryReport {
  JournalTail tail;  // where a JournalWriter resumes
  std::uint64_t segments = 0;
  std::uint64_t frames = 0;   // entry frames
  std::uint64_t markers = 0;  // idle and closing markers
  std::uint64_t entries = 0;
  std::uint32_t flags = 0;  // of the segments (chain kind, direct I/O)
  std::vector<std::byte> descriptor;
  // Every sequence below this is proven durable by a record on disk (the largest
  // durable_through read); the tail's entries from here on are not (after a crash).
  std::uint64_t proven_through = 0;
  // The journal's last record is a closing marker: it was stopped cleanly.
  bool closed_cleanly = false;

  // A torn tail: what a crash left of the records in flight, dropped (or, in
  // kVerifyOnly, to be dropped by the next open).
  bool torn_tail = false;
  bool repaired = false;                    // it was dropped (not kVerifyOnly)
  std::uint64_t torn_offset = 0;            // where the torn record started, if any
  std::uint64_t dropped_bytes = 0;          // bytes zeroed there
  std::uint64_t dropped_records = 0;        // intact records among them (in flight with it)
  std::uint64_t dropped_entries = 0;        // entries known to be among them
  bool dropped_entries_exact = true;        // false: the torn record's own count is unknown
  std::uint64_t dropped_from_sequence = 0;  // the first sequence dropped
  std::string torn_detail;                  // what, where, and why none was acknowledged

  bool salvaged = false;               // kSalvage cut the journal short
  std::string salvage_detail;          // where, why, and what was set aside
  std::vector<std::string> discarded;  // salvage's side files and renamed segments (to be)

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
