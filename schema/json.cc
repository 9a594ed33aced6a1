#include "schema/json.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/endian.h"
#include "schema/json_reader.h"
#include "schema/json_text.h"

namespace lockstep::schema {

using namespace json_detail;

namespace {

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
  if (!parse_json(json_object, &root, error)) return false;
  return read_struct(domain, s, root, bytes, error);
}

bool command_from_json(const Domain& domain, std::string_view json, std::uint16_t* kind,
                       std::vector<std::byte>* bytes, std::string* error) {
  Value root;
  if (!parse_json(json, &root, error)) return false;
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
  if (!parse_json(json, &root, error)) return false;
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
