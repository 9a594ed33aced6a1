#include "pipeline/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lockstep {
namespace {

// The message of the std::invalid_argument that constructing with `config` throws, or ""
// when it does not throw.
std::string construction_error(const HistogramConfig& config) {
  try {
    Histogram histogram(config);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// `count` values spread log-uniformly over [1, highest], so every bucket sees data.
std::vector<std::int64_t> log_uniform_values(std::uint64_t seed, std::size_t count,
                                             std::int64_t highest) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(0.0, std::log(static_cast<double>(highest)));
  std::vector<std::int64_t> values(count);
  for (auto& v : values) {
    v = std::clamp<std::int64_t>(std::llround(std::exp(exponent(rng))), 1, highest);
  }
  return values;
}

// The exact value at `percent_hundredths` / 100 percent of `sorted`: the one at rank
// ceil(p * n) (at least 1), in integer arithmetic so there is no round-off to argue about.
std::int64_t model_percentile(const std::vector<std::int64_t>& sorted,
                              std::uint64_t percent_hundredths) {
  const std::uint64_t n = sorted.size();
  const std::uint64_t rank = std::max<std::uint64_t>((n * percent_hundredths + 9999) / 10000, 1);
  return sorted[rank - 1];
}

struct HgrmRow {
  double value = 0;
  double percentile = 0;
  long long count = 0;
};

struct ParsedHgrm {
  std::vector<HgrmRow> rows;
  double mean = -1, stddev = -1, max = -1;
  long long total = -1;
  int buckets = -1, sub_buckets = -1;
  bool last_row_has_three_columns = false;
};

// Parses .hgrm text the way a plotter would, failing the test on any malformed line.
ParsedHgrm parse_hgrm(const std::string& text) {
  ParsedHgrm parsed;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "       Value     Percentile TotalCount 1/(1-Percentile)");
  std::getline(in, line);
  EXPECT_EQ(line, "");
  while (std::getline(in, line) && line.rfind("#[", 0) != 0) {
    HgrmRow row;
    double inverse = 0;
    const int fields = std::sscanf(line.c_str(), "%lf %lf %lld %lf", &row.value, &row.percentile,
                                   &row.count, &inverse);
    EXPECT_TRUE(fields == 4 || fields == 3) << "bad row: " << line;
    parsed.last_row_has_three_columns = fields == 3;
    parsed.rows.push_back(row);
  }
  EXPECT_EQ(std::sscanf(line.c_str(), "#[Mean    = %lf, StdDeviation   = %lf]", &parsed.mean,
                        &parsed.stddev),
            2)
      << line;
  std::getline(in, line);
  EXPECT_EQ(std::sscanf(line.c_str(), "#[Max     = %lf, Total count    = %lld]", &parsed.max,
                        &parsed.total),
            2)
      << line;
  std::getline(in, line);
  EXPECT_EQ(std::sscanf(line.c_str(), "#[Buckets = %d, SubBuckets     = %d]", &parsed.buckets,
                        &parsed.sub_buckets),
            2)
      << line;
  EXPECT_FALSE(std::getline(in, line)) << "trailing text: " << line;
  return parsed;
}

std::string hgrm_of(const HistogramSnapshot& snapshot, double scaling = 1000.0) {
  std::ostringstream out;
  snapshot.write_hgrm(out, scaling);
  return out.str();
}

TEST(HistogramConfigTest, LowestDiscernibleValueBelowOneIsRejectedByName) {
  const std::string error = construction_error({.lowest_discernible_value = 0});
  EXPECT_NE(error.find("lowest_discernible_value"), std::string::npos) << error;
  EXPECT_NE(error.find("= 0"), std::string::npos) << error;
}

TEST(HistogramConfigTest, HighestTrackableValueBelowTwiceLowestIsRejectedByName) {
  const std::string error =
      construction_error({.lowest_discernible_value = 10, .highest_trackable_value = 19});
  EXPECT_NE(error.find("highest_trackable_value"), std::string::npos) << error;
  EXPECT_NE(error.find("= 19"), std::string::npos) << error;
  EXPECT_EQ(construction_error({.lowest_discernible_value = 10, .highest_trackable_value = 20}),
            "");
}

TEST(HistogramConfigTest, SignificantDigitsOutsideOneToFiveAreRejectedByName) {
  for (int digits : {0, 6, -1}) {
    const std::string error = construction_error({.significant_digits = digits});
    EXPECT_NE(error.find("significant_digits"), std::string::npos) << error;
    EXPECT_NE(error.find("= " + std::to_string(digits)), std::string::npos) << error;
  }
  for (int digits = 1; digits <= 5; ++digits) {
    EXPECT_EQ(construction_error(
                  {.highest_trackable_value = 1'000'000'000, .significant_digits = digits}),
              "");
  }
}

TEST(HistogramConfigTest, LowestDiscernibleValueTooLargeForTheDigitsIsRejectedByName) {
  const std::string error = construction_error({.lowest_discernible_value = std::int64_t{1} << 45,
                                                .highest_trackable_value = std::int64_t{1} << 50,
                                                .significant_digits = 5});
  EXPECT_NE(error.find("lowest_discernible_value"), std::string::npos) << error;
}

TEST(HistogramConfigTest, SnapshotConstructorRejectsABadConfigToo) {
  EXPECT_THROW(HistogramSnapshot({.significant_digits = 9}), std::invalid_argument);
}

TEST(HistogramTest, ValuesBelowTheFirstBucketBoundaryAreExactAndRangesDoubleAfterIt) {
  const HistogramSnapshot s;  // 3 digits: 2048 sub-buckets, exact below 2048.
  EXPECT_EQ(s.lowest_equivalent_value(2047), 2047);
  EXPECT_EQ(s.highest_equivalent_value(2047), 2047);
  EXPECT_EQ(s.lowest_equivalent_value(2049), 2048);
  EXPECT_EQ(s.highest_equivalent_value(2048), 2049);
  EXPECT_EQ(s.lowest_equivalent_value(4099), 4096);
  EXPECT_EQ(s.highest_equivalent_value(4096), 4099);
  EXPECT_EQ(s.lowest_equivalent_value(-5), 0);
}

TEST(HistogramTest, LowestDiscernibleValueSetsThePowerOfTwoUnitResolution) {
  const HistogramSnapshot s({.lowest_discernible_value = 1000});  // unit = 512
  EXPECT_EQ(s.lowest_equivalent_value(700), 512);
  EXPECT_EQ(s.highest_equivalent_value(700), 1023);
  EXPECT_EQ(s.highest_equivalent_value(0), 511);
}

TEST(HistogramTest, RecordingOneToAThousandGivesExactPercentilesAndMoments) {
  Histogram h;
  for (std::int64_t v = 1; v <= 1000; ++v) h.record(v);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.total_count(), 1000);
  EXPECT_EQ(s.saturated_count(), 0);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.max(), 1000);
  EXPECT_EQ(s.value_at_percentile(0.0), 1);
  EXPECT_EQ(s.value_at_percentile(50.0), 500);
  EXPECT_EQ(s.value_at_percentile(90.0), 900);
  EXPECT_EQ(s.value_at_percentile(99.0), 990);
  EXPECT_EQ(s.value_at_percentile(99.9), 999);
  EXPECT_EQ(s.value_at_percentile(100.0), 1000);
  EXPECT_DOUBLE_EQ(s.mean(), 500.5);
  EXPECT_NEAR(s.stddev(), std::sqrt((1000.0 * 1000.0 - 1.0) / 12.0), 1e-9);
}

TEST(HistogramTest, RandomDataMatchesASortedModelWithinTheConfiguredPrecision) {
  for (int digits = 1; digits <= 5; ++digits) {
    for (std::uint64_t seed : {1u, 7u, 42u, 20240601u}) {
      SCOPED_TRACE("digits=" + std::to_string(digits) + " seed=" + std::to_string(seed));
      const HistogramConfig config{.highest_trackable_value = 10'000'000'000,
                                   .significant_digits = digits};
      std::vector<std::int64_t> values = log_uniform_values(seed, 20'011, 1'000'000'000);
      Histogram h(config);
      for (std::int64_t v : values) h.record(v);
      const HistogramSnapshot s = h.snapshot();
      std::sort(values.begin(), values.end());
      const double tolerance = std::pow(10.0, -digits);
      for (std::uint64_t hundredths : {5000u, 9000u, 9900u, 9990u, 9999u, 10000u}) {
        SCOPED_TRACE("percentile=" + std::to_string(hundredths / 100.0));
        const std::int64_t expected = model_percentile(values, hundredths);
        const std::int64_t actual = s.value_at_percentile(hundredths / 100.0);
        EXPECT_EQ(actual, s.highest_equivalent_value(expected));  // exactly its counter
        EXPECT_LE(static_cast<double>(actual - expected) / static_cast<double>(expected),
                  tolerance);
      }
      EXPECT_EQ(s.max(), s.highest_equivalent_value(values.back()));
      EXPECT_LE(static_cast<double>(s.max() - values.back()) / static_cast<double>(values.back()),
                tolerance);
      EXPECT_EQ(s.min(), s.lowest_equivalent_value(values.front()));
      EXPECT_EQ(s.total_count(), static_cast<std::int64_t>(values.size()));
    }
  }
}

TEST(HistogramTest, NegativeValuesAreRecordedAsZero) {
  Histogram h;
  h.record(-5);
  h.record_n(std::numeric_limits<std::int64_t>::min(), 2);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.total_count(), 3);
  EXPECT_EQ(s.saturated_count(), 0);
  EXPECT_EQ(s.min(), 0);
  EXPECT_EQ(s.max(), 0);
}

