// lockstep-schemac: compiles a domain schema into a C++ header (docs/schema.md).
//
//   lockstep-schemac SCHEMA -o HEADER [--descriptor FILE]
//
// Errors in the schema go to stderr as file:line:column: error: message (at most
// kDiagnosticsMax of them, then a count of the rest), and the exit status is 1; so do an
// unreadable schema file (with the reason), an unwritable output and any other failure,
// which never ends the process with an uncaught exception. Usage errors exit with 2.
// The header is rewritten only when its text changes, so builds stay incremental.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "schema/codegen.h"
#include "schema/descriptor.h"
#include "schema/parser.h"

namespace {

int usage(const char* why) {
  std::cerr << "lockstep-schemac: " << why << "\n"
            << "usage: lockstep-schemac SCHEMA -o HEADER [--descriptor FILE]\n";
  return 2;
}

bool write_if_changed(const std::string& path, const std::string& text) {
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream old;
      old << in.rdbuf();
      if (old.str() == text) return true;
    }
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  const int rename_errno = errno;  // reported by the caller; not the remove()'s
  std::remove(tmp.c_str());
  errno = rename_errno;
  return false;
}

int compile(const std::string& input, const std::string& output,
            const std::string& descriptor_out) {
  const lockstep::schema::ParseResult parsed = lockstep::schema::parse_file(input);
  if (!parsed.ok()) {
    std::cerr << parsed.error_text();
    return 1;
  }
  const std::string header = lockstep::schema::generate_header(parsed.domain, input);
  if (!write_if_changed(output, header)) {
    std::cerr << output << ": error: cannot write: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (!descriptor_out.empty()) {
    const auto bytes = lockstep::schema::encode_descriptor(parsed.domain);
    if (!write_if_changed(descriptor_out,
                          std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()))) {
      std::cerr << descriptor_out << ": error: cannot write: " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  return 0;
}

int run(int argc, char** argv) {
  std::string input;
  std::string output;
  std::string descriptor_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << "usage: lockstep-schemac SCHEMA -o HEADER [--descriptor FILE]\n"
                   "Compiles a lockstep domain schema into a C++ header (docs/schema.md).\n"
                   "  -o HEADER          the header to write\n"
                   "  --descriptor FILE  also write the binary reflection descriptor\n";
      return 0;
    }
    if (a == "-o" || a == "--descriptor") {
      if (i + 1 >= argc) return usage(("missing value after " + a).c_str());
      (a == "-o" ? output : descriptor_out) = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      return usage(("unknown option " + a).c_str());
    } else if (input.empty()) {
      input = a;
    } else {
      return usage("more than one schema file");
    }
  }
  if (input.empty()) return usage("no schema file");
  if (output.empty()) return usage("no output header (-o)");
  return compile(input, output, descriptor_out);
}

}  // namespace

int main(int argc, char** argv) {
  // The parser refuses what the code generator and descriptor cannot handle; anything
  // thrown all the same (an allocation failure, a bug) is still an error with status 1.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "lockstep-schemac: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "lockstep-schemac: error: an unknown exception\n";
  }
  return 1;
}
