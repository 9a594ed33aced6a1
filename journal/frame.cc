#include "journal/frame.h"

// Static-linking-only API: XXH3_state_t on the stack, no allocation per frame.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/endian.h"

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
  header.first_sequence = load_le<std::uint64_t>(h, f::kFirstSequence);
  header.last_sequence = header.first_sequence + header.entry_count - 1;  // a marker: first - 1
  header.segment_first_sequence = load_le<std::uint64_t>(h, f::kSegmentFirstSequence);
  header.segment_offset = load_le<std::uint64_t>(h, f::kSegmentOffset);
  header.durable_through = load_le<std::uint64_t>(h, f::kDurableThrough);
  header.kind = static_cast<RecordKind>(load_le<std::uint8_t>(h, f::kKind));
  header.flags = load_le<std::uint8_t>(h, f::kFlags);
  header.blank_sectors = load_le<std::uint16_t>(h, f::kBlankSectors);
  return header;
}

bool length_is_consistent(FrameHeader& h, std::size_t alignment) noexcept {
  const std::uint64_t least = std::uint64_t{kFrameHeaderBytes} + h.payload_bytes + kChainHashBytes;
  if (h.frame_bytes < kFrameBytesMin || h.frame_bytes > kFrameBytesMax ||
      h.frame_bytes % alignment != 0 || h.frame_bytes < least) {
    return false;
  }
  h.padding_bytes = static_cast<std::uint32_t>(h.frame_bytes - least);
  // Padding only to the alignment: a record is the shortest that holds its payload.
  return h.padding_bytes < alignment;
}

