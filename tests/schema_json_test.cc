// JSON for records, commands and events from the schema model alone (schema/json.h):
// round trips against the bank domain's generated structs, every field type's edge
// values on a schema that uses them all, every refusal, and seeded corruption and
// random-bytes suites. The seeded tests print their seed; LOCKSTEP_SEED=N replays one.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "bank.schema.h"
#include "schema/descriptor.h"
#include "schema/json.h"
#include "schema/parser.h"

namespace {

using lockstep::schema::command_from_json;
using lockstep::schema::Domain;
using lockstep::schema::Field;
using lockstep::schema::FieldType;
using lockstep::schema::Struct;
using lockstep::schema::struct_from_json;
using lockstep::schema::to_json;

// Every field type, with padding between fields, and enums of every width.
constexpr std::string_view kKitchenSchema = R"(
domain kitchen version 1;

enum Small : u8 { none = 0; top = 255; }
enum Wide : u16 { low = 0; high = 65535; }
enum Big : u32 { nil = 0; most = 4294967295; }

command Everything = 1 {
  a_u8: u8;
  a_u16: u16;
  a_u32: u32;
  a_u64: u64;
  a_i8: i8;
  a_i16: i16;
  a_i32: i32;
  a_i64: i64;
  a_u128: u128;
  flag: bool;
  small: Small;
  wide: Wide;
  big: Big;
  d0: decimal(0);
  d2: decimal(2);
  d18: decimal(18);
  name: char[8];
  blob: bytes[4];
}
)";

const Domain& bank_model() {
  static const Domain d = [] {
    Domain out;
    std::string error;
    if (!lockstep::schema::decode_descriptor(bank::Domain::descriptor(), &out, &error)) {
      ADD_FAILURE() << "bank descriptor: " << error;
    }
    return out;
  }();
  return d;
}

const Domain& kitchen_model() {
  static const Domain d = [] {
    auto r = lockstep::schema::parse(kKitchenSchema, "kitchen.lss");
    if (!r.ok()) ADD_FAILURE() << r.error_text();
    return r.domain;
  }();
  return d;
}

const Struct& everything() { return kitchen_model().commands.at(0); }

const Struct& bank_struct(const std::string& name) {
  const Struct* s = bank_model().find_struct(name);
  if (s == nullptr) throw std::invalid_argument("no bank struct " + name);
  return *s;
}

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
  return std::as_bytes(std::span<const T, 1>(&v, 1));
}

std::vector<std::byte> vec(std::span<const std::byte> b) { return {b.begin(), b.end()}; }

// to_json that must succeed.
std::string json_of(const Domain& d, const Struct& s, std::span<const std::byte> b) {
  std::string out;
  std::string error;
  EXPECT_TRUE(to_json(d, s, b, &out, &error)) << error;
  return out;
}

// struct_from_json that must succeed.
std::vector<std::byte> bytes_from(const Domain& d, const Struct& s, std::string_view json) {
  std::vector<std::byte> out;
  std::string error;
  EXPECT_TRUE(struct_from_json(d, s, json, &out, &error)) << error << "\n  in: " << json;
  return out;
}

// struct_from_json that must fail: its error, and the output left alone.
std::string refusal(const Domain& d, const Struct& s, std::string_view json) {
  std::vector<std::byte> out = {std::byte{0xAB}};
  std::string error;
  EXPECT_FALSE(struct_from_json(d, s, json, &out, &error)) << "accepted: " << json;
  EXPECT_EQ(out, std::vector<std::byte>{std::byte{0xAB}}) << "output changed on failure";
  EXPECT_FALSE(error.empty());
  return error;
}

// to_json that must fail: its error.
std::string encode_refusal(const Domain& d, const Struct& s, std::span<const std::byte> b) {
  std::string out = "untouched";
  std::string error;
  EXPECT_FALSE(to_json(d, s, b, &out, &error)) << "encoded: " << out;
  EXPECT_EQ(out, "untouched");
  return error;
}

// Bytes of a kitchen struct built field by field through the model.
class Builder {
 public:
  explicit Builder(const Struct& s) : s_(s), bytes_(s.size) {}

  Builder& set(const std::string& name, std::uint64_t v) {
    const Field& f = field(name);
    for (std::uint32_t i = 0; i < f.size && i < 8; ++i) {
      bytes_[f.offset + i] = static_cast<std::byte>(v >> (8 * i));
    }
    return *this;
  }
  Builder& set_signed(const std::string& name, std::int64_t v) {
    return set(name, static_cast<std::uint64_t>(v));
  }
  Builder& set_u128(const std::string& name, std::uint64_t hi, std::uint64_t lo) {
    set(name, lo);
    const Field& f = field(name);
    for (std::uint32_t i = 0; i < 8; ++i) {
      bytes_[f.offset + 8 + i] = static_cast<std::byte>(hi >> (8 * i));
    }
    return *this;
  }
  Builder& set_text(const std::string& name, std::string_view text) {
    const Field& f = field(name);
    EXPECT_LE(text.size(), f.size);
    std::memcpy(bytes_.data() + f.offset, text.data(), text.size());
    return *this;
  }
  const std::vector<std::byte>& bytes() const { return bytes_; }

 private:
  const Field& field(const std::string& name) const {
    const Field* f = s_.find_field(name);
    if (f == nullptr) throw std::invalid_argument("no field " + name);
    return *f;
  }
  const Struct& s_;
  std::vector<std::byte> bytes_;
};

// A kitchen Everything with every field zero but those in `overrides`, as JSON members.
std::string everything_json(const std::string& overrides_first) {
  return "{" + overrides_first +
         R"("a_u8":0,"a_u16":0,"a_u32":0,"a_u64":0,"a_i8":0,"a_i16":0,"a_i32":0,"a_i64":0,)"
         R"("a_u128":"0","flag":false,"small":"none","wide":"low","big":"nil","d0":"0",)"
         R"("d2":"0.00","d18":"0.000000000000000000","name":"","blob":"00000000"})";
}

