// Opening a journal directory: the running engine's recovery (runtime/engine.h).
//
// The state is loaded from the newest snapshot that verifies (snapshot/load.h), then every
// TxResult after it is re-executed through the domain's handlers and compared byte for
// byte with what the journal holds (engine/reexecutor.h). That rebuilds the state, the
// state hash and the client table, and proves the handlers still produce the same
// history. Without snapshots, the whole journal is re-executed. A torn tail is repaired
// (journal/recovery.h says when a tail may be dropped); corruption, a divergent replay or
// another domain's journal throw EngineOpenError naming where and what. Snapshots that are
// refused are renamed NAME.refused and the next older one is tried.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/descriptor_check.h"
#include "engine/executor.h"
#include "engine/projection.h"
#include "engine/reexecutor.h"
#include "engine/tx_result.h"
#include "journal/frame.h"
#include "journal/io_backend.h"
#include "journal/recovery.h"
#include "runtime/client_table.h"
#include "runtime/config.h"
#include "snapshot/load.h"
#include "snapshot/snapshot.h"

namespace lockstep {

// What opening rebuilt: the state as of the journal's last entry.
template <class D>
struct OpenedState {
  std::unique_ptr<Executor<D>> executor;
  std::unique_ptr<Projection<D>> projection;  // with EngineConfig::project
  ClientTable sessions{0};
  std::int64_t last_time = 0;  // the last entry's logical time
  journal::RecoveryReport report;
  SnapshotLoad snapshot_load;
};

// Recovers the journal directory behind `io` for domain D. Throws EngineOpenError.
template <class D>
OpenedState<D> open_state(journal::IoBackend& io, const typename D::Handlers& handlers,
                          const EngineConfig& config);

namespace detail {

template <class D>
class Recovery {
 public:
  Recovery(journal::IoBackend& io, const typename D::Handlers& handlers, const EngineConfig& config)
      : io_(&io), handlers_(handlers), config_(config), sessions_(config.sessions_max) {}

  OpenedState<D> run() {
    recover();
    OpenedState<D> out;
    out.executor = std::move(executor_);
    out.projection = std::move(projection_);
    out.sessions = std::move(sessions_);
    out.last_time = last_time_;
    out.report = std::move(report_);
    out.snapshot_load = std::move(snapshot_load_);
    return out;
  }

 private:
  // Recovery: the newest snapshot that verifies, then the journal after it; without
  // snapshots, the whole journal. Each journaled TxResult is re-executed through the
  // handlers and compared (see the header comment).
  void recover() {
    std::vector<std::pair<std::uint64_t, std::string>> snaps;
    if (auto s = snapshot::list_snapshots(*io_, &snaps); !s.is_ok()) {
      throw EngineOpenError("engine: " + s.message());
    }
    std::vector<std::string> refused;  // file names
    for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
      std::string why;
      snapshot::SnapshotHeader h;
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
    sessions_ = ClientTable(config_.sessions_max);
    if (config_.project) {
      projection_.reset();
      projection_ = std::make_unique<Projection<D>>(config_.executor);
      projection_->set_next_sequence(next_sequence);
    }
    last_time_ = 0;
  }

  // Loads the snapshot `name` into a fresh state; false (with *why) if it is refused:
  // unreadable, corrupt, another schema's, or its records do not hash to its header.
  bool load_snapshot(const std::string& name, snapshot::SnapshotHeader* header, std::string* why) {
    const std::unique_ptr<snapshot::SnapshotReader> reader =
        snapshot::open_snapshot<D>(*io_, name, why);
    if (!reader) return false;
    const snapshot::SnapshotHeader& h = reader->header();
    timed(&snapshot_load_.tables_seconds, [&] { reset_state(h.next_sequence, h.tx_sequence); });
    snapshot::LoadTimes times;
    bool loaded = false;
    const auto load = [&] {
      loaded = snapshot::load_snapshot_state<D>(
          *reader, executor_.get(), projection_.get(),
          [&](const snapshot::ClientRecord& x) {
            sessions_.record(x.client_id, x.request_id, x.sequence);
          },
          &times, why);
    };
    if (projection_) {
      projection_->write(load);
    } else {
      load();
    }
    snapshot_load_.read_seconds = times.read_seconds;
    snapshot_load_.index_seconds = times.index_seconds;
    if (!loaded) return false;
    last_time_ = h.last_logical_time_ns;
    *header = h;
    return true;
  }

