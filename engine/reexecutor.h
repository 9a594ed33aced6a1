// Reexecutor<D>: the one place journaled commands run again. It takes the journal's
// TxResults in sequence order, feeds each one's command through an Executor<D> and
// compares what the executor writes with the journal's bytes, byte for byte, when the
// command (or the linked chain it closes) is final. The running engine's open (which
// rebuilds its state this way) and lockstep-replay verify --reexecute both use it, so a
// divergence is found and reported the same way everywhere.
//
// What the results are compared on is all of them: header, command, writes, events and
// the state hash a batch's last result carries. A difference means the handlers or the
// engine no longer produce the history the journal holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/executor.h"
#include "engine/tx_result.h"

namespace lockstep {

// Where re-execution and the journal part.
struct Divergence {
  std::uint64_t sequence = 0;         // the first result that differs
  std::vector<std::byte> journal;     // the journal's results of the command (or chain)
  std::vector<std::byte> reexecuted;  // what re-execution wrote for it
};

template <class D>
class Reexecutor {
 public:
  enum class Step : std::uint8_t {
    kPending,    // the command opened or continued a linked chain: nothing to compare yet
    kMatched,    // the command's (or chain's) results equal the journal's: see matched()
    kDiverged,   // they do not: see divergence()
    kMalformed,  // the entry is not a result of the next sequence: see error()
  };

  // Re-executes on `executor`, whose next_sequence() is where the journal's entries start.
  explicit Reexecutor(Executor<D>& executor)
      : executor_(executor),
        out_(executor.options().result_bytes_max + executor.options().chain_bytes_max) {}

  // Re-executes the command of the journal's TxResult `entry`, the next sequence's.
  Step feed(std::span<const std::byte> entry) {
    const std::uint64_t next = executor_.next_sequence();
    bool batch_end = false;
    if (!command_of_result(entry, &command_, &batch_end)) {
      error_ = "sequence " + std::to_string(next) +
               ": a TxResult shorter than its header, or its command overruns it";
      return Step::kMalformed;
    }
    if (command_.sequence != next) {
      error_ = "the TxResult at sequence " + std::to_string(next) + " says it is sequence " +
               std::to_string(command_.sequence);
      return Step::kMalformed;
    }
    if (expected_count_ == 0) expected_.clear();
    expected_.insert(expected_.end(), entry.begin(), entry.end());
    ++expected_count_;
    const ExecuteResult r = executor_.execute(command_, batch_end, out_);
    if (r.results == 0) return Step::kPending;
    matched_count_ = std::exchange(expected_count_, 0);
    if (r.results == matched_count_ && r.bytes == expected_.size() &&
        std::memcmp(out_.data(), expected_.data(), r.bytes) == 0) {
      return Step::kMatched;
    }
    diverged(std::span<const std::byte>(out_).first(r.bytes), r.results);
    return Step::kDiverged;
  }

  // The command of the entry fed last (its payload points into that entry).
  const CommandView& command() const noexcept { return command_; }
  // After kMatched: the results just compared (the command's, or its chain's), in order.
  std::span<const std::byte> matched() const noexcept { return expected_; }
  std::uint32_t matched_count() const noexcept { return matched_count_; }
  // After kDiverged.
  const Divergence& divergence() const noexcept { return divergence_; }
  // After kMalformed: what is wrong with the entry, naming its sequence.
  const std::string& error() const noexcept { return error_; }
  // True while fed entries of a linked chain wait for the entry that closes it: at the
  // end of a journal, it ends inside a chain.
  bool in_chain() const noexcept { return expected_count_ != 0; }

 private:
  void diverged(std::span<const std::byte> out, std::uint32_t results) {
    // The first result that differs: walk both in step while they agree.
    TxResultReader ours(out);
    TxResultReader theirs(expected_);
    std::uint64_t sequence = command_.sequence + 1 - results;
    std::span<const std::byte> a;
    std::span<const std::byte> b;
    while (ours.next(&a) && theirs.next(&b) && a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), a.size()) == 0) {
      ++sequence;
    }
    divergence_.sequence = sequence;
    divergence_.journal = expected_;
    divergence_.reexecuted.assign(out.begin(), out.end());
  }

  Executor<D>& executor_;
  std::vector<std::byte> out_;
  std::vector<std::byte> expected_;  // the journal's results of the open command or chain
  std::uint32_t expected_count_ = 0;
  std::uint32_t matched_count_ = 0;
  CommandView command_;
  Divergence divergence_;
  std::string error_;
};

}  // namespace lockstep