// Everything's JSON with one field's value replaced by `value` (JSON text).
std::string everything_with(const std::string& field, const std::string& value) {
  std::string json = everything_json("");
  const std::string key = "\"" + field + "\":";
  const std::size_t at = json.find(key);
  if (at == std::string::npos) throw std::invalid_argument("no field " + field);
  const std::size_t start = at + key.size();
  std::size_t end = start;
  if (json[end] == '"') {
    end = json.find('"', end + 1) + 1;
  } else {
    while (json[end] != ',' && json[end] != '}') ++end;
  }
  return json.replace(start, end - start, value);
}

// The value Everything.`field` decodes to from `value`, as the field's raw little-endian
// bytes.
std::vector<std::byte> field_bytes(const std::string& field, const std::string& value) {
  const std::vector<std::byte> all =
      bytes_from(kitchen_model(), everything(), everything_with(field, value));
  const Field* f = everything().find_field(field);
  if (all.empty()) return {};
  return {all.begin() + f->offset, all.begin() + f->offset + f->size};
}

std::vector<std::byte> le(std::uint64_t v, std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
  return out;
}

std::uint64_t seed_from_env(std::uint64_t fallback) {
  const char* s = std::getenv("LOCKSTEP_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : fallback;
}

// ---------------------------------------------------------------------------------------
// Round trips against the generated structs.

// One generated struct's value, by its schema name.
struct TypedCase {
  std::string name;
  std::vector<std::byte> bytes;
};

template <class T>
TypedCase typed(std::string name, const T& value) {
  static_assert(lockstep::is_fixed_layout_v<T>);
  return {std::move(name), vec(bytes_of(value))};
}

std::vector<TypedCase> typed_records() {
  return {
      typed("Account", bank::Account{.id = 7,
                                     .owner = lockstep::Chars<16>::from("alice"),
                                     .balance = {-12345},
                                     .overdraft_limit = {50000},
                                     .status = bank::AccountStatus::frozen,
                                     .flags = 0xFFFFFFFFu}),
      typed("Transfer", bank::Transfer{.id = {~0ull, 0x0123456789ABCDEFull},
                                       .debit = 1,
                                       .credit = ~0ull,
                                       .amount = {1},
                                       .timestamp = -1}),
  };
}

std::vector<TypedCase> typed_commands() {
  return {
      typed("OpenAccount",
            bank::OpenAccount{
                .id = 1, .owner = lockstep::Chars<16>::from("bob"), .overdraft_limit = {-1}}),
      typed("Deposit", bank::Deposit{.account = 2, .amount = {100}}),
      typed("Withdraw", bank::Withdraw{.account = 3, .amount = {99}}),
      typed("MakeTransfer",
            bank::MakeTransfer{.id = {5, 6}, .debit = 1, .credit = 2, .amount = {1234567}}),
      typed("SetStatus", bank::SetStatus{.account = 4, .status = bank::AccountStatus::closed}),
      typed("CloseAccount", bank::CloseAccount{.account = ~0ull}),
      typed("Rename",
            bank::Rename{.account = 5, .owner = lockstep::Chars<16>::from("0123456789abcdef")}),
      typed("SetLimit", bank::SetLimit{.account = 6, .overdraft_limit = {700}, .force = true}),
      typed("Renumber", bank::Renumber{.account = 7, .new_id = 8}),
      typed("FreezeOpen", bank::FreezeOpen{.limit = 4294967295u}),
      typed("AuditDebits", bank::AuditDebits{.account = 9,
                                             .from = std::numeric_limits<std::int64_t>::min(),
                                             .to = std::numeric_limits<std::int64_t>::max()}),
      typed("ImportAccount", bank::ImportAccount{.id = 10,
                                                 .owner = lockstep::Chars<16>::from("imported"),
                                                 .status = bank::AccountStatus::frozen}),
  };
}

std::vector<TypedCase> typed_events() {
  return {
      typed("Deposited", bank::Deposited{.account = 1, .amount = {5}, .balance = {-5}}),
      typed("Withdrew", bank::Withdrew{.account = 1, .amount = {5}, .balance = {0}}),
      typed("Transferred",
            bank::Transferred{.id = {0, 1}, .debit = 3, .credit = 4, .amount = {10}}),
      typed("StatusChanged", bank::StatusChanged{.account = 9,
                                                 .from = bank::AccountStatus::open,
                                                 .to = bank::AccountStatus::frozen}),
      typed("DebitsCounted", bank::DebitsCounted{.account = 2, .count = 3, .total = {-400}}),
  };
}

void expect_round_trips(const std::vector<TypedCase>& cases) {
  for (const TypedCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Struct& s = bank_struct(c.name);
    ASSERT_EQ(s.size, c.bytes.size());
    const std::string json = json_of(bank_model(), s, c.bytes);
    EXPECT_EQ(bytes_from(bank_model(), s, json), c.bytes) << json;
  }
}

TEST(SchemaJson, EveryBankRecordRoundTripsToIdenticalBytes) { expect_round_trips(typed_records()); }

TEST(SchemaJson, EveryBankCommandRoundTripsToIdenticalBytes) {
  expect_round_trips(typed_commands());
}

TEST(SchemaJson, EveryBankEventRoundTripsToIdenticalBytes) { expect_round_trips(typed_events()); }

TEST(SchemaJson, TheTypedRoundTripsCoverEveryStructTheBankDeclares) {
  const auto names = [](const std::vector<TypedCase>& cases) {
    std::vector<std::string> out;
    for (const TypedCase& c : cases) out.push_back(c.name);
    return out;
  };
  const auto declared = [](const std::vector<Struct>& list) {
    std::vector<std::string> out;
    for (const Struct& s : list) out.push_back(s.name);
    return out;
  };
  EXPECT_EQ(names(typed_records()), declared(bank_model().records));
  EXPECT_EQ(names(typed_commands()), declared(bank_model().commands));
  EXPECT_EQ(names(typed_events()), declared(bank_model().events));
}

TEST(SchemaJson, AnAccountIsOneLineWithFieldsInDeclaredOrderAndNoPadding) {
  const bank::Account a{.id = 7,
                        .owner = lockstep::Chars<16>::from("alice"),
                        .balance = {-12345},
                        .overdraft_limit = {50000},
                        .status = bank::AccountStatus::frozen,
                        .flags = 3};
  EXPECT_EQ(json_of(bank_model(), bank_struct("Account"), bytes_of(a)),
            R"({"id":7,"owner":"alice","balance":"-123.45","overdraft_limit":"500.00",)"
            R"("status":"frozen","flags":3})");
}

TEST(SchemaJson, EveryBankCommandDecodesFromItsEnvelopeWithItsKind) {
  const bank::MakeTransfer t{.id = {1, 2}, .debit = 3, .credit = 4, .amount = {-7}};
  const bank::SetLimit l{.account = 6, .overdraft_limit = {700}, .force = true};
  const bank::Rename r{.account = 5, .owner = lockstep::Chars<16>::from("carol")};
  const std::vector<std::tuple<std::string, std::uint16_t, std::vector<std::byte>>> cases = {
      {"MakeTransfer", bank::MakeTransfer::kKind, vec(bytes_of(t))},
      {"SetLimit", bank::SetLimit::kKind, vec(bytes_of(l))},
      {"Rename", bank::Rename::kKind, vec(bytes_of(r))},
  };
  for (const auto& [name, expected_kind, expected] : cases) {
    const std::string fields = json_of(bank_model(), bank_struct(name), expected);
    const std::string json = "{ \"fields\": " + fields + ", \"command\": \"" + name + "\" }";
    std::uint16_t kind = 0;
    std::vector<std::byte> bytes;
    std::string error;
    ASSERT_TRUE(command_from_json(bank_model(), json, &kind, &bytes, &error)) << error;
    EXPECT_EQ(kind, expected_kind) << name;
    EXPECT_EQ(bytes, expected) << name;
  }
}

TEST(SchemaJson, AHandWrittenDepositDecodesToTheGeneratedStruct) {
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  ASSERT_TRUE(command_from_json(
      bank_model(), "{\"command\": \"Deposit\", \"fields\": {\"amount\": 12.5, \"account\": 42}}",
      &kind, &bytes, &error))
      << error;
  const bank::Deposit expected{.account = 42, .amount = {1250}};
  EXPECT_EQ(kind, bank::Deposit::kKind);
  EXPECT_EQ(bytes, vec(bytes_of(expected)));
}

TEST(SchemaJson, NonZeroPaddingIsNotShownAndReadsBackAsZero) {
  bank::SetStatus s{.account = 4, .status = bank::AccountStatus::open};
  std::memset(s.pad0_, 0xEE, sizeof s.pad0_);
  const std::string json = json_of(bank_model(), bank_struct("SetStatus"), bytes_of(s));
  EXPECT_EQ(json, R"({"account":4,"status":"open"})");
  std::memset(s.pad0_, 0, sizeof s.pad0_);
  EXPECT_EQ(bytes_from(bank_model(), bank_struct("SetStatus"), json), vec(bytes_of(s)));
}

// ---------------------------------------------------------------------------------------
// Every field type's edge values.

TEST(SchemaJson, TheKitchenSchemaLaysOutWithPadding) {
  const Struct& s = everything();
  EXPECT_EQ(s.find_field("a_u16")->offset, 2u);  // one byte of padding after a_u8
  EXPECT_EQ(s.find_field("a_u128")->offset % 8, 0u);
}

TEST(SchemaJson, MinimumValuesOfEveryTypeRoundTrip) {
  const auto b = Builder(everything())
                     .set_signed("a_i8", -128)
                     .set_signed("a_i16", -32768)
                     .set_signed("a_i32", -2147483647 - 1)
                     .set_signed("a_i64", std::numeric_limits<std::int64_t>::min())
                     .set_signed("d0", std::numeric_limits<std::int64_t>::min())
                     .set_signed("d2", std::numeric_limits<std::int64_t>::min())
                     .set_signed("d18", std::numeric_limits<std::int64_t>::min())
                     .bytes();
  const std::string json = json_of(kitchen_model(), everything(), b);
  EXPECT_EQ(json, R"({"a_u8":0,"a_u16":0,"a_u32":0,"a_u64":0,"a_i8":-128,"a_i16":-32768,)"
                  R"("a_i32":-2147483648,"a_i64":-9223372036854775808,"a_u128":"0","flag":false,)"
                  R"("small":"none","wide":"low","big":"nil","d0":"-9223372036854775808",)"
                  R"("d2":"-92233720368547758.08","d18":"-9.223372036854775808","name":"",)"
                  R"("blob":"00000000"})");
  EXPECT_EQ(bytes_from(kitchen_model(), everything(), json), b);
}

TEST(SchemaJson, MaximumValuesOfEveryTypeRoundTrip) {
  const auto b = Builder(everything())
                     .set("a_u8", 255)
                     .set("a_u16", 65535)
                     .set("a_u32", 4294967295u)
                     .set("a_u64", ~0ull)
                     .set("a_i8", 127)
                     .set("a_i16", 32767)
                     .set("a_i32", 2147483647)
                     .set("a_i64", 9223372036854775807ull)
                     .set_u128("a_u128", ~0ull, ~0ull)
                     .set("flag", 1)
                     .set("small", 255)
                     .set("wide", 65535)
                     .set("big", 4294967295u)
                     .set("d0", 9223372036854775807ull)
                     .set("d2", 9223372036854775807ull)
                     .set("d18", 9223372036854775807ull)
                     .set_text("name", "12345678")
                     .set("blob", 0xFFFFFFFFu)
                     .bytes();
  const std::string json = json_of(kitchen_model(), everything(), b);
  EXPECT_EQ(json, R"({"a_u8":255,"a_u16":65535,"a_u32":4294967295,"a_u64":18446744073709551615,)"
                  R"("a_i8":127,"a_i16":32767,"a_i32":2147483647,"a_i64":9223372036854775807,)"
                  R"("a_u128":"340282366920938463463374607431768211455","flag":true,)"
                  R"("small":"top","wide":"high","big":"most","d0":"9223372036854775807",)"
                  R"("d2":"92233720368547758.07","d18":"9.223372036854775807","name":"12345678",)"
                  R"("blob":"ffffffff"})");
  EXPECT_EQ(bytes_from(kitchen_model(), everything(), json), b);
}

TEST(SchemaJson, SmallDecimalsKeepTheirLeadingZerosAndSign) {
  const auto b =
      Builder(everything()).set_signed("d0", -1).set_signed("d2", -5).set_signed("d18", 1).bytes();
  const std::string json = json_of(kitchen_model(), everything(), b);
  EXPECT_NE(json.find(R"("d0":"-1","d2":"-0.05","d18":"0.000000000000000001")"), std::string::npos)
      << json;
  EXPECT_EQ(bytes_from(kitchen_model(), everything(), json), b);
}

TEST(SchemaJson, DecimalsAcceptNumbersAndFewerFractionalDigits) {
  EXPECT_EQ(field_bytes("d2", "5"), le(500, 8));
  EXPECT_EQ(field_bytes("d2", "\"5.1\""), le(510, 8));
  EXPECT_EQ(field_bytes("d2", "-0.5"), le(static_cast<std::uint64_t>(-50), 8));
  EXPECT_EQ(field_bytes("d2", "\"-0\""), le(0, 8));
  EXPECT_EQ(field_bytes("d0", "-42"), le(static_cast<std::uint64_t>(-42), 8));
  EXPECT_EQ(field_bytes("d18", "\"-0.000000000000000001\""), le(~0ull, 8));
}

TEST(SchemaJson, U128AcceptsADecimalStringOrANumber) {
  std::vector<std::byte> max(16, std::byte{0xFF});
  EXPECT_EQ(field_bytes("a_u128", "\"340282366920938463463374607431768211455\""), max);
  EXPECT_EQ(field_bytes("a_u128", "340282366920938463463374607431768211455"), max);
  std::vector<std::byte> two_64 = le(0, 8);
  const auto hi = le(1, 8);
  two_64.insert(two_64.end(), hi.begin(), hi.end());
  EXPECT_EQ(field_bytes("a_u128", "\"18446744073709551616\""), two_64);
}

TEST(SchemaJson, CharsEscapeQuotesBackslashesAndControlCharacters) {
  const auto b = Builder(everything()).set_text("name", "a\"b\\\x01\x1f\x7f").bytes();
  const std::string json = json_of(kitchen_model(), everything(), b);
  EXPECT_NE(json.find(R"("name":"a\"b\\\u0001\u001f\u007f")"), std::string::npos) << json;
  EXPECT_EQ(bytes_from(kitchen_model(), everything(), json), b);
}

TEST(SchemaJson, CharsAcceptEveryJsonEscapeAndSurrogatePairs) {
  auto text = [](std::string_view s) {
    std::vector<std::byte> out(8);
    std::memcpy(out.data(), s.data(), s.size());
    return out;
  };
  EXPECT_EQ(field_bytes("name", R"("\"\\\/\b\f\n\r\t")"), text("\"\\/\b\f\n\r\t"));
  EXPECT_EQ(field_bytes("name", R"("\u00e9\u20AC")"), text("\xC3\xA9\xE2\x82\xAC"));
  EXPECT_EQ(field_bytes("name", R"("\ud83d\ude00!")"), text("\xF0\x9F\x98\x80!"));
}

TEST(SchemaJson, CharsPassValidUtf8ThroughUnescaped) {
  const auto b = Builder(everything()).set_text("name", "\xC3\xA9t\xC3\xA9").bytes();  // "été"
  const std::string json = json_of(kitchen_model(), everything(), b);
  EXPECT_NE(json.find("\"name\":\"\xC3\xA9t\xC3\xA9\""), std::string::npos) << json;
  EXPECT_EQ(bytes_from(kitchen_model(), everything(), json), b);
}

TEST(SchemaJson, BytesAcceptUpperCaseHex) {
  EXPECT_EQ(
      field_bytes("blob", "\"DEADbeef\""),
      (std::vector<std::byte>{std::byte{0xDE}, std::byte{0xAD}, std::byte{0xBE}, std::byte{0xEF}}));
}

TEST(SchemaJson, EnumsOfEveryWidthReadTheirNames) {
  EXPECT_EQ(field_bytes("small", "\"top\""), le(255, 1));
  EXPECT_EQ(field_bytes("wide", "\"high\""), le(65535, 2));
  EXPECT_EQ(field_bytes("big", "\"most\""), le(4294967295u, 4));
}

TEST(SchemaJson, MinusZeroIsZeroEvenForUnsignedFields) {
  EXPECT_EQ(field_bytes("a_u8", "-0"), le(0, 1));
  EXPECT_EQ(field_bytes("a_i64", "-0"), le(0, 8));
}

TEST(SchemaJson, WhitespaceAroundTokensIsAccepted) {
  const std::string json = " \t\r\n{ \"account\" :\n 1 , \"amount\"\t:\"0.01\" }\n ";
  const bank::Deposit d{.account = 1, .amount = {1}};
  EXPECT_EQ(bytes_from(bank_model(), bank_struct("Deposit"), json), vec(bytes_of(d)));
}

// ---------------------------------------------------------------------------------------
// Refusals while reading.

TEST(SchemaJson, ASyntaxErrorReportsItsByteLineAndColumn) {
  const std::string json = "{\n  \"account\": 1,\n  \"amount\" \"1.00\"\n}";
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"), json),
            "JSON syntax error at byte 29 (line 3, column 12): expected ':' after an object "
            "key, found '\"'");
}

