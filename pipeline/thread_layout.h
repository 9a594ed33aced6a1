// ThreadLayout: which OS thread runs which stages, on which CPUs.
//
// Several stages may share a thread (it polls them in turn, in the order listed), which
// is how a six-stage pipeline runs well on two cores. On a large machine, give each
// stage a thread of its own pinned to an isolated core (one_thread_per_stage plus cpus):
// the stages then never share a core, and a busy-spin wait strategy becomes reasonable.
//
// validate() refuses, with a message that names the thread and stage, a layout that
// could not run: no threads, a thread without stages, a stage missing from the pipeline
// or listed twice or not at all, a CPU this process may not use, and (unless
// allow_spin_oversubscription) more busy-spinning threads than usable CPUs.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lockstep {

struct ThreadAssignment {
  std::string name;                 // OS thread name (first 15 characters are shown)
  std::vector<std::string> stages;  // polled in this order
  std::vector<int> cpus;            // affinity; empty: any CPU the process may use
};

struct ThreadLayout {
  std::vector<ThreadAssignment> threads;
  bool allow_spin_oversubscription = false;

  // Every stage on one thread.
  static ThreadLayout single_thread(std::span<const std::string> stages);
  // One thread per stage, unpinned.
  static ThreadLayout one_thread_per_stage(std::span<const std::string> stages);
  // `thread_count` threads, each taking a contiguous run of stages (earlier threads
  // take one more when the division is uneven). REQUIRES: 1 <= thread_count.
  static ThreadLayout spread(std::span<const std::string> stages, std::size_t thread_count);
  // The default: spread over as many threads as there are usable CPUs (at most one
  // per stage). On a 2-core machine, two threads: front half and back half.
  static ThreadLayout default_for(std::span<const std::string> stages);
  // Parses "a,b@0|c@1": threads separated by '|', stages by ',', an optional
  // "@cpu[+cpu...]" pinning. Throws std::invalid_argument on malformed text.
  static ThreadLayout parse(std::string_view text);

  // Throws std::invalid_argument (see above). `spin_threads` is whether the wait
  // strategy spins without bound.
  void validate(std::span<const std::string> pipeline_stages, bool spin_threads) const;

  // "ingest,sequence|execute@1": the form parse() reads.
  std::string to_string() const;
};

// CPUs this process may run on (its affinity mask), at least 1.
std::size_t usable_cpu_count();

// Names `thread` and pins it to `assignment.cpus`. Throws std::system_error if the
// kernel refuses the affinity.
void apply_thread_assignment(std::thread& thread, const ThreadAssignment& assignment);

}  // namespace lockstep
