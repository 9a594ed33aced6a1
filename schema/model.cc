#include "schema/model.h"

#include <algorithm>

namespace lockstep::schema {

const char* to_string(FieldType type) noexcept {
  switch (type) {
    case FieldType::kU8: return "u8";
    case FieldType::kU16: return "u16";
    case FieldType::kU32: return "u32";
    case FieldType::kU64: return "u64";
    case FieldType::kI8: return "i8";
    case FieldType::kI16: return "i16";
    case FieldType::kI32: return "i32";
    case FieldType::kI64: return "i64";
    case FieldType::kU128: return "u128";
    case FieldType::kBool: return "bool";
    case FieldType::kEnum: return "enum";
    case FieldType::kDecimal: return "decimal";
    case FieldType::kBytes: return "bytes";
    case FieldType::kChars: return "char";
  }
  return "?";
}

const char* to_string(StructKind kind) noexcept {
  switch (kind) {
    case StructKind::kRecord: return "record";
    case StructKind::kCommand: return "command";
    case StructKind::kEvent: return "event";
  }
  return "?";
}

const EnumValue* Enum::find(const std::string& value_name) const noexcept {
  for (const EnumValue& v : values) {
    if (v.name == value_name) return &v;
  }
  return nullptr;
}

const EnumValue* Enum::find(std::uint64_t value) const noexcept {
  for (const EnumValue& v : values) {
    if (v.value == value) return &v;
  }
  return nullptr;
}

bool StateMachine::allows(std::uint64_t from, std::uint64_t to) const noexcept {
  if (from == to) return true;
  const Transition t{from, to};
  return std::binary_search(transitions.begin(), transitions.end(), t,
                            [](const Transition& a, const Transition& b) {
                              return a.from != b.from ? a.from < b.from : a.to < b.to;
                            });
}

bool StateMachine::allows_initial(std::uint64_t value) const noexcept {
  return initial.empty() || std::binary_search(initial.begin(), initial.end(), value);
}

const Field* Struct::find_field(const std::string& field_name) const noexcept {
  for (const Field& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

const Struct* Domain::find_command(std::uint32_t kind) const noexcept {
  for (const Struct& s : commands) {
    if (s.number == kind) return &s;
  }
  return nullptr;
}

const Struct* Domain::find_event(std::uint32_t kind) const noexcept {
  for (const Struct& s : events) {
    if (s.number == kind) return &s;
  }
  return nullptr;
}

const Struct* Domain::find_struct(const std::string& struct_name) const noexcept {
  for (const auto* list : {&records, &commands, &events}) {
    for (const Struct& s : *list) {
      if (s.name == struct_name) return &s;
    }
  }
  return nullptr;
}

const Reject* Domain::find_reject(std::uint32_t code) const noexcept {
  for (const Reject& r : rejects) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

namespace {

std::uint32_t scalar_size(FieldType type) noexcept {
  switch (type) {
    case FieldType::kU8:
    case FieldType::kI8:
    case FieldType::kBool: return 1;
    case FieldType::kU16:
    case FieldType::kI16: return 2;
    case FieldType::kU32:
    case FieldType::kI32: return 4;
    case FieldType::kU64:
    case FieldType::kI64:
    case FieldType::kDecimal: return 8;
    case FieldType::kU128: return 16;
    default: return 0;
  }
}

void size_field(const Domain& domain, Field& f) {
  switch (f.type) {
    case FieldType::kEnum:
      f.size = scalar_size(domain.enums[f.enum_index].underlying);
      f.align = f.size;
      break;
    case FieldType::kBytes:
    case FieldType::kChars:
      f.size = f.array_bytes;
      f.align = 1;
      break;
    case FieldType::kU128:
      f.size = 16;
      f.align = 8;  // two u64 words, not __int128: the same layout on every compiler
      break;
    default:
      f.size = scalar_size(f.type);
      f.align = f.size;
      break;
  }
}

void lay_out_struct(const Domain& domain, Struct& s) {
  std::uint32_t offset = 0;
  s.align = 1;
  for (Field& f : s.fields) {
    size_field(domain, f);
    offset = (offset + f.align - 1) / f.align * f.align;
    f.offset = offset;
    offset += f.size;
    s.align = std::max(s.align, f.align);
  }
  s.size = (offset + s.align - 1) / s.align * s.align;
  const auto encode = [&](Key& k) {
    k.encoded_bytes = 0;
    for (std::uint32_t i : k.fields) k.encoded_bytes += key_encoded_bytes(s.fields[i]);
  };
  if (s.kind == StructKind::kRecord) {
    encode(s.primary);
    for (Key& k : s.uniques) encode(k);
    for (Key& k : s.indexes) encode(k);
  }
}

}  // namespace

std::string snake_case(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0) {
      const char prev = name[i - 1];
      if ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9')) out += '_';
    }
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string table_accessor_name(const std::string& record_name) {
  std::string s = snake_case(record_name);
  const auto ends = [&](const char* suffix) {
    const std::string x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  const auto vowel = [](char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
  };
  if (s.size() >= 2 && s.back() == 'y' && !vowel(s[s.size() - 2])) {
    s.back() = 'i';
    return s + "es";
  }
  if (ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh")) return s + "es";
  return s + "s";
}

std::uint32_t key_encoded_bytes(const Field& field) noexcept { return field.size; }

void lay_out(Domain& domain) {
  for (auto* list : {&domain.records, &domain.commands, &domain.events}) {
    for (Struct& s : *list) lay_out_struct(domain, s);
  }
}

}  // namespace lockstep::schema
