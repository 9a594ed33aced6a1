#include "schema/descriptor.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace lockstep::schema {

namespace {

constexpr std::array<std::byte, 4> kMagic = {std::byte{'L'}, std::byte{'S'}, std::byte{'S'},
                                             std::byte{'D'}};
constexpr std::size_t kNameBytesMax = 255;
constexpr std::uint32_t kEnumValuesMax = 65536;
constexpr std::uint32_t kListMax = 65536;

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
    if (s.size() > kNameBytesMax) throw std::invalid_argument("descriptor name too long: " + s);
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

// A bounds-checked reader that remembers the first error and where it happened.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  bool ok() const noexcept { return error_.empty(); }
  std::size_t offset() const noexcept { return pos_; }
  const std::string& error() const noexcept { return error_; }
  bool at_end() const noexcept { return pos_ == bytes_.size(); }

  void fail(const std::string& what) {
    if (error_.empty()) error_ = "descriptor byte " + std::to_string(pos_) + ": " + what;
  }
  bool need(std::size_t n, const char* what) {
    if (!ok()) return false;
    if (bytes_.size() - pos_ < n) {
      fail(std::string("truncated in ") + what);
      return false;
    }
    return true;
  }
  std::uint64_t le(int n, const char* what) {
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
  std::string str(const char* what) {
    const auto n = static_cast<std::size_t>(le(2, what));
    if (ok() && (n == 0 || n > kNameBytesMax)) {
      fail(std::string(what) + " has length " + std::to_string(n));
      return {};
    }
    if (!need(n, what)) return {};
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    for (char c : s) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
        fail(std::string(what) + " is not an identifier");
        return {};
      }
    }
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
  std::string error_;
};

bool valid_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(FieldType::kU8) &&
         t <= static_cast<std::uint8_t>(FieldType::kChars);
}

void read_key(Reader& r, const Struct& s, Key& k) {
  k.name = r.str("key name");
  const std::uint32_t n = r.count("key field count", kFieldsMax);
  if (r.ok() && n == 0) r.fail("key '" + k.name + "' has no fields");
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const std::uint32_t f = r.u32("key field");
    if (r.ok() && f >= s.fields.size()) {
      r.fail("key '" + k.name + "' names field " + std::to_string(f) + " of " +
             std::to_string(s.fields.size()));
    }
    k.fields.push_back(f);
  }
  k.encoded_bytes = r.u32("key encoded bytes");
}

void read_struct(Reader& r, const Domain& d, StructKind expected, Struct& s) {
  const std::uint8_t kind = r.u8("struct kind");
  if (r.ok() && kind != static_cast<std::uint8_t>(expected)) {
    r.fail("struct kind " + std::to_string(kind) + ", expected " +
           std::to_string(static_cast<int>(expected)));
  }
  s.kind = expected;
  s.name = r.str("struct name");
  s.number = r.u32("struct number");
  s.size = r.u32("struct size");
  s.align = r.u32("struct alignment");
  const std::uint32_t fields = r.count("field count", kFieldsMax);
  for (std::uint32_t i = 0; i < fields && r.ok(); ++i) {
    Field f;
    f.name = r.str("field name");
    const std::uint8_t type = r.u8("field type");
    if (r.ok() && !valid_type(type)) r.fail("unknown field type " + std::to_string(type));
    f.type = static_cast<FieldType>(type);
    f.enum_index = r.u32("enum index");
    if (r.ok() && f.type == FieldType::kEnum && f.enum_index >= d.enums.size()) {
      r.fail("field '" + f.name + "' names enum " + std::to_string(f.enum_index) + " of " +
             std::to_string(d.enums.size()));
    }
    f.array_bytes = r.u32("array length");
    if (r.ok() && (f.type == FieldType::kBytes || f.type == FieldType::kChars) &&
        (f.array_bytes == 0 || f.array_bytes > kArrayBytesMax)) {
      r.fail("field '" + f.name + "' has array length " + std::to_string(f.array_bytes));
    }
    f.scale = r.u32("decimal scale");
    if (r.ok() && f.scale > kDecimalScaleMax) r.fail("decimal scale " + std::to_string(f.scale));
    f.offset = r.u32("field offset");
    f.size = r.u32("field size");
    f.align = r.u32("field alignment");
    s.fields.push_back(std::move(f));
  }
  if (!r.ok() || expected != StructKind::kRecord) return;
  read_key(r, s, s.primary);
  const std::uint32_t uniques = r.count("unique key count", kKeysPerRecordMax);
  for (std::uint32_t i = 0; i < uniques && r.ok(); ++i) read_key(r, s, s.uniques.emplace_back());
  const std::uint32_t indexes = r.count("index count", kKeysPerRecordMax);
  for (std::uint32_t i = 0; i < indexes && r.ok(); ++i) read_key(r, s, s.indexes.emplace_back());
  const std::uint32_t invariants = r.count("invariant count", kListMax);
  for (std::uint32_t i = 0; i < invariants && r.ok(); ++i) {
    s.invariants.push_back({r.str("invariant name"), {}});
  }
  const std::uint8_t has_sm = r.u8("state machine flag");
  if (!r.ok()) return;
  if (has_sm > 1) {
    r.fail("state machine flag " + std::to_string(has_sm));
    return;
  }
  if (has_sm == 0) return;
  StateMachine sm;
  sm.field = r.u32("state machine field");
  if (r.ok() && (sm.field >= s.fields.size() || s.fields[sm.field].type != FieldType::kEnum)) {
    r.fail("state machine field " + std::to_string(sm.field) + " is not an enum field");
  }
  const std::uint32_t initial = r.count("initial value count", kEnumValuesMax);
  for (std::uint32_t i = 0; i < initial && r.ok(); ++i) sm.initial.push_back(r.u64("initial value"));
  const std::uint32_t transitions = r.count("transition count", kListMax);
  for (std::uint32_t i = 0; i < transitions && r.ok(); ++i) {
    Transition t;
    t.from = r.u64("transition");
    t.to = r.u64("transition");
    sm.transitions.push_back(t);
  }
  s.state_machine = std::move(sm);
}

