// The journal's on-disk format: every size and offset of docs/journal-format.md, in one
// header included by the writer and every reader. The static_asserts tie the numbers
// together; change the format here and in that document in the same commit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lockstep::journal {

inline constexpr std::uint32_t kFormatVersion = 2;

// ---- Segment header -----------------------------------------------------------------
inline constexpr std::array<std::byte, 8> kSegmentMagic = {
    std::byte{'L'}, std::byte{'S'}, std::byte{'T'}, std::byte{'X'},
    std::byte{'L'}, std::byte{'O'}, std::byte{'G'}, std::byte{0}};

inline constexpr std::size_t kSegmentHeaderFixedBytes = 128;
// A segment is made under its name with this appended, and renamed once its header is
// durable (JournalWriter::roll_segment). Such a file holds no record; readers ignore it.
inline constexpr std::string_view kSegmentTemporarySuffix = ".tmp";
inline constexpr std::size_t kSegmentHeaderAlignBytes = 4096;

// Field offsets within the fixed part of the segment header.
namespace segment_field {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kFormatVersion = 8;
inline constexpr std::size_t kHeaderBytes = 12;
inline constexpr std::size_t kFlags = 16;
inline constexpr std::size_t kDescriptorBytes = 20;
inline constexpr std::size_t kSegmentIndex = 24;
inline constexpr std::size_t kFirstSequence = 32;
inline constexpr std::size_t kSegmentBytes = 40;
inline constexpr std::size_t kPrevChainHash = 48;
inline constexpr std::size_t kSchemaHash = 80;
inline constexpr std::size_t kWritesInFlight = 112;
inline constexpr std::size_t kFrameBytesMax = 116;
inline constexpr std::size_t kHeaderChecksum = 120;
}  // namespace segment_field

// Segment header flags.
inline constexpr std::uint32_t kFlagChainXxh3 = 1u << 0;  // chain hash is XXH3-128
inline constexpr std::uint32_t kFlagDirectIo = 1u << 1;   // frames are 4096-aligned
inline constexpr std::uint32_t kFlagsKnown = kFlagChainXxh3 | kFlagDirectIo;

// ---- Frames -------------------------------------------------------------------------
inline constexpr std::array<std::byte, 4> kFrameMagic = {std::byte{'L'}, std::byte{'S'},
                                                         std::byte{'F'}, std::byte{'R'}};

inline constexpr std::size_t kFrameHeaderBytes = 64;
inline constexpr std::size_t kChainHashBytes = 32;
inline constexpr std::size_t kEntryLengthBytes = 4;

// Field offsets within a record header (an entry frame's or a marker's).
namespace frame_field {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kFrameBytes = 4;
inline constexpr std::size_t kPayloadBytes = 8;
inline constexpr std::size_t kEntryCount = 12;
inline constexpr std::size_t kFirstSequence = 16;
inline constexpr std::size_t kSegmentFirstSequence = 24;
inline constexpr std::size_t kSegmentOffset = 32;
inline constexpr std::size_t kDurableThrough = 40;
inline constexpr std::size_t kKind = 48;
inline constexpr std::size_t kFlags = 49;
inline constexpr std::size_t kBlankSectors = 50;
inline constexpr std::size_t kHeaderChecksum = 52;
inline constexpr std::size_t kChecksum = 56;
}  // namespace frame_field

// Record kinds. Markers carry no entries and do not advance the hash chain.
enum class RecordKind : std::uint8_t {
  kEntries = 1,      // an entry frame: one group-committed batch
  kIdleMarker = 2,   // the journal went idle: everything before it is durable
  kCloseMarker = 3,  // a clean stop
};
// Record flags: none defined yet (a reader refuses unknown bits).
inline constexpr std::uint8_t kRecordFlagsKnown = 0;

// The unit a crash keeps or loses whole (docs/journal-format.md, "the fault model"): a
// record's blank_sectors and recovery's sector rule count in these, at absolute file
// offsets.
inline constexpr std::size_t kSectorBytes = 512;
// blank_sectors saturates here: a record with this many or more is not judged by them.
inline constexpr std::uint16_t kBlankSectorsUnknown = 0xFFFF;

