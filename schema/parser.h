// The schema parser: schema text in, a laid-out Domain or compiler-style diagnostics out.
//
// The grammar is in docs/schema.md. Diagnostics say file, line and column (1-based) and
// what is wrong, one per line, in the form compilers use:
//
//   bank.lss:12:3: error: duplicate field 'balance' in record 'Account' (first at 9:3)
//
// A syntax error stops the parse at that point; semantic errors (duplicates, unknown
// names, limits) are all collected, in file order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "schema/model.h"

namespace lockstep::schema {

struct Diagnostic {
  std::string file;
  SourceLoc loc;
  std::string message;

  // "file:line:column: error: message"
  std::string to_string() const;
};

struct ParseResult {
  Domain domain;                        // meaningful only if ok()
  std::vector<Diagnostic> diagnostics;  // empty on success

  bool ok() const noexcept { return diagnostics.empty(); }
  // Every diagnostic, one per line.
  std::string error_text() const;
};

// Parses `text`; `file` is the name diagnostics print.
ParseResult parse(std::string_view text, std::string_view file);

// Reads and parses a file; an unreadable file is one diagnostic at 0:0.
ParseResult parse_file(const std::string& path);

}  // namespace lockstep::schema
