#include "journal/frame.h"

// Static-linking-only API: XXH3_state_t on the stack, no allocation per frame.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "journal/endian.h"
#include "pipeline/assert.h"

namespace lockstep::journal {
namespace {

namespace f = frame_field;

std::size_t round_up(std::size_t n, std::size_t alignment) noexcept {
  return (n + alignment - 1) / alignment * alignment;
}

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

FrameHeader read_header(std::span<const std::byte> h) noexcept {
  FrameHeader header;
  header.frame_bytes = load_le<std::uint32_t>(h, f::kFrameBytes);
  header.payload_bytes = load_le<std::uint32_t>(h, f::kPayloadBytes);
  header.entry_count = load_le<std::uint32_t>(h, f::kEntryCount);
  header.padding_bytes = load_le<std::uint32_t>(h, f::kPaddingBytes);
  header.first_sequence = load_le<std::uint64_t>(h, f::kFirstSequence);
  header.last_sequence = load_le<std::uint64_t>(h, f::kLastSequence);
  header.segment_first_sequence = load_le<std::uint64_t>(h, f::kSegmentFirstSequence);
  header.segment_offset = load_le<std::uint64_t>(h, f::kSegmentOffset);
  return header;
}

bool length_is_consistent(const FrameHeader& h, std::size_t alignment) noexcept {
  const std::uint64_t parts =
      std::uint64_t{kFrameHeaderBytes} + h.payload_bytes + h.padding_bytes + kChainHashBytes;
  return h.frame_bytes >= kFrameBytesMin && h.frame_bytes <= kFrameBytesMax &&
         h.frame_bytes % alignment == 0 && parts == h.frame_bytes;
}

// The entries fill the payload exactly, each within the size limit, entry_count of them.
bool entries_fill(std::span<const std::byte> payload, std::uint32_t entry_count) noexcept {
  std::size_t offset = 0;
  for (std::uint32_t i = 0; i < entry_count; ++i) {
    if (payload.size() - offset < kEntryLengthBytes) return false;
    const auto length = load_le<std::uint32_t>(payload, offset);
    offset += kEntryLengthBytes;
    if (length > kEntryBytesMax || payload.size() - offset < length) return false;
    offset += length;
  }
  return offset == payload.size();
}

}  // namespace

std::size_t frame_bytes_for(std::size_t payload_bytes, std::size_t alignment) noexcept {
  LS_DASSERT(alignment == kFrameAlignBuffered || alignment == kFrameAlignDirect);
  return round_up(kFrameHeaderBytes + payload_bytes + kChainHashBytes, alignment);
}

std::size_t append_entry(std::span<std::byte> payload, std::size_t payload_offset,
                         std::span<const std::byte> entry) noexcept {
  LS_ASSERT(entry.size() <= kEntryBytesMax);
  LS_ASSERT(payload.size() >= payload_offset + kEntryLengthBytes + entry.size());
  store_le<std::uint32_t>(payload, payload_offset, static_cast<std::uint32_t>(entry.size()));
  if (!entry.empty()) {
    std::memcpy(payload.data() + payload_offset + kEntryLengthBytes, entry.data(), entry.size());
  }
  return payload_offset + kEntryLengthBytes + entry.size();
}

std::uint64_t frame_checksum(std::span<const std::byte> frame) noexcept {
  LS_DASSERT(frame.size() >= kFrameHeaderBytes);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, frame.data(), f::kChecksum);
  XXH3_64bits_update(&state, frame.data() + kFrameHeaderBytes, frame.size() - kFrameHeaderBytes);
  return XXH3_64bits_digest(&state);
}

std::size_t seal_frame(std::span<std::byte> frame, const FrameSeal& seal, ChainHasher& hasher,
                       ChainHash& chain) noexcept {
  LS_ASSERT(seal.entry_count >= 1);
  const std::size_t frame_bytes = frame_bytes_for(seal.payload_bytes, seal.alignment);
  LS_ASSERT(frame.size() >= frame_bytes && frame_bytes <= kFrameBytesMax);
  const std::size_t padding =
      frame_bytes - kFrameHeaderBytes - seal.payload_bytes - kChainHashBytes;
  const std::span<std::byte> out = frame.first(frame_bytes);
  LS_DASSERT(entries_fill(out.subspan(kFrameHeaderBytes, seal.payload_bytes), seal.entry_count));

  std::memcpy(out.data() + f::kMagic, kFrameMagic.data(), kFrameMagic.size());
  store_le<std::uint32_t>(out, f::kFrameBytes, static_cast<std::uint32_t>(frame_bytes));
  store_le<std::uint32_t>(out, f::kPayloadBytes, seal.payload_bytes);
  store_le<std::uint32_t>(out, f::kEntryCount, seal.entry_count);
  store_le<std::uint64_t>(out, f::kFirstSequence, seal.first_sequence);
  store_le<std::uint64_t>(out, f::kLastSequence, seal.first_sequence + seal.entry_count - 1);
  store_le<std::uint64_t>(out, f::kSegmentFirstSequence, seal.segment_first_sequence);
  store_le<std::uint64_t>(out, f::kSegmentOffset, seal.segment_offset);
  store_le<std::uint32_t>(out, f::kPaddingBytes, static_cast<std::uint32_t>(padding));
  store_le<std::uint32_t>(out, f::kReserved, 0);
  std::memset(out.data() + kFrameHeaderBytes + seal.payload_bytes, 0, padding);

  const std::size_t body_end = frame_bytes - kChainHashBytes;
  chain = hasher.next(chain, out.first(f::kChecksum),
                      out.subspan(kFrameHeaderBytes, body_end - kFrameHeaderBytes));
  std::memcpy(out.data() + body_end, chain.data(), kChainHashBytes);
  store_le<std::uint64_t>(out, f::kChecksum, frame_checksum(out));
  return frame_bytes;
}

