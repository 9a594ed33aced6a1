// The execute stage's throughput on the matching domain alone, against a hand-written
// order book with the same rules, in the same binary (issue 7: >= 5,000,000 orders/s
// single-threaded, and the engine <= 1.3x the hand-written book).
//
//   BM_HandBook/instruments:N  the baseline (bench/hand_book.h): per instrument and side a
//                              std::map from price level to a FIFO of resting orders
//                              (intrusive list over a node pool), an absl::flat_hash_map
//                              from order id to node; the same checks in the same order,
//                              the same matching, self-trade prevention, fill-or-kill sum,
//                              post-only check and replace, and the same events appended
//                              (as the schema's structs) to a vector cleared per batch. No
//                              staging, no result, no hash.
//   BM_Engine/instruments:N    Executor<matching::Domain> runs the handlers
//                              (domains/matching/matching_domain.cc): primary-key lookups,
//                              Limit scans of the by_book index (an absl::btree_map, batches
//                              of 4 doubling to 64), staging (undo log), the by_book index
//                              sync, the TxResult (command, after-images or erased keys,
//                              events) serialized into a buffer reused per batch, and the
//                              incremental state hash (appended at each batch's end).
//
// The stream: 2,000,000 commands of matching::OrderFlow (domains/matching/order_flow.h)
// with its default options: 1,000 accounts; 30% cancels and 5% replaces of remembered
// orders, the rest new orders (limit 60, market 5, ioc 10, fok 5, post-only 20 parts),
// priced around a mid that walks a tick every 64 orders, quantities 1..100, at most
// 10,000 remembered orders. On 1 instrument, and on 16. It is generated once, before any
// timing, and run once through a HandBook (untimed) for the expected outcomes and events
// and the trades counter; tests/matching_hand_book_test.cc checks that the engine and
// HandBook give the same outcomes, events and books on such flows, and each run here
// checks its count of accepted commands and of events against that pass.
//
// One thread, single writer, as in the engine. The instruments are added untimed; every
// iteration is one command of the stream, with a batch end every 64 commands. The
// iteration count is the stream's length (each repetition starts from empty books), so
// the stream never runs out. The tables are sized for the most resting orders (a flow
// keeps at most 10,001), preallocated, so nothing grows while timed except the engine's
// by_book B-tree and the hand book's std::map of levels, which allocate
// nodes as such trees do; the hand book's event vector is reserved for the largest batch.
//
// Counters: items_per_second is commands (orders, cancels and replaces) per second;
// trades_per_command and events_per_command describe the stream.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "engine/executor.h"
#include "engine/tx_result.h"
#include "hand_book.h"
#include "matching_domain.h"
#include "order_flow.h"

