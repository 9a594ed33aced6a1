#include "schema/json_reader.h"

#include <utility>

#include "schema/json.h"
#include "schema/json_text.h"

namespace lockstep::schema::json_detail {

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

namespace {

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

}  // namespace

bool parse_json(std::string_view text, Value* out, std::string* error) {
  return Parser(text).parse(out, error);
}

}  // namespace lockstep::schema::json_detail