  // Replays the journal from `from` (the state holds everything before it): recovery reads
  // only the segments from the one holding `from`. With a snapshot's `chain`, the journal
  // must have a frame boundary at `from` with that chain hash, and reach it; else false
  // (the snapshot is refused). Corruption or a divergent replay throws.
  bool replay_journal(std::uint64_t from, const journal::ChainHash* chain, std::string* why) {
    std::string error;
    Reexecutor<D> reexecutor(*executor_);
    std::int64_t last_time = last_time_;
    const auto visit = [&](const journal::DecodedFrame& frame) {
      std::uint64_t sequence = frame.header.first_sequence;
      journal::EntryReader entries(frame.payload);
      while (!entries.done() && error.empty()) {
        const std::span<const std::byte> entry = entries.next();
        if (sequence++ < from) continue;  // in the snapshot already
        error = replay_one(reexecutor, entry, last_time);
        ++snapshot_load_.replayed;
      }
    };
    snapshot_load_.replayed = 0;
    const journal::RecoveryStatus st = journal::recover_journal(
        *io_, journal::RecoveryMode::kRepairTornTail, &report_, visit, from);
    if (!st.is_ok()) throw EngineOpenError("engine: " + st.message());
    if (!report_.descriptor.empty()) {
      if (std::string e = check_descriptor<D>(report_.descriptor, "the journal"); !e.empty()) {
        throw EngineOpenError("engine: " + e);
      }
    }
    if (chain != nullptr) {
      const std::string name = snapshot::snapshot_file_name(from);
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
        *why = snapshot::snapshot_file_name(from) + ": replaying the journal after it: " + error;
        return false;
      }
      throw EngineOpenError("engine: replay of the journal: " + error);
    }
    if (reexecutor.in_chain()) {
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
  std::string replay_one(Reexecutor<D>& reexecutor, std::span<const std::byte> entry,
                         std::int64_t& last_time) {
    const auto step = reexecutor.feed(entry);
    if (step == Reexecutor<D>::Step::kMalformed) return reexecutor.error();
    const CommandView& v = reexecutor.command();
    sessions_.record(v.client_id, v.request_id, v.sequence);
    last_time = v.logical_time_ns;
    if (step == Reexecutor<D>::Step::kDiverged) {
      return "sequence " + std::to_string(reexecutor.divergence().sequence) +
             ": re-executing the command does not reproduce its TxResult (the handlers or the "
             "engine changed behaviour)";
    }
    if (step == Reexecutor<D>::Step::kMatched && projection_) {
      projection_->write([&] {
        TxResultReader results(reexecutor.matched());
        std::span<const std::byte> result;
        while (results.next(&result)) projection_->apply(result);
      });
    }
    return {};
  }

  journal::IoBackend* io_;
  const typename D::Handlers& handlers_;
  const EngineConfig& config_;
  std::unique_ptr<Executor<D>> executor_;
  std::unique_ptr<Projection<D>> projection_;
  ClientTable sessions_;
  std::int64_t last_time_ = 0;
  journal::RecoveryReport report_;
  SnapshotLoad snapshot_load_;
};

}  // namespace detail

template <class D>
OpenedState<D> open_state(journal::IoBackend& io, const typename D::Handlers& handlers,
                          const EngineConfig& config) {
  return detail::Recovery<D>(io, handlers, config).run();
}

}  // namespace lockstep
