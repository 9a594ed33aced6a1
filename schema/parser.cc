#include "schema/parser.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace lockstep::schema {

std::string Diagnostic::to_string() const {
  std::ostringstream out;
  out << file << ':' << loc.line << ':' << loc.column << ": error: " << message;
  return out.str();
}

std::string ParseResult::error_text() const {
  std::string text;
  for (const Diagnostic& d : diagnostics) text += d.to_string() + "\n";
  if (diagnostics_not_shown != 0) {
    text += "... " + std::to_string(diagnostics_not_shown) + " more error" +
            (diagnostics_not_shown == 1 ? "" : "s") + " not shown (at most " +
            std::to_string(kDiagnosticsMax) + " are reported)\n";
  }
  return text;
}

namespace {

// ---- Lexer ------------------------------------------------------------------------

enum class Tok : std::uint8_t { kIdent, kInt, kPunct, kArrow, kEnd, kBad };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  SourceLoc loc;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Returns kBad with a message in `text` for a character or comment it cannot read.
  Token next() {
    skip_space_and_comments();
    Token t;
    t.loc = {line_, column_};
    if (!bad_.empty()) {
      t.kind = Tok::kBad;
      t.text = std::exchange(bad_, {});
      t.loc = bad_loc_;
      return t;
    }
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      t.kind = Tok::kIdent;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
        t.text += advance();
      }
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      t.kind = Tok::kInt;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
        t.text += advance();
      }
      return t;
    }
    if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>') {
      t.kind = Tok::kArrow;
      t.text = "->";
      advance();
      advance();
      return t;
    }
    static constexpr std::string_view kPunct = "{}()[];:,=";
    if (kPunct.find(c) != std::string_view::npos) {
      t.kind = Tok::kPunct;
      t.text = std::string(1, advance());
      return t;
    }
    t.kind = Tok::kBad;
    const unsigned char uc = static_cast<unsigned char>(c);
    if (std::isprint(uc)) {
      t.text = std::string("unexpected character '") + c + "'";
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      t.text = std::string("unexpected byte 0x") + kHex[uc >> 4] + kHex[uc & 15];
    }
    advance();
    return t;
  }

 private:
  char advance() {
    const char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return c;
  }

  void skip_space_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        while (pos_ < text_.size() && text_[pos_] != '\n') advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        const SourceLoc start{line_, column_};
        advance();
        advance();
        bool closed = false;
        while (pos_ < text_.size()) {
          if (text_[pos_] == '*' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
            advance();
            advance();
            closed = true;
            break;
          }
          advance();
        }
        if (!closed) {
          bad_ = "unterminated comment";
          bad_loc_ = start;
          return;
        }
      } else {
        return;
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
  std::string bad_;
  SourceLoc bad_loc_;
};

// ---- Names ------------------------------------------------------------------------

// Names become C++ identifiers in the generated header, so C++ keywords are refused.
bool is_cpp_keyword(const std::string& name) {
  // clang-format off
  static const std::set<std::string> kKeywords = {
      "alignas",   "alignof",      "and",          "and_eq",    "asm",         "auto",
      "bitand",    "bitor",        "bool",         "break",     "case",        "catch",
      "char",      "char8_t",      "char16_t",     "char32_t",  "class",       "compl",
      "concept",   "const",        "consteval",    "constexpr", "constinit",   "const_cast",
      "continue",  "co_await",     "co_return",    "co_yield",  "decltype",    "default",
      "delete",    "do",           "double",       "dynamic_cast", "else",     "enum",
      "explicit",  "export",       "extern",       "false",     "float",       "for",
      "friend",    "goto",         "if",           "inline",    "int",         "long",
      "mutable",   "namespace",    "new",          "noexcept",  "not",         "not_eq",
      "nullptr",   "operator",     "or",           "or_eq",     "private",     "protected",
      "public",    "register",     "reinterpret_cast", "requires", "return",   "short",
      "signed",    "sizeof",       "static",       "static_assert", "static_cast", "struct",
      "switch",    "template",     "this",         "thread_local", "throw",    "true",
      "try",       "typedef",      "typeid",       "typename",  "union",       "unsigned",
      "using",     "virtual",      "void",         "volatile",  "wchar_t",     "while",
      "xor",       "xor_eq",       "std",          "lockstep"};
  // clang-format on
  return kKeywords.count(name) != 0;
}

struct TypeName {
  FieldType type;
  const char* name;
};
constexpr std::array<TypeName, 10> kScalarTypes = {{{FieldType::kU8, "u8"},
                                                    {FieldType::kU16, "u16"},
                                                    {FieldType::kU32, "u32"},
                                                    {FieldType::kU64, "u64"},
                                                    {FieldType::kI8, "i8"},
                                                    {FieldType::kI16, "i16"},
                                                    {FieldType::kI32, "i32"},
                                                    {FieldType::kI64, "i64"},
                                                    {FieldType::kU128, "u128"},
                                                    {FieldType::kBool, "bool"}}};

bool is_builtin_type(const std::string& name) {
  for (const TypeName& t : kScalarTypes) {
    if (name == t.name) return !is_cpp_keyword(name);
  }
  return name == "decimal" || name == "bytes";
}