TEST(SchemaJson, TruncatedInputReportsTheEndOfInput) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"), R"({"account": 1, "amount": )"),
            "JSON syntax error at byte 25 (line 1, column 26): expected a JSON value, found end "
            "of input");
}

TEST(SchemaJson, AnUnknownFieldIsRefusedByName) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"),
                    R"({"account": 1, "amount": "1.00", "amout": 2})"),
            "Deposit (byte 33): unknown field \"amout\"");
}

TEST(SchemaJson, AMissingFieldIsRefusedByName) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"), R"({"account": 1})"),
            "Deposit.amount: missing (every field is required)");
}

TEST(SchemaJson, ADuplicateKeyIsRefusedWithBothPositions) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"),
                    R"({"account": 1, "account": 2, "amount": "1.00"})"),
            "JSON syntax error at byte 15 (line 1, column 16): duplicate key \"account\" (first "
            "at byte 1)");
}

TEST(SchemaJson, DuplicateKeysAreComparedAfterUnescaping) {
  const std::string e = refusal(bank_model(), bank_struct("Deposit"),
                                R"({"account": 1, "\u0061ccount": 2, "amount": "1.00"})");
  EXPECT_NE(e.find("duplicate key \"account\""), std::string::npos) << e;
}

TEST(SchemaJson, IntegersOnePastEachTypesRangeAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a_u8", "256"},
      {"a_u16", "65536"},
      {"a_u32", "4294967296"},
      {"a_u64", "18446744073709551616"},
      {"a_u64", "-1"},
      {"a_i8", "128"},
      {"a_i8", "-129"},
      {"a_i16", "-32769"},
      {"a_i32", "2147483648"},
      {"a_i64", "9223372036854775808"},
      {"a_i64", "-9223372036854775809"},
      {"a_u128", "\"340282366920938463463374607431768211456\""},
      {"a_u128", "-1"},
      {"a_u64", "100000000000000000000000000000000000000000000000000"},
  };
  for (const auto& [field, value] : cases) {
    const std::string e = refusal(kitchen_model(), everything(), everything_with(field, value));
    EXPECT_NE(e.find("Everything." + field + " (byte "), std::string::npos) << e;
    EXPECT_NE(e.find("is out of range for"), std::string::npos) << e;
  }
}

