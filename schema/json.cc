#include "schema/json.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/endian.h"

namespace lockstep::schema {

namespace {

// ---------------------------------------------------------------------------------------
// Text helpers shared by the writer and the reader.

constexpr std::size_t kExcerptBytesMax = 48;  // how much of a bad value an error quotes
constexpr std::size_t kEnumNamesListedMax = 8;
constexpr char kHexDigits[] = "0123456789abcdef";

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
// The JSON reader: a strict RFC 8259 parser into a small tree. Numbers are kept as their
// text, so integers never pass through a double.

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

const char* describe(Kind kind) noexcept {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kFalse: return "false";
    case Kind::kTrue: return "true";
    case Kind::kNumber: return "a number";
    case Kind::kString: return "a string";
    case Kind::kArray: return "an array";
    case Kind::kObject: return "an object";
  }
  return "?";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  // Parses the whole input as one JSON value.
  [[nodiscard]] bool parse(Value* out, std::string* error) {
    skip_whitespace();
    if (value(out, 0)) {
      skip_whitespace();
      if (pos_ != text_.size()) fail("unexpected " + found() + " after the JSON value");
    }
    if (!error_.empty()) {
      *error = error_;
      return false;
    }
    return true;
  }

 private:
  bool at_end() const noexcept { return pos_ >= text_.size(); }
  unsigned char peek() const noexcept { return static_cast<unsigned char>(text_[pos_]); }

  // What is at pos_, for an error message.
  std::string found() const {
    if (at_end()) return "end of input";
    const unsigned char c = peek();
    if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + hex_byte(c);
  }

  // Records the error at pos_ and returns false.
  bool fail(const std::string& what) { return fail_at(pos_, what); }
  bool fail_at(std::size_t at, const std::string& what) {
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    error_ = "JSON syntax error at byte " + std::to_string(at) + " (line " + std::to_string(line) +
             ", column " + std::to_string(at - line_start + 1) + "): " + what;
    return false;
  }

  void skip_whitespace() noexcept {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  bool value(Value* out, std::size_t depth) {
    out->offset = pos_;
    if (at_end()) return fail("expected a JSON value, found end of input");
    switch (peek()) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': out->kind = Kind::kString; return string(&out->string);
      case 't': out->kind = Kind::kTrue; return literal("true");
      case 'f': out->kind = Kind::kFalse; return literal("false");
      case 'n': out->kind = Kind::kNull; return literal("null");
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          out->kind = Kind::kNumber;
          return number(&out->number);
        }
        return fail("expected a JSON value, found " + found());
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return fail("expected '" + std::string(word) + "', found " + found());
    }
    pos_ += word.size();
    return true;
  }

