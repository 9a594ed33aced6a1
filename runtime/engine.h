// Engine<D>: the running engine. The embedding API (docs/embedding.md).
//
//   sessions ──► ingress ──► ingest ──► sequence ──► execute ──► journal ──► publish
//   (any thread)                                     (1 writer)  (group      (completions,
//                                                                 commit)     subscribers)
//
// Open (runtime/open.h): the journal directory is opened (created if missing) and
// recovered: the state is loaded from the newest snapshot that verifies (if any), then
// every TxResult after it is re-executed through the domain's handlers and compared byte
// for byte with what the journal holds, which rebuilds the state, the state hash and the
// client table, and proves the handlers still produce the same history. A torn tail is
// repaired; corruption, a divergent replay or another domain's journal refuse to open
// (EngineOpenError, with a message naming where and what).
//
// Running: any thread submits through a Session (runtime/session.h; one per client and
// thread). A
// submission is accepted into the bounded ingress, or refused at once: kBusy when it is
// full (or kTimedOut after waiting up to a deadline), kStopped, kFailed. Every accepted
// command gets exactly one completion, on the publish thread, in sequence order: only
// after its TxResult is durable (kCommitted, kRefused), or as kDuplicate, kInvalid, or
// kFailed if the journal failed first.
//
// Failed state: a journal I/O error is fatal. Nothing is acknowledged after it, every
// later submit returns kFailed, and failure() says what happened. Reopen to recover.
//
// Stop: refuses new submissions, drains what was accepted (every completion delivered),
// waits for the journal, and joins the threads. The destructor stops.
//
// Thread safety: construct, subscribe, start, stop and destroy from one owning thread;
// sessions, stats(), failed() from any thread while running; executor() only while
// stopped.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "engine/descriptor_check.h"
#include "engine/executor.h"
#include "engine/projection.h"
#include "engine/reexecutor.h"
#include "engine/tx_result.h"
#include "journal/io_backend.h"
#include "journal/journal_writer.h"
#include "journal/recovery.h"
#include "pipeline/histogram.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/ingress.h"
#include "pipeline/pipeline.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/stage_runner.h"
#include "pipeline/thread_layout.h"
#include "runtime/client_table.h"
#include "runtime/command.h"
#include "runtime/config.h"
#include "runtime/engine_ingest_stage.h"
#include "runtime/engine_signals.h"
#include "runtime/execute_stage.h"
#include "runtime/journal_stage.h"
#include "runtime/open.h"
#include "runtime/open_journal.h"
#include "runtime/project_stage.h"
#include "runtime/publish_stage.h"
#include "runtime/result_arena.h"
#include "runtime/sequence_stage.h"
#include "runtime/session.h"
#include "runtime/timers.h"
#include "snapshot/load.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshotter.h"

namespace lockstep {

template <class D, WaitStrategy W = HybridWait>
class Engine {
 public:
  static constexpr std::size_t kPayloadMax = payload_capacity(D::kCommandBytesMax);
  using Item = CommandItem<kPayloadMax>;
  using Slot = CommandBatch<kPayloadMax>;
  using Sequencer = SingleProducerSequencer<W>;
  using Handlers = typename D::Handlers;
  using Producer = typename Ingress<Item, W>::Producer;

  // Opens (creating if missing) the journal directory `dir`, through io_uring or, where
  // that is refused, POSIX writes (io_note() says which and why), and recovers it.
  Engine(const std::string& dir, const Handlers& handlers, EngineConfig config)
      : Engine(open_backend(dir, config), handlers, config, nullptr) {}

  // The same over a caller's backend, which must outlive the engine (tests:
  // journal::MemoryDisk).
  Engine(journal::IoBackend& io, const Handlers& handlers, EngineConfig config)
      : Engine(&io, nullptr, handlers, std::move(config)) {}

