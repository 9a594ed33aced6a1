// Histogram: a log-linear latency histogram with HdrHistogram-compatible output.
//
// Values are int64 (nanoseconds by convention). The value range is cut into buckets whose
// widths double; each bucket is split into sub_bucket_count / 2 equal sub-buckets, so every
// recorded value is kept to within 10^-significant_digits of its true value. This is the
// layout of the published HdrHistogram algorithm, so bucket boundaries, percentiles and the
// .hgrm text output agree with what HdrHistogram tools (such as its web plotter) expect.
//
// Histogram is the live, recording side: one writer thread records while any number of
// readers take snapshots, without locks. HistogramSnapshot is a plain copy of the counts
// that can be queried, merged and written out at leisure.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"

namespace lockstep {

struct HistogramConfig {
  std::int64_t lowest_discernible_value = 1;                 // >= 1
  std::int64_t highest_trackable_value = 3'600'000'000'000;  // 1 hour in ns; >= 2 * lowest
  int significant_digits = 3;                                // 1..5

  friend bool operator==(const HistogramConfig&, const HistogramConfig&) = default;
};

namespace detail {

// The bucket geometry derived from a HistogramConfig, shared by Histogram and
// HistogramSnapshot so both map values to the same counter indices.
class HistogramLayout {
 public:
  // Throws std::invalid_argument naming the offending field and its value when `config`
  // is out of range, so a bad configuration fails at construction and never on a record.
  explicit HistogramLayout(const HistogramConfig& config);

  // The number of counters the layout needs: (bucket_count + 1) * (sub_bucket_count / 2).
  std::size_t counts_length() const noexcept { return counts_length_; }
  int bucket_count() const noexcept { return bucket_count_; }
  int sub_bucket_count() const noexcept { return 1 << (half_count_magnitude_ + 1); }

  // The counter index for `value`, which must lie in [0, highest_trackable_value]. O(1)
  // and branch-free: the bucket is the position of the highest set bit above the
  // sub-bucket range, the sub-bucket is the value shifted down to that bucket's unit.
  std::size_t index_of(std::int64_t value) const noexcept {
    const auto v = static_cast<std::uint64_t>(value);
    const int bucket = bucket_of(v);
    const std::uint64_t sub_bucket = v >> (bucket + unit_magnitude_);
    return (static_cast<std::size_t>(bucket + 1) << half_count_magnitude_) + sub_bucket -
           half_count_;
  }

  // The lowest value that maps to counter `index`.
  std::int64_t value_at_index(std::size_t index) const noexcept;
  // The lowest value that shares `value`'s counter (`value` >= 0).
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  // How many distinct values share `value`'s counter (`value` >= 0).
  std::int64_t equivalent_range(std::int64_t value) const noexcept;

 private:
  int bucket_of(std::uint64_t v) const noexcept {
    return static_cast<int>(std::bit_width(v | sub_bucket_mask_)) - bucket_offset_;
  }

  int unit_magnitude_ = 0;        // floor(log2(lowest_discernible_value))
  int half_count_magnitude_ = 0;  // log2(sub_bucket_count / 2)
  std::uint64_t half_count_ = 0;  // sub_bucket_count / 2
  std::uint64_t sub_bucket_mask_ = 0;
  int bucket_offset_ = 0;  // unit_magnitude + half_count_magnitude + 1
  int bucket_count_ = 0;
  std::size_t counts_length_ = 0;
};

}  // namespace detail

// A plain (non-atomic) copy of a histogram's counts. Copyable and mergeable; not
// thread-safe: like any value type, one thread may modify it or many may read it.
class HistogramSnapshot {
 public:
  // An empty snapshot. Throws std::invalid_argument when `config` is out of range (see
  // Histogram's constructor). Allocates the counts array.
  explicit HistogramSnapshot(const HistogramConfig& config = {});

  // Adds `count` (>= 0, else aborts) occurrences of `value`, clamped exactly as
  // Histogram::record_n clamps. For building expected results and merging by hand.
  void record_n(std::int64_t value, std::int64_t count);

  // Adds every count of `other` to this snapshot. Throws std::invalid_argument when the
  // configs differ, because counters of different layouts do not describe the same values.
  void merge(const HistogramSnapshot& other);

  // Takes away the counts of `earlier`, an earlier snapshot of the same histogram, leaving
  // what was recorded between the two. Throws std::invalid_argument (changing nothing)
  // for another configuration, or a count of `earlier` above this one's.
  void subtract(const HistogramSnapshot& earlier);

  // The number of recorded values, summed from this snapshot's own counters.
  std::int64_t total_count() const;
  // How many recorded values exceeded highest_trackable_value and were clamped to it.
  std::int64_t saturated_count() const;
  // The lowest value equivalent to the smallest recorded value; 0 when empty.
  std::int64_t min() const;
  // The highest value equivalent to the largest recorded value; 0 when empty.
  std::int64_t max() const;
  // The mean over the median-equivalent value of each counter, as HdrHistogram computes
  // it; 0 when empty.
  double mean() const;
  // The population standard deviation around mean(), over the same values; 0 when empty.
  double stddev() const;

