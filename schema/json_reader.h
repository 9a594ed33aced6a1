// The JSON reader of the codec (schema/json.h): a strict RFC 8259 parser into a small
// tree. Numbers are kept as their text, so integers never pass through a double. Refuses
// duplicate keys and nesting deeper than kJsonDepthMax, and names the byte offset of what
// it refuses. Internal to schema/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::schema::json_detail {

struct Member;

enum class Kind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

struct Value {
  Kind kind = Kind::kNull;
  std::size_t offset = 0;       // where the value starts in the input
  std::string_view number;      // kNumber: its text, a view of the input
  std::string string;           // kString: decoded, valid UTF-8
  std::vector<Member> members;  // kObject, in input order, keys distinct
  std::vector<Value> elements;  // kArray
};

struct Member {
  std::string key;
  std::size_t key_offset = 0;
  Value value;
};

// What a value of this kind is called in an error ("a number", "an object").
const char* describe(Kind kind) noexcept;

// Parses all of `text` as one JSON value into *out; false with *error (naming the byte
// offset) if it is not exactly one valid JSON value.
[[nodiscard]] bool parse_json(std::string_view text, Value* out, std::string* error);

}  // namespace lockstep::schema::json_detail
