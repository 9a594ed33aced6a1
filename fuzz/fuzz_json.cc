// The generic JSON codec (schema/json.h) over fixed domains (fuzz_domains.h): JSON text to
// a struct's bytes and back, arbitrary bytes to JSON and back, and commands in their
// envelope and in the flat command-file form.
//
// Contracts checked (schema/json.h):
// - every function accepts or refuses with an error, never throws or crashes;
// - struct_from_json writes exactly s.size canonical bytes (padding and char[N] tails
//   zero), which to_json accepts, and to_json's JSON reads back to the same bytes;
// - to_json refuses bytes of the wrong size; for any bytes b it accepts,
//   struct_from_json(to_json(b)) is b with padding and char tails zeroed;
// - a command read from either form is one of the domain's, of its size, and reads back
//   the same from the JSON written for it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_domains.h"
#include "schema/json.h"

namespace {

using namespace lockstep;
using lockstep::fuzz::JsonInput;
using lockstep::fuzz::JsonMode;

// `bytes` with what to_json does not look at zeroed: padding, and char[N] bytes after the
// first NUL.
std::vector<std::byte> canonical(const schema::Struct& s, std::span<const std::byte> bytes) {
  std::vector<std::byte> out(bytes.size(), std::byte{0});
  for (const schema::Field& f : s.fields) {
    const auto field = bytes.subspan(f.offset, f.size);
    auto end = field.end();
    if (f.type == schema::FieldType::kChars) end = std::find(field.begin(), end, std::byte{0});
    std::copy(field.begin(), end, out.begin() + f.offset);
  }
  return out;
}

std::string to_json_checked(const schema::Domain& d, const schema::Struct& s,
                            std::span<const std::byte> bytes, std::string_view from) {
  std::string json;
  std::string error;
  FUZZ_CHECK(schema::to_json(d, s, bytes, &json, &error),
             s.name + ": to_json refuses the bytes struct_from_json read from " +
                 std::string(from) + ": " + error);
  return json;
}

void struct_text(const schema::Domain& d, const schema::Struct& s, std::string_view text) {
  std::vector<std::byte> bytes;
  std::string error;
  if (!schema::struct_from_json(d, s, text, &bytes, &error)) {
    FUZZ_CHECK(!error.empty() && bytes.empty(), "a refusal without an error, or with output");
    return;
  }
  FUZZ_CHECK(bytes.size() == s.size,
             s.name + ": struct_from_json wrote " + std::to_string(bytes.size()) + " bytes");
  FUZZ_CHECK(canonical(s, bytes) == bytes,
             s.name + ": non-canonical bytes read from " + std::string(text));
  const std::string json = to_json_checked(d, s, bytes, text);
  std::vector<std::byte> again;
  FUZZ_CHECK(schema::struct_from_json(d, s, json, &again, &error),
             s.name + ": struct_from_json refuses what to_json wrote (" + json + "): " + error);
  FUZZ_CHECK(again == bytes, s.name + ": " + json + " reads back to other bytes");
}

void struct_bytes(const schema::Domain& d, const schema::Struct& s,
                  std::span<const std::byte> body) {
  std::string json;
  std::string error;
  if (body.size() != s.size) {
    FUZZ_CHECK(!schema::to_json(d, s, body, &json, &error),
               s.name + ": to_json accepts " + std::to_string(body.size()) + " bytes");
  }
  std::vector<std::byte> bytes(body.begin(),
                               body.begin() + std::min<std::size_t>(body.size(), s.size));
  bytes.resize(s.size, std::byte{0});
  if (!schema::to_json(d, s, bytes, &json, &error)) {
    FUZZ_CHECK(!error.empty() && json.empty(), "a refusal without an error, or with output");
    return;
  }
  std::vector<std::byte> back;
  FUZZ_CHECK(schema::struct_from_json(d, s, json, &back, &error),
             s.name + ": struct_from_json refuses what to_json wrote (" + json + "): " + error);
  FUZZ_CHECK(back == canonical(s, bytes), s.name + ": " + json + " reads back to other bytes");
}

// What a command read from JSON must satisfy; `rewrite` makes the JSON form again.
template <class Read, class Rewrite>
void command(const schema::Domain& d, std::string_view text, Read read, Rewrite rewrite) {
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  if (!read(text, &kind, &bytes, &error)) {
    FUZZ_CHECK(!error.empty() && bytes.empty(), "a refusal without an error, or with output");
    return;
  }
  const schema::Struct* c = d.find_command(kind);
  FUZZ_CHECK(c != nullptr, "a command of unknown kind " + std::to_string(kind));
  FUZZ_CHECK(bytes.size() == c->size, c->name + ": " + std::to_string(bytes.size()) + " bytes");
  const std::string fields = to_json_checked(d, *c, bytes, text);
  const std::string again_text = rewrite(*c, fields);
  if (again_text.empty()) return;
  std::uint16_t again_kind = 0;
  std::vector<std::byte> again;
  FUZZ_CHECK(read(again_text, &again_kind, &again, &error),
             c->name + ": refuses " + again_text + ": " + error);
  FUZZ_CHECK(again_kind == kind && again == bytes,
             c->name + ": " + again_text + " reads back to another command");
}

void envelope(const schema::Domain& d, std::string_view text) {
  command(
      d, text,
      [&](std::string_view t, std::uint16_t* kind, std::vector<std::byte>* bytes,
          std::string* error) { return schema::command_from_json(d, t, kind, bytes, error); },
      [](const schema::Struct& c, const std::string& fields) {
        return "{\"command\":\"" + c.name + "\",\"fields\":" + fields + "}";
      });
}

void command_line(const schema::Domain& d, std::string_view text) {
  command(
      d, text,
      [&](std::string_view t, std::uint16_t* kind, std::vector<std::byte>* bytes,
          std::string* error) { return schema::command_line_from_json(d, t, kind, bytes, error); },
      [](const schema::Struct& c, const std::string& fields) -> std::string {
        // A field called "kind" cannot be given in this form (json.h).
        if (c.find_field("kind") != nullptr) return {};
        const std::string head = "{\"kind\":\"" + c.name + "\"";
        return fields == "{}" ? head + "}" : head + "," + fields.substr(1);
      });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const JsonInput in = fuzz::decode_json_input({reinterpret_cast<const std::byte*>(data), size});
  const schema::Domain& d = in.domain->domain;
  const std::string_view text(reinterpret_cast<const char*>(in.body.data()), in.body.size());
  switch (in.mode) {
    case JsonMode::kStructText: struct_text(d, *in.s, text); break;
    case JsonMode::kStructBytes: struct_bytes(d, *in.s, in.body); break;
    case JsonMode::kEnvelope: envelope(d, text); break;
    case JsonMode::kCommandLine: command_line(d, text); break;
  }
  return 0;
}