  bool digits(const char* where) {
    if (at_end() || peek() < '0' || peek() > '9') {
      return fail(std::string("expected a digit ") + where + ", found " + found());
    }
    while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number(std::string_view* out) {
    const std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (!at_end() && peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') {
        return fail("a number cannot have a leading zero");
      }
    } else if (!digits("in the number")) {
      return false;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits("after the decimal point")) return false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits("in the exponent")) return false;
    }
    *out = text_.substr(start, pos_ - start);
    return true;
  }

  // Four hex digits at pos_, after "\u".
  bool hex4(std::uint32_t* out) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) return fail("expected 4 hex digits after \\u, found end of input");
      const unsigned char c = peek();
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return fail("expected 4 hex digits after \\u, found " + found());
      }
      v = v * 16 + d;
      ++pos_;
    }
    *out = v;
    return true;
  }

  // After the backslash of "\uXXXX": one code point, a surrogate pair taking two escapes.
  bool unicode_escape(std::string* out) {
    const std::size_t start = pos_ - 1;  // the backslash
    ++pos_;                              // 'u'
    std::uint32_t cp = 0;
    if (!hex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail_at(start, "unpaired low surrogate \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") {
        return fail_at(start, "high surrogate \\u escape not followed by a low one");
      }
      pos_ += 2;
      std::uint32_t low = 0;
      if (!hex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail_at(start, "high surrogate \\u escape not followed by a low one");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  bool string(std::string* out) {
    const std::size_t start = pos_;
    ++pos_;  // the opening quote
    for (;;) {
      if (at_end()) return fail_at(start, "unterminated string");
      const unsigned char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("raw control character " + hex_byte(c) + " in a string");
      if (c == '\\') {
        ++pos_;
        if (at_end()) return fail_at(start, "unterminated string");
        const char e = static_cast<char>(peek());
        static constexpr std::string_view kFrom = "\"\\/bfnrt";
        static constexpr std::string_view kTo = "\"\\/\b\f\n\r\t";
        if (const std::size_t i = kFrom.find(e); i != std::string_view::npos) {
          *out += kTo[i];
          ++pos_;
        } else if (e == 'u') {
          if (!unicode_escape(out)) return false;
        } else {
          return fail("unknown escape \\" + found());
        }
        continue;
      }
      const std::size_t n = utf8_sequence_bytes(
          reinterpret_cast<const unsigned char*>(text_.data()) + pos_, text_.size() - pos_);
      if (n == 0) return fail("invalid UTF-8 in a string");
      out->append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  bool object(Value* out, std::size_t depth) {
    if (depth > kJsonDepthMax) {
      return fail("nesting deeper than " + std::to_string(kJsonDepthMax) + " levels");
    }
    out->kind = Kind::kObject;
    ++pos_;  // '{'
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      if (at_end() || peek() != '"') return fail("expected a string key, found " + found());
      if (out->members.size() == kJsonObjectMembersMax) {
        return fail("object has more than " + std::to_string(kJsonObjectMembersMax) + " members");
      }
      Member m;
      m.key_offset = pos_;
      if (!string(&m.key)) return false;
      for (const Member& other : out->members) {
        if (other.key == m.key) {
          return fail_at(m.key_offset, "duplicate key " + quote(m.key) + " (first at byte " +
                                           std::to_string(other.key_offset) + ")");
        }
      }
      skip_whitespace();
      if (at_end() || peek() != ':')
        return fail("expected ':' after an object key, found " + found());
      ++pos_;
      skip_whitespace();
      if (!value(&m.value, depth)) return false;
      out->members.push_back(std::move(m));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        skip_whitespace();
        continue;
      }
      if (!at_end() && peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}' in an object, found " + found());
    }
  }

  bool array(Value* out, std::size_t depth) {
    if (depth > kJsonDepthMax) {
      return fail("nesting deeper than " + std::to_string(kJsonDepthMax) + " levels");
    }
    out->kind = Kind::kArray;
    ++pos_;  // '['
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      Value v;
      if (!value(&v, depth)) return false;
      out->elements.push_back(std::move(v));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
        skip_whitespace();
        continue;
      }
      if (!at_end() && peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']' in an array, found " + found());
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

// ---------------------------------------------------------------------------------------
// Numbers as text.

// A JSON number's parts: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
struct NumberText {
  bool negative = false;
  std::string_view whole;     // the digits before the point
  std::string_view fraction;  // the digits after it
  bool has_fraction = false;
  bool has_exponent = false;
};

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

// ---------------------------------------------------------------------------------------
// The model: sizes by type, and a check that a Struct's layout is safe to follow.

bool is_integer(FieldType t) noexcept {
  return t == FieldType::kU8 || t == FieldType::kU16 || t == FieldType::kU32 ||
         t == FieldType::kU64 || t == FieldType::kI8 || t == FieldType::kI16 ||
         t == FieldType::kI32 || t == FieldType::kI64;
}

bool is_signed(FieldType t) noexcept {
  return t == FieldType::kI8 || t == FieldType::kI16 || t == FieldType::kI32 ||
         t == FieldType::kI64;
}

// The bytes a field of this type occupies; 0 if the model is inconsistent.
std::uint64_t expected_size(const Domain& d, const Field& f) noexcept {
  switch (f.type) {
    case FieldType::kU8:
    case FieldType::kI8:
    case FieldType::kBool: return 1;
    case FieldType::kU16:
    case FieldType::kI16: return 2;
    case FieldType::kU32:
    case FieldType::kI32: return 4;
    case FieldType::kU64:
    case FieldType::kI64: return 8;
    case FieldType::kDecimal: return f.scale <= kDecimalScaleMax ? 8 : 0;
    case FieldType::kU128: return 16;
    case FieldType::kEnum:
      if (f.enum_index >= d.enums.size()) return 0;
      switch (d.enums[f.enum_index].underlying) {
        case FieldType::kU8: return 1;
        case FieldType::kU16: return 2;
        case FieldType::kU32: return 4;
        default: return 0;
      }
    case FieldType::kBytes:
    case FieldType::kChars: return f.array_bytes;
  }
  return 0;
}

bool check_model(const Domain& d, const Struct& s, std::string* error) {
  for (const Field& f : s.fields) {
    const std::uint64_t size = expected_size(d, f);
    if (size == 0 || f.size != size ||
        static_cast<std::uint64_t>(f.offset) + f.size > static_cast<std::uint64_t>(s.size)) {
      *error = "schema model: " + s.name + "." + f.name + " (" + to_string(f.type) + ", " +
               std::to_string(f.size) + " bytes at offset " + std::to_string(f.offset) +
               ") does not fit the struct's " + std::to_string(s.size) + " bytes";
      return false;
    }
  }
  return true;
}

// The field's type as the schema spells it: "u32", "decimal(2)", "char[16]", "AccountStatus".
std::string type_name(const Domain& d, const Field& f) {
  switch (f.type) {
    case FieldType::kDecimal: return "decimal(" + std::to_string(f.scale) + ")";
    case FieldType::kBytes:
    case FieldType::kChars:
      return std::string(to_string(f.type)) + "[" + std::to_string(f.array_bytes) + "]";
    case FieldType::kEnum: return "enum " + d.enums[f.enum_index].name;
    default: return to_string(f.type);
  }
}

// ---------------------------------------------------------------------------------------
// Writing.

class Writer {
 public:
  Writer(const Domain& d, const Struct& s, std::string* error) : d_(d), s_(s), error_(error) {}

  bool field(const Field& f, const std::byte* p, std::string* out) {
    switch (f.type) {
      case FieldType::kU8:
      case FieldType::kU16:
      case FieldType::kU32:
      case FieldType::kU64: *out += std::to_string(load_le_bytes(p, f.size)); return true;
      case FieldType::kI8:
      case FieldType::kI16:
      case FieldType::kI32:
      case FieldType::kI64: signed_integer(load_le_bytes(p, f.size), f.size, out); return true;
      case FieldType::kU128:
        *out += '"' + u128_to_decimal(load_le_bytes(p + 8, 8), load_le_bytes(p, 8)) + '"';
        return true;
      case FieldType::kBool: return boolean(f, std::to_integer<unsigned>(p[0]), out);
      case FieldType::kEnum: return enumeration(f, load_le_bytes(p, f.size), out);
      case FieldType::kDecimal:
        *out += '"' + decimal_to_text(load_le_bytes(p, 8), f.scale) + '"';
        return true;
      case FieldType::kChars: return chars(f, p, out);
      case FieldType::kBytes:
        *out += '"';
        for (std::uint32_t i = 0; i < f.size; ++i) {
          const auto b = std::to_integer<unsigned>(p[i]);
          *out += kHexDigits[b >> 4];
          *out += kHexDigits[b & 0xF];
        }
        *out += '"';
        return true;
    }
    return fail(f, "unknown field type");
  }

 private:
  bool fail(const Field& f, const std::string& what) {
    *error_ = s_.name + "." + f.name + ": " + what;
    return false;
  }

  static void signed_integer(std::uint64_t v, std::uint32_t size, std::string* out) {
    if (size < 8 && (v >> (8 * size - 1)) != 0) v |= ~std::uint64_t{0} << (8 * size);  // extend
    if ((v >> 63) != 0) {
      *out += '-';
      v = 0 - v;
    }
    *out += std::to_string(v);
  }

  bool boolean(const Field& f, unsigned b, std::string* out) {
    if (b > 1) return fail(f, "byte " + hex_byte(b) + " is not a bool (0 or 1)");
    *out += b == 1 ? "true" : "false";
    return true;
  }

  bool enumeration(const Field& f, std::uint64_t v, std::string* out) {
    const Enum& e = d_.enums[f.enum_index];
    const EnumValue* ev = e.find(v);
    if (ev == nullptr) return fail(f, std::to_string(v) + " is not a value of enum " + e.name);
    append_json_string(out, ev->name);
    return true;
  }

  bool chars(const Field& f, const std::byte* p, std::string* out) {
    const std::string_view all(reinterpret_cast<const char*>(p), f.size);
    const std::string_view s = all.substr(0, std::min(all.find('\0'), all.size()));
    if (const std::size_t bad = first_invalid_utf8(s); bad != s.size()) {
      return fail(f, "byte " + std::to_string(bad) + " (" +
                         hex_byte(static_cast<unsigned char>(s[bad])) +
                         ") does not start valid UTF-8");
    }
    append_json_string(out, s);
    return true;
  }

  const Domain& d_;
  const Struct& s_;
  std::string* error_;
};

// ---------------------------------------------------------------------------------------
// Reading: a parsed JSON value into a field's bytes.

class FieldReader {
 public:
  FieldReader(const Domain& d, const Struct& s, std::string* error) : d_(d), s_(s), error_(error) {}

  // Writes `v` into p[0..f.size).
  bool field(const Field& f, const Value& v, std::byte* p) {
    if (is_integer(f.type)) return integer(f, v, p);
    switch (f.type) {
      case FieldType::kU128: return u128(f, v, p);
      case FieldType::kBool:
        if (v.kind != Kind::kTrue && v.kind != Kind::kFalse)
          return wrong_type(f, v, "true or false");
        p[0] = std::byte{v.kind == Kind::kTrue ? std::uint8_t{1} : std::uint8_t{0}};
        return true;
      case FieldType::kEnum: return enumeration(f, v, p);
      case FieldType::kDecimal: return decimal(f, v, p);
      case FieldType::kChars: return chars(f, v, p);
      case FieldType::kBytes: return bytes(f, v, p);
      default: return fail(f, v, "unknown field type");
    }
  }

 private:
  bool fail(const Field& f, const Value& v, const std::string& what) {
    *error_ = s_.name + "." + f.name + " (byte " + std::to_string(v.offset) + "): " + what;
    return false;
  }

  bool wrong_type(const Field& f, const Value& v, const char* expected) {
    return fail(f, v,
                std::string("expected ") + expected + " for " + type_name(d_, f) + ", got " +
                    describe(v.kind));
  }

  // The text of a number or a numeric string, for error messages.
  static std::string excerpt(const Value& v) {
    return v.kind == Kind::kString ? quote(v.string) : quote(v.number);
  }

  bool out_of_range(const Field& f, const Value& v, const std::string& range) {
    return fail(f, v, excerpt(v) + " is out of range for " + type_name(d_, f) + " (" + range + ")");
  }

  bool integer(const Field& f, const Value& v, std::byte* p) {
    if (v.kind != Kind::kNumber) return wrong_type(f, v, "a number");
    NumberText n;
    const bool ok = split_number(v.number, &n);
    if (!ok || n.has_fraction || n.has_exponent) {
      return fail(f, v, "expected an integer for " + type_name(d_, f) + ", got " + excerpt(v));
    }
    const unsigned bits = 8 * f.size;
    const bool is_s = is_signed(f.type);
    const std::uint64_t max =
        is_s ? (std::uint64_t{1} << (bits - 1)) - 1
             : (bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1);
    const std::uint64_t min_magnitude = is_s ? max + 1 : 0;
    const std::string range = is_s
                                  ? "-" + std::to_string(min_magnitude) + ".." + std::to_string(max)
                                  : "0.." + std::to_string(max);
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    if (!accumulate(n.whole, &hi, &lo) || hi != 0) return out_of_range(f, v, range);
    if (n.negative ? lo > min_magnitude : lo > max) return out_of_range(f, v, range);
    store_le_bytes(p, n.negative ? 0 - lo : lo, f.size);
    return true;
  }

  bool u128(const Field& f, const Value& v, std::byte* p) {
    if (v.kind != Kind::kNumber && v.kind != Kind::kString) {
      return wrong_type(f, v, "a string of decimal digits or a number");
    }
    if (v.kind == Kind::kString && v.string.size() > 2 && v.string[0] == '0' &&
        (v.string[1] == 'x' || v.string[1] == 'X')) {
      // 0x-prefixed hex, 1 to 32 digits.
      const std::string_view hex = std::string_view(v.string).substr(2);
      if (hex.size() > 32) {
        return out_of_range(f, v, "0.." + u128_to_decimal(~std::uint64_t{0}, ~std::uint64_t{0}));
      }
      std::uint64_t hi = 0;
      std::uint64_t lo = 0;
      for (const char c : hex) {
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
        if (d < 0) return fail(f, v, "expected hex digits after 0x for u128, got " + excerpt(v));
        hi = (hi << 4) | (lo >> 60);
        lo = (lo << 4) | static_cast<std::uint64_t>(d);
      }
      store_le_bytes(p, lo, 8);
      store_le_bytes(p + 8, hi, 8);
      return true;
    }
    NumberText n;
    const bool ok = split_number(v.kind == Kind::kString ? v.string : v.number, &n);
    if (!ok || n.has_fraction || n.has_exponent) {
      return fail(f, v, "expected an integer for u128, got " + excerpt(v));
    }
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    if (!accumulate(n.whole, &hi, &lo) || (n.negative && (hi != 0 || lo != 0))) {
      return out_of_range(f, v, "0.." + u128_to_decimal(~std::uint64_t{0}, ~std::uint64_t{0}));
    }
    store_le_bytes(p, lo, 8);
    store_le_bytes(p + 8, hi, 8);
    return true;
  }

  bool enumeration(const Field& f, const Value& v, std::byte* p) {
    const Enum& e = d_.enums[f.enum_index];
    if (v.kind != Kind::kString) return wrong_type(f, v, "a value name (string)");
    const EnumValue* ev = e.find(v.string);
    if (ev == nullptr) {
      std::string names;
      for (std::size_t i = 0; i < e.values.size() && i < kEnumNamesListedMax; ++i) {
        names += (i == 0 ? "" : ", ") + e.values[i].name;
      }
      if (e.values.size() > kEnumNamesListedMax) names += ", ...";
      return fail(f, v, quote(v.string) + " is not a value of enum " + e.name + " (" + names + ")");
    }
    store_le_bytes(p, ev->value, f.size);
    return true;
  }

  bool decimal(const Field& f, const Value& v, std::byte* p) {
    if (v.kind != Kind::kNumber && v.kind != Kind::kString) {
      return wrong_type(f, v, "a string or a number");
    }
    NumberText n;
    if (!split_number(v.kind == Kind::kString ? v.string : v.number, &n) || n.has_exponent) {
      return fail(f, v,
                  "expected a decimal number like \"-12.34\" for " + type_name(d_, f) + ", got " +
                      excerpt(v) + (n.has_exponent ? " (no exponents)" : ""));
    }
    if (n.fraction.size() > f.scale) {
      return fail(f, v,
                  type_name(d_, f) + " allows at most " + std::to_string(f.scale) +
                      " digits after the point, got " + std::to_string(n.fraction.size()) + " in " +
                      excerpt(v));
    }
    constexpr std::uint64_t kMaxUnits = std::numeric_limits<std::int64_t>::max();
    const std::string range =
        decimal_to_text(kMaxUnits + 1, f.scale) + ".." + decimal_to_text(kMaxUnits, f.scale);
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    bool ok = accumulate(n.whole, &hi, &lo) && accumulate(n.fraction, &hi, &lo);
    for (std::size_t i = n.fraction.size(); ok && i < f.scale; ++i) ok = mul10_add(&hi, &lo, 0);
    if (!ok || hi != 0 || lo > (n.negative ? kMaxUnits + 1 : kMaxUnits)) {
      return out_of_range(f, v, range);
    }
    store_le_bytes(p, n.negative ? 0 - lo : lo, 8);
    return true;
  }

  bool chars(const Field& f, const Value& v, std::byte* p) {
    if (v.kind != Kind::kString) return wrong_type(f, v, "a string");
    if (v.string.find('\0') != std::string::npos) {
      return fail(f, v, "contains U+0000, which " + type_name(d_, f) + " cannot hold");
    }
    if (v.string.size() > f.size) {
      return fail(f, v,
                  quote(v.string) + " is " + std::to_string(v.string.size()) +
                      " bytes of UTF-8, longer than " + type_name(d_, f));
    }
    std::copy_n(reinterpret_cast<const std::byte*>(v.string.data()), v.string.size(), p);
    return true;
  }

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool bytes(const Field& f, const Value& v, std::byte* p) {
    if (v.kind != Kind::kString) return wrong_type(f, v, "a hex string");
    const std::string& s = v.string;
    if (s.size() != 2 * static_cast<std::size_t>(f.size)) {
      return fail(f, v,
                  "expected " + std::to_string(2 * static_cast<std::size_t>(f.size)) +
                      " hex digits for " + type_name(d_, f) + ", got " + std::to_string(s.size()) +
                      " characters");
    }
    for (std::size_t i = 0; i < s.size(); i += 2) {
      const int a = hex_value(s[i]);
      const int b = hex_value(s[i + 1]);
      if (a < 0 || b < 0) {
        const std::size_t at = a < 0 ? i : i + 1;
        return fail(f, v,
                    "character " + std::to_string(at) + " of " + quote(s) + " is not a hex digit");
      }
      p[i / 2] = static_cast<std::byte>(a * 16 + b);
    }
    return true;
  }

  const Domain& d_;
  const Struct& s_;
  std::string* error_;
};

// Reads `obj` (any JSON value; it must be an object) as struct `s`.
bool read_struct(const Domain& d, const Struct& s, const Value& obj, std::vector<std::byte>* bytes,
                 std::string* error) {
  if (!check_model(d, s, error)) return false;
  if (obj.kind != Kind::kObject) {
    *error = s.name + " (byte " + std::to_string(obj.offset) + "): expected an object, got " +
             describe(obj.kind);
    return false;
  }
  std::vector<std::byte> out(s.size);  // zero: padding and char[N] tails stay zero
  std::vector<bool> seen(s.fields.size(), false);
  FieldReader reader(d, s, error);
  for (const Member& m : obj.members) {
    const Field* f = s.find_field(m.key);
    if (f == nullptr) {
      *error =
          s.name + " (byte " + std::to_string(m.key_offset) + "): unknown field " + quote(m.key);
      return false;
    }
    seen[static_cast<std::size_t>(f - s.fields.data())] = true;
    if (!reader.field(*f, m.value, out.data() + f->offset)) return false;
  }
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    if (!seen[i]) {
      *error = s.name + "." + s.fields[i].name + ": missing (every field is required)";
      return false;
    }
  }
  *bytes = std::move(out);
  return true;
}

}  // namespace

bool to_json(const Domain& domain, const Struct& s, std::span<const std::byte> bytes,
             std::string* out, std::string* error) {
  if (!check_model(domain, s, error)) return false;
  if (bytes.size() != s.size) {
    *error = s.name + ": expected " + std::to_string(s.size) + " bytes, got " +
             std::to_string(bytes.size());
    return false;
  }
  std::string json = "{";
  Writer writer(domain, s, error);
  for (const Field& f : s.fields) {
    if (json.size() > 1) json += ',';
    append_json_string(&json, f.name);
    json += ':';
    if (!writer.field(f, bytes.data() + f.offset, &json)) return false;
  }
  json += '}';
  *out = std::move(json);
  return true;
}

bool struct_from_json(const Domain& domain, const Struct& s, std::string_view json_object,
                      std::vector<std::byte>* bytes, std::string* error) {
  Value root;
  if (!Parser(json_object).parse(&root, error)) return false;
  return read_struct(domain, s, root, bytes, error);
}

bool command_from_json(const Domain& domain, std::string_view json, std::uint16_t* kind,
                       std::vector<std::byte>* bytes, std::string* error) {
  Value root;
  if (!Parser(json).parse(&root, error)) return false;
  if (root.kind != Kind::kObject) {
    *error = "command envelope (byte " + std::to_string(root.offset) +
             "): expected an object {\"command\": NAME, \"fields\": {...}}, got " +
             describe(root.kind);
    return false;
  }
  const Value* name = nullptr;
  const Value* fields = nullptr;
  for (const Member& m : root.members) {
    if (m.key == "command") {
      name = &m.value;
    } else if (m.key == "fields") {
      fields = &m.value;
    } else {
      *error = "command envelope (byte " + std::to_string(m.key_offset) + "): unknown member " +
               quote(m.key) + " (it has \"command\" and \"fields\")";
      return false;
    }
  }
  if (name == nullptr || fields == nullptr) {
    *error = std::string("command envelope: missing ") +
             (name == nullptr ? "\"command\"" : "\"fields\"");
    return false;
  }
  if (name->kind != Kind::kString) {
    *error = "command envelope (byte " + std::to_string(name->offset) +
             "): \"command\" must be a command name (string), got " + describe(name->kind);
    return false;
  }
  const auto it = std::find_if(domain.commands.begin(), domain.commands.end(),
                               [&](const Struct& c) { return c.name == name->string; });
  if (it == domain.commands.end()) {
    *error = "command envelope (byte " + std::to_string(name->offset) + "): unknown command " +
             quote(name->string) + " in domain " + domain.name;
    return false;
  }
  if (it->number == 0 || it->number > kKindMax) {
    *error = "schema model: command " + it->name + " has kind " + std::to_string(it->number);
    return false;
  }
  std::vector<std::byte> payload;
  if (!read_struct(domain, *it, *fields, &payload, error)) return false;
  *kind = static_cast<std::uint16_t>(it->number);
  *bytes = std::move(payload);
  return true;
}

bool command_line_from_json(const Domain& domain, std::string_view json, std::uint16_t* kind,
                            std::vector<std::byte>* bytes, std::string* error) {
  Value root;
  if (!Parser(json).parse(&root, error)) return false;
  if (root.kind != Kind::kObject) {
    *error = "command (byte " + std::to_string(root.offset) +
             "): expected an object {\"kind\": NAME, FIELD: VALUE, ...}, got " +
             describe(root.kind);
    return false;
  }
  const auto named = std::find_if(root.members.begin(), root.members.end(),
                                  [](const Member& m) { return m.key == "kind"; });
  if (named == root.members.end()) {
    *error = "command: missing \"kind\" (the command's name)";
    return false;
  }
  if (named->value.kind != Kind::kString) {
    *error = "\"kind\" (byte " + std::to_string(named->value.offset) +
             "): \"kind\" must be a command name (string), got " + describe(named->value.kind);
    return false;
  }
  const auto it = std::find_if(domain.commands.begin(), domain.commands.end(),
                               [&](const Struct& c) { return c.name == named->value.string; });
  if (it == domain.commands.end()) {
    *error = "\"kind\" (byte " + std::to_string(named->value.offset) + "): unknown command " +
             quote(named->value.string) + " in domain " + domain.name;
    return false;
  }
  if (it->number == 0 || it->number > kKindMax) {
    *error = "schema model: command " + it->name + " has kind " + std::to_string(it->number);
    return false;
  }
  const auto at = named - root.members.begin();
  Value fields = std::move(root);
  fields.members.erase(fields.members.begin() + at);
  std::vector<std::byte> payload;
  if (!read_struct(domain, *it, fields, &payload, error)) return false;
  *kind = static_cast<std::uint16_t>(it->number);
  *bytes = std::move(payload);
  return true;
}

}  // namespace lockstep::schema
