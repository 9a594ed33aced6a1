// SequenceGroup: a fixed-capacity set of sequences read together (a barrier's upstream
// stages, a sequencer's gating stages). No allocation; fixed at set-up time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "pipeline/sequence.h"

namespace lockstep {

template <std::size_t N>
class SequenceGroup {
 public:
  // Set-up only, before other threads read the group. Throws std::invalid_argument,
  // naming `who`, when the group is full.
  void add(const Sequence& sequence, const char* who) {
    if (size_ == N) {
      throw std::invalid_argument(std::string(who) + ": more than " + std::to_string(N) +
                                  " sequences");
    }
    items_[size_++] = &sequence;
  }

  // The smallest sequence in the group, or `floor` if that is smaller (or the group empty).
  std::int64_t min(std::int64_t floor = std::numeric_limits<std::int64_t>::max()) const noexcept {
    return min_sequence(span(), floor);
  }

  std::span<const Sequence* const> span() const noexcept { return {items_.data(), size_}; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::array<const Sequence*, N> items_{};
  std::size_t size_ = 0;
};

}  // namespace lockstep
