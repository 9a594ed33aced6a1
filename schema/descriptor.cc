#include "schema/descriptor.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>
#include <utility>

namespace lockstep::schema {

namespace {

constexpr std::array<std::byte, 4> kMagic = {std::byte{'L'}, std::byte{'S'}, std::byte{'S'},
                                             std::byte{'D'}};

class Writer {
 public:
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void u8(std::uint8_t v) { bytes(&v, 1); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void str(const std::string& s) {
    // The parser refuses longer names (model.h); a hand-built Domain must too.
    if (s.size() > kNameBytesMax) {
      throw std::invalid_argument("descriptor name of " + std::to_string(s.size()) +
                                  " bytes (at most " + std::to_string(kNameBytesMax) +
                                  "): " + s.substr(0, 32) + "...");
    }
    u16(static_cast<std::uint16_t>(s.size()));
    bytes(s.data(), s.size());
  }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  std::vector<std::byte> out_;
};

void write_key(Writer& w, const Key& k) {
  w.str(k.name);
  w.u32(static_cast<std::uint32_t>(k.fields.size()));
  for (std::uint32_t f : k.fields) w.u32(f);
  w.u32(k.encoded_bytes);
}

void write_struct(Writer& w, const Struct& s) {
  w.u8(static_cast<std::uint8_t>(s.kind));
  w.str(s.name);
  w.u32(s.number);
  w.u32(s.size);
  w.u32(s.align);
  w.u32(static_cast<std::uint32_t>(s.fields.size()));
  for (const Field& f : s.fields) {
    w.str(f.name);
    w.u8(static_cast<std::uint8_t>(f.type));
    w.u32(f.enum_index);
    w.u32(f.array_bytes);
    w.u32(f.scale);
    w.u32(f.offset);
    w.u32(f.size);
    w.u32(f.align);
  }
  if (s.kind != StructKind::kRecord) return;
  write_key(w, s.primary);
  w.u32(static_cast<std::uint32_t>(s.uniques.size()));
  for (const Key& k : s.uniques) write_key(w, k);
  w.u32(static_cast<std::uint32_t>(s.indexes.size()));
  for (const Key& k : s.indexes) write_key(w, k);
  w.u32(static_cast<std::uint32_t>(s.invariants.size()));
  for (const Invariant& inv : s.invariants) w.str(inv.name);
  w.u8(s.state_machine.has_value() ? 1 : 0);
  if (!s.state_machine.has_value()) return;
  const StateMachine& sm = *s.state_machine;
  w.u32(sm.field);
  w.u32(static_cast<std::uint32_t>(sm.initial.size()));
  for (std::uint64_t v : sm.initial) w.u64(v);
  w.u32(static_cast<std::uint32_t>(sm.transitions.size()));
  for (const Transition& t : sm.transitions) {
    w.u64(t.from);
    w.u64(t.to);
  }
}

bool is_identifier(const std::string& s) {
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.empty() || !letter(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return letter(c) || digit(c); });
}

// A bounds-checked reader that remembers the first error and where it is: the offset of
// the item that is missing or wrong.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  bool ok() const noexcept { return error_.empty(); }
  std::size_t offset() const noexcept { return pos_; }
  const std::string& error() const noexcept { return error_; }
  bool at_end() const noexcept { return pos_ == bytes_.size(); }