// The enum index of a field whose enum type is not resolved (yet, or at all).
constexpr std::uint32_t kUnresolved = 0xFFFFFFFF;

std::string at(const SourceLoc& loc) {
  return std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

// ---- Parser -----------------------------------------------------------------------

struct SyntaxError {};

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : lexer_(text), file_(file) {
    tok_ = lexer_.next();
    peek_ = lexer_.next();
  }

  ParseResult run() {
    ParseResult result;
    bool parsed = true;
    try {
      parse_schema();
    } catch (const SyntaxError&) {
      parsed = false;  // the diagnostic is recorded; the declarations are incomplete: stop
    }
    // Semantic errors do not stop the checks that follow: each is reported.
    if (parsed && check_domain()) lay_out_and_check_sizes();
    keep_first_diagnostics();
    result.diagnostics = std::move(diagnostics_);
    result.diagnostics_not_shown = diagnostics_not_shown_;
    if (result.ok()) result.domain = std::move(domain_);
    return result;
  }

 private:
  // -- Diagnostics
  void error(const SourceLoc& loc, std::string message) {
    diagnostics_.push_back({file_, loc, std::move(message)});
    // Bounded memory however many errors a file has: at twice the limit, drop all but
    // the first kDiagnosticsMax (which later ones cannot displace: see below).
    if (diagnostics_.size() >= 2 * kDiagnosticsMax) keep_first_diagnostics();
  }
  // Sorts the diagnostics into file order and keeps the first kDiagnosticsMax, counting
  // the others. A stable sort: of two at one position the earlier found comes first, so
  // one dropped here would also be dropped if all were sorted at the end.
  void keep_first_diagnostics() {
    std::stable_sort(
        diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& a, const Diagnostic& b) {
          return std::pair(a.loc.line, a.loc.column) < std::pair(b.loc.line, b.loc.column);
        });
    if (diagnostics_.size() <= kDiagnosticsMax) return;
    diagnostics_not_shown_ += diagnostics_.size() - kDiagnosticsMax;
    diagnostics_.resize(kDiagnosticsMax);
  }

  // -- Token helpers
  [[noreturn]] void syntax(const std::string& message) {
    error(tok_.loc, message);
    throw SyntaxError{};
  }
  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::kEnd: return "end of file";
      case Tok::kIdent: return "'" + t.text + "'";
      case Tok::kInt: return "number " + t.text;
      default: return "'" + t.text + "'";
    }
  }
  void shift() {
    if (tok_.kind == Tok::kBad) syntax(tok_.text);
    tok_ = std::move(peek_);
    peek_ = lexer_.next();
    if (tok_.kind == Tok::kBad) syntax(tok_.text);
  }
  bool is_punct(char c) const { return tok_.kind == Tok::kPunct && tok_.text[0] == c; }
  bool is_word(std::string_view w) const { return tok_.kind == Tok::kIdent && tok_.text == w; }
  void expect_punct(char c, const char* where) {
    if (!is_punct(c)) {
      syntax(std::string("expected '") + c + "' " + where + ", found " + describe(tok_));
    }
    shift();
  }
  void expect_word(std::string_view w, const char* where) {
    if (!is_word(w)) {
      syntax("expected '" + std::string(w) + "' " + where + ", found " + describe(tok_));
    }
    shift();
  }
  // A name: an identifier that is usable as a C++ identifier.
  std::pair<std::string, SourceLoc> name(const char* what) {
    if (tok_.kind != Tok::kIdent)
      syntax(std::string("expected ") + what + ", found " + describe(tok_));
    std::pair<std::string, SourceLoc> n{tok_.text, tok_.loc};
    if (n.first.size() > kNameBytesMax) {
      // The descriptor cannot encode it (model.h). Quoted in part: it may be huge.
      error(n.second, std::string(what) + " '" + n.first.substr(0, 32) + "...' is " +
                          std::to_string(n.first.size()) + " bytes long; at most " +
                          std::to_string(kNameBytesMax));
    } else if (is_cpp_keyword(n.first)) {
      error(n.second, std::string(what) + " '" + n.first + "' is a C++ keyword or reserved name");
    } else if (n.first.front() == '_' || n.first.back() == '_' ||
               n.first.find("__") != std::string::npos) {
      error(n.second, std::string(what) + " '" + n.first +
                          "' may not begin or end with '_' or contain '__' (reserved for "
                          "generated names)");
    }
    shift();
    return n;
  }
  // An integer literal, decimal or 0x hex. One above `max` (or above 64 bits) is reported
  // here and gives nullopt, so that callers do not report a wrapped or zero value again.
  std::optional<std::uint64_t> integer(const char* what, std::uint64_t max) {
    if (tok_.kind != Tok::kInt)
      syntax(std::string("expected ") + what + ", found " + describe(tok_));
    std::uint64_t v = 0;
    const char* first = tok_.text.data();
    const char* last = first + tok_.text.size();
    int base = 10;
    if (tok_.text.size() > 2 && tok_.text[0] == '0' &&
        (tok_.text[1] == 'x' || tok_.text[1] == 'X')) {
      base = 16;
      first += 2;
    }
    const auto [ptr, ec] = std::from_chars(first, last, v, base);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && ptr == last && v > max)) {
      error(tok_.loc, std::string(what) + " " + tok_.text + " is out of range (at most " +
                          std::to_string(max) + ")");
      shift();
      return std::nullopt;
    }
    if (ec != std::errc() || ptr != last) syntax("'" + tok_.text + "' is not a valid " + what);
    shift();
    return v;
  }

  // -- Grammar
  void parse_schema() {
    if (tok_.kind == Tok::kBad) syntax(tok_.text);
    domain_loc_ = tok_.loc;
    expect_word("domain", "at the start of a schema");
    auto [n, loc] = name("domain name");
    domain_.name = n;
    expect_word("version", "after the domain name");
    const SourceLoc vloc = tok_.loc;
    if (const auto v = integer("version", 0xFFFFFFFFu)) {
      domain_.version = static_cast<std::uint32_t>(*v);
      if (domain_.version == 0) error(vloc, "version must be at least 1");
    }
    expect_punct(';', "after the domain version");
    while (tok_.kind != Tok::kEnd) {
      if (is_word("enum")) {
        parse_enum();
      } else if (is_word("record")) {
        parse_struct(StructKind::kRecord);
      } else if (is_word("command")) {
        parse_struct(StructKind::kCommand);
      } else if (is_word("event")) {
        parse_struct(StructKind::kEvent);
      } else if (is_word("reject")) {
        parse_reject();
      } else if (is_word("domain")) {
        syntax("a schema declares one domain; this is a second 'domain'");
      } else {
        syntax("expected 'enum', 'record', 'command', 'event' or 'reject', found " +
               describe(tok_));
      }
    }
  }

  void declare_type(const std::string& type_name, const SourceLoc& loc) {
    // A field of that type would silently be the built-in one ("bool", "char": keywords).
    if (is_builtin_type(type_name)) error(loc, "'" + type_name + "' is a built-in type name");
    // Names the generated header declares in the domain's namespace.
    static const std::set<std::string> kGenerated = {
        "Tx",     "Tables", "Handlers",    "Domain",         "Reject",
        "reject", "ok",     "kDomainName", "kDomainVersion", "invariants"};
    if (kGenerated.count(type_name) != 0) {
      error(loc, "'" + type_name + "' is a name the generated header declares");
    }
    auto [it, fresh] = type_locs_.emplace(type_name, loc);
    if (!fresh) error(loc, "'" + type_name + "' is already declared (at " + at(it->second) + ")");
  }

  void parse_enum() {
    shift();
    Enum e;
    std::tie(e.name, e.loc) = name("enum name");
    declare_type(e.name, e.loc);
    expect_punct(':', "after the enum name (an enum declares its type: u8, u16 or u32)");
    if (is_word("u8")) {
      e.underlying = FieldType::kU8;
    } else if (is_word("u16")) {
      e.underlying = FieldType::kU16;
    } else if (is_word("u32")) {
      e.underlying = FieldType::kU32;
    } else {
      syntax("an enum's type must be u8, u16 or u32, not " + describe(tok_));
    }
    shift();
    const std::uint64_t max = e.underlying == FieldType::kU8    ? 0xFF
                              : e.underlying == FieldType::kU16 ? 0xFFFF
                                                                : 0xFFFFFFFF;
    expect_punct('{', "to open the enum");
    // The first value of each name and of each number, by index in e.values.
    std::unordered_map<std::string, std::size_t> by_name;
    std::unordered_map<std::uint64_t, std::size_t> by_value;
    while (!is_punct('}')) {
      EnumValue v;
      std::tie(v.name, v.loc) = name("enum value name");
      expect_punct('=', "after the enum value name");
      // Out of range: reported; kept above `max`, so it cannot clash with a valid value.
      v.value = integer("enum value", max).value_or(max + 1);
      expect_punct(';', "after the enum value");
      const std::size_t index = e.values.size();
      const auto [named, new_name] = by_name.emplace(v.name, index);
      if (!new_name) {
        error(v.loc, "duplicate value name '" + v.name + "' in enum '" + e.name + "' (first at " +
                         at(e.values[named->second].loc) + ")");
      }
      if (v.value <= max) {
        const auto [numbered, new_value] = by_value.emplace(v.value, index);
        // "a = 1; a = 1;" is one error: the name's, against the same first value.
        if (!new_value && (new_name || numbered->second != named->second)) {
          const EnumValue& first = e.values[numbered->second];
          error(v.loc, "value " + std::to_string(v.value) + " of '" + v.name +
                           "' is already used by '" + first.name + "' in enum '" + e.name +
                           "' (at " + at(first.loc) + ")");
        }
      }
      e.values.push_back(std::move(v));
    }
    if (e.values.empty()) error(e.loc, "enum '" + e.name + "' has no values");
    if (e.values.size() > kEnumValuesMax) {
      error(e.loc, "enum '" + e.name + "' has " + std::to_string(e.values.size()) +
                       " values; at most " + std::to_string(kEnumValuesMax));
    }
    shift();
    domain_.enums.push_back(std::move(e));
    enum_values_by_name_.push_back(std::move(by_name));
  }

  // Returns the type's name and position when it names an enum, for check_domain().
  std::optional<std::pair<std::string, SourceLoc>> parse_type(Field& f) {
    if (tok_.kind != Tok::kIdent) syntax("expected a type, found " + describe(tok_));
    for (const TypeName& t : kScalarTypes) {
      if (tok_.text == t.name) {
        f.type = t.type;
        shift();
        return std::nullopt;
      }
    }
    if (is_word("decimal")) {
      shift();
      expect_punct('(', "after 'decimal' (decimal(SCALE))");
      f.type = FieldType::kDecimal;
      f.scale = static_cast<std::uint32_t>(integer("decimal scale", kDecimalScaleMax).value_or(0));
      expect_punct(')', "after the decimal scale");
      return std::nullopt;
    }
    if (is_word("bytes") || is_word("char")) {
      f.type = is_word("bytes") ? FieldType::kBytes : FieldType::kChars;
      shift();
      expect_punct(
          '[', f.type == FieldType::kBytes ? "after 'bytes' (bytes[N])" : "after 'char' (char[N])");
      const SourceLoc lloc = tok_.loc;
      const auto n = integer("array length", kArrayBytesMax);
      f.array_bytes = static_cast<std::uint32_t>(n.value_or(0));
      if (n == 0u) error(lloc, "array length must be at least 1");
      expect_punct(']', "after the array length");
      return std::nullopt;
    }
    // An enum, declared before or after: check_domain() resolves it.
    f.type = FieldType::kEnum;
    f.enum_index = kUnresolved;
    std::pair<std::string, SourceLoc> type_name{tok_.text, tok_.loc};
    shift();
    return type_name;
  }

  std::vector<std::pair<std::string, SourceLoc>> field_list(const char* what) {
    std::vector<std::pair<std::string, SourceLoc>> names;
    expect_punct('(', (std::string("to open the ") + what + "'s field list").c_str());
    for (;;) {
      if (tok_.kind != Tok::kIdent) syntax("expected a field name, found " + describe(tok_));
      names.emplace_back(tok_.text, tok_.loc);
      shift();
      if (is_punct(')')) break;
      expect_punct(',', "between key fields");
    }
    shift();
    return names;
  }

  struct PendingKey {
    std::string name;
    SourceLoc loc;
    std::vector<std::pair<std::string, SourceLoc>> fields;
    enum class Kind { kPrimary, kUnique, kIndex } kind;
  };
  struct PendingTransitions {
    std::string field;
    SourceLoc field_loc;
    SourceLoc loc;  // of 'transitions'
    std::vector<std::pair<std::string, SourceLoc>> initial;
    struct Edge {
      std::vector<std::pair<std::string, SourceLoc>> from;
      std::vector<std::pair<std::string, SourceLoc>> to;
    };
    std::vector<Edge> edges;
  };

  std::vector<std::pair<std::string, SourceLoc>> value_list(const char* what) {
    std::vector<std::pair<std::string, SourceLoc>> names;
    for (;;) {
      if (tok_.kind != Tok::kIdent)
        syntax(std::string("expected ") + what + ", found " + describe(tok_));
      names.emplace_back(tok_.text, tok_.loc);
      shift();
      if (!is_punct(',')) break;
      shift();
    }
    return names;
  }

  PendingTransitions parse_transitions() {
    PendingTransitions t;
    t.loc = tok_.loc;
    shift();
    if (tok_.kind != Tok::kIdent)
      syntax("expected the enum field whose transitions these are, found " + describe(tok_));
    t.field = tok_.text;
    t.field_loc = tok_.loc;
    shift();
    expect_punct('{', "to open the transitions");
    while (!is_punct('}')) {
      if (is_word("initial")) {
        shift();
        auto values = value_list("an initial value");
        t.initial.insert(t.initial.end(), values.begin(), values.end());
        expect_punct(';', "after the initial values");
        continue;
      }
      PendingTransitions::Edge edge;
      edge.from = value_list("a value");
      if (tok_.kind != Tok::kArrow)
        syntax("expected '->' in a transition, found " + describe(tok_));
      shift();
      edge.to = value_list("a value");
      expect_punct(';', "after a transition");
      t.edges.push_back(std::move(edge));
    }
    shift();
    return t;
  }

  void parse_struct(StructKind kind) {
    shift();
    Struct s;
    s.kind = kind;
    std::tie(s.name, s.loc) = name(kind == StructKind::kRecord    ? "record name"
                                   : kind == StructKind::kCommand ? "command name"
                                                                  : "event name");
    declare_type(s.name, s.loc);
    SourceLoc number_loc;
    if (kind != StructKind::kRecord) {
      expect_punct('=', kind == StructKind::kCommand
                            ? "after the command name (command NAME = KIND)"
                            : "after the event name (event NAME = KIND)");
      number_loc = tok_.loc;
      if (const auto n = integer("kind", kKindMax)) {
        s.number = static_cast<std::uint32_t>(*n);
        if (s.number == 0) error(number_loc, "kind 0 is reserved; kinds start at 1");
      }
    }
    expect_punct('{', "to open the declaration");
    std::vector<PendingKey> keys;
    std::optional<PendingTransitions> transitions;
    std::unordered_map<std::string, std::uint32_t> field_index;  // the first of each name
    std::unordered_map<std::string, std::size_t> invariant_index;
    while (!is_punct('}')) {
      if (tok_.kind == Tok::kIdent && peek_.kind == Tok::kPunct && peek_.text == ":") {
        Field f;
        std::tie(f.name, f.loc) = name("field name");
        shift();  // ':'
        const auto type_name = parse_type(f);
        expect_punct(';', "after the field");
        const auto [it, fresh] =
            field_index.emplace(f.name, static_cast<std::uint32_t>(s.fields.size()));
        if (!fresh) {
          error(f.loc, "duplicate field '" + f.name + "' in " + to_string(kind) + " '" + s.name +
                           "' (first at " + at(s.fields[it->second].loc) + ")");
        }
        if (type_name.has_value()) {
          enum_fields_.push_back(
              {kind, structs(kind).size(), s.fields.size(), type_name->first, type_name->second});
        }
        s.fields.push_back(std::move(f));
        continue;
      }
      if (kind != StructKind::kRecord) {
        syntax(std::string("expected a field (NAME: TYPE;) in ") + to_string(kind) + " '" + s.name +
               "', found " + describe(tok_));
      }
      if (is_word("primary")) {
        PendingKey k{"primary", tok_.loc, {}, PendingKey::Kind::kPrimary};
        shift();
        expect_word("key", "after 'primary'");
        k.fields = field_list("primary key");
        expect_punct(';', "after the primary key");
        keys.push_back(std::move(k));
      } else if (is_word("unique") || is_word("index")) {
        const auto k_kind =
            is_word("unique") ? PendingKey::Kind::kUnique : PendingKey::Kind::kIndex;
        shift();
        PendingKey k;
        k.kind = k_kind;
        std::tie(k.name, k.loc) =
            name(k_kind == PendingKey::Kind::kUnique ? "unique key name" : "index name");
        k.fields = field_list(k_kind == PendingKey::Kind::kUnique ? "unique key" : "index");
        expect_punct(';', "after the key");
        keys.push_back(std::move(k));
      } else if (is_word("invariant")) {
        shift();
        Invariant inv;
        std::tie(inv.name, inv.loc) = name("invariant name");
        expect_punct(';', "after the invariant name");
        const auto [it, fresh] = invariant_index.emplace(inv.name, s.invariants.size());
        if (!fresh) {
          error(inv.loc, "duplicate invariant '" + inv.name + "' in record '" + s.name +
                             "' (first at " + at(s.invariants[it->second].loc) + ")");
        }
        s.invariants.push_back(std::move(inv));
      } else if (is_word("transitions")) {
        if (transitions.has_value()) {
          error(tok_.loc, "record '" + s.name + "' already declares transitions (at " +
                              at(transitions->loc) + "); a record has one state machine");
        }
        PendingTransitions t = parse_transitions();
        if (!transitions.has_value()) transitions = std::move(t);
      } else {
        syntax(
            "expected a field (NAME: TYPE;), 'primary key', 'unique', 'index', "
            "'invariant' or 'transitions' in record '" +
            s.name + "', found " + describe(tok_));
      }
    }
    shift();
    if (s.fields.empty())
      error(s.loc, std::string(to_string(kind)) + " '" + s.name + "' has no fields");
    if (s.fields.size() > kFieldsMax) {
      error(s.loc, std::string(to_string(kind)) + " '" + s.name + "' has " +
                       std::to_string(s.fields.size()) + " fields; at most " +
                       std::to_string(kFieldsMax));
    }
    if (s.invariants.size() > kInvariantsPerRecordMax) {
      error(s.loc, "record '" + s.name + "' has " + std::to_string(s.invariants.size()) +
                       " invariants; at most " + std::to_string(kInvariantsPerRecordMax));
    }
    if (kind == StructKind::kRecord) {
      s.number = static_cast<std::uint32_t>(domain_.records.size());
      resolve_keys(s, keys, field_index);
      pending_transitions_.push_back({domain_.records.size(), std::move(transitions)});
      domain_.records.push_back(std::move(s));
    } else {
      auto& list = structs(kind);
      auto& kinds = kind == StructKind::kCommand ? command_kinds_ : event_kinds_;
      if (s.number != 0) {
        const auto [it, fresh] = kinds.emplace(s.number, list.size());
        if (!fresh) {
          const Struct& first = list[it->second];
          error(number_loc, std::string(to_string(kind)) + " kind " + std::to_string(s.number) +
                                " is already used by '" + first.name + "' (at " + at(first.loc) +
                                ")");
        }
      }
      list.push_back(std::move(s));
    }
  }

  // `field_index`: the index in s.fields of the first field of each name.
  void resolve_keys(Struct& s, const std::vector<PendingKey>& keys,
                    const std::unordered_map<std::string, std::uint32_t>& field_index) {
    std::optional<SourceLoc> primary_loc;  // the first primary key, valid or not
    std::unordered_map<std::string, SourceLoc> key_names;
    std::size_t secondary = 0;
    for (const PendingKey& pk : keys) {
      Key k;
      k.name = pk.name;
      k.loc = pk.loc;
      if (pk.kind == PendingKey::Kind::kPrimary) {
        if (primary_loc.has_value()) {
          error(pk.loc,
                "record '" + s.name + "' already has a primary key (at " + at(*primary_loc) + ")");
          continue;
        }
        primary_loc = pk.loc;
      } else {
        ++secondary;
        // find_<unique> and scan_<index> must not be the accessor's own members.
        if ((pk.kind == PendingKey::Kind::kUnique && (pk.name == "pk" || pk.name == "unique")) ||
            (pk.kind == PendingKey::Kind::kIndex && (pk.name == "prefix" || pk.name == "range"))) {
          error(pk.loc, std::string(pk.kind == PendingKey::Kind::kUnique ? "unique key" : "index") +
                            " name '" + pk.name + "' would generate '" +
                            (pk.kind == PendingKey::Kind::kUnique ? "find_" : "scan_") + pk.name +
                            "', which the table accessor already has");
        }
        auto [it, fresh] = key_names.emplace(pk.name, pk.loc);
        if (!fresh) {
          error(pk.loc, "duplicate key or index name '" + pk.name + "' in record '" + s.name +
                            "' (first at " + at(it->second) + ")");
        }
      }
      bool ok = true;
      std::vector<bool> in_key(s.fields.size(), false);
      for (const auto& named : pk.fields) {
        const std::string& fname = named.first;
        const SourceLoc& floc = named.second;
        const auto it = field_index.find(fname);
        if (it == field_index.end()) {
          error(floc, "key '" + pk.name + "' names field '" + fname + "', which record '" + s.name +
                          "' does not have");
          ok = false;
          continue;
        }
        const std::uint32_t index = it->second;
        if (in_key[index]) {
          error(floc, "field '" + fname + "' appears twice in key '" + pk.name + "'");
          ok = false;
          continue;
        }
        in_key[index] = true;
        k.fields.push_back(index);
      }
      if (!ok) continue;
      switch (pk.kind) {
        case PendingKey::Kind::kPrimary: s.primary = std::move(k); break;
        case PendingKey::Kind::kUnique: s.uniques.push_back(std::move(k)); break;
        case PendingKey::Kind::kIndex: s.indexes.push_back(std::move(k)); break;
      }
    }
    if (!primary_loc.has_value()) {
      error(s.loc, "record '" + s.name + "' has no primary key (primary key (FIELD, ...);)");
    }
    if (secondary > kKeysPerRecordMax) {
      error(s.loc, "record '" + s.name + "' has " + std::to_string(secondary) +
                       " unique keys and indexes; at most " + std::to_string(kKeysPerRecordMax));
    }
  }

  void parse_reject() {
    shift();
    Reject r;
    std::tie(r.name, r.loc) = name("reject name");
    expect_punct('=', "after the reject name (reject NAME = CODE;)");
    const SourceLoc cloc = tok_.loc;
    if (const auto code = integer("reject code", kDomainRejectMax)) {
      r.code = static_cast<std::uint32_t>(*code);
      if (r.code == 0) error(cloc, "reject code 0 means success; codes start at 1");
    }
    expect_punct(';', "after the reject code");
    const std::size_t index = domain_.rejects.size();
    const auto [named, new_name] = reject_names_.emplace(r.name, index);
    if (!new_name) {
      error(r.loc, "duplicate reject '" + r.name + "' (first at " +
                       at(domain_.rejects[named->second].loc) + ")");
    }
    if (r.code != 0) {
      const auto [coded, new_code] = reject_codes_.emplace(r.code, index);
      // "a = 1; a = 1;" is one error: the name's, against the same first reject.
      if (!new_code && (new_name || coded->second != named->second)) {
        const Reject& first = domain_.rejects[coded->second];
        error(cloc, "reject code " + std::to_string(r.code) + " is already used by '" + first.name +
                        "' (at " + at(first.loc) + ")");
      }
    }
    domain_.rejects.push_back(std::move(r));
  }

  // -- Whole-domain checks, after parsing.
  // Returns whether every field's type is resolved, so that the domain can be laid out.
  bool check_domain() {
    // The first enum of a name (a second one is reported as declared twice).
    std::unordered_map<std::string, std::uint32_t> enum_index;
    for (std::uint32_t i = 0; i < domain_.enums.size(); ++i) {
      enum_index.emplace(domain_.enums[i].name, i);
    }
    bool resolved = true;
    for (const EnumFieldRef& ref : enum_fields_) {
      const std::string& type_name = ref.type_name;
      const SourceLoc& loc = ref.type_loc;
      Field& f = structs(ref.kind)[ref.struct_index].fields[ref.field_index];
      const auto it = enum_index.find(type_name);
      if (it == enum_index.end()) {
        if (type_locs_.count(type_name) != 0) {
          error(loc, "'" + type_name +
                         "' is not a field type: only enums, scalars, decimal(S), "
                         "bytes[N] and char[N] are");
        } else {
          error(loc, "unknown type '" + type_name + "' for field '" + f.name + "'");
        }
        resolved = false;
        continue;
      }
      f.enum_index = it->second;
    }
    if (domain_.records.size() > kRecordsMax) {
      error(domain_loc_, "the domain has " + std::to_string(domain_.records.size()) +
                             " records; at most " + std::to_string(kRecordsMax));
    }
    if (domain_.enums.size() > kEnumsMax) {
      error(domain_loc_, "the domain has " + std::to_string(domain_.enums.size()) +
                             " enums; at most " + std::to_string(kEnumsMax));
    }
    check_generated_names();
    for (auto& [record_index, pending] : pending_transitions_) {
      if (pending.has_value()) resolve_transitions(domain_.records[record_index], *pending);
    }
    return resolved;
  }

  // The generated header derives names from the declared ones: they must be C++
  // identifiers and must not collide. (Two structs of one name are already reported.)
  void check_generated_names() {
    // <Record>Access is generated next to the declared types.
    for (const Struct& r : domain_.records) {
      const auto it = type_locs_.find(r.name + "Access");
      if (it != type_locs_.end()) {
        error(it->second,
              "'" + r.name + "Access' is the generated accessor of record '" + r.name + "'");
      }
    }
    // Generated structs declare kTableId (records) or kKind (commands, events).
    for (const auto* list : {&domain_.records, &domain_.commands, &domain_.events}) {
      for (const Struct& st : *list) {
        for (const Field& f : st.fields) {
          if (f.name == "kTableId" || f.name == "kKind") {
            error(f.loc, "field name '" + f.name + "' is a name the generated struct declares");
          }
        }
      }
    }
    std::unordered_map<std::string, const Struct*> accessors = {
        {"now_ns", nullptr}, {"emit", nullptr}, {"refused", nullptr}};
    for (const Struct& r : domain_.records) {
      const std::string n = table_accessor_name(r.name);
      if (is_cpp_keyword(n)) {
        error(r.loc, "record '" + r.name + "' gets the table name '" + n +
                         "', which is a C++ keyword or reserved name");
        continue;
      }
      auto [it, fresh] = accessors.emplace(n, &r);
      if (!fresh && it->second != nullptr && it->second->name == r.name) continue;
      if (!fresh) {
        error(r.loc, "record '" + r.name + "' gets the table name '" + n + "', which " +
                         (it->second == nullptr ? std::string("the generated Tx already uses")
                                                : "record '" + it->second->name + "' has"));
      }
    }
    std::unordered_map<std::string, const Struct*> handlers;
    for (const Struct& c : domain_.commands) {
      const std::string n = snake_case(c.name);
      if (is_cpp_keyword(n)) {
        error(c.loc, "command '" + c.name + "' gets the handler name '" + n +
                         "', which is a C++ keyword or reserved name");
        continue;
      }
      auto [it, fresh] = handlers.emplace(n, &c);
      if (!fresh && it->second->name == c.name) continue;
      if (!fresh) {
        error(c.loc, "command '" + c.name + "' gets the handler name '" + n + "', which command '" +
                         it->second->name + "' has");
      }
    }
  }

  std::vector<Struct>& structs(StructKind kind) {
    return kind == StructKind::kRecord    ? domain_.records
           : kind == StructKind::kCommand ? domain_.commands
                                          : domain_.events;
  }

  void resolve_transitions(Struct& s, const PendingTransitions& t) {
    const auto it = std::find_if(s.fields.begin(), s.fields.end(),
                                 [&](const Field& f) { return f.name == t.field; });
    if (it == s.fields.end()) {
      error(t.field_loc, "transitions name field '" + t.field + "', which record '" + s.name +
                             "' does not have");
      return;
    }
    if (it->type != FieldType::kEnum) {
      error(t.field_loc,
            "transitions need an enum field; '" + t.field + "' is " + to_string(it->type));
      return;
    }
    if (it->enum_index == kUnresolved) return;  // its unknown type is reported
    const Enum& e = domain_.enums[it->enum_index];
    const auto& by_name = enum_values_by_name_[it->enum_index];
    StateMachine sm;
    sm.field = static_cast<std::uint32_t>(it - s.fields.begin());
    sm.loc = t.loc;
    const auto value =
        [&](const std::pair<std::string, SourceLoc>& v) -> std::optional<std::uint64_t> {
      const auto found = by_name.find(v.first);
      if (found == by_name.end()) {
        error(v.second, "'" + v.first + "' is not a value of enum '" + e.name + "'");
        return std::nullopt;
      }
      return e.values[found->second].value;
    };
    for (const auto& v : t.initial) {
      if (auto x = value(v)) sm.initial.push_back(*x);
    }
    // Each listed name is resolved (and an unknown one reported) once; a value listed
    // again on its side of the arrow adds nothing, so each side is paired without them.
    struct Listed {
      std::uint64_t value;
      const std::pair<std::string, SourceLoc>* name;
    };
    const auto values = [&](const std::vector<std::pair<std::string, SourceLoc>>& names) {
      std::vector<Listed> out;
      std::unordered_set<std::uint64_t> seen;
      for (const auto& v : names) {
        if (const auto x = value(v); x && seen.insert(*x).second) out.push_back({*x, &v});
      }
      return out;
    };
    // Sorted and distinct; counted as they come, so that an edge list whose pairs would
    // number millions (A1, ..., An -> B1, ..., Bn) stops at the limit.
    std::set<std::pair<std::uint64_t, std::uint64_t>> edges;
    for (const auto& edge : t.edges) {
      const std::vector<Listed> froms = values(edge.from);
      const std::vector<Listed> tos = values(edge.to);
      for (const Listed& from : froms) {
        for (const Listed& to : tos) {
          if (from.value == to.value) {
            error(to.name->second, "transition " + from.name->first + " -> " + to.name->first +
                                       " goes nowhere (staying in a state is always allowed)");
            continue;
          }
          edges.emplace(from.value, to.value);
          if (edges.size() > kTransitionsPerRecordMax) {
            error(t.loc, "record '" + s.name + "' has more than " +
                             std::to_string(kTransitionsPerRecordMax) + " transitions");
            return;
          }
        }
      }
    }
    std::sort(sm.initial.begin(), sm.initial.end());
    sm.initial.erase(std::unique(sm.initial.begin(), sm.initial.end()), sm.initial.end());
    sm.transitions.reserve(edges.size());
    for (const auto& [from, to] : edges) sm.transitions.push_back({from, to});
    s.state_machine = std::move(sm);
  }

  void lay_out_and_check_sizes() {
    lay_out(domain_);
    const auto check = [&](const Struct& s) {
      if (s.size > kStructBytesMax) {
        error(s.loc, std::string(to_string(s.kind)) + " '" + s.name + "' is " +
                         std::to_string(s.size) + " bytes, larger than the limit of " +
                         std::to_string(kStructBytesMax));
      }
    };
    for (const Struct& s : domain_.records) {
      check(s);
      if (s.primary.encoded_bytes > kKeyBytesMax) {
        error(s.primary.loc, "primary key of '" + s.name + "' encodes to " +
                                 std::to_string(s.primary.encoded_bytes) + " bytes; at most " +
                                 std::to_string(kKeyBytesMax));
      }
      for (const Key& k : s.uniques) {
        if (k.encoded_bytes > kKeyBytesMax) {
          error(k.loc, "unique key '" + k.name + "' encodes to " + std::to_string(k.encoded_bytes) +
                           " bytes; at most " + std::to_string(kKeyBytesMax));
        }
      }
      for (const Key& k : s.indexes) {
        if (k.encoded_bytes + s.primary.encoded_bytes > kKeyBytesMax) {
          error(k.loc, "index '" + k.name + "' encodes to " + std::to_string(k.encoded_bytes) +
                           " bytes plus the primary key's " +
                           std::to_string(s.primary.encoded_bytes) + "; at most " +
                           std::to_string(kKeyBytesMax) + " in all");
        }
      }
    }
    for (const Struct& s : domain_.commands) check(s);
    for (const Struct& s : domain_.events) check(s);
  }

  Lexer lexer_;
  std::string file_;
  Token tok_;
  Token peek_;
  Domain domain_;
  SourceLoc domain_loc_;  // of 'domain'
  std::vector<Diagnostic> diagnostics_;
  std::size_t diagnostics_not_shown_ = 0;
  std::unordered_map<std::string, SourceLoc> type_locs_;
  // Per enum (parallel to domain_.enums): each value name's first index in Enum::values.
  std::vector<std::unordered_map<std::string, std::size_t>> enum_values_by_name_;
  // Commands' and events' kinds: the index in structs(kind) of the first of each kind.
  std::unordered_map<std::uint32_t, std::size_t> command_kinds_;
  std::unordered_map<std::uint32_t, std::size_t> event_kinds_;
  // Rejects' names and codes: the index in domain_.rejects of the first of each.
  std::unordered_map<std::string, std::size_t> reject_names_;
  std::unordered_map<std::uint32_t, std::size_t> reject_codes_;
  // A field whose type names an enum; by index, as struct names may be declared twice.
  struct EnumFieldRef {
    StructKind kind;
    std::size_t struct_index;  // in structs(kind)
    std::size_t field_index;
    std::string type_name;
    SourceLoc type_loc;
  };
  std::vector<EnumFieldRef> enum_fields_;
  std::vector<std::pair<std::size_t, std::optional<PendingTransitions>>> pending_transitions_;
};

}  // namespace

