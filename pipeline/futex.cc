#include "pipeline/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "base/assert.h"

namespace lockstep {
namespace {

// The futex word's address; the kernel only compares and sleeps on it.
std::uint32_t* futex_address(const std::atomic<std::uint32_t>& word) noexcept {
  return reinterpret_cast<std::uint32_t*>(const_cast<std::atomic<std::uint32_t>*>(&word));
}

}  // namespace

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                Deadline deadline) noexcept {
  timespec relative{};
  timespec* timeout = nullptr;
  if (deadline != kNoDeadline) {
    const auto remaining = deadline - SteadyClock::now();
    if (remaining <= SteadyClock::duration::zero()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(remaining).count();
    relative.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    relative.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout = &relative;
  }
  const long rc =
      syscall(SYS_futex, futex_address(word), FUTEX_WAIT_PRIVATE, expected, timeout, nullptr, 0);
  // EAGAIN: the word changed before we slept; ETIMEDOUT and EINTR: the caller re-checks.
  LS_ASSERT(rc == 0 || errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR);
}

void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept {
  const long rc =
      syscall(SYS_futex, futex_address(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  LS_ASSERT(rc >= 0);
}

}  // namespace lockstep