  // Fails at the start of the item read last (the one found wrong).
  void fail(const std::string& what) { fail_at(item_, what); }
  void fail_at(std::size_t offset, const std::string& what) {
    if (error_.empty()) error_ = "descriptor byte " + std::to_string(offset) + ": " + what;
  }
  bool need(std::size_t n, const char* what) {
    if (!ok()) return false;
    if (bytes_.size() - pos_ < n) {
      fail_at(pos_, std::string("truncated in ") + what);
      return false;
    }
    return true;
  }
  std::uint64_t le(int n, const char* what) {
    if (ok()) item_ = pos_;
    if (!need(static_cast<std::size_t>(n), what)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      v |= static_cast<std::uint64_t>(bytes_[pos_ + static_cast<std::size_t>(i)]) << (8 * i);
    }
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::uint8_t u8(const char* what) { return static_cast<std::uint8_t>(le(1, what)); }
  std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(le(4, what)); }
  std::uint64_t u64(const char* what) { return le(8, what); }
  // A count, refused above `max`.
  std::uint32_t count(const char* what, std::uint32_t max) {
    const std::uint32_t n = u32(what);
    if (ok() && n > max) {
      fail(std::string(what) + " " + std::to_string(n) + " exceeds " + std::to_string(max));
      return 0;
    }
    return n;
  }
  // A name: an identifier, as the schema language's names are.
  std::string str(const char* what) {
    const auto n = static_cast<std::size_t>(le(2, what));
    if (ok() && (n == 0 || n > kNameBytesMax)) {
      fail(std::string(what) + " has length " + std::to_string(n));
      return {};
    }
    if (!need(n, what)) return {};
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    if (!is_identifier(s)) {
      fail(std::string(what) + " is not an identifier");
      return {};
    }
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
  std::size_t item_ = 0;  // where the item read last starts
  std::string error_;
};

bool valid_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(FieldType::kU8) &&
         t <= static_cast<std::uint8_t>(FieldType::kChars);
}

std::uint64_t enum_value_max(FieldType underlying) {
  return underlying == FieldType::kU8 ? 0xFF : underlying == FieldType::kU16 ? 0xFFFF : 0xFFFFFFFF;
}

bool same_layout(const Struct& a, const Struct& b) {
  if (a.size != b.size || a.align != b.align || a.fields.size() != b.fields.size()) return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    const Field& x = a.fields[i];
    const Field& y = b.fields[i];
    if (x.offset != y.offset || x.size != y.size || x.align != y.align) return false;
  }
  const auto same_key = [](const Key& x, const Key& y) {
    return x.encoded_bytes == y.encoded_bytes;
  };
  if (a.kind == StructKind::kRecord) {
    if (!same_key(a.primary, b.primary)) return false;
    for (std::size_t i = 0; i < a.uniques.size(); ++i) {
      if (!same_key(a.uniques[i], b.uniques[i])) return false;
    }
    for (std::size_t i = 0; i < a.indexes.size(); ++i) {
      if (!same_key(a.indexes[i], b.indexes[i])) return false;
    }
  }
  return true;
}

constexpr std::array<StructKind, 3> kStructKinds = {StructKind::kRecord, StructKind::kCommand,
                                                    StructKind::kEvent};

// Reads a descriptor into a Domain, refusing what the parser could not have produced: a
// tool decodes journals with the result, so it must hold to everything model.h promises
// (table id = position, distinct kinds, codes and names, sorted transitions between declared
// values, the layout lay_out() computes), and the same schema must have only one encoding.
class Decoder {
 public:
  explicit Decoder(std::span<const std::byte> bytes) : r_(bytes), bytes_(bytes) {}

  bool run(Domain* out, std::string* error) {
    read_header();
    const std::uint32_t enums = r_.count("enum count", kEnumsMax);
    for (std::uint32_t i = 0; i < enums && r_.ok(); ++i) read_enum(d_.enums.emplace_back());
    for (std::size_t k = 0; k < kStructKinds.size() && r_.ok(); ++k) read_structs(k);
    read_rejects();
    if (r_.ok() && !r_.at_end()) r_.fail_at(r_.offset(), "trailing bytes after the descriptor");
    if (r_.ok()) check_layout();
    if (!r_.ok()) {
      if (error != nullptr) *error = r_.error();
      return false;
    }
    *out = std::move(d_);
    return true;
  }

 private:
  // Adds `name` to `names`; fails if it is there already.
  void distinct(std::set<std::string>& names, const std::string& name, const char* what) {
    if (r_.ok() && !names.insert(name).second) {
      r_.fail(std::string(what) + " '" + name + "' is used twice");
    }
  }

