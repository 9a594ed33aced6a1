// The schema language parser on arbitrary text; when it accepts the text, the descriptor
// round trip and the code generator on what it built.
//
// Contracts checked (schema/parser.h, descriptor.h, codegen.h):
// - parse() returns diagnostics or a domain, never throws (no exception is documented);
// - a refused schema has at least one diagnostic, and each prints;
// - every domain parse() accepts encodes (the parser enforces the descriptor's limits),
//   its descriptor decodes, and decoding then encoding gives the same bytes;
// - generate_header() writes a header for it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "schema/codegen.h"
#include "schema/descriptor.h"
#include "schema/parser.h"

namespace {

using namespace lockstep;

void check_refused(const schema::ParseResult& r) {
  FUZZ_CHECK(!r.diagnostics.empty(), "a refused parse has no diagnostic");
  for (const schema::Diagnostic& d : r.diagnostics) {
    FUZZ_CHECK(!d.to_string().empty(), "an empty diagnostic");
  }
  (void)r.error_text();
}

void check_accepted(const schema::Domain& domain) {
  const std::vector<std::byte> bytes = schema::encode_descriptor(domain);
  schema::Domain back;
  std::string error;
  FUZZ_CHECK(schema::decode_descriptor(bytes, &back, &error),
             "the descriptor of a schema the parser accepted does not decode: " + error);
  FUZZ_CHECK(schema::encode_descriptor(back) == bytes,
             "a decoded descriptor encodes to other bytes");
  (void)schema::descriptor_hash(bytes);
  const std::string header = schema::generate_header(domain, "fuzz.lss");
  FUZZ_CHECK(!header.empty(), "an empty generated header");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const schema::ParseResult r = schema::parse(text, "fuzz.lss");
  if (r.ok()) {
    check_accepted(r.domain);
  } else {
    check_refused(r);
  }
  return 0;
}
