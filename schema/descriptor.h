// The reflection descriptor: a Domain as canonical bytes, and back.
//
// Every journal segment header and snapshot carries these bytes, and the generated header
// embeds them with their SHA-256 hash, so a tool can check that a journal was written by
// the domain it is decoding with and can decode any domain's records, commands and events
// without that domain's code. The byte format is in docs/schema.md ("Descriptor"); all
// integers are little-endian, strings are a u16 length and that many bytes.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "schema/model.h"

namespace lockstep::schema {

inline constexpr std::uint32_t kDescriptorVersion = 1;
inline constexpr std::size_t kDescriptorHashBytes = 32;
using DescriptorHash = std::array<std::byte, kDescriptorHashBytes>;

// The canonical bytes of a laid-out domain. Source locations are not part of them.
// REQUIRES: the domain holds to model.h's limits, as every domain parse() accepts does; a
// name longer than kNameBytesMax throws std::invalid_argument (it has no encoding).
std::vector<std::byte> encode_descriptor(const Domain& domain);

// Reads descriptor bytes. Refuses (false, with `error` saying what and at which byte
// offset) anything malformed: bad magic or version, truncation, trailing bytes, counts or
// sizes over the schema limits, unknown types, indexes out of range, a layout that
// differs from the one lay_out() computes for the same declarations, and what the parser
// would have refused: repeated names, kinds or codes, a zero version, kind or reject
// code, table ids out of order, enum values too large for their type, transitions out of
// order or naming undeclared values, keys over the size limit, and non-zero parameters a
// field's type does not use (so each schema has one encoding and one hash). It does not
// apply the parser's naming rules (C++ keywords, reserved shapes).
[[nodiscard]] bool decode_descriptor(std::span<const std::byte> bytes, Domain* out,
                                     std::string* error);

// SHA-256 of the descriptor bytes.
DescriptorHash descriptor_hash(std::span<const std::byte> bytes);

// Lower-case hex of a hash.
std::string to_hex(std::span<const std::byte> bytes);

}  // namespace lockstep::schema
