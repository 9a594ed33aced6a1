// The domains fuzz_json runs the generic JSON codec over, decoded from the descriptors
// their generated headers embed, and fuzz_json's input format.
//
//   input = mode domain struct body
//
// - mode (mod 4): JsonMode;
// - domain: an index into fuzz_domains() (mod its size): 0 the bank test domain
//   (tests/bank/bank.lss), 1 every_type (fuzz/every_type.lss: every field type);
// - struct: an index into that domain's structs (mod their number): records, then
//   commands, then events, each in declared order;
// - body: the JSON text, or the struct's bytes (kStructBytes).
// Missing prefix bytes read as 0. The orders are part of the seeds: append only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "schema/model.h"

namespace lockstep::fuzz {

enum class JsonMode : std::uint8_t {
  kStructText = 0,   // struct_from_json, then back with to_json
  kStructBytes = 1,  // to_json on the body (as is, and cut or zero-padded to the size)
  kEnvelope = 2,     // command_from_json
  kCommandLine = 3,  // command_line_from_json
};
inline constexpr std::size_t kJsonModes = 4;
inline constexpr std::size_t kJsonPrefixBytes = 3;

struct FuzzDomain {
  std::string_view label;
  schema::Domain domain;
  std::vector<const schema::Struct*> structs;  // records, commands, events
};

// Decoded once, on first use; aborts if a generated descriptor does not decode.
// Thread safety: any thread, after the first call returns.
const std::vector<FuzzDomain>& fuzz_domains();

struct JsonInput {
  JsonMode mode = JsonMode::kStructText;
  const FuzzDomain* domain = nullptr;
  const schema::Struct* s = nullptr;
  std::span<const std::byte> body;
};

JsonInput decode_json_input(std::span<const std::byte> input);
std::vector<std::byte> encode_json_input(JsonMode mode, std::size_t domain, std::size_t s,
                                         std::span<const std::byte> body);

}  // namespace lockstep::fuzz
