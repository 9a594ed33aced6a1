#include "pipeline/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>

namespace lockstep {
namespace {

// HdrHistogram shifts values left by unit_magnitude + half_count_magnitude + 1 bits while
// sizing buckets; beyond 61 that overflows an int64.
constexpr int kMaxMagnitudeSum = 61;

[[noreturn]] void reject(const char* field, std::int64_t value, const char* requirement) {
  throw std::invalid_argument("HistogramConfig." + std::string(field) + " = " +
                              std::to_string(value) + " is invalid: " + requirement);
}

void validate(const HistogramConfig& config) {
  if (config.lowest_discernible_value < 1) {
    reject("lowest_discernible_value", config.lowest_discernible_value, "must be >= 1");
  }
  if (config.highest_trackable_value / 2 < config.lowest_discernible_value) {
    reject("highest_trackable_value", config.highest_trackable_value,
           "must be >= 2 * lowest_discernible_value");
  }
  if (config.significant_digits < 1 || config.significant_digits > 5) {
    reject("significant_digits", config.significant_digits, "must be in [1, 5]");
  }
}

// The number of doubling buckets needed before `highest` is representable. The first
// bucket covers [0, sub_bucket_count << unit_magnitude); each further bucket doubles the
// covered range. Stops one bucket past the point where the next shift would overflow.
int buckets_needed(std::int64_t highest, std::int64_t first_untrackable) {
  int buckets = 1;
  while (first_untrackable <= highest) {
    if (first_untrackable > std::numeric_limits<std::int64_t>::max() / 2) return buckets + 1;
    first_untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

// The next percentile reporting level after `level`, with HdrHistogram's percentile
// iterator semantics: each half of the remaining distance to 100% gets `ticks` equal
// steps. log(x) / log(2) rather than log2 keeps the rounding of HdrHistogram's own
// computation. Always advances, so a caller looping until it passes a level < 100 ends.
double next_percentile_level(double level, int ticks) {
  const double halvings = std::floor(std::log(100.0 / (100.0 - level)) / std::log(2.0));
  const double steps = ticks * std::ldexp(1.0, static_cast<int>(halvings) + 1);
  return std::max(level + 100.0 / steps, std::nextafter(level, 101.0));
}

[[gnu::format(printf, 2, 3)]] void print(std::ostream& out, const char* format, ...) {
  char line[256];
  std::va_list args;
  va_start(args, format);
  const int length = std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  LS_ASSERT(length >= 0 && static_cast<std::size_t>(length) < sizeof line);
  out.write(line, length);
}

}  // namespace

namespace detail {

HistogramLayout::HistogramLayout(const HistogramConfig& config) {
  validate(config);
  std::uint64_t single_unit_range = 2;  // 2 * 10^digits values at full resolution
  for (int i = 0; i < config.significant_digits; ++i) single_unit_range *= 10;
  const std::uint64_t sub_bucket_count = std::bit_ceil(single_unit_range);
  unit_magnitude_ = static_cast<int>(std::bit_width(
                        static_cast<std::uint64_t>(config.lowest_discernible_value))) -
                    1;
  half_count_magnitude_ = std::countr_zero(sub_bucket_count) - 1;
  if (unit_magnitude_ + half_count_magnitude_ > kMaxMagnitudeSum) {
    reject("lowest_discernible_value", config.lowest_discernible_value,
           "too large for significant_digits: values would overflow 64 bits");
  }
  half_count_ = sub_bucket_count / 2;
  sub_bucket_mask_ = (sub_bucket_count - 1) << unit_magnitude_;
  bucket_offset_ = unit_magnitude_ + half_count_magnitude_ + 1;
  bucket_count_ = buckets_needed(config.highest_trackable_value,
                                 static_cast<std::int64_t>(sub_bucket_count << unit_magnitude_));
  counts_length_ = static_cast<std::size_t>(bucket_count_ + 1) * half_count_;
}

std::int64_t HistogramLayout::value_at_index(std::size_t index) const noexcept {
  int bucket = static_cast<int>(index >> half_count_magnitude_) - 1;
  std::uint64_t sub_bucket = (index & (half_count_ - 1)) + half_count_;
  if (bucket < 0) {  // The first half of bucket 0 sits below the other buckets' halves.
    sub_bucket -= half_count_;
    bucket = 0;
  }
  return static_cast<std::int64_t>(sub_bucket << (bucket + unit_magnitude_));
}

std::int64_t HistogramLayout::lowest_equivalent(std::int64_t value) const noexcept {
  const auto v = static_cast<std::uint64_t>(value);
  const int shift = bucket_of(v) + unit_magnitude_;
  return static_cast<std::int64_t>((v >> shift) << shift);
}

std::int64_t HistogramLayout::equivalent_range(std::int64_t value) const noexcept {
  return std::int64_t{1} << (bucket_of(static_cast<std::uint64_t>(value)) + unit_magnitude_);
}

}  // namespace detail

// ---------------------------------------------------------------- HistogramSnapshot

HistogramSnapshot::HistogramSnapshot(const HistogramConfig& config)
    : config_(config), layout_(config), counts_(layout_.counts_length(), 0) {}

void HistogramSnapshot::record_n(std::int64_t value, std::int64_t count) {
  LS_ASSERT(count >= 0);
  const auto n = static_cast<std::uint64_t>(count);
  if (value > config_.highest_trackable_value) {
    value = config_.highest_trackable_value;
    saturated_ += n;
  }
  counts_[layout_.index_of(std::max<std::int64_t>(value, 0))] += n;
  total_ += n;
}

void HistogramSnapshot::merge(const HistogramSnapshot& other) {
  if (!(config_ == other.config_)) {
    throw std::invalid_argument(
        "HistogramSnapshot::merge: the snapshots have different HistogramConfigs");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
}

void HistogramSnapshot::subtract(const HistogramSnapshot& earlier) {
  if (!(config_ == earlier.config_)) {
    throw std::invalid_argument(
        "HistogramSnapshot::subtract: the snapshots have different HistogramConfigs");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (earlier.counts_[i] > counts_[i]) {
      throw std::invalid_argument(
          "HistogramSnapshot::subtract: not an earlier snapshot of the same histogram");
    }
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] -= earlier.counts_[i];
  total_ -= earlier.total_;
  saturated_ -= earlier.saturated_;
}

std::int64_t HistogramSnapshot::total_count() const { return static_cast<std::int64_t>(total_); }

std::int64_t HistogramSnapshot::saturated_count() const {
  return static_cast<std::int64_t>(saturated_);
}

std::int64_t HistogramSnapshot::min() const {
  const auto it = std::find_if(counts_.begin(), counts_.end(), [](auto c) { return c != 0; });
  if (it == counts_.end()) return 0;
  return layout_.value_at_index(static_cast<std::size_t>(it - counts_.begin()));
}

std::int64_t HistogramSnapshot::max() const {
  const auto it = std::find_if(counts_.rbegin(), counts_.rend(), [](auto c) { return c != 0; });
  if (it == counts_.rend()) return 0;
  return highest_equivalent_at(static_cast<std::size_t>(counts_.rend() - it) - 1);
}

double HistogramSnapshot::mean() const {
  if (total_ == 0) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) {
      sum += static_cast<double>(median_equivalent_value(i)) * static_cast<double>(counts_[i]);
    }
  }
  return sum / static_cast<double>(total_);
}

double HistogramSnapshot::stddev() const {
  if (total_ == 0) return 0.0;
  const double average = mean();
  double sum_of_squares = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) {
      const double deviation = static_cast<double>(median_equivalent_value(i)) - average;
      sum_of_squares += deviation * deviation * static_cast<double>(counts_[i]);
    }
  }
  return std::sqrt(sum_of_squares / static_cast<double>(total_));
}

