// Decoding a schema descriptor from arbitrary bytes.
//
// Contracts checked (schema/descriptor.h, schema/json.h):
// - decode_descriptor() accepts or refuses with an error, never throws or crashes;
// - each schema has one encoding: what it accepts encodes back to exactly the input;
// - what it accepts is a model the JSON codec may be given: for every struct, the
//   all-zero bytes either are refused by to_json or come back from struct_from_json as
//   they were.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "schema/descriptor.h"
#include "schema/json.h"

namespace {

using namespace lockstep;

// Enough structs to reach every kind; a descriptor may hold over a thousand records.
constexpr std::size_t kStructsChecked = 32;

void check_zero_bytes_round_trip(const schema::Domain& d, const schema::Struct& s) {
  const std::vector<std::byte> zeros(s.size, std::byte{0});
  std::string json;
  std::string error;
  if (!schema::to_json(d, s, zeros, &json, &error)) {
    FUZZ_CHECK(!error.empty(), "to_json refused without an error");
    return;
  }
  std::vector<std::byte> back;
  FUZZ_CHECK(schema::struct_from_json(d, s, json, &back, &error),
             s.name + ": struct_from_json refuses what to_json wrote (" + json + "): " + error);
  FUZZ_CHECK(back == zeros, s.name + ": zero bytes come back changed from " + json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  schema::Domain domain;
  std::string error;
  if (!schema::decode_descriptor(bytes, &domain, &error)) {
    FUZZ_CHECK(!error.empty(), "decode_descriptor refused without an error");
    return 0;
  }
  const std::vector<std::byte> again = schema::encode_descriptor(domain);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()),
             "an accepted descriptor of " + std::to_string(size) + " bytes encodes to " +
                 std::to_string(again.size()) + " other bytes");
  std::size_t checked = 0;
  for (const auto* list : {&domain.records, &domain.commands, &domain.events}) {
    for (const schema::Struct& s : *list) {
      if (checked++ == kStructsChecked) return 0;
      check_zero_bytes_round_trip(domain, s);
    }
  }
  return 0;
}
