// A hint to the core that the caller is spinning, so a sibling hyperthread gets the
// execution resources and the spin loop does not flood the memory system.
#pragma once

namespace lockstep {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

}  // namespace lockstep