TEST(HistogramTest, ValuesAboveHighestTrackableAreClampedAndCountedAsSaturated) {
  Histogram h({.highest_trackable_value = 100'000});
  h.record(50);
  h.record(100'001);
  h.record_n(std::numeric_limits<std::int64_t>::max(), 3);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.total_count(), 5);
  EXPECT_EQ(s.saturated_count(), 4);
  EXPECT_EQ(s.max(), s.highest_equivalent_value(100'000));
  EXPECT_EQ(s.value_at_percentile(100.0), s.highest_equivalent_value(100'000));
  EXPECT_EQ(s.value_at_percentile(20.0), 50);
}

TEST(HistogramTest, RecordingExactlyHighestTrackableDoesNotSaturate) {
  Histogram h({.highest_trackable_value = 100'000});
  h.record(100'000);
  EXPECT_EQ(h.snapshot().saturated_count(), 0);
}

TEST(HistogramTest, TheFullInt64RangeCanBeTracked) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  Histogram h({.highest_trackable_value = kMax});
  h.record(kMax);
  h.record(1);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.saturated_count(), 0);
  EXPECT_EQ(s.max(), kMax);
  EXPECT_EQ(s.min(), 1);
}

TEST(HistogramTest, RecordNWithCountZeroRecordsNothing) {
  Histogram h;
  h.record_n(123, 0);
  EXPECT_EQ(h.snapshot(), HistogramSnapshot());
}

TEST(HistogramTest, PercentileArgumentsOutsideZeroToHundredAreClamped) {
  Histogram h;
  for (std::int64_t v = 1; v <= 100; ++v) h.record(v);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.value_at_percentile(-3.0), 1);
  EXPECT_EQ(s.value_at_percentile(std::nan("")), 1);
  EXPECT_EQ(s.value_at_percentile(250.0), 100);
}

TEST(HistogramTest, ResetZeroesEveryCounter) {
  Histogram h({.highest_trackable_value = 1000});
  h.record(5);
  h.record(5000);
  h.reset();
  EXPECT_EQ(h.snapshot(), HistogramSnapshot(h.config()));
  h.record(7);
  EXPECT_EQ(h.snapshot().total_count(), 1);
}

TEST(HistogramTest, MergingTwoSnapshotsEqualsRecordingEverythingIntoOne) {
  const HistogramConfig config{.highest_trackable_value = 1'000'000};
  const std::vector<std::int64_t> values = log_uniform_values(99, 5000, 2'000'000);
  Histogram first(config), second(config), all(config);
  for (std::size_t i = 0; i < values.size(); ++i) {
    (i % 3 == 0 ? first : second).record(values[i]);
    all.record(values[i]);
  }
  HistogramSnapshot merged = first.snapshot();
  merged.merge(second.snapshot());
  const HistogramSnapshot expected = all.snapshot();
  EXPECT_GT(expected.saturated_count(), 0);
  EXPECT_EQ(merged, expected);
  EXPECT_EQ(merged.total_count(), expected.total_count());
  EXPECT_EQ(merged.saturated_count(), expected.saturated_count());
  EXPECT_EQ(merged.to_json(), expected.to_json());
  EXPECT_EQ(hgrm_of(merged), hgrm_of(expected));
}

TEST(HistogramTest, MergingSnapshotsWithDifferentConfigsThrows) {
  HistogramSnapshot three_digits({.significant_digits = 3});
  const HistogramSnapshot two_digits({.significant_digits = 2});
  EXPECT_THROW(three_digits.merge(two_digits), std::invalid_argument);
}

TEST(HistogramTest, SubtractingAnEarlierSnapshotLeavesWhatWasRecordedSince) {
  const HistogramConfig config{.highest_trackable_value = 1'000'000};
  const std::vector<std::int64_t> values = log_uniform_values(7, 4000, 2'000'000);
  Histogram h(config), later_only(config);
  for (std::size_t i = 0; i < values.size() / 2; ++i) h.record(values[i]);
  const HistogramSnapshot earlier = h.snapshot();
  for (std::size_t i = values.size() / 2; i < values.size(); ++i) {
    h.record(values[i]);
    later_only.record(values[i]);
  }
  HistogramSnapshot since = h.snapshot();
  since.subtract(earlier);
  const HistogramSnapshot expected = later_only.snapshot();
  EXPECT_EQ(since, expected);
  EXPECT_EQ(since.total_count(), expected.total_count());
  EXPECT_EQ(since.saturated_count(), expected.saturated_count());
  EXPECT_EQ(hgrm_of(since), hgrm_of(expected));
}

TEST(HistogramTest, SubtractingALaterOrForeignSnapshotThrowsAndChangesNothing) {
  const HistogramConfig config{.highest_trackable_value = 1'000'000};
  Histogram h(config);
  h.record(10);
  const HistogramSnapshot earlier = h.snapshot();
  h.record(20);
  HistogramSnapshot s = earlier;
  EXPECT_THROW(s.subtract(h.snapshot()), std::invalid_argument);  // later, not earlier
  EXPECT_EQ(s, earlier);
  HistogramSnapshot three_digits({.significant_digits = 3});
  EXPECT_THROW(three_digits.subtract(HistogramSnapshot({.significant_digits = 2})),
               std::invalid_argument);
}

TEST(HistogramTest, AnEmptyHistogramReportsZerosAndAValidHgrm) {
  const HistogramSnapshot s = Histogram().snapshot();
  EXPECT_EQ(s.total_count(), 0);
  EXPECT_EQ(s.saturated_count(), 0);
  EXPECT_EQ(s.min(), 0);
  EXPECT_EQ(s.max(), 0);
  EXPECT_EQ(s.mean(), 0.0);
  EXPECT_EQ(s.stddev(), 0.0);
  EXPECT_EQ(s.value_at_percentile(50.0), 0);
  EXPECT_EQ(s.value_at_percentile(100.0), 0);
  EXPECT_EQ(hgrm_of(s),
            "       Value     Percentile TotalCount 1/(1-Percentile)\n"
            "\n"
            "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
            "#[Max     =        0.000, Total count    =            0]\n"
            "#[Buckets =           32, SubBuckets     =         2048]\n");
  const ParsedHgrm parsed = parse_hgrm(hgrm_of(s));
  EXPECT_TRUE(parsed.rows.empty());
  EXPECT_EQ(parsed.total, 0);
}

// Worked by hand from HdrHistogram's percentile iterator: levels step by 10% up to 50%,
// then by 5%, 2.5%, 1.25% as each half of the remaining distance is crossed; the last
// value is reported once at the current level and once at 100%.
TEST(HistogramTest, HgrmOfOneToTenMatchesHdrHistogramByteForByte) {
  Histogram h;
  for (std::int64_t v = 1; v <= 10; ++v) h.record(v);
  EXPECT_EQ(hgrm_of(h.snapshot(), 1.0),
            "       Value     Percentile TotalCount 1/(1-Percentile)\n"
            "\n"
            "       1.000 0.000000000000          1           1.00\n"
            "       1.000 0.100000000000          1           1.11\n"
            "       2.000 0.200000000000          2           1.25\n"
            "       3.000 0.300000000000          3           1.43\n"
            "       4.000 0.400000000000          4           1.67\n"
            "       5.000 0.500000000000          5           2.00\n"
            "       6.000 0.550000000000          6           2.22\n"
            "       6.000 0.600000000000          6           2.50\n"
            "       7.000 0.650000000000          7           2.86\n"
            "       7.000 0.700000000000          7           3.33\n"
            "       8.000 0.750000000000          8           4.00\n"
            "       8.000 0.775000000000          8           4.44\n"
            "       8.000 0.800000000000          8           5.00\n"
            "       9.000 0.825000000000          9           5.71\n"
            "       9.000 0.850000000000          9           6.67\n"
            "       9.000 0.875000000000          9           8.00\n"
            "       9.000 0.887500000000          9           8.89\n"
            "       9.000 0.900000000000          9          10.00\n"
            "      10.000 0.912500000000         10          11.43\n"
            "      10.000 1.000000000000         10\n"
            "#[Mean    =        5.500, StdDeviation   =        2.872]\n"
            "#[Max     =       10.000, Total count    =           10]\n"
            "#[Buckets =           32, SubBuckets     =         2048]\n");
}

TEST(HistogramTest, HgrmOutputParsesBackIntoAMonotoneDistribution) {
  const std::vector<std::int64_t> values = log_uniform_values(5, 100'000, 5'000'000'000);
  Histogram h;
  for (std::int64_t v : values) h.record(v);
  const HistogramSnapshot s = h.snapshot();
  const ParsedHgrm parsed = parse_hgrm(hgrm_of(s));
  ASSERT_GT(parsed.rows.size(), 50u);
  EXPECT_EQ(parsed.rows.front().percentile, 0.0);
  EXPECT_NEAR(parsed.rows.front().value, s.min() / 1000.0, 0.0005);
  for (std::size_t i = 1; i < parsed.rows.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_GE(parsed.rows[i].value, parsed.rows[i - 1].value);
    EXPECT_GT(parsed.rows[i].percentile, parsed.rows[i - 1].percentile);
    EXPECT_GE(parsed.rows[i].count, parsed.rows[i - 1].count);
  }
  EXPECT_TRUE(parsed.last_row_has_three_columns);
  EXPECT_EQ(parsed.rows.back().percentile, 1.0);
  EXPECT_EQ(parsed.rows.back().count, s.total_count());
  EXPECT_NEAR(parsed.rows.back().value, s.max() / 1000.0, 0.0005);
  EXPECT_EQ(parsed.total, s.total_count());
  EXPECT_NEAR(parsed.max, s.max() / 1000.0, 0.0005);
  EXPECT_NEAR(parsed.mean, s.mean() / 1000.0, 0.0005);
  EXPECT_NEAR(parsed.stddev, s.stddev() / 1000.0, 0.0005);
  EXPECT_EQ(parsed.buckets, 32);
  EXPECT_EQ(parsed.sub_buckets, 2048);
}

TEST(HistogramTest, HgrmRejectsNonPositiveScalingAndTicks) {
  const HistogramSnapshot s;
  std::ostringstream out;
  EXPECT_THROW(s.write_hgrm(out, 0.0), std::invalid_argument);
  EXPECT_THROW(s.write_hgrm(out, 1000.0, 0), std::invalid_argument);
}

TEST(HistogramTest, JsonContainsEveryFieldWithRawValues) {
  Histogram h({.highest_trackable_value = 100'000});
  for (std::int64_t v = 1; v <= 1000; ++v) h.record(v);
  h.record(200'000);
  const std::string json = h.snapshot().to_json();
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  for (const char* field : {"\"count\":1001,", "\"saturated\":1,", "\"min\":1,",
                            "\"mean\":", "\"p50\":501,", "\"p90\":901,", "\"p99\":991,",
                            "\"p999\":1000,", "\"p9999\":", "\"max\":100031,", "\"unit\":\"ns\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " missing from " << json;
  }
}

TEST(HistogramTest, JsonNamesTheUnitItIsGiven) {
  HistogramSnapshot s;
  s.record_n(4, 2);
  EXPECT_NE(s.to_json("slots").find("\"unit\":\"slots\"}"), std::string::npos);
}

// One writer, one reader taking snapshots as fast as it can. Each counter only grows and
// a reader's successive loads of a counter never go backwards, so totals of successive
// snapshots must be non-decreasing and can never exceed what was written. Run under TSan.
TEST(HistogramConcurrencyTest, SnapshotsDuringRecordingSeeMonotonicTotalsNeverAboveWritten) {
  constexpr std::int64_t kWrites = 200'000;
  Histogram h({.highest_trackable_value = 1'000'000});
  std::atomic<bool> reader_started{false};
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    while (!reader_started.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::int64_t i = 0; i < kWrites; ++i) h.record((i * 7919) % 1'100'000);
    writer_done.store(true, std::memory_order_release);
  });
  std::int64_t previous = 0;
  std::int64_t snapshots = 0;
  bool monotonic = true;
  bool bounded = true;
  for (bool done = false; !done;) {
    done = writer_done.load(std::memory_order_acquire);
    const HistogramSnapshot s = h.snapshot();
    reader_started.store(true, std::memory_order_release);
    monotonic = monotonic && s.total_count() >= previous;
    bounded = bounded && s.total_count() <= kWrites && s.saturated_count() <= kWrites;
    previous = s.total_count();
    ++snapshots;
  }
  writer.join();
  EXPECT_TRUE(monotonic);
  EXPECT_TRUE(bounded);
  EXPECT_GE(snapshots, 2);
  EXPECT_EQ(previous, kWrites);  // The last snapshot began after the writer finished.
  EXPECT_EQ(h.snapshot().total_count(), kWrites);
}

}  // namespace
}  // namespace lockstep
