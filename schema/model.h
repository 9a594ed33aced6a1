// The schema model: what a domain's schema declares, with every layout decision made.
//
// The parser (parser.h) builds a Domain from a schema file and lays it out; the code
// generator (codegen.h) turns it into a C++ header; the descriptor codec (descriptor.h)
// writes it as the canonical bytes that every journal segment and snapshot carries, and
// reads those bytes back, so generic tools can decode any domain's records, commands and
// events without that domain's code (json.h).
//
// Layout rules (docs/schema.md, "Layout"): fields keep their declared order; each field is
// aligned to its natural alignment (u128 and decimals to 8, arrays to 1) with explicit
// padding before it; the struct's size is rounded up to its largest alignment with
// explicit tail padding. Every number here is what the generated static_asserts check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::schema {

// A position in a schema file, 1-based; 0 when the model was not parsed from text.
struct SourceLoc {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// The scalar and array types a field can have. The numeric values are part of the
// descriptor's byte format: append only.
enum class FieldType : std::uint8_t {
  kU8 = 1,
  kU16 = 2,
  kU32 = 3,
  kU64 = 4,
  kI8 = 5,
  kI16 = 6,
  kI32 = 7,
  kI64 = 8,
  kU128 = 9,      // lockstep::u128: two u64 words, low first
  kBool = 10,     // one byte, 0 or 1
  kEnum = 11,     // stored as the enum's underlying unsigned type
  kDecimal = 12,  // fixed point: an i64 count of 10^-scale units
  kBytes = 13,    // fixed-length byte array
  kChars = 14,    // fixed-length char array, NUL-padded
};

const char* to_string(FieldType type) noexcept;

struct EnumValue {
  std::string name;
  std::uint64_t value = 0;
  SourceLoc loc;
};

struct Enum {
  std::string name;
  FieldType underlying = FieldType::kU8;  // kU8, kU16 or kU32
  std::vector<EnumValue> values;          // in declared order
  SourceLoc loc;

  // The value named `name`, if any.
  const EnumValue* find(const std::string& value_name) const noexcept;
  const EnumValue* find(std::uint64_t value) const noexcept;
};

struct Field {
  std::string name;
  FieldType type = FieldType::kU8;
  std::uint32_t enum_index = 0;   // kEnum: index into Domain::enums
  std::uint32_t array_bytes = 0;  // kBytes, kChars: the length
  std::uint32_t scale = 0;        // kDecimal: digits after the point (0..18)
  std::uint32_t offset = 0;       // byte offset in the struct
  std::uint32_t size = 0;         // bytes
  std::uint32_t align = 1;        // bytes
  SourceLoc loc;
};

// A key or index: an ordered list of fields. Its encoding (docs/schema.md, "Keys") is
// the fields' order-preserving big-endian bytes, concatenated: `encoded_bytes` long.
struct Key {
  std::string name;                   // "primary" for the primary key
  std::vector<std::uint32_t> fields;  // indexes into Struct::fields
  std::uint32_t encoded_bytes = 0;
  SourceLoc loc;
};

struct Transition {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

// The allowed transitions of one enum field of a record.
struct StateMachine {
  std::uint32_t field = 0;              // index into Struct::fields; an enum field
  std::vector<std::uint64_t> initial;   // values an inserted record may have; empty: any
  std::vector<Transition> transitions;  // sorted by (from, to), no duplicates
  SourceLoc loc;

  bool allows(std::uint64_t from, std::uint64_t to) const noexcept;
  bool allows_initial(std::uint64_t value) const noexcept;
};

struct Invariant {
  std::string name;
  SourceLoc loc;
};

enum class StructKind : std::uint8_t { kRecord = 1, kCommand = 2, kEvent = 3 };

const char* to_string(StructKind kind) noexcept;

// A record, command or event.
struct Struct {
  StructKind kind = StructKind::kRecord;
  std::string name;
  std::uint32_t number = 0;  // records: table id (declaration order); commands, events: kind
  std::vector<Field> fields;
  std::uint32_t size = 0;  // bytes, padding included
  std::uint32_t align = 1;
  // Records only.
  Key primary;
  std::vector<Key> uniques;
  std::vector<Key> indexes;  // ordered, prefix-scannable
  std::vector<Invariant> invariants;
  std::optional<StateMachine> state_machine;
  SourceLoc loc;

  const Field* find_field(const std::string& field_name) const noexcept;
};

struct Reject {
  std::string name;
  std::uint32_t code = 0;
  SourceLoc loc;
};

struct Domain {
  std::string name;
  std::uint32_t version = 0;
  std::vector<Enum> enums;
  std::vector<Struct> records;   // table id = index
  std::vector<Struct> commands;  // in declared order
  std::vector<Struct> events;
  std::vector<Reject> rejects;

  const Struct* find_command(std::uint32_t kind) const noexcept;
  const Struct* find_event(std::uint32_t kind) const noexcept;
  const Struct* find_struct(const std::string& struct_name) const noexcept;
  const Reject* find_reject(std::uint32_t code) const noexcept;
};

// Limits a schema must respect (the parser reports a violation at its location).
inline constexpr std::uint32_t kStructBytesMax = 4096;  // a record, command or event
inline constexpr std::uint32_t kArrayBytesMax = 1024;
inline constexpr std::uint32_t kKeyBytesMax = 128;  // an encoded key (index: + primary)
inline constexpr std::uint32_t kDecimalScaleMax = 18;
inline constexpr std::uint32_t kFieldsMax = 256;
inline constexpr std::uint32_t kRecordsMax = 1024;
inline constexpr std::uint32_t kKeysPerRecordMax = 16;  // uniques + indexes
inline constexpr std::uint32_t kKindMax = 65535;        // command and event kinds: 1..65535
// Reject codes a domain may use: 1 .. kDomainRejectMax. The engine's own refusals
// (engine/outcome.h) use codes above it.
inline constexpr std::uint32_t kDomainRejectMax = 0xFFFF;
// Limits of the descriptor's byte format (descriptor.h, docs/schema.md "Descriptor"): every
// name (domain, enum, enum value, record, command, event, field, key, index, invariant,
// reject) is a u16 length and at most kNameBytesMax bytes, and the reader refuses longer
// lists than these. The parser refuses a schema over them, so that every schema it accepts
// can be encoded and its descriptor read back.
inline constexpr std::uint32_t kNameBytesMax = 255;
inline constexpr std::uint32_t kEnumsMax = 65536;
inline constexpr std::uint32_t kEnumValuesMax = 65536;  // in one enum
inline constexpr std::uint32_t kInvariantsPerRecordMax = 65536;
inline constexpr std::uint32_t kTransitionsPerRecordMax = 65536;  // distinct edges
static_assert(kNameBytesMax <= 0xFFFF, "a name's length is a u16 in the descriptor");

// Names the generated code derives (docs/schema.md, "Generated names"):
// snake_case("OpenAccount") == "open_account" (a handler's name);
// table_accessor_name("Account") == "accounts" (a Tx member: plural of the snake case;
// "Entry" -> "entries", "Address" -> "addresses").
std::string snake_case(const std::string& name);
std::string table_accessor_name(const std::string& record_name);

// Layout: computes offsets, sizes, alignments and key encodings of every struct in
// `domain` (fields' types must be set). Called by the parser; tools that build a Domain
// by hand call it too.
void lay_out(Domain& domain);

// The size of a field's encoding inside a key (docs/schema.md, "Keys").
std::uint32_t key_encoded_bytes(const Field& field) noexcept;

}  // namespace lockstep::schema
