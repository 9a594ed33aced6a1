// The two futex operations the parking wait strategies need (Linux only).
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.h"

namespace lockstep {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Sleeps while *word == expected, until woken, interrupted or past `deadline`. Spurious
// returns are allowed: callers re-check their condition in a loop.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                Deadline deadline) noexcept;

// Wakes every thread sleeping in futex_wait on `word`.
void futex_wake_all(const std::atomic<std::uint32_t>& word) noexcept;

}  // namespace lockstep
