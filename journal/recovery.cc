#include "journal/recovery.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "journal/endian.h"
#include "pipeline/assert.h"

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

// How many frames whose checksum holds start after `offset` (counting stops past `limit`).
// A crash leaves at most writes_in_flight - 1 such frames after a bad one: frames written
// together may reach the disk in any order (page-cache writeback has none), but a frame is
// acknowledged only after every earlier one. More than that means something valid was
// written after the bad frame had been acknowledged: corruption.
std::size_t checksummed_frames_after(std::span<const std::byte> data, std::size_t offset,
                                     std::size_t alignment, std::size_t limit) {
  std::size_t count = 0;
  for (std::size_t o = offset + alignment; o + kFrameBytesMin <= data.size() && count <= limit;) {
    if (std::memcmp(data.data() + o, kFrameMagic.data(), kFrameMagic.size()) == 0) {
      const auto frame_bytes = load_le<std::uint32_t>(data, o + frame_field::kFrameBytes);
      if (frame_bytes >= kFrameBytesMin && frame_bytes <= data.size() - o &&
          frame_bytes % alignment == 0) {
        const std::span<const std::byte> frame = data.subspan(o, frame_bytes);
        if (load_le<std::uint64_t>(frame, frame_field::kChecksum) == frame_checksum(frame)) {
          ++count;
          o += frame_bytes;
          continue;
        }
      }
    }
    o += alignment;
  }
  return count;
}

// One past the last non-zero byte at or after `offset`, or `offset` if all are zero.
std::size_t end_of_data(std::span<const std::byte> data, std::size_t offset) {
  std::size_t end = data.size();
  // Eight bytes at a time over the (usually long) zeros of a preallocated segment.
  while (end >= offset + 8 && (end & 7) != 0 && data[end - 1] == std::byte{0}) --end;
  while (end >= offset + 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data.data() + end - 8, 8);
    if (word != 0) break;
    end -= 8;
  }
  while (end > offset && data[end - 1] == std::byte{0}) --end;
  return end;
}

bool tearable(FrameStatus status) {
  return status == FrameStatus::kTruncated || status == FrameStatus::kBadChecksum ||
         status == FrameStatus::kBadMagic || status == FrameStatus::kBadLength;
}

class Recovery {
 public:
  Recovery(IoBackend& io, RecoveryMode mode, RecoveryReport* report, const FrameVisitor& visit,
           std::uint64_t from_sequence)
      : io_(io),
        repair_(mode != RecoveryMode::kVerifyOnly),
        salvage_(mode == RecoveryMode::kSalvage),
        report_(*report),
        visit_(visit),
        from_(from_sequence) {}

  RecoveryStatus run() {
    std::vector<Segment> segments;
    if (RecoveryStatus s = list(&segments); !s.is_ok()) return s;
    if (segments.empty()) return {};
    std::size_t start = 0;
    if (from_ > 0) {
      if (segments[0].first_sequence > from_) {
        return corrupt(RecoveryError::kBadSegment, segments[0].name, 0, from_,
                       "the journal begins at sequence " +
                           std::to_string(segments[0].first_sequence) +
                           ", after the sequence recovery starts from");
      }
      // The segment holding from - 1 (so the link into the next segment is checked, and a
      // segment that starts at from_ but whose header never became durable is not the
      // only one read); or the first, if it starts at from_.
      while (start + 1 < segments.size() && segments[start + 1].first_sequence < from_) ++start;
      report_.skipped_segments = start;
    }
    for (std::size_t i = start; i < segments.size(); ++i) {
      const bool last = i + 1 == segments.size();
      if (RecoveryStatus s = segment(segments[i], i == start, last); !s.is_ok()) return s;
      if (stop_) {
        if (cut_before_segment_) {
          if (RecoveryStatus s = remove_after(segments, i - 1); !s.is_ok()) return s;
        } else if (salvaged_here_) {
          if (RecoveryStatus s = remove_after(segments, i); !s.is_ok()) return s;
        }
        break;
      }
    }
    report_.tail = tail_;
    return {};
  }

 private:
  RecoveryStatus list(std::vector<Segment>* segments) {
    std::vector<std::string> names;
    if (IoStatus s = io_.list(&names); !s) return RecoveryStatus::from_io(std::move(s));
    for (const std::string& name : names) {
      if (const auto first = parse_segment_file_name(name)) segments->push_back({*first, name});
    }
    std::sort(segments->begin(), segments->end(), [](const Segment& a, const Segment& b) {
      return a.first_sequence < b.first_sequence;
    });
    return {};
  }