  // The value at `percentile` (clamped to [0, 100]) with HdrHistogram semantics: the
  // first counter at which the cumulative count reaches ceil(percentile / 100 * total)
  // (at least 1), reported as the highest value equivalent to it, so the answer is never
  // below the true percentile. Percentile 0 reports the lowest equivalent value instead,
  // which equals min(). Returns 0 when empty.
  std::int64_t value_at_percentile(double percentile) const;

  // Writes HdrHistogram's "outputPercentileDistribution" text (.hgrm) to `out`: values
  // divided by `value_unit_scaling` (1000.0 turns ns into us), with
  // `ticks_per_half_distance` rows per halving of the distance to 100%. Throws
  // std::invalid_argument unless value_unit_scaling > 0 and ticks_per_half_distance >= 1.
  void write_hgrm(std::ostream& out, double value_unit_scaling = 1000.0,
                  int ticks_per_half_distance = 5) const;

  // One JSON object with raw (unscaled) values: {"count":N,"saturated":N,"min":N,
  // "mean":X,"p50":N,"p90":N,"p99":N,"p999":N,"p9999":N,"max":N,"unit":"<unit>"}.
  // REQUIRES: `unit` is a short label without quotes or backslashes.
  std::string to_json(std::string_view unit = "ns") const;

  const HistogramConfig& config() const noexcept { return config_; }

  // The lowest and highest values that share a counter with `value` (negative values are
  // treated as 0). Exposed so tests can state precision bounds exactly.
  std::int64_t lowest_equivalent_value(std::int64_t value) const;
  std::int64_t highest_equivalent_value(std::int64_t value) const;

  // Equal when the configs, every counter and the saturated counts are equal.
  friend bool operator==(const HistogramSnapshot& a, const HistogramSnapshot& b);

 private:
  friend class Histogram;

  std::int64_t median_equivalent_value(std::size_t index) const;
  std::int64_t highest_equivalent_at(std::size_t index) const;
  void write_percentile_rows(std::ostream& out, double scaling, int ticks) const;

  HistogramConfig config_;
  detail::HistogramLayout layout_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t saturated_ = 0;
};

// The recording side. One writer thread records; any number of reader threads take
// snapshots concurrently, without locks. Allocation happens only at construction.
//
// Why relaxed atomics are enough: there is a single writer, so each counter is updated by
// a relaxed load + relaxed store (no read-modify-write) and never loses an increment.
// Readers only need each counter to be untorn, which any atomic load guarantees, and a
// reader's successive loads of one counter never go backwards (read-read coherence), so
// successive snapshots taken by one thread have non-decreasing counters. A snapshot is
// not an atomic cut across counters: a record racing with it may or may not be included.
// Its total_count() is therefore recomputed from the copied counters, so every snapshot
// is self-consistent even if it is a few records behind the writer.
class Histogram {
 public:
  // Throws std::invalid_argument with a message naming the bad field and its value when
  // lowest_discernible_value < 1, highest_trackable_value < 2 * lowest_discernible_value,
  // significant_digits is outside [1, 5], or lowest_discernible_value is too large for
  // the requested digits to fit in 64-bit values.
  explicit Histogram(const HistogramConfig& config = {});
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Writer thread only. Records one occurrence of `value`; see record_n.
  void record(std::int64_t value) noexcept { record_n(value, 1); }

  // Writer thread only. Records `count` (>= 0, else aborts) occurrences of `value`.
  // Values < 0 are recorded as 0; values > highest_trackable_value are recorded as
  // highest_trackable_value and also counted in saturated_count(), so a report never
  // silently hides them. Never allocates, locks or throws.
  void record_n(std::int64_t value, std::int64_t count) noexcept;

  // Any thread. Copies the counters into a new snapshot (which allocates). Concurrent
  // records may be partly included; see the class comment for what is guaranteed.
  HistogramSnapshot snapshot() const;

  // Writer thread only. Zeroes every counter. A snapshot racing with reset() may see some
  // counters zeroed and others not, and counts are no longer monotonic across a reset.
  void reset() noexcept;

  // Any thread: the config is immutable after construction.
  const HistogramConfig& config() const noexcept { return config_; }

 private:
  using Counter = std::atomic<std::uint64_t>;
  static_assert(Counter::is_always_lock_free);

  // Single-writer increment: see the class comment for why relaxed suffices.
  static void add(Counter& counter, std::uint64_t n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  HistogramConfig config_;
  detail::HistogramLayout layout_;
  std::unique_ptr<Counter[]> counts_;
  Counter saturated_{0};
};

inline void Histogram::record_n(std::int64_t value, std::int64_t count) noexcept {
  LS_ASSERT(count >= 0);
  if (value > config_.highest_trackable_value) [[unlikely]] {
    value = config_.highest_trackable_value;
    add(saturated_, static_cast<std::uint64_t>(count));
  }
  value = value < 0 ? 0 : value;
  add(counts_[layout_.index_of(value)], static_cast<std::uint64_t>(count));
}

}  // namespace lockstep
