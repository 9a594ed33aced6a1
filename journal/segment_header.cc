#include "journal/segment_header.h"

#include <openssl/evp.h>
// Static-linking-only API: XXH3_state_t on the stack, no allocation per header.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/assert.h"
#include "base/endian.h"

namespace lockstep::journal {
namespace {

namespace s = segment_field;

constexpr std::string_view kSegmentSuffix = ".lsj";
constexpr std::size_t kSegmentNameDigits = 20;

std::uint64_t header_checksum(std::span<const std::byte> fixed,
                              std::span<const std::byte> descriptor) noexcept {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, fixed.data(), s::kHeaderChecksum);
  XXH3_64bits_update(&state, descriptor.data(), descriptor.size());
  return XXH3_64bits_digest(&state);
}

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

SchemaHash sha256(std::span<const std::byte> bytes) {
  SchemaHash out{};
  unsigned int length = 0;
  LS_ASSERT(EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()),
                       &length, EVP_sha256(), nullptr) == 1);
  LS_ASSERT(length == out.size());
  return out;
}

bool frame_bytes_max_is_valid(std::uint64_t bytes) noexcept {
  return bytes >= kFrameAlignDirect && bytes <= kFrameBytesMax && bytes % kFrameAlignDirect == 0;
}

std::size_t segment_header_bytes(std::size_t descriptor_bytes) noexcept {
  const std::size_t n = kSegmentHeaderFixedBytes + descriptor_bytes;
  return (n + kSegmentHeaderAlignBytes - 1) / kSegmentHeaderAlignBytes * kSegmentHeaderAlignBytes;
}

std::size_t encode_segment_header(const SegmentHeader& header, std::span<std::byte> out) {
  LS_ASSERT(header.descriptor.size() <= kDescriptorBytesMax);
  LS_ASSERT((header.flags & ~kFlagsKnown) == 0);
  LS_ASSERT(header.writes_in_flight >= 1 && header.writes_in_flight <= kWritesInFlightMax);
  LS_ASSERT(frame_bytes_max_is_valid(header.frame_bytes_max));
  const std::size_t size = segment_header_bytes(header.descriptor.size());
  LS_ASSERT(out.size() >= size);
  const std::span<std::byte> h = out.first(size);
  std::fill(h.begin(), h.end(), std::byte{0});
  std::memcpy(h.data() + s::kMagic, kSegmentMagic.data(), kSegmentMagic.size());
  store_le<std::uint32_t>(h, s::kFormatVersion, kFormatVersion);
  store_le<std::uint32_t>(h, s::kHeaderBytes, static_cast<std::uint32_t>(size));
  store_le<std::uint32_t>(h, s::kFlags, header.flags);
  store_le<std::uint32_t>(h, s::kDescriptorBytes,
                          static_cast<std::uint32_t>(header.descriptor.size()));
  store_le<std::uint64_t>(h, s::kSegmentIndex, header.segment_index);
  store_le<std::uint64_t>(h, s::kFirstSequence, header.first_sequence);
  store_le<std::uint64_t>(h, s::kSegmentBytes, header.segment_bytes);
  store_le<std::uint32_t>(h, s::kWritesInFlight, header.writes_in_flight);
  store_le<std::uint32_t>(h, s::kFrameBytesMax, header.frame_bytes_max);
  std::memcpy(h.data() + s::kPrevChainHash, header.prev_chain_hash.data(), kChainHashBytes);
  const SchemaHash schema = sha256(header.descriptor);
  std::memcpy(h.data() + s::kSchemaHash, schema.data(), schema.size());
  if (!header.descriptor.empty()) {
    std::memcpy(h.data() + kSegmentHeaderFixedBytes, header.descriptor.data(),
                header.descriptor.size());
  }
  store_le<std::uint64_t>(h, s::kHeaderChecksum, header_checksum(h, header.descriptor));
  return size;
}

std::string_view to_string(SegmentHeaderStatus status) noexcept {
  switch (status) {
    case SegmentHeaderStatus::kOk: return "ok";
    case SegmentHeaderStatus::kTruncated: return "truncated segment header";
    case SegmentHeaderStatus::kBadMagic: return "not a lockstep journal segment";
    case SegmentHeaderStatus::kBadVersion: return "unsupported format version";
    case SegmentHeaderStatus::kBadFlags: return "unknown segment flags or settings";
    case SegmentHeaderStatus::kBadLength: return "bad segment header length";
    case SegmentHeaderStatus::kBadChecksum: return "bad segment header checksum";
    case SegmentHeaderStatus::kBadSchemaHash: return "schema descriptor does not match its hash";
    case SegmentHeaderStatus::kBadPadding: return "non-zero segment header padding";
  }
  return "?";
}

