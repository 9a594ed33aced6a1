#include "runtime/timers.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace lockstep {

void Timers::start(std::vector<TimerCommand> timers, SubmitFn submit) {
  if (timers.empty()) return;
  timers_ = std::move(timers);
  submit_ = std::move(submit);
  thread_ = std::thread([this] { run(); });
}

void Timers::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Timers::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> due;
  for (const TimerCommand& t : timers_) due.push_back(Clock::now() + t.interval);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto next = *std::min_element(due.begin(), due.end());
    if (cv_.wait_until(lock, next, [&] { return stopping_; })) break;
    const auto now = Clock::now();
    for (std::size_t i = 0; i < due.size(); ++i) {
      if (due[i] > now) continue;
      submit_(timers_[i]);
      due[i] = now + timers_[i].interval;
    }
  }
}

}  // namespace lockstep
