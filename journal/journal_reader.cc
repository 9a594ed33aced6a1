#include "journal/journal_reader.h"

#include <algorithm>

#include "base/assert.h"
#include "base/endian.h"

namespace lockstep::journal {

RecoveryStatus JournalReader::open(IoBackend& io, std::unique_ptr<JournalReader>* out) {
  std::unique_ptr<JournalReader> reader(new JournalReader(io));
  std::vector<std::string> names;
  if (IoStatus s = io.list(&names); !s) return RecoveryStatus::from_io(std::move(s));
  for (const std::string& name : names) {
    if (const auto first = parse_segment_file_name(name)) {
      reader->segments_.push_back({*first, name});
    }
  }
  std::sort(reader->segments_.begin(), reader->segments_.end(),
            [](const Segment& a, const Segment& b) { return a.first_sequence < b.first_sequence; });
  reader->index_.resize(reader->segments_.size());
  *out = std::move(reader);
  return {};
}

JournalReader::~JournalReader() { (void)close_segment(); }

std::uint64_t JournalReader::first_sequence() const noexcept {
  return segments_.empty() ? 0 : segments_.front().first_sequence;
}

RecoveryStatus JournalReader::fail(std::uint64_t offset, std::string what) const {
  RecoveryStatus s;
  s.error = RecoveryError::kCorruptFrame;
  s.segment = segments_[segment_].name;
  s.offset = offset;
  s.sequence = at_.next_sequence;
  s.what = std::move(what);
  return s;
}

RecoveryStatus JournalReader::close_segment() {
  if (!open_) return {};
  open_ = false;
  if (IoStatus s = io_.close(file_); !s) return RecoveryStatus::from_io(std::move(s));
  return {};
}

RecoveryStatus JournalReader::open_segment(std::size_t index) {
  if (RecoveryStatus s = close_segment(); !s.is_ok()) return s;
  segment_ = index;
  const Segment& seg = segments_[index];
  if (IoStatus s = io_.open(seg.name, {}, &file_); !s) return RecoveryStatus::from_io(std::move(s));
  open_ = true;
  // The header: its fixed part says how long the whole of it is.
  buffer_.resize(kSegmentHeaderAlignBytes);
  std::size_t got = 0;
  if (IoStatus s = io_.read(file_, 0, buffer_, &got); !s)
    return RecoveryStatus::from_io(std::move(s));
  if (got >= kSegmentHeaderFixedBytes) {
    const auto header_bytes = load_le<std::uint32_t>(buffer_, segment_field::kHeaderBytes);
    if (header_bytes > buffer_.size() &&
        header_bytes <= kDescriptorBytesMax + kSegmentHeaderAlignBytes) {
      buffer_.resize(header_bytes);
      if (IoStatus s = io_.read(file_, 0, buffer_, &got); !s)
        return RecoveryStatus::from_io(std::move(s));
    }
  }
  const DecodedSegmentHeader d =
      decode_segment_header(std::span<const std::byte>(buffer_.data(), got));
  if (d.status != SegmentHeaderStatus::kOk || d.header.first_sequence != seg.first_sequence) {
    RecoveryStatus s =
        fail(0, d.status != SegmentHeaderStatus::kOk ? describe(d)
                                                     : "header disagrees with the file name");
    s.error = RecoveryError::kBadSegment;
    return s;
  }
  header_ = d.header;
  if (!hasher_) hasher_.emplace(header_.chain_kind());
  index_[index].try_emplace(header_.first_sequence, Position{d.header_bytes, header_.first_sequence,
                                                             header_.prev_chain_hash});
  frames_in_segment_ = 0;
  return {};
}

RecoveryStatus JournalReader::seek(std::uint64_t sequence) {
  if (segments_.empty()) return {};
  // The last segment whose first sequence is <= sequence.
  const auto after =
      std::upper_bound(segments_.begin(), segments_.end(), sequence,
                       [](std::uint64_t s, const Segment& seg) { return s < seg.first_sequence; });
  const std::size_t index =
      after == segments_.begin() ? 0 : static_cast<std::size_t>(after - segments_.begin()) - 1;
  if (RecoveryStatus s = open_segment(index); !s.is_ok()) return s;
  // Resume from the nearest verified position at or before the sequence.
  const auto& positions = index_[index];
  const auto it = positions.upper_bound(sequence);
  // A sequence before the journal's first one starts at the very beginning.
  at_ = it == positions.begin() ? it->second : std::prev(it)->second;
  // Walk (verifying) to the frame that holds the sequence.
  for (;;) {
    const Position before = at_;
    DecodedFrame frame;
    bool end = false;
    if (RecoveryStatus s = next(&frame, &end); !s.is_ok()) return s;
    if (end || frame.header.last_sequence >= sequence) {
      if (!end) {
        // Step back so next() returns this frame again.
        if (segment_ != index) {
          if (RecoveryStatus s = open_segment(index); !s.is_ok()) return s;
        }
        at_ = before;
      }
      return {};
    }
  }
}

RecoveryStatus JournalReader::next(DecodedFrame* frame, bool* end) {
  *end = false;
  if (segments_.empty()) {
    *end = true;
    return {};
  }
  if (!open_) {
    if (RecoveryStatus s = open_segment(0); !s.is_ok()) return s;
    at_ = index_[0].begin()->second;
  }
  for (;;) {
    buffer_.resize(kFrameHeaderBytes);
    std::size_t got = 0;
    if (IoStatus s = io_.read(file_, at_.offset, buffer_, &got); !s)
      return RecoveryStatus::from_io(std::move(s));
    const bool zeros =
        std::all_of(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(got),
                    [](std::byte b) { return b == std::byte{0}; });
    if (zeros) {  // the end of this segment's frames: on to the next segment, if any
      if (segment_ + 1 == segments_.size()) {
        *end = true;
        return {};
      }
      const Position carried = at_;
      if (RecoveryStatus s = open_segment(segment_ + 1); !s.is_ok()) return s;
      if (header_.first_sequence != carried.next_sequence ||
          header_.prev_chain_hash != carried.chain) {
        RecoveryStatus s =
            fail(0, "segment does not continue the previous one: a segment is missing");
        s.error = RecoveryError::kBadSegment;
        return s;
      }
      at_ = index_[segment_].begin()->second;
      continue;
    }
    const auto frame_bytes = got >= kFrameHeaderBytes
                                 ? load_le<std::uint32_t>(buffer_, frame_field::kFrameBytes)
                                 : std::uint32_t{0};
    buffer_.resize(std::clamp<std::size_t>(frame_bytes, kFrameHeaderBytes, kFrameBytesMax));
    if (IoStatus s = io_.read(file_, at_.offset, buffer_, &got); !s)
      return RecoveryStatus::from_io(std::move(s));
    const FrameExpectation expect{header_.first_sequence,    at_.offset, at_.next_sequence,
                                  header_.frame_alignment(), at_.chain,  verify_chain_};
    *frame = decode_frame(std::span<const std::byte>(buffer_.data(), got), expect, *hasher_);
    if (frame->status != FrameStatus::kOk)
      return fail(at_.offset, std::string(to_string(frame->status)));
    if (frame->header.is_marker()) {  // checked, and skipped: it holds no entry
      at_.offset += frame->header.frame_bytes;
      continue;
    }
    at_ = Position{at_.offset + frame->header.frame_bytes, frame->header.last_sequence + 1,
                   frame->chain};
    if (++frames_in_segment_ % kIndexEveryFrames == 0) {
      index_[segment_].try_emplace(at_.next_sequence, at_);
    }
    return {};
  }
}

}  // namespace lockstep::journal