TEST(SchemaJson, AnOutOfRangeIntegerErrorStatesTheRange) {
  const std::string e = refusal(kitchen_model(), everything(), everything_with("a_i8", "-129"));
  EXPECT_NE(e.find("\"-129\" is out of range for i8 (-128..127)"), std::string::npos) << e;
}

TEST(SchemaJson, DecimalsOutOfI64RangeAreRefused) {
  for (const std::string v :
       {"\"92233720368547758.08\"", "-92233720368547758.09", "\"10\"" /* 10 * 10^18 > 2^63 */}) {
    const std::string field = v == "\"10\"" ? "d18" : "d2";
    const std::string e = refusal(kitchen_model(), everything(), everything_with(field, v));
    EXPECT_NE(e.find("is out of range for decimal("), std::string::npos) << e;
  }
}

TEST(SchemaJson, TooManyDecimalDigitsAreRefusedNotRounded) {
  const std::string e =
      refusal(bank_model(), bank_struct("Deposit"), R"({"account": 1, "amount": "1.234"})");
  EXPECT_EQ(e,
            "Deposit.amount (byte 25): decimal(2) allows at most 2 digits after the point, got 3 "
            "in \"1.234\"");
  refusal(bank_model(), bank_struct("Deposit"), R"({"account": 1, "amount": 1.230})");
  refusal(kitchen_model(), everything(), everything_with("d0", "\"1.0\""));
}