// Record alignment: buffered segments align records to 64 bytes (so a record header never
// straddles two sectors), direct-I/O segments to the 4096-byte block O_DIRECT requires.
inline constexpr std::size_t kFrameAlignBuffered = 64;
inline constexpr std::size_t kFrameAlignDirect = 4096;

// The smallest record: a header, no payload, the chain hash, padded to the alignment
// (a marker in a buffered segment).
inline constexpr std::size_t kFrameBytesMin = 128;
inline constexpr std::size_t kFrameBytesMax = std::size_t{64} << 20;
inline constexpr std::size_t kEntryBytesMax = std::size_t{16} << 20;
inline constexpr std::size_t kDescriptorBytesMax = std::size_t{1} << 20;
// The most records (frames and markers) a writer keeps in flight; recorded in every
// segment header.
inline constexpr std::uint32_t kWritesInFlightMax = 64;
// The largest segment: recovery reads a segment into memory and refuses a larger file.
inline constexpr std::uint64_t kSegmentBytesMax = std::uint64_t{4} << 30;

// ---- The relations the document states ----------------------------------------------
static_assert(segment_field::kHeaderChecksum + 8 == kSegmentHeaderFixedBytes);
static_assert(segment_field::kPrevChainHash + kChainHashBytes == segment_field::kSchemaHash);
static_assert(segment_field::kSchemaHash + 32 == segment_field::kWritesInFlight);
static_assert(segment_field::kWritesInFlight + 4 == segment_field::kFrameBytesMax);
static_assert(segment_field::kFrameBytesMax + 4 == segment_field::kHeaderChecksum);
static_assert(kSegmentHeaderFixedBytes <= kSegmentHeaderAlignBytes);
static_assert(frame_field::kChecksum + 8 == kFrameHeaderBytes);
static_assert(frame_field::kHeaderChecksum + 4 == frame_field::kChecksum);
static_assert(frame_field::kKind + 1 == frame_field::kFlags);
static_assert(frame_field::kFlags + 1 == frame_field::kBlankSectors);
static_assert(frame_field::kBlankSectors + 2 == frame_field::kHeaderChecksum);
static_assert(kFrameBytesMin == kFrameAlignBuffered * 2 &&
                  kFrameBytesMin >= kFrameHeaderBytes + kChainHashBytes,
              "a marker: header and chain hash, padded to the buffered alignment");
static_assert(kSectorBytes % kFrameAlignBuffered == 0 && kFrameAlignDirect % kSectorBytes == 0,
              "a record header (64 bytes, 64-aligned) lies within one sector");
static_assert(kFrameHeaderBytes == kFrameAlignBuffered);
static_assert(kFrameHeaderBytes % kFrameAlignBuffered == 0);
static_assert(kChainHashBytes % 8 == 0 && kFrameAlignBuffered % kChainHashBytes == 0,
              "the chain hash ends a 64-aligned record and never straddles a sector");
static_assert(kFrameBytesMin % kFrameAlignBuffered == 0);
static_assert(kFrameBytesMax <= UINT32_MAX, "frame_bytes_max is a 32-bit header field");
static_assert(kFrameAlignDirect % kFrameAlignBuffered == 0);
static_assert(kSegmentHeaderAlignBytes % kFrameAlignDirect == 0,
              "the first frame of a direct-I/O segment starts aligned");
static_assert(kFrameBytesMax % kFrameAlignDirect == 0);
static_assert(kEntryBytesMax + kEntryLengthBytes + kFrameBytesMin <= kFrameBytesMax,
              "the largest entry fits in the largest frame");
static_assert(kFrameBytesMax <= UINT32_MAX, "frame_bytes is a 32-bit field");
static_assert(kDescriptorBytesMax <= UINT32_MAX, "descriptor_bytes is a 32-bit field");

}  // namespace lockstep::journal
