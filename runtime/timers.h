// Timers: the thread that submits EngineConfig::timers' commands (runtime/command.h,
// TimerCommand) when they fall due, until stopped. Each timer's next time is its last one
// plus its interval, on the monotonic clock; the thread sleeps until the earliest (no
// spinning). What a submission does with a busy engine is the caller's submit function's
// business (the engine skips that occurrence).
//
// Thread safety: start and stop from one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/command.h"

namespace lockstep {

class Timers {
 public:
  using SubmitFn = std::function<void(const TimerCommand&)>;

  Timers() = default;
  ~Timers() { stop(); }
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  // Starts the thread, which calls submit(t) each time a timer t falls due. Nothing
  // happens for an empty list.
  void start(std::vector<TimerCommand> timers, SubmitFn submit);
  // Stops and joins the thread. Idempotent.
  void stop();

 private:
  void run();

  std::vector<TimerCommand> timers_;
  SubmitFn submit_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace lockstep
