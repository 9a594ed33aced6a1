#include "snapshot/codec.h"

// Static-linking-only API: XXH3_state_t on the stack, no allocation per block.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>

#include "base/assert.h"
#include "base/endian.h"
#include "schema/descriptor.h"

namespace lockstep::snapshot {

namespace codec {

// ---- checksums (docs/snapshot-format.md) -------------------------------------------------

// XXH3-64 of the whole header but its checksum field.
std::uint64_t header_checksum(std::span<const std::byte> header) noexcept {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header.data(), hf::kHeaderChecksum);
  XXH3_64bits_update(&state, header.data() + f::kHeaderFixedBytes,
                     header.size() - f::kHeaderFixedBytes);
  return XXH3_64bits_digest(&state);
}

// XXH3-64, seeded with the header checksum, of the block header's first 24 bytes and the
// payload that follows the block header.
std::uint64_t block_checksum(std::uint64_t seed, const std::byte* block,
                             std::size_t payload_bytes) noexcept {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);  // reset_withSeed reads the state's seed: it must not be garbage
  XXH3_64bits_reset_withSeed(&state, seed);
  XXH3_64bits_update(&state, block, bf::kChecksum);
  XXH3_64bits_update(&state, block + f::kBlockHeaderBytes, payload_bytes);
  return XXH3_64bits_digest(&state);
}

// XXH3-64, seeded with the header checksum, of the trailer but its last 8 bytes.
std::uint64_t trailer_checksum(std::uint64_t seed, std::span<const std::byte> trailer) noexcept {
  return XXH3_64bits_withSeed(trailer.data(), trailer.size() - 8, seed);
}

// ---- sizes -------------------------------------------------------------------------------

std::size_t header_bytes_for(std::size_t descriptor_bytes) noexcept {
  const std::size_t n = f::kHeaderFixedBytes + descriptor_bytes;
  return (n + f::kHeaderAlignBytes - 1) / f::kHeaderAlignBytes * f::kHeaderAlignBytes;
}

// The blocks a stream of `body_bytes` fills.
std::uint64_t blocks_for(std::uint64_t body_bytes) noexcept {
  return (body_bytes + f::kBlockPayloadBytesMax - 1) / f::kBlockPayloadBytesMax;
}

// Where the trailer starts, for a header of `header_bytes` and a stream of `body_bytes`.
std::uint64_t trailer_offset_for(std::uint64_t header_bytes, std::uint64_t body_bytes) noexcept {
  const std::uint64_t blocks = blocks_for(body_bytes);
  if (blocks == 0) return header_bytes;
  const std::uint64_t last_payload = body_bytes - (blocks - 1) * f::kBlockPayloadBytesMax;
  return header_bytes + (blocks - 1) * f::kBlockBytes + f::kBlockHeaderBytes + last_payload;
}

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", value);
  return text;
}

std::string num(std::uint64_t value) { return std::to_string(value); }

// The record size of each table the descriptor declares (table id = index), or an error.
bool table_sizes(std::span<const std::byte> descriptor, std::vector<std::uint32_t>* sizes,
                 std::string* error) {
  schema::Domain domain;
  if (!schema::decode_descriptor(descriptor, &domain, error)) return false;
  sizes->clear();
  for (const schema::Struct& record : domain.records) sizes->push_back(record.size);
  return true;
}

// What is wrong with a header's journal position and flags ("" if nothing), and the
// offset of the header field concerned.
std::pair<std::size_t, std::string> position_problem(const SnapshotHeader& h) {
  if ((h.journal_flags & ~journal::kFlagsKnown) != 0) {
    return {hf::kJournalFlags, "unknown journal flags " + hex32(h.journal_flags)};
  }
  if (h.tx_sequence > h.next_sequence) {
    return {hf::kTxSequence, "tx_sequence " + num(h.tx_sequence) + " is beyond next_sequence " +
                                 num(h.next_sequence)};
  }
  if (h.next_sequence == 0 &&
      (h.tx_sequence != 0 || h.last_logical_time_ns != 0 || !all_zero(h.chain))) {
    return {hf::kNextSequence,
            "next_sequence 0 with a non-zero transaction count, logical time or chain hash"};
  }
  return {0, ""};
}

