// The frame codec and its corruption suite: every way a frame can be wrong is decoded to
// its own status, and no corruption ever decodes as a good frame.
#include "journal/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/endian.h"

namespace lockstep::journal {
namespace {

std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> out(text.size());
  if (!text.empty()) std::memcpy(out.data(), text.data(), text.size());
  return out;
}

// A frame built the way the writer builds one: entries appended behind the header,
// then sealed in place.
struct Built {
  std::vector<std::byte> bytes;
  FrameExpectation expect;
  ChainHash chain;
};

Built build(ChainHasher& hasher, const std::vector<std::string>& entries,
            std::uint64_t first_sequence = 100, std::size_t alignment = kFrameAlignBuffered,
            ChainHash prev = {}) {
  std::size_t payload_bytes = 0;
  for (const auto& e : entries) payload_bytes += kEntryLengthBytes + e.size();
  Built b;
  b.bytes.assign(frame_bytes_for(payload_bytes, alignment) + 100, std::byte{0xEE});
  const std::span<std::byte> payload(b.bytes.data() + kFrameHeaderBytes, payload_bytes);
  std::size_t offset = 0;
  for (const auto& e : entries) offset = append_entry(payload, offset, bytes_of(e));
  const FrameSeal seal{.payload_bytes = static_cast<std::uint32_t>(payload_bytes),
                       .entry_count = static_cast<std::uint32_t>(entries.size()),
                       .first_sequence = first_sequence,
                       .segment_first_sequence = 64,
                       .segment_offset = 4096,
                       .durable_through = first_sequence - 3,
                       .alignment = alignment};
  b.chain = prev;
  const std::size_t size = seal_frame(b.bytes, seal, hasher, b.chain);
  b.bytes.resize(size);
  b.expect = FrameExpectation{64, 4096, first_sequence, alignment, prev};
  return b;
}

// Rewrites the checksum after a deliberate change, so a later check is the one to fail.
void reseal_checksum(std::vector<std::byte>& frame) {
  store_le<std::uint64_t>(frame, frame_field::kChecksum, frame_checksum(frame));
}

// Rewrites the header checksum too, after a change to a header field.
void reseal_header(std::vector<std::byte>& frame) {
  store_le<std::uint32_t>(frame, frame_field::kHeaderChecksum, record_header_checksum(frame));
  reseal_checksum(frame);
}

// A marker at `offset` of segment 64, following `chain`.
std::vector<std::byte> marker(RecordKind kind, std::uint64_t next, const ChainHash& chain,
                              std::uint64_t offset = 4096,
                              std::size_t alignment = kFrameAlignBuffered) {
  std::vector<std::byte> out(frame_bytes_for(0, alignment));
  FrameSeal seal;
  seal.first_sequence = next;
  seal.segment_first_sequence = 64;
  seal.segment_offset = offset;
  seal.durable_through = next;
  seal.alignment = alignment;
  EXPECT_EQ(seal_marker(out, kind, seal, chain), out.size());
  return out;
}

class FrameTest : public ::testing::Test {
 protected:
  ChainHasher hasher{ChainKind::kSha256};
  const std::vector<std::string> entries = {"debit 7", "", "credit 7 and a longer entry body"};

  FrameStatus decode(const Built& b) { return decode_frame(b.bytes, b.expect, hasher).status; }

  void expect_every_bit_flip_detected(const Built& good) {
    for (std::size_t bit = 0; bit < good.bytes.size() * 8; ++bit) {
      Built b = good;
      b.bytes[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
      ASSERT_NE(decode(b), FrameStatus::kOk) << "bit " << bit;
    }
  }
};

TEST_F(FrameTest, ASealedFrameDecodesWithItsEntriesAndChain) {
  const Built b = build(hasher, entries);
  const DecodedFrame d = decode_frame(b.bytes, b.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk) << to_string(d.status);
  EXPECT_EQ(d.header.first_sequence, 100u);
  EXPECT_EQ(d.header.last_sequence, 102u);
  EXPECT_EQ(d.header.entry_count, 3u);
  EXPECT_EQ(d.chain, b.chain);
  EntryReader reader(d.payload);
  for (const std::string& e : entries) {
    const auto got = reader.next();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), e);
  }
  EXPECT_TRUE(reader.done());
}

