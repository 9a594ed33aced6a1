// The text pieces of the JSON codec (schema/json.h): UTF-8 checks, JSON string
// escaping, 128-bit and fixed-point decimal text, and the parts of a JSON number. Shared
// by the JSON reader (json_reader.h) and the codec (json.cc); internal to schema/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lockstep::schema::json_detail {

inline constexpr std::size_t kExcerptBytesMax = 48;  // how much of a bad value an error quotes
inline constexpr std::size_t kEnumNamesListedMax = 8;
inline constexpr char kHexDigits[] = "0123456789abcdef";

// The length of the valid UTF-8 sequence at p[0..avail), or 0 if there is none (overlong
// forms, UTF-16 surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_bytes(const unsigned char* p, std::size_t avail) noexcept;

// The offset of the first byte of `s` that does not start valid UTF-8, or s.size().
std::size_t first_invalid_utf8(std::string_view s) noexcept;

void append_utf8(std::string* out, std::uint32_t cp);

// Appends `s` (valid UTF-8) as a JSON string: '"' and '\' escaped, bytes below 0x20 and
// 0x7f as \u00XX, everything else as it is.
void append_json_string(std::string* out, std::string_view s);

// `s` as a JSON string for an error message, cut to kExcerptBytesMax bytes (at a UTF-8
// boundary) with "..." after it. `s` must be valid UTF-8.
std::string quote(std::string_view s);

std::string hex_byte(unsigned c);

// (hi, lo) = (hi, lo) * 10 + digit; false (and the value unspecified) on overflow.
bool mul10_add(std::uint64_t* hi, std::uint64_t* lo, unsigned digit) noexcept;

std::string u128_to_decimal(std::uint64_t hi, std::uint64_t lo);

// An i64 count of 10^-scale units as text: exactly `scale` digits after the point.
std::string decimal_to_text(std::uint64_t bits, std::uint32_t scale);

// A JSON number's parts: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
struct NumberText {
  bool negative = false;
  std::string_view whole;     // the digits before the point
  std::string_view fraction;  // the digits after it
  bool has_fraction = false;
  bool has_exponent = false;
};

// Splits `t`; false unless all of it is one JSON number.
bool split_number(std::string_view t, NumberText* n);

// Accumulates decimal digits into (hi, lo); false on overflow of 128 bits.
bool accumulate(std::string_view digits, std::uint64_t* hi, std::uint64_t* lo) noexcept;

}  // namespace lockstep::schema::json_detail
