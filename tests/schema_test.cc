// The schema parser, layout and descriptor: good schemas, and bad ones with their errors.
//
// A diagnostic is checked as the exact text a user sees ("file:line:col: error: ..."), one
// scenario per test. The descriptor reader gets a corruption suite: every truncation, every
// single-bit flip and seeded random multi-byte corruptions of the bank schema's bytes, each
// either refused or decoded to a domain that holds to what the parser guarantees.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/descriptor.h"
#include "schema/parser.h"

namespace {

namespace schema = lockstep::schema;
using schema::Domain;
using schema::Enum;
using schema::Field;
using schema::FieldType;
using schema::Key;
using schema::StateMachine;
using schema::Struct;
using schema::Transition;

// ---- Helpers ----------------------------------------------------------------------

// Every test schema starts with this line, so a body that starts with a newline has its
// first declaration on line 2.
constexpr std::string_view kHeader = "domain t version 1;";

schema::ParseResult parse_body(std::string_view body) {
  std::string text(kHeader);
  text += body;
  return schema::parse(text, "t.lss");
}

// The diagnostics of kHeader + `body`, one per line.
std::string errors(std::string_view body) { return parse_body(body).error_text(); }

// The domain of kHeader + `body`, which must parse.
Domain good(std::string_view body) {
  schema::ParseResult r = parse_body(body);
  EXPECT_TRUE(r.ok()) << r.error_text();
  return std::move(r.domain);
}

// A name of `bytes` bytes: `first`, then x's.
std::string long_name(std::size_t bytes, char first = 'n') {
  return first + std::string(bytes - 1, 'x');
}

std::uint64_t seed_from_env(std::uint64_t fallback) {
  const char* s = std::getenv("LOCKSTEP_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : fallback;
}

std::vector<std::uint32_t> offsets(const Struct& s) {
  std::vector<std::uint32_t> out;
  for (const Field& f : s.fields) out.push_back(f.offset);
  return out;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> edges(const StateMachine& sm) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (const Transition& t : sm.transitions) out.emplace_back(t.from, t.to);
  return out;
}

// ---- Layout -----------------------------------------------------------------------

TEST(SchemaLayout, FieldsKeepTheirOrderWithPaddingBeforeEachToItsAlignment) {
  const Domain d = good(R"(
record R {
  a: u8;
  b: u32;
  c: u16;
  d: u64;
  e: bool;
  f: i16;
  primary key (d);
}
)");
  const Struct& r = d.records.at(0);
  EXPECT_EQ(offsets(r), (std::vector<std::uint32_t>{0, 4, 8, 16, 24, 26}));
  EXPECT_EQ(r.fields[1].size, 4u);
  EXPECT_EQ(r.fields[1].align, 4u);
  EXPECT_EQ(r.size, 32u);  // 28 bytes of fields, rounded up to the alignment of 8
  EXPECT_EQ(r.align, 8u);
}

TEST(SchemaLayout, TheSizeIsRoundedUpToTheLargestAlignment) {
  const Domain d = good(R"(
record R {
  a: u32;
  b: u8;
  primary key (a);
}
)");
  EXPECT_EQ(d.records[0].size, 8u);
  EXPECT_EQ(d.records[0].align, 4u);
}

TEST(SchemaLayout, AStructOfSingleBytesHasAlignmentOneAndNoPadding) {
  const Domain d = good(R"(
record R {
  a: u8;
  b: bool;
  c: char[3];
  e: i8;
  primary key (a);
}
)");
  EXPECT_EQ(offsets(d.records[0]), (std::vector<std::uint32_t>{0, 1, 2, 5}));
  EXPECT_EQ(d.records[0].size, 6u);
  EXPECT_EQ(d.records[0].align, 1u);
}

TEST(SchemaLayout, U128IsSixteenBytesAlignedToEight) {
  const Domain d = good(R"(
record R {
  a: u32;
  b: u128;
  primary key (b);
}
)");
  const Field& b = d.records[0].fields[1];
  EXPECT_EQ(b.type, FieldType::kU128);
  EXPECT_EQ(b.offset, 8u);
  EXPECT_EQ(b.size, 16u);
  EXPECT_EQ(b.align, 8u);
  EXPECT_EQ(d.records[0].size, 24u);
  EXPECT_EQ(d.records[0].align, 8u);
}

TEST(SchemaLayout, DecimalIsAnI64OfUnitsAlignedToEight) {
  const Domain d = good(R"(
record R {
  a: u8;
  b: decimal(4);
  primary key (a);
}
)");
  const Field& b = d.records[0].fields[1];
  EXPECT_EQ(b.type, FieldType::kDecimal);
  EXPECT_EQ(b.scale, 4u);
  EXPECT_EQ(b.offset, 8u);
  EXPECT_EQ(b.size, 8u);
  EXPECT_EQ(b.align, 8u);
}

TEST(SchemaLayout, ArraysAreAlignedToOne) {
  const Domain d = good(R"(
record R {
  a: u8;
  b: bytes[3];
  c: char[5];
  d: u16;
  primary key (a);
}
)");
  const Struct& r = d.records[0];
  EXPECT_EQ(offsets(r), (std::vector<std::uint32_t>{0, 1, 4, 10}));
  EXPECT_EQ(r.fields[1].type, FieldType::kBytes);
  EXPECT_EQ(r.fields[1].array_bytes, 3u);
  EXPECT_EQ(r.fields[1].align, 1u);
  EXPECT_EQ(r.fields[2].type, FieldType::kChars);
  EXPECT_EQ(r.fields[2].size, 5u);
  EXPECT_EQ(r.size, 12u);
  EXPECT_EQ(r.align, 2u);
}

TEST(SchemaLayout, EnumFieldsTakeTheSizeAndAlignmentOfTheirUnderlyingType) {
  const Domain d = good(R"(
enum A : u8 { x = 1; }
enum B : u16 { x = 1; }
enum C : u32 { x = 1; }
record R {
  a: A;
  b: B;
  c: C;
  id: u8;
  primary key (id);
}
)");
  const Struct& r = d.records[0];
  EXPECT_EQ(offsets(r), (std::vector<std::uint32_t>{0, 2, 4, 8}));
  EXPECT_EQ(r.fields[0].size, 1u);
  EXPECT_EQ(r.fields[1].size, 2u);
  EXPECT_EQ(r.fields[1].align, 2u);
  EXPECT_EQ(r.fields[2].size, 4u);
  EXPECT_EQ(r.fields[2].align, 4u);
  EXPECT_EQ(r.fields[2].enum_index, 2u);
  EXPECT_EQ(r.size, 12u);
}

TEST(SchemaLayout, AnEnumMayBeDeclaredAfterTheFieldsThatUseIt) {
  const Domain d = good(R"(
record R {
  id: u64;
  s: Later;
  primary key (id);
}
enum Later : u16 { a = 1; }
)");
  EXPECT_EQ(d.records[0].fields[1].type, FieldType::kEnum);
  EXPECT_EQ(d.records[0].fields[1].enum_index, 0u);
  EXPECT_EQ(d.records[0].fields[1].size, 2u);
}

TEST(SchemaLayout, KeysEncodeToTheSumOfTheirFieldSizes) {
  const Domain d = good(R"(
enum S : u16 { a = 1; }
record R {
  id: u64;
  sub: u128;
  owner: char[16];
  s: S;
  flag: bool;
  primary key (id, sub);
  unique by_owner (owner);
  index by_s (s, flag);
}
)");
  const Struct& r = d.records[0];
  EXPECT_EQ(r.primary.name, "primary");
  EXPECT_EQ(r.primary.fields, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(r.primary.encoded_bytes, 24u);
  ASSERT_EQ(r.uniques.size(), 1u);
  EXPECT_EQ(r.uniques[0].name, "by_owner");
  EXPECT_EQ(r.uniques[0].encoded_bytes, 16u);
  ASSERT_EQ(r.indexes.size(), 1u);
  EXPECT_EQ(r.indexes[0].fields, (std::vector<std::uint32_t>{3, 4}));
  EXPECT_EQ(r.indexes[0].encoded_bytes, 3u);
}

TEST(SchemaLayout, CommandsAndEventsAreLaidOutLikeRecordsAndKeepTheirKinds) {
  const Domain d = good(R"(
command C = 7 {
  a: u8;
  b: u64;
}
event E = 9 {
  a: u16;
  b: u8;
}
)");
  EXPECT_EQ(d.commands[0].number, 7u);
  EXPECT_EQ(d.commands[0].size, 16u);
  EXPECT_EQ(d.events[0].number, 9u);
  EXPECT_EQ(d.events[0].size, 4u);
  EXPECT_EQ(d.find_command(7), &d.commands[0]);
  EXPECT_EQ(d.find_event(9), &d.events[0]);
}

TEST(SchemaLayout, RecordsAreNumberedInDeclarationOrder) {
  const Domain d = good(R"(
record B { id: u64; primary key (id); }
record A { id: u64; primary key (id); }
record C { id: u64; primary key (id); }
)");
  ASSERT_EQ(d.records.size(), 3u);
  EXPECT_EQ(d.records[0].name, "B");
  EXPECT_EQ(d.records[0].number, 0u);
  EXPECT_EQ(d.records[2].name, "C");
  EXPECT_EQ(d.records[2].number, 2u);
}

TEST(SchemaLayout, TheBankSchemaHasTheLayoutItsGeneratedHeaderChecks) {
  const auto r = schema::parse_file(LOCKSTEP_BANK_SCHEMA);
  ASSERT_TRUE(r.ok()) << r.error_text();
  const Domain& d = r.domain;
  EXPECT_EQ(d.name, "bank");
  EXPECT_EQ(d.version, 1u);
  ASSERT_EQ(d.records.size(), 2u);
  const Struct& account = d.records[0];
  EXPECT_EQ(offsets(account), (std::vector<std::uint32_t>{0, 8, 24, 32, 40, 44}));
  EXPECT_EQ(account.size, 48u);
  EXPECT_EQ(account.primary.encoded_bytes, 8u);
  EXPECT_EQ(account.uniques.at(0).encoded_bytes, 16u);
  EXPECT_EQ(account.indexes.at(0).encoded_bytes, 9u);
  EXPECT_EQ(account.invariants.at(0).name, "balance_within_limit");
  const Struct& transfer = d.records[1];
  EXPECT_EQ(offsets(transfer), (std::vector<std::uint32_t>{0, 16, 24, 32, 40}));
  EXPECT_EQ(transfer.size, 48u);
  EXPECT_EQ(transfer.primary.encoded_bytes, 16u);
  EXPECT_EQ(transfer.indexes.at(0).encoded_bytes, 16u);
  // (Later declarations may be added to the bank; these are the first ones.)
  ASSERT_NE(d.find_command(4), nullptr);
  EXPECT_EQ(d.find_command(4)->name, "MakeTransfer");
  EXPECT_EQ(d.find_command(4)->size, 40u);
  ASSERT_NE(d.find_event(4), nullptr);
  EXPECT_EQ(d.find_event(4)->name, "StatusChanged");
  EXPECT_EQ(d.find_event(4)->size, 16u);
  ASSERT_NE(d.find_reject(3), nullptr);
  EXPECT_EQ(d.find_reject(3)->name, "insufficient_funds");
}

// ---- State machines ---------------------------------------------------------------

// Values declared out of numeric order, so that sorting by value is visible.
constexpr std::string_view kStates = R"(
enum S : u8 {
  c = 1;
  b = 3;
  a = 5;
}
)";

Domain good_with_states(std::string_view transitions) {
  std::string body(kStates);
  body += "record R {\n  id: u64;\n  s: S;\n  primary key (id);\n  transitions s {\n";
  body += transitions;
  body += "  }\n}\n";
  return good(body);
}

TEST(SchemaStateMachine, AListOnEachSideOfAnArrowGivesOneEdgePerPair) {
  const Domain d = good_with_states("    a, b -> c;\n");
  const StateMachine& sm = d.records[0].state_machine.value();
  EXPECT_EQ(sm.field, 1u);
  EXPECT_EQ(edges(sm), (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{3, 1}, {5, 1}}));
}

TEST(SchemaStateMachine, EdgesAreSortedByFromThenToAndDeduplicated) {
  const Domain d = good_with_states(
      "    a -> c;\n"
      "    b -> c, a;\n"
      "    a -> b;\n"
      "    a, b -> c;\n");
  const StateMachine& sm = d.records[0].state_machine.value();
  EXPECT_EQ(edges(sm),
            (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{3, 1}, {3, 5}, {5, 1}, {5, 3}}));
  EXPECT_TRUE(sm.allows(5, 3));
  EXPECT_TRUE(sm.allows(1, 1));  // staying is always allowed
  EXPECT_FALSE(sm.allows(1, 5));
}