TEST_F(FrameTest, ASealedFrameRecordsTheDurablePointAndItsKind) {
  const Built b = build(hasher, entries);
  const DecodedFrame d = decode_frame(b.bytes, b.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk);
  EXPECT_EQ(d.header.durable_through, 97u);
  EXPECT_EQ(d.header.kind, RecordKind::kEntries);
  EXPECT_FALSE(d.header.is_marker());
}

TEST_F(FrameTest, FramesAreAlignedToSixtyFourBytesOrToTheDirectIoBlock) {
  EXPECT_EQ(frame_bytes_for(0, kFrameAlignBuffered), kFrameBytesMin);
  EXPECT_EQ(frame_bytes_for(32, kFrameAlignBuffered), kFrameBytesMin);
  EXPECT_EQ(frame_bytes_for(33, kFrameAlignBuffered), kFrameBytesMin + 64);
  EXPECT_EQ(frame_bytes_for(1, kFrameAlignDirect), 4096u);
  EXPECT_EQ(frame_bytes_for(4096, kFrameAlignDirect), 8192u);
  const Built direct = build(hasher, entries, 100, kFrameAlignDirect);
  EXPECT_EQ(direct.bytes.size(), 4096u);
  EXPECT_EQ(decode(direct), FrameStatus::kOk);
}

TEST_F(FrameTest, TheChainCarriesFromOneFrameToTheNext) {
  const Built first = build(hasher, entries, 100);
  const Built second = build(hasher, {"next"}, 103, kFrameAlignBuffered, first.chain);
  EXPECT_EQ(decode(second), FrameStatus::kOk);
  FrameExpectation wrong_prev = second.expect;
  wrong_prev.prev_chain = ChainHash{};
  EXPECT_EQ(decode_frame(second.bytes, wrong_prev, hasher).status, FrameStatus::kBadChain);
}

TEST_F(FrameTest, TheXxh3ChainIsADifferentChainThatAlsoVerifies) {
  ChainHasher xxh3(ChainKind::kXxh3_128);
  const Built b = build(xxh3, entries);
  EXPECT_EQ(decode_frame(b.bytes, b.expect, xxh3).status, FrameStatus::kOk);
  EXPECT_NE(b.chain, build(hasher, entries).chain);
  EXPECT_EQ(decode_frame(b.bytes, b.expect, hasher).status, FrameStatus::kBadChain);
}

TEST_F(FrameTest, ZerosWhereAFrameWouldStartAreTheEndOfData) {
  const std::vector<std::byte> zeros(256, std::byte{0});
  EXPECT_EQ(decode_frame(zeros, FrameExpectation{}, hasher).status, FrameStatus::kEnd);
  EXPECT_EQ(decode_frame({}, FrameExpectation{}, hasher).status, FrameStatus::kEnd);
}

TEST_F(FrameTest, AZeroedTailAfterTheMagicIsABadHeader) {
  Built b = build(hasher, entries);
  std::fill(b.bytes.begin() + 4, b.bytes.end(), std::byte{0});
  EXPECT_EQ(decode(b), FrameStatus::kBadHeader);
}

TEST_F(FrameTest, AHeaderFieldChangedWithoutItsHeaderChecksumIsABadHeader) {
  for (std::size_t at = 4; at < frame_field::kHeaderChecksum + 4; ++at) {
    Built b = build(hasher, entries);
    b.bytes[at] ^= std::byte{0x10};
    reseal_checksum(b.bytes);  // only the header's own checksum can tell
    EXPECT_EQ(decode(b), FrameStatus::kBadHeader) << "byte " << at;
  }
}

TEST_F(FrameTest, TheHeaderAloneDecodesWhenTheRestOfTheRecordIsTorn) {
  Built b = build(hasher, entries);
  std::fill(b.bytes.begin() + kFrameHeaderBytes, b.bytes.end(), std::byte{0});
  const DecodedFrame head = decode_record_header(b.bytes, kFrameAlignBuffered);
  ASSERT_EQ(head.status, FrameStatus::kOk);
  EXPECT_EQ(head.header.first_sequence, 100u);
  EXPECT_EQ(head.header.segment_offset, 4096u);
  EXPECT_EQ(decode(b), FrameStatus::kBadChecksum);
}