  RecoveryStatus read_file(const std::string& name, FileHandle* file) {
    if (IoStatus s = io_.open(name, {}, file); !s) return RecoveryStatus::from_io(std::move(s));
    std::uint64_t size = 0;
    if (IoStatus s = io_.size(*file, &size); !s) return RecoveryStatus::from_io(std::move(s));
    if (size > kSegmentBytesMax) {
      return corrupt(RecoveryError::kBadSegment, name, 0, next_sequence_,
                     "file of " + std::to_string(size) + " bytes is larger than any segment");
    }
    // Grown, never shrunk, and not zeroed first: the read fills it (a segment is hundreds
    // of MiB; zeroing it before reading would double the cost of opening).
    if (capacity_ < size) {
      buffer_.reset(new std::byte[static_cast<std::size_t>(size)]);
      capacity_ = static_cast<std::size_t>(size);
    }
    data_ = std::span<std::byte>(buffer_.get(), static_cast<std::size_t>(size));
    std::size_t got = 0;
    if (IoStatus s = io_.read(*file, 0, data_, &got); !s)
      return RecoveryStatus::from_io(std::move(s));
    data_ = data_.first(got);
    return {};
  }

  // A crash while rolling leaves a last segment whose header never became durable and
  // that holds nothing else: the roll did not happen. Remove it.
  RecoveryStatus drop_incomplete_segment(const Segment& seg, FileHandle file) {
    report_.torn_tail = true;
    report_.torn_detail = "incomplete segment " + seg.name + " (crash while rolling) removed";
    if (IoStatus s = io_.close(file); !s) return RecoveryStatus::from_io(std::move(s));
    if (repair_) {
      if (IoStatus s = io_.remove(seg.name); !s) return RecoveryStatus::from_io(std::move(s));
      if (IoStatus s = io_.sync_directory(); !s) return RecoveryStatus::from_io(std::move(s));
    }
    stop_ = true;
    return {};
  }

  RecoveryStatus segment(const Segment& seg, bool first, bool last) {
    FileHandle file = 0;
    if (RecoveryStatus s = read_file(seg.name, &file); !s.is_ok()) return s;
    const DecodedSegmentHeader d = decode_segment_header(data_);
    if (d.status != SegmentHeaderStatus::kOk) {
      // (Any header size: no data past the largest possible header, and no frame anywhere.)
      if (last && end_of_data(data_, 0) <= segment_header_bytes(kDescriptorBytesMax) &&
          checksummed_frames_after(data_, 0, kFrameAlignBuffered, 0) == 0) {
        return drop_incomplete_segment(seg, file);
      }
      return cut_before(seg, file, first,
                        corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                                std::string(to_string(d.status))));
    }
    const SegmentHeader& h = d.header;
    if (RecoveryStatus s = check_place(seg, h, first); !s.is_ok()) {
      return cut_before(seg, file, first, std::move(s));
    }
    ++report_.segments;
    if (!hasher_) hasher_.emplace(h.chain_kind());