TEST(SchemaJson, MalformedDecimalStringsAreRefused) {
  for (const std::string v : {"\"\"", "\"1.\"", "\".5\"", "\"+1\"", "\"01\"", "\"1e2\"", "1e2",
                              "\" 1\"", "\"1,5\"", "\"--1\"", "\"0x10\""}) {
    const std::string e = refusal(kitchen_model(), everything(), everything_with("d2", v));
    EXPECT_NE(e.find("Everything.d2 (byte "), std::string::npos) << e;
  }
}

TEST(SchemaJson, IntegersRefuseFractionsAndExponents) {
  for (const std::string v : {"1.0", "1e0", "1E+2", "0.5"}) {
    const std::string e = refusal(kitchen_model(), everything(), everything_with("a_u32", v));
    EXPECT_NE(e.find("expected an integer for u32"), std::string::npos) << e;
  }
}

TEST(SchemaJson, AValueOfTheWrongJsonTypeIsRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a_u64", "\"1\""},    {"a_i8", "true"}, {"a_u128", "null"}, {"flag", "1"},
      {"flag", "\"true\""},  {"small", "255"}, {"d2", "false"},    {"name", "7"},
      {"blob", "[1,2,3,4]"}, {"a_u32", "{}"},
  };
  for (const auto& [field, value] : cases) {
    const std::string e = refusal(kitchen_model(), everything(), everything_with(field, value));
    EXPECT_NE(e.find("Everything." + field + " (byte "), std::string::npos) << e;
    EXPECT_NE(e.find("expected "), std::string::npos) << e;
  }
}

TEST(SchemaJson, AWrongTypeErrorSaysWhatWasExpectedAndWhatCame) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("SetLimit"),
                    R"({"account":1,"overdraft_limit":"1.00","force":"yes"})"),
            "SetLimit.force (byte 46): expected true or false for bool, got a string");
}

