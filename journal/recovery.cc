#include "journal/recovery.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "base/assert.h"
#include "base/endian.h"

namespace lockstep::journal {
namespace {

struct Segment {
  std::uint64_t first_sequence;
  std::string name;
};

RecoveryStatus corrupt(RecoveryError error, const std::string& segment, std::uint64_t offset,
                       std::uint64_t sequence, std::string what) {
  RecoveryStatus s;
  s.error = error;
  s.segment = segment;
  s.offset = offset;
  s.sequence = sequence;
  s.what = std::move(what);
  return s;
}

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// One past the last non-zero byte of `bytes`, or 0.
std::size_t last_nonzero_end(std::span<const std::byte> bytes) noexcept {
  std::size_t end = bytes.size();
  while (end > 0 && (end & 7) != 0 && bytes[end - 1] == std::byte{0}) --end;
  // Eight bytes at a time over the (usually long) zeros of a preallocated segment.
  while (end >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + end - 8, 8);
    if (word != 0) break;
    end -= 8;
  }
  while (end > 0 && bytes[end - 1] == std::byte{0}) --end;
  return end;
}

// A window over one segment file, read in chunks of kReadChunkBytes (or one record, if
// larger): recovery's memory follows the largest record, not the segment's size.
class SegmentFile {
 public:
  explicit SegmentFile(IoBackend& io) : io_(io) {}
  ~SegmentFile() { (void)close(); }
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  IoStatus open(const std::string& name) {
    if (IoStatus s = close(); !s) return s;
    if (IoStatus s = io_.open(name, {}, &file_); !s) return s;
    open_ = true;
    base_ = 0;
    length_ = 0;
    return io_.size(file_, &size_);
  }

  IoStatus close() {
    if (!open_) return IoStatus::ok();
    open_ = false;
    return io_.close(file_);
  }

  FileHandle handle() const noexcept { return file_; }
  std::uint64_t size() const noexcept { return size_; }

  // The bytes [offset, offset + n), cut short at the end of the file. Valid until the next
  // call of view() or end_of_data().
  IoStatus view(std::uint64_t offset, std::size_t n, std::span<const std::byte>* out) {
    if (offset >= size_) {
      *out = {};
      return IoStatus::ok();
    }
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - offset));
    if (offset < base_ || offset + n > base_ + length_) {
      const auto want = static_cast<std::size_t>(
          std::min<std::uint64_t>(std::max(n, kReadChunkBytes), size_ - offset));
      if (capacity_ < want) {
        buffer_.reset();  // before the new one: never two large buffers at once
        buffer_.reset(new std::byte[want]);
        capacity_ = want;
      }
      std::size_t got = 0;
      if (IoStatus s = io_.read(file_, offset, {buffer_.get(), want}, &got); !s) {
        length_ = 0;
        return s;
      }
      base_ = offset;
      length_ = got;
      n = std::min(n, got);
    }
    *out = {buffer_.get() + (offset - base_), n};
    return IoStatus::ok();
  }

  // One past the last non-zero byte in [offset, limit) of the file, or `offset` if there
  // is none. Reads backwards from `limit`, so it stops at the end of the data.
  IoStatus end_of_data(std::uint64_t offset, std::uint64_t limit, std::uint64_t* end) {
    std::uint64_t hi = std::min(limit, size_);
    while (hi > offset) {
      const std::uint64_t lo = hi - std::min<std::uint64_t>(hi - offset, kReadChunkBytes);
      std::span<const std::byte> bytes;
      if (IoStatus s = view(lo, static_cast<std::size_t>(hi - lo), &bytes); !s) return s;
      if (bytes.size() < hi - lo) return IoStatus::error(EIO, "read (file shrank)", "", lo);
      if (const std::size_t n = last_nonzero_end(bytes); n > 0) {
        *end = lo + n;
        return IoStatus::ok();
      }
      hi = lo;
    }
    *end = offset;
    return IoStatus::ok();
  }

 private:
  IoBackend& io_;
  FileHandle file_ = 0;
  bool open_ = false;
  std::uint64_t size_ = 0;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_ = 0;
  std::uint64_t base_ = 0;  // file offset of buffer_[0]
  std::size_t length_ = 0;  // bytes of the file in buffer_
};

