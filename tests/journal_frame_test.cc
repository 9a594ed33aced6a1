// The frame codec and its corruption suite: every way a frame can be wrong is decoded to
// its own status, and no corruption ever decodes as a good frame.
#include "journal/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "journal/endian.h"

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
  FrameSeal seal{static_cast<std::uint32_t>(payload_bytes),
                 static_cast<std::uint32_t>(entries.size()),
                 first_sequence,
                 64,
                 4096,
                 alignment};
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

TEST_F(FrameTest, FramesAreAlignedToEightBytesOrToTheDirectIoBlock) {
  EXPECT_EQ(frame_bytes_for(0, kFrameAlignBuffered), kFrameBytesMin);
  EXPECT_EQ(frame_bytes_for(1, kFrameAlignBuffered), kFrameBytesMin + 8);
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

TEST_F(FrameTest, AZeroedTailAfterTheMagicIsNotTheEndOfData) {
  Built b = build(hasher, entries);
  std::fill(b.bytes.begin() + 4, b.bytes.end(), std::byte{0});
  EXPECT_EQ(decode(b), FrameStatus::kBadLength);
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
  for (const std::uint32_t bad : {0u, 95u, 97u, 1u << 30}) {
    Built b = build(hasher, entries);
    store_le<std::uint32_t>(b.bytes, frame_field::kFrameBytes, bad);
    EXPECT_EQ(decode(b), FrameStatus::kBadLength) << bad;
  }
}

TEST_F(FrameTest, ALengthInconsistentWithItsPartsIsABadLength) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, frame_field::kPaddingBytes,
                          load_le<std::uint32_t>(b.bytes, frame_field::kPaddingBytes) + 8);
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
  b.expect.segment_offset = 4096 + 152;
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

TEST_F(FrameTest, AnEntryCountThatDisagreesWithTheSequenceRangeIsRefused) {
  Built b = build(hasher, entries);
  store_le<std::uint64_t>(b.bytes, frame_field::kLastSequence, 103);
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadEntryCount);
}

TEST_F(FrameTest, EntriesThatOverrunThePayloadAreRefused) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, kFrameHeaderBytes, 1000);  // first entry's length
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadEntries);
}

TEST_F(FrameTest, NonZeroPaddingIsRefused) {
  Built b = build(hasher, {"odd"});  // 4 + 3 payload bytes: 1 byte of padding
  ASSERT_GT(load_le<std::uint32_t>(b.bytes, frame_field::kPaddingBytes), 0u);
  b.bytes[kFrameHeaderBytes + 7] = std::byte{1};
  reseal_checksum(b.bytes);
  EXPECT_EQ(decode(b), FrameStatus::kBadPadding);
}

TEST_F(FrameTest, NonZeroReservedBytesAreRefused) {
  Built b = build(hasher, entries);
  store_le<std::uint32_t>(b.bytes, frame_field::kReserved, 1);
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