bool fields_are_consistent(const FrameHeader& h) noexcept {
  const bool known_kind = h.kind == RecordKind::kEntries || h.kind == RecordKind::kIdleMarker ||
                          h.kind == RecordKind::kCloseMarker;
  if (!known_kind || (h.flags & ~kRecordFlagsKnown) != 0) return false;
  if (h.durable_through > h.first_sequence) return false;
  if (h.is_marker()) return h.entry_count == 0 && h.payload_bytes == 0;
  // An entry frame: at least one entry, and its last sequence representable.
  return h.entry_count >= 1 && h.first_sequence + (h.entry_count - 1) >= h.first_sequence;
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

// Writes a record's header fields (everything but the checksum), and its header checksum.
void store_header(std::span<std::byte> out, std::uint32_t frame_bytes, RecordKind kind,
                  std::uint16_t blank, const FrameSeal& seal) noexcept {
  std::memcpy(out.data() + f::kMagic, kFrameMagic.data(), kFrameMagic.size());
  store_le<std::uint32_t>(out, f::kFrameBytes, frame_bytes);
  store_le<std::uint32_t>(out, f::kPayloadBytes, seal.payload_bytes);
  store_le<std::uint32_t>(out, f::kEntryCount, seal.entry_count);
  store_le<std::uint64_t>(out, f::kFirstSequence, seal.first_sequence);
  store_le<std::uint64_t>(out, f::kSegmentFirstSequence, seal.segment_first_sequence);
  store_le<std::uint64_t>(out, f::kSegmentOffset, seal.segment_offset);
  store_le<std::uint64_t>(out, f::kDurableThrough, seal.durable_through);
  store_le<std::uint8_t>(out, f::kKind, static_cast<std::uint8_t>(kind));
  store_le<std::uint8_t>(out, f::kFlags, 0);
  store_le<std::uint16_t>(out, f::kBlankSectors, blank);
  store_le<std::uint32_t>(out, f::kHeaderChecksum, record_header_checksum(out));
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

std::uint32_t record_header_checksum(std::span<const std::byte> header) noexcept {
  LS_DASSERT(header.size() >= f::kHeaderChecksum);
  return static_cast<std::uint32_t>(XXH3_64bits(header.data(), f::kHeaderChecksum));
}

std::uint16_t blank_sectors(std::span<const std::byte> record, std::uint64_t segment_offset,
                            std::size_t pad_begin, std::size_t pad_end) noexcept {
  LS_DASSERT(pad_begin <= pad_end && pad_end <= record.size());
  std::uint32_t blank = 0;
  std::size_t begin = 0;
  while (begin < record.size() && blank < kBlankSectorsUnknown) {
    // This sector's part of the record: [begin, end).
    const std::uint64_t absolute = segment_offset + begin;
    const std::size_t end = std::min<std::size_t>(
        record.size(), begin + (kSectorBytes - static_cast<std::size_t>(absolute % kSectorBytes)));
    const bool inside_padding = begin >= pad_begin && end <= pad_end;
    if (!inside_padding && all_zero(record.subspan(begin, end - begin))) ++blank;
    begin = end;
  }
  return static_cast<std::uint16_t>(blank);
}

std::size_t seal_frame(std::span<std::byte> frame, const FrameSeal& seal, ChainHasher& hasher,
                       ChainHash& chain) noexcept {
  LS_ASSERT(seal.entry_count >= 1);
  LS_ASSERT(seal.durable_through <= seal.first_sequence);
  const std::size_t frame_bytes = frame_bytes_for(seal.payload_bytes, seal.alignment);
  LS_ASSERT(frame.size() >= frame_bytes && frame_bytes <= kFrameBytesMax);
  const std::size_t pad_begin = kFrameHeaderBytes + seal.payload_bytes;
  const std::size_t body_end = frame_bytes - kChainHashBytes;
  const std::span<std::byte> out = frame.first(frame_bytes);
  LS_DASSERT(entries_fill(out.subspan(kFrameHeaderBytes, seal.payload_bytes), seal.entry_count));
  std::memset(out.data() + pad_begin, 0, body_end - pad_begin);

  // The blank sectors are counted on the record as it will be: its header is non-zero
  // (the magic) whatever its other fields, and the chain hash that ends it is non-zero
  // but for a 2^-256 chance, so 0xff bytes stand in for it while counting. The count goes
  // into the header, which the chain hash covers.
  std::memcpy(out.data() + f::kMagic, kFrameMagic.data(), kFrameMagic.size());
  std::memset(out.data() + body_end, 0xff, kChainHashBytes);
  const std::uint16_t blank = blank_sectors(out, seal.segment_offset, pad_begin, body_end);
  store_header(out, static_cast<std::uint32_t>(frame_bytes), RecordKind::kEntries, blank, seal);
  chain = hasher.next(chain, out.first(f::kChecksum),
                      out.subspan(kFrameHeaderBytes, body_end - kFrameHeaderBytes));
  std::memcpy(out.data() + body_end, chain.data(), kChainHashBytes);
  store_le<std::uint64_t>(out, f::kChecksum, frame_checksum(out));
  LS_DASSERT(blank == kBlankSectorsUnknown ||
             blank_sectors(out, seal.segment_offset, pad_begin, body_end) == blank);
  return frame_bytes;
}

std::size_t seal_marker(std::span<std::byte> out, RecordKind kind, const FrameSeal& seal,
                        const ChainHash& chain) noexcept {
  LS_ASSERT(kind == RecordKind::kIdleMarker || kind == RecordKind::kCloseMarker);
  LS_ASSERT(seal.payload_bytes == 0 && seal.entry_count == 0);
  LS_ASSERT(seal.durable_through <= seal.first_sequence);
  const std::size_t bytes = frame_bytes_for(0, seal.alignment);
  LS_ASSERT(out.size() >= bytes);
  const std::span<std::byte> m = out.first(bytes);
  std::memset(m.data(), 0, bytes);
  const std::size_t body_end = bytes - kChainHashBytes;
  std::memcpy(m.data() + body_end, chain.data(), kChainHashBytes);
  // A blank sector only where the trailer's is, and the chain is zeros (a marker before
  // any frame of a journal).
  std::memcpy(m.data() + f::kMagic, kFrameMagic.data(), kFrameMagic.size());
  const std::uint16_t blank = blank_sectors(m, seal.segment_offset, kFrameHeaderBytes, body_end);
  store_header(m, static_cast<std::uint32_t>(bytes), kind, blank, seal);
  store_le<std::uint64_t>(m, f::kChecksum, frame_checksum(m));
  return bytes;
}

std::string_view to_string(FrameStatus status) noexcept {
  switch (status) {
    case FrameStatus::kOk: return "ok";
    case FrameStatus::kEnd: return "end of data";
    case FrameStatus::kBadMagic: return "bad magic";
    case FrameStatus::kBadHeader: return "bad record header checksum";
    case FrameStatus::kBadLength: return "bad length";
    case FrameStatus::kBadHeaderFields: return "inconsistent record header fields";
    case FrameStatus::kMisplaced: return "record of another segment or offset";
    case FrameStatus::kSequenceGap: return "sequence gap";
    case FrameStatus::kTruncated: return "truncated record";
    case FrameStatus::kBadChecksum: return "bad checksum";
    case FrameStatus::kBadEntries: return "entries do not fill the payload";
    case FrameStatus::kBadPadding: return "non-zero padding";
    case FrameStatus::kBadChain: return "broken hash chain";
  }
  return "?";
}

DecodedFrame decode_record_header(std::span<const std::byte> available, std::size_t alignment) {
  DecodedFrame d;
  const std::span<const std::byte> head =
      available.first(std::min(available.size(), kFrameHeaderBytes));
  if (all_zero(head)) {  // (also fewer than 64 zero bytes at the end of what was read)
    d.status = FrameStatus::kEnd;
    return d;
  }
  if (std::memcmp(head.data(), kFrameMagic.data(), std::min(head.size(), kFrameMagic.size())) !=
      0) {
    d.status = FrameStatus::kBadMagic;
    return d;
  }
  if (head.size() < kFrameHeaderBytes) {
    d.status = FrameStatus::kTruncated;
    return d;
  }
  if (load_le<std::uint32_t>(head, f::kHeaderChecksum) != record_header_checksum(head)) {
    d.status = FrameStatus::kBadHeader;
    return d;
  }
  d.header = read_header(head);
  if (!length_is_consistent(d.header, alignment)) {
    d.status = FrameStatus::kBadLength;
    return d;
  }
  if (!fields_are_consistent(d.header)) {
    d.status = FrameStatus::kBadHeaderFields;
    return d;
  }
  d.status = FrameStatus::kOk;
  return d;
}

DecodedFrame decode_frame(std::span<const std::byte> available, const FrameExpectation& expect,
                          ChainHasher& hasher) {
  DecodedFrame d = decode_record_header(available, expect.alignment);
  if (d.status != FrameStatus::kOk) return d;
  const FrameHeader& h = d.header;
  if (h.segment_first_sequence != expect.segment_first_sequence ||
      h.segment_offset != expect.segment_offset) {
    d.status = FrameStatus::kMisplaced;
    return d;
  }
  if (h.first_sequence != expect.next_sequence) {
    d.status = FrameStatus::kSequenceGap;
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
  const std::span<const std::byte> payload = frame.subspan(kFrameHeaderBytes, h.payload_bytes);
  if (!entries_fill(payload, h.entry_count)) {
    d.status = FrameStatus::kBadEntries;
    return d;
  }
  const std::size_t body_end = h.frame_bytes - kChainHashBytes;
  if (!all_zero(frame.subspan(kFrameHeaderBytes + h.payload_bytes, h.padding_bytes))) {
    d.status = FrameStatus::kBadPadding;
    return d;
  }
  ChainHash chain;
  if (h.is_marker()) {
    chain = expect.prev_chain;  // a marker repeats the chain so far
  } else if (expect.verify_chain) {
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
