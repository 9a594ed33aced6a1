// CompletionQueue: the completions of backends that finish each durable write inside
// submit() (PosixBackend, MemoryDisk), handed back by reap() in submission order.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "journal/io_backend.h"

namespace lockstep::journal {

class CompletionQueue {
 public:
  void push(std::uint64_t tag, IoStatus status) { items_.push_back({tag, std::move(status)}); }

  // Moves every queued completion to *out. REQUIRES: min <= size(): they are all ready.
  void reap(std::size_t min, std::vector<Completion>* out) {
    LS_ASSERT(min <= items_.size());
    while (!items_.empty()) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
    }
  }

  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<Completion> items_;
};

}  // namespace lockstep::journal
