// Segment headers and segment file names (docs/journal-format.md, "Files" and
// "Segment header").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "journal/chain_hash.h"
#include "journal/format.h"

namespace lockstep::journal {

using SchemaHash = std::array<std::byte, 32>;

// SHA-256 of `bytes` (the schema hash of a descriptor).
SchemaHash sha256(std::span<const std::byte> bytes);

struct SegmentHeader {
  std::uint32_t flags = 0;  // kFlagChainXxh3, kFlagDirectIo
  std::uint64_t segment_index = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t segment_bytes = 0;
  // How many frames the writer kept in flight: after a crash, that many frames at the end
  // of the journal may have reached the disk in any order (docs/journal-format.md).
  std::uint32_t writes_in_flight = 1;
  // The largest record the writer makes: with writes_in_flight, it bounds how far past
  // the last durable record a crash can leave bytes.
  std::uint32_t frame_bytes_max = 4096;
  ChainHash prev_chain_hash{};
  std::vector<std::byte> descriptor;

  ChainKind chain_kind() const noexcept {
    return (flags & kFlagChainXxh3) != 0 ? ChainKind::kXxh3_128 : ChainKind::kSha256;
  }
  std::size_t frame_alignment() const noexcept {
    return (flags & kFlagDirectIo) != 0 ? kFrameAlignDirect : kFrameAlignBuffered;
  }
};

// Whether `bytes` is a valid frame_bytes_max: a multiple of 4096 in [4096, kFrameBytesMax].
bool frame_bytes_max_is_valid(std::uint64_t bytes) noexcept;

// The size of a header carrying `descriptor_bytes` of descriptor: a multiple of 4096.
std::size_t segment_header_bytes(std::size_t descriptor_bytes) noexcept;

// Writes `header` (computing the schema hash and the checksum) into `out`. Returns the
// header's size. REQUIRES: out.size() >= segment_header_bytes(descriptor size), the
// descriptor no larger than kDescriptorBytesMax, only known flags.
std::size_t encode_segment_header(const SegmentHeader& header, std::span<std::byte> out);

enum class SegmentHeaderStatus : std::uint8_t {
  kOk,
  kTruncated,      // fewer bytes than the header says it has
  kBadMagic,       // not a lockstep journal segment
  kBadVersion,     // a format version this build does not read
  kBadFlags,       // unknown flag bits, or writes_in_flight or frame_bytes_max out of range
  kBadLength,      // header_bytes or descriptor_bytes impossible
  kBadChecksum,    // the header bytes are not the ones written
  kBadSchemaHash,  // the descriptor does not hash to the recorded schema hash
  kBadPadding,     // non-zero reserved or padding bytes
};

std::string_view to_string(SegmentHeaderStatus status) noexcept;

struct DecodedSegmentHeader {
  SegmentHeaderStatus status = SegmentHeaderStatus::kTruncated;
  SegmentHeader header;
  std::size_t header_bytes = 0;      // where the first frame starts, when kOk
  std::uint32_t format_version = 0;  // the version found, from kBadVersion's check on
};

// Decodes the header at the start of `bytes` (a segment file's first bytes).
DecodedSegmentHeader decode_segment_header(std::span<const std::byte> bytes);

// What is wrong with a header that did not decode, for a message: to_string(status), or
// for another format version, "journal format version 1; this build reads version 2 ...".
std::string describe(const DecodedSegmentHeader& decoded);

// "00000000000000000042.lsj" for first sequence 42.
std::string segment_file_name(std::uint64_t first_sequence);
// The first sequence a segment file name stands for, or nothing if it is not one.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) noexcept;

}  // namespace lockstep::journal