// What follows a bad record: the intact, well-placed records recovery finds after it.
struct Followers {
  std::uint64_t records = 0;
  std::uint64_t entries = 0;
  std::uint64_t durable_through = 0;  // the largest among them
  std::uint64_t durable_offset = 0;   // the record that says so
  std::uint64_t durable_sequence = 0;
};

class Recovery {
 public:
  Recovery(IoBackend& io, RecoveryMode mode, RecoveryReport* report, const FrameVisitor& visit,
           std::uint64_t from_sequence)
      : io_(io),
        repair_(mode == RecoveryMode::kRepairTornTail || mode == RecoveryMode::kSalvage),
        salvage_(mode == RecoveryMode::kSalvage || mode == RecoveryMode::kSalvageDryRun),
        report_(*report),
        visit_(visit),
        from_(from_sequence),
        file_(io) {}

  RecoveryStatus run() {
    if (RecoveryStatus s = list(); !s.is_ok()) return s;
    if (segments_.empty()) return {};
    std::size_t start = 0;
    if (from_ > 0) {
      if (segments_[0].first_sequence > from_) {
        return corrupt(RecoveryError::kBadSegment, segments_[0].name, 0, from_,
                       "the journal begins at sequence " +
                           std::to_string(segments_[0].first_sequence) +
                           ", after the sequence recovery starts from");
      }
      // The segment holding from - 1 (so the link into the next segment is checked, and a
      // segment that starts at from_ but whose header never became durable is not the
      // only one read); or the first, if it starts at from_.
      while (start + 1 < segments_.size() && segments_[start + 1].first_sequence < from_) ++start;
      report_.skipped_segments = start;
    }
    for (std::size_t i = start; i < segments_.size(); ++i) {
      if (RecoveryStatus s = segment(i, i == start); !s.is_ok()) return s;
      if (stop_) break;
    }
    if (IoStatus s = file_.close(); !s) return RecoveryStatus::from_io(std::move(s));
    tail_.proven_through = std::min(proven_, tail_.next_sequence);
    tail_.closed = closed_ && !report_.torn_tail && !report_.salvaged;
    report_.tail = tail_;
    report_.proven_through = tail_.proven_through;
    report_.closed_cleanly = tail_.closed;
    return {};
  }

 private:
  RecoveryStatus list() {
    std::vector<std::string> names;
    if (IoStatus s = io_.list(&names); !s) return RecoveryStatus::from_io(std::move(s));
    for (const std::string& name : names) {
      if (const auto first = parse_segment_file_name(name)) segments_.push_back({*first, name});
    }
    std::sort(segments_.begin(), segments_.end(), [](const Segment& a, const Segment& b) {
      return a.first_sequence < b.first_sequence;
    });
    return {};
  }

  // Reads and decodes the segment header of the open file.
  RecoveryStatus read_header(DecodedSegmentHeader* d) {
    std::span<const std::byte> bytes;
    if (IoStatus s = file_.view(0, kSegmentHeaderFixedBytes, &bytes); !s)
      return RecoveryStatus::from_io(std::move(s));
    std::size_t header_bytes = kSegmentHeaderAlignBytes;
    if (bytes.size() == kSegmentHeaderFixedBytes) {
      header_bytes = std::clamp<std::size_t>(
          load_le<std::uint32_t>(bytes, segment_field::kHeaderBytes), kSegmentHeaderAlignBytes,
          segment_header_bytes(kDescriptorBytesMax));
    }
    if (IoStatus s = file_.view(0, header_bytes, &bytes); !s)
      return RecoveryStatus::from_io(std::move(s));
    *d = decode_segment_header(bytes);
    return {};
  }

