#include "journal/journal_writer.h"

#include <algorithm>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>

#include "base/assert.h"
#include "base/endian.h"

namespace lockstep::journal {
namespace {

constexpr std::size_t kBufferAlignBytes = 4096;  // O_DIRECT needs aligned buffers
// The completion tag of a marker (frames are tagged with their buffer's index).
constexpr std::uint64_t kMarkerTag = UINT64_MAX;

[[noreturn]] void refuse(const std::string& what) {
  throw std::invalid_argument("journal options: " + what);
}

// A 4096-aligned byte array, allocated once.
struct AlignedBytes {
  explicit AlignedBytes(std::size_t n)
      : size(n),
        data(static_cast<std::byte*>(::operator new[](n, std::align_val_t{kBufferAlignBytes}))) {}
  ~AlignedBytes() { ::operator delete[](data, std::align_val_t{kBufferAlignBytes}); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  std::size_t size;
  std::byte* data;
};

}  // namespace

struct JournalWriter::Buffer {
  explicit Buffer(std::size_t bytes) : memory(bytes) {}
  AlignedBytes memory;
  bool busy = false;                // submitted and not yet completed
  std::uint64_t last_sequence = 0;  // of the frame in it, while busy
};

std::string_view to_string(Durability durability) noexcept {
  return durability == Durability::kFsync ? "fsync" : "none (NOT DURABLE)";
}

void JournalOptions::validate() const {
  if (frame_bytes_max < kFrameAlignDirect || frame_bytes_max > kFrameBytesMax ||
      frame_bytes_max % kFrameAlignDirect != 0) {
    refuse("frame_bytes_max " + std::to_string(frame_bytes_max) +
           " must be a multiple of 4096 in [4096, " + std::to_string(kFrameBytesMax) + "]");
  }
  if (descriptor.size() > kDescriptorBytesMax) {
    refuse("descriptor of " + std::to_string(descriptor.size()) + " bytes exceeds " +
           std::to_string(kDescriptorBytesMax));
  }
  const std::uint64_t least =
      segment_header_bytes(descriptor.size()) + frame_bytes_max +
      2 * frame_bytes_for(0, direct_io ? kFrameAlignDirect : kFrameAlignBuffered);
  if (segment_bytes % kFrameAlignDirect != 0 || segment_bytes < least ||
      segment_bytes > kSegmentBytesMax) {
    refuse("segment_bytes " + std::to_string(segment_bytes) +
           " must be a multiple of 4096, at most " + std::to_string(kSegmentBytesMax) +
           ", with room for the header, one largest frame and two markers (" +
           std::to_string(least) + ")");
  }
  if (idle_marker_delay.count() < 0) {
    refuse("idle_marker_delay " + std::to_string(idle_marker_delay.count()) +
           " us must not be negative");
  }
  if (writes_in_flight < 1 || writes_in_flight > kWritesInFlightMax) {
    refuse("writes_in_flight " + std::to_string(writes_in_flight) + " must be in [1, " +
           std::to_string(kWritesInFlightMax) + "]");
  }
}

std::uint32_t JournalOptions::segment_flags() const noexcept {
  return (chain == ChainKind::kXxh3_128 ? kFlagChainXxh3 : 0u) | (direct_io ? kFlagDirectIo : 0u);
}

JournalWriter::JournalWriter(IoBackend& io, JournalOptions options, const JournalTail& tail)
    : io_(io),
      options_((options.validate(), std::move(options))),
      hasher_(options_.chain),
      next_sequence_(tail.next_sequence),
      durable_sequence_(tail.next_sequence),
      proven_(std::min(tail.proven_through, tail.next_sequence)),
      chain_(tail.chain),
      last_is_close_(tail.closed),
      segment_index_(tail.segment_index) {
  LS_ASSERT(io_.depth() >= options_.writes_in_flight);
  for (std::size_t i = 0; i < options_.writes_in_flight + 1; ++i) {
    buffers_.push_back(std::make_unique<Buffer>(options_.frame_bytes_max));
  }
  marker_buffer_ = std::make_unique<Buffer>(kFrameAlignDirect);
  if (options_.register_buffers && io_.in_flight() == 0) {
    std::vector<std::span<std::byte>> spans;
    for (const auto& b : buffers_) spans.emplace_back(b->memory.data, options_.frame_bytes_max);
    buffers_registered_ = io_.register_buffers(spans);
  }
  if (tail.segment_first_sequence.has_value()) {
    const std::string name = segment_file_name(*tail.segment_first_sequence);
    if (IoStatus s =
            io_.open(name, {.create = false, .direct_io = options_.direct_io}, &segment_file_);
        !s) {
      (void)fail(std::move(s));
      return;
    }
    have_segment_ = true;
    segment_first_sequence_ = *tail.segment_first_sequence;
    segment_offset_ = tail.segment_offset;
    segment_bytes_ = options_.segment_bytes;
    (void)check_resumed_segment(name);
  }
}

namespace {

std::string chain_name(std::uint32_t flags) {
  return (flags & kFlagChainXxh3) != 0 ? "XXH3-128" : "SHA-256";
}
std::string direct_name(std::uint32_t flags) {
  return (flags & kFlagDirectIo) != 0 ? "direct I/O" : "buffered I/O";
}

}  // namespace

IoStatus JournalWriter::check_resumed_segment(const std::string& name) {
  // The fixed part says how long the header is (aligned reads: the file may be O_DIRECT).
  std::size_t header_bytes = kSegmentHeaderAlignBytes;
  std::size_t got = 0;
  {
    AlignedBytes first(kSegmentHeaderAlignBytes);
    if (IoStatus s = io_.read(segment_file_, 0, {first.data, first.size}, &got); !s) {
      return fail(std::move(s));
    }
    if (got >= kSegmentHeaderFixedBytes) {
      header_bytes = std::clamp<std::size_t>(
          load_le<std::uint32_t>({first.data, got}, segment_field::kHeaderBytes),
          kSegmentHeaderAlignBytes, segment_header_bytes(kDescriptorBytesMax));
    }
  }
  AlignedBytes bytes(header_bytes);
  if (IoStatus s = io_.read(segment_file_, 0, {bytes.data, bytes.size}, &got); !s) {
    return fail(std::move(s));
  }
  const DecodedSegmentHeader d = decode_segment_header({bytes.data, got});
  if (d.status != SegmentHeaderStatus::kOk) {
    return fail(IoStatus::error(EINVAL, "resume (" + describe(d) + ")", name, 0));
  }
  // Appending with another chain kind or alignment would write frames its readers cannot
  // read, and lose them at the next recovery; another descriptor is another schema.
  const SegmentHeader& h = d.header;
  const std::uint32_t flags = options_.segment_flags();
  std::string differs;
  if ((h.flags & kFlagChainXxh3) != (flags & kFlagChainXxh3)) {
    differs = "the journal's chain hash is " + chain_name(h.flags) + ", these options say " +
              chain_name(flags);
  } else if ((h.flags & kFlagDirectIo) != (flags & kFlagDirectIo)) {
    differs = "the journal was written with " + direct_name(h.flags) + ", these options say " +
              direct_name(flags);
  } else if (h.descriptor != options_.descriptor) {
    differs = "the journal was written by another schema (descriptor of " +
              std::to_string(h.descriptor.size()) + " bytes, these options have " +
              std::to_string(options_.descriptor.size()) + ")";
  }
  if (!differs.empty()) {
    return fail(IoStatus::error(EINVAL, "resume (" + differs + ")", name, 0));
  }
  // Limits that only bound what a crash can leave in this segment: keep them for its
  // markers (one at a time, the smallest record), and put the next frame in a new segment.
  segment_bytes_ = h.segment_bytes;
  roll_before_frame_ = h.segment_bytes != options_.segment_bytes ||
                       h.writes_in_flight != options_.writes_in_flight ||
                       h.frame_bytes_max != options_.frame_bytes_max;
  return IoStatus::ok();
}

JournalWriter::~JournalWriter() {
  // The buffers must outlive every write that points into them.
  while (io_.in_flight() > 0) {
    reaped_.clear();
    if (!io_.reap(io_.in_flight(), &reaped_)) break;
  }
  // The kernel must not keep writing from these buffers' pages once they are freed.
  if (buffers_registered_ && io_.in_flight() == 0) io_.unregister_buffers();
}

std::size_t JournalWriter::payload_capacity() const noexcept {
  return options_.frame_bytes_max - kFrameHeaderBytes - kChainHashBytes;
}

std::size_t JournalWriter::alignment() const noexcept {
  return options_.direct_io ? kFrameAlignDirect : kFrameAlignBuffered;
}

std::size_t JournalWriter::marker_bytes() const noexcept { return frame_bytes_for(0, alignment()); }

JournalWriter::Buffer* JournalWriter::free_buffer() noexcept {
  for (auto& b : buffers_) {
    if (!b->busy) return b.get();
  }
  return nullptr;
}

std::span<std::byte> JournalWriter::begin_frame() {
  if (!failure_.is_ok()) return {};
  if (current_ == nullptr) {
    while ((current_ = free_buffer()) == nullptr) {
      if (!poll(true).is_ok()) return {};
    }
  }
  return {current_->memory.data + kFrameHeaderBytes, payload_capacity()};
}

IoStatus JournalWriter::fail(IoStatus status) {
  if (failure_.is_ok()) failure_ = std::move(status);
  return failure_;
}

IoStatus JournalWriter::roll_segment() {
  // Wait for the old segment's records before leaving it: one sync's pause per segment.
  // So everything before the new segment is durable, which its first_sequence records.
  if (IoStatus s = flush(); !s) return s;
  if (have_segment_) {
    if (IoStatus s = io_.close(segment_file_); !s) return fail(std::move(s));
    // A segment with no entry frame (a resumed one rolled for other limits) is replaced
    // by the new one of the same name and index; any other is followed by it.
    if (segment_first_sequence_ != next_sequence_) ++segment_index_;
  }
  have_segment_ = false;
  roll_before_frame_ = false;
  // Made under a temporary name and renamed once its header is durable: a file named
  // like a segment always has a whole header, so recovery never has to guess whether a
  // bad one is a crash's or something else's (docs/journal-format.md, "Files").
  const std::string name = segment_file_name(next_sequence_);
  const std::string temporary = name + std::string(kSegmentTemporarySuffix);
  FileHandle file = 0;
  if (IoStatus s = io_.open(temporary, {.create = true, .direct_io = options_.direct_io}, &file);
      !s) {
    return fail(std::move(s));
  }
  // A temporary of the same name left by a crash while rolling holds no record: start
  // it from nothing.
  if (IoStatus s = io_.truncate(file, 0); !s) return fail(std::move(s));
  if (IoStatus s = io_.allocate(file, options_.segment_bytes); !s) return fail(std::move(s));
  SegmentHeader header;
  header.flags = options_.segment_flags();
  header.segment_index = segment_index_;
  header.first_sequence = next_sequence_;
  header.segment_bytes = options_.segment_bytes;
  header.writes_in_flight = static_cast<std::uint32_t>(options_.writes_in_flight);
  header.frame_bytes_max = static_cast<std::uint32_t>(options_.frame_bytes_max);
  header.prev_chain_hash = chain_;
  header.descriptor = options_.descriptor;
  AlignedBytes bytes(segment_header_bytes(header.descriptor.size()));
  const std::size_t size = encode_segment_header(header, {bytes.data, bytes.size});
  if (IoStatus s = io_.write_and_sync(file, 0, {bytes.data, size}); !s) return fail(std::move(s));
  if (IoStatus s = io_.rename(temporary, name); !s) return fail(std::move(s));
  if (IoStatus s = io_.sync_directory(); !s) return fail(std::move(s));
  have_segment_ = true;
  segment_file_ = file;
  segment_first_sequence_ = next_sequence_;
  segment_offset_ = size;
  segment_bytes_ = options_.segment_bytes;
  proven_ = std::max(proven_, durable_sequence_);  // the segment's first sequence says so
  last_is_close_ = false;
  return IoStatus::ok();
}

IoStatus JournalWriter::commit(std::uint32_t payload_bytes, std::uint32_t entry_count) {
  if (!failure_.is_ok()) return failure_;
  LS_ASSERT(!closed_);
  LS_ASSERT(current_ != nullptr);
  LS_ASSERT(entry_count >= 1 && payload_bytes <= payload_capacity());
  const std::size_t frame_bytes = frame_bytes_for(payload_bytes, alignment());
  // Room for the frame and, after it, the idle marker that may prove it durable and the
  // closing marker of a clean stop.
  if (!have_segment_ || roll_before_frame_ ||
      segment_offset_ + frame_bytes + 2 * marker_bytes() > segment_bytes_) {
    if (IoStatus s = roll_segment(); !s) return s;
  }
  while (io_.in_flight() >= options_.writes_in_flight) {
    if (IoStatus s = poll(true); !s) return s;
  }
  const FrameSeal seal{payload_bytes,   entry_count,       next_sequence_, segment_first_sequence_,
                       segment_offset_, durable_sequence_, alignment()};
  const std::size_t sealed =
      seal_frame({current_->memory.data, current_->memory.size}, seal, hasher_, chain_);
  LS_ASSERT(sealed == frame_bytes);
  std::uint64_t tag = 0;  // the buffer's index, to free it on completion
  while (buffers_[static_cast<std::size_t>(tag)].get() != current_) ++tag;
  if (IoStatus s = io_.submit({segment_file_,
                               segment_offset_,
                               {current_->memory.data, sealed},
                               tag,
                               options_.durability == Durability::kFsync});
      !s) {
    return fail(std::move(s));
  }
  current_->busy = true;
  current_->last_sequence = next_sequence_ + entry_count - 1;
  next_sequence_ += entry_count;
  segment_offset_ += sealed;
  proven_ = std::max(proven_, durable_sequence_);
  last_is_close_ = false;
  current_ = nullptr;
  return IoStatus::ok();
}

bool JournalWriter::marker_due() const noexcept {
  return options_.idle_markers && failure_.is_ok() && !closed_ && have_segment_ &&
         io_.in_flight() == 0 && !marker_buffer_->busy && proven_ < durable_sequence_ &&
         segment_offset_ + 2 * marker_bytes() <= segment_bytes_;  // and room to close
}

IoStatus JournalWriter::write_marker() {
  if (!failure_.is_ok()) return failure_;
  LS_ASSERT(marker_due());
  return submit_marker(RecordKind::kIdleMarker);
}

IoStatus JournalWriter::submit_marker(RecordKind kind) {
  LS_ASSERT(io_.in_flight() < options_.writes_in_flight && !marker_buffer_->busy);
  // Nothing is in flight: everything written is durable (or, with Durability::kNone,
  // written to the OS).
  LS_ASSERT(durable_sequence_ == next_sequence_);
  FrameSeal seal;
  seal.first_sequence = next_sequence_;
  seal.segment_first_sequence = segment_first_sequence_;
  seal.segment_offset = segment_offset_;
  seal.durable_through = durable_sequence_;
  seal.alignment = alignment();
  const std::size_t bytes =
      seal_marker({marker_buffer_->memory.data, marker_buffer_->memory.size}, kind, seal, chain_);
  if (IoStatus s = io_.submit({segment_file_,
                               segment_offset_,
                               {marker_buffer_->memory.data, bytes},
                               kMarkerTag,
                               options_.durability == Durability::kFsync});
      !s) {
    return fail(std::move(s));
  }
  marker_buffer_->busy = true;
  segment_offset_ += bytes;
  proven_ = durable_sequence_;
  last_is_close_ = kind == RecordKind::kCloseMarker;
  ++markers_written_;
  return IoStatus::ok();
}

IoStatus JournalWriter::close() {
  if (closed_) return failure_;
  if (IoStatus s = flush(); !s) return s;
  closed_ = true;  // a frame begun and not committed is not written
  if (!have_segment_ || last_is_close_) return IoStatus::ok();
  if (segment_offset_ + marker_bytes() > segment_bytes_) {
    // Never, for segments this writer made (room for a closing marker is kept after every
    // record); a resumed segment of another writer may be full.
    return IoStatus::ok();
  }
  if (IoStatus s = submit_marker(RecordKind::kCloseMarker); !s) return s;
  return flush();
}

IoStatus JournalWriter::poll(bool wait) {
  if (io_.in_flight() == 0) return failure_;
  reaped_.clear();
  if (IoStatus s = io_.reap(wait ? 1 : 0, &reaped_); !s) (void)fail(std::move(s));
  return take_reaped();
}

IoStatus JournalWriter::poll_within(std::int64_t timeout_ns) {
  if (io_.in_flight() == 0) return failure_;
  reaped_.clear();
  if (IoStatus s = io_.reap_within(timeout_ns, &reaped_); !s) (void)fail(std::move(s));
  return take_reaped();
}

IoStatus JournalWriter::take_reaped() {
  for (Completion& c : reaped_) {
    if (c.tag == kMarkerTag) {
      marker_buffer_->busy = false;
      if (!c.status.is_ok()) (void)fail(std::move(c.status));
      continue;
    }
    Buffer& b = *buffers_[static_cast<std::size_t>(c.tag)];
    b.busy = false;
    if (!c.status.is_ok()) {
      (void)fail(std::move(c.status));
    } else if (failure_.is_ok()) {
      durable_sequence_ = b.last_sequence + 1;
    }
  }
  return failure_;
}

IoStatus JournalWriter::flush() {
  while (io_.in_flight() > 0) {
    const std::size_t before = io_.in_flight();
    (void)poll(true);
    if (io_.in_flight() == before) break;  // the backend cannot reap: nothing will complete
  }
  return failure_;
}

}  // namespace lockstep::journal
