// Journal write throughput and sync latency, against the raw limit of the same disk.
//
//   BM_RawWriteSync/direct:D/group:G     the baseline: one file, preallocated; write G bytes
//                                        (aligned, sequential), fdatasync, repeat. No
//                                        framing, no checksums, no hashing.
//   BM_Journal/<backend>/direct:D/group:G/in_flight:N
//                                        JournalWriter: one frame of G bytes per group
//                                        commit (one entry filling the frame), sealed
//                                        (XXH3 + SHA-256 chain) and written with its
//                                        fdatasync; N group commits in flight.
//   BM_Journal/uring_xxh3/...            the same with the XXH3-128 chain option: the cost
//                                        of the SHA-256 chain, by difference.
//   BM_Journal/uring_unregistered/...    io_uring without registered (fixed) buffers: what
//                                        registering the frame buffers gains.
//   BM_JournalTiny/<backend>/in_flight:N one 128-byte entry per frame: frames/s against
//                                        the raw write+fdatasync rate of 4 KiB groups.
//
// Every iteration is one group; bytes/s, frames/s (items/s) and the per-group latency
// (write + fdatasync, from begin to durable, in_flight:1 only) are reported. Files go in
// $LOCKSTEP_BENCH_DIR (default /tmp) and are removed after each benchmark. The durability
// mode is fsync throughout: every number here is durable.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/endian.h"
#include "journal/journal_writer.h"
#include "journal/posix_backend.h"
#include "journal/uring_backend.h"
#include "pipeline/histogram.h"

namespace {

using lockstep::journal::IoBackend;
using lockstep::journal::IoStatus;
using lockstep::journal::JournalOptions;
using lockstep::journal::JournalWriter;

constexpr std::uint64_t kSegmentBytes = std::uint64_t{256} << 20;
constexpr std::size_t kTinyEntryBytes = 128;
// The on-disk size of a frame holding one tiny entry.
constexpr std::size_t kTinyFrameBytes =
    (lockstep::journal::kFrameHeaderBytes + lockstep::journal::kEntryLengthBytes + kTinyEntryBytes +
     lockstep::journal::kChainHashBytes + lockstep::journal::kFrameAlignBuffered - 1) /
    lockstep::journal::kFrameAlignBuffered * lockstep::journal::kFrameAlignBuffered;

std::string bench_root() {
  const char* dir = std::getenv("LOCKSTEP_BENCH_DIR");
  return dir != nullptr ? dir : "/tmp";
}

// A fresh directory for one benchmark, removed when it ends.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string templ = bench_root() + "/lockstep-bench-XXXXXX";
    path = ::mkdtemp(templ.data()) != nullptr ? templ : "";
  }
  ~ScratchDir() {
    if (!path.empty()) std::filesystem::remove_all(path);
  }
};

void report_latency(benchmark::State& state, const lockstep::Histogram& latency_ns) {
  const lockstep::HistogramSnapshot s = latency_ns.snapshot();
  if (s.total_count() == 0) return;
  state.counters["sync_p50_us"] = static_cast<double>(s.value_at_percentile(50)) / 1e3;
  state.counters["sync_p99_us"] = static_cast<double>(s.value_at_percentile(99)) / 1e3;
  state.counters["sync_p999_us"] = static_cast<double>(s.value_at_percentile(99.9)) / 1e3;
}