TEST(SchemaStateMachine, InitialValuesAreSortedAndDeduplicated) {
  const Domain d = good_with_states(
      "    initial a, c;\n"
      "    initial a;\n"
      "    c -> a;\n");
  const StateMachine& sm = d.records[0].state_machine.value();
  EXPECT_EQ(sm.initial, (std::vector<std::uint64_t>{1, 5}));
  EXPECT_TRUE(sm.allows_initial(5));
  EXPECT_FALSE(sm.allows_initial(3));
}

TEST(SchemaStateMachine, WithoutInitialValuesARecordMayBeInsertedInAnyState) {
  const Domain d = good_with_states("    c -> a;\n");
  const StateMachine& sm = d.records[0].state_machine.value();
  EXPECT_TRUE(sm.initial.empty());
  EXPECT_TRUE(sm.allows_initial(3));
}

TEST(SchemaStateMachine, ARecordWithoutTransitionsHasNoStateMachine) {
  const Domain d = good(R"(
record R { id: u64; primary key (id); }
)");
  EXPECT_FALSE(d.records[0].state_machine.has_value());
}

// ---- Generated names --------------------------------------------------------------

TEST(SchemaNames, SnakeCaseSplitsBeforeACapitalThatFollowsALowerCaseLetterOrDigit) {
  EXPECT_EQ(schema::snake_case("OpenAccount"), "open_account");
  EXPECT_EQ(schema::snake_case("Deposit"), "deposit");
  EXPECT_EQ(schema::snake_case("open_account"), "open_account");
  EXPECT_EQ(schema::snake_case("Open_account"), "open_account");
  EXPECT_EQ(schema::snake_case("Pay2Fa"), "pay2_fa");
  EXPECT_EQ(schema::snake_case("HTTPServer"), "httpserver");
}

TEST(SchemaNames, TableAccessorNamesArePluralsOfTheSnakeCase) {
  EXPECT_EQ(schema::table_accessor_name("Account"), "accounts");
  EXPECT_EQ(schema::table_accessor_name("Entry"), "entries");
  EXPECT_EQ(schema::table_accessor_name("Address"), "addresses");
  EXPECT_EQ(schema::table_accessor_name("Box"), "boxes");
  EXPECT_EQ(schema::table_accessor_name("Day"), "days");
  EXPECT_EQ(schema::table_accessor_name("Branch"), "branches");
  EXPECT_EQ(schema::table_accessor_name("Wish"), "wishes");
  EXPECT_EQ(schema::table_accessor_name("LedgerEntry"), "ledger_entries");
  EXPECT_EQ(schema::table_accessor_name("MakeTransfer"), "make_transfers");
}

// ---- Numbers, comments, files -----------------------------------------------------

TEST(SchemaNumbers, HexIntegersAreAccepted) {
  const auto r = schema::parse(R"(domain t version 0x2;
enum E : u8 { a = 0x10; b = 0XfF; }
command C = 0x10 { x: u64; }
reject r = 0x2A;
)",
                               "t.lss");
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.domain.version, 2u);
  EXPECT_EQ(r.domain.enums[0].values[0].value, 16u);
  EXPECT_EQ(r.domain.enums[0].values[1].value, 255u);
  EXPECT_EQ(r.domain.commands[0].number, 16u);
  EXPECT_EQ(r.domain.rejects[0].code, 42u);
}

TEST(SchemaNumbers, EachEnumTypeAcceptsItsLargestValue) {
  const Domain d = good(R"(
enum A : u8 { x = 255; }
enum B : u16 { x = 65535; }
enum C : u32 { x = 4294967295; }
)");
  EXPECT_EQ(d.enums[0].values[0].value, 0xFFu);
  EXPECT_EQ(d.enums[1].values[0].value, 0xFFFFu);
  EXPECT_EQ(d.enums[2].values[0].value, 0xFFFFFFFFu);
  EXPECT_EQ(d.enums[1].underlying, FieldType::kU16);
}

TEST(SchemaNumbers, TheLargestKindAndRejectCodeAreAccepted) {
  const Domain d = good(R"(
command C = 65535 { x: u64; }
event E = 65535 { x: u64; }
reject r = 65535;
)");
  EXPECT_EQ(d.commands[0].number, 65535u);
  EXPECT_EQ(d.rejects[0].code, 65535u);
}

TEST(SchemaNumbers, ACommandAndAnEventMayShareAKind) {
  const Domain d = good(R"(
command C = 1 { x: u64; }
event E = 1 { x: u64; }
)");
  EXPECT_EQ(d.commands[0].number, d.events[0].number);
}

TEST(SchemaLimits, AStructOfExactly4096BytesIsAccepted) {
  const Domain d = good(R"(
record R {
  id: u64;
  a: bytes[1024];
  b: bytes[1024];
  c: char[1024];
  d: bytes[1008];
  e: decimal(18);
  primary key (id);
}
)");
  EXPECT_EQ(d.records[0].size, schema::kStructBytesMax);
  EXPECT_EQ(d.records[0].fields[5].scale, schema::kDecimalScaleMax);
}

TEST(SchemaLimits, AnIndexOf128BytesWithThePrimaryKeyIsAccepted) {
  const Domain d = good(R"(
record R {
  id: u64;
  name: char[120];
  code: char[128];
  primary key (id);
  index by_name (name);
  unique by_code (code);
}
)");
  EXPECT_EQ(d.records[0].indexes[0].encoded_bytes + d.records[0].primary.encoded_bytes,
            schema::kKeyBytesMax);
  EXPECT_EQ(d.records[0].uniques[0].encoded_bytes, schema::kKeyBytesMax);
}

// A record with `count` indexes, each on its own field.
std::string record_with_indexes(int count) {
  std::string body = "\nrecord R {\n  id: u64;\n";
  for (int i = 0; i < count; ++i) body += "  f" + std::to_string(i) + ": u32;\n";
  body += "  primary key (id);\n";
  for (int i = 0; i < count; ++i) {
    body += "  index by_f" + std::to_string(i) + " (f" + std::to_string(i) + ");\n";
  }
  return body + "}\n";
}

TEST(SchemaLimits, SixteenSecondaryKeysAreAccepted) {
  const Domain d = good(record_with_indexes(16));
  EXPECT_EQ(d.records[0].indexes.size(), schema::kKeysPerRecordMax);
}

// An enum named `name` of `count` u32 values, `prefix`0 = 0 and up.
std::string enum_of(std::string_view name, int count, std::string_view prefix = "v") {
  std::string body = "\nenum " + std::string(name) + " : u32 {\n";
  for (int i = 0; i < count; ++i) {
    body += "  " + std::string(prefix) + std::to_string(i) + " = " + std::to_string(i) + ";\n";
  }
  return body + "}\n";
}

