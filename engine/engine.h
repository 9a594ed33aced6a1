// Engine<D>: the running engine. The embedding API (docs/embedding.md).
//
//   sessions ──► ingress ──► ingest ──► sequence ──► execute ──► journal ──► publish
//   (any thread)                                     (1 writer)  (group      (completions,
//                                                                 commit)     subscribers)
//
// Open: the journal directory is opened (created if missing) and recovered: the state
// is loaded from the newest snapshot that verifies (if any), then every TxResult after it
// is re-executed through the domain's handlers and compared byte for byte with what the
// journal holds, which rebuilds the state, the state hash and the client session table,
// and proves the handlers still produce the same history. A torn tail is
// repaired; corruption, a divergent replay or another domain's journal refuse to open
// (EngineOpenError, with a message naming where and what).
//
// Running: any thread submits through a Session (one per client and thread). A
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

#include "engine/executor.h"
#include "engine/projection.h"
#include "engine/tx_result.h"
#include "journal/io_backend.h"
#include "journal/journal_writer.h"
#include "journal/recovery.h"
#include "pipeline/clock.h"
#include "pipeline/histogram.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/ingress.h"
#include "pipeline/pipeline.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/stage_runner.h"
#include "pipeline/thread_layout.h"
#include "replay/snapshot.h"
#include "stages/command.h"
#include "stages/engine_signals.h"
#include "stages/execute_stage.h"
#include "stages/ingest_stage.h"
#include "stages/journal_stage.h"
#include "stages/open_journal.h"
#include "stages/project_stage.h"
#include "stages/publish_stage.h"
#include "stages/result_arena.h"
#include "stages/sequence_stage.h"
#include "stages/session_table.h"
#include "stages/snapshotter.h"