  RecoveryStatus segment(std::size_t index, bool first) {
    const Segment& seg = segments_[index];
    const bool last = index + 1 == segments_.size();
    if (IoStatus s = file_.open(seg.name); !s) return RecoveryStatus::from_io(std::move(s));
    if (file_.size() > kSegmentBytesMax) {
      return cut_before(
          index, first,
          corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                  "file of " + std::to_string(file_.size()) + " bytes is larger than any segment"));
    }
    DecodedSegmentHeader d;
    if (RecoveryStatus s = read_header(&d); !s.is_ok()) return s;
    if (d.status != SegmentHeaderStatus::kOk) return bad_header(index, first, last, d);
    const SegmentHeader& h = d.header;
    if (RecoveryStatus s = check_place(seg, h, first); !s.is_ok()) {
      return cut_before(index, first, std::move(s));
    }
    ++report_.segments;
    closed_ = false;  // a closing marker counts only if it is the journal's last record
    if (!hasher_) hasher_.emplace(h.chain_kind());
    // Rolled only after everything before it was durable.
    proven_ = std::max(proven_, h.first_sequence);

    // A segment has its full size from the moment its header is durable.
    bool size_ok = true;
    if (file_.size() != h.segment_bytes) {
      RecoveryStatus bad = corrupt(RecoveryError::kBadSegment, seg.name,
                                   std::min(file_.size(), h.segment_bytes), next_sequence_,
                                   "the file is " + std::to_string(file_.size()) +
                                       " bytes, but its header says the segment was created with " +
                                       std::to_string(h.segment_bytes) + ": it was " +
                                       (file_.size() < h.segment_bytes ? "truncated" : "extended") +
                                       " after it was written (committed entries may be missing)");
      if (!salvage_) return bad;
      size_ok = false;
    }