TEST(SchemaLimits, OneHundredThousandEnumValuesParse) {
  // Each value's name and number are checked against the enum's others by hash lookup:
  // checked pairwise, this took 10 s. Two enums, as one holds at most 65,536 values.
  const Domain d = good(enum_of("A", 50'000) + enum_of("B", 50'000) +
                        "record R { id: u64; a: A; b: B; primary key (id);\n"
                        "  transitions b { initial v49999; v0, v1, v49999 -> v2, v49998; } }\n");
  ASSERT_EQ(d.enums.size(), 2u);
  EXPECT_EQ(d.enums[0].values.size() + d.enums[1].values.size(), 100'000u);
  EXPECT_EQ(d.enums[1].values.back().value, 49'999u);
  EXPECT_EQ(d.records[0].state_machine.value().transitions.size(), 6u);
}

TEST(SchemaLimits, AnEnumOf65536ValuesParsesAndRoundTripsThroughTheDescriptor) {
  const Domain d = good(enum_of("E", 65'536) + "record R { id: u64; e: E; primary key (id); }\n");
  ASSERT_EQ(d.enums[0].values.size(), schema::kEnumValuesMax);
  const std::vector<std::byte> bytes = schema::encode_descriptor(d);
  Domain back;
  std::string error;
  ASSERT_TRUE(schema::decode_descriptor(bytes, &back, &error)) << error;
  EXPECT_EQ(schema::encode_descriptor(back), bytes);
}

TEST(SchemaLimits, NamesOf255BytesParseAndRoundTripThroughTheDescriptor) {
  // One of each kind of name; types share a namespace, so each starts with its own letter.
  const std::string domain = long_name(255, 'd');
  const std::string enum_name = long_name(255, 'e');
  const std::string value = long_name(255, 'v');
  const std::string record = long_name(255, 'r');
  const std::string field = long_name(255, 'f');
  const std::string unique = long_name(255, 'u');
  const std::string index = long_name(255, 'i');
  const std::string invariant = long_name(255, 'p');
  const std::string command = long_name(255, 'c');
  const std::string event = long_name(255, 'o');
  const std::string reject = long_name(255, 'j');
  const std::string text = "domain " + domain + " version 1;\n" +                      //
                           "enum " + enum_name + " : u8 { " + value + " = 1; }\n" +    //
                           "record " + record + " {\n  " + field + ": " + enum_name +  //
                           ";\n  id: u64;\n  primary key (id);\n  unique " + unique +  //
                           " (" + field + ");\n  index " + index + " (" + field +      //
                           ");\n  invariant " + invariant + ";\n}\n" +                 //
                           "command " + command + " = 1 { " + field + ": u8; }\n" +    //
                           "event " + event + " = 1 { " + field + ": u8; }\n" +        //
                           "reject " + reject + " = 1;\n";
  const schema::ParseResult r = schema::parse(text, "t.lss");
  ASSERT_TRUE(r.ok()) << r.error_text();
  const std::vector<std::byte> bytes = schema::encode_descriptor(r.domain);
  Domain d;
  std::string error;
  ASSERT_TRUE(schema::decode_descriptor(bytes, &d, &error)) << error;
  EXPECT_EQ(schema::encode_descriptor(d), bytes);
  EXPECT_EQ(d.name, domain);
  EXPECT_EQ(d.enums.at(0).name, enum_name);
  EXPECT_EQ(d.enums[0].values.at(0).name, value);
  const Struct& rec = d.records.at(0);
  EXPECT_EQ(rec.name, record);
  EXPECT_EQ(rec.fields.at(0).name, field);
  EXPECT_EQ(rec.uniques.at(0).name, unique);
  EXPECT_EQ(rec.indexes.at(0).name, index);
  EXPECT_EQ(rec.invariants.at(0).name, invariant);
  EXPECT_EQ(d.commands.at(0).name, command);
  EXPECT_EQ(d.events.at(0).name, event);
  EXPECT_EQ(d.rejects.at(0).name, reject);
}

TEST(SchemaComments, LineAndBlockCommentsAreSkipped) {
  const Domain d = good(R"(
// a line comment
record /* inside */ R {
  id: u64;  // trailing
  /* a block
     over lines */
  primary key (id);
}
)");
  EXPECT_EQ(d.records[0].name, "R");
  EXPECT_EQ(d.records[0].loc.line, 3u);
  EXPECT_EQ(d.records[0].loc.column, 21u);
}

TEST(SchemaFiles, AnUnreadableFileIsOneDiagnosticAtZeroZeroWithTheReason) {
  const auto r = schema::parse_file("/nonexistent/t.lss");
  EXPECT_EQ(r.error_text(),
            "/nonexistent/t.lss:0:0: error: cannot read the schema file: No such file or "
            "directory\n");
}

TEST(SchemaFiles, ADirectoryGivenAsTheSchemaFileIsReportedAsADirectory) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(schema::parse_file(dir).error_text(),
            dir + ":0:0: error: cannot read the schema file: Is a directory\n");
}

// ---- Diagnostics: declarations --------------------------------------------------

TEST(SchemaErrors, ADuplicateFieldIsReportedAtTheSecondWithTheFirstsPosition) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  a: u32;
  primary key (a);
}
)"),
            "t.lss:4:3: error: duplicate field 'a' in record 'R' (first at 3:3)\n");
}

TEST(SchemaErrors, ADuplicateFieldInACommandIsReported) {
  EXPECT_EQ(errors(R"(
command C = 1 {
  a: u64;
  a: u64;
}
)"),
            "t.lss:4:3: error: duplicate field 'a' in command 'C' (first at 3:3)\n");
}

TEST(SchemaErrors, AnUnknownTypeIsReportedAtTheTypeName) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: Money;
  primary key (a);
}
)"),
            "t.lss:4:6: error: unknown type 'Money' for field 'b'\n");
}

TEST(SchemaErrors, AKeyNamingAMissingFieldIsReportedAtThatName) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  primary key (a, b);
}
)"),
            "t.lss:4:19: error: key 'primary' names field 'b', which record 'R' does not have\n");
}

TEST(SchemaErrors, AFieldRepeatedInAKeyIsReportedAtTheRepetition) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: u64;
  primary key (a);
  index by_b (b, a, b);
}
)"),
            "t.lss:6:21: error: field 'b' appears twice in key 'by_b'\n");
}

TEST(SchemaErrors, ACommandKindUsedTwiceIsReportedAtTheSecondKind) {
  EXPECT_EQ(errors(R"(
command A = 1 { x: u64; }
command B = 1 { x: u64; }
)"),
            "t.lss:3:13: error: command kind 1 is already used by 'A' (at 2:9)\n");
}

TEST(SchemaErrors, AnEventKindUsedTwiceIsReportedAtTheSecondKind) {
  EXPECT_EQ(errors(R"(
event A = 2 { x: u64; }
event B = 2 { x: u64; }
)"),
            "t.lss:3:11: error: event kind 2 is already used by 'A' (at 2:7)\n");
}

TEST(SchemaErrors, CommandKindZeroIsReserved) {
  EXPECT_EQ(errors(R"(
command A = 0 { x: u64; }
)"),
            "t.lss:2:13: error: kind 0 is reserved; kinds start at 1\n");
}

TEST(SchemaErrors, EventKindZeroIsReported) {
  EXPECT_EQ(errors(R"(
event A = 0 { x: u64; }
)"),
            "t.lss:2:11: error: kind 0 is reserved; kinds start at 1\n");
}

TEST(SchemaErrors, TwoCommandsOfKindZeroAreEachReportedOnce) {
  EXPECT_EQ(errors(R"(
command A = 0 { x: u64; }
command B = 0 { x: u64; }
)"),
            "t.lss:2:13: error: kind 0 is reserved; kinds start at 1\n"
            "t.lss:3:13: error: kind 0 is reserved; kinds start at 1\n");
}

TEST(SchemaErrors, AKindAbove65535IsOutOfRange) {
  EXPECT_EQ(errors(R"(
command A = 65536 { x: u64; }
)"),
            "t.lss:2:13: error: kind 65536 is out of range (at most 65535)\n");
}

TEST(SchemaErrors, ARejectCodeUsedTwiceIsReportedAtTheSecondCode) {
  EXPECT_EQ(errors(R"(
reject a = 1;
reject b = 1;
)"),
            "t.lss:3:12: error: reject code 1 is already used by 'a' (at 2:8)\n");
}

TEST(SchemaErrors, ARejectNameUsedTwiceIsReportedAtTheSecondName) {
  EXPECT_EQ(errors(R"(
reject a = 1;
reject a = 2;
)"),
            "t.lss:3:8: error: duplicate reject 'a' (first at 2:8)\n");
}

TEST(SchemaErrors, RejectCodeZeroMeansSuccessAndIsRefused) {
  EXPECT_EQ(errors(R"(
reject a = 0;
)"),
            "t.lss:2:12: error: reject code 0 means success; codes start at 1\n");
}

TEST(SchemaErrors, ARejectCodeAbove65535IsOutOfRange) {
  EXPECT_EQ(errors(R"(
reject a = 65536;
)"),
            "t.lss:2:12: error: reject code 65536 is out of range (at most 65535)\n");
}

TEST(SchemaErrors, ADuplicateInvariantIsReported) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  primary key (a);
  invariant positive;
  invariant positive;
}
)"),
            "t.lss:6:13: error: duplicate invariant 'positive' in record 'R' (first at 5:13)\n");
}

TEST(SchemaErrors, AStructWithoutFieldsIsReported) {
  EXPECT_EQ(errors(R"(
command C = 1 {}
)"),
            "t.lss:2:9: error: command 'C' has no fields\n");
}

// ---- Diagnostics: limits ----------------------------------------------------------

TEST(SchemaErrors, ARecordLargerThan4096BytesIsReportedAtItsName) {
  EXPECT_EQ(errors(R"(
record Big {
  id: u64;
  a: bytes[1024];
  b: bytes[1024];
  c: bytes[1024];
  d: bytes[1024];
  primary key (id);
}
)"),
            "t.lss:2:8: error: record 'Big' is 4104 bytes, larger than the limit of 4096\n");
}

TEST(SchemaErrors, AnEventLargerThan4096BytesOnlyByItsTailPaddingIsReported) {
  // 4097 bytes of fields; the u64 rounds the struct up to 4104.
  EXPECT_EQ(errors(R"(
event Big = 1 {
  id: u64;
  a: bytes[1024];
  b: bytes[1024];
  c: bytes[1024];
  d: bytes[1017];
}
)"),
            "t.lss:2:7: error: event 'Big' is 4104 bytes, larger than the limit of 4096\n");
}

TEST(SchemaErrors, AnArrayOfLengthZeroIsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: bytes[0];
  primary key (a);
}
)"),
            "t.lss:4:12: error: array length must be at least 1\n");
}

TEST(SchemaErrors, AnArrayLongerThan1024IsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: char[1025];
  primary key (a);
}
)"),
            "t.lss:4:11: error: array length 1025 is out of range (at most 1024)\n");
}

TEST(SchemaErrors, AnArrayLengthBeyond32BitsIsOutOfRangeNotWrappedToZero) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: bytes[4294967296];
  primary key (a);
}
)"),
            "t.lss:4:12: error: array length 4294967296 is out of range (at most 1024)\n");
}

TEST(SchemaErrors, ADecimalScaleAbove18IsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: decimal(19);
  primary key (a);
}
)"),
            "t.lss:4:14: error: decimal scale 19 is out of range (at most 18)\n");
}

TEST(SchemaErrors, ADecimalScaleBeyond32BitsIsOutOfRangeNotWrapped) {
  // 2^32 + 2 would wrap to a valid scale of 2.
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: decimal(4294967298);
  primary key (a);
}
)"),
            "t.lss:4:14: error: decimal scale 4294967298 is out of range (at most 18)\n");
}

TEST(SchemaErrors, TooManyUniqueKeysAndIndexesAreReportedAtTheRecord) {
  EXPECT_EQ(errors(record_with_indexes(17)),
            "t.lss:2:8: error: record 'R' has 17 unique keys and indexes; at most 16\n");
}

TEST(SchemaErrors, AStructWithMoreThan256FieldsIsReportedAtItsName) {
  std::string body = "\ncommand C = 1 {\n";
  for (int i = 0; i < 257; ++i) body += "  f" + std::to_string(i) + ": u8;\n";
  EXPECT_EQ(errors(body + "}\n"), "t.lss:2:9: error: command 'C' has 257 fields; at most 256\n");
}

