// GenericState: a domain's state rebuilt from committed deltas alone, through the schema
// descriptor the journal embeds: no domain code. lockstep-replay uses it to check a
// journal's recorded state hashes, to materialize the state at any sequence, and to write
// snapshots.
//
// Each table keeps its records by encoded primary key (docs/schema.md, "Keys"), so every
// walk over them is in key order, and the state hash (engine/state_hash.h) is kept as the
// engine keeps it: the same records give the same hash, whatever order they came in.
//
// A delta is applied as the engine's projection applies it (docs/semantics.md, "TxResult
// format"): its erases first, then its upserts (an upsert inserts a record or replaces the
// one with its primary key). An erase of a missing record, a write to a table the schema
// does not have, or an image of the wrong size is an inconsistent journal: refused with
// what and where, the state unchanged.
//
// Thread safety: one thread.
#pragma once

#include <absl/container/btree_map.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state_hash.h"
#include "engine/tx_result.h"
#include "schema/model.h"

namespace lockstep::replay {

// The encoding of key `k` of record `s` (docs/schema.md, "Keys") from a record image of
// s.size bytes: k.encoded_bytes bytes appended to *out.
void encode_key(const schema::Struct& s, const schema::Key& k, const std::byte* image,
                std::string* out);

// A primary key's encoding as JSON, {"id":7}: its fields by name. False (with *error) if
// the bytes are not a valid encoding for the record's primary key.
[[nodiscard]] bool key_to_json(const schema::Domain& d, const schema::Struct& s,
                               std::span<const std::byte> encoded, std::string* out,
                               std::string* error);
// The other way: the primary key of `s` from JSON naming every key field, or, for a
// one-field key, that field's value alone ("7", "\"alice\""). Errors name the field.
[[nodiscard]] bool key_from_json(const schema::Domain& d, const schema::Struct& s,
                                 std::string_view json, std::string* encoded, std::string* error);

// What a TxResult's outcome is called: "ok", the domain's reject name, the engine's
// refusal name, or "reject_<code>".
std::string outcome_name(const schema::Domain& d, std::uint32_t code);

class GenericState {
 public:
  explicit GenericState(const schema::Domain& domain);
  GenericState(const GenericState&) = delete;
  GenericState& operator=(const GenericState&) = delete;

  const schema::Domain& domain() const noexcept { return domain_; }

  // Applies a committed result's delta. False (with *error, the state unchanged) if it is
  // inconsistent with the state.
  [[nodiscard]] bool apply(const TxResultView& result, std::string* error);
  // Inserts one record (loading a snapshot). False if the table is unknown, the size is
  // wrong or the primary key is taken.
  [[nodiscard]] bool insert(std::uint16_t table, std::span<const std::byte> image,
                            std::string* error);

  const StateHash& hash() const noexcept { return hash_; }
  // The state hash computed from every record now (checks the incremental one).
  StateHash recompute_hash() const;
  std::size_t records(std::uint16_t table) const noexcept;

  // The record of `table` with encoded primary key `key`, or an empty span.
  std::span<const std::byte> find(std::uint16_t table, std::string_view key) const;
  // f(key, image) for every record of `table`, in primary-key order.
  template <class F>
  void for_each(std::uint16_t table, F&& f) const {
    for (const auto& [key, image] : tables_.at(table).rows) {
      f(std::string_view(key),
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(image.data()), image.size()));
    }
  }

 private:
  struct Table {
    const schema::Struct* s = nullptr;
    absl::btree_map<std::string, std::string, std::less<>> rows;  // encoded primary key -> image
  };
  bool check_write(const TxWriteView& w, std::string* error) const;

  schema::Domain domain_;
  std::vector<Table> tables_;
  StateHash hash_;
};

}  // namespace lockstep::replay