DecodedSegmentHeader decode_segment_header(std::span<const std::byte> bytes) {
  DecodedSegmentHeader d;
  if (bytes.size() < kSegmentHeaderFixedBytes) return d;  // kTruncated
  if (std::memcmp(bytes.data(), kSegmentMagic.data(), kSegmentMagic.size()) != 0) {
    d.status = SegmentHeaderStatus::kBadMagic;
    return d;
  }
  d.format_version = load_le<std::uint32_t>(bytes, s::kFormatVersion);
  if (d.format_version != kFormatVersion) {
    d.status = SegmentHeaderStatus::kBadVersion;
    return d;
  }
  const auto header_bytes = load_le<std::uint32_t>(bytes, s::kHeaderBytes);
  const auto descriptor_bytes = load_le<std::uint32_t>(bytes, s::kDescriptorBytes);
  if (descriptor_bytes > kDescriptorBytesMax ||
      header_bytes != segment_header_bytes(descriptor_bytes)) {
    d.status = SegmentHeaderStatus::kBadLength;
    return d;
  }
  if (bytes.size() < header_bytes) return d;  // kTruncated
  const std::span<const std::byte> descriptor =
      bytes.subspan(kSegmentHeaderFixedBytes, descriptor_bytes);
  if (load_le<std::uint64_t>(bytes, s::kHeaderChecksum) != header_checksum(bytes, descriptor)) {
    d.status = SegmentHeaderStatus::kBadChecksum;
    return d;
  }
  const auto flags = load_le<std::uint32_t>(bytes, s::kFlags);
  const auto writes_in_flight = load_le<std::uint32_t>(bytes, s::kWritesInFlight);
  const auto frame_bytes_max = load_le<std::uint32_t>(bytes, s::kFrameBytesMax);
  if ((flags & ~kFlagsKnown) != 0 || writes_in_flight < 1 ||
      writes_in_flight > kWritesInFlightMax || !frame_bytes_max_is_valid(frame_bytes_max)) {
    d.status = SegmentHeaderStatus::kBadFlags;
    return d;
  }
  if (!all_zero(bytes.subspan(kSegmentHeaderFixedBytes + descriptor_bytes,
                              header_bytes - kSegmentHeaderFixedBytes - descriptor_bytes))) {
    d.status = SegmentHeaderStatus::kBadPadding;
    return d;
  }
  const SchemaHash schema = sha256(descriptor);
  if (std::memcmp(schema.data(), bytes.data() + s::kSchemaHash, schema.size()) != 0) {
    d.status = SegmentHeaderStatus::kBadSchemaHash;
    return d;
  }
  SegmentHeader& h = d.header;
  h.flags = flags;
  h.segment_index = load_le<std::uint64_t>(bytes, s::kSegmentIndex);
  h.first_sequence = load_le<std::uint64_t>(bytes, s::kFirstSequence);
  h.segment_bytes = load_le<std::uint64_t>(bytes, s::kSegmentBytes);
  h.writes_in_flight = writes_in_flight;
  h.frame_bytes_max = frame_bytes_max;
  std::memcpy(h.prev_chain_hash.data(), bytes.data() + s::kPrevChainHash, kChainHashBytes);
  h.descriptor.assign(descriptor.begin(), descriptor.end());
  d.header_bytes = header_bytes;
  d.status = SegmentHeaderStatus::kOk;
  return d;
}

std::string describe(const DecodedSegmentHeader& decoded) {
  if (decoded.status != SegmentHeaderStatus::kBadVersion)
    return std::string(to_string(decoded.status));
  return "journal format version " + std::to_string(decoded.format_version) +
         "; this build reads version " + std::to_string(kFormatVersion) +
         (decoded.format_version < kFormatVersion
              ? " (written by an older lockstep: read it with that version's lockstep-replay)"
              : " (written by a newer lockstep)");
}

std::string segment_file_name(std::uint64_t first_sequence) {
  char name[kSegmentNameDigits + kSegmentSuffix.size() + 1];
  std::snprintf(name, sizeof name, "%020llu.lsj", static_cast<unsigned long long>(first_sequence));
  return name;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) noexcept {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size() ||
      name.substr(kSegmentNameDigits) != kSegmentSuffix) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const char* end = name.data() + kSegmentNameDigits;
  const auto [ptr, ec] = std::from_chars(name.data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

}  // namespace lockstep::journal
