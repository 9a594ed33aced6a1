// FUZZ_CHECK: an oracle of a fuzz target. A violated check is a bug in the code under test
// (or in the target's reading of its contract): it prints what was expected and aborts, so
// libFuzzer reports a crash and saves the input (docs/fuzzing.md, "Reproducing a crash").
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace lockstep::fuzz::detail {

[[noreturn]] inline void check_failed(const char* condition, const std::string& what,
                                      const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %s\n", file, line, condition, what.c_str());
  std::abort();
}

}  // namespace lockstep::fuzz::detail

// `what` is evaluated only on failure.
#define FUZZ_CHECK(cond, what)   \
  ((cond) ? static_cast<void>(0) \
          : ::lockstep::fuzz::detail::check_failed(#cond, std::string(what), __FILE__, __LINE__))