  void read_header() {
    if (r_.need(kMagic.size(), "magic") &&
        std::memcmp(bytes_.data(), kMagic.data(), kMagic.size()) != 0) {
      r_.fail("bad magic (not a lockstep schema descriptor)");
    }
    if (r_.ok()) (void)r_.le(4, "magic");
    const std::uint32_t version = r_.u32("format version");
    if (r_.ok() && version != kDescriptorVersion) {
      r_.fail("format version " + std::to_string(version) + " (this build reads " +
              std::to_string(kDescriptorVersion) + ")");
    }
    d_.name = r_.str("domain name");
    d_.version = r_.u32("domain version");
    if (r_.ok() && d_.version == 0) r_.fail("domain version 0 (versions start at 1)");
  }

  void read_enum(Enum& e) {
    e.name = r_.str("enum name");
    distinct(type_names_, e.name, "type name");
    const std::uint8_t u = r_.u8("enum type");
    if (r_.ok() && u != static_cast<std::uint8_t>(FieldType::kU8) &&
        u != static_cast<std::uint8_t>(FieldType::kU16) &&
        u != static_cast<std::uint8_t>(FieldType::kU32)) {
      r_.fail("enum '" + e.name + "' has type " + std::to_string(u));
    }
    e.underlying = static_cast<FieldType>(u);
    const std::uint32_t values = r_.count("enum value count", kEnumValuesMax);
    if (r_.ok() && values == 0) r_.fail("enum '" + e.name + "' has no values");
    std::set<std::string> names;
    std::set<std::uint64_t> numbers;
    for (std::uint32_t j = 0; j < values && r_.ok(); ++j) {
      EnumValue& v = e.values.emplace_back();
      v.name = r_.str("enum value name");
      distinct(names, v.name, "enum value name");
      v.value = r_.u64("enum value");
      if (!r_.ok()) break;
      if (v.value > enum_value_max(e.underlying)) {
        r_.fail("enum value " + std::to_string(v.value) + " does not fit enum '" + e.name + "' (" +
                to_string(e.underlying) + ")");
      } else if (!numbers.insert(v.value).second) {
        r_.fail("enum value " + std::to_string(v.value) + " is used twice in enum '" + e.name +
                "'");
      }
    }
  }

  std::vector<Struct>& structs(std::size_t k) {
    return k == 0 ? d_.records : k == 1 ? d_.commands : d_.events;
  }

  void read_structs(std::size_t k) {
    const StructKind kind = kStructKinds[k];
    const std::uint32_t n =
        r_.count("struct count", kind == StructKind::kRecord ? kRecordsMax : kKindMax);
    std::set<std::uint32_t> numbers;
    for (std::uint32_t i = 0; i < n && r_.ok(); ++i) {
      starts_[k].push_back(r_.offset());
      read_struct(kind, i, numbers, structs(k).emplace_back());
    }
  }

  void read_struct(StructKind kind, std::uint32_t position, std::set<std::uint32_t>& numbers,
                   Struct& s) {
    const std::uint8_t k = r_.u8("struct kind");
    if (r_.ok() && k != static_cast<std::uint8_t>(kind)) {
      r_.fail("struct kind " + std::to_string(k) + ", expected " +
              std::to_string(static_cast<int>(kind)));
    }
    s.kind = kind;
    s.name = r_.str("struct name");
    distinct(type_names_, s.name, "type name");
    s.number = r_.u32("struct number");
    if (r_.ok()) {
      const std::string n = std::to_string(s.number);
      if (kind == StructKind::kRecord && s.number != position) {
        r_.fail("record '" + s.name + "' has table id " + n + ", expected " +
                std::to_string(position));
      } else if (kind != StructKind::kRecord && (s.number == 0 || s.number > kKindMax)) {
        r_.fail(std::string(to_string(kind)) + " '" + s.name + "' has kind " + n + ", not in 1.." +
                std::to_string(kKindMax));
      } else if (kind != StructKind::kRecord && !numbers.insert(s.number).second) {
        r_.fail(std::string(to_string(kind)) + " kind " + n + " is used twice");
      }
    }
    s.size = r_.u32("struct size");
    s.align = r_.u32("struct alignment");
    const std::uint32_t fields = r_.count("field count", kFieldsMax);
    if (r_.ok() && fields == 0) r_.fail("'" + s.name + "' has no fields");
    std::set<std::string> names;
    for (std::uint32_t i = 0; i < fields && r_.ok(); ++i) {
      read_field(s.fields.emplace_back(), names);
    }
    if (!r_.ok() || kind != StructKind::kRecord) return;
    read_keys(s);
    const std::uint32_t invariants = r_.count("invariant count", kInvariantsPerRecordMax);
    std::set<std::string> invariant_names;
    for (std::uint32_t i = 0; i < invariants && r_.ok(); ++i) {
      s.invariants.push_back({r_.str("invariant name"), {}});
      distinct(invariant_names, s.invariants.back().name, "invariant name");
    }
    read_state_machine(s);
  }

