// Load tasks: the index builds that follow a snapshot's load (Table::load_tasks), run on
// every core at once.
//
// Each task builds one index of one table (a table's primary and unique keys, or one of
// its ordered indexes) and reads only the table's records, which nothing writes while the
// tasks run: any two may run at once. The largest start first, so on two cores a table of
// ten million records' indexes do not wait behind small ones.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace lockstep {

struct LoadTask {
  std::uint64_t cost = 0;                 // an estimate, in arbitrary units
  std::function<bool(std::string*)> run;  // false, with the error, if the records are bad
};

// Runs every task, on the calling thread and up to threads - 1 others (0: one per core).
// True if all succeeded; else false with the error of the first task, in the list's
// order, that failed (the same message however the tasks were scheduled).
[[nodiscard]] inline bool run_load_tasks(std::vector<LoadTask> tasks, std::string* error,
                                         unsigned threads = 0) {
  if (tasks.empty()) return true;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, tasks.size()));
  std::vector<std::size_t> order(tasks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return tasks[a].cost > tasks[b].cost; });
  std::vector<std::string> errors(tasks.size());
  std::vector<char> failed(tasks.size(), 0);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < order.size();) {
      const std::size_t i = order[k];
      failed[i] = tasks[i].run(&errors[i]) ? 0 : 1;
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (unsigned t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread to be had: fewer do the work
    }
  }
  work();
  for (std::thread& t : helpers) t.join();
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (failed[i] != 0) {
      *error = std::move(errors[i]);
      return false;
    }
  }
  return true;
}

}  // namespace lockstep
