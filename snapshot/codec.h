// Snapshot files: the pieces the writer and the reader share: checksums, sizes, the
// header and trailer codecs (docs/snapshot-format.md). Internal to snapshot/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/snapshot.h"

namespace lockstep::snapshot::codec {

namespace f = snapshot_format;
namespace hf = snapshot_format::header_field;
namespace bf = snapshot_format::block_field;
namespace tf = snapshot_format::trailer_field;
namespace ef = snapshot_format::entry_field;

inline constexpr std::size_t kNameDigits = 20;  // digits of a snapshot file name

// XXH3-64 of the whole header but its checksum field.
std::uint64_t header_checksum(std::span<const std::byte> header) noexcept;

// XXH3-64, seeded with the header checksum, of the block header's first 24 bytes and the
// payload that follows the block header.
std::uint64_t block_checksum(std::uint64_t seed, const std::byte* block,
                             std::size_t payload_bytes) noexcept;

// XXH3-64, seeded with the header checksum, of the trailer but its last 8 bytes.
std::uint64_t trailer_checksum(std::uint64_t seed, std::span<const std::byte> trailer) noexcept;

std::size_t header_bytes_for(std::size_t descriptor_bytes) noexcept;

// The blocks a stream of `body_bytes` fills.
std::uint64_t blocks_for(std::uint64_t body_bytes) noexcept;

// Where the trailer starts, for a header of `header_bytes` and a stream of `body_bytes`.
std::uint64_t trailer_offset_for(std::uint64_t header_bytes, std::uint64_t body_bytes) noexcept;

bool all_zero(std::span<const std::byte> bytes) noexcept;

std::string hex32(std::uint32_t value);

std::string num(std::uint64_t value);

// The record size of each table the descriptor declares (table id = index), or an error.
bool table_sizes(std::span<const std::byte> descriptor, std::vector<std::uint32_t>* sizes,
                 std::string* error);

// What is wrong with a header's journal position and flags ("" if nothing), and the
// offset of the header field concerned.
std::pair<std::size_t, std::string> position_problem(const SnapshotHeader& h);

std::vector<std::byte> encode_header(const SnapshotHeader& h, std::uint64_t* checksum);

std::vector<std::byte> encode_trailer(std::uint64_t seed, std::uint64_t offset,
                                      std::uint64_t blocks, std::uint64_t sessions,
                                      const std::vector<SnapshotTable>& tables);

}  // namespace lockstep::snapshot::codec