std::vector<std::byte> encode_header(const SnapshotHeader& h, std::uint64_t* checksum) {
  std::vector<std::byte> out(header_bytes_for(h.descriptor.size()));
  const std::span<std::byte> b(out);
  std::memcpy(b.data() + hf::kMagic, f::kMagic.data(), f::kMagic.size());
  store_le<std::uint32_t>(b, hf::kFormatVersion, f::kVersion);
  store_le<std::uint32_t>(b, hf::kHeaderBytes, static_cast<std::uint32_t>(out.size()));
  store_le<std::uint32_t>(b, hf::kJournalFlags, h.journal_flags);
  store_le<std::uint32_t>(b, hf::kDescriptorBytes, static_cast<std::uint32_t>(h.descriptor.size()));
  store_le<std::uint64_t>(b, hf::kNextSequence, h.next_sequence);
  store_le<std::uint64_t>(b, hf::kTxSequence, h.tx_sequence);
  store_le<std::int64_t>(b, hf::kLastLogicalTimeNs, h.last_logical_time_ns);
  store_le<std::uint64_t>(b, hf::kStateHashLo, h.state_hash.lo);
  store_le<std::uint64_t>(b, hf::kStateHashHi, h.state_hash.hi);
  store_le<std::uint64_t>(b, hf::kStateRecords, h.state_hash.records);
  std::memcpy(b.data() + hf::kChainHash, h.chain.data(), h.chain.size());
  store_le<std::uint32_t>(b, hf::kBlockBytes, static_cast<std::uint32_t>(f::kBlockBytes));
  if (!h.descriptor.empty()) {
    std::memcpy(b.data() + f::kHeaderFixedBytes, h.descriptor.data(), h.descriptor.size());
  }
  *checksum = header_checksum(b);
  store_le<std::uint64_t>(b, hf::kHeaderChecksum, *checksum);
  return out;
}

std::vector<std::byte> encode_trailer(std::uint64_t seed, std::uint64_t offset,
                                      std::uint64_t blocks, std::uint64_t sessions,
                                      const std::vector<SnapshotTable>& tables) {
  const std::size_t size = f::kTrailerBytesMin + tables.size() * f::kTrailerEntryBytes;
  std::vector<std::byte> out(size);
  const std::span<std::byte> t(out);
  std::memcpy(t.data() + tf::kMagic, f::kTrailerMagic.data(), f::kTrailerMagic.size());
  store_le<std::uint32_t>(t, tf::kTableCount, static_cast<std::uint32_t>(tables.size()));
  store_le<std::uint64_t>(t, tf::kBlockCount, blocks);
  store_le<std::uint64_t>(t, tf::kFileOffset, offset);
  store_le<std::uint64_t>(t, tf::kSessionCount, sessions);
  std::size_t at = tf::kEntries;
  for (const SnapshotTable& table : tables) {
    store_le<std::uint16_t>(t, at + ef::kTable, table.table);
    store_le<std::uint32_t>(t, at + ef::kRecordBytes, table.record_bytes);
    store_le<std::uint64_t>(t, at + ef::kCount, table.count);
    at += f::kTrailerEntryBytes;
  }
  store_le<std::uint64_t>(t, at, size);
  store_le<std::uint64_t>(t, at + 8, trailer_checksum(seed, t));
  LS_ASSERT(at + 16 == size);
  return out;
}

}  // namespace codec

using namespace codec;

// ---- names -------------------------------------------------------------------------------

std::string snapshot_file_name(std::uint64_t next_sequence) {
  char name[64];
  std::snprintf(name, sizeof name, "snapshot-%020llu.lsnap",
                static_cast<unsigned long long>(next_sequence));
  return name;
}

std::optional<std::uint64_t> parse_snapshot_file_name(std::string_view name) {
  if (name.size() != kSnapshotPrefix.size() + kNameDigits + kSnapshotSuffix.size() ||
      !name.starts_with(kSnapshotPrefix) || !name.ends_with(kSnapshotSuffix)) {
    return std::nullopt;
  }
  const char* begin = name.data() + kSnapshotPrefix.size();
  const char* end = begin + kNameDigits;
  if (!std::all_of(begin, end, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// ---- SnapshotStatus ----------------------------------------------------------------------

SnapshotStatus SnapshotStatus::corrupt(std::string_view file, std::uint64_t offset,
                                       std::string_view what) {
  return {false, std::string(file), offset, std::string(what), SnapshotError::kCorrupt};
}

SnapshotStatus SnapshotStatus::io(const journal::IoStatus& status) {
  LS_ASSERT(!status.is_ok());
  return {false, status.file(), status.offset(), status.message(), SnapshotError::kIo};
}

SnapshotStatus SnapshotStatus::refused(std::string_view file, std::string_view what) {
  return {false, std::string(file), 0, std::string(what), SnapshotError::kRefused};
}

std::string SnapshotStatus::message() const {
  if (ok) return "ok";
  switch (error) {
    case SnapshotError::kNone: return "snapshot error: " + (file.empty() ? "" : file + ": ") + what;
    case SnapshotError::kCorrupt:
      return "corrupt snapshot: " + file + " at offset " + num(offset) + ": " + what;
    case SnapshotError::kIo: return "snapshot I/O: " + what;
    case SnapshotError::kRefused: return "snapshot refused: " + file + ": " + what;
  }
  return what;
}

}  // namespace lockstep::snapshot