bool same_layout(const Struct& a, const Struct& b) {
  if (a.size != b.size || a.align != b.align || a.fields.size() != b.fields.size()) return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    const Field& x = a.fields[i];
    const Field& y = b.fields[i];
    if (x.offset != y.offset || x.size != y.size || x.align != y.align) return false;
  }
  const auto same_key = [](const Key& x, const Key& y) { return x.encoded_bytes == y.encoded_bytes; };
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
  Reader r(bytes);
  Domain d;
  if (r.need(kMagic.size(), "magic") &&
      std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    r.fail("bad magic (not a lockstep schema descriptor)");
  }
  if (r.ok()) (void)r.le(4, "magic");
  const std::uint32_t version = r.u32("format version");
  if (r.ok() && version != kDescriptorVersion) {
    r.fail("format version " + std::to_string(version) + " (this build reads " +
           std::to_string(kDescriptorVersion) + ")");
  }
  d.name = r.str("domain name");
  d.version = r.u32("domain version");
  const std::uint32_t enums = r.count("enum count", kListMax);
  for (std::uint32_t i = 0; i < enums && r.ok(); ++i) {
    Enum e;
    e.name = r.str("enum name");
    const std::uint8_t u = r.u8("enum type");
    if (r.ok() && u != static_cast<std::uint8_t>(FieldType::kU8) &&
        u != static_cast<std::uint8_t>(FieldType::kU16) &&
        u != static_cast<std::uint8_t>(FieldType::kU32)) {
      r.fail("enum '" + e.name + "' has type " + std::to_string(u));
    }
    e.underlying = static_cast<FieldType>(u);
    const std::uint32_t values = r.count("enum value count", kEnumValuesMax);
    for (std::uint32_t j = 0; j < values && r.ok(); ++j) {
      EnumValue v;
      v.name = r.str("enum value name");
      v.value = r.u64("enum value");
      e.values.push_back(std::move(v));
    }
    d.enums.push_back(std::move(e));
  }
  const StructKind kinds[] = {StructKind::kRecord, StructKind::kCommand, StructKind::kEvent};
  std::vector<Struct>* lists[] = {&d.records, &d.commands, &d.events};
  for (int k = 0; k < 3 && r.ok(); ++k) {
    const std::uint32_t n = r.count("struct count", k == 0 ? kRecordsMax : kKindMax);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      read_struct(r, d, kinds[k], lists[k]->emplace_back());
    }
  }
  const std::uint32_t rejects = r.count("reject count", kDomainRejectMax);
  for (std::uint32_t i = 0; i < rejects && r.ok(); ++i) {
    Reject rj;
    rj.name = r.str("reject name");
    rj.code = r.u32("reject code");
    d.rejects.push_back(std::move(rj));
  }
  if (r.ok() && !r.at_end()) r.fail("trailing bytes after the descriptor");
  if (r.ok()) {
    // The declared layout must be the one this build computes.
    Domain laid = d;
    lay_out(laid);
    for (int k = 0; k < 3 && r.ok(); ++k) {
      const std::vector<Struct>& mine = *lists[k];
      const std::vector<Struct>& theirs = k == 0 ? laid.records : k == 1 ? laid.commands : laid.events;
      for (std::size_t i = 0; i < mine.size(); ++i) {
        if (!same_layout(mine[i], theirs[i])) {
          if (error != nullptr) {
            *error = "descriptor: the layout of '" + mine[i].name +
                     "' differs from the one its declaration gives";
          }
          return false;
        }
        if (mine[i].size > kStructBytesMax) {
          if (error != nullptr) *error = "descriptor: '" + mine[i].name + "' is too large";
          return false;
        }
      }
    }
  }
  if (!r.ok()) {
    if (error != nullptr) *error = r.error();
    return false;
  }
  *out = std::move(d);
  return true;
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
