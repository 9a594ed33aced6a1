// FrameInput: the input of fuzz_frame (and of the seeds lockstep-fuzz-seeds writes for it):
// what the reader expects at the frame's position, then the bytes from that position on.
//
//   u8  flags                     bit 0: direct-I/O alignment (else buffered);
//                                 bit 1: take the stored chain hash (verify_chain false);
//                                 bit 2: XXH3-128 chain (else SHA-256)
//   u64 segment_first_sequence    little-endian, as the next two
//   u64 segment_offset
//   u64 next_sequence
//   32 bytes                      the chain hash before the frame
//   the rest                      the bytes decode_frame reads
//
// An input shorter than the prefix reads as if padded with zeros, with no bytes after it.
// Only the API's types are used (FrameExpectation, ChainKind), never the frame's layout.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "journal/chain_hash.h"
#include "journal/format.h"
#include "journal/frame.h"

namespace lockstep::fuzz {

inline constexpr std::size_t kFramePrefixBytes = 1 + 3 * 8 + journal::kChainHashBytes;
inline constexpr std::uint8_t kFrameDirectIo = 1u << 0;
inline constexpr std::uint8_t kFrameStoredChain = 1u << 1;
inline constexpr std::uint8_t kFrameChainXxh3 = 1u << 2;

struct FrameInput {
  journal::FrameExpectation expect;
  journal::ChainKind chain = journal::ChainKind::kSha256;
  std::span<const std::byte> bytes;  // what follows the prefix
};

inline FrameInput decode_frame_input(std::span<const std::byte> input) {
  std::array<std::byte, kFramePrefixBytes> prefix{};
  std::copy_n(input.begin(), std::min(input.size(), prefix.size()), prefix.begin());
  std::size_t at = 0;
  const auto u64 = [&] {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= std::uint64_t{std::to_integer<std::uint8_t>(prefix[at++])} << (8 * i);
    return v;
  };
  FrameInput in;
  const auto flags = std::to_integer<std::uint8_t>(prefix[at++]);
  in.expect.alignment =
      (flags & kFrameDirectIo) != 0 ? journal::kFrameAlignDirect : journal::kFrameAlignBuffered;
  in.expect.verify_chain = (flags & kFrameStoredChain) == 0;
  in.chain =
      (flags & kFrameChainXxh3) != 0 ? journal::ChainKind::kXxh3_128 : journal::ChainKind::kSha256;
  in.expect.segment_first_sequence = u64();
  in.expect.segment_offset = u64();
  in.expect.next_sequence = u64();
  std::copy_n(prefix.begin() + static_cast<std::ptrdiff_t>(at), journal::kChainHashBytes,
              in.expect.prev_chain.begin());
  if (input.size() > kFramePrefixBytes) in.bytes = input.subspan(kFramePrefixBytes);
  return in;
}

inline std::vector<std::byte> encode_frame_input(const journal::FrameExpectation& expect,
                                                 journal::ChainKind chain,
                                                 std::span<const std::byte> bytes) {
  std::vector<std::byte> out;
  std::uint8_t flags = 0;
  if (expect.alignment == journal::kFrameAlignDirect) flags |= kFrameDirectIo;
  if (!expect.verify_chain) flags |= kFrameStoredChain;
  if (chain == journal::ChainKind::kXxh3_128) flags |= kFrameChainXxh3;
  out.push_back(std::byte{flags});
  for (const std::uint64_t v :
       {expect.segment_first_sequence, expect.segment_offset, expect.next_sequence}) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  out.insert(out.end(), expect.prev_chain.begin(), expect.prev_chain.end());
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

}  // namespace lockstep::fuzz
