// JournalReader: reads a journal's frames in order from any sequence, verifying each
// one (checksum, place, sequence, chain) as recovery does, without loading segments
// whole: two reads per frame.
//
// Seeking finds the segment by binary search over the segments' first sequences (the file
// names), then walks that segment's frames from the nearest entry of a sparse index
// (every kIndexEveryFrames-th frame seen, with its chain hash, so the chain stays
// verified), starting from the segment header the first time.
//
// For tools and replay on a journal that recovery has opened: it writes nothing, and any
// bad frame, torn or not, is an error naming segment, offset and sequence.
// Thread safety: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "journal/chain_hash.h"
#include "journal/frame.h"
#include "journal/io_backend.h"
#include "journal/recovery.h"
#include "journal/segment_header.h"

namespace lockstep::journal {

class JournalReader {
 public:
  static constexpr std::uint64_t kIndexEveryFrames = 64;

  // Lists the segments of `io`'s directory. `io` must outlive the reader.
  static RecoveryStatus open(IoBackend& io, std::unique_ptr<JournalReader>* out);
  ~JournalReader();

  // Positions the reader so that next() returns the frame holding `sequence` (or, past the
  // end, reports the end).
  RecoveryStatus seek(std::uint64_t sequence);

  // The next frame; *end is true (and the frame untouched) after the last one. The frame's
  // payload stays valid until the next call.
  RecoveryStatus next(DecodedFrame* frame, bool* end);

  std::uint64_t first_sequence() const noexcept;  // of the oldest segment
  // Whether to recompute each frame's chain hash (the default). Off only for a reader of
  // frames its own process wrote and made durable (the engine's snapshotter): checksums,
  // places and sequences are still checked, and the stored chain hashes are reported.
  void set_verify_chain(bool verify) noexcept { verify_chain_ = verify; }

 private:
  struct Segment {
    std::uint64_t first_sequence;
    std::string name;
  };
  struct Position {  // a verified point to resume reading from
    std::uint64_t offset;
    std::uint64_t next_sequence;
    ChainHash chain;
  };

  explicit JournalReader(IoBackend& io) : io_(io) {}
  RecoveryStatus open_segment(std::size_t index);
  RecoveryStatus close_segment();
  RecoveryStatus fail(std::uint64_t offset, std::string what) const;

  IoBackend& io_;
  std::vector<Segment> segments_;
  std::optional<ChainHasher> hasher_;
  // Sparse index per segment: frame start sequence -> verified position.
  std::vector<std::map<std::uint64_t, Position>> index_;
  std::size_t segment_ = 0;  // current segment
  bool open_ = false;
  FileHandle file_ = 0;
  SegmentHeader header_;
  Position at_{};
  std::uint64_t frames_in_segment_ = 0;
  std::vector<std::byte> buffer_;
  bool verify_chain_ = true;
};

}  // namespace lockstep::journal