TEST_F(FrameTest, BytesThatAreNeitherAFrameNorZerosAreBadMagic) {
  Built b = build(hasher, entries);
  b.bytes[1] = std::byte{'X'};
  EXPECT_EQ(decode(b), FrameStatus::kBadMagic);
}

TEST_F(FrameTest, ATruncatedHeaderIsTruncatedAtEveryLength) {
  const Built b = build(hasher, entries);
  for (std::size_t n = 1; n < kFrameHeaderBytes; ++n) {
    const std::span<const std::byte> part(b.bytes.data(), n);
    EXPECT_EQ(decode_frame(part, b.expect, hasher).status, FrameStatus::kTruncated) << n;
  }
}

TEST_F(FrameTest, AFrameTruncatedAtEveryByteOfItsPayloadIsTruncated) {
  const Built b = build(hasher, entries);
  for (std::size_t n = kFrameHeaderBytes; n < b.bytes.size(); ++n) {
    const std::span<const std::byte> part(b.bytes.data(), n);
    EXPECT_EQ(decode_frame(part, b.expect, hasher).status, FrameStatus::kTruncated) << n;
  }
}

TEST_F(FrameTest, ALengthThatCannotBeIsABadLength) {
  for (const std::uint32_t bad : {0u, 64u, 96u, 127u, 129u, 1u << 30}) {
    Built b = build(hasher, entries);
    store_le<std::uint32_t>(b.bytes, frame_field::kFrameBytes, bad);
    reseal_header(b.bytes);
    EXPECT_EQ(decode(b), FrameStatus::kBadLength) << bad;
  }
}

TEST_F(FrameTest, ALengthWithMorePaddingThanTheAlignmentIsABadLength) {
  Built b = build(hasher, entries);
  b.bytes.resize(b.bytes.size() + kFrameAlignBuffered, std::byte{0});
  store_le<std::uint32_t>(b.bytes, frame_field::kFrameBytes,
                          static_cast<std::uint32_t>(b.bytes.size()));
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadLength);
}

TEST_F(FrameTest, APayloadLongerThanTheFrameIsABadLength) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, frame_field::kPayloadBytes,
                          static_cast<std::uint32_t>(b.bytes.size()));
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadLength);
}

TEST_F(FrameTest, ABufferedFrameReadAsDirectIoIsABadLength) {
  Built b = build(hasher, entries);
  b.expect.alignment = kFrameAlignDirect;
  EXPECT_EQ(decode(b), FrameStatus::kBadLength);
}

TEST_F(FrameTest, AChangedPayloadByteFailsTheChecksum) {
  Built b = build(hasher, entries);
  b.bytes[kFrameHeaderBytes + 6] ^= std::byte{0x20};
  EXPECT_EQ(decode(b), FrameStatus::kBadChecksum);
}

TEST_F(FrameTest, ATornChainHashFailsTheChecksum) {
  Built b = build(hasher, entries);
  b.bytes[b.bytes.size() - 1] ^= std::byte{1};
  EXPECT_EQ(decode(b), FrameStatus::kBadChecksum);
}

TEST_F(FrameTest, AFrameOfAnotherSegmentIsMisplaced) {
  Built b = build(hasher, entries);
  b.expect.segment_first_sequence = 65;
  EXPECT_EQ(decode(b), FrameStatus::kMisplaced);
}

TEST_F(FrameTest, AFrameAtAnotherOffsetIsMisplaced) {
  Built b = build(hasher, entries);
  b.expect.segment_offset = 4096 + 192;
  EXPECT_EQ(decode(b), FrameStatus::kMisplaced);
}

TEST_F(FrameTest, AFrameThatSkipsSequencesIsASequenceGap) {
  Built b = build(hasher, entries);
  b.expect.next_sequence = 99;
  EXPECT_EQ(decode(b), FrameStatus::kSequenceGap);
}

TEST_F(FrameTest, ADuplicatedFrameIsASequenceGap) {
  const Built first = build(hasher, entries, 100);
  FrameExpectation after_first = first.expect;
  after_first.next_sequence = 103;  // what the reader expects after reading `first`
  after_first.prev_chain = first.chain;
  EXPECT_EQ(decode_frame(first.bytes, after_first, hasher).status, FrameStatus::kSequenceGap);
}

TEST_F(FrameTest, AnEntryCountThatDisagreesWithTheEntriesIsRefused) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, frame_field::kEntryCount, 4);
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadEntries);
}

