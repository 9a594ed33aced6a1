// The code generator behind lockstep-schemac: one C++ header per domain.
//
// What the header holds (docs/schema.md, "Generated code"), in namespace <domain>:
//   - enums; the Reject enum and reject()/ok() helpers;
//   - one POD struct per record, command and event, fields in declared order with
//     explicit, zeroed padding, and static_asserts on size, alignment and every offset;
//   - invariants::<name>(const Record&) declarations the domain defines;
//   - typed table accessors (<Record>Access: find, modify, insert, erase, find_<unique>,
//     scan_<index>, range_<index>) and the Tx a handler receives;
//   - Handlers (one function pointer per command kind) and Domain: the table tuple,
//     dispatch by kind, command validation, and the reflection descriptor with its
//     SHA-256 hash.
#pragma once

#include <string>

#include "schema/model.h"

namespace lockstep::schema {

// The header's text. `source` is the schema file name the header's first line names.
std::string generate_header(const Domain& domain, const std::string& source);

}  // namespace lockstep::schema