TEST(SchemaJson, AnUnknownEnumNameIsRefusedWithTheKnownNames) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("SetStatus"), R"({"account":1,"status":"opne"})"),
            "SetStatus.status (byte 22): \"opne\" is not a value of enum AccountStatus (open, "
            "frozen, closed)");
}

TEST(SchemaJson, ACharsStringLongerThanTheArrayIsRefused) {
  const std::string e =
      refusal(bank_model(), bank_struct("Rename"), R"({"account":1,"owner":"0123456789abcdefg"})");
  EXPECT_EQ(e,
            "Rename.owner (byte 21): \"0123456789abcdefg\" is 17 bytes of UTF-8, longer than "
            "char[16]");
}

TEST(SchemaJson, ACharsStringIsMeasuredInUtf8Bytes) {
  // Five characters, nine bytes.
  refusal(kitchen_model(), everything(),
          everything_with("name", "\"\\u00e9\\u00e9\\u00e9\\u00e9a\""));
}

TEST(SchemaJson, ACharsStringWithANulIsRefused) {
  const std::string e =
      refusal(kitchen_model(), everything(), everything_with("name", "\"a\\u0000b\""));
  EXPECT_NE(e.find("contains U+0000"), std::string::npos) << e;
}

TEST(SchemaJson, BadHexIsRefused) {
  for (const std::string v :
       {"\"0000000\"", "\"000000000\"", "\"0000000g\"", "\"\"", "\"0x000000\""}) {
    const std::string e = refusal(kitchen_model(), everything(), everything_with("blob", v));
    EXPECT_NE(e.find("Everything.blob (byte "), std::string::npos) << e;
  }
  EXPECT_NE(refusal(kitchen_model(), everything(), everything_with("blob", "\"00z00000\""))
                .find("character 2 of \"00z00000\" is not a hex digit"),
            std::string::npos);
}

TEST(SchemaJson, ANonObjectDocumentIsRefused) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Deposit"), " [1, 2]"),
            "Deposit (byte 1): expected an object, got an array");
}

TEST(SchemaJson, TrailingGarbageIsRefused) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("CloseAccount"), R"({"account":1} x)"),
            "JSON syntax error at byte 14 (line 1, column 15): unexpected 'x' after the JSON "
            "value");
  refusal(bank_model(), bank_struct("CloseAccount"), R"({"account":1}{})");
}

TEST(SchemaJson, NestingDeeperThanTwoLevelsIsRefused) {
  const std::string e =
      refusal(bank_model(), bank_struct("CloseAccount"), R"({"account":{"a":{"b":1}}})");
  EXPECT_EQ(e, "JSON syntax error at byte 16 (line 1, column 17): nesting deeper than 2 levels");
}

TEST(SchemaJson, NonStandardJsonIsRefused) {
  const Struct& s = bank_struct("CloseAccount");
  for (const std::string json : {
           R"({"account":1,})",         // trailing comma
           R"({'account':1})",          // single quotes
           R"({account:1})",            // bare key
           R"({"account":01})",         // leading zero
           R"({"account":+1})",         // plus sign
           R"({"account":1.})",         // no digit after the point
           R"({"account":.5})",         // no digit before it
           R"({"account":1e})",         // empty exponent
           R"({"account":NaN})",        // not JSON
           R"({"account":tru})",        // truncated literal
           R"({"account":1 /* c */})",  // comment
           "",                          // nothing
           "   ",                       // only whitespace
       }) {
    refusal(bank_model(), s, json);
  }
  refusal(bank_model(), s, std::string("{\"account\":1}\0", 14));  // a NUL after it
}

TEST(SchemaJson, BadStringsAreRefused) {
  const Struct& s = bank_struct("Rename");
  for (const std::string owner : {
           "\"a\\x\"",              // unknown escape
           "\"\\u12\"",             // short \u
           "\"\\ud83d\"",           // lone high surrogate
           "\"\\ude00\"",           // lone low surrogate
           "\"\\ud83d\\u0041\"",    // high surrogate, then not a low one
           "\"a\tb\"",              // raw control character
           "\"\xC3\"",              // truncated UTF-8
           "\"\xC0\xAF\"",          // overlong
           "\"\xED\xA0\x80\"",      // UTF-8 encoded surrogate
           "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xFF\"",              // never valid
           "\"abc",                 // unterminated
       }) {
    const std::string e = refusal(bank_model(), s, R"({"account":1,"owner":)" + owner + "}");
    EXPECT_EQ(e.rfind("JSON syntax error at byte ", 0), 0u) << e;
  }
}

TEST(SchemaJson, AStringErrorPointsAtTheBadByte) {
  EXPECT_EQ(refusal(bank_model(), bank_struct("Rename"), "{\"account\":1,\"owner\":\"ab\xFF\"}"),
            "JSON syntax error at byte 24 (line 1, column 25): invalid UTF-8 in a string");
}

TEST(SchemaJson, AnUnknownCommandNameIsRefused) {
  std::uint16_t kind = 99;
  std::vector<std::byte> bytes = {std::byte{1}};
  std::string error;
  EXPECT_FALSE(command_from_json(bank_model(), R"({"command":"Depost","fields":{}})", &kind, &bytes,
                                 &error));
  EXPECT_EQ(error, "command envelope (byte 11): unknown command \"Depost\" in domain bank");
  EXPECT_EQ(kind, 99);
  EXPECT_EQ(bytes, std::vector<std::byte>{std::byte{1}});
}

TEST(SchemaJson, AnEventNameIsNotACommand) {
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  EXPECT_FALSE(command_from_json(bank_model(),
                                 R"({"command":"Deposited","fields":{"account":1,"amount":1,)"
                                 R"("balance":1}})",
                                 &kind, &bytes, &error));
  EXPECT_NE(error.find("unknown command \"Deposited\""), std::string::npos) << error;
}

