// The schema parser: schema text in, a laid-out Domain or compiler-style diagnostics out.
//
// The grammar is in docs/schema.md. Diagnostics say file, line and column (1-based) and
// what is wrong, one per line, in the form compilers use:
//
//   bank.lss:12:3: error: duplicate field 'balance' in record 'Account' (first at 9:3)
//
// A syntax error stops the parse at that point; semantic errors (duplicates, unknown
// names, limits) are all collected, in file order, each once: a name or number declared
// again is reported at each repetition, against the first declaration. At most
// kDiagnosticsMax are kept (the first in file order); the rest are only counted.
#pragma once

#include <cstddef>
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

inline constexpr std::size_t kDiagnosticsMax = 100;

struct ParseResult {
  Domain domain;                          // meaningful only if ok()
  std::vector<Diagnostic> diagnostics;    // empty on success; at most kDiagnosticsMax
  std::size_t diagnostics_not_shown = 0;  // found beyond kDiagnosticsMax, in file order

  bool ok() const noexcept { return diagnostics.empty(); }
  // Every diagnostic, one per line; then, if some were not kept, a line
  // "... N more errors not shown (at most 100 are reported)".
  std::string error_text() const;
};

// Parses `text`; `file` is the name diagnostics print. Names and numbers are checked for
// uniqueness with hash tables, so the time grows linearly with the declarations.
ParseResult parse(std::string_view text, std::string_view file);

// Reads and parses a file. A file that cannot be read (missing, a directory, a read error)
// is one diagnostic at 0:0 that says why: "cannot read the schema file: Is a directory".
ParseResult parse_file(const std::string& path);

}  // namespace lockstep::schema
