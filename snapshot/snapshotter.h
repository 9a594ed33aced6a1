// Snapshotter<D>: the running engine's snapshots, taken without pausing the writer
// (docs/embedding.md, "Snapshots"; the file format is docs/snapshot-format.md).
//
// A background thread keeps its own replica of the tables (a Projection<D>, private to
// it), fed from the journal *files*: it reads, through its own POSIX backend on the
// journal directory, the frames the engine has already acknowledged (so complete and
// durable: a frame is durable whole), and applies their deltas. It never touches the
// ring, the executor or the journal writer: the writer does not wait for it at all; it
// costs CPU time and a second copy of the state's memory.
//
// Every `every_commands` commands it writes a snapshot of the replica at the frame end it
// has reached: sessions (each client's newest request, for retries after a restart), every
// record, and a header with the sequence, transaction sequence, logical time, state hash
// (computed from the replica; checked against the hash the journal recorded there, when
// the frame ends a batch) and the journal's chain hash after that frame. Then it keeps
// the newest `keep` snapshots and, if asked, removes journal segments wholly older than
// the oldest kept snapshot.
//
// It starts from the snapshot the engine opened from (loaded again, in the background),
// or from the empty state. Errors (I/O, a state hash that disagrees) stop it and are kept
// in status(): the engine goes on; a snapshot is an optimisation of restart, never needed
// for correctness.
//
// Thread safety: start/stop from the engine's owning thread; status() from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <absl/container/btree_map.h>

#include "engine/projection.h"
#include "engine/tx_result.h"
#include "journal/journal_reader.h"
#include "journal/posix_backend.h"
#include "journal/segment_header.h"
#include "snapshot/load.h"
#include "snapshot/snapshot.h"