TEST(SchemaJson, AMalformedEnvelopeIsRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"command":"CloseAccount"})", "command envelope: missing \"fields\""},
      {R"({"fields":{"account":1}})", "command envelope: missing \"command\""},
      {R"({"command":"CloseAccount","fields":{"account":1},"kind":6})",
       "command envelope (byte 49): unknown member \"kind\" (it has \"command\" and \"fields\")"},
      {R"({"command":6,"fields":{"account":1}})",
       "command envelope (byte 11): \"command\" must be a command name (string), got a number"},
      {R"({"command":"CloseAccount","fields":[1]})",
       "CloseAccount (byte 35): expected an object, got an array"},
      {R"("CloseAccount")",
       "command envelope (byte 0): expected an object {\"command\": NAME, \"fields\": {...}}, got "
       "a string"},
  };
  for (const auto& [json, expected] : cases) {
    std::uint16_t kind = 0;
    std::vector<std::byte> bytes;
    std::string error;
    EXPECT_FALSE(command_from_json(bank_model(), json, &kind, &bytes, &error)) << json;
    EXPECT_EQ(error, expected);
  }
}

TEST(SchemaJson, AFieldErrorInsideTheEnvelopeCountsBytesInTheWholeDocument) {
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  EXPECT_FALSE(command_from_json(bank_model(),
                                 R"({"command":"CloseAccount","fields":{"account":-1}})", &kind,
                                 &bytes, &error));
  EXPECT_EQ(error,
            "CloseAccount.account (byte 46): \"-1\" is out of range for u64 "
            "(0..18446744073709551615)");
}

// ---------------------------------------------------------------------------------------
// Refusals while writing.

TEST(SchemaJson, ABoolByteOtherThanZeroOrOneIsRefused) {
  bank::SetLimit l{.account = 1, .overdraft_limit = {0}, .force = false};
  std::vector<std::byte> b = vec(bytes_of(l));
  b[16] = std::byte{2};
  EXPECT_EQ(encode_refusal(bank_model(), bank_struct("SetLimit"), b),
            "SetLimit.force: byte 0x02 is not a bool (0 or 1)");
}

TEST(SchemaJson, AnUndeclaredEnumValueIsRefused) {
  std::vector<std::byte> b = vec(bytes_of(bank::SetStatus{.account = 1}));
  b[8] = std::byte{9};
  EXPECT_EQ(encode_refusal(bank_model(), bank_struct("SetStatus"), b),
            "SetStatus.status: 9 is not a value of enum AccountStatus");
}

TEST(SchemaJson, BytesOfTheWrongLengthAreRefused) {
  const std::vector<std::byte> b(15);
  EXPECT_EQ(encode_refusal(bank_model(), bank_struct("Deposit"), b),
            "Deposit: expected 16 bytes, got 15");
  EXPECT_EQ(encode_refusal(bank_model(), bank_struct("Deposit"), std::vector<std::byte>(17)),
            "Deposit: expected 16 bytes, got 17");
}

TEST(SchemaJson, CharsThatAreNotUtf8AreRefused) {
  const auto b = Builder(everything()).set_text("name", "ab\xFF").bytes();
  EXPECT_EQ(encode_refusal(kitchen_model(), everything(), b),
            "Everything.name: byte 2 (0xff) does not start valid UTF-8");
}

TEST(SchemaJson, AStructWhoseLayoutContradictsItsFieldsIsRefused) {
  Struct broken = bank_struct("Deposit");
  broken.fields[1].offset = 12;  // 8 bytes at 12 overrun the struct's 16
  const std::string e = encode_refusal(bank_model(), broken, std::vector<std::byte>(16));
  EXPECT_EQ(e.rfind("schema model: Deposit.amount", 0), 0u) << e;
  refusal(bank_model(), broken, R"({"account":1,"amount":1})");
}

// ---------------------------------------------------------------------------------------
// Seeded suites.

// A random valid instance of `s`: canonical bytes (padding zero, char[N] NUL-padded).
std::vector<std::byte> random_canonical(const Domain& d, const Struct& s, std::mt19937_64& rng) {
  std::vector<std::byte> b(s.size);
  for (const Field& f : s.fields) {
    std::byte* p = b.data() + f.offset;
    switch (f.type) {
      case FieldType::kBool: p[0] = static_cast<std::byte>(rng() & 1); break;
      case FieldType::kEnum: {
        const auto& values = d.enums[f.enum_index].values;
        const std::uint64_t v = values[rng() % values.size()].value;
        for (std::uint32_t i = 0; i < f.size; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
        break;
      }
      case FieldType::kChars: {
        const std::size_t n = rng() % (f.size + 1);
        for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(1 + rng() % 127);
        break;
      }
      default: {
        // All zero, all ones, small or any: extremes and both short and long text.
        const std::uint64_t mode = rng() % 4;
        for (std::uint32_t i = 0; i < f.size; ++i) {
          const std::uint64_t r = mode == 0               ? 0
                                  : mode == 1             ? 0xFF
                                  : (mode == 2 && i >= 2) ? 0
                                                          : rng();
          p[i] = static_cast<std::byte>(r);
        }
      }
    }
  }
  return b;
}

TEST(SchemaJson, RandomCanonicalBytesOfEveryStructRoundTrip) {
  const std::uint64_t seed = seed_from_env(std::random_device{}());
  std::printf("schema json round-trip seed %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED=" + std::to_string(seed) +
               " replays it)");
  std::mt19937_64 rng(seed);
  std::vector<std::pair<const Domain*, const Struct*>> all;
  for (const Domain* d : {&bank_model(), &kitchen_model()}) {
    for (const auto* list : {&d->records, &d->commands, &d->events}) {
      for (const Struct& s : *list) all.emplace_back(d, &s);
    }
  }
  for (int i = 0; i < 3000; ++i) {
    const auto [d, s] = all[rng() % all.size()];
    const std::vector<std::byte> b = random_canonical(*d, *s, rng);
    const std::string json = json_of(*d, *s, b);
    ASSERT_EQ(bytes_from(*d, *s, json), b) << s->name << ": " << json;
  }
}

// Mutations of a valid document: truncation, a changed byte, an inserted or deleted one.
std::string mutate(std::string doc, std::mt19937_64& rng) {
  static constexpr std::string_view kInteresting = "{}[]\":,\\0123456789.-+eEtfnu \x01\xC3\xFF";
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = doc.empty() ? 0 : rng() % doc.size();
    const char c = (rng() % 2 == 0) ? kInteresting[rng() % kInteresting.size()]
                                    : static_cast<char>(rng() & 0xFF);
    switch (rng() % 4) {
      case 0: doc.resize(at); break;
      case 1:
        if (!doc.empty()) doc[at] = c;
        break;
      case 2: doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), c); break;
      default:
        if (!doc.empty()) doc.erase(at, 1);
        break;
    }
  }
  return doc;
}

