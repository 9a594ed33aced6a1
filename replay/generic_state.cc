#include "replay/generic_state.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/outcome.h"
#include "schema/json.h"

namespace lockstep::replay {

namespace {

using schema::FieldType;

bool is_signed(FieldType t) noexcept {
  return t == FieldType::kI8 || t == FieldType::kI16 || t == FieldType::kI32 ||
         t == FieldType::kI64 || t == FieldType::kDecimal;
}

// Appends the key encoding of one field whose little-endian bytes start at `p`.
void encode_field(const schema::Field& f, const std::byte* p, std::string* out) {
  switch (f.type) {
    case FieldType::kBytes:
    case FieldType::kChars: out->append(reinterpret_cast<const char*>(p), f.size); return;
    case FieldType::kU128:
      for (int i = 15; i >= 8; --i) out->push_back(static_cast<char>(p[i]));  // hi word
      for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(p[i]));   // lo word
      return;
    default: {
      const std::size_t at = out->size();
      for (std::size_t i = f.size; i-- > 0;) out->push_back(static_cast<char>(p[i]));
      if (is_signed(f.type)) (*out)[at] = static_cast<char>((*out)[at] ^ 0x80);
      return;
    }
  }
}

// The inverse: writes the field's little-endian bytes at `p` from its key encoding.
void decode_field(const schema::Field& f, const std::byte* in, std::byte* p) {
  switch (f.type) {
    case FieldType::kBytes:
    case FieldType::kChars: std::memcpy(p, in, f.size); return;
    case FieldType::kU128:
      for (int i = 0; i < 8; ++i) p[15 - i] = in[i];
      for (int i = 0; i < 8; ++i) p[7 - i] = in[8 + i];
      return;
    default:
      for (std::size_t i = 0; i < f.size; ++i) p[f.size - 1 - i] = in[i];
      if (is_signed(f.type)) p[f.size - 1] ^= std::byte{0x80};
      return;
  }
}

// A struct with only the key's fields, at their places in the record (for JSON).
schema::Struct key_struct(const schema::Struct& s, const schema::Key& k) {
  schema::Struct out;
  out.kind = s.kind;
  out.name = s.name;
  out.number = s.number;
  out.size = s.size;
  out.align = s.align;
  for (const std::uint32_t i : k.fields) out.fields.push_back(s.fields[i]);
  return out;
}

}  // namespace

void encode_key(const schema::Struct& s, const schema::Key& k, const std::byte* image,
                std::string* out) {
  for (const std::uint32_t i : k.fields) encode_field(s.fields[i], image + s.fields[i].offset, out);
}

bool key_to_json(const schema::Domain& d, const schema::Struct& s,
                 std::span<const std::byte> encoded, std::string* out, std::string* error) {
  if (encoded.size() != s.primary.encoded_bytes) {
    *error = s.name + ": a primary key encodes to " + std::to_string(s.primary.encoded_bytes) +
             " bytes, got " + std::to_string(encoded.size());
    return false;
  }
  std::vector<std::byte> image(s.size);
  std::size_t at = 0;
  for (const std::uint32_t i : s.primary.fields) {
    const schema::Field& f = s.fields[i];
    decode_field(f, encoded.data() + at, image.data() + f.offset);
    at += schema::key_encoded_bytes(f);
  }
  return schema::to_json(d, key_struct(s, s.primary), image, out, error);
}

bool key_from_json(const schema::Domain& d, const schema::Struct& s, std::string_view json,
                   std::string* encoded, std::string* error) {
  const schema::Struct ks = key_struct(s, s.primary);
  std::string object;
  const std::size_t first = json.find_first_not_of(" \t\r\n");
  if (ks.fields.size() == 1 && (first == std::string_view::npos || json[first] != '{')) {
    object = "{\"" + ks.fields[0].name + "\":" + std::string(json) + "}";  // a bare value
  } else {
    object = std::string(json);
  }
  std::vector<std::byte> image;
  std::string why;
  if (!schema::struct_from_json(d, ks, object, &image, &why)) {
    // A bare value's error is about the object it was wrapped in: name the field instead.
    *error = object.size() > json.size() + 4
                 ? s.name + "." + ks.fields[0].name + ": '" + std::string(json) +
                       "' is not a value of its type (" + schema::to_string(ks.fields[0].type) + ")"
                 : why;
    return false;
  }
  encoded->clear();
  encode_key(s, s.primary, image.data(), encoded);
  return true;
}

std::string outcome_name(const schema::Domain& d, std::uint32_t code) {
  if (code == 0) return "ok";
  if (const schema::Reject* r = d.find_reject(code)) return r->name;
  const std::string_view e = engine_reject_name(code);
  return e.empty() ? "reject_" + std::to_string(code) : std::string(e);
}

