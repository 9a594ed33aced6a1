// Assertions that stay on in release builds.
//
// LS_ASSERT checks what must never happen, in every build: a violated invariant means
// the process state is unknown, so it aborts with the condition, file and line rather
// than run on. LS_DASSERT is for checks on the per-item hot path, compiled in debug and
// sanitizer builds only (NDEBUG removes them).
#pragma once

namespace lockstep::detail {
[[noreturn]] void assert_fail(const char* condition, const char* file, int line) noexcept;
}  // namespace lockstep::detail

#define LS_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::lockstep::detail::assert_fail(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define LS_DASSERT(cond) static_cast<void>(0)
#else
#define LS_DASSERT(cond) LS_ASSERT(cond)
#endif
