// lockstep-pipeline-demo: N commands from several producer threads through ingress and
// a five-stage pipeline, then a per-stage latency table.
//
//   producers ─► ingress ─► ingest ─► sequence ─► execute ─► checksum ─► publish
//
// This is the pipeline core on its own, until the engine exists: `sequence` numbers
// commands gaplessly, `execute` applies them to an in-memory balance table, `checksum`
// folds each batch into a running digest (where the journal will serialize), and
// `publish` checks that every producer's commands arrive complete and in order.
// Nothing is written to disk.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pipeline/blocking_wait.h"
#include "pipeline/busy_spin_wait.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/ingest_stage.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage_runner.h"
#include "pipeline/yielding_wait.h"

namespace {

using lockstep::BatchView;
using lockstep::Sequence;

struct Command {
  std::uint32_t producer = 0;
  std::uint32_t account = 0;
  std::int64_t amount = 0;
  std::uint64_t request = 0;   // per producer, 0, 1, 2, ...
  std::uint64_t sequence = 0;  // assigned by the sequence stage
};

constexpr std::size_t kBatchCommands = 64;
using Slot = lockstep::Batch<Command, kBatchCommands>;

struct Options {
  std::int64_t commands = 2'000'000;
  int producers = 2;
  std::int64_t ring = 1024;
  std::size_t ingress = 1 << 16;
  std::string wait = "hybrid";
  std::string layout;  // empty: ThreadLayout::default_for
  std::string hgrm_dir;
  bool json = false;
};

[[noreturn]] void usage(const std::string& error) {
  std::FILE* out = error.empty() ? stdout : stderr;
  if (!error.empty()) std::fprintf(out, "lockstep-pipeline-demo: %s\n", error.c_str());
  std::fprintf(out,
               "usage: lockstep-pipeline-demo [--commands N] [--producers P] [--ring SLOTS]\n"
               "         [--ingress N] [--wait hybrid|block|yield|spin] [--layout TEXT]\n"
               "         [--hgrm DIR] [--json]\n"
               "  --layout: threads separated by '|', stages by ',', optional @cpu, e.g.\n"
               "            'ingest,sequence,execute|checksum,publish@1'\n");
  std::exit(error.empty() ? 0 : 2);
}

std::int64_t parse_int(std::string_view flag, std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value <= 0) {
    usage(std::string(flag) + " needs a positive integer, got '" + std::string(text) + "'");
  }
  return value;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("");
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value after " + std::string(flag));
    const std::string_view value = argv[++i];
    if (flag == "--commands") {
      o.commands = parse_int(flag, value);
    } else if (flag == "--producers") {
      o.producers = static_cast<int>(std::min<std::int64_t>(parse_int(flag, value), 64));
    } else if (flag == "--ring") {
      o.ring = parse_int(flag, value);
    } else if (flag == "--ingress") {
      o.ingress = static_cast<std::size_t>(parse_int(flag, value));
    } else if (flag == "--wait") {
      o.wait = value;
    } else if (flag == "--layout") {
      o.layout = value;
    } else if (flag == "--hgrm") {
      o.hgrm_dir = value;
    } else {
      usage("unknown option " + std::string(flag));
    }
  }
  return o;
}

struct SequenceStage {
  std::uint64_t next = 0;
  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) slot.items[i].sequence = next++;
    }
  }
};

struct ExecuteStage {
  std::vector<std::int64_t> balances = std::vector<std::int64_t>(1 << 16);
  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        const Command& c = slot.items[i];
        balances[c.account % balances.size()] += c.amount;
      }
    }
  }
};

struct ChecksumStage {
  std::uint64_t digest = 1469598103934665603ull;
  void on_batch(BatchView<Slot> batch) {
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        const Command& c = slot.items[i];
        digest = (digest ^ c.sequence ^ (c.request << 20) ^ c.producer) * 1099511628211ull;
      }
    }
  }
};