    std::uint64_t offset = d.header_bytes;
    const std::uint64_t end = std::min(file_.size(), h.segment_bytes);
    bool clean = true;  // the records end in zeros, nothing bad read
    while (offset < end) {
      DecodedFrame frame;
      if (RecoveryStatus s = read_record(h, offset, &frame); !s.is_ok()) return s;
      if (frame.status == FrameStatus::kOk) {
        accept(frame);
        offset += frame.header.frame_bytes;
        continue;
      }
      if (frame.status == FrameStatus::kEnd) {
        std::uint64_t data_end = 0;
        if (IoStatus s = file_.end_of_data(offset, end, &data_end); !s)
          return RecoveryStatus::from_io(std::move(s));
        if (data_end == offset) break;  // the end of the segment's records
      }
      clean = false;
      if (RecoveryStatus s = bad_region(index, h, offset, frame, size_ok); !s.is_ok()) return s;
      break;
    }
    if (clean && !size_ok) {
      // Salvage of a segment whose records are whole but whose file is not: the bytes
      // past its size go aside; a short file is given its size back, and the journal
      // ends here (what was cut off is gone).
      const bool extended = file_.size() > h.segment_bytes;
      if (RecoveryStatus s = salvage_cut(seg, h, offset, size_error(seg, h), !extended);
          !s.is_ok()) {
        return s;
      }
    }
    tail_ = JournalTail{next_sequence_, chain_, h.first_sequence, h.segment_index, offset,
                        proven_,        false};
    if (!last && stop_ && salvaged_) {
      // Everything after the cut goes aside.
      if (RecoveryStatus s = set_aside_from(index + 1); !s.is_ok()) return s;
    }
    return {};
  }

  RecoveryStatus size_error(const Segment& seg, const SegmentHeader& h) const {
    return corrupt(RecoveryError::kBadSegment, seg.name, std::min(file_.size(), h.segment_bytes),
                   next_sequence_,
                   "the file is " + std::to_string(file_.size()) + " bytes, its header says " +
                       std::to_string(h.segment_bytes));
  }

  // Decodes the record at `offset`: its header first, then (if the header holds) the
  // whole record.
  RecoveryStatus read_record(const SegmentHeader& h, std::uint64_t offset, DecodedFrame* out) {
    const FrameExpectation expect{h.first_sequence, offset, next_sequence_, h.frame_alignment(),
                                  chain_};
    std::span<const std::byte> bytes;
    if (IoStatus s = file_.view(offset, kFrameHeaderBytes, &bytes); !s)
      return RecoveryStatus::from_io(std::move(s));
    if (bytes.size() < kFrameHeaderBytes && all_zero(bytes)) {
      out->status = FrameStatus::kEnd;  // a short file ends here: nothing more to read
      return {};
    }
    const DecodedFrame head = decode_record_header(bytes, h.frame_alignment());
    if (head.status == FrameStatus::kOk) {
      if (IoStatus s = file_.view(offset, head.header.frame_bytes, &bytes); !s)
        return RecoveryStatus::from_io(std::move(s));
    }
    *out = decode_frame(bytes, expect, *hasher_);
    return {};
  }

  void accept(const DecodedFrame& frame) {
    const FrameHeader& h = frame.header;
    proven_ = std::max(proven_, h.durable_through);
    if (h.is_marker()) {
      ++report_.markers;
      closed_ = h.kind == RecordKind::kCloseMarker;
      return;
    }
    if (visit_) visit_(frame);
    chain_ = frame.chain;
    next_sequence_ = h.last_sequence + 1;
    note_boundary();
    ++report_.frames;
    report_.entries += h.entry_count;
    closed_ = false;
  }

  // The first record at `offset` that does not read as good: a torn tail, or corruption.
  RecoveryStatus bad_region(std::size_t index, const SegmentHeader& h, std::uint64_t offset,
                            const DecodedFrame& frame, bool size_ok) {
    const Segment& seg = segments_[index];
    const bool last = index + 1 == segments_.size();
    const std::string found = frame.status == FrameStatus::kEnd
                                  ? std::string("data after the end of the segment's records")
                                  : std::string(to_string(frame.status));
    std::string evidence;
    Followers followers;
    std::uint64_t data_end = offset;
    if (!last) {
      evidence = "a later segment exists, so everything in this one was durable";
    } else if (!size_ok) {
      evidence = "the segment file does not have its full size";
    } else if (RecoveryStatus s = tail_evidence(h, offset, frame, &evidence, &followers, &data_end);
               !s.is_ok()) {
      return s;
    }
    if (evidence.empty()) return drop_torn_tail(seg, offset, frame, followers, data_end, found);
    RecoveryStatus bad = corrupt(RecoveryError::kCorruptFrame, seg.name, offset, next_sequence_,
                                 found + ", and it is not a torn tail: " + evidence);
    if (!salvage_) return bad;
    return salvage_cut(seg, h, offset, bad);
  }

  // Why the bad record at `offset` of the last segment cannot be what a crash left
  // (docs/journal-format.md, rules 3 to 8), or "" if it can. Also counts what follows it.
  RecoveryStatus tail_evidence(const SegmentHeader& h, std::uint64_t offset,
                               const DecodedFrame& frame, std::string* evidence,
                               Followers* followers, std::uint64_t* data_end) {
    const std::uint64_t s = next_sequence_;
    const std::size_t alignment = h.frame_alignment();
    const std::uint64_t end = std::min(file_.size(), h.segment_bytes);
    // Rule 6 and 8: the header at `offset` is zeros, or good with a failing checksum.
    const bool header_good =
        frame.status == FrameStatus::kBadChecksum || frame.status == FrameStatus::kTruncated;
    if (frame.status != FrameStatus::kEnd && !header_good) {
      *evidence = frame.status == FrameStatus::kBadEntries ||
                          frame.status == FrameStatus::kBadPadding ||
                          frame.status == FrameStatus::kBadChain
                      ? "its checksum holds, so its bytes are the ones written, yet they are wrong"
                      : "a crash leaves a record's header (one sector) whole or not at all";
      return {};
    }
    if (frame.status == FrameStatus::kTruncated) {
      *evidence =
          "its header says it runs past the end of the segment, where the writer "
          "never writes";
      return {};
    }
    if (header_good && frame.header.frame_bytes > h.frame_bytes_max) {
      *evidence = "it is larger than the writer's largest record (" +
                  std::to_string(h.frame_bytes_max) + " bytes)";
      return {};
    }
    // Rule 7: a complete record whose bytes changed. A crash can only add blank sectors
    // (a sector that did not reach the disk reads as zeros), never take one away: no
    // more blank sectors than when it was written means none that held data is missing.
    if (header_good && frame.header.blank_sectors != kBlankSectorsUnknown) {
      std::span<const std::byte> bytes;
      if (IoStatus st = file_.view(offset, frame.header.frame_bytes, &bytes); !st)
        return RecoveryStatus::from_io(std::move(st));
      const std::size_t pad_begin = kFrameHeaderBytes + frame.header.payload_bytes;
      if (blank_sectors(bytes, offset, pad_begin, pad_begin + frame.header.padding_bytes) <=
          frame.header.blank_sectors) {
        *evidence =
            "no sector of it that held data when it was written reads as zeros now (a crash "
            "only ever leaves sectors out), yet its checksum fails: its bytes changed after "
            "they were written";
        return {};
      }
    }
    // Rule 5: nothing beyond what can have been in flight.
    if (IoStatus st = file_.end_of_data(offset, end, data_end); !st)
      return RecoveryStatus::from_io(std::move(st));
    const std::uint64_t reach = std::uint64_t{h.writes_in_flight} * h.frame_bytes_max;
    if (*data_end - offset > reach) {
      *evidence = "there is data up to offset " + std::to_string(*data_end) +
                  ", further past it than the " + std::to_string(h.writes_in_flight) +
                  " records the writer keeps in flight can reach (" + std::to_string(reach) +
                  " bytes)";
      return {};
    }
    // Rules 3 and 4: the intact records after it.
    std::uint64_t q = header_good ? offset + frame.header.frame_bytes : offset + alignment;
    while (q + kFrameHeaderBytes <= *data_end) {
      std::span<const std::byte> bytes;
      if (IoStatus st = file_.view(q, kFrameHeaderBytes, &bytes); !st)
        return RecoveryStatus::from_io(std::move(st));
      const DecodedFrame head = decode_record_header(bytes, alignment);
      if (head.status != FrameStatus::kOk ||
          head.header.segment_first_sequence != h.first_sequence ||
          head.header.segment_offset != q) {
        q += alignment;
        continue;
      }
      // A header that holds (its own checksum, its place) is trusted on its own: its
      // record is skipped whole even if torn, so bytes inside it are never taken for
      // records.
      if (IoStatus st = file_.view(q, head.header.frame_bytes, &bytes); !st)
        return RecoveryStatus::from_io(std::move(st));
      if (bytes.size() < head.header.frame_bytes ||
          load_le<std::uint64_t>(bytes, frame_field::kChecksum) != frame_checksum(bytes)) {
        q += head.header.frame_bytes;
        continue;
      }
      const FrameHeader& r = head.header;
      ++followers->records;
      followers->entries += r.entry_count;
      if (r.durable_through > followers->durable_through) {
        followers->durable_through = r.durable_through;
        followers->durable_offset = q;
        followers->durable_sequence = r.first_sequence;
      }
      if (r.first_sequence < s) {
        *evidence = "the intact record at offset " + std::to_string(q) + " starts at sequence " +
                    std::to_string(r.first_sequence) + ", which an earlier record already holds";
        return {};
      }
      q += r.frame_bytes;
    }
    if (followers->durable_through > s) {
      *evidence = "the intact record at offset " + std::to_string(followers->durable_offset) +
                  " (sequence " + std::to_string(followers->durable_sequence) +
                  ") says every sequence below " + std::to_string(followers->durable_through) +
                  " was durable when it was written, so sequence " + std::to_string(s) +
                  " was durable and may have been acknowledged";
      return {};
    }
    if (followers->records >= h.writes_in_flight) {
      *evidence = std::to_string(followers->records) +
                  " intact records follow it; a crash leaves at most " +
                  std::to_string(h.writes_in_flight - 1) +
                  " (writes in flight: " + std::to_string(h.writes_in_flight) + ")";
      return {};
    }
    return {};
  }

  RecoveryStatus drop_torn_tail(const Segment& seg, std::uint64_t offset, const DecodedFrame& frame,
                                const Followers& followers, std::uint64_t data_end,
                                const std::string& found) {
    const bool header_good = frame.status != FrameStatus::kEnd;
    report_.torn_tail = true;
    report_.torn_offset = offset;
    report_.dropped_bytes = data_end - offset;
    report_.dropped_records = followers.records;
    report_.dropped_entries =
        followers.entries + (header_good ? frame.header.entry_count : std::uint64_t{0});
    report_.dropped_entries_exact = header_good || data_end == offset;
    report_.dropped_from_sequence = next_sequence_;
    const std::uint64_t proven = std::max(proven_, followers.durable_through);
    report_.torn_detail =
        seg.name + " at offset " + std::to_string(offset) + " (sequence " +
        std::to_string(next_sequence_) + "): " + found + "; " + std::to_string(data_end - offset) +
        " bytes " + (repair_ ? "dropped" : "to be dropped on the next open") + ", holding " +
        (report_.dropped_entries_exact ? "" : "at least ") +
        std::to_string(report_.dropped_entries) + " commands; none was acknowledged: the last " +
        "durable point on record is sequence " + std::to_string(proven);
    if (repair_ && data_end > offset) {
      if (RecoveryStatus s = zero(offset, data_end); !s.is_ok()) return s;
      report_.repaired = true;
    }
    stop_ = true;
    return {};
  }

  // Zeroes [from, to) of the open file, in chunks, and syncs it.
  RecoveryStatus zero(std::uint64_t from, std::uint64_t to) {
    const std::vector<std::byte> zeros(
        static_cast<std::size_t>(std::min<std::uint64_t>(to - from, kReadChunkBytes)),
        std::byte{0});
    for (std::uint64_t at = from; at < to;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(to - at, zeros.size()));
      if (IoStatus s = io_.write_and_sync(file_.handle(), at, {zeros.data(), n}); !s)
        return RecoveryStatus::from_io(std::move(s));
      at += n;
    }
    return {};
  }

  RecoveryStatus check_place(const Segment& seg, const SegmentHeader& h, bool first) {
    if (h.first_sequence != seg.first_sequence) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "the file is named for sequence " + std::to_string(seg.first_sequence) +
                         ", but its header says the segment starts at sequence " +
                         std::to_string(h.first_sequence) + " (a renamed or copied segment; its " +
                         "name would be " + segment_file_name(h.first_sequence) + ")");
    }
    if (first) {
      report_.flags = h.flags;
      report_.descriptor = h.descriptor;
      next_sequence_ = h.first_sequence;
      chain_ = h.prev_chain_hash;
      segment_index_ = h.segment_index;
      note_boundary();
      return {};
    }
    ++segment_index_;
    if (h.segment_index != segment_index_ || h.first_sequence != next_sequence_) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "segment " + std::to_string(h.segment_index) + " starting at sequence " +
                         std::to_string(h.first_sequence) + " follows segment " +
                         std::to_string(segment_index_ - 1) + ", which ends before sequence " +
                         std::to_string(next_sequence_) +
                         ": a segment is missing, or this one is not the journal's");
    }
    if (h.prev_chain_hash != chain_) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "the chain hash carried into the segment differs from the previous "
                     "segment's last (another history)");
    }
    if (h.flags != report_.flags || h.descriptor != report_.descriptor) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "flags or schema descriptor differ from the first segment's");
    }
    return {};
  }

  // A segment whose header does not decode. The writer names a segment only once its
  // header is durable (JournalWriter::roll_segment), so this is never a crash's doing:
  // the file is refused by name and left as it is.
  RecoveryStatus bad_header(std::size_t index, bool first, bool last,
                            const DecodedSegmentHeader& d) {
    const Segment& seg = segments_[index];
    std::string what = describe(d);
    if (d.status == SegmentHeaderStatus::kBadVersion) {
      what += "; it was left as it is";  // a journal segment, of another format
    } else if (last && !first) {
      what = "named like a segment of this journal, but it is not one (" + what +
             "); the journal ends at sequence " + std::to_string(next_sequence_) +
             ". It was left as it is: move it out of the directory if it does not belong there";
    } else {
      what = "not a segment of this journal (" + what +
             "); it was left as it is: move it out of the directory if it does not belong there";
    }
    return cut_before(index, first,
                      corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_, what));
  }

  // A name in the directory for a file set aside by salvage: `base`, or base.1, base.2...
  // if that is taken.
  RecoveryStatus free_name(const std::string& base, std::string* name) {
    std::vector<std::string> names;
    if (IoStatus s = io_.list(&names); !s) return RecoveryStatus::from_io(std::move(s));
    *name = base;
    for (int i = 1; std::find(names.begin(), names.end(), *name) != names.end(); ++i) {
      *name = base + "." + std::to_string(i);
    }
    return {};
  }

  // Salvage: cuts the journal at `offset` of the open segment. The bytes from there to
  // the end of the data are copied to a side file first (synced); then they are zeroed,
  // and the file is given its full size again.
  // With `stop` false (an extended file whose records are whole) the journal goes on.
  RecoveryStatus salvage_cut(const Segment& seg, const SegmentHeader& h, std::uint64_t offset,
                             const RecoveryStatus& why, bool stop = true) {
    std::uint64_t data_end = 0;
    if (IoStatus s = file_.end_of_data(offset, file_.size(), &data_end); !s)
      return RecoveryStatus::from_io(std::move(s));
    std::uint64_t zero_end = offset;  // the non-zero bytes below the segment's size
    if (IoStatus s = file_.end_of_data(offset, std::min(data_end, h.segment_bytes), &zero_end); !s)
      return RecoveryStatus::from_io(std::move(s));
    report_.salvaged = true;
    if (!report_.salvage_detail.empty()) report_.salvage_detail += "; ";
    report_.salvage_detail += "cut at " + why.message().substr(why.message().find(": ") + 2);
    if (data_end > offset) {
      std::string side;
      if (RecoveryStatus s = free_name(seg.name + ".discarded-at-" + std::to_string(offset), &side);
          !s.is_ok()) {
        return s;
      }
      if (repair_) {
        if (RecoveryStatus s = copy_aside(offset, data_end, side); !s.is_ok()) return s;
      }
      report_.discarded.push_back(side);
      report_.salvage_detail += "; " + std::to_string(data_end - offset) + " bytes of " + seg.name +
                                " from offset " + std::to_string(offset) +
                                (repair_ ? " set aside in " : " to be set aside in ") + side;
    }
    if (!repair_) {  // kSalvageDryRun
      if (file_.size() != h.segment_bytes) {
        report_.salvage_detail += "; " + seg.name + " to be given its size, " +
                                  std::to_string(h.segment_bytes) + " bytes, again";
      }
      salvaged_ = stop;
      stop_ = stop;
      return {};
    }
    if (file_.size() > h.segment_bytes) {
      if (IoStatus s = io_.truncate(file_.handle(), h.segment_bytes); !s)
        return RecoveryStatus::from_io(std::move(s));
    } else if (file_.size() < h.segment_bytes) {
      if (IoStatus s = io_.allocate(file_.handle(), h.segment_bytes); !s)
        return RecoveryStatus::from_io(std::move(s));
    }
    if (zero_end > offset) {
      if (RecoveryStatus s = zero(offset, zero_end); !s.is_ok()) return s;
    } else if (IoStatus s = io_.write_and_sync(file_.handle(), offset, {}); !s) {
      return RecoveryStatus::from_io(std::move(s));  // the size change, made durable
    }
    salvaged_ = stop;
    stop_ = stop;
    return {};
  }

  RecoveryStatus copy_aside(std::uint64_t from, std::uint64_t to, const std::string& side) {
    FileHandle out = 0;
    if (IoStatus s = io_.open(side, {.create = true}, &out); !s)
      return RecoveryStatus::from_io(std::move(s));
    RecoveryStatus result;
    for (std::uint64_t at = from; at < to && result.is_ok();) {
      std::span<const std::byte> bytes;
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(to - at, kReadChunkBytes));
      if (IoStatus s = file_.view(at, n, &bytes); !s) {
        result = RecoveryStatus::from_io(std::move(s));
        break;
      }
      // Copied through a buffer of our own: the file's view may be replaced by the write.
      const std::vector<std::byte> chunk(bytes.begin(), bytes.end());
      if (IoStatus s = io_.write_and_sync(out, at - from, chunk); !s) {
        result = RecoveryStatus::from_io(std::move(s));
      }
      at += n;
    }
    if (IoStatus s = io_.close(out); !s && result.is_ok())
      result = RecoveryStatus::from_io(std::move(s));
    if (!result.is_ok()) return result;
    if (IoStatus s = io_.sync_directory(); !s) return RecoveryStatus::from_io(std::move(s));
    return {};
  }

  // A bad or out-of-place segment: refused, or with salvage, the journal ends before it
  // (never before the first segment: there would be nothing left to trust), and it and
  // every later segment are renamed aside.
  RecoveryStatus cut_before(std::size_t index, bool first, RecoveryStatus why) {
    if (!salvage_ || first) return why;
    if (IoStatus s = file_.close(); !s) return RecoveryStatus::from_io(std::move(s));
    report_.salvaged = true;
    report_.salvage_detail = "cut before " + segments_[index].name + ": " + why.what;
    stop_ = true;
    return set_aside_from(index);
  }

  RecoveryStatus set_aside_from(std::size_t index) {
    if (IoStatus s = file_.close(); !s) return RecoveryStatus::from_io(std::move(s));
    for (std::size_t j = index; j < segments_.size(); ++j) {
      std::string side;
      if (RecoveryStatus s = free_name(segments_[j].name + ".discarded", &side); !s.is_ok())
        return s;
      if (repair_) {
        if (IoStatus s = io_.rename(segments_[j].name, side); !s)
          return RecoveryStatus::from_io(std::move(s));
      }
      report_.discarded.push_back(side);
      report_.salvage_detail +=
          "; " + segments_[j].name + (repair_ ? " set aside as " : " to be set aside as ") + side;
    }
    if (!repair_) return {};
    if (IoStatus s = io_.sync_directory(); !s) return RecoveryStatus::from_io(std::move(s));
    return {};
  }

  // The chain hash at from_sequence, once the reading reaches it at a frame boundary.
  void note_boundary() {
    if (next_sequence_ == from_) {
      report_.boundary_found = true;
      report_.boundary_chain = chain_;
    }
  }

  IoBackend& io_;
  const bool repair_;
  const bool salvage_;
  RecoveryReport& report_;
  const FrameVisitor& visit_;
  const std::uint64_t from_;
  SegmentFile file_;
  std::vector<Segment> segments_;
  std::optional<ChainHasher> hasher_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t segment_index_ = 0;
  std::uint64_t proven_ = 0;  // the largest durable_through read
  bool closed_ = false;       // the last record read is a closing marker
  ChainHash chain_{};
  JournalTail tail_;
  bool salvaged_ = false;
  bool stop_ = false;
};

}  // namespace

RecoveryStatus RecoveryStatus::from_io(IoStatus io) {
  RecoveryStatus s;
  s.error = RecoveryError::kIo;
  s.segment = io.file();
  s.offset = io.offset();
  s.what = io.message();
  s.io = std::move(io);
  return s;
}

std::string RecoveryStatus::message() const {
  switch (error) {
    case RecoveryError::kNone: return "ok";
    case RecoveryError::kIo: return "journal I/O error: " + what;
    case RecoveryError::kBadSegment:
    case RecoveryError::kCorruptFrame:
      return "corrupt journal: " + segment + " at offset " + std::to_string(offset) +
             " (sequence " + std::to_string(sequence) + "): " + what;
  }
  return "?";
}

RecoveryStatus recover_journal(IoBackend& io, RecoveryMode mode, RecoveryReport* report,
                               const FrameVisitor& visit, std::uint64_t from_sequence) {
  *report = RecoveryReport{};
  return Recovery(io, mode, report, visit, from_sequence).run();
}

}  // namespace lockstep::journal
