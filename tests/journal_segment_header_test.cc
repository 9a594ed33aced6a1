#include "journal/segment_header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <xxhash.h>

#include "base/endian.h"

namespace lockstep::journal {
namespace {

SegmentHeader sample(std::size_t descriptor_bytes = 300) {
  SegmentHeader h;
  h.flags = kFlagDirectIo;
  h.segment_index = 3;
  h.first_sequence = 1'048'576;
  h.segment_bytes = 64 << 20;
  h.writes_in_flight = 3;
  for (std::size_t i = 0; i < h.prev_chain_hash.size(); ++i) {
    h.prev_chain_hash[i] = static_cast<std::byte>(i * 7);
  }
  for (std::size_t i = 0; i < descriptor_bytes; ++i) {
    h.descriptor.push_back(static_cast<std::byte>(i % 251));
  }
  return h;
}

std::vector<std::byte> encode(const SegmentHeader& h) {
  std::vector<std::byte> out(segment_header_bytes(h.descriptor.size()));
  EXPECT_EQ(encode_segment_header(h, out), out.size());
  return out;
}

TEST(SegmentHeader, RoundTripsEveryField) {
  const SegmentHeader h = sample();
  const std::vector<std::byte> bytes = encode(h);
  EXPECT_EQ(bytes.size(), 4096u);
  const DecodedSegmentHeader d = decode_segment_header(bytes);
  ASSERT_EQ(d.status, SegmentHeaderStatus::kOk) << to_string(d.status);
  EXPECT_EQ(d.header_bytes, 4096u);
  EXPECT_EQ(d.header.flags, h.flags);
  EXPECT_EQ(d.header.segment_index, h.segment_index);
  EXPECT_EQ(d.header.first_sequence, h.first_sequence);
  EXPECT_EQ(d.header.segment_bytes, h.segment_bytes);
  EXPECT_EQ(d.header.writes_in_flight, 3u);
  EXPECT_EQ(d.header.prev_chain_hash, h.prev_chain_hash);
  EXPECT_EQ(d.header.descriptor, h.descriptor);
  EXPECT_EQ(d.header.frame_alignment(), kFrameAlignDirect);
  EXPECT_EQ(d.header.chain_kind(), ChainKind::kSha256);
}

TEST(SegmentHeader, RecordsTheSha256OfTheDescriptor) {
  const SegmentHeader h = sample();
  const std::vector<std::byte> bytes = encode(h);
  const SchemaHash expected = sha256(h.descriptor);
  EXPECT_EQ(std::memcmp(bytes.data() + segment_field::kSchemaHash, expected.data(), 32), 0);
}

TEST(SegmentHeader, GrowsInWholeBlocksWithItsDescriptor) {
  EXPECT_EQ(segment_header_bytes(0), 4096u);
  EXPECT_EQ(segment_header_bytes(4096 - kSegmentHeaderFixedBytes), 4096u);
  EXPECT_EQ(segment_header_bytes(4096 - kSegmentHeaderFixedBytes + 1), 8192u);
  const SegmentHeader big = sample(10'000);
  const DecodedSegmentHeader d = decode_segment_header(encode(big));
  ASSERT_EQ(d.status, SegmentHeaderStatus::kOk);
  EXPECT_EQ(d.header_bytes, 12288u);
  EXPECT_EQ(d.header.descriptor, big.descriptor);
}

TEST(SegmentHeader, ATruncatedHeaderIsTruncatedAtEveryLength) {
  const std::vector<std::byte> bytes = encode(sample());
  for (std::size_t n = 0; n < bytes.size(); n += (n < 256 ? 1 : 97)) {
    EXPECT_EQ(decode_segment_header(std::span(bytes.data(), n)).status,
              SegmentHeaderStatus::kTruncated)
        << n;
  }
}

TEST(SegmentHeader, AnotherFileIsNotASegment) {
  std::vector<std::byte> bytes = encode(sample());
  bytes[0] = std::byte{'X'};
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadMagic);
}

TEST(SegmentHeader, AFutureFormatVersionIsRefused) {
  std::vector<std::byte> bytes = encode(sample());
  store_le<std::uint32_t>(bytes, segment_field::kFormatVersion, kFormatVersion + 1);
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadVersion);
}

TEST(SegmentHeader, AnImpossibleLengthIsRefused) {
  std::vector<std::byte> bytes = encode(sample());
  store_le<std::uint32_t>(bytes, segment_field::kHeaderBytes, 8192);
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadLength);
  bytes = encode(sample());
  store_le<std::uint32_t>(bytes, segment_field::kDescriptorBytes, kDescriptorBytesMax + 1);
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadLength);
}

TEST(SegmentHeader, WritesInFlightOutOfRangeIsRefused) {
  for (const std::uint32_t bad : {0u, kWritesInFlightMax + 1}) {
    std::vector<std::byte> bytes = encode(sample());
    store_le<std::uint32_t>(bytes, segment_field::kWritesInFlight, bad);
    // Re-seal: the checksum covers the field, and this test is about the range check.
    std::vector<std::byte> covered(bytes.begin(), bytes.begin() + segment_field::kHeaderChecksum);
    const auto descriptor_bytes = load_le<std::uint32_t>(bytes, segment_field::kDescriptorBytes);
    covered.insert(covered.end(), bytes.begin() + kSegmentHeaderFixedBytes,
                   bytes.begin() + kSegmentHeaderFixedBytes + descriptor_bytes);
    store_le<std::uint64_t>(bytes, segment_field::kHeaderChecksum,
                            XXH3_64bits(covered.data(), covered.size()));
    EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadFlags) << bad;
  }
}

TEST(SegmentHeader, AChangedFieldFailsTheChecksum) {
  std::vector<std::byte> bytes = encode(sample());
  store_le<std::uint64_t>(bytes, segment_field::kFirstSequence, 7);
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadChecksum);
}

TEST(SegmentHeader, NonZeroPaddingAfterTheDescriptorIsRefused) {
  std::vector<std::byte> bytes = encode(sample());
  bytes[4000] = std::byte{1};  // past the descriptor, not covered by the checksum
  EXPECT_EQ(decode_segment_header(bytes).status, SegmentHeaderStatus::kBadPadding);
}

TEST(SegmentHeader, EverySingleBitFlipIsDetected) {
  const std::vector<std::byte> good = encode(sample());
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::vector<std::byte> bytes = good;
    bytes[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    ASSERT_NE(decode_segment_header(bytes).status, SegmentHeaderStatus::kOk) << "bit " << bit;
  }
}

TEST(SegmentFileName, IsTheFirstSequenceInTwentyDigits) {
  EXPECT_EQ(segment_file_name(0), "00000000000000000000.lsj");
  EXPECT_EQ(segment_file_name(1'048'576), "00000000000001048576.lsj");
  EXPECT_EQ(segment_file_name(UINT64_MAX), "18446744073709551615.lsj");
}

TEST(SegmentFileName, ParsesBackAndRefusesOtherNames) {
  EXPECT_EQ(parse_segment_file_name("00000000000001048576.lsj"), 1'048'576u);
  EXPECT_EQ(parse_segment_file_name(segment_file_name(UINT64_MAX)), UINT64_MAX);
  for (const char* bad :
       {"", "0.lsj", "00000000000001048576.log", "0000000000000104857x.lsj",
        "99999999999999999999.lsj", "-0000000000000000001.lsj", "00000000000001048576.lsj.tmp"}) {
    EXPECT_FALSE(parse_segment_file_name(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace lockstep::journal