struct PublishStage {
  std::vector<std::uint64_t> expected_request;
  std::atomic<std::int64_t>* published = nullptr;
  std::int64_t out_of_order = 0;
  void on_batch(BatchView<Slot> batch) {
    std::int64_t n = 0;
    for (Slot& slot : batch) {
      for (std::uint32_t i = 0; i < slot.count; ++i) {
        const Command& c = slot.items[i];
        if (c.request != expected_request[c.producer]++) ++out_of_order;
      }
      n += slot.count;
    }
    // Seq_cst: the main thread parks on this counter (parker.h protocol); the stage's
    // sequence publish that follows wakes it.
    published->fetch_add(n, std::memory_order_seq_cst);
  }
};

void print_table(const Options& o, const std::vector<std::unique_ptr<lockstep::Stage>>& stages,
                 double seconds, std::string_view layout, std::string_view wait) {
  const double rate = static_cast<double>(o.commands) / seconds;
  if (o.json) {
    std::printf(
        "{\"commands\":%lld,\"seconds\":%.6f,\"commands_per_s\":%.0f,\"wait\":\"%s\","
        "\"layout\":\"%s\",\"durable\":false,\"stages\":[",
        static_cast<long long>(o.commands), seconds, rate, std::string(wait).c_str(),
        std::string(layout).c_str());
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const auto& m = stages[i]->metrics();
      std::printf("%s{\"name\":\"%s\",\"batch_slots\":%s,\"command_latency_ns\":%s}", i ? "," : "",
                  stages[i]->name().c_str(), m.batch_slots.snapshot().to_json("slots").c_str(),
                  m.command_latency_ns.snapshot().to_json().c_str());
    }
    std::printf("]}\n");
    return;
  }
  std::printf("lockstep pipeline demo: %lld commands, %d producers, %.3f s, %.0f commands/s\n",
              static_cast<long long>(o.commands), o.producers, seconds, rate);
  std::printf("wait strategy %s, layout %s, ring %lld slots x %zu commands, no durability\n\n",
              std::string(wait).c_str(), std::string(layout).c_str(),
              static_cast<long long>(o.ring), kBatchCommands);
  std::printf("%-9s %9s %10s %9s   %-44s\n", "stage", "batches", "slots/bat", "max slots",
              "ingest -> stage done, per command (us)");
  std::printf("%-9s %9s %10s %9s   %8s %8s %8s %8s %8s\n", "", "", "mean", "", "p50", "p90", "p99",
              "p99.9", "max");
  for (const auto& stage : stages) {
    const auto batches = stage->metrics().batch_slots.snapshot();
    const auto latency = stage->metrics().command_latency_ns.snapshot();
    std::printf("%-9s %9lld %10.2f %9lld   ", stage->name().c_str(),
                static_cast<long long>(batches.total_count()), batches.mean(),
                static_cast<long long>(batches.max()));
    if (latency.total_count() == 0) {
      std::printf("%8s\n", "(source)");
      continue;
    }
    for (const double p : {50.0, 90.0, 99.0, 99.9}) {
      std::printf("%8.1f ", static_cast<double>(latency.value_at_percentile(p)) / 1000.0);
    }
    std::printf("%8.1f\n", static_cast<double>(latency.max()) / 1000.0);
  }
}

void write_hgrm(const std::string& dir,
                const std::vector<std::unique_ptr<lockstep::Stage>>& stages) {
  std::filesystem::create_directories(dir);
  for (const auto& stage : stages) {
    const auto latency = stage->metrics().command_latency_ns.snapshot();
    if (latency.total_count() == 0) continue;
    std::ofstream out(std::filesystem::path(dir) / (stage->name() + ".hgrm"));
    latency.write_hgrm(out, 1000.0);
    if (!out) throw std::runtime_error("cannot write " + dir + "/" + stage->name() + ".hgrm");
  }
}