ParseResult parse(std::string_view text, std::string_view file) { return Parser(text, file).run(); }

namespace {

// The whole of the file at `path`, or nullopt with `why` set to the reason.
std::optional<std::string> read_file(const std::string& path, std::string* why) {
  const auto close = [](std::FILE* f) { std::fclose(f); };
  const std::unique_ptr<std::FILE, decltype(close)> file(std::fopen(path.c_str(), "rb"), close);
  if (file == nullptr) {
    *why = std::strerror(errno);
    return std::nullopt;
  }
  // A directory opens for reading on Linux; only its read fails (EISDIR): say so first.
  struct stat st {};
  if (::fstat(::fileno(file.get()), &st) == 0 && S_ISDIR(st.st_mode)) {
    *why = std::strerror(EISDIR);
    return std::nullopt;
  }
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
    text.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(file.get()) != 0) {
    *why = std::strerror(errno);
    return std::nullopt;
  }
  return text;
}

}  // namespace

ParseResult parse_file(const std::string& path) {
  std::string why;
  const std::optional<std::string> text = read_file(path, &why);
  if (!text.has_value()) {
    ParseResult r;
    r.diagnostics.push_back({path, {0, 0}, "cannot read the schema file: " + why});
    return r;
  }
  return parse(*text, path);
}

}  // namespace lockstep::schema