TEST(SchemaErrors, MoreThan1024RecordsAreReportedAtTheDomainHeader) {
  std::string text = "// a comment first\ndomain t version 1;\n";
  for (int i = 0; i < 1025; ++i) {
    text += "record R" + std::to_string(i) + " { id: u64; primary key (id); }\n";
  }
  EXPECT_EQ(schema::parse(text, "t.lss").error_text(),
            "t.lss:2:1: error: the domain has 1025 records; at most 1024\n");
}

TEST(SchemaErrors, AnEnumOfMoreThan65536ValuesIsReportedAtItsName) {
  EXPECT_EQ(errors(enum_of("E", 65'537)),
            "t.lss:2:6: error: enum 'E' has 65537 values; at most 65536\n");
}

TEST(SchemaErrors, MoreThan65536EnumsAreReportedAtTheDomainHeader) {
  std::string text = "domain t version 1;\n";
  for (int i = 0; i < 65'537; ++i) text += "enum E" + std::to_string(i) + " : u8 { a = 1; }\n";
  EXPECT_EQ(schema::parse(text, "t.lss").error_text(),
            "t.lss:1:1: error: the domain has 65537 enums; at most 65536\n");
}

TEST(SchemaErrors, ARecordOfMoreThan65536InvariantsIsReportedAtItsName) {
  std::string body = "\nrecord R {\n  id: u64;\n  primary key (id);\n";
  for (int i = 0; i < 65'537; ++i) body += "  invariant i" + std::to_string(i) + ";\n";
  EXPECT_EQ(errors(body + "}\n"),
            "t.lss:2:8: error: record 'R' has 65537 invariants; at most 65536\n");
}

TEST(SchemaErrors, TransitionsOfMoreThan65536EdgesAreReportedAtTheBlock) {
  // 300 values on each side of one arrow: 300 * 299 edges (the 300 self-edges are errors
  // too, but only those before the limit is reached).
  std::string values;
  for (int i = 0; i < 300; ++i) values += (i == 0 ? "v" : ", v") + std::to_string(i);
  const std::string body = enum_of("S", 300) + "record R {\n  id: u64;\n  s: S;\n" +
                           "  primary key (id);\n  transitions s {\n    " + values + " -> " +
                           values + ";\n  }\n}\n";
  const schema::ParseResult r = parse_body(body);
  // The enum takes lines 2..303; the record starts on line 304, its transitions on 308.
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics.front().to_string(),
            "t.lss:308:3: error: record 'R' has more than 65536 transitions");
}

TEST(SchemaErrors, AnIndexLongerThan128BytesWithThePrimaryKeyIsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  id: u64;
  name: char[121];
  primary key (id);
  index by_name (name);
}
)"),
            "t.lss:6:9: error: index 'by_name' encodes to 121 bytes plus the primary key's 8; "
            "at most 128 in all\n");
}

TEST(SchemaErrors, AUniqueKeyLongerThan128BytesIsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  id: u64;
  name: char[129];
  primary key (id);
  unique by_name (name);
}
)"),
            "t.lss:6:10: error: unique key 'by_name' encodes to 129 bytes; at most 128\n");
}

TEST(SchemaErrors, APrimaryKeyLongerThan128BytesIsRefused) {
  EXPECT_EQ(errors(R"(
record R {
  id: u64;
  name: char[121];
  primary key (id, name);
}
)"),
            "t.lss:5:3: error: primary key of 'R' encodes to 129 bytes; at most 128\n");
}

// ---- Diagnostics: enums -----------------------------------------------------------

TEST(SchemaErrors, AnEnumValueAbove255IsOutOfRangeForU8) {
  EXPECT_EQ(errors(R"(
enum E : u8 {
  a = 1;
  b = 256;
}
)"),
            "t.lss:4:7: error: enum value 256 is out of range (at most 255)\n");
}

TEST(SchemaErrors, AnEnumValueAbove65535IsOutOfRangeForU16) {
  EXPECT_EQ(errors(R"(
enum E : u16 { a = 65536; }
)"),
            "t.lss:2:20: error: enum value 65536 is out of range (at most 65535)\n");
}

TEST(SchemaErrors, ADuplicateEnumValueNameIsReported) {
  EXPECT_EQ(errors(R"(
enum E : u8 {
  a = 1;
  a = 2;
}
)"),
            "t.lss:4:3: error: duplicate value name 'a' in enum 'E' (first at 3:3)\n");
}

TEST(SchemaErrors, ADuplicateEnumValueIsReported) {
  EXPECT_EQ(errors(R"(
enum E : u8 {
  a = 1;
  b = 0x01;
}
)"),
            "t.lss:4:3: error: value 1 of 'b' is already used by 'a' in enum 'E' (at 3:3)\n");
}

TEST(SchemaErrors, AnEmptyEnumIsReportedAtItsName) {
  EXPECT_EQ(errors(R"(
enum E : u8 {}
)"),
            "t.lss:2:6: error: enum 'E' has no values\n");
}

TEST(SchemaErrors, AnEnumOverU64IsASyntaxError) {
  EXPECT_EQ(errors(R"(
enum E : u64 { a = 1; }
)"),
            "t.lss:2:10: error: an enum's type must be u8, u16 or u32, not 'u64'\n");
}

TEST(SchemaErrors, AnEnumWithoutAnUnderlyingTypeIsASyntaxError) {
  EXPECT_EQ(errors(R"(
enum E { a = 1; }
)"),
            "t.lss:2:8: error: expected ':' after the enum name (an enum declares its type: u8, "
            "u16 or u32), found '{'\n");
}

// ---- Diagnostics: keys ------------------------------------------------------------

TEST(SchemaErrors, ARecordWithoutAPrimaryKeyIsReportedAtItsName) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
}
)"),
            "t.lss:2:8: error: record 'R' has no primary key (primary key (FIELD, ...);)\n");
}

TEST(SchemaErrors, ASecondPrimaryKeyIsReported) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: u64;
  primary key (a);
  primary key (b);
}
)"),
            "t.lss:6:3: error: record 'R' already has a primary key (at 5:3)\n");
}

TEST(SchemaErrors, ASecondPrimaryKeyIsReportedEvenWhenTheFirstIsBad) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  primary key (nope);
  primary key (a);
}
)"),
            "t.lss:4:16: error: key 'primary' names field 'nope', which record 'R' does not have\n"
            "t.lss:5:3: error: record 'R' already has a primary key (at 4:3)\n");
}

TEST(SchemaErrors, AUniqueKeyAndAnIndexWithTheSameNameAreReported) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: u64;
  primary key (a);
  unique by_b (b);
  index by_b (b, a);
}
)"),
            "t.lss:7:9: error: duplicate key or index name 'by_b' in record 'R' (first at 6:10)\n");
}

TEST(SchemaErrors, TwoIndexesWithTheSameNameAreReported) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  b: u64;
  primary key (a);
  index by_b (b);
  index by_b (b, a);
}
)"),
            "t.lss:7:9: error: duplicate key or index name 'by_b' in record 'R' (first at 6:9)\n");
}

// ---- Diagnostics: transitions -----------------------------------------------------

TEST(SchemaErrors, TransitionsOnANonEnumFieldAreReportedAtTheField) {
  EXPECT_EQ(errors(R"(
record R {
  id: u64;
  n: u32;
  primary key (id);
  transitions n {
  }
}
)"),
            "t.lss:6:15: error: transitions need an enum field; 'n' is u32\n");
}

TEST(SchemaErrors, TransitionsOnAMissingFieldAreReportedAtTheField) {
  EXPECT_EQ(errors(R"(
record R {
  id: u64;
  primary key (id);
  transitions state {
  }
}
)"),
            "t.lss:5:15: error: transitions name field 'state', which record 'R' does not have\n");
}

// kStates, then a record R with transitions on its field s.
std::string body_with_states(std::string_view transitions) {
  std::string body(kStates);
  body += "record R {\n  id: u64;\n  s: S;\n  primary key (id);\n  transitions s {\n";
  body += transitions;
  return body + "  }\n}\n";
}

TEST(SchemaErrors, AnUnknownInitialValueIsReported) {
  // kStates takes lines 2..6; the record starts on line 7 and the transitions on line 12.
  EXPECT_EQ(errors(body_with_states("    initial a, x;\n")),
            "t.lss:12:16: error: 'x' is not a value of enum 'S'\n");
}

TEST(SchemaErrors, AnUnknownValueInATransitionIsReportedOnceWhateverTheOtherSideLists) {
  EXPECT_EQ(errors(body_with_states("    x -> a, b;\n    a, b -> y;\n")),
            "t.lss:12:5: error: 'x' is not a value of enum 'S'\n"
            "t.lss:13:13: error: 'y' is not a value of enum 'S'\n");
}

TEST(SchemaErrors, ASelfEdgeIsReportedAtItsTarget) {
  EXPECT_EQ(errors(body_with_states("    a, b -> b;\n")),
            "t.lss:12:13: error: transition b -> b goes nowhere (staying in a state is always "
            "allowed)\n");
}

TEST(SchemaErrors, ASecondTransitionsBlockIsReported) {
  EXPECT_EQ(errors(body_with_states("    a -> b;\n  }\n  transitions s {\n    b -> a;\n")),
            "t.lss:14:3: error: record 'R' already declares transitions (at 11:3); a record has "
            "one state machine\n");
}

// ---- Diagnostics: names -----------------------------------------------------------

TEST(SchemaErrors, ARecordNamedAfterACppKeywordIsRefused) {
  EXPECT_EQ(errors(R"(
record class { id: u64; primary key (id); }
)"),
            "t.lss:2:8: error: record name 'class' is a C++ keyword or reserved name\n");
}

TEST(SchemaErrors, AFieldNamedAfterACppKeywordIsRefused) {
  EXPECT_EQ(errors(R"(
command C = 1 {
  int: u64;
}
)"),
            "t.lss:3:3: error: field name 'int' is a C++ keyword or reserved name\n");
}

TEST(SchemaErrors, AnEnumValueNamedAfterACppKeywordIsRefused) {
  EXPECT_EQ(errors(R"(
enum E : u8 { default = 1; }
)"),
            "t.lss:2:15: error: enum value name 'default' is a C++ keyword or reserved name\n");
}

TEST(SchemaErrors, ADomainNamedStdIsRefused) {
  EXPECT_EQ(schema::parse("domain std version 1;", "t.lss").error_text(),
            "t.lss:1:8: error: domain name 'std' is a C++ keyword or reserved name\n");
}

TEST(SchemaErrors, ANameWithALeadingUnderscoreIsRefused) {
  EXPECT_EQ(errors(R"(
reject _late = 1;
)"),
            "t.lss:2:8: error: reject name '_late' may not begin or end with '_' or contain '__' "
            "(reserved for generated names)\n");
}