TEST_F(FrameTest, AnEntryFrameWithoutEntriesHasBadHeaderFields) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, frame_field::kEntryCount, 0);
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadHeaderFields);
}

TEST_F(FrameTest, AnUnknownKindOrFlagHasBadHeaderFields) {
  for (const auto& [field, value] :
       {std::pair{frame_field::kKind, 0}, std::pair{frame_field::kKind, 4},
        std::pair{frame_field::kFlags, 1}}) {
    Built b = build(hasher, entries);
    store_le<std::uint8_t>(b.bytes, field, static_cast<std::uint8_t>(value));
    reseal_header(b.bytes);
    EXPECT_EQ(decode(b), FrameStatus::kBadHeaderFields) << field << " = " << value;
  }
}

TEST_F(FrameTest, ADurablePointPastTheFirstSequenceHasBadHeaderFields) {
  // A record cannot say an entry it does not precede was durable when it was sealed.
  Built b = build(hasher, entries);
  store_le<std::uint64_t>(b.bytes, frame_field::kDurableThrough, 101);
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadHeaderFields);
}

TEST_F(FrameTest, AFrameMarkedAsAMarkerHasBadHeaderFields) {
  Built b = build(hasher, entries);
  store_le<std::uint8_t>(b.bytes, frame_field::kKind,
                         static_cast<std::uint8_t>(RecordKind::kIdleMarker));
  reseal_header(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadHeaderFields);
}

TEST_F(FrameTest, EntriesThatOverrunThePayloadAreRefused) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, kFrameHeaderBytes, 1000);  // first entry's length
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadEntries);
}

TEST_F(FrameTest, NonZeroPaddingIsRefused) {
  Built b = build(hasher, {"odd"});  // 4 + 3 payload bytes: 25 bytes of padding
  ASSERT_EQ(b.bytes.size(), kFrameBytesMin);
  b.bytes[kFrameHeaderBytes + 7] = std::byte{1};
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadPadding);
}

TEST_F(FrameTest, AChangedEntryWithARecomputedChecksumBreaksTheChain) {
  // Tampering: whoever changes history can recompute XXH3, not the SHA-256 chain.
  Built b = build(hasher, entries);
  b.bytes[kFrameHeaderBytes + 4] = std::byte{'D'};
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadChain);
}

TEST_F(FrameTest, AMarkerDecodesWithoutEntriesAndKeepsTheChain) {
  const Built first = build(hasher, entries, 100);
  for (const RecordKind kind : {RecordKind::kIdleMarker, RecordKind::kCloseMarker}) {
    const std::vector<std::byte> m = marker(kind, 103, first.chain);
    ASSERT_EQ(m.size(), kFrameBytesMin);
    FrameExpectation expect{64, 4096, 103, kFrameAlignBuffered, first.chain};
    const DecodedFrame d = decode_frame(m, expect, hasher);
    ASSERT_EQ(d.status, FrameStatus::kOk) << to_string(d.status);
    EXPECT_TRUE(d.header.is_marker());
    EXPECT_EQ(d.header.kind, kind);
    EXPECT_EQ(d.header.entry_count, 0u);
    EXPECT_EQ(d.header.durable_through, 103u);
    EXPECT_EQ(d.header.last_sequence + 1, 103u);
    EXPECT_TRUE(d.payload.empty());
    EXPECT_EQ(d.chain, first.chain);  // a marker does not advance the chain
  }
}

TEST_F(FrameTest, AMarkerAfterAnotherHistoryHasABadChain) {
  const Built first = build(hasher, entries, 100);
  const std::vector<std::byte> m = marker(RecordKind::kIdleMarker, 103, first.chain);
  FrameExpectation expect{64, 4096, 103, kFrameAlignBuffered, ChainHash{}};
  EXPECT_EQ(decode_frame(m, expect, hasher).status, FrameStatus::kBadChain);
}

TEST_F(FrameTest, AMarkerWithEntriesHasBadHeaderFields) {
  std::vector<std::byte> m = marker(RecordKind::kCloseMarker, 103, build(hasher, entries).chain);
  store_le<std::uint32_t>(m, frame_field::kEntryCount, 1);
  reseal_header(m);
  EXPECT_EQ(decode_frame(m, FrameExpectation{64, 4096, 103}, hasher).status,
            FrameStatus::kBadHeaderFields);
}

