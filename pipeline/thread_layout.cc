#include "pipeline/thread_layout.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>
#include <stdexcept>
#include <system_error>

namespace lockstep {
namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw std::invalid_argument("thread layout: " + what);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

int parse_cpu(std::string_view text, std::string_view thread_text) {
  int cpu = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cpu);
  if (ec != std::errc{} || end != text.data() + text.size() || cpu < 0) {
    // Appended rather than chained with operator+: GCC 12 at -O3 reports a false
    // -Wrestrict on the chained form.
    std::string what = "'";
    what.append(text).append("' in '").append(thread_text).append("' is not a CPU number");
    refuse(what);
  }
  return cpu;
}

cpu_set_t process_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  }
  return set;
}

}  // namespace

std::size_t usable_cpu_count() {
  const cpu_set_t set = process_cpus();
  return static_cast<std::size_t>(std::max(1, CPU_COUNT(&set)));
}

ThreadLayout ThreadLayout::single_thread(std::span<const std::string> stages) {
  return spread(stages, 1);
}

ThreadLayout ThreadLayout::one_thread_per_stage(std::span<const std::string> stages) {
  return spread(stages, std::max<std::size_t>(1, stages.size()));
}

ThreadLayout ThreadLayout::spread(std::span<const std::string> stages, std::size_t thread_count) {
  if (thread_count == 0) refuse("a layout needs at least one thread");
  thread_count = std::min(thread_count, std::max<std::size_t>(1, stages.size()));
  ThreadLayout layout;
  std::size_t next = 0;
  for (std::size_t t = 0; t < thread_count; ++t) {
    const std::size_t take = stages.size() / thread_count + (t < stages.size() % thread_count);
    ThreadAssignment thread;
    thread.stages.assign(stages.begin() + static_cast<std::ptrdiff_t>(next),
                         stages.begin() + static_cast<std::ptrdiff_t>(next + take));
    thread.name = "ls-" + (thread.stages.empty() ? std::string("idle") : thread.stages.front());
    next += take;
    layout.threads.push_back(std::move(thread));
  }
  return layout;
}

ThreadLayout ThreadLayout::default_for(std::span<const std::string> stages) {
  return spread(stages, std::min(usable_cpu_count(), std::max<std::size_t>(1, stages.size())));
}

ThreadLayout ThreadLayout::parse(std::string_view text) {
  if (text.empty()) refuse("empty layout text");
  ThreadLayout layout;
  for (std::string_view thread_text : split(text, '|')) {
    ThreadAssignment thread;
    std::string_view stages_text = thread_text;
    if (const std::size_t at = thread_text.find('@'); at != std::string_view::npos) {
      stages_text = thread_text.substr(0, at);
      for (std::string_view cpu : split(thread_text.substr(at + 1), '+')) {
        thread.cpus.push_back(parse_cpu(cpu, thread_text));
      }
    }
    for (std::string_view stage : split(stages_text, ',')) {
      if (stage.empty()) refuse("empty stage name in '" + std::string(thread_text) + "'");
      thread.stages.emplace_back(stage);
    }
    thread.name = "ls-" + thread.stages.front();
    layout.threads.push_back(std::move(thread));
  }
  return layout;
}

void ThreadLayout::validate(std::span<const std::string> pipeline_stages, bool spin_threads) const {
  if (pipeline_stages.empty()) refuse("the pipeline has no stages");
  if (threads.empty()) refuse("no threads");
  const cpu_set_t allowed = process_cpus();
  std::set<std::string, std::less<>> seen;
  for (const ThreadAssignment& thread : threads) {
    if (thread.stages.empty()) refuse("thread '" + thread.name + "' runs no stage");
    for (const std::string& stage : thread.stages) {
      if (std::find(pipeline_stages.begin(), pipeline_stages.end(), stage) ==
          pipeline_stages.end()) {
        refuse("thread '" + thread.name + "' names stage '" + stage +
               "', which the pipeline does not have");
      }
      if (!seen.insert(stage).second) refuse("stage '" + stage + "' is assigned twice");
    }
    for (int cpu : thread.cpus) {
      if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
        refuse("thread '" + thread.name + "' is pinned to CPU " + std::to_string(cpu) +
               ", which this process may not use");
      }
    }
  }
  for (const std::string& stage : pipeline_stages) {
    if (!seen.contains(stage)) refuse("stage '" + stage + "' is not assigned to any thread");
  }
  if (spin_threads && !allow_spin_oversubscription && threads.size() > usable_cpu_count()) {
    refuse(std::to_string(threads.size()) + " busy-spinning threads on " +
           std::to_string(usable_cpu_count()) +
           " usable CPUs would starve each other; use fewer threads, a non-spinning wait "
           "strategy, or set allow_spin_oversubscription");
  }
}

std::string ThreadLayout::to_string() const {
  std::string out;
  for (const ThreadAssignment& thread : threads) {
    if (!out.empty()) out += '|';
    for (std::size_t i = 0; i < thread.stages.size(); ++i) {
      if (i > 0) out += ',';
      out += thread.stages[i];
    }
    for (std::size_t i = 0; i < thread.cpus.size(); ++i) {
      out += (i == 0 ? '@' : '+');
      out += std::to_string(thread.cpus[i]);
    }
  }
  return out;
}

void apply_thread_assignment(std::thread& thread, const ThreadAssignment& assignment) {
  const std::string name = assignment.name.substr(0, 15);
  // Naming is cosmetic (it shows in top and perf); a failure is not worth stopping for.
  (void)pthread_setname_np(thread.native_handle(), name.c_str());
  if (assignment.cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : assignment.cpus) CPU_SET(cpu, &set);
  if (const int rc = pthread_setaffinity_np(thread.native_handle(), sizeof(set), &set); rc != 0) {
    throw std::system_error(rc, std::generic_category(),
                            "pinning thread '" + assignment.name + "'");
  }
}

}  // namespace lockstep