namespace {

using matching_bench::HandBook;
using matching_bench::HandEvents;

constexpr std::size_t kBatch = 64;
constexpr std::int64_t kCommands = 2'000'000;   // iterations per run, and the stream's length
constexpr std::uint32_t kOrdersMax = 1u << 15;  // resting orders (a flow keeps <= 10,001)

// A pre-generated stream and what the hand book made of it.
struct Stream {
  std::vector<matching::AddInstrument> instruments;
  std::vector<matching::FlowCommand> commands;
  std::uint64_t accepted = 0;
  std::uint64_t events = 0;
  std::uint64_t trades = 0;
  std::size_t batch_events_max = 0;  // the most events of one batch
};

const Stream& stream(std::uint32_t instruments) {
  static std::map<std::uint32_t, std::unique_ptr<Stream>> cache;
  std::unique_ptr<Stream>& s = cache[instruments];
  if (s != nullptr) return *s;
  s = std::make_unique<Stream>();
  matching::FlowOptions o;
  o.instruments = instruments;
  matching::OrderFlow flow(o);
  s->instruments = flow.instruments();
  s->commands.reserve(kCommands);
  for (std::int64_t i = 0; i < kCommands; ++i) s->commands.push_back(flow.next());
  HandBook book(kOrdersMax);
  for (const matching::AddInstrument& a : s->instruments) (void)book.add_instrument(a);
  HandEvents events;
  for (std::size_t i = 0; i < s->commands.size(); ++i) {
    s->accepted += book.execute(s->commands[i], &events) == matching_bench::kAccepted ? 1 : 0;
    if ((i + 1) % kBatch == 0 || i + 1 == s->commands.size()) {
      for (const auto& e : events) s->trades += std::holds_alternative<matching::Trade>(e) ? 1 : 0;
      s->events += events.size();
      s->batch_events_max = std::max(s->batch_events_max, events.size());
      events.clear();
    }
  }
  return *s;
}

void report(benchmark::State& state, const Stream& s, std::uint64_t accepted,
            std::uint64_t events) {
  if (accepted != s.accepted || events != s.events) {
    state.SkipWithError("accepted commands or events differ from the hand book's");
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["trades_per_command"] = static_cast<double>(s.trades) / kCommands;
  state.counters["events_per_command"] = static_cast<double>(s.events) / kCommands;
}

// ---- The baseline.
void BM_HandBook(benchmark::State& state) {
  const Stream& s = stream(static_cast<std::uint32_t>(state.range(0)));
  HandBook book(kOrdersMax);
  for (const matching::AddInstrument& a : s.instruments) (void)book.add_instrument(a);
  HandEvents events;
  events.reserve(s.batch_events_max);
  std::size_t n = 0;
  std::uint64_t accepted = 0;
  std::uint64_t total_events = 0;
  for (auto _ : state) {
    accepted += book.execute(s.commands[n], &events) == matching_bench::kAccepted ? 1 : 0;
    if (++n % kBatch == 0) {
      total_events += events.size();
      events.clear();
    }
  }
  total_events += events.size();
  benchmark::DoNotOptimize(events.data());
  report(state, s, accepted, total_events);
}

// ---- The engine.
void BM_Engine(benchmark::State& state) {
  const Stream& s = stream(static_cast<std::uint32_t>(state.range(0)));
  lockstep::EngineOptions options;
  options.table_capacity = {static_cast<std::uint32_t>(s.instruments.size()), kOrdersMax,
                            kOrdersMax};
  options.preallocate = true;
  auto exec = std::make_unique<lockstep::Executor<matching::Domain>>(matching::handlers(), options);
  std::vector<std::byte> out(options.result_bytes_max * (kBatch + 1) + options.chain_bytes_max);
  std::uint64_t seq = 0;
  std::size_t at = 0;
  // Runs one command; returns its outcome code and event count, read from its TxResult.
  const auto run = [&](std::uint16_t kind, const void* payload, std::size_t bytes, bool batch_end) {
    lockstep::CommandView v;
    v.kind = kind;
    v.client_id = 1;
    v.request_id = seq;
    v.sequence = seq++;
    v.logical_time_ns = static_cast<std::int64_t>(v.sequence);
    v.payload = {static_cast<const std::byte*>(payload), bytes};
    const lockstep::ExecuteResult r = exec->execute(v, batch_end, std::span(out).subspan(at));
    const lockstep::TxResultHeader h = lockstep::read_tx_result_header(out.data() + at);
    at = batch_end ? 0 : at + r.bytes;
    return std::pair{h.outcome_code, h.event_count};
  };
  for (std::size_t i = 0; i < s.instruments.size(); ++i) {
    const matching::AddInstrument& a = s.instruments[i];
    if (run(a.kKind, &a, sizeof a, i + 1 == s.instruments.size()).first != 0) {
      state.SkipWithError("an instrument was refused");
      return;
    }
  }
  std::size_t n = 0;
  std::uint64_t accepted = 0;
  std::uint64_t total_events = 0;
  for (auto _ : state) {
    const matching::FlowCommand& c = s.commands[n];
    const auto [code, events] = run(c.kind, c.data(), c.size(), ++n % kBatch == 0);
    accepted += code == 0 ? 1 : 0;
    total_events += events;
  }
  report(state, s, accepted, total_events);
}

}  // namespace

#define LOCKSTEP_MATCHING_BENCH(fn) \
  BENCHMARK(fn)->ArgName("instruments")->Arg(1)->Arg(16)->Iterations(kCommands)->UseRealTime()
LOCKSTEP_MATCHING_BENCH(BM_HandBook);
LOCKSTEP_MATCHING_BENCH(BM_Engine);

BENCHMARK_MAIN();
