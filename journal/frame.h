// Records (entry frames and markers): sealing one in place (writer) and decoding one with
// every check of docs/journal-format.md, "Reading a record" (readers, recovery, tools).
//
// The writer serializes entries straight into its journal buffer, behind a reserved
// frame header (append_entry), then seals the frame in place: header, zero padding,
// chain hash, checksum. Nothing is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "journal/chain_hash.h"
#include "journal/format.h"

namespace lockstep::journal {

// The frame size for `payload_bytes` of entries: header, payload, zero padding to
// `alignment` (kFrameAlignBuffered or kFrameAlignDirect), chain hash.
std::size_t frame_bytes_for(std::size_t payload_bytes, std::size_t alignment) noexcept;

// Appends one entry (its length, then its bytes) at `payload_offset` of a frame's
// payload region. Returns the new payload length. REQUIRES: entry.size() <=
// kEntryBytesMax and room in `payload`.
std::size_t append_entry(std::span<std::byte> payload, std::size_t payload_offset,
                         std::span<const std::byte> entry) noexcept;

// What the writer knows about the frame it seals.
struct FrameSeal {
  std::uint32_t payload_bytes = 0;
  std::uint32_t entry_count = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t segment_first_sequence = 0;
  std::uint64_t segment_offset = 0;
  // Every sequence below this is durable, as the writer knows it now. <= first_sequence.
  std::uint64_t durable_through = 0;
  std::size_t alignment = kFrameAlignBuffered;
};

// Seals the frame whose payload the caller already wrote at
// frame[kFrameHeaderBytes, kFrameHeaderBytes + payload_bytes): writes the header (with
// its count of blank sectors and its own checksum), the padding, the chain hash (from `chain`,
// which is updated to the new hash) and the checksum. Returns the frame's size.
// REQUIRES: entry_count >= 1, durable_through <= first_sequence, frame.size() >=
// frame_bytes_for(payload_bytes, alignment).
std::size_t seal_frame(std::span<std::byte> frame, const FrameSeal& seal, ChainHasher& hasher,
                       ChainHash& chain) noexcept;

// Seals a marker (kIdleMarker or kCloseMarker) into `out`: no entries, `first_sequence`
// the sequence the next entry gets, the trailer `chain` (the history so far, unchanged).
// seal.payload_bytes and seal.entry_count must be 0. Returns its size,
// frame_bytes_for(0, alignment).
std::size_t seal_marker(std::span<std::byte> out, RecordKind kind, const FrameSeal& seal,
                        const ChainHash& chain) noexcept;

// XXH3-64 of a frame's bytes except its checksum field. REQUIRES: frame.size() >=
// kFrameHeaderBytes.
std::uint64_t frame_checksum(std::span<const std::byte> frame) noexcept;
// The low 32 bits of XXH3-64 of a record header's bytes [0, kHeaderChecksum).
std::uint32_t record_header_checksum(std::span<const std::byte> header) noexcept;

// The record's sectors (docs/journal-format.md, "Sectors"): its intersections with the
// file's kSectorBytes sectors, for a record at `segment_offset` whose padding is
// [pad_begin, pad_end) (record-relative), leaving out those wholly inside the padding.
// How many of them hold only zeros ("blank"), up to kBlankSectorsUnknown. REQUIRES: the
// bytes are the record's, from its start.
std::uint16_t blank_sectors(std::span<const std::byte> record, std::uint64_t segment_offset,
                            std::size_t pad_begin, std::size_t pad_end) noexcept;

enum class FrameStatus : std::uint8_t {
  kOk,
  kEnd,              // 64 zero bytes where a record header would be: no record starts here
  kBadMagic,         // neither a record nor zeros
  kBadHeader,        // the header's own checksum fails
  kBadLength,        // frame_bytes impossible, misaligned or inconsistent
  kBadHeaderFields,  // unknown kind or flags, entries in a marker, durable_through too high
  kMisplaced,        // a record of another segment or offset (misdirected write)
  kSequenceGap,      // first_sequence is not the next one
  kTruncated,        // the record runs past the bytes available
  kBadChecksum,      // the bytes are not the bytes that were written
  kBadEntries,       // the entries do not fill the payload exactly
  kBadPadding,       // non-zero padding
  kBadChain,         // the hash chain is broken: history was changed
};

std::string_view to_string(FrameStatus status) noexcept;

// What a reader expects at a record's position.
struct FrameExpectation {
  std::uint64_t segment_first_sequence = 0;
  std::uint64_t segment_offset = 0;
  std::uint64_t next_sequence = 0;
  std::size_t alignment = kFrameAlignBuffered;
  ChainHash prev_chain{};
  // False: the stored chain hash is taken as it is, not recomputed (the checksum still
  // covers it). Only for frames this process wrote and made durable itself.
  bool verify_chain = true;
};

struct FrameHeader {
  RecordKind kind = RecordKind::kEntries;
  std::uint8_t flags = 0;
  // How many of the record's sectors were blank (all zeros) when it was written.
  std::uint16_t blank_sectors = 0;
  std::uint32_t frame_bytes = 0;
  std::uint32_t payload_bytes = 0;
  std::uint32_t entry_count = 0;
  std::uint32_t padding_bytes = 0;
  std::uint64_t first_sequence = 0;
  // first_sequence + entry_count - 1 for an entry frame; first_sequence - 1 for a marker
  // (it holds no entry), so last_sequence + 1 is always the next sequence.
  std::uint64_t last_sequence = 0;
  std::uint64_t segment_first_sequence = 0;
  std::uint64_t segment_offset = 0;
  std::uint64_t durable_through = 0;

  bool is_marker() const noexcept { return kind != RecordKind::kEntries; }
  // Every sector held a non-zero byte when it was written.
  bool dense() const noexcept { return blank_sectors == 0; }
};

struct DecodedFrame {
  FrameStatus status = FrameStatus::kEnd;
  FrameHeader header;                  // valid from kBadLength's checks on
  std::span<const std::byte> payload;  // valid when kOk
  ChainHash chain{};                   // the chain hash after the record, when kOk
};

// Decodes the record at the start of `available` (the bytes from the record's offset to
// the end of what was read), running the checks in the documented order and stopping at
// the first failure. A marker decodes kOk with header.is_marker(); its chain is the
// expected previous chain (markers do not advance it).
DecodedFrame decode_frame(std::span<const std::byte> available, const FrameExpectation& expect,
                          ChainHasher& hasher);

// Decodes only a record header (the first kFrameHeaderBytes of `available`): kOk when its
// magic and header checksum hold and its fields are consistent (kEnd, kBadMagic,
// kBadHeader, kBadLength, kBadHeaderFields, kTruncated otherwise). Placement and
// sequence are not checked. For recovery's search for intact records past a bad one.
DecodedFrame decode_record_header(std::span<const std::byte> available, std::size_t alignment);

// Walks the entries of a decoded payload. REQUIRES: the payload decoded kOk (a marker's
// is empty).
class EntryReader {
 public:
  explicit EntryReader(std::span<const std::byte> payload) noexcept : payload_(payload) {}
  // The next entry, or an empty span with done() true at the end.
  std::span<const std::byte> next() noexcept;
  bool done() const noexcept { return offset_ == payload_.size(); }

 private:
  std::span<const std::byte> payload_;
  std::size_t offset_ = 0;
};

}  // namespace lockstep::journal