TEST(SchemaErrors, ANameWithATrailingUnderscoreIsRefused) {
  EXPECT_EQ(errors(R"(
command C = 1 { pad_: u8; }
)"),
            "t.lss:2:17: error: field name 'pad_' may not begin or end with '_' or contain '__' "
            "(reserved for generated names)\n");
}

TEST(SchemaErrors, ANameWithADoubleUnderscoreIsRefused) {
  EXPECT_EQ(errors(R"(
record A__B { id: u64; primary key (id); }
)"),
            "t.lss:2:8: error: record name 'A__B' may not begin or end with '_' or contain '__' "
            "(reserved for generated names)\n");
}

TEST(SchemaErrors, ATypeNameDeclaredTwiceIsReportedAtTheSecond) {
  EXPECT_EQ(errors(R"(
enum S : u8 { a = 1; }
record S { id: u64; primary key (id); }
)"),
            "t.lss:3:8: error: 'S' is already declared (at 2:6)\n");
}

TEST(SchemaErrors, ACommandAndAnEventMayNotShareAName) {
  EXPECT_EQ(errors(R"(
command Paid = 1 { x: u64; }
event Paid = 1 { x: u64; }
)"),
            "t.lss:3:7: error: 'Paid' is already declared (at 2:9)\n");
}

TEST(SchemaErrors, AnEnumNamedAfterABuiltInTypeIsRefused) {
  // Otherwise "x: u32;" below would silently be the scalar, not the enum.
  EXPECT_EQ(errors(R"(
enum u32 : u8 { a = 1; }
record R { id: u64; x: u32; primary key (id); }
)"),
            "t.lss:2:6: error: 'u32' is a built-in type name\n");
}

TEST(SchemaErrors, ARecordUsedAsAFieldTypeIsRefused) {
  EXPECT_EQ(errors(R"(
record A { id: u64; primary key (id); }
record B {
  id: u64;
  a: A;
  primary key (id);
}
)"),
            "t.lss:5:6: error: 'A' is not a field type: only enums, scalars, decimal(S), bytes[N] "
            "and char[N] are\n");
}

TEST(SchemaErrors, TwoRecordsWithTheSameTableNameCollide) {
  EXPECT_EQ(
      errors(R"(
record Box { id: u64; primary key (id); }
record Boxe { id: u64; primary key (id); }
)"),
      "t.lss:3:8: error: record 'Boxe' gets the table name 'boxes', which record 'Box' has\n");
}

TEST(SchemaErrors, ARecordWhoseTableNameIsAMemberOfTheGeneratedTxCollides) {
  EXPECT_EQ(errors(R"(
record NowN { id: u64; primary key (id); }
)"),
            "t.lss:2:8: error: record 'NowN' gets the table name 'now_ns', which the generated Tx "
            "already uses\n");
}

TEST(SchemaErrors, TwoCommandsWithTheSameHandlerNameCollide) {
  EXPECT_EQ(errors(R"(
command OpenAccount = 1 { x: u64; }
command Open_account = 2 { x: u64; }
command open_account = 3 { x: u64; }
)"),
            "t.lss:3:9: error: command 'Open_account' gets the handler name 'open_account', which "
            "command 'OpenAccount' has\n"
            "t.lss:4:9: error: command 'open_account' gets the handler name 'open_account', which "
            "command 'OpenAccount' has\n");
}

TEST(SchemaErrors, ACommandWhoseHandlerNameIsACppKeywordIsRefused) {
  EXPECT_EQ(errors(R"(
command Delete = 1 { x: u64; }
)"),
            "t.lss:2:9: error: command 'Delete' gets the handler name 'delete', which is a C++ "
            "keyword or reserved name\n");
}

// ---- Diagnostics: name lengths ---------------------------------------------------
// A name is a u16 length and at most 255 bytes in the descriptor (model.h, kNameBytesMax):
// a longer one is refused where it is declared, quoted by its first 32 bytes.

// The message for a name of `what` that is long_name(bytes).
std::string too_long(std::string_view what, std::size_t bytes) {
  return std::string(what) + " '" + long_name(bytes).substr(0, 32) + "...' is " +
         std::to_string(bytes) + " bytes long; at most 255\n";
}

TEST(SchemaErrors, ADomainNameOf256BytesIsRefused) {
  EXPECT_EQ(schema::parse("domain " + long_name(256) + " version 1;", "t.lss").error_text(),
            "t.lss:1:8: error: " + too_long("domain name", 256));
}

TEST(SchemaErrors, AnEnumNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nenum " + long_name(256) + " : u8 { a = 1; }\n"),
            "t.lss:2:6: error: " + too_long("enum name", 256));
}

TEST(SchemaErrors, AnEnumValueNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nenum E : u8 {\n  " + long_name(256) + " = 1;\n}\n"),
            "t.lss:3:3: error: " + too_long("enum value name", 256));
}

TEST(SchemaErrors, ARecordNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nrecord " + long_name(256) + " { id: u64; primary key (id); }\n"),
            "t.lss:2:8: error: " + too_long("record name", 256));
}

TEST(SchemaErrors, ACommandNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\ncommand " + long_name(256) + " = 1 { a: u8; }\n"),
            "t.lss:2:9: error: " + too_long("command name", 256));
}

TEST(SchemaErrors, AnEventNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nevent " + long_name(256) + " = 1 { a: u8; }\n"),
            "t.lss:2:7: error: " + too_long("event name", 256));
}

TEST(SchemaErrors, AFieldNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\ncommand C = 1 {\n  " + long_name(256) + ": u8;\n}\n"),
            "t.lss:3:3: error: " + too_long("field name", 256));
}

TEST(SchemaErrors, AUniqueKeyNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nrecord R {\n  id: u64;\n  primary key (id);\n  unique " + long_name(256) +
                   " (id);\n}\n"),
            "t.lss:5:10: error: " + too_long("unique key name", 256));
}

TEST(SchemaErrors, AnIndexNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nrecord R {\n  id: u64;\n  primary key (id);\n  index " + long_name(256) +
                   " (id);\n}\n"),
            "t.lss:5:9: error: " + too_long("index name", 256));
}

TEST(SchemaErrors, AnInvariantNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nrecord R {\n  id: u64;\n  primary key (id);\n  invariant " + long_name(256) +
                   ";\n}\n"),
            "t.lss:5:13: error: " + too_long("invariant name", 256));
}

TEST(SchemaErrors, ARejectNameOf256BytesIsRefused) {
  EXPECT_EQ(errors("\nreject " + long_name(256) + " = 1;\n"),
            "t.lss:2:8: error: " + too_long("reject name", 256));
}

TEST(SchemaErrors, ANameOfAMillionBytesIsReportedOnceWithItsLength) {
  EXPECT_EQ(errors("\nreject " + long_name(1'000'000) + " = 1;\n"),
            "t.lss:2:8: error: " + too_long("reject name", 1'000'000));
}

// ---- Diagnostics: syntax ----------------------------------------------------------

TEST(SchemaErrors, ASchemaWithoutTheDomainHeaderIsRefused) {
  EXPECT_EQ(schema::parse("\n  record R { id: u64; primary key (id); }\n", "t.lss").error_text(),
            "t.lss:2:3: error: expected 'domain' at the start of a schema, found 'record'\n");
}

TEST(SchemaErrors, AnEmptySchemaIsRefused) {
  EXPECT_EQ(schema::parse("", "t.lss").error_text(),
            "t.lss:1:1: error: expected 'domain' at the start of a schema, found end of file\n");
}

TEST(SchemaErrors, ASecondDomainHeaderIsRefused) {
  EXPECT_EQ(errors(R"(
domain u version 2;
)"),
            "t.lss:2:1: error: a schema declares one domain; this is a second 'domain'\n");
}

TEST(SchemaErrors, VersionZeroIsRefused) {
  EXPECT_EQ(schema::parse("domain t version 0;", "t.lss").error_text(),
            "t.lss:1:18: error: version must be at least 1\n");
}

