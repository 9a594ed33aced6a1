// Frames: sealing one in place (writer) and decoding one with every check of
// docs/journal-format.md, "Reading a frame" (readers, recovery, tools).
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
  std::size_t alignment = kFrameAlignBuffered;
};

// Seals the frame whose payload the caller already wrote at
// frame[kFrameHeaderBytes, kFrameHeaderBytes + payload_bytes): writes the header, the
// padding, the chain hash (from `chain`, which is updated to the new hash) and the
// checksum. Returns the frame's size. REQUIRES: entry_count >= 1, frame.size() >=
// frame_bytes_for(payload_bytes, alignment).
std::size_t seal_frame(std::span<std::byte> frame, const FrameSeal& seal, ChainHasher& hasher,
                       ChainHash& chain) noexcept;

// XXH3-64 of a frame's bytes except its checksum field. REQUIRES: frame.size() >=
// kFrameHeaderBytes.
std::uint64_t frame_checksum(std::span<const std::byte> frame) noexcept;

enum class FrameStatus : std::uint8_t {
  kOk,
  kEnd,            // zeros where a frame would start: the end of written data
  kBadMagic,       // neither a frame nor zeros
  kBadLength,      // frame_bytes impossible, misaligned or inconsistent
  kTruncated,      // the frame runs past the bytes available
  kBadChecksum,    // the bytes are not the bytes that were written
  kMisplaced,      // a frame of another segment or offset (misdirected write)
  kSequenceGap,    // first_sequence is not the next one
  kBadEntryCount,  // entry_count disagrees with the sequence range
  kBadEntries,     // the entries do not fill the payload exactly
  kBadPadding,     // non-zero padding or reserved bytes
  kBadChain,       // the hash chain is broken: history was changed
};

std::string_view to_string(FrameStatus status) noexcept;

// What a reader expects at a frame's position.
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
  std::uint32_t frame_bytes = 0;
  std::uint32_t payload_bytes = 0;
  std::uint32_t entry_count = 0;
  std::uint32_t padding_bytes = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::uint64_t segment_first_sequence = 0;
  std::uint64_t segment_offset = 0;
};

struct DecodedFrame {
  FrameStatus status = FrameStatus::kEnd;
  FrameHeader header;                  // valid from kBadLength's checks on
  std::span<const std::byte> payload;  // valid when kOk
  ChainHash chain{};                   // the frame's chain hash, when kOk
};

// Decodes the frame at the start of `available` (the bytes from the frame's offset to the
// end of what was read), running the checks in the documented order and stopping at the
// first failure.
DecodedFrame decode_frame(std::span<const std::byte> available, const FrameExpectation& expect,
                          ChainHasher& hasher);

// Walks the entries of a decoded payload. REQUIRES: the payload decoded kOk.
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