TEST(SchemaJson, CorruptedDocumentsNeverCrashAndEitherDecodeCanonicallyOrSayWhy) {
  const std::uint64_t seed = seed_from_env(std::random_device{}());
  std::printf("schema json corruption seed %llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED=" + std::to_string(seed) +
               " replays it)");
  std::mt19937_64 rng(seed);
  const Domain& d = bank_model();
  std::vector<std::string> docs;
  for (const Struct& c : d.commands) {
    for (int k = 0; k < 4; ++k) {
      docs.push_back("{\"command\": \"" + c.name +
                     "\", \"fields\": " + json_of(d, c, random_canonical(d, c, rng)) + "}");
    }
  }
  int decoded = 0;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string doc = mutate(docs[rng() % docs.size()], rng);
    std::uint16_t kind = 0;
    std::vector<std::byte> bytes;
    std::string error;
    if (!command_from_json(d, doc, &kind, &bytes, &error)) {
      ASSERT_FALSE(error.empty()) << doc;
      ASSERT_EQ(error.find('\n'), std::string::npos) << error;
      ++refused;
      continue;
    }
    ++decoded;
    const Struct* c = d.find_command(kind);
    ASSERT_NE(c, nullptr) << doc;
    ASSERT_EQ(bytes.size(), c->size) << doc;
    // What was accepted is canonical: it writes back and reads again to the same bytes.
    const std::string again = json_of(d, *c, bytes);
    ASSERT_EQ(bytes_from(d, *c, again), bytes) << doc << "\n" << again;
  }
  std::printf("%d decoded, %d refused\n", decoded, refused);
  EXPECT_GT(decoded, 0);
  EXPECT_GT(refused, 0);
}

TEST(SchemaJsonCommandLine, AFlatCommandDecodesLikeItsEnvelope) {
  const Domain d = bank_model();
  std::uint16_t flat_kind = 0;
  std::uint16_t envelope_kind = 0;
  std::vector<std::byte> flat;
  std::vector<std::byte> envelope;
  std::string error;
  ASSERT_TRUE(lockstep::schema::command_line_from_json(
      d, R"({"kind": "Deposit", "account": 7, "amount": "12.34"})", &flat_kind, &flat, &error))
      << error;
  ASSERT_TRUE(lockstep::schema::command_from_json(
      d, R"({"command": "Deposit", "fields": {"amount": "12.34", "account": 7}})", &envelope_kind,
      &envelope, &error))
      << error;
  EXPECT_EQ(flat_kind, bank::Deposit::kKind);
  EXPECT_EQ(flat_kind, envelope_kind);
  EXPECT_EQ(flat, envelope);
}

TEST(SchemaJsonCommandLine, AFlatCommandWithoutKindOrWithAnUnknownOneIsRefused) {
  const Domain d = bank_model();
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  EXPECT_FALSE(lockstep::schema::command_line_from_json(d, R"({"account": 7, "amount": "1"})",
                                                        &kind, &bytes, &error));
  EXPECT_NE(error.find("missing \"kind\""), std::string::npos) << error;
  EXPECT_FALSE(lockstep::schema::command_line_from_json(d, R"({"kind": "Nope", "account": 7})",
                                                        &kind, &bytes, &error));
  EXPECT_EQ(error, "\"kind\" (byte 9): unknown command \"Nope\" in domain bank");
  EXPECT_FALSE(lockstep::schema::command_line_from_json(d, R"({"kind": "Deposit", "account": 7})",
                                                        &kind, &bytes, &error));
  EXPECT_NE(error.find("amount"), std::string::npos) << error;
}

TEST(SchemaJsonCommandLine, A128BitIdMayBeHex) {
  const Domain d = bank_model();
  std::uint16_t kind = 0;
  std::vector<std::byte> bytes;
  std::string error;
  ASSERT_TRUE(lockstep::schema::command_line_from_json(
      d,
      R"({"kind": "MakeTransfer", "id": "0x1000000000000000F", "debit": 1, "credit": 2, "amount": "1.00"})",
      &kind, &bytes, &error))
      << error;
  bank::MakeTransfer t;
  std::memcpy(&t, bytes.data(), sizeof t);
  EXPECT_EQ(t.id.hi, 1u);
  EXPECT_EQ(t.id.lo, 15u);
  EXPECT_FALSE(lockstep::schema::command_line_from_json(
      d, R"({"kind": "MakeTransfer", "id": "0x12G", "debit": 1, "credit": 2, "amount": "1.00"})",
      &kind, &bytes, &error));
  EXPECT_NE(error.find("hex digits"), std::string::npos) << error;
  EXPECT_FALSE(lockstep::schema::command_line_from_json(
      d,
      R"({"kind": "MakeTransfer", "id": "0x100000000000000000000000000000000", "debit": 1, "credit": 2, "amount": "1.00"})",
      &kind, &bytes, &error));
}

}  // namespace
