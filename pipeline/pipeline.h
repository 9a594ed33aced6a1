// Pipeline: owns a set of stages and runs them on the threads a ThreadLayout names.
//
// Set-up (single-threaded): construct, add() every stage, wire the sequencer's gating
// to the terminal stages, then start(layout). start() validates the layout against the
// stages and throws std::invalid_argument before any thread starts if it is wrong.
//
// Each thread polls its stages in turn; a pass that found no work waits through the
// wait strategy until some stage of the thread has work or the pipeline is stopping.
// stop() finishes the current pass of every thread and joins them; it does not drain.
// To drain, publish everything, wait_until_processed(last), then stop().
//
// Thread safety: add, start and stop from the owning thread; wait_until_processed and
// the stages' metrics from any thread while running.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "pipeline/constants.h"
#include "pipeline/stage.h"
#include "pipeline/thread_layout.h"
#include "pipeline/wait_strategy.h"

namespace lockstep {

template <WaitStrategy W>
class Pipeline {
 public:
  // `wait` must be the strategy the pipeline's sequencer uses, and outlive it.
  explicit Pipeline(W& wait) : wait_(wait) {}
  ~Pipeline() { stop(); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Takes ownership of `stage` and returns it. Throws std::invalid_argument for a
  // duplicate name, more than kStagesMax stages, or after start().
  template <class S>
  S& add(std::unique_ptr<S> stage) {
    if (running_) throw std::invalid_argument("pipeline: add() after start()");
    if (stages_.size() == kStagesMax) {
      throw std::invalid_argument("pipeline: more than " + std::to_string(kStagesMax) + " stages");
    }
    for (const auto& s : stages_) {
      if (s->name() == stage->name()) {
        throw std::invalid_argument("pipeline: two stages named '" + stage->name() + "'");
      }
    }
    S& ref = *stage;
    stages_.push_back(std::move(stage));
    return ref;
  }

  std::vector<std::string> stage_names() const {
    std::vector<std::string> names;
    for (const auto& s : stages_) names.push_back(s->name());
    return names;
  }

  // Throws std::invalid_argument naming the stage if there is none by that name.
  Stage& stage(std::string_view name) const {
    for (const auto& s : stages_) {
      if (s->name() == name) return *s;
    }
    throw std::invalid_argument("pipeline: no stage named '" + std::string(name) + "'");
  }
  const std::vector<std::unique_ptr<Stage>>& stages() const noexcept { return stages_; }

  // Validates `layout` and starts its threads. Throws std::invalid_argument for a bad
  // layout (nothing started), std::system_error if pinning fails (everything stopped).
  void start(const ThreadLayout& layout) {
    if (running_) throw std::invalid_argument("pipeline: start() twice");
    const std::vector<std::string> names = stage_names();
    layout.validate(names, W::kSpinsWithoutBound);
    halted_.store(false, std::memory_order_seq_cst);
    running_ = true;
    try {
      for (const ThreadAssignment& assignment : layout.threads) {
        std::vector<Stage*> mine;
        for (const std::string& name : assignment.stages) mine.push_back(&stage(name));
        threads_.emplace_back([this, mine = std::move(mine)] { run(mine); });
        apply_thread_assignment(threads_.back(), assignment);
      }
    } catch (...) {
      stop();
      throw;
    }
  }

  // Waits until every stage has published `sequence` or later. Returns false if
  // `deadline` passes first. Any thread.
  bool wait_until_processed(std::int64_t sequence, Deadline deadline = kNoDeadline) {
    return wait_.wait_until(
        [&] {
          for (const auto& s : stages_) {
            if (s->sequence().get() < sequence) return false;
          }
          return true;
        },
        deadline);
  }

  // Stops every thread after its current pass and joins it. Idempotent.
  void stop() {
    if (!running_) return;
    halted_.store(true, std::memory_order_seq_cst);
    wait_.signal();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    running_ = false;
  }

  bool running() const noexcept { return running_; }

 private:
  void run(const std::vector<Stage*>& mine) {
    for (;;) {
      std::int64_t done = 0;
      for (Stage* s : mine) done += s->poll();
      if (done > 0) continue;
      if (halted()) return;
      Deadline deadline = kNoDeadline;
      for (Stage* s : mine) deadline = std::min(deadline, s->wake_by());
      (void)wait_.wait_until(
          [&] {
            if (halted()) return true;
            for (Stage* s : mine) {
              if (s->has_work()) return true;
            }
            return false;
          },
          deadline);
    }
  }

  // Seq_cst: re-checked by parked threads (parker.h protocol).
  bool halted() const noexcept { return halted_.load(std::memory_order_seq_cst); }

  W& wait_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<std::thread> threads_;
  bool running_ = false;
  alignas(kFalseSharingBytes) std::atomic<bool> halted_{false};
};

}  // namespace lockstep