namespace lockstep {

// The journal could not be opened: I/O, corruption, another domain's journal, or a replay
// that does not reproduce the journal. what() names where and what.
class EngineOpenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What opening found about snapshots: the one the state was loaded from ("" if none: the
// whole journal was replayed), and each snapshot refused on the way, with why.
struct SnapshotLoad {
  std::string loaded;
  std::uint64_t sequence = 0;  // the loaded snapshot's next_sequence
  std::uint64_t replayed = 0;  // journal entries replayed after it
  std::vector<std::string> refused;
  // Where opening spent its time, in seconds (for the snapshot loaded, or the whole
  // journal's replay): making the empty tables (with preallocation, faulting in their
  // capacity), reading, verifying and placing the snapshot's records, building the
  // indexes (on every core), and recovering and replaying the journal after it.
  double tables_seconds = 0;
  double read_seconds = 0;
  double index_seconds = 0;
  double journal_seconds = 0;
};

// Nanoseconds since the epoch (CLOCK_REALTIME): the default logical clock's source.
std::int64_t realtime_now_ns() noexcept;

struct EngineConfig {
  // The executor: table capacities, per-command limits. The engine's defaults keep a
  // TxResult under 64 KiB (a ledger transfer's is about 400 bytes).
  EngineOptions executor = default_executor_options();
  // The journal. The descriptor is the domain's; the engine sets it.
  journal::JournalOptions journal;
  std::int64_t ring_slots = 1024;                   // power of two
  std::size_t batch_commands_max = kBatchCommands;  // commands per ring slot (1 to 64)
  std::size_t ingress_capacity = 1u << 16;          // commands accepted and not yet in the ring
  std::size_t producers_max = 64;                   // sessions open at once
  std::size_t arena_bytes = std::size_t{64} << 20;  // TxResults not yet published
  std::size_t sessions_max = 1u << 16;              // clients remembered for deduplication
  std::string layout;                               // ThreadLayout::parse text; empty: default
  LogicalClockFn clock = realtime_now_ns;           // the sequence stage's source of time
  // Keep a read-only projection of the tables for queries while running (the `project`
  // stage). It costs about the state's memory again, and its own thread time per write.
  bool project = false;
  // Commands the engine submits itself on a timer (stages/command.h, TimerCommand).
  std::vector<TimerCommand> timers;
  // Snapshots: taken while running (off by default: every_commands = 0), and what to do on
  // open when every snapshot is refused (stages/snapshotter.h, docs/embedding.md).
  SnapshotPolicy snapshots;

  static EngineOptions default_executor_options() {
    return EngineOptions::running_engine_defaults();
  }
  // Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

// The names of the engine's stages, in pipeline order ("project" only with
// EngineConfig::project).
inline constexpr const char* kEngineStageNames[] = {"ingest",  "sequence", "execute",
                                                    "journal", "publish",  "project"};

enum class SubmitResult : std::uint8_t {
  kAccepted,  // queued: exactly one completion will follow
  kBusy,      // the ingress is full (try again, or give a deadline)
  kTimedOut,  // still full at the deadline
  kStopped,   // the engine is not running
  kFailed,    // the engine has failed (failure() says why)
  kInvalid,   // the payload is larger than any command of the domain, or a chain is
              // longer than a batch; nothing queued
};
std::string_view to_string(SubmitResult r) noexcept;

struct StageStats {
  std::string name;
  HistogramSnapshot batch_slots;
  HistogramSnapshot slot_latency_ns;     // ingest to this stage, per slot
  HistogramSnapshot command_latency_ns;  // the same, per command
};

struct EngineStats {
  std::vector<StageStats> stages;
  HistogramSnapshot ack_latency_ns;         // submit to completion, per acknowledged command
  std::uint64_t acknowledged_sequence = 0;  // every sequence below is durable and acknowledged
  std::uint64_t committed = 0;
  std::uint64_t refused = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t invalid = 0;
  std::uint64_t failed = 0;
};

template <class D, WaitStrategy W = HybridWait>
class Engine {
 public:
  static constexpr std::size_t kPayloadMax = payload_capacity(D::kCommandBytesMax);
  using Item = CommandItem<kPayloadMax>;
  using Slot = CommandBatch<kPayloadMax>;
  using Sequencer = SingleProducerSequencer<W>;
  using Handlers = typename D::Handlers;

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
      auto timer_session = std::make_unique<Session>(session(0));
      timer_thread_ =
          std::thread([this, s = std::move(timer_session)]() mutable { run_timers(*s); });
    }
  }

  // Refuses new submissions, delivers every completion still owed, waits for the
  // journal and joins the threads. Idempotent.
  void stop() {
    if (!started_ || stopped_) return;
    if (timer_thread_.joinable()) {
      {
        std::lock_guard lock(timer_mutex_);
        timers_stopping_ = true;
      }
      timer_cv_.notify_all();
      timer_thread_.join();
    }
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

  // A client's handle for submitting. `client_id` 0 is anonymous (no deduplication);
  // otherwise request ids must increase per client (docs/embedding.md). Throws
  // std::invalid_argument past producers_max sessions.
  class Session {
   public:
    Session(Session&&) noexcept = default;

    std::uint64_t client_id() const noexcept { return client_; }
    // The request id the next submit without one takes.
    std::uint64_t next_request_id() const noexcept { return next_request_; }

    // Submits one command: `payload` is the command struct's bytes. Waits for room in the
    // ingress until `deadline` (kNoDeadline: as long as it takes; now: not at all).
    // request_id 0 takes next_request_id(); a retry passes the original's id.
    SubmitResult submit(std::uint16_t kind, std::span<const std::byte> payload, CompletionFn done,
                        void* context, Deadline deadline = kNoDeadline,
                        std::uint64_t request_id = 0) {
      if (payload.size() > kPayloadMax) return SubmitResult::kInvalid;
      Item& item = items_[0];
      fill(item, kind, payload, done, context, request_id, false);
      return engine_->enqueue(producer_, items_.data(), 1, deadline);
    }
    template <class C>
    SubmitResult submit(const C& command, CompletionFn done, void* context,
                        Deadline deadline = kNoDeadline, std::uint64_t request_id = 0) {
      return submit(C::kKind, std::as_bytes(std::span(&command, 1)), done, context, deadline,
                    request_id);
    }

    // One command of a bulk submission.
    struct Request {
      std::uint16_t kind = 0;
      std::span<const std::byte> payload;
      CompletionFn done = nullptr;
      void* context = nullptr;
      bool linked = false;  // commits with the next request (the chain ends at one without)
      std::uint64_t request_id = 0;
    };
    // Submits all of `requests`, in order, or none. A linked chain must end within the
    // requests and be at most batch_commands_max long (longer: kInvalid).
    SubmitResult submit_all(std::span<const Request> requests, Deadline deadline = kNoDeadline) {
      if (requests.size() > items_.size()) return SubmitResult::kInvalid;
      std::size_t chain = 0;
      for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests[i];
        if (r.payload.size() > kPayloadMax) return SubmitResult::kInvalid;
        chain = r.linked ? chain + 1 : 0;
        if (chain >= engine_->config_.batch_commands_max) return SubmitResult::kInvalid;
        fill(items_[i], r.kind, r.payload, r.done, r.context, r.request_id, r.linked);
      }
      if (chain != 0) return SubmitResult::kInvalid;  // the last one is linked
      return engine_->enqueue(producer_, items_.data(), requests.size(), deadline);
    }

    // The most requests one submit_all takes.
    static constexpr std::size_t kBulkMax = 4 * kBatchCommands;

   private:
    friend class Engine;
    Session(Engine* engine, std::uint64_t client, std::uint64_t session_id,
            typename Ingress<Item, W>::Producer producer)
        : engine_(engine),
          client_(client),
          session_id_(session_id),
          producer_(std::move(producer)),
          items_(kBulkMax) {}

    void fill(Item& item, std::uint16_t kind, std::span<const std::byte> payload, CompletionFn done,
              void* context, std::uint64_t request_id, bool linked) {
      item.done = done;
      item.context = context;
      item.client_id = client_;
      item.session_id = session_id_;
      if (request_id == 0) request_id = next_request_;
      if (request_id >= next_request_) next_request_ = request_id + 1;
      item.request_id = request_id;
      item.kind = kind;
      item.payload_bytes = static_cast<std::uint16_t>(payload.size());
      item.linked = linked ? 1 : 0;
      item.disposition = Disposition::kSubmitted;
      if (!payload.empty()) std::memcpy(item.payload, payload.data(), payload.size());
    }

    Engine* engine_;
    std::uint64_t client_;
    std::uint64_t session_id_;
    std::uint64_t next_request_ = 1;
    typename Ingress<Item, W>::Producer producer_;
    std::vector<Item> items_;
  };

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
        // The executor and projection are made by recover() (reset_state), once it knows
        // where the state starts: preallocating tables twice would cost seconds.

        sessions_(config_.sessions_max),
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
    recover();
    journal::JournalOptions jo = config_.journal;
    const auto desc = D::descriptor();
    jo.descriptor.assign(desc.begin(), desc.end());
    writer_ = std::make_unique<journal::JournalWriter>(*io_, std::move(jo), report_.tail);
    if (!writer_->failure().is_ok()) {
      throw EngineOpenError("engine: cannot resume the journal: " + writer_->failure().message());
    }
    build_stages();
  }

