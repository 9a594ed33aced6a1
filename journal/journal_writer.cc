#include "journal/journal_writer.h"

#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>

#include "pipeline/assert.h"

namespace lockstep::journal {
namespace {

constexpr std::size_t kBufferAlignBytes = 4096;  // O_DIRECT needs aligned buffers

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
  const std::uint64_t least = segment_header_bytes(descriptor.size()) + frame_bytes_max;
  if (segment_bytes % kFrameAlignDirect != 0 || segment_bytes < least ||
      segment_bytes > kSegmentBytesMax) {
    refuse("segment_bytes " + std::to_string(segment_bytes) +
           " must be a multiple of 4096, at most " + std::to_string(kSegmentBytesMax) +
           ", with room for the header and one largest frame (" + std::to_string(least) + ")");
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
      chain_(tail.chain),
      segment_index_(tail.segment_index) {
  LS_ASSERT(io_.depth() >= options_.writes_in_flight);
  for (std::size_t i = 0; i < options_.writes_in_flight + 1; ++i) {
    buffers_.push_back(std::make_unique<Buffer>(options_.frame_bytes_max));
  }
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
    (void)check_resumed_segment(name);
  }
}

IoStatus JournalWriter::check_resumed_segment(const std::string& name) {
  // Appending with other options than the segment was written with would write frames
  // its readers cannot read (alignment, chain kind), and lose them at the next recovery.
  AlignedBytes bytes(segment_header_bytes(options_.descriptor.size()));
  std::size_t got = 0;
  if (IoStatus s = io_.read(segment_file_, 0, {bytes.data, bytes.size}, &got); !s) {
    return fail(std::move(s));
  }
  const DecodedSegmentHeader d = decode_segment_header({bytes.data, got});
  if (d.status != SegmentHeaderStatus::kOk || d.header.flags != options_.segment_flags() ||
      d.header.segment_bytes != options_.segment_bytes ||
      d.header.writes_in_flight != options_.writes_in_flight ||
      d.header.descriptor != options_.descriptor) {
    return fail(
        IoStatus::error(EINVAL, "resume (journal options differ from the segment's)", name, 0));
  }
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
  // Wait for the old segment's frames before leaving it: one sync's pause per segment.
  if (IoStatus s = flush(); !s) return s;
  if (have_segment_) {
    if (IoStatus s = io_.close(segment_file_); !s) return fail(std::move(s));
    ++segment_index_;
  }
  have_segment_ = false;
  const std::string name = segment_file_name(next_sequence_);
  FileHandle file = 0;
  if (IoStatus s = io_.open(name, {.create = true, .direct_io = options_.direct_io}, &file); !s) {
    return fail(std::move(s));
  }
  if (IoStatus s = io_.allocate(file, options_.segment_bytes); !s) return fail(std::move(s));
  SegmentHeader header;
  header.flags = options_.segment_flags();
  header.segment_index = segment_index_;
  header.first_sequence = next_sequence_;
  header.segment_bytes = options_.segment_bytes;
  header.writes_in_flight = static_cast<std::uint32_t>(options_.writes_in_flight);
  header.prev_chain_hash = chain_;
  header.descriptor = options_.descriptor;
  AlignedBytes bytes(segment_header_bytes(header.descriptor.size()));
  const std::size_t size = encode_segment_header(header, {bytes.data, bytes.size});
  if (IoStatus s = io_.write_and_sync(file, 0, {bytes.data, size}); !s) return fail(std::move(s));
  if (IoStatus s = io_.sync_directory(); !s) return fail(std::move(s));
  have_segment_ = true;
  segment_file_ = file;
  segment_first_sequence_ = next_sequence_;
  segment_offset_ = size;
  return IoStatus::ok();
}

IoStatus JournalWriter::commit(std::uint32_t payload_bytes, std::uint32_t entry_count) {
  if (!failure_.is_ok()) return failure_;
  LS_ASSERT(current_ != nullptr);
  LS_ASSERT(entry_count >= 1 && payload_bytes <= payload_capacity());
  const std::size_t alignment = options_.direct_io ? kFrameAlignDirect : kFrameAlignBuffered;
  const std::size_t frame_bytes = frame_bytes_for(payload_bytes, alignment);
  if (!have_segment_ || segment_offset_ + frame_bytes > options_.segment_bytes) {
    if (IoStatus s = roll_segment(); !s) return s;
  }
  while (io_.in_flight() >= options_.writes_in_flight) {
    if (IoStatus s = poll(true); !s) return s;
  }
  const FrameSeal seal{payload_bytes,           entry_count,     next_sequence_,
                       segment_first_sequence_, segment_offset_, alignment};
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
  current_ = nullptr;
  return IoStatus::ok();
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