  ~Engine() { stop(); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Before start(): every durable committed TxResult goes to `fn`, in order.
  void subscribe(SubscriberFn fn, void* context) {
    if (started_) throw std::logic_error("engine: subscribe() after start()");
    subscribers_.push_back(Subscriber{fn, context});
  }

  // Starts the stage threads. Throws std::invalid_argument for a bad layout.
  void start() {
    if (started_) throw std::logic_error("engine: start() twice");
    const std::vector<std::string> names = pipeline_.stage_names();
    const ThreadLayout layout = config_.layout.empty() ? ThreadLayout::default_for(names)
                                                       : ThreadLayout::parse(config_.layout);
    pipeline_.start(layout);
    started_ = true;
    if (config_.snapshots.every_commands > 0) {
      snapshotter_ = std::make_unique<Snapshotter<D>>(
          dir_, config_.executor, config_.snapshots, snapshot_load_.loaded,
          config_.journal.segment_flags(), signals_.acknowledged_sequence);
      snapshotter_->start();
    }
    accepting_.store(true, std::memory_order_seq_cst);
    if (!config_.timers.empty()) {
      // Its session is made here, so a producers_max already reached throws from start().
      auto timer_session = std::make_shared<Session>(session(0));
      timers_.start(config_.timers, [s = std::move(timer_session)](const TimerCommand& t) {
        (void)s->submit(t.kind, t.payload, nullptr, nullptr, SteadyClock::now());  // busy: skip
      });
    }
  }

  // Refuses new submissions, delivers every completion still owed, waits for the
  // journal and joins the threads. Idempotent.
  void stop() {
    if (!started_ || stopped_) return;
    timers_.stop();
    accepting_.store(false, std::memory_order_seq_cst);
    while (submitting_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    // Every accepted command gets its completion (the publish stage counts them all).
    const std::uint64_t accepted = accepted_.load(std::memory_order_seq_cst);
    (void)wait_.wait_until([&] { return completed() == accepted; }, kNoDeadline);
    pipeline_.stop();
    // Nothing is left in flight; an earlier failure is already reported. The closing
    // marker says the journal was stopped cleanly: its next open repairs nothing. If
    // writing it fails, nothing acknowledged is affected, but the engine says so.
    if (const journal::IoStatus s = writer_->close(); !s.is_ok() && !signals_.failed.load()) {
      signals_.fail(std::numeric_limits<std::int64_t>::max(),
                    "journal: writing the closing marker: " + s.message());
    }
    if (snapshotter_) snapshotter_->stop();
    stopped_ = true;
  }

  // A client's handle for submitting (runtime/session.h). Throws std::invalid_argument
  // past producers_max sessions.
  using Session = EngineSession<Engine>;
  friend Session;
  Session session(std::uint64_t client_id) {
    return Session(this, client_id, next_session_id_.fetch_add(1, std::memory_order_relaxed),
                   ingress_.make_producer());
  }

  // Completions delivered so far.
  std::uint64_t completed() const noexcept {
    return signals_.committed.load(std::memory_order_seq_cst) +
           signals_.refused.load(std::memory_order_seq_cst) +
           signals_.duplicates.load(std::memory_order_seq_cst) +
           signals_.invalid.load(std::memory_order_seq_cst) +
           signals_.failed_commands.load(std::memory_order_seq_cst);
  }

  bool failed() const noexcept { return signals_.failed.load(std::memory_order_acquire); }
  std::string failure() const { return signals_.failure(); }

  EngineStats stats() const {
    EngineStats s;
    for (const auto& stage : pipeline_.stages()) {
      s.stages.push_back(StageStats{stage->name(), stage->metrics().batch_slots.snapshot(),
                                    stage->metrics().slot_latency_ns.snapshot(),
                                    stage->metrics().command_latency_ns.snapshot()});
    }
    s.ack_latency_ns = ack_latency_ns_.snapshot();
    s.acknowledged_sequence = signals_.acknowledged_sequence.load(std::memory_order_acquire);
    s.committed = signals_.committed.load(std::memory_order_relaxed);
    s.refused = signals_.refused.load(std::memory_order_relaxed);
    s.duplicates = signals_.duplicates.load(std::memory_order_relaxed);
    s.invalid = signals_.invalid.load(std::memory_order_relaxed);
    s.failed = signals_.failed_commands.load(std::memory_order_relaxed);
    return s;
  }

  // What recovery found on open; which I/O backend is in use, and why.
  const journal::RecoveryReport& recovery() const noexcept { return report_; }
  // Which snapshot the state was loaded from on open, and which were refused.
  const SnapshotLoad& snapshot_load() const noexcept { return snapshot_load_; }
  // The background snapshotter's progress (EngineConfig::snapshots.every_commands).
  SnapshotterStatus snapshotter_status() const {
    return snapshotter_ ? snapshotter_->status() : SnapshotterStatus{};
  }
  const std::string& io_note() const noexcept { return io_note_; }
  const EngineConfig& config() const noexcept { return config_; }

  // The state: before start() or after stop() only.
  const Executor<D>& executor() const {
    if (started_ && !stopped_) throw std::logic_error("engine: executor() while running");
    return *executor_;
  }
  // Calls f(tables, next_sequence) on the projection, under its read lock: the tables as
  // of every durable command before next_sequence (EngineConfig::project; any thread).
  // Throws std::logic_error without a projection.
  template <class F>
  decltype(auto) read(F&& f) const {
    if (!projection_) throw std::logic_error("engine: read() needs EngineConfig::project");
    return projection_->read(std::forward<F>(f));
  }

  // The journal's chain hash after the last frame (before start() or after stop()).
  const journal::ChainHash& chain_hash() const { return writer_->chain(); }

 private:
  struct Backend {
    std::unique_ptr<journal::IoBackend> io;
    journal::IoBackend* raw = nullptr;  // io.get(), taken before io is moved
    std::string note;
    std::string dir;
  };

  static Backend open_backend(const std::string& dir, const EngineConfig& config) {
    config.validate();
    Backend b;
    b.io = open_journal_directory(dir, config.journal.writes_in_flight, &b.note);
    b.raw = b.io.get();
    b.dir = dir;
    return b;
  }

  Engine(Backend backend, const Handlers& handlers, EngineConfig config, std::nullptr_t)
      : Engine(backend.raw, std::move(backend.io), handlers, std::move(config), backend.dir) {
    io_note_ = std::move(backend.note);
  }

  Engine(journal::IoBackend* io, std::unique_ptr<journal::IoBackend> owned,
         const Handlers& handlers, EngineConfig config, std::string dir = {})
      : config_((config.validate(), std::move(config))),
        owned_io_(std::move(owned)),
        io_(io),
        handlers_(handlers),
        dir_(std::move(dir)),
        sessions_(0),
        ingress_(config_.ingress_capacity, config_.producers_max, wait_),
        ring_(config_.ring_slots),
        sequencer_(config_.ring_slots, wait_),
        arena_(config_.arena_bytes),
        ack_latency_ns_(StageMetrics::kLatencyConfig),
        pipeline_(wait_) {
    for (const TimerCommand& t : config_.timers) {
      if (D::command_bytes(t.kind) == 0 || D::command_bytes(t.kind) != t.payload.size() ||
          t.interval.count() <= 0) {
        throw std::invalid_argument("engine config: timer for command kind " +
                                    std::to_string(t.kind) +
                                    ": needs a kind of the domain, a payload of its size and a "
                                    "positive interval");
      }
    }
    if (config_.snapshots.every_commands > 0 && dir_.empty()) {
      throw std::invalid_argument(
          "engine config: snapshots while running need the engine opened on a directory");
    }
    // The executor and projection are made here, once recovery knows where the state
    // starts: preallocating tables twice would cost seconds.
    OpenedState<D> opened = open_state<D>(*io_, handlers_, config_);
    executor_ = std::move(opened.executor);
    projection_ = std::move(opened.projection);
    sessions_ = std::move(opened.sessions);
    last_time_ = opened.last_time;
    report_ = std::move(opened.report);
    snapshot_load_ = std::move(opened.snapshot_load);
    journal::JournalOptions jo = config_.journal;
    const auto desc = D::descriptor();
    jo.descriptor.assign(desc.begin(), desc.end());
    writer_ = std::make_unique<journal::JournalWriter>(*io_, std::move(jo), report_.tail);
    if (!writer_->failure().is_ok()) {
      throw EngineOpenError("engine: cannot resume the journal: " + writer_->failure().message());
    }
    build_stages();
  }

  void build_stages() {
    pipeline_.add(std::make_unique<EngineIngestStage<kPayloadMax, W>>(
        "ingest", ingress_, ring_, sequencer_, config_.batch_commands_max, config_.producers_max));
    // The sequence stage reads straight behind the sequencer (ingest publishes through it).
    using SeqRunner = StageRunner<Sequencer, Slot, SequenceHandler<D, kPayloadMax>>;
    auto& seq = pipeline_.add(std::make_unique<SeqRunner>(
        "sequence", ring_, sequencer_, std::span<const Sequence* const>(),
        SequenceHandler<D, kPayloadMax>(sessions_, executor_->next_sequence(), last_time_,
                                        config_.clock)));
    const Sequence* up_exec[] = {&seq.sequence()};
    auto& exec = pipeline_.add(std::make_unique<ExecuteStage<D, kPayloadMax, Sequencer>>(
        "execute", ring_, sequencer_, up_exec, *executor_, arena_, signals_));
    const Sequence* up_journal[] = {&exec.sequence()};
    auto& jour = pipeline_.add(std::make_unique<JournalStage<kPayloadMax, Sequencer>>(
        "journal", ring_, sequencer_, up_journal, *writer_, arena_, signals_));
    const Sequence* up_publish[] = {&jour.sequence()};
    using PubRunner = StageRunner<Sequencer, Slot, PublishHandler<kPayloadMax>>;
    auto& pub = pipeline_.add(std::make_unique<PubRunner>(
        "publish", ring_, sequencer_, up_publish,
        PublishHandler<kPayloadMax>(arena_, signals_, subscribers_, ack_latency_ns_)));
    sequencer_.add_gating_sequence(pub.sequence());
    std::vector<const Sequence*> terminal = {&pub.sequence()};
    if (projection_) {
      using ProjRunner = StageRunner<Sequencer, Slot, ProjectHandler<D, kPayloadMax>>;
      auto& proj = pipeline_.add(std::make_unique<ProjRunner>(
          "project", ring_, sequencer_, up_publish,
          ProjectHandler<D, kPayloadMax>(*projection_, arena_, signals_)));
      sequencer_.add_gating_sequence(proj.sequence());
      terminal.push_back(&proj.sequence());
    }
    exec.set_terminal(std::move(terminal));
  }

  SubmitResult enqueue(typename Ingress<Item, W>::Producer& producer, Item* items, std::size_t n,
                       Deadline deadline) {
    submitting_.fetch_add(1, std::memory_order_seq_cst);
    SubmitResult r;
    if (!accepting_.load(std::memory_order_seq_cst)) {
      r = SubmitResult::kStopped;
    } else if (failed()) {
      r = SubmitResult::kFailed;
    } else {
      const std::int64_t now = monotonic_now_ns();
      for (std::size_t i = 0; i < n; ++i) items[i].submit_ns = now;
      switch (deadline == kNoDeadline ? ingress_.submit_bulk(producer, items, n, deadline)
              : deadline <= SteadyClock::now()
                  ? ingress_.try_submit_bulk(producer, items, n)
                  : ingress_.submit_bulk(producer, items, n, deadline)) {
        case SubmitStatus::kOk:
          accepted_.fetch_add(n, std::memory_order_seq_cst);
          r = SubmitResult::kAccepted;
          break;
        case SubmitStatus::kBusy: r = SubmitResult::kBusy; break;
        case SubmitStatus::kTimedOut: r = SubmitResult::kTimedOut; break;
        default: r = SubmitResult::kBusy;
      }
    }
    submitting_.fetch_sub(1, std::memory_order_seq_cst);
    return r;
  }

  EngineConfig config_;
  std::unique_ptr<journal::IoBackend> owned_io_;
  journal::IoBackend* io_;
  std::string io_note_;
  journal::RecoveryReport report_;
  Handlers handlers_;
  std::string dir_;
  SnapshotLoad snapshot_load_;
  std::unique_ptr<Executor<D>> executor_;
  std::unique_ptr<Projection<D>> projection_;
  ClientTable sessions_;
  std::int64_t last_time_ = 0;
  W wait_;
  Ingress<Item, W> ingress_;
  RingBuffer<Slot> ring_;
  Sequencer sequencer_;
  ResultArena arena_;
  EngineSignals signals_;
  Histogram ack_latency_ns_;
  std::vector<Subscriber> subscribers_;
  std::unique_ptr<Snapshotter<D>> snapshotter_;
  std::unique_ptr<journal::JournalWriter> writer_;
  Pipeline<W> pipeline_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> accepting_{false};
  std::atomic<int> submitting_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> next_session_id_{1};
  Timers timers_;  // last: stopped (by stop()) before anything it submits to goes
};

}  // namespace lockstep