template <lockstep::WaitStrategy W>
int run(const Options& o, W& wait) {
  using Sequencer = lockstep::SingleProducerSequencer<W>;
  lockstep::RingBuffer<Slot> ring(o.ring);
  Sequencer sequencer(o.ring, wait);
  lockstep::Ingress<Command, W> ingress(o.ingress, static_cast<std::size_t>(o.producers), wait);
  std::atomic<std::int64_t> published{0};

  lockstep::Pipeline<W> pipeline(wait);
  auto& ingest = pipeline.add(std::make_unique<lockstep::IngestStage<Command, kBatchCommands, W>>(
      "ingest", ingress, ring, sequencer));
  const Sequence* upstream = &ingest.sequence();
  auto add = [&](const char* name, auto handler) -> lockstep::Stage& {
    using Runner = lockstep::StageRunner<Sequencer, Slot, decltype(handler)>;
    auto& stage = pipeline.add(std::make_unique<Runner>(
        name, ring, sequencer, std::span<const Sequence* const>(&upstream, 1), std::move(handler)));
    upstream = &stage.sequence();
    return stage;
  };
  // The first runner follows the sequencer directly; later ones follow their upstream.
  {
    using Runner = lockstep::StageRunner<Sequencer, Slot, SequenceStage>;
    auto& stage = pipeline.add(std::make_unique<Runner>(
        "sequence", ring, sequencer, std::span<const Sequence* const>{}, SequenceStage{}));
    upstream = &stage.sequence();
  }
  add("execute", ExecuteStage{});
  add("checksum", ChecksumStage{});
  auto& publish = add(
      "publish",
      PublishStage{std::vector<std::uint64_t>(static_cast<std::size_t>(o.producers)), &published});
  sequencer.add_gating_sequence(publish.sequence());

  const std::vector<std::string> names = pipeline.stage_names();
  const lockstep::ThreadLayout layout = o.layout.empty()
                                            ? lockstep::ThreadLayout::default_for(names)
                                            : lockstep::ThreadLayout::parse(o.layout);
  pipeline.start(layout);

  const auto start = lockstep::SteadyClock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < o.producers; ++p) {
    producers.emplace_back([&, p] {
      auto token = ingress.make_producer();
      const std::int64_t mine = o.commands / o.producers + (p < o.commands % o.producers);
      Command burst[32];
      for (std::int64_t sent = 0; sent < mine;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(32, mine - sent));
        for (std::size_t i = 0; i < n; ++i) {
          const auto request = static_cast<std::uint64_t>(sent) + i;
          burst[i] = Command{static_cast<std::uint32_t>(p),
                             static_cast<std::uint32_t>(request * 2654435761u), 1, request, 0};
        }
        if (ingress.submit_bulk(token, burst, n, lockstep::kNoDeadline) !=
            lockstep::SubmitStatus::kOk) {
          std::fprintf(stderr, "lockstep-pipeline-demo: submit failed\n");
          std::abort();
        }
        sent += static_cast<std::int64_t>(n);
      }
    });
  }
  for (std::thread& t : producers) t.join();
  (void)wait.wait_until([&] { return published.load(std::memory_order_seq_cst) == o.commands; },
                        lockstep::kNoDeadline);
  const double seconds =
      std::chrono::duration<double>(lockstep::SteadyClock::now() - start).count();
  pipeline.stop();

  const auto& publisher =
      static_cast<lockstep::StageRunner<Sequencer, Slot, PublishStage>&>(pipeline.stage("publish"))
          .handler();
  print_table(o, pipeline.stages(), seconds, layout.to_string(), W::kName);
  if (!o.hgrm_dir.empty()) write_hgrm(o.hgrm_dir, pipeline.stages());
  if (publisher.out_of_order != 0) {
    std::fprintf(stderr, "lockstep-pipeline-demo: %lld commands arrived out of order\n",
                 static_cast<long long>(publisher.out_of_order));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.wait == "hybrid") {
      lockstep::HybridWait wait;
      return run(o, wait);
    }
    if (o.wait == "block") {
      lockstep::BlockingWait wait;
      return run(o, wait);
    }
    if (o.wait == "yield") {
      lockstep::YieldingWait wait;
      return run(o, wait);
    }
    if (o.wait == "spin") {
      lockstep::BusySpinWait wait;
      return run(o, wait);
    }
    usage("unknown wait strategy '" + o.wait + "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lockstep-pipeline-demo: %s\n", e.what());
    return 1;
  }
}