// The raw limit: sequential aligned pwrite + fdatasync of `group` bytes at a time, no
// framing. With `fresh`, every byte goes to newly preallocated space, a new file of
// kSegmentBytes when one is full: what the journal does, where each fdatasync also
// records the unwritten extents it turned into written ones. Without it, the writes wrap
// around one preallocated file and, after the first lap, overwrite blocks already
// written: the faster case of a log that recycles pre-written segments.
void BM_RawWriteSync(benchmark::State& state) {
  const bool direct = state.range(0) != 0;
  const auto group = static_cast<std::size_t>(state.range(1));
  const bool fresh = state.range(2) != 0;
  ScratchDir dir;
  const std::size_t alignment = 4096;
  const std::size_t buffer_bytes = (group + alignment - 1) / alignment * alignment;
  auto* buffer =
      static_cast<std::byte*>(::operator new[](buffer_bytes, std::align_val_t{alignment}));
  std::memset(buffer, 0x5A, buffer_bytes);
  int fd = -1;
  int files = 0;
  const auto next_file = [&] {
    if (fd >= 0) ::close(fd);
    if (files > 0) std::filesystem::remove(dir.path + "/raw" + std::to_string(files - 1));
    const std::string file = dir.path + "/raw" + std::to_string(files++);
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
    return fd >= 0 && ::fallocate(fd, 0, 0, static_cast<off_t>(kSegmentBytes)) == 0 &&
           ::fsync(fd) == 0;
  };
  if (!next_file()) {
    state.SkipWithError("cannot create the raw file");
    ::operator delete[](buffer, std::align_val_t{alignment});
    return;
  }
  lockstep::Histogram latency_ns;
  std::uint64_t offset = 0;
  for (auto _ : state) {
    if (offset + group > kSegmentBytes) {
      offset = 0;
      if (fresh && !next_file()) {
        state.SkipWithError("cannot create the next raw file");
        break;
      }
    }
    const std::int64_t start = lockstep::monotonic_now_ns();
    if (::pwrite(fd, buffer, group, static_cast<off_t>(offset)) != static_cast<ssize_t>(group) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("raw write or fdatasync failed");
      break;
    }
    latency_ns.record(lockstep::monotonic_now_ns() - start);
    offset += group;
  }
  ::operator delete[](buffer, std::align_val_t{alignment});
  if (fd >= 0) ::close(fd);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(group));
  state.SetItemsProcessed(state.iterations());
  report_latency(state, latency_ns);
}

std::unique_ptr<IoBackend> open_backend(bool uring, const std::string& path, std::size_t depth) {
  if (uring) {
    std::unique_ptr<lockstep::journal::UringBackend> io;
    if (!lockstep::journal::UringBackend::create(path, false, depth, &io)) return nullptr;
    return io;
  }
  std::unique_ptr<lockstep::journal::PosixBackend> io;
  if (!lockstep::journal::PosixBackend::open_directory(path, false, depth, &io)) return nullptr;
  return io;
}

// One group commit per iteration: a frame whose single entry fills `payload` bytes.
void run_journal(benchmark::State& state, bool uring, bool direct, std::size_t payload,
                 std::size_t frame_bytes_max, std::size_t in_flight,
                 lockstep::journal::ChainKind chain = lockstep::journal::ChainKind::kSha256,
                 bool register_buffers = true) {
  ScratchDir dir;
  std::unique_ptr<IoBackend> io = open_backend(uring, dir.path, in_flight);
  if (io == nullptr) {
    state.SkipWithError("backend refused");
    return;
  }
  JournalOptions options;
  options.segment_bytes = kSegmentBytes;
  options.frame_bytes_max = frame_bytes_max;
  options.writes_in_flight = in_flight;
  options.direct_io = direct;
  options.chain = chain;
  options.register_buffers = register_buffers;
  JournalWriter writer(*io, options, {});
  lockstep::Histogram latency_ns;
  const std::size_t entry = payload - lockstep::journal::kEntryLengthBytes;
  // The entry bytes are written once per frame buffer, as the raw baseline fills its
  // buffer once: producing the payload is the execute stage's work, not the journal's.
  std::vector<const std::byte*> filled;
  for (auto _ : state) {
    const std::int64_t start = lockstep::monotonic_now_ns();
    const std::span<std::byte> area = writer.begin_frame();
    if (area.empty()) break;
    if (std::find(filled.begin(), filled.end(), area.data()) == filled.end()) {
      lockstep::store_le<std::uint32_t>(area, 0, static_cast<std::uint32_t>(entry));
      std::memset(area.data() + lockstep::journal::kEntryLengthBytes, 0x5A, entry);
      filled.push_back(area.data());
    }
    if (!writer.commit(static_cast<std::uint32_t>(payload), 1)) break;
    if (in_flight == 1) {
      if (!writer.flush()) break;
      latency_ns.record(lockstep::monotonic_now_ns() - start);
    } else if (!writer.poll(false)) {
      break;
    }
  }
  if (!writer.flush().is_ok()) state.SkipWithError(writer.failure().message().c_str());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(io->name()) + (direct ? ", O_DIRECT, " : ", buffered, ") +
                 std::string(lockstep::journal::to_string(chain)) + " chain, " +
                 (writer.buffers_registered() ? "registered buffers, " : "") + "fsync durability");
  report_latency(state, latency_ns);
}