std::int64_t HistogramSnapshot::value_at_percentile(double percentile) const {
  if (total_ == 0) return 0;
  const double p = std::min(percentile > 0.0 ? percentile : 0.0, 100.0);  // NaN -> 0
  // One ulp off the percentile keeps round-off in p / 100 * total from pushing the
  // target count up into the next counter (HdrHistogram does the same).
  const double below = std::max(std::nextafter(p, -1.0), 0.0);
  const double target = std::ceil(below / 100.0 * static_cast<double>(total_));
  const std::uint64_t wanted = target >= static_cast<double>(total_)
                                   ? total_
                                   : std::max<std::uint64_t>(static_cast<std::uint64_t>(target), 1);
  std::uint64_t cumulative = 0;
  std::size_t i = 0;
  for (; i + 1 < counts_.size(); ++i) {
    cumulative += counts_[i];
    if (cumulative >= wanted) break;
  }
  return p == 0.0 ? layout_.value_at_index(i) : highest_equivalent_at(i);
}

std::int64_t HistogramSnapshot::lowest_equivalent_value(std::int64_t value) const {
  return layout_.lowest_equivalent(std::max<std::int64_t>(value, 0));
}

std::int64_t HistogramSnapshot::highest_equivalent_value(std::int64_t value) const {
  const std::int64_t v = std::max<std::int64_t>(value, 0);
  // range - 1 first: at the top of the int64 range, lowest + range is 2^63.
  return layout_.lowest_equivalent(v) + (layout_.equivalent_range(v) - 1);
}

std::int64_t HistogramSnapshot::median_equivalent_value(std::size_t index) const {
  const std::int64_t lowest = layout_.value_at_index(index);
  return lowest + layout_.equivalent_range(lowest) / 2;
}

std::int64_t HistogramSnapshot::highest_equivalent_at(std::size_t index) const {
  return highest_equivalent_value(layout_.value_at_index(index));
}