TEST_F(FrameTest, EverySingleBitFlipInAMarkerIsDetected) {
  const Built first = build(hasher, entries, 100);
  const std::vector<std::byte> good = marker(RecordKind::kIdleMarker, 103, first.chain);
  const FrameExpectation expect{64, 4096, 103, kFrameAlignBuffered, first.chain};
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::vector<std::byte> m = good;
    m[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    ASSERT_NE(decode_frame(m, expect, hasher).status, FrameStatus::kOk) << "bit " << bit;
  }
}

TEST_F(FrameTest, AFrameWithNoZeroSectorIsDense) {
  const Built b = build(hasher, {std::string(3000, 'x')});
  const DecodedFrame d = decode_frame(b.bytes, b.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk);
  EXPECT_TRUE(d.header.dense());
}

TEST_F(FrameTest, AFrameCountsTheSectorsOfZerosInItsPayload) {
  // The frame is at offset 4096 of its segment, so the file's sectors are its bytes
  // [512, 1024), [1024, 1536), ...; entry byte e is frame byte 68 + e (header, length).
  // Zeros over entry bytes [440, 1040), frame bytes [508, 1108), cover one sector whole.
  std::string entry(3000, 'x');
  std::fill(entry.begin() + 440, entry.begin() + 440 + 600, '\0');
  const Built one = build(hasher, {entry});
  DecodedFrame d = decode_frame(one.bytes, one.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk);
  EXPECT_FALSE(d.header.dense());
  EXPECT_EQ(d.header.blank_sectors, 1u);
  // And over entry bytes [1500, 2600), frame bytes [1568, 2668): [2048, 2560) whole.
  std::fill(entry.begin() + 1500, entry.begin() + 1500 + 1100, '\0');
  const Built two = build(hasher, {entry});
  d = decode_frame(two.bytes, two.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk);
  EXPECT_EQ(d.header.blank_sectors, 2u);
}

TEST_F(FrameTest, SectorsWhollyInsideThePaddingDoNotCount) {
  // A direct-I/O frame: a short payload, then almost 4 KiB of padding.
  const Built b = build(hasher, {"short"}, 100, kFrameAlignDirect);
  const DecodedFrame d = decode_frame(b.bytes, b.expect, hasher);
  ASSERT_EQ(d.status, FrameStatus::kOk);
  EXPECT_TRUE(d.header.dense());
}

TEST_F(FrameTest, SectorsAreCountedAtTheirOffsetInTheFile) {
  std::vector<std::byte> bytes(1024, std::byte{1});
  std::fill(bytes.begin() + 256, bytes.begin() + 768, std::byte{0});
  // At offset 0 the zeros straddle two sectors, each with non-zero bytes; at offset 256
  // they are exactly one sector.
  EXPECT_EQ(blank_sectors(bytes, 0, bytes.size(), bytes.size()), 0u);
  EXPECT_EQ(blank_sectors(bytes, 256, bytes.size(), bytes.size()), 1u);
  // The same zeros inside the padding are not counted.
  EXPECT_EQ(blank_sectors(bytes, 256, 256, 768), 0u);
}

TEST_F(FrameTest, EverySingleBitFlipIsDetected) {
  expect_every_bit_flip_detected(build(hasher, entries, 100, kFrameAlignBuffered));
}

TEST_F(FrameTest, EverySingleBitFlipInADirectIoFrameIsDetected) {
  expect_every_bit_flip_detected(build(hasher, entries, 100, kFrameAlignDirect));
}

TEST_F(FrameTest, RandomMultiByteCorruptionsAreAllDetected) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Built good = build(hasher, entries);
  constexpr int kTrials = 100'000;
  for (int trial = 0; trial < kTrials; ++trial) {
    Built b = good;
    const int changes = 2 + static_cast<int>(rng() % 8);
    for (int c = 0; c < changes; ++c) {
      b.bytes[rng() % b.bytes.size()] = static_cast<std::byte>(rng());
    }
    if (b.bytes == good.bytes) continue;  // the changes happened to restore every byte
    ASSERT_NE(decode(b), FrameStatus::kOk) << "trial " << trial;
  }
}

}  // namespace
}  // namespace lockstep::journal