GenericState::GenericState(const schema::Domain& domain) : domain_(domain) {
  tables_.resize(domain_.records.size());
  for (std::size_t i = 0; i < tables_.size(); ++i) tables_[i].s = &domain_.records[i];
}

bool GenericState::check_write(const TxWriteView& w, std::string* error) const {
  if (w.table >= tables_.size()) {
    *error = "a write to table " + std::to_string(w.table) + ", which the schema does not have";
    return false;
  }
  const schema::Struct& s = *tables_[w.table].s;
  const std::size_t want = w.op == kWriteUpsert ? s.size : s.primary.encoded_bytes;
  if (w.bytes.size() != want) {
    *error = std::string(w.op == kWriteUpsert ? "an upsert" : "an erase") + " of " + s.name +
             " carries " + std::to_string(w.bytes.size()) + " bytes, not " + std::to_string(want);
    return false;
  }
  return true;
}

bool GenericState::apply(const TxResultView& r, std::string* error) {
  for (const TxWriteView& w : r.writes) {
    if (!check_write(w, error)) return false;
  }
  // Erases first, then upserts; check everything before changing anything.
  std::vector<std::string> keys(r.writes.size());
  for (std::size_t i = 0; i < r.writes.size(); ++i) {
    const TxWriteView& w = r.writes[i];
    const Table& t = tables_[w.table];
    if (w.op == kWriteErase) {
      keys[i].assign(reinterpret_cast<const char*>(w.bytes.data()), w.bytes.size());
      if (!t.rows.contains(keys[i])) {
        std::string k;
        std::string why;
        if (!key_to_json(domain_, *t.s, w.bytes, &k, &why)) k = "(undecodable key)";
        *error = "an erase of " + t.s->name + " " + k + ", which does not exist";
        return false;
      }
    } else {
      encode_key(*t.s, t.s->primary, w.bytes.data(), &keys[i]);
    }
  }
  for (std::size_t i = 0; i < r.writes.size(); ++i) {
    const TxWriteView& w = r.writes[i];
    if (w.op != kWriteErase) continue;
    Table& t = tables_[w.table];
    const auto it = t.rows.find(keys[i]);
    if (it == t.rows.end()) continue;  // erased twice in one delta: checked above once
    hash_.remove(w.table,
                 {reinterpret_cast<const std::byte*>(it->second.data()), it->second.size()});
    t.rows.erase(it);
  }
  for (std::size_t i = 0; i < r.writes.size(); ++i) {
    const TxWriteView& w = r.writes[i];
    if (w.op != kWriteUpsert) continue;
    Table& t = tables_[w.table];
    std::string image(reinterpret_cast<const char*>(w.bytes.data()), w.bytes.size());
    const auto [it, fresh] = t.rows.try_emplace(std::move(keys[i]));
    if (!fresh) {
      hash_.remove(w.table,
                   {reinterpret_cast<const std::byte*>(it->second.data()), it->second.size()});
    }
    it->second = std::move(image);
    hash_.add(w.table, w.bytes);
  }
  return true;
}

bool GenericState::insert(std::uint16_t table, std::span<const std::byte> image,
                          std::string* error) {
  TxWriteView w;
  w.op = kWriteUpsert;
  w.table = table;
  w.bytes = image;
  if (!check_write(w, error)) return false;
  Table& t = tables_[table];
  std::string key;
  encode_key(*t.s, t.s->primary, image.data(), &key);
  const auto [it, fresh] = t.rows.try_emplace(std::move(key));
  if (!fresh) {
    *error = "two records of " + t.s->name + " with the same primary key";
    return false;
  }
  it->second.assign(reinterpret_cast<const char*>(image.data()), image.size());
  hash_.add(table, image);
  return true;
}

StateHash GenericState::recompute_hash() const {
  StateHash h;
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    for (const auto& [key, image] : tables_[i].rows) {
      h.add(static_cast<std::uint16_t>(i),
            {reinterpret_cast<const std::byte*>(image.data()), image.size()});
    }
  }
  return h;
}

std::size_t GenericState::records(std::uint16_t table) const noexcept {
  return table < tables_.size() ? tables_[table].rows.size() : 0;
}

std::span<const std::byte> GenericState::find(std::uint16_t table, std::string_view key) const {
  if (table >= tables_.size()) return {};
  const auto& rows = tables_[table].rows;
  const auto it = rows.find(key);
  if (it == rows.end()) return {};
  return {reinterpret_cast<const std::byte*>(it->second.data()), it->second.size()};
}

}  // namespace lockstep::replay