  // Submits each timer's command when it is due, until stop().
  void run_timers(Session& s) {
    using Clock = std::chrono::steady_clock;
    std::vector<Clock::time_point> due;
    for (const TimerCommand& t : config_.timers) due.push_back(Clock::now() + t.interval);
    std::unique_lock lock(timer_mutex_);
    while (!timers_stopping_) {
      const auto next = *std::min_element(due.begin(), due.end());
      if (timer_cv_.wait_until(lock, next, [&] { return timers_stopping_; })) break;
      const auto now = Clock::now();
      for (std::size_t i = 0; i < due.size(); ++i) {
        if (due[i] > now) continue;
        const TimerCommand& t = config_.timers[i];
        (void)s.submit(t.kind, t.payload, nullptr, nullptr, SteadyClock::now());  // busy: skip
        due[i] = now + t.interval;
      }
    }
  }

  // Recovery: the newest snapshot that verifies, then the journal after it; without
  // snapshots, the whole journal. Each journaled TxResult is re-executed through the
  // handlers and compared (see the header comment).
  void recover() {
    std::vector<std::pair<std::uint64_t, std::string>> snaps;
    if (auto s = replay::list_snapshots(*io_, &snaps); !s.is_ok()) {
      throw EngineOpenError("engine: " + s.message());
    }
    std::vector<std::string> refused;  // file names
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      std::string why;
      replay::SnapshotHeader h;
      if (load_snapshot(it->second, &h, &why) && timed(&snapshot_load_.journal_seconds, [&] {
            return replay_journal(h.next_sequence, &h.chain, &why);
          })) {
        snapshot_load_.loaded = it->second;
        snapshot_load_.sequence = h.next_sequence;
        quarantine(refused);
        return;
      }
      snapshot_load_.refused.push_back(why);
      refused.push_back(it->second);
    }
    if (!snaps.empty() && !config_.snapshots.replay_all_if_refused) {
      std::string all;
      for (const std::string& r : snapshot_load_.refused) all += "; " + r;
      throw EngineOpenError("engine: every snapshot was refused" + all +
                            " (EngineConfig::snapshots.replay_all_if_refused replays the whole "
                            "journal instead)");
    }
    timed(&snapshot_load_.tables_seconds, [&] { reset_state(0, 0); });
    snapshot_load_.read_seconds = snapshot_load_.index_seconds = 0;
    std::string why;
    if (!timed(&snapshot_load_.journal_seconds, [&] { return replay_journal(0, nullptr, &why); })) {
      throw EngineOpenError("engine: " + why);
    }
    // A snapshot past the journal's end means the journal lost entries (removed segments,
    // a non-durable mode and a power loss): opening on less than the snapshot holds would
    // lose acknowledged history silently.
    for (const auto& [sequence, name] : snaps) {
      if (sequence > executor_->next_sequence()) {
        throw EngineOpenError("engine: " + name + " holds sequences up to " +
                              std::to_string(sequence - 1) + " but the journal ends at " +
                              std::to_string(executor_->next_sequence()) +
                              ": entries are missing from the journal");
      }
    }
    quarantine(refused);
  }

  // Runs f() and sets *seconds to how long it took; returns what f() returns.
  template <class F>
  static decltype(auto) timed(double* seconds, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    struct Stop {
      double* seconds;
      std::chrono::steady_clock::time_point start;
      ~Stop() {
        *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    } stop{seconds, start};
    return f();
  }
  // Seconds from *since to now; *since becomes now.
  static double seconds_since(std::chrono::steady_clock::time_point* since) {
    const auto now = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(now - std::exchange(*since, now)).count();
  }

  // Renames refused snapshots to <name>.refused, out of the way of later opens and of the
  // snapshotter's pruning (kept for inspection, never loaded).
  void quarantine(const std::vector<std::string>& refused) {
    if (refused.empty()) return;
    for (const std::string& name : refused) {
      if (journal::IoStatus s = io_->rename(name, name + ".refused"); !s) {
        throw EngineOpenError("engine: cannot set a refused snapshot aside: " + s.message());
      }
    }
    if (journal::IoStatus s = io_->sync_directory(); !s) {
      throw EngineOpenError("engine: " + s.message());
    }
  }

  // A fresh executor (starting at those sequences), session table and projection.
  void reset_state(std::uint64_t next_sequence, std::uint64_t tx_sequence) {
    EngineOptions o = config_.executor;
    o.first_command_sequence = next_sequence;
    o.first_tx_sequence = tx_sequence;
    executor_.reset();
    executor_ = std::make_unique<Executor<D>>(handlers_, o);
    sessions_ = SessionTable(config_.sessions_max);
    if (config_.project) {
      projection_.reset();
      projection_ = std::make_unique<Projection<D>>(config_.executor);
      projection_->set_next_sequence(next_sequence);
    }
    last_time_ = 0;
  }

  // Loads the snapshot `name` into a fresh state; false (with *why) if it is refused:
  // unreadable, corrupt, another schema's, or its records do not hash to its header.
  bool load_snapshot(const std::string& name, replay::SnapshotHeader* header, std::string* why) {
    std::unique_ptr<replay::SnapshotReader> reader;
    if (auto s = replay::SnapshotReader::open(*io_, name, &reader); !s.is_ok()) {
      *why = s.message();
      return false;
    }
    const replay::SnapshotHeader& h = reader->header();
    const auto desc = D::descriptor();
    if (h.descriptor.size() != desc.size() ||
        std::memcmp(h.descriptor.data(), desc.data(), desc.size()) != 0) {
      *why = name + ": written by another schema than domain '" + std::string(D::kName) + "'";
      return false;
    }
    timed(&snapshot_load_.tables_seconds, [&] { reset_state(h.next_sequence, h.tx_sequence); });
    std::string bad;
    replay::SnapshotStatus s;
    const auto read = [&] {
      auto phase = std::chrono::steady_clock::now();
      s = reader->read(
          [&](const replay::SnapshotSession& x) {
            sessions_.record(x.client_id, x.request_id, x.sequence);
          },
          [&](std::uint16_t table, std::span<const std::byte> image) {
            if (!bad.empty()) return;
            if (!executor_->load_record(table, image, &bad)) return;
            if (projection_) projection_->load_record(table, image);
          });
      snapshot_load_.read_seconds = seconds_since(&phase);
      if (s.is_ok() && bad.empty()) {
        // The executor's and the projection's indexes, built together on every core.
        std::vector<LoadTask> tasks;
        executor_->load_tasks(&tasks);
        if (projection_) projection_->load_tasks(&tasks);
        (void)run_load_tasks(std::move(tasks), &bad);
      }
      snapshot_load_.index_seconds = seconds_since(&phase);
    };
    if (projection_) {
      projection_->write(read);
    } else {
      read();
    }
    if (!s.is_ok()) {
      *why = s.message();
    } else if (!bad.empty()) {
      *why = name + ": " + bad;
    } else if (!(executor_->state_hash() == h.state_hash)) {
      *why = name + ": its records do not hash to the state hash in its header";
    } else {
      last_time_ = h.last_logical_time_ns;
      *header = h;
      return true;
    }
    return false;
  }

  // Replays the journal from `from` (the state holds everything before it): recovery reads
  // only the segments from the one holding `from`. With a snapshot's `chain`, the journal
  // must have a frame boundary at `from` with that chain hash, and reach it; else false
  // (the snapshot is refused). Corruption or a divergent replay throws.
  bool replay_journal(std::uint64_t from, const journal::ChainHash* chain, std::string* why) {
    std::string error;
    std::vector<std::byte> out(executor_->options().result_bytes_max +
                               executor_->options().chain_bytes_max);
    std::vector<std::byte> expected;  // entries whose results the executor still owes
    std::size_t expected_count = 0;
    std::int64_t last_time = last_time_;
    const auto visit = [&](const journal::DecodedFrame& frame) {
      if (!error.empty()) return;
      std::size_t at = 0;
      std::uint64_t sequence = frame.header.first_sequence;
      const auto payload = frame.payload;
      while (at < payload.size() && error.empty()) {
        // The frame's checksum held, so this is a writer's bug, not rot: still checked.
        std::uint32_t n = 0;
        if (payload.size() - at >= 4) std::memcpy(&n, payload.data() + at, 4);  // LE hosts
        if (payload.size() - at < 4 || payload.size() - at - 4 < n) {
          error = "a frame's entry lengths overrun it at sequence " + std::to_string(sequence);
          break;
        }
        const std::span<const std::byte> entry = payload.subspan(at + 4, n);
        at += 4 + n;
        if (sequence++ < from) continue;  // in the snapshot already
        error = replay_one(entry, out, expected, expected_count, last_time);
        ++snapshot_load_.replayed;
      }
    };
    snapshot_load_.replayed = 0;
    const journal::RecoveryStatus st = journal::recover_journal(
        *io_, journal::RecoveryMode::kRepairTornTail, &report_, visit, from);
    if (!st.is_ok()) throw EngineOpenError("engine: " + st.message());
    const auto desc = D::descriptor();
    if (!report_.descriptor.empty() &&
        (report_.descriptor.size() != desc.size() ||
         std::memcmp(report_.descriptor.data(), desc.data(), desc.size()) != 0)) {
      throw EngineOpenError(std::string("engine: the journal was written by another schema than "
                                        "domain '") +
                            std::string(D::kName) + "' version " + std::to_string(D::kVersion));
    }
    if (chain != nullptr) {
      const std::string name = replay::snapshot_file_name(from);
      if (report_.tail.next_sequence < from) {
        *why = name + ": the journal ends at sequence " +
               std::to_string(report_.tail.next_sequence) + ", before the snapshot's";
        return false;
      }
      if (!report_.boundary_found || report_.boundary_chain != *chain) {
        *why = name + ": the journal's chain hash at sequence " + std::to_string(from) +
               " is not the snapshot's (another history, or not a frame boundary)";
        return false;
      }
    }
    if (!error.empty()) {
      // From a snapshot, a divergence may be the snapshot's fault: refuse it (an older one,
      // or the whole journal, is tried next, and diverges too if the handlers changed).
      if (chain != nullptr) {
        *why = replay::snapshot_file_name(from) + ": replaying the journal after it: " + error;
        return false;
      }
      throw EngineOpenError("engine: replay of the journal: " + error);
    }
    if (expected_count != 0) {
      throw EngineOpenError("engine: replay of the journal: it ends inside a linked chain");
    }
    if (executor_->next_sequence() != report_.tail.next_sequence) {
      throw EngineOpenError("engine: replay reached sequence " +
                            std::to_string(executor_->next_sequence()) + ", the journal ends at " +
                            std::to_string(report_.tail.next_sequence));
    }
    last_time_ = last_time;
    return true;
  }

  // Re-executes one journaled TxResult's command; returns what diverged, or "".
  std::string replay_one(std::span<const std::byte> entry, std::vector<std::byte>& out,
                         std::vector<std::byte>& expected, std::size_t& expected_count,
                         std::int64_t& last_time) {
    CommandView v;
    bool batch_end = false;
    if (!command_of_result(entry, &v, &batch_end)) {
      return "sequence " + std::to_string(executor_->next_sequence()) +
             ": a TxResult shorter than its header, or its command overruns it";
    }
    if (v.sequence != executor_->next_sequence()) {
      return "the TxResult at sequence " + std::to_string(executor_->next_sequence()) +
             " says it is sequence " + std::to_string(v.sequence);
    }
    expected.insert(expected.end(), entry.begin(), entry.end());
    ++expected_count;
    const ExecuteResult r = executor_->execute(v, batch_end, out);
    sessions_.record(v.client_id, v.request_id, v.sequence);
    last_time = v.logical_time_ns;
    if (r.results == 0) return {};
    if (r.results != expected_count || r.bytes != expected.size() ||
        std::memcmp(out.data(), expected.data(), r.bytes) != 0) {
      return "sequence " + std::to_string(v.sequence) +
             ": re-executing the command does not reproduce its TxResult (the handlers or the "
             "engine changed behaviour)";
    }
    if (projection_) {
      projection_->write([&] {
        std::size_t at = 0;
        while (at < expected.size()) {
          std::uint32_t body = 0;
          std::memcpy(&body, expected.data() + at + tx_field::kBodyBytes, 4);
          projection_->apply(
              std::span<const std::byte>(expected).subspan(at, kTxResultHeaderBytes + body));
          at += kTxResultHeaderBytes + body;
        }
      });
    }
    expected.clear();
    expected_count = 0;
    return {};
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
  SessionTable sessions_;
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
  std::thread timer_thread_;
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  bool timers_stopping_ = false;
};

}  // namespace lockstep