    std::size_t offset = d.header_bytes;
    for (;;) {
      const FrameExpectation expect{h.first_sequence, offset, next_sequence_, h.frame_alignment(),
                                    chain_};
      const DecodedFrame frame =
          decode_frame(std::span<const std::byte>(data_).subspan(offset), expect, *hasher_);
      if (frame.status == FrameStatus::kOk) {
        if (visit_) visit_(frame);
        chain_ = frame.chain;
        next_sequence_ = frame.header.last_sequence + 1;
        note_boundary();
        offset += frame.header.frame_bytes;
        ++report_.frames;
        report_.entries += frame.header.entry_count;
        continue;
      }
      const bool garbage_follows = end_of_data(data_, offset) > offset;
      if (frame.status == FrameStatus::kEnd && !garbage_follows) break;
      const bool torn = last && (frame.status == FrameStatus::kEnd || tearable(frame.status)) &&
                        checksummed_frames_after(data_, offset, h.frame_alignment(),
                                                 h.writes_in_flight) < h.writes_in_flight;
      if (!torn) {
        RecoveryStatus bad =
            corrupt(RecoveryError::kCorruptFrame, seg.name, offset, next_sequence_,
                    frame.status == FrameStatus::kEnd ? "data after the end of the segment's frames"
                                                      : std::string(to_string(frame.status)));
        if (!salvage_) return bad;
        if (RecoveryStatus s = salvage(seg, file, offset, bad); !s.is_ok()) return s;
        break;
      }
      if (RecoveryStatus s = drop_torn_tail(seg, file, offset, frame.status); !s.is_ok()) return s;
      break;
    }
    tail_ = JournalTail{next_sequence_, chain_, h.first_sequence, h.segment_index, offset};
    if (IoStatus s = io_.close(file); !s) return RecoveryStatus::from_io(std::move(s));
    return {};
  }

  RecoveryStatus check_place(const Segment& seg, const SegmentHeader& h, bool first) {
    if (h.first_sequence != seg.first_sequence) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "header says first sequence " + std::to_string(h.first_sequence));
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
                         std::to_string(segment_index_ - 1) + ": a segment is missing");
    }
    if (h.prev_chain_hash != chain_) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "the chain hash carried into the segment differs");
    }
    if (h.flags != report_.flags || h.descriptor != report_.descriptor) {
      return corrupt(RecoveryError::kBadSegment, seg.name, 0, next_sequence_,
                     "flags or schema descriptor differ from the first segment's");
    }
    return {};
  }

  RecoveryStatus drop_torn_tail(const Segment& seg, FileHandle file, std::size_t offset,
                                FrameStatus status) {
    const std::size_t end = end_of_data(data_, offset);
    report_.torn_tail = true;
    report_.torn_offset = offset;
    report_.dropped_bytes = end - offset;
    report_.torn_detail = seg.name + " at offset " + std::to_string(offset) + " (sequence " +
                          std::to_string(next_sequence_) + "): " + std::string(to_string(status)) +
                          ", " + std::to_string(end - offset) + " bytes dropped";
    if (repair_ && end > offset) {
      const std::vector<std::byte> zeros(end - offset, std::byte{0});
      if (IoStatus s = io_.write_and_sync(file, offset, zeros); !s)
        return RecoveryStatus::from_io(std::move(s));
    }
    return {};
  }

  // Cuts the journal at `offset` of `seg`: zeroes the rest of the segment; run() then
  // removes every later segment.
  RecoveryStatus salvage(const Segment& seg, FileHandle file, std::size_t offset,
                         const RecoveryStatus& why) {
    const std::size_t end = end_of_data(data_, offset);
    report_.salvaged = true;
    report_.salvage_detail = "salvaged at " +
                             why.message().substr(std::string("corrupt journal: ").size()) + "; " +
                             std::to_string(end - offset) + " bytes zeroed in " + seg.name;
    const std::vector<std::byte> zeros(end - offset, std::byte{0});
    if (!zeros.empty()) {
      if (IoStatus s = io_.write_and_sync(file, offset, zeros); !s)
        return RecoveryStatus::from_io(std::move(s));
    }
    salvaged_here_ = true;
    stop_ = true;
    return {};
  }

  // A bad or out-of-place segment: refused, or with salvage, the journal ends before it
  // (never before the first segment: there would be nothing left to trust).
  RecoveryStatus cut_before(const Segment& seg, FileHandle file, bool first, RecoveryStatus why) {
    if (!salvage_ || first) return why;
    if (IoStatus s = io_.close(file); !s) return RecoveryStatus::from_io(std::move(s));
    report_.salvaged = true;
    report_.salvage_detail = "salvaged before " + seg.name + ": " + why.what;
    cut_before_segment_ = true;
    stop_ = true;
    return {};
  }

  RecoveryStatus remove_after(const std::vector<Segment>& segments, std::size_t index) {
    for (std::size_t j = index + 1; j < segments.size(); ++j) {
      if (IoStatus s = io_.remove(segments[j].name); !s)
        return RecoveryStatus::from_io(std::move(s));
      report_.salvage_detail += "; removed " + segments[j].name;
    }
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
  bool salvaged_here_ = false;
  bool cut_before_segment_ = false;
  RecoveryReport& report_;
  const FrameVisitor& visit_;
  const std::uint64_t from_;
  std::optional<ChainHasher> hasher_;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_ = 0;
  std::span<std::byte> data_;  // the segment being read, in buffer_
  std::uint64_t next_sequence_ = 0;
  std::uint64_t segment_index_ = 0;
  ChainHash chain_{};
  JournalTail tail_;
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