std::string_view to_string(FrameStatus status) noexcept {
  switch (status) {
    case FrameStatus::kOk: return "ok";
    case FrameStatus::kEnd: return "end of data";
    case FrameStatus::kBadMagic: return "bad magic";
    case FrameStatus::kBadLength: return "bad length";
    case FrameStatus::kTruncated: return "truncated frame";
    case FrameStatus::kBadChecksum: return "bad checksum";
    case FrameStatus::kMisplaced: return "frame of another segment or offset";
    case FrameStatus::kSequenceGap: return "sequence gap";
    case FrameStatus::kBadEntryCount: return "bad entry count";
    case FrameStatus::kBadEntries: return "entries do not fill the payload";
    case FrameStatus::kBadPadding: return "non-zero padding";
    case FrameStatus::kBadChain: return "broken hash chain";
  }
  return "?";
}

DecodedFrame decode_frame(std::span<const std::byte> available, const FrameExpectation& expect,
                          ChainHasher& hasher) {
  DecodedFrame d;
  const std::span<const std::byte> magic =
      available.first(std::min(available.size(), kFrameMagic.size()));
  if (all_zero(magic)) {
    d.status = magic.size() == kFrameMagic.size() || available.empty() ? FrameStatus::kEnd
                                                                       : FrameStatus::kTruncated;
    return d;
  }
  if (magic.size() < kFrameMagic.size()) {
    d.status = FrameStatus::kTruncated;
    return d;
  }
  if (std::memcmp(magic.data(), kFrameMagic.data(), kFrameMagic.size()) != 0) {
    d.status = FrameStatus::kBadMagic;
    return d;
  }
  if (available.size() < kFrameHeaderBytes) {
    d.status = FrameStatus::kTruncated;
    return d;
  }
  d.header = read_header(available);
  const FrameHeader& h = d.header;
  if (!length_is_consistent(h, expect.alignment)) {
    d.status = FrameStatus::kBadLength;
    return d;
  }
  if (available.size() < h.frame_bytes) {
    d.status = FrameStatus::kTruncated;
    return d;
  }
  const std::span<const std::byte> frame = available.first(h.frame_bytes);
  if (load_le<std::uint64_t>(frame, f::kChecksum) != frame_checksum(frame)) {
    d.status = FrameStatus::kBadChecksum;
    return d;
  }
  if (h.segment_first_sequence != expect.segment_first_sequence ||
      h.segment_offset != expect.segment_offset) {
    d.status = FrameStatus::kMisplaced;
    return d;
  }
  if (h.first_sequence != expect.next_sequence) {
    d.status = FrameStatus::kSequenceGap;
    return d;
  }
  if (h.entry_count == 0 || h.last_sequence < h.first_sequence ||
      h.last_sequence - h.first_sequence + 1 != h.entry_count) {
    d.status = FrameStatus::kBadEntryCount;
    return d;
  }
  const std::span<const std::byte> payload = frame.subspan(kFrameHeaderBytes, h.payload_bytes);
  if (!entries_fill(payload, h.entry_count)) {
    d.status = FrameStatus::kBadEntries;
    return d;
  }
  const std::size_t body_end = h.frame_bytes - kChainHashBytes;
  if (load_le<std::uint32_t>(frame, f::kReserved) != 0 ||
      !all_zero(frame.subspan(kFrameHeaderBytes + h.payload_bytes, h.padding_bytes))) {
    d.status = FrameStatus::kBadPadding;
    return d;
  }
  ChainHash chain;
  if (expect.verify_chain) {
    chain = hasher.next(expect.prev_chain, frame.first(f::kChecksum),
                        frame.subspan(kFrameHeaderBytes, body_end - kFrameHeaderBytes));
  } else {
    std::memcpy(chain.data(), frame.data() + body_end, kChainHashBytes);
  }
  if (std::memcmp(chain.data(), frame.data() + body_end, kChainHashBytes) != 0) {
    d.status = FrameStatus::kBadChain;
    return d;
  }
  d.status = FrameStatus::kOk;
  d.payload = payload;
  d.chain = chain;
  return d;
}

std::span<const std::byte> EntryReader::next() noexcept {
  if (done()) return {};
  LS_ASSERT(payload_.size() - offset_ >= kEntryLengthBytes);
  const auto length = load_le<std::uint32_t>(payload_, offset_);
  offset_ += kEntryLengthBytes;
  LS_ASSERT(payload_.size() - offset_ >= length);
  const std::span<const std::byte> entry = payload_.subspan(offset_, length);
  offset_ += length;
  return entry;
}

}  // namespace lockstep::journal
