#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace lockstep::detail {

void assert_fail(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "lockstep: assertion failed: %s at %s:%d\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace lockstep::detail