bool operator==(const HistogramSnapshot& a, const HistogramSnapshot& b) {
  return a.config_ == b.config_ && a.saturated_ == b.saturated_ && a.counts_ == b.counts_;
}

// The layout follows HdrHistogram's outputPercentileDistribution byte for byte (with
// three decimals for values), so its plotters parse the output. snprintf formats with
// the C locale's decimal point, as the format requires, unless the process changed it.
void HistogramSnapshot::write_hgrm(std::ostream& out, double value_unit_scaling,
                                   int ticks_per_half_distance) const {
  if (!(value_unit_scaling > 0.0)) {
    throw std::invalid_argument("HistogramSnapshot::write_hgrm: value_unit_scaling = " +
                                std::to_string(value_unit_scaling) + " must be > 0");
  }
  if (ticks_per_half_distance < 1) {
    throw std::invalid_argument("HistogramSnapshot::write_hgrm: ticks_per_half_distance = " +
                                std::to_string(ticks_per_half_distance) + " must be >= 1");
  }
  print(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
  write_percentile_rows(out, value_unit_scaling, ticks_per_half_distance);
  print(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / value_unit_scaling,
        stddev() / value_unit_scaling);
  print(out, "#[Max     = %12.3f, Total count    = %12lld]\n",
        static_cast<double>(max()) / value_unit_scaling, static_cast<long long>(total_));
  print(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", layout_.bucket_count(),
        layout_.sub_bucket_count());
}

// HdrHistogram's percentile iteration: walk the non-empty counters in value order; at
// each, emit a row for every reporting level its cumulative percentile has reached. The
// last non-empty counter emits one row at the current level and then the 100% row.
void HistogramSnapshot::write_percentile_rows(std::ostream& out, double scaling, int ticks) const {
  double level = 0.0;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size() && total_ != 0; ++i) {
    if (counts_[i] == 0) continue;
    cumulative += counts_[i];
    const double value = static_cast<double>(highest_equivalent_at(i)) / scaling;
    const auto count = static_cast<long long>(cumulative);
    if (cumulative == total_) {
      if (level < 100.0) {
        print(out, "%12.3f %2.12f %10lld %14.2f\n", value, level / 100.0, count,
              1.0 / (1.0 - level / 100.0));
      }
      print(out, "%12.3f %2.12f %10lld\n", value, 1.0, count);
      return;
    }
    const double reached = 100.0 * static_cast<double>(cumulative) / static_cast<double>(total_);
    for (; reached >= level; level = next_percentile_level(level, ticks)) {
      print(out, "%12.3f %2.12f %10lld %14.2f\n", value, level / 100.0, count,
            1.0 / (1.0 - level / 100.0));
    }
  }
}

std::string HistogramSnapshot::to_json(std::string_view unit) const {
  // The unit is a short label the caller chose ("ns", "slots"), written unescaped.
  LS_ASSERT(unit.size() <= 32 && unit.find_first_of("\"\\") == std::string_view::npos);
  char json[512];
  const int length = std::snprintf(
      json, sizeof json,
      "{\"count\":%lld,\"saturated\":%lld,\"min\":%lld,\"mean\":%.3f,\"p50\":%lld,"
      "\"p90\":%lld,\"p99\":%lld,\"p999\":%lld,\"p9999\":%lld,\"max\":%lld,\"unit\":\"%.*s\"}",
      static_cast<long long>(total_count()), static_cast<long long>(saturated_count()),
      static_cast<long long>(min()), mean(), static_cast<long long>(value_at_percentile(50.0)),
      static_cast<long long>(value_at_percentile(90.0)),
      static_cast<long long>(value_at_percentile(99.0)),
      static_cast<long long>(value_at_percentile(99.9)),
      static_cast<long long>(value_at_percentile(99.99)), static_cast<long long>(max()),
      static_cast<int>(unit.size()), unit.data());
  LS_ASSERT(length > 0 && static_cast<std::size_t>(length) < sizeof json);
  return std::string(json, static_cast<std::size_t>(length));
}

// ---------------------------------------------------------------- Histogram

Histogram::Histogram(const HistogramConfig& config)
    : config_(config),
      layout_(config),
      counts_(std::make_unique<Counter[]>(layout_.counts_length())) {}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot snap(config_);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < snap.counts_.size(); ++i) {
    snap.counts_[i] = counts_[i].load(std::memory_order_relaxed);
    total += snap.counts_[i];
  }
  snap.total_ = total;  // Recomputed from the copy, so it matches the copied counters.
  snap.saturated_ = saturated_.load(std::memory_order_relaxed);
  return snap;
}

void Histogram::reset() noexcept {
  for (std::size_t i = 0; i < layout_.counts_length(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
  saturated_.store(0, std::memory_order_relaxed);
}

}  // namespace lockstep