  void read_field(Field& f, std::set<std::string>& names) {
    f.name = r_.str("field name");
    distinct(names, f.name, "field name");
    const std::uint8_t type = r_.u8("field type");
    if (r_.ok() && !valid_type(type)) r_.fail("unknown field type " + std::to_string(type));
    f.type = static_cast<FieldType>(type);
    const bool is_enum = f.type == FieldType::kEnum;
    const bool is_array = f.type == FieldType::kBytes || f.type == FieldType::kChars;
    // A parameter the type does not have is 0: one schema, one encoding, one hash.
    const auto unused = [&](const char* what) {
      r_.fail("field '" + f.name + "' of type " + to_string(f.type) + " has a non-zero " + what);
    };
    f.enum_index = r_.u32("enum index");
    if (r_.ok() && is_enum && f.enum_index >= d_.enums.size()) {
      r_.fail("field '" + f.name + "' names enum " + std::to_string(f.enum_index) + " of " +
              std::to_string(d_.enums.size()));
    }
    if (r_.ok() && !is_enum && f.enum_index != 0) unused("enum index");
    f.array_bytes = r_.u32("array length");
    if (r_.ok() && is_array && (f.array_bytes == 0 || f.array_bytes > kArrayBytesMax)) {
      r_.fail("field '" + f.name + "' has array length " + std::to_string(f.array_bytes));
    }
    if (r_.ok() && !is_array && f.array_bytes != 0) unused("array length");
    f.scale = r_.u32("decimal scale");
    if (r_.ok() && f.scale > kDecimalScaleMax) {
      r_.fail("field '" + f.name + "' has decimal scale " + std::to_string(f.scale));
    }
    if (r_.ok() && f.type != FieldType::kDecimal && f.scale != 0) unused("decimal scale");
    f.offset = r_.u32("field offset");
    f.size = r_.u32("field size");
    f.align = r_.u32("field alignment");
  }

  // `names`: the secondary keys' names so far; null for the primary key.
  void read_key(const Struct& s, Key& k, std::set<std::string>* names) {
    k.name = r_.str("key name");
    if (names != nullptr) distinct(*names, k.name, "key name");
    if (r_.ok() && names == nullptr && k.name != "primary") {
      r_.fail("the primary key of '" + s.name + "' is named '" + k.name + "'");
    }
    const std::uint32_t n = r_.count("key field count", kFieldsMax);
    if (r_.ok() && n == 0) r_.fail("key '" + k.name + "' has no fields");
    for (std::uint32_t i = 0; i < n && r_.ok(); ++i) {
      const std::uint32_t f = r_.u32("key field");
      if (!r_.ok()) break;
      if (f >= s.fields.size()) {
        r_.fail("key '" + k.name + "' names field " + std::to_string(f) + " of " +
                std::to_string(s.fields.size()));
      } else if (std::find(k.fields.begin(), k.fields.end(), f) != k.fields.end()) {
        r_.fail("key '" + k.name + "' names field '" + s.fields[f].name + "' twice");
      }
      k.fields.push_back(f);
    }
    k.encoded_bytes = r_.u32("key encoded bytes");
  }