namespace lockstep {

struct SnapshotPolicy {
  // Take a snapshot while running every this many commands (0: never).
  std::uint64_t every_commands = 0;
  // Keep the newest this many snapshots (at least 1).
  std::size_t keep = 2;
  // Remove journal segments wholly older than the oldest kept snapshot (off by default:
  // the journal is the audit trail; an operator may archive them instead).
  bool remove_old_segments = false;
  // On open, if every snapshot in the directory is refused: replay the whole journal
  // (which must still begin at sequence 0) instead of refusing to open.
  bool replay_all_if_refused = false;
};

struct SnapshotterStatus {
  std::uint64_t written = 0;           // snapshots written since start
  std::uint64_t last_sequence = 0;     // next_sequence of the newest one written
  std::int64_t last_write_ns = 0;      // how long writing it took
  std::uint64_t replica_sequence = 0;  // where the replica stands
  std::uint64_t segments_removed = 0;
  std::string error;  // why it stopped, if it did
};

template <class D>
class Snapshotter {
 public:
  // `dir`: the journal directory. `start_from`: the snapshot the engine opened from ("" for
  // none). `acknowledged`: the engine's acknowledged sequence (every entry below it is
  // durable).
  // `journal_flags`: the journal's segment flags (JournalOptions::segment_flags()).
  Snapshotter(std::string dir, const EngineOptions& options, SnapshotPolicy policy,
              std::string start_from, std::uint32_t journal_flags,
              const std::atomic<std::uint64_t>& acknowledged)
      : dir_(std::move(dir)),
        policy_(policy),
        start_from_(std::move(start_from)),
        journal_flags_(journal_flags),
        acknowledged_(acknowledged),
        replica_(options) {}
  ~Snapshotter() { stop(); }
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      stop_.store(true, std::memory_order_relaxed);
    }
    cv_.notify_all();
    thread_.join();
  }

  SnapshotterStatus status() const {
    std::lock_guard lock(mutex_);
    return status_;
  }

 private:
  static constexpr auto kPoll = std::chrono::milliseconds(20);

  void run() {
    std::string error = open();
    while (error.empty()) {
      {
        std::unique_lock lock(mutex_);
        if (cv_.wait_for(lock, kPoll, [&] { return stopping_; })) break;
      }
      const std::uint64_t durable = acknowledged_.load(std::memory_order_acquire);
      if (durable <= next_sequence_) continue;
      error = catch_up(durable);
      // A snapshot ends a batch: its state hash is then checked against the journal's.
      if (error.empty() && at_batch_end_ && !stop_.load(std::memory_order_relaxed) &&
          next_sequence_ >= last_snapshot_ + policy_.every_commands &&
          next_sequence_ > last_snapshot_) {
        error = write();
      }
      std::lock_guard lock(mutex_);
      status_.replica_sequence = next_sequence_;
    }
    reader_.reset();
    std::lock_guard lock(mutex_);
    status_.error = error;
  }

  std::string open() {
    if (journal::IoStatus s = journal::PosixBackend::open_directory(dir_, false, 1, &io_); !s) {
      return "snapshotter: " + s.message();
    }
    if (start_from_.empty()) return {};
    std::string why;
    const std::unique_ptr<snapshot::SnapshotReader> reader =
        snapshot::open_snapshot<D>(*io_, start_from_, &why);
    if (!reader || !snapshot::load_snapshot_state<D>(
                       *reader, nullptr, &replica_,
                       [&](const snapshot::ClientRecord& x) {
                         sessions_[x.client_id] = {x.request_id, x.sequence};
                       },
                       nullptr, &why)) {
      return "snapshotter: " + why;
    }
    const snapshot::SnapshotHeader& h = reader->header();
    next_sequence_ = h.next_sequence;
    last_snapshot_ = h.next_sequence;
    tx_sequence_ = h.tx_sequence;
    last_time_ = h.last_logical_time_ns;
    chain_ = h.chain;
    return {};
  }

  // Applies every frame that starts below `durable` (each such frame is durable whole).
  // The reader is kept between calls (it goes on from where it stopped in its segment)
  // and opened again only when the journal has rolled to a segment it has not listed.
  std::string catch_up(std::uint64_t durable) {
    std::vector<std::string> names;
    if (journal::IoStatus s = io_->list(&names); !s) return "snapshotter: " + s.message();
    std::uint64_t newest = 0;
    for (const std::string& n : names) {
      if (const auto first = journal::parse_segment_file_name(n)) newest = std::max(newest, *first);
    }
    if (!reader_ || newest != newest_segment_) {
      reader_.reset();
      if (auto s = journal::JournalReader::open(*io_, &reader_); !s.is_ok()) {
        return "snapshotter: " + s.message();
      }
      // The engine wrote and synced these frames: their checksums are checked, their chain
      // hashes (SHA-256 over every byte, the costliest part of reading) are not
      // recomputed.
      reader_->set_verify_chain(false);
      if (auto s = reader_->seek(next_sequence_); !s.is_ok()) {
        return "snapshotter: " + s.message();
      }
      newest_segment_ = newest;
    }
    while (next_sequence_ < durable && !stop_.load(std::memory_order_relaxed)) {
      journal::DecodedFrame frame;
      bool end = false;
      if (auto s = reader_->next(&frame, &end); !s.is_ok()) return "snapshotter: " + s.message();
      if (end) break;  // the rest is in a segment not listed yet, or not written yet
      journal::EntryReader entries(frame.payload);
      std::uint64_t seq = frame.header.first_sequence;
      while (!entries.done()) {
        const std::span<const std::byte> e = entries.next();
        if (seq++ < next_sequence_) continue;
        apply(e);
      }
      next_sequence_ = frame.header.last_sequence + 1;
      chain_ = frame.chain;
    }
    return {};
  }

  void apply(std::span<const std::byte> e) {
    const TxResultHeader h = read_tx_result_header(e.data());
    if (h.client_id != 0) sessions_[h.client_id] = {h.request_id, h.command_sequence};
    tx_sequence_ = h.tx_sequence;
    last_time_ = h.logical_time_ns;
    has_recorded_hash_ = tx_result_state_hash(e, &recorded_);
    at_batch_end_ = has_recorded_hash_;
    replica_.write([&] { replica_.apply(e); });
  }

  std::string write() {
    const auto t0 = std::chrono::steady_clock::now();
    const auto& tables = replica_.tables_unlocked();
    snapshot::SnapshotHeader h;
    h.next_sequence = next_sequence_;
    h.tx_sequence = tx_sequence_;
    h.last_logical_time_ns = last_time_;
    std::apply([&](const auto&... t) { (t.hash_all(&h.state_hash), ...); }, tables);
    if (has_recorded_hash_ && !(h.state_hash == recorded_)) {
      return "snapshotter: the replica's state hash at sequence " + std::to_string(next_sequence_) +
             " differs from the one the journal recorded";
    }
    h.chain = chain_;
    h.journal_flags = journal_flags_;
    const auto desc = D::descriptor();
    h.descriptor.assign(desc.begin(), desc.end());
    std::unique_ptr<snapshot::SnapshotWriter> w;
    snapshot::SnapshotStatus s = snapshot::SnapshotWriter::begin(*io_, h, &w);
    for (const auto& [client, x] : sessions_) {
      if (!s.is_ok()) break;
      s = w->add_session({client, x.request, x.sequence});
    }
    const auto add_table = [&](const auto& t) {
      if (!s.is_ok() || t.size() == 0 || stop_.load(std::memory_order_relaxed)) return;
      s = w->begin_table(t.id(), t.record_bytes());
      t.for_each([&](std::uint32_t, const auto& r) {
        if (s.is_ok()) s = w->add_record(std::as_bytes(std::span(&r, 1)));
      });
    };
    std::apply([&](const auto&... t) { (add_table(t), ...); }, tables);  // in table id order
    if (stop_.load(std::memory_order_relaxed)) return {};  // stopping: the temporary goes
    if (s.is_ok()) s = w->finish();
    w.reset();
    if (!s.is_ok()) return "snapshotter: " + s.message();
    last_snapshot_ = next_sequence_;
    if (auto p = snapshot::prune_snapshots(*io_, policy_.keep); !p.is_ok()) {
      return "snapshotter: " + p.message();
    }
    std::uint64_t removed = 0;
    if (policy_.remove_old_segments) {
      if (std::string e = remove_old_segments(&removed); !e.empty()) return e;
    }
    std::lock_guard lock(mutex_);
    ++status_.written;
    status_.last_sequence = next_sequence_;
    status_.last_write_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    status_.segments_removed += removed;
    return {};
  }

  std::string remove_old_segments(std::uint64_t* removed) {
    std::vector<std::pair<std::uint64_t, std::string>> snaps;
    if (auto s = snapshot::list_snapshots(*io_, &snaps); !s.is_ok() || snaps.empty()) {
      return s.is_ok() ? std::string() : "snapshotter: " + s.message();
    }
    const std::uint64_t oldest = snaps.front().first;
    std::vector<std::string> names;
    if (journal::IoStatus s = io_->list(&names); !s) return "snapshotter: " + s.message();
    std::vector<std::pair<std::uint64_t, std::string>> segments;
    for (const std::string& n : names) {
      if (const auto first = journal::parse_segment_file_name(n)) segments.emplace_back(*first, n);
    }
    // A segment is wholly older if the next one starts before the oldest snapshot: so the
    // segment holding the snapshot's last entry stays (recovery from the snapshot reads
    // it, and checks the link into the next), and the next one holds an acknowledged
    // entry, so its header is durable.
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
      if (segments[i + 1].first >= oldest) break;
      if (journal::IoStatus s = io_->remove(segments[i].second); !s) {
        return "snapshotter: " + s.message();
      }
      ++*removed;
    }
    if (*removed > 0) {
      if (journal::IoStatus s = io_->sync_directory(); !s) return "snapshotter: " + s.message();
    }
    return {};
  }

  struct ClientRequest {
    std::uint64_t request;
    std::uint64_t sequence;
  };

  const std::string dir_;
  const SnapshotPolicy policy_;
  const std::string start_from_;
  const std::uint32_t journal_flags_;
  const std::atomic<std::uint64_t>& acknowledged_;
  std::atomic<bool> stop_{false};
  std::uint64_t newest_segment_ = 0;
  bool at_batch_end_ = true;  // the last entry applied ended a batch
  std::unique_ptr<journal::PosixBackend> io_;
  std::unique_ptr<journal::JournalReader> reader_;  // over io_: declared after it
  Projection<D> replica_;
  absl::btree_map<std::uint64_t, ClientRequest> sessions_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t last_snapshot_ = 0;
  std::uint64_t tx_sequence_ = 0;
  std::int64_t last_time_ = 0;
  journal::ChainHash chain_{};
  bool has_recorded_hash_ = false;
  StateHash recorded_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  SnapshotterStatus status_;
  std::thread thread_;
};

}  // namespace lockstep