// Payload of a frame that fills exactly `group` bytes on disk.
std::size_t payload_for_group(std::size_t group) {
  return group - lockstep::journal::kFrameHeaderBytes - lockstep::journal::kChainHashBytes;
}

void BM_Journal(benchmark::State& state, bool uring, lockstep::journal::ChainKind chain,
                bool register_buffers = true) {
  const bool direct = state.range(0) != 0;
  const auto group = static_cast<std::size_t>(state.range(1));
  run_journal(state, uring, direct, payload_for_group(group), std::max<std::size_t>(group, 4096),
              static_cast<std::size_t>(state.range(2)), chain, register_buffers);
}

void BM_JournalTiny(benchmark::State& state, bool uring) {
  run_journal(state, uring, false, kTinyEntryBytes + lockstep::journal::kEntryLengthBytes, 4096,
              static_cast<std::size_t>(state.range(0)));
}

void groups(benchmark::internal::Benchmark* b, bool raw) {
  for (int direct : {0, 1}) {
    for (std::int64_t group = 4096; group <= (std::int64_t{4} << 20); group *= 4) {
      for (int third : {raw ? 0 : 1, raw ? 1 : 4}) b->Args({direct, group, third});
    }
  }
  // Size-matched to the tiny journal frame (buffered): one 128-byte entry, framed.
  if (raw) b->Args({0, static_cast<std::int64_t>(kTinyFrameBytes), 1});
}

}  // namespace

BENCHMARK(BM_RawWriteSync)
    ->ArgNames({"direct", "group", "fresh"})
    ->Apply([](benchmark::internal::Benchmark* b) { groups(b, true); })
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
// The same arguments for every journal configuration.
static void journal_groups(benchmark::internal::Benchmark* b) {
  b->ArgNames({"direct", "group", "in_flight"})
      ->Apply([](benchmark::internal::Benchmark* g) { groups(g, false); })
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

constexpr auto kSha256 = lockstep::journal::ChainKind::kSha256;
constexpr auto kXxh3 = lockstep::journal::ChainKind::kXxh3_128;
BENCHMARK_CAPTURE(BM_Journal, posix, false, kSha256)->Apply(journal_groups);
BENCHMARK_CAPTURE(BM_Journal, uring, true, kSha256)->Apply(journal_groups);
BENCHMARK_CAPTURE(BM_Journal, uring_xxh3, true, kXxh3)->Apply(journal_groups);
// The same as uring (SHA-256) without io_uring registered (fixed) buffers.
BENCHMARK_CAPTURE(BM_Journal, uring_unregistered, true, kSha256, false)->Apply(journal_groups);
BENCHMARK_CAPTURE(BM_JournalTiny, posix, false)
    ->ArgNames({"in_flight"})
    ->Arg(1)
    ->Arg(4)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_JournalTiny, uring, true)
    ->ArgNames({"in_flight"})
    ->Arg(1)
    ->Arg(4)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