  void read_keys(Struct& s) {
    const std::string limit = "; at most " + std::to_string(kKeyBytesMax);
    read_key(s, s.primary, nullptr);
    if (r_.ok() && s.primary.encoded_bytes > kKeyBytesMax) {
      r_.fail("the primary key of '" + s.name + "' encodes to " +
              std::to_string(s.primary.encoded_bytes) + " bytes" + limit);
    }
    std::set<std::string> names;
    const std::uint32_t uniques = r_.count("unique key count", kKeysPerRecordMax);
    for (std::uint32_t i = 0; i < uniques && r_.ok(); ++i) {
      Key& k = s.uniques.emplace_back();
      read_key(s, k, &names);
      if (r_.ok() && k.encoded_bytes > kKeyBytesMax) {
        r_.fail("unique key '" + k.name + "' encodes to " + std::to_string(k.encoded_bytes) +
                " bytes" + limit);
      }
    }
    const std::uint32_t indexes = r_.count("index count", kKeysPerRecordMax);
    if (r_.ok() && uniques + indexes > kKeysPerRecordMax) {
      r_.fail("record '" + s.name + "' has " + std::to_string(uniques + indexes) +
              " unique keys and indexes; at most " + std::to_string(kKeysPerRecordMax));
    }
    for (std::uint32_t i = 0; i < indexes && r_.ok(); ++i) {
      Key& k = s.indexes.emplace_back();
      read_key(s, k, &names);
      if (r_.ok() && k.encoded_bytes + s.primary.encoded_bytes > kKeyBytesMax) {
        r_.fail("index '" + k.name + "' encodes to " + std::to_string(k.encoded_bytes) +
                " bytes plus the primary key's " + std::to_string(s.primary.encoded_bytes) + limit);
      }
    }
  }

  void read_state_machine(Struct& s) {
    const std::uint8_t has_sm = r_.u8("state machine flag");
    if (!r_.ok()) return;
    if (has_sm > 1) {
      r_.fail("state machine flag " + std::to_string(has_sm));
      return;
    }
    if (has_sm == 0) return;
    StateMachine& sm = s.state_machine.emplace();
    sm.field = r_.u32("state machine field");
    if (r_.ok() && (sm.field >= s.fields.size() || s.fields[sm.field].type != FieldType::kEnum)) {
      r_.fail("state machine field " + std::to_string(sm.field) + " is not an enum field");
    }
    if (!r_.ok()) return;
    const Enum& e = d_.enums[s.fields[sm.field].enum_index];
    std::set<std::uint64_t> declared;
    for (const EnumValue& v : e.values) declared.insert(v.value);
    const auto value = [&](const char* what) {
      const std::uint64_t v = r_.u64(what);
      if (r_.ok() && declared.count(v) == 0) {
        r_.fail(std::string(what) + " " + std::to_string(v) + " is not a value of enum '" + e.name +
                "'");
      }
      return v;
    };
    const std::uint32_t initial = r_.count("initial value count", kEnumValuesMax);
    for (std::uint32_t i = 0; i < initial && r_.ok(); ++i) {
      const std::uint64_t v = value("initial value");
      if (r_.ok() && !sm.initial.empty() && sm.initial.back() >= v) {
        r_.fail("initial values are not in ascending order");
      }
      sm.initial.push_back(v);
    }
    const std::uint32_t transitions = r_.count("transition count", kTransitionsPerRecordMax);
    for (std::uint32_t i = 0; i < transitions && r_.ok(); ++i) {
      const std::size_t start = r_.offset();
      Transition t;
      t.from = value("transition from");
      t.to = value("transition to");
      if (!r_.ok()) break;
      const Transition* last = sm.transitions.empty() ? nullptr : &sm.transitions.back();
      if (t.from == t.to) {
        r_.fail_at(start, "transition from " + std::to_string(t.from) + " to itself");
      } else if (last != nullptr && std::pair(last->from, last->to) >= std::pair(t.from, t.to)) {
        r_.fail_at(start, "transitions are not in ascending order");
      }
      sm.transitions.push_back(t);
    }
  }

