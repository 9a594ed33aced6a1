// JSON for any domain's records, commands and events, driven only by the schema model.
//
// A tool that holds a domain's descriptor (decode_descriptor) can show the bytes of a
// record, command or event as JSON and turn JSON back into those bytes, without the
// domain's generated code. The encoding is strict in both directions: what to_json writes,
// struct_from_json reads back to the same bytes, and anything else is refused with an
// error that says where and what.
//
// A struct is one JSON object, its fields in declared order, padding not shown:
//
//   {"id":7,"owner":"alice","balance":"-12.34","status":"open","flags":0}
//
// Field encodings (what to_json writes; the decoder accepts exactly the same, plus the
// alternatives listed):
//
//   u8 u16 u32 u64       a JSON number: decimal digits, no sign, fraction or exponent
//                        (the decoder takes -0 as 0).
//   i8 i16 i32 i64       a JSON number: decimal digits with an optional '-'. u64 and i64
//                        are written exactly; note that a JavaScript reader loses
//                        precision above 2^53.
//   u128                 a JSON string of decimal digits, up to 2^128 - 1 =
//                        "340282366920938463463374607431768211455": few JSON readers keep
//                        39-digit numbers exact. The decoder also accepts a JSON number
//                        and a string of "0x" and 1 to 32 hex digits.
//   bool                 true or false. to_json refuses a byte other than 0 or 1.
//   enum                 a JSON string: the value's name. to_json refuses a value the enum
//                        does not declare; the decoder accepts names only, not numbers.
//   decimal(S)           a JSON string with exactly S digits after the point ("-12.34",
//                        "0.05"); with S = 0, no point ("42"). The decoder also accepts
//                        a JSON number, and fewer than S fractional digits ("5", "5.1");
//                        more than S is refused, even trailing zeros: nothing is rounded.
//                        No exponent, no '+', no leading zeros ("007"), no bare ".5".
//   char[N]              a JSON string: the bytes up to the first NUL (all N without one),
//                        which must be valid UTF-8; to_json refuses invalid UTF-8, and
//                        writes '"', '\' and control characters (below 0x20, and 0x7f)
//                        escaped ('\"', '\\', '\u00XX'), everything else as it is. The
//                        decoder refuses a string longer than N bytes (as UTF-8) or one
//                        containing U+0000, and pads with NULs.
//   bytes[N]             a JSON string of exactly 2N hex digits, all N bytes. to_json
//                        writes lower case; the decoder accepts either case.
//
// Canonical bytes: the decoder zeroes all padding and NUL-pads char[N], and to_json does
// not look at padding or at char[N] bytes after the first NUL. So for any bytes b that
// to_json accepts, struct_from_json(to_json(b)) is b with padding and char tails zeroed:
// b itself for every struct the generated code builds.
//
// The JSON reader follows RFC 8259 strictly: one value and nothing after it but
// whitespace; no comments, trailing commas, single quotes, NaN or leading zeros; strings
// must be valid UTF-8 with no raw control characters, \u escapes must pair surrogates.
// It also refuses duplicate keys, objects or arrays nested deeper than kJsonDepthMax,
// and objects with more than kJsonObjectMembersMax members. Arrays are read (so that a
// field given one is reported as having the wrong type) but no field accepts one.
//
// Errors are values: every function returns false and sets *error to one line.
//   - JSON syntax: "JSON syntax error at byte 17 (line 1, column 18): expected ':' after
//     an object key". Bytes count from 0, lines and columns (in bytes) from 1.
//   - Meaning: "Deposit.amount (byte 25): decimal(2) allows at most 2 digits after the
//     point, got 3 in \"1.234\"", naming the struct, the field, the byte where its value
//     starts and what is wrong; "Deposit.amount: missing (every field is required)";
//     "Deposit (byte 33): unknown field \"amout\"".
//   - Bytes given to to_json: "Account.status: 9 is not a value of enum AccountStatus".
//   - A Struct whose layout contradicts its fields (only possible for a model built by
//     hand without lay_out()): "schema model: ...".
//
// Arguments: every pointer must be non-null; outputs are written only on success, *error
// only on failure. A Struct is trusted only as far as its layout is consistent: a field
// that overruns s.size, has the wrong size for its type or names a missing enum is
// refused ("schema model: ..."), never followed.
//
// Thread safety: every function is pure; any thread may call any of them concurrently.
// None is meant for the hot path: they allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/model.h"

namespace lockstep::schema {

// Limits of the JSON reader. The deepest document any function here needs is the
// command envelope: an object whose "fields" member is an object.
inline constexpr std::size_t kJsonDepthMax = 2;
inline constexpr std::size_t kJsonObjectMembersMax = 1024;
static_assert(kJsonObjectMembersMax >= kFieldsMax,
              "a struct's object must be able to name every field");

// Writes `bytes`, the in-memory layout of `s` (a record, command or event of `domain`), as
// one line of JSON without a trailing newline (see the table above).
// REQUIRES: `s` belongs to `domain` (its enum fields index domain.enums).
// Returns true and sets *out; or false, sets *error and leaves *out unchanged, if
// bytes.size() != s.size, a bool is neither 0 nor 1, an enum value is not declared, or a
// char[N] is not valid UTF-8.
[[nodiscard]] bool to_json(const Domain& domain, const Struct& s, std::span<const std::byte> bytes,
                           std::string* out, std::string* error);

// Reads `json_object`, one JSON object with exactly the fields of `s` (each once, any
// order), into s.size bytes: every field at its offset, little-endian, padding zero.
// REQUIRES: `s` belongs to `domain`.
// Returns true and replaces *bytes; or false, sets *error and leaves *bytes unchanged,
// on a JSON syntax error, a missing or unknown field, a value of the wrong JSON type or
// out of the field's range, too many decimal digits, an undeclared enum name, a char[N]
// string too long, or hex of the wrong length or with a non-hex digit.
[[nodiscard]] bool struct_from_json(const Domain& domain, const Struct& s,
                                    std::string_view json_object, std::vector<std::byte>* bytes,
                                    std::string* error);

// Reads a command in its envelope, an object with exactly these two members, in any order:
//
//   {"command": "Deposit", "fields": {"account": 1, "amount": "10.00"}}
//
// "command" is the name of one of domain.commands; "fields" is read by struct_from_json.
// Returns true and sets *kind (the command's kind) and *bytes (its payload); or false,
// sets *error and leaves *kind and *bytes unchanged. Error offsets count in `json`.
[[nodiscard]] bool command_from_json(const Domain& domain, std::string_view json,
                                     std::uint16_t* kind, std::vector<std::byte>* bytes,
                                     std::string* error);

// Reads a command in the flat form of a JSON-lines command file (lockstep-loadgen
// --input): the command's name under "kind", beside its fields:
//
//   {"kind": "Deposit", "account": 1, "amount": "10.00"}
//
// The same rules and results as command_from_json ("kind" may not also be a field name:
// the name wins and the field is then missing).
[[nodiscard]] bool command_line_from_json(const Domain& domain, std::string_view json,
                                          std::uint16_t* kind, std::vector<std::byte>* bytes,
                                          std::string* error);

}  // namespace lockstep::schema