TEST(SchemaErrors, AnUnterminatedBlockCommentIsReportedWhereItStarts) {
  EXPECT_EQ(errors(R"(
record R { /* never
closed
)"),
            "t.lss:2:12: error: unterminated comment\n");
}

TEST(SchemaErrors, AnUnexpectedCharacterIsReportedWhereItIs) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64 @;
}
)"),
            "t.lss:3:10: error: unexpected character '@'\n");
}

TEST(SchemaErrors, AByteOutsideAsciiIsReportedInHex) {
  EXPECT_EQ(errors("\nrecord R\xC3\xA9 {}\n"), "t.lss:2:9: error: unexpected byte 0xc3\n");
}

TEST(SchemaErrors, AMissingSemicolonStopsTheParseAtTheNextToken) {
  // The duplicate field after the syntax error is not reported: the parse stopped.
  EXPECT_EQ(errors(R"(
record R {
  a: u64
  b: u32;
  b: u32;
}
)"),
            "t.lss:4:3: error: expected ';' after the field, found 'b'\n");
}

TEST(SchemaErrors, SemanticErrorsBeforeASyntaxErrorAreKept) {
  EXPECT_EQ(errors(R"(
reject a = 0;
record R {
  a: u64
}
)"),
            "t.lss:2:12: error: reject code 0 means success; codes start at 1\n"
            "t.lss:5:1: error: expected ';' after the field, found '}'\n");
}

TEST(SchemaErrors, AnIntegerBeyond64BitsIsReportedOnceAsOutOfRange) {
  EXPECT_EQ(errors(R"(
reject a = 99999999999999999999999;
)"),
            "t.lss:2:12: error: reject code 99999999999999999999999 is out of range (at most "
            "65535)\n");
}

TEST(SchemaErrors, AVersionBeyond32BitsIsReportedOnceAsOutOfRange) {
  EXPECT_EQ(schema::parse("domain t version 0x100000000;", "t.lss").error_text(),
            "t.lss:1:18: error: version 0x100000000 is out of range (at most 4294967295)\n");
}

TEST(SchemaErrors, AKindBeyond64BitsIsNotAlsoReportedAsZero) {
  EXPECT_EQ(errors(R"(
command A = 99999999999999999999999 { x: u64; }
)"),
            "t.lss:2:13: error: kind 99999999999999999999999 is out of range (at most 65535)\n");
}

TEST(SchemaErrors, ANumberWithLettersIsASyntaxError) {
  EXPECT_EQ(errors(R"(
reject a = 12ab;
)"),
            "t.lss:2:12: error: '12ab' is not a valid reject code\n");
}

TEST(SchemaErrors, AHexPrefixWithoutDigitsIsASyntaxError) {
  EXPECT_EQ(errors(R"(
reject a = 0x;
)"),
            "t.lss:2:12: error: '0x' is not a valid reject code\n");
}

// ---- Diagnostics: several at once -------------------------------------------------

TEST(SchemaErrors, SeveralSemanticErrorsAreAllReportedSortedByPosition) {
  // The unknown type, the table name collision and the transition are found after the
  // parse, the others during it; all are reported, in file order.
  EXPECT_EQ(errors(R"(
enum S : u8 { a = 1; a = 2; }
record R {
  id: u64;
  id: u32;
  m: Money;
  primary key (id, zz);
}
record r {
  id: u64;
  s: S;
  primary key (id);
  transitions s { a -> x; }
}
command C = 0 { x: u64; }
reject r = 0;
)"),
            "t.lss:2:22: error: duplicate value name 'a' in enum 'S' (first at 2:15)\n"
            "t.lss:5:3: error: duplicate field 'id' in record 'R' (first at 4:3)\n"
            "t.lss:6:6: error: unknown type 'Money' for field 'm'\n"
            "t.lss:7:20: error: key 'primary' names field 'zz', which record 'R' does not have\n"
            "t.lss:9:8: error: record 'r' gets the table name 'rs', which record 'R' has\n"
            "t.lss:13:24: error: 'x' is not a value of enum 'S'\n"
            "t.lss:15:13: error: kind 0 is reserved; kinds start at 1\n"
            "t.lss:16:12: error: reject code 0 means success; codes start at 1\n");
}

TEST(SchemaErrors, SizeLimitsAreReportedWithOtherSemanticErrorsWhenEveryTypeIsKnown) {
  // The layout needs every field's type; here all are known, so it runs.
  EXPECT_EQ(errors(R"(
reject a = 0;
record Big { a: bytes[1024]; b: bytes[1024]; c: bytes[1024]; d: bytes[1024]; e: u8;
  primary key (e); }
)"),
            "t.lss:2:12: error: reject code 0 means success; codes start at 1\n"
            "t.lss:3:8: error: record 'Big' is 4097 bytes, larger than the limit of 4096\n");
}

TEST(SchemaErrors, TwoRecordsWithTheSameNameAndEnumFieldsDoNotConfuseTheChecks) {
  EXPECT_EQ(errors(R"(
enum S : u8 { a = 1; b = 2; }
record R { id: u64; primary key (id); }
record R {
  id: u64;
  s: S;
  primary key (id);
  transitions s { a -> b; }
}
)"),
            "t.lss:4:8: error: 'R' is already declared (at 3:8)\n");
}

// ---- Diagnostics: repetitions and the cap ------------------------------------------
// A repeated name or number is reported once per repetition, against the first
// declaration (not against every earlier one), and at most 100 diagnostics are kept.

TEST(SchemaErrors, ThreeThousandRepeatsOfAnEnumValueAreEachReportedOnceAgainstTheFirst) {
  std::string body = "\nenum E : u32 {\n";
  for (int i = 0; i < 3'000; ++i) body += "  a = 1;\n";
  const schema::ParseResult r = parse_body(body + "}\n");
  // The first 'a' is on line 3; the 2,999 repetitions on lines 4 to 3002.
  ASSERT_EQ(r.diagnostics.size(), schema::kDiagnosticsMax);
  EXPECT_EQ(r.diagnostics_not_shown, 2'999 - schema::kDiagnosticsMax);
  for (std::size_t i = 0; i < r.diagnostics.size(); ++i) {
    EXPECT_EQ(r.diagnostics[i].loc.line, 4 + i);
    EXPECT_EQ(r.diagnostics[i].message, "duplicate value name 'a' in enum 'E' (first at 3:3)");
  }
}

TEST(SchemaErrors, ThreeThousandEnumValuesOfOneNumberNameTheFirstOnly) {
  std::string body = "\nenum E : u32 {\n";
  for (int i = 0; i < 3'000; ++i) body += "  a" + std::to_string(i) + " = 1;\n";
  const schema::ParseResult r = parse_body(body + "}\n");
  ASSERT_EQ(r.diagnostics.size(), schema::kDiagnosticsMax);
  EXPECT_EQ(r.diagnostics_not_shown, 2'999 - schema::kDiagnosticsMax);
  EXPECT_EQ(r.diagnostics.back().to_string(),
            "t.lss:103:3: error: value 1 of 'a100' is already used by 'a0' in enum 'E' (at 3:3)");
}

TEST(SchemaErrors, TheErrorTextEndsWithHowManyErrorsWereNotShown) {
  std::string body = "\nenum E : u32 {\n";
  for (int i = 0; i < 3'000; ++i) body += "  a = 1;\n";
  const std::string text = errors(body + "}\n");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 101);
  const std::string last =
      "t.lss:103:3: error: duplicate value name 'a' in enum 'E' (first at 3:3)\n"
      "... 2899 more errors not shown (at most 100 are reported)\n";
  ASSERT_GE(text.size(), last.size());
  EXPECT_EQ(text.substr(text.size() - last.size()), last);
}

TEST(SchemaErrors, TheFirstErrorsInFileOrderAreKeptWhenALaterCheckFindsAnEarlierOne) {
  // An unknown field type on line 2, found after the parse, and 299 repeated rejects on
  // lines 4..302, found (and cut to the first 100) while parsing.
  std::string body = "\ncommand C = 1 { x: Unknown; }\n";
  for (int i = 0; i < 300; ++i) body += "reject a = 1;\n";
  const schema::ParseResult r = parse_body(body);
  ASSERT_EQ(r.diagnostics.size(), schema::kDiagnosticsMax);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "t.lss:2:20: error: unknown type 'Unknown' for field 'x'");
  EXPECT_EQ(r.diagnostics[1].loc.line, 4u);
  EXPECT_EQ(r.diagnostics.back().loc.line, 102u);
  EXPECT_EQ(r.diagnostics_not_shown, 200u);
}

TEST(SchemaErrors, AThirdRejectOfACodeNamesTheFirst) {
  EXPECT_EQ(errors(R"(
reject a = 1;
reject b = 1;
reject c = 1;
)"),
            "t.lss:3:12: error: reject code 1 is already used by 'a' (at 2:8)\n"
            "t.lss:4:12: error: reject code 1 is already used by 'a' (at 2:8)\n");
}

TEST(SchemaErrors, AThirdCommandOfAKindNamesTheFirst) {
  EXPECT_EQ(errors(R"(
command A = 1 { x: u64; }
command B = 1 { x: u64; }
command C = 1 { x: u64; }
)"),
            "t.lss:3:13: error: command kind 1 is already used by 'A' (at 2:9)\n"
            "t.lss:4:13: error: command kind 1 is already used by 'A' (at 2:9)\n");
}

TEST(SchemaErrors, AThirdInvariantOfANameNamesTheFirst) {
  EXPECT_EQ(errors(R"(
record R {
  a: u64;
  primary key (a);
  invariant p;
  invariant p;
  invariant p;
}
)"),
            "t.lss:6:13: error: duplicate invariant 'p' in record 'R' (first at 5:13)\n"
            "t.lss:7:13: error: duplicate invariant 'p' in record 'R' (first at 5:13)\n");
}

TEST(SchemaErrors, AnEnumValueRepeatingBothNameAndNumberIsOneError) {
  EXPECT_EQ(errors(R"(
enum E : u8 {
  a = 1;
  b = 2;
  a = 1;
  a = 2;
}
)"),
            "t.lss:5:3: error: duplicate value name 'a' in enum 'E' (first at 3:3)\n"
            "t.lss:6:3: error: duplicate value name 'a' in enum 'E' (first at 3:3)\n"
            "t.lss:6:3: error: value 2 of 'a' is already used by 'b' in enum 'E' (at 4:3)\n");
}

// ---- Descriptor -------------------------------------------------------------------

std::string model_problem(const Domain& d);  // below, with the corruption suite

const Domain& bank_domain() {
  static const Domain d = [] {
    schema::ParseResult r = schema::parse_file(LOCKSTEP_BANK_SCHEMA);
    EXPECT_TRUE(r.ok()) << r.error_text();
    return std::move(r.domain);
  }();
  return d;
}

const std::vector<std::byte>& bank_descriptor() {
  static const std::vector<std::byte> bytes = schema::encode_descriptor(bank_domain());
  return bytes;
}

// Decodes `bytes`; on refusal, `error` says why.
bool decode(const std::vector<std::byte>& bytes, Domain* out, std::string* error) {
  return schema::decode_descriptor(bytes, out, error);
}

TEST(SchemaDescriptor, DecodingAndReEncodingTheBankDescriptorGivesTheSameBytes) {
  Domain d;
  std::string error;
  ASSERT_TRUE(decode(bank_descriptor(), &d, &error)) << error;
  EXPECT_EQ(schema::encode_descriptor(d), bank_descriptor());
  EXPECT_EQ(d.name, "bank");
  EXPECT_EQ(d.records.at(0).name, "Account");
  EXPECT_EQ(d.records[0].fields.at(4).name, "status");
  EXPECT_EQ(d.records[0].state_machine.value().transitions.size(), 4u);
  EXPECT_EQ(d.commands.at(3).name, "MakeTransfer");
  EXPECT_EQ(d.rejects.at(7).code, 8u);
}

TEST(SchemaDescriptor, EveryFieldTypeAndDeclarationRoundTrips) {
  const Domain d = good(R"(
enum Small : u8 { a = 1; b = 0xFF; }
enum Wide : u32 { x = 0; y = 4294967295; }
enum Mid : u16 { p = 7; q = 9; }
record R {
  u: u8; v: u16; w: u32; x: u64; i: i8; j: i16; k: i32; l: i64; big: u128; yes: bool;
  s: Small; m: Mid; wide: Wide; money: decimal(18); raw: bytes[7]; text: char[1024];
  primary key (big, x);
  unique by_text (w, raw);
  index by_m (m);
  invariant a_rule;
  invariant another_rule;
  transitions m { initial q; p -> q; q -> p; }
}
record T { id: u64; primary key (id); }
command C = 65535 { a: Small; }
event E = 1 { b: bool; }
reject r = 65535;
)");
  const std::vector<std::byte> bytes = schema::encode_descriptor(d);
  Domain back;
  std::string error;
  ASSERT_TRUE(decode(bytes, &back, &error)) << error;
  EXPECT_EQ(schema::encode_descriptor(back), bytes);
  EXPECT_EQ(back.records[0].fields[8].type, FieldType::kU128);
  EXPECT_EQ(back.records[0].fields[13].scale, 18u);
  EXPECT_EQ(back.records[0].fields[15].array_bytes, 1024u);
  EXPECT_EQ(back.enums[1].values[1].value, 0xFFFFFFFFu);
  EXPECT_EQ(back.records[0].invariants.size(), 2u);
  EXPECT_EQ(back.records[0].state_machine.value().initial, (std::vector<std::uint64_t>{9}));
  EXPECT_EQ(model_problem(back), "");
}

TEST(SchemaDescriptor, SourcePositionsAndCommentsAreNotPartOfTheBytes) {
  const Domain a = good("\nrecord R { id: u64; primary key (id); }\n");
  const Domain b = good("\n\n// moved\n   record R {\n id: u64;\n primary key (id);\n }\n");
  EXPECT_EQ(schema::encode_descriptor(a), schema::encode_descriptor(b));
}

TEST(SchemaDescriptor, TheHashIsTheSameForTheSameSchema) {
  const auto again = schema::parse_file(LOCKSTEP_BANK_SCHEMA);
  ASSERT_TRUE(again.ok());
  const schema::DescriptorHash h = schema::descriptor_hash(bank_descriptor());
  EXPECT_EQ(schema::descriptor_hash(schema::encode_descriptor(again.domain)), h);
  EXPECT_EQ(schema::to_hex(h).size(), 2 * schema::kDescriptorHashBytes);
}

TEST(SchemaDescriptor, TheHashOfTheEmptyInputIsSha256) {
  EXPECT_EQ(schema::to_hex(schema::descriptor_hash({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SchemaDescriptor, TheHashChangesWithTheSchema) {
  const std::vector<std::byte> base =
      schema::encode_descriptor(good("\nrecord R { id: u64; primary key (id); }\n"));
  const schema::DescriptorHash h = schema::descriptor_hash(base);
  for (const char* changed : {
           "\nrecord R { id: u32; primary key (id); }\n",
           "\nrecord R { key: u64; primary key (key); }\n",
           "\nrecord S { id: u64; primary key (id); }\n",
           "\nrecord R { id: u64; primary key (id); invariant ok; }\n",
           "\nrecord R { id: u64; primary key (id); }\nreject r = 1;\n",
       }) {
    SCOPED_TRACE(changed);
    EXPECT_NE(schema::descriptor_hash(schema::encode_descriptor(good(changed))), h);
  }
  Domain v2 = good("\nrecord R { id: u64; primary key (id); }\n");
  v2.version = 2;
  EXPECT_NE(schema::descriptor_hash(schema::encode_descriptor(v2)), h);
}

std::string read_file(const char* path) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) throw std::runtime_error(std::string("cannot read ") + path);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

TEST(SchemaDescriptor, RandomEditsOfTheBankSchemaParseOrFailCleanlyAndWhatParsesDecodes) {
  const std::uint64_t seed = seed_from_env(std::random_device{}());
  std::printf("schema text mutation seed %llu (LOCKSTEP_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string base = read_file(LOCKSTEP_BANK_SCHEMA);
  static constexpr std::string_view kAlphabet = "{}();:,=->_ \nab0x9AZ/*";
  int accepted = 0;
  for (int round = 0; round < 2'000; ++round) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = kAlphabet[rng() % kAlphabet.size()]; break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        default: text.insert(at, text.substr(rng() % text.size(), 1 + rng() % 40)); break;
      }
    }
    SCOPED_TRACE("round " + std::to_string(round) + ":\n" + text);
    const schema::ParseResult r = schema::parse(text, "bank.lss");
    for (std::size_t i = 0; i < r.diagnostics.size(); ++i) {
      const schema::Diagnostic& d = r.diagnostics[i];
      ASSERT_GE(d.loc.line, 1u);
      ASSERT_GE(d.loc.column, 1u);
      ASSERT_FALSE(d.message.empty());
      if (i > 0) {
        const schema::SourceLoc& p = r.diagnostics[i - 1].loc;
        ASSERT_LE(std::pair(p.line, p.column), std::pair(d.loc.line, d.loc.column));
      }
    }
    if (!r.ok()) continue;
    ++accepted;
    ASSERT_EQ(model_problem(r.domain), "");
    const std::vector<std::byte> bytes = schema::encode_descriptor(r.domain);
    Domain back;
    std::string error;
    ASSERT_TRUE(decode(bytes, &back, &error)) << error;
    ASSERT_EQ(schema::encode_descriptor(back), bytes);
  }
  std::printf("%d of 2000 edited schemas parse\n", accepted);
}

// ---- Descriptor: specific refusals ------------------------------------------------

// The struct of `list` named `name`.
Struct& named(std::vector<Struct>& list, std::string_view name) {
  const auto it =
      std::find_if(list.begin(), list.end(), [&](const Struct& s) { return s.name == name; });
  if (it == list.end()) throw std::logic_error("no struct " + std::string(name));
  return *it;
}

// The bank descriptor with `change` applied to its domain.
template <class Change>
std::vector<std::byte> bank_changed(Change change) {
  Domain d = bank_domain();
  change(d);
  return schema::encode_descriptor(d);
}

// The refusal message for `bytes`, which must be refused.
std::string refusal(const std::vector<std::byte>& bytes) {
  Domain d;
  std::string error;
  EXPECT_FALSE(decode(bytes, &d, &error));
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(SchemaDescriptorRefusal, BadMagicIsRefusedAtByteZero) {
  std::vector<std::byte> bytes = bank_descriptor();
  bytes[0] = std::byte{'X'};
  EXPECT_EQ(refusal(bytes), "descriptor byte 0: bad magic (not a lockstep schema descriptor)");
}

TEST(SchemaDescriptorRefusal, AnotherFormatVersionIsRefusedAtItsOffset) {
  std::vector<std::byte> bytes = bank_descriptor();
  bytes[4] = std::byte{2};
  EXPECT_EQ(refusal(bytes), "descriptor byte 4: format version 2 (this build reads 1)");
}

TEST(SchemaDescriptorRefusal, TrailingBytesAreRefusedAtTheFirstOfThem) {
  std::vector<std::byte> bytes = bank_descriptor();
  const std::size_t size = bytes.size();
  bytes.push_back(std::byte{0});
  EXPECT_EQ(refusal(bytes),
            "descriptor byte " + std::to_string(size) + ": trailing bytes after the descriptor");
}

TEST(SchemaDescriptorRefusal, AFieldOffsetThatLiesAboutTheLayoutIsRefused) {
  const std::string error =
      refusal(bank_changed([](Domain& d) { named(d.records, "Account").fields[1].offset = 12; }));
  EXPECT_NE(error.find("the layout of 'Account' differs from the one its declaration gives"),
            std::string::npos)
      << error;
}

TEST(SchemaDescriptorRefusal, AStructSizeThatLiesAboutTheLayoutIsRefused) {
  const std::string error =
      refusal(bank_changed([](Domain& d) { named(d.events, "Transferred").size = 64; }));
  EXPECT_NE(error.find("the layout of 'Transferred' differs"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AKeySizeThatLiesAboutTheLayoutIsRefused) {
  const std::string error = refusal(
      bank_changed([](Domain& d) { named(d.records, "Account").indexes[0].encoded_bytes = 16; }));
  EXPECT_NE(error.find("the layout of 'Account' differs"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AnEnumIndexOutOfRangeIsRefused) {
  const std::string error = refusal(
      bank_changed([](Domain& d) { named(d.records, "Account").fields[4].enum_index = 99; }));
  EXPECT_NE(error.find("field 'status' names enum 99 of "), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AnUnknownFieldTypeIsRefused) {
  const std::string error = refusal(bank_changed([](Domain& d) {
    named(d.commands, "OpenAccount").fields[0].type = static_cast<FieldType>(15);
  }));
  EXPECT_NE(error.find("unknown field type 15"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AStateMachineOnANonEnumFieldIsRefused) {
  const std::string error = refusal(
      bank_changed([](Domain& d) { named(d.records, "Account").state_machine->field = 5; }));
  EXPECT_NE(error.find("state machine field 5 is not an enum field"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AKeyNamingAFieldOutOfRangeIsRefused) {
  const std::string error = refusal(
      bank_changed([](Domain& d) { named(d.records, "Transfer").indexes[0].fields[1] = 50; }));
  EXPECT_NE(error.find("key 'by_debit' names field 50 of "), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AnArrayLengthOverTheLimitIsRefused) {
  const std::string error = refusal(bank_changed([](Domain& d) {
    named(d.records, "Account").fields[1].array_bytes = 1025;
    schema::lay_out(d);
  }));
  EXPECT_NE(error.find("field 'owner' has array length 1025"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, ATransitionToAValueTheEnumLacksIsRefused) {
  const std::string error = refusal(bank_changed(
      [](Domain& d) { named(d.records, "Account").state_machine->transitions[3].to = 4; }));
  EXPECT_NE(error.find("not a value of enum 'AccountStatus'"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, TransitionsOutOfOrderAreRefused) {
  const std::string error = refusal(bank_changed([](Domain& d) {
    auto& t = named(d.records, "Account").state_machine->transitions;
    std::swap(t[0], t[1]);
  }));
  EXPECT_NE(error.find("transitions are not in ascending order"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, ACommandKindUsedTwiceIsRefused) {
  const std::string error =
      refusal(bank_changed([](Domain& d) { named(d.commands, "Deposit").number = 1; }));
  EXPECT_NE(error.find("command kind 1 is used twice"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, ARecordWhoseTableIdIsNotItsPositionIsRefused) {
  const std::string error =
      refusal(bank_changed([](Domain& d) { named(d.records, "Transfer").number = 7; }));
  EXPECT_NE(error.find("record 'Transfer' has table id 7, expected 1"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, AnEnumValueBeyondItsTypeIsRefused) {
  const std::string error =
      refusal(bank_changed([](Domain& d) { d.enums[0].values[2].value = 256; }));
  EXPECT_NE(error.find("enum value 256 does not fit"), std::string::npos) << error;
}

TEST(SchemaDescriptorRefusal, ANonZeroParameterOfAFieldTypeWithoutOneIsRefused) {
  // A u64 with an enum index would encode the same schema as other bytes (another hash).
  const std::string error = refusal(
      bank_changed([](Domain& d) { named(d.records, "Account").fields[0].enum_index = 0x100; }));
  EXPECT_NE(error.find("field 'id' of type u64 has a non-zero enum index"), std::string::npos)
      << error;
}

// ---- Descriptor: corruption suite -------------------------------------------------

// What the parser guarantees of every Domain it returns, written independently of the
// decoder: "" when `d` holds to it, else the first problem found. The corruption suite
// requires it of every descriptor the decoder accepts.
std::string model_problem(const Domain& d) {
  const auto identifier = [](const std::string& n) {
    if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
    for (char c : n) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!ok) return false;
    }
    return true;
  };
  if (!identifier(d.name)) return "domain name";
  if (d.version == 0) return "version 0";
  std::set<std::string> types;
  for (const Enum& e : d.enums) {
    if (!identifier(e.name) || !types.insert(e.name).second) return "enum name " + e.name;
    if (e.values.empty()) return "empty enum " + e.name;
    const std::uint64_t max = e.underlying == FieldType::kU8    ? 0xFF
                              : e.underlying == FieldType::kU16 ? 0xFFFF
                                                                : 0xFFFFFFFF;
    std::set<std::string> names;
    std::set<std::uint64_t> values;
    for (const schema::EnumValue& v : e.values) {
      if (!identifier(v.name) || !names.insert(v.name).second) return "value name " + v.name;
      if (v.value > max || !values.insert(v.value).second) return "value of " + v.name;
    }
  }
  const auto enum_has = [&](const Enum& e, std::uint64_t v) { return e.find(v) != nullptr; };
  const auto check_struct = [&](const Struct& s) -> std::string {
    if (!identifier(s.name) || !types.insert(s.name).second) return "struct name " + s.name;
    if (s.fields.empty()) return s.name + " has no fields";
    std::set<std::string> names;
    for (const Field& f : s.fields) {
      if (!identifier(f.name) || !names.insert(f.name).second) return "field name " + f.name;
      const bool is_enum = f.type == FieldType::kEnum;
      const bool is_array = f.type == FieldType::kBytes || f.type == FieldType::kChars;
      const bool is_decimal = f.type == FieldType::kDecimal;
      if (is_enum ? f.enum_index >= d.enums.size() : f.enum_index != 0) return "enum index";
      if (is_array ? (f.array_bytes == 0 || f.array_bytes > 1024) : f.array_bytes != 0) {
        return "array length of " + f.name;
      }
      if (is_decimal ? f.scale > 18 : f.scale != 0) return "scale of " + f.name;
    }
    if (s.size > schema::kStructBytesMax) return s.name + " too large";
    if (s.kind != schema::StructKind::kRecord) return "";
    const auto check_key = [&](const Key& k) -> std::string {
      if (k.fields.empty()) return "empty key " + k.name;
      if (std::set<std::uint32_t>(k.fields.begin(), k.fields.end()).size() != k.fields.size()) {
        return "a field twice in key " + k.name;
      }
      for (std::uint32_t f : k.fields) {
        if (f >= s.fields.size()) return "key field out of range";
      }
      return "";
    };
    if (s.primary.name != "primary") return "primary key named " + s.primary.name;
    if (auto p = check_key(s.primary); !p.empty()) return p;
    if (s.primary.encoded_bytes > schema::kKeyBytesMax) return "primary key too long";
    if (s.uniques.size() + s.indexes.size() > schema::kKeysPerRecordMax) return "too many keys";
    std::set<std::string> key_names;
    for (const Key& k : s.uniques) {
      if (!identifier(k.name) || !key_names.insert(k.name).second) return "key name " + k.name;
      if (auto p = check_key(k); !p.empty()) return p;
      if (k.encoded_bytes > schema::kKeyBytesMax) return "unique key too long";
    }
    for (const Key& k : s.indexes) {
      if (!identifier(k.name) || !key_names.insert(k.name).second) return "key name " + k.name;
      if (auto p = check_key(k); !p.empty()) return p;
      if (k.encoded_bytes + s.primary.encoded_bytes > schema::kKeyBytesMax) return "index too long";
    }
    std::set<std::string> invariants;
    for (const schema::Invariant& inv : s.invariants) {
      if (!identifier(inv.name) || !invariants.insert(inv.name).second) return "invariant";
    }
    if (!s.state_machine.has_value()) return "";
    const StateMachine& sm = *s.state_machine;
    if (sm.field >= s.fields.size() || s.fields[sm.field].type != FieldType::kEnum) {
      return "state machine field";
    }
    const Enum& e = d.enums[s.fields[sm.field].enum_index];
    for (std::size_t i = 0; i < sm.initial.size(); ++i) {
      if (!enum_has(e, sm.initial[i])) return "initial value not in the enum";
      if (i > 0 && sm.initial[i - 1] >= sm.initial[i]) return "initial values out of order";
    }
    for (std::size_t i = 0; i < sm.transitions.size(); ++i) {
      const Transition& t = sm.transitions[i];
      if (!enum_has(e, t.from) || !enum_has(e, t.to) || t.from == t.to) return "transition";
      if (i > 0 && std::pair(sm.transitions[i - 1].from, sm.transitions[i - 1].to) >=
                       std::pair(t.from, t.to)) {
        return "transitions out of order";
      }
    }
    return "";
  };
  for (std::size_t i = 0; i < d.records.size(); ++i) {
    if (d.records[i].number != i) return "table id of " + d.records[i].name;
    if (auto p = check_struct(d.records[i]); !p.empty()) return p;
  }
  for (const auto* list : {&d.commands, &d.events}) {
    std::set<std::uint32_t> kinds;
    for (const Struct& s : *list) {
      if (s.number == 0 || s.number > schema::kKindMax || !kinds.insert(s.number).second) {
        return "kind of " + s.name;
      }
      if (auto p = check_struct(s); !p.empty()) return p;
    }
  }
  std::set<std::string> reject_names;
  std::set<std::uint32_t> codes;
  for (const schema::Reject& r : d.rejects) {
    if (!identifier(r.name) || !reject_names.insert(r.name).second) return "reject name";
    if (r.code == 0 || r.code > schema::kDomainRejectMax || !codes.insert(r.code).second) {
      return "reject code of " + r.name;
    }
  }
  return "";
}

// Decodes possibly corrupt `bytes`: refused with a message, or accepted as a domain that
// holds to the model and re-encodes to exactly `bytes`. Returns whether it was accepted.
bool expect_refused_or_consistent(const std::vector<std::byte>& bytes) {
  Domain d;
  std::string error;
  if (!decode(bytes, &d, &error)) {
    EXPECT_FALSE(error.empty());
    return false;
  }
  EXPECT_EQ(model_problem(d), "");
  EXPECT_TRUE(schema::encode_descriptor(d) == bytes);
  return true;
}

TEST(SchemaDescriptorCorruption, TheBankDomainHoldsToTheModel) {
  EXPECT_EQ(model_problem(bank_domain()), "");
}

TEST(SchemaDescriptorCorruption, EveryTruncationIsRefused) {
  const std::vector<std::byte>& full = bank_descriptor();
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    Domain d;
    std::string error;
    ASSERT_FALSE(decode(cut, &d, &error)) << "accepted the first " << n << " bytes";
    ASSERT_NE(error.find("truncated"), std::string::npos) << n << ": " << error;
  }
}

TEST(SchemaDescriptorCorruption, EverySingleBitFlipIsRefusedOrDecodesConsistently) {
  std::vector<std::byte> bytes = bank_descriptor();
  std::size_t accepted = 0;
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    const std::byte mask{static_cast<unsigned char>(1u << (bit % 8))};
    bytes[bit / 8] ^= mask;
    SCOPED_TRACE("bit " + std::to_string(bit));
    if (expect_refused_or_consistent(bytes)) ++accepted;
    bytes[bit / 8] ^= mask;
    if (HasFailure()) return;
  }
  // Flips inside names and inside numbers no rule constrains decode to another valid domain;
  // most flips are refused.
  std::printf("%zu of %zu single-bit flips decode to another consistent domain\n", accepted,
              bytes.size() * 8);
  EXPECT_LT(accepted, bytes.size() * 8 / 2);
}

TEST(SchemaDescriptorCorruption, RandomMultiByteCorruptionsAreRefusedOrDecodeConsistently) {
  const std::uint64_t seed = seed_from_env(std::random_device{}());
  std::printf("descriptor corruption seed %llu (LOCKSTEP_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<std::byte>& base = bank_descriptor();
  for (int round = 0; round < 20'000; ++round) {
    std::vector<std::byte> bytes = base;
    const int corruptions = 1 + static_cast<int>(rng() % 8);
    for (int c = 0; c < corruptions; ++c) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:  // a random byte
          bytes[at] = static_cast<std::byte>(rng());
          break;
        case 1:  // a small number, as counts and indexes are
          bytes[at] = static_cast<std::byte>(rng() % 4);
          break;
        case 2:  // a byte copied from elsewhere
          bytes[at] = bytes[rng() % bytes.size()];
          break;
        default:  // an all-ones byte: a large count
          bytes[at] = std::byte{0xFF};
          break;
      }
    }
    if (rng() % 8 == 0) bytes.resize(rng() % (bytes.size() + 1));
    SCOPED_TRACE("round " + std::to_string(round));
    expect_refused_or_consistent(bytes);
    if (HasFailure()) return;
  }
}

TEST(SchemaGeneratedNames, ATypeNamedLikeAGeneratedOneIsRefused) {
  const auto r =
      schema::parse("domain d version 1;\nrecord Tx { id: u64; primary key (id); }\n", "t.lss");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_text().find("t.lss:2:8: error: 'Tx' is a name the generated header declares"),
            std::string::npos)
      << r.error_text();
}

TEST(SchemaGeneratedNames, ATypeNamedLikeARecordsAccessorIsRefused) {
  const auto r = schema::parse(
      "domain d version 1;\nrecord A { id: u64; primary key (id); }\nevent AAccess = 1 { x: u8; "
      "}\n",
      "t.lss");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(
      r.error_text().find("t.lss:3:7: error: 'AAccess' is the generated accessor of record 'A'"),
      std::string::npos)
      << r.error_text();
}

TEST(SchemaGeneratedNames, AFieldNamedKKindIsRefused) {
  const auto r = schema::parse("domain d version 1;\ncommand C = 1 { kKind: u8; }\n", "t.lss");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_text().find("t.lss:2:17: error: field name 'kKind' is a name the generated "
                                "struct declares"),
            std::string::npos)
      << r.error_text();
}

TEST(SchemaGeneratedNames, AUniqueKeyNamedPkIsRefused) {
  const auto r = schema::parse(
      "domain d version 1;\nrecord A { id: u64; x: u8; primary key (id); unique pk (x); }\n",
      "t.lss");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_text().find("unique key name 'pk' would generate 'find_pk'"), std::string::npos)
      << r.error_text();
}

TEST(SchemaGeneratedNames, AnIndexNamedRangeIsRefused) {
  const auto r = schema::parse(
      "domain d version 1;\nrecord A { id: u64; x: u8; primary key (id); index range (x); }\n",
      "t.lss");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_text().find("index name 'range' would generate 'scan_range'"),
            std::string::npos)
      << r.error_text();
}

}  // namespace