  void read_rejects() {
    const std::uint32_t rejects = r_.count("reject count", kDomainRejectMax);
    std::set<std::string> names;
    std::set<std::uint32_t> codes;
    for (std::uint32_t i = 0; i < rejects && r_.ok(); ++i) {
      Reject& rj = d_.rejects.emplace_back();
      rj.name = r_.str("reject name");
      distinct(names, rj.name, "reject name");
      rj.code = r_.u32("reject code");
      if (!r_.ok()) break;
      if (rj.code == 0 || rj.code > kDomainRejectMax) {
        r_.fail("reject '" + rj.name + "' has code " + std::to_string(rj.code) + ", not in 1.." +
                std::to_string(kDomainRejectMax));
      } else if (!codes.insert(rj.code).second) {
        r_.fail("reject code " + std::to_string(rj.code) + " is used twice");
      }
    }
  }

  // The declared layout must be the one this build computes; reported at the struct.
  void check_layout() {
    Domain laid = d_;
    lay_out(laid);
    const std::vector<Struct>* theirs[] = {&laid.records, &laid.commands, &laid.events};
    for (std::size_t k = 0; k < kStructKinds.size() && r_.ok(); ++k) {
      const std::vector<Struct>& mine = structs(k);
      for (std::size_t i = 0; i < mine.size() && r_.ok(); ++i) {
        if (!same_layout(mine[i], (*theirs[k])[i])) {
          r_.fail_at(starts_[k][i], "the layout of '" + mine[i].name +
                                        "' differs from the one its declaration gives");
        } else if (mine[i].size > kStructBytesMax) {
          r_.fail_at(starts_[k][i], "'" + mine[i].name + "' is " + std::to_string(mine[i].size) +
                                        " bytes, larger than the limit of " +
                                        std::to_string(kStructBytesMax));
        }
      }
    }
  }

  Reader r_;
  std::span<const std::byte> bytes_;
  Domain d_;
  std::set<std::string> type_names_;                // enums, records, commands and events
  std::array<std::vector<std::size_t>, 3> starts_;  // each struct's offset, by kind
};

}  // namespace

std::vector<std::byte> encode_descriptor(const Domain& domain) {
  Writer w;
  w.bytes(kMagic.data(), kMagic.size());
  w.u32(kDescriptorVersion);
  w.str(domain.name);
  w.u32(domain.version);
  w.u32(static_cast<std::uint32_t>(domain.enums.size()));
  for (const Enum& e : domain.enums) {
    w.str(e.name);
    w.u8(static_cast<std::uint8_t>(e.underlying));
    w.u32(static_cast<std::uint32_t>(e.values.size()));
    for (const EnumValue& v : e.values) {
      w.str(v.name);
      w.u64(v.value);
    }
  }
  for (const auto* list : {&domain.records, &domain.commands, &domain.events}) {
    w.u32(static_cast<std::uint32_t>(list->size()));
    for (const Struct& s : *list) write_struct(w, s);
  }
  w.u32(static_cast<std::uint32_t>(domain.rejects.size()));
  for (const Reject& r : domain.rejects) {
    w.str(r.name);
    w.u32(r.code);
  }
  return w.take();
}

bool decode_descriptor(std::span<const std::byte> bytes, Domain* out, std::string* error) {
  return Decoder(bytes).run(out, error);
}

DescriptorHash descriptor_hash(std::span<const std::byte> bytes) {
  DescriptorHash h{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(h.data()), &len,
                 EVP_sha256(), nullptr) != 1 ||
      len != h.size()) {
    throw std::runtime_error("SHA-256 of the schema descriptor failed");
  }
  return h;
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    s += kHex[static_cast<unsigned>(b) >> 4];
    s += kHex[static_cast<unsigned>(b) & 15];
  }
  return s;
}

}  // namespace lockstep::schema
