#include "schema/json_text.h"

#include <algorithm>
#include <limits>

namespace lockstep::schema::json_detail {

// ---------------------------------------------------------------------------------------
// UTF-8 and JSON strings.

// The length of the valid UTF-8 sequence at p[0..avail), or 0 if there is none (overlong
// forms, UTF-16 surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_bytes(const unsigned char* p, std::size_t avail) noexcept {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;  // the allowed range of the second byte
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (avail < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return n;
}

// The offset of the first byte of `s` that does not start valid UTF-8, or s.size().
std::size_t first_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_bytes(p + i, s.size() - i);
    if (n == 0) return i;
    i += n;
  }
  return i;
}

void append_utf8(std::string* out, std::uint32_t cp) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Appends `s` (valid UTF-8) as a JSON string: '"' and '\' escaped, bytes below 0x20 and
// 0x7f as \u00XX, everything else as it is.
void append_json_string(std::string* out, std::string_view s) {
  *out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += ch;
    } else if (c < 0x20 || c == 0x7F) {
      *out += "\\u00";
      *out += kHexDigits[c >> 4];
      *out += kHexDigits[c & 0xF];
    } else {
      *out += ch;
    }
  }
  *out += '"';
}

// `s` as a JSON string for an error message, cut to kExcerptBytesMax bytes (at a UTF-8
// boundary) with "..." after it. `s` must be valid UTF-8.
std::string quote(std::string_view s) {
  std::string out;
  if (s.size() <= kExcerptBytesMax) {
    append_json_string(&out, s);
    return out;
  }
  std::size_t n = kExcerptBytesMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  append_json_string(&out, s.substr(0, n));
  return out + "...";
}

std::string hex_byte(unsigned c) {
  return std::string("0x") + kHexDigits[(c >> 4) & 0xF] + kHexDigits[c & 0xF];
}

// ---------------------------------------------------------------------------------------
// 128-bit and decimal arithmetic on two u64 words (no __int128: ISO C++ has none).

// (hi, lo) = (hi, lo) * 10 + digit; false (and the value unspecified) on overflow.
bool mul10_add(std::uint64_t* hi, std::uint64_t* lo, unsigned digit) noexcept {
  const std::uint64_t a = (*lo & 0xFFFFFFFFu) * 10 + digit;  // < 2^36
  const std::uint64_t b = (*lo >> 32) * 10 + (a >> 32);      // < 2^36 + 2^4
  const std::uint64_t carry = b >> 32;
  if (*hi > (std::numeric_limits<std::uint64_t>::max() - carry) / 10) return false;
  *hi = *hi * 10 + carry;
  *lo = (b << 32) | (a & 0xFFFFFFFFu);
  return true;
}

std::string u128_to_decimal(std::uint64_t hi, std::uint64_t lo) {
  if (hi == 0) return std::to_string(lo);
  std::uint64_t limbs[4] = {hi >> 32, hi & 0xFFFFFFFFu, lo >> 32, lo & 0xFFFFFFFFu};
  std::string digits;
  while (limbs[0] != 0 || limbs[1] != 0 || limbs[2] != 0 || limbs[3] != 0) {
    std::uint64_t rem = 0;
    for (std::uint64_t& limb : limbs) {
      const std::uint64_t cur = (rem << 32) | limb;
      limb = cur / 10;
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// An i64 count of 10^-scale units as text: exactly `scale` digits after the point.
std::string decimal_to_text(std::uint64_t bits, std::uint32_t scale) {
  const bool negative = (bits >> 63) != 0;
  const std::uint64_t magnitude = negative ? 0 - bits : bits;
  std::string digits = std::to_string(magnitude);
  if (digits.size() < scale + 1) digits.insert(0, scale + 1 - digits.size(), '0');
  if (scale > 0) digits.insert(digits.size() - scale, 1, '.');
  return negative ? "-" + digits : digits;
}

// ---------------------------------------------------------------------------------------
// Numbers as text.

// Splits `t`; false unless all of it is one JSON number.
bool split_number(std::string_view t, NumberText* n) {
  std::size_t i = 0;
  const auto run = [&] {
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return t.substr(start, i - start);
  };
  if (i < t.size() && t[i] == '-') {
    n->negative = true;
    ++i;
  }
  n->whole = run();
  if (n->whole.empty() || (n->whole.size() > 1 && n->whole[0] == '0')) return false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    n->has_fraction = true;
    n->fraction = run();
    if (n->fraction.empty()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    n->has_exponent = true;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (run().empty()) return false;
  }
  return i == t.size();
}

// Accumulates decimal digits into (hi, lo); false on overflow of 128 bits.
bool accumulate(std::string_view digits, std::uint64_t* hi, std::uint64_t* lo) noexcept {
  for (const char c : digits) {
    if (!mul10_add(hi, lo, static_cast<unsigned>(c - '0'))) return false;
  }
  return true;
}

}  // namespace lockstep::schema::json_detail
