// Re-execution: every journaled command run again through the domain's handlers, and
// every TxResult compared byte for byte with the journal's (docs/replay.md). The library
// call an embedding application uses; lockstep-replay verify --reexecute calls it for the
// domains compiled into the tool.
//
// It starts from the empty state when the journal begins at sequence 0, else from the
// oldest snapshot at or after the journal's first sequence (loaded into the executor,
// whose state hash must then equal the snapshot's). The first divergence stops it, with
// both versions decoded to JSON. The caller checks that the journal is domain D's
// (lockstep-replay compares the descriptors before choosing D).
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/descriptor_check.h"
#include "engine/executor.h"
#include "engine/reexecutor.h"
#include "journal/journal_reader.h"
#include "replay/journal_scan.h"
#include "replay/replay.h"
#include "schema/descriptor.h"
#include "snapshot/load.h"
#include "snapshot/snapshot.h"

namespace lockstep::replay {

struct ReexecuteReport {
  std::uint64_t from_sequence = 0;  // where re-execution started
  std::string snapshot;             // the snapshot it started from, if any
  std::uint64_t commands = 0;       // re-executed
  std::uint64_t results = 0;        // compared
  bool diverged = false;
  std::uint64_t divergence_sequence = 0;  // the first command whose result differs
  std::string where;                      // its segment and frame
  std::string journal_json;               // the journal's result(s), decoded
  std::string reexecuted_json;            // what re-execution produced, decoded
};

namespace detail {
// Frames handed from the reading thread to the executing one: a bounded queue (by bytes).
class FrameFeed {
 public:
  struct Entry {
    std::size_t offset;
    std::size_t size;
    std::uint64_t sequence;
  };
  struct Frame {
    std::string segment;
    std::uint64_t frame_offset = 0;
    std::vector<std::byte> bytes;
    std::vector<Entry> entries;
  };
  static constexpr std::size_t kBytesMax = std::size_t{64} << 20;

  // False once the consumer has stopped (the reader should stop too).
  bool push(Frame&& f) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return stopped_ || queued_bytes_ < kBytesMax || frames_.empty(); });
    if (stopped_) return false;
    queued_bytes_ += f.bytes.size();
    frames_.push_back(std::move(f));
    ready_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    ready_.notify_one();
  }
  // False at the end (closed and drained).
  bool pop(Frame* out) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !frames_.empty(); });
    if (frames_.empty()) return false;
    *out = std::move(frames_.front());
    frames_.pop_front();
    queued_bytes_ -= out->bytes.size();
    room_.notify_one();
    return true;
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    room_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<Frame> frames_;
  std::size_t queued_bytes_ = 0;
  bool closed_ = false;
  bool stopped_ = false;
};

inline std::string results_json(const schema::Domain& d, std::span<const std::byte> bytes) {
  std::string out = "[";
  TxResultReader results(bytes);
  std::span<const std::byte> result;
  while (results.next(&result)) {
    TxResultView v;
    std::string why;
    if (out.size() > 1) out += ',';
    out += decode_tx_result(result, &v, &why)
               ? result_json(d, v)
               : "{\"undecodable\":\"" + schema::to_hex(result) + "\"}";
  }
  return out + "]";
}
}  // namespace detail

// An executor holding the snapshot `name`, or null with *why.
template <class D>
std::unique_ptr<Executor<D>> load_snapshot_into(journal::IoBackend& io, const std::string& name,
                                                const typename D::Handlers& handlers,
                                                EngineOptions options, std::string* why) {
  const std::unique_ptr<snapshot::SnapshotReader> snap = snapshot::open_snapshot<D>(io, name, why);
  if (!snap) return nullptr;
  if (!snapshot_fits_journal(io, name, snap->header(), why)) return nullptr;
  options.first_command_sequence = snap->header().next_sequence;
  options.first_tx_sequence = snap->header().tx_sequence;
  auto exec = std::make_unique<Executor<D>>(handlers, options);
  if (!snapshot::load_snapshot_state<D>(*snap, exec.get(), nullptr, nullptr, nullptr, why)) {
    return nullptr;
  }
  return exec;
}

namespace detail {
// An executor where io's journal begins: empty at sequence 0, else holding the oldest
// snapshot at or after the journal's first sequence that loads and hashes right (a
// refused one is skipped, as the engine's open does). Null with *error if there is none.
template <class D>
std::unique_ptr<Executor<D>> executor_at_start(journal::IoBackend& io,
                                               const typename D::Handlers& handlers,
                                               const EngineOptions& options,
                                               ReexecuteReport* report, std::string* error) {
  std::unique_ptr<journal::JournalReader> probe;
  if (auto s = journal::JournalReader::open(io, &probe); !s.is_ok()) {
    *error = s.message();
    return nullptr;
  }
  const std::uint64_t first = probe->first_sequence();
  probe.reset();
  std::unique_ptr<Executor<D>> exec;
  if (first > 0) {
    std::vector<std::pair<std::uint64_t, std::string>> all;
    if (snapshot::SnapshotStatus s = snapshot::list_snapshots(io, &all); !s.is_ok()) {
      *error = s.message();
      return nullptr;
    }
    std::string refused;
    for (const auto& [seq, name] : all) {
      if (seq < first) continue;
      std::string why;
      exec = load_snapshot_into<D>(io, name, handlers, options, &why);
      if (exec) {
        report->snapshot = name;
        break;
      }
      refused += "; " + why;
    }
    if (!exec) {
      *error = "the journal begins at sequence " + std::to_string(first) +
               " (older segments were removed) and no snapshot that loads covers it" + refused;
      return nullptr;
    }
  } else {
    exec = std::make_unique<Executor<D>>(handlers, options);
  }
  return exec;
}

}  // namespace detail

// Re-executes io's journal with domain D's handlers. `options` must give the capacities
// and limits the live engine ran with (a capacity refusal that did not happen live is a
// divergence). Returns false with *error if the journal cannot be read or re-execution
// cannot start; a divergence is not an error: it is in the report.
template <class D>
bool reexecute_journal(journal::IoBackend& io, const typename D::Handlers& handlers,
                       EngineOptions options, ReexecuteReport* report, std::string* error) {
  schema::Domain domain;
  if (!schema::decode_descriptor(D::descriptor(), &domain, error)) return false;
  const std::unique_ptr<Executor<D>> exec =
      detail::executor_at_start<D>(io, handlers, options, report, error);
  if (!exec) return false;
  report->from_sequence = exec->next_sequence();
  Reexecutor<D> reexecutor(*exec);
  std::string failure;
  // Re-executes one entry; false to stop (a failure or a divergence, in the report).
  const auto reexecute_one = [&](const JournalEntry& e) {
    switch (reexecutor.feed(e.bytes)) {
      case Reexecutor<D>::Step::kMalformed:
        failure = where(e) + ": " + reexecutor.error();
        return false;
      case Reexecutor<D>::Step::kDiverged: {
        ++report->commands;
        const Divergence& d = reexecutor.divergence();
        report->diverged = true;
        report->divergence_sequence = d.sequence;
        report->where = where(e);
        report->journal_json = detail::results_json(domain, d.journal);
        report->reexecuted_json = detail::results_json(domain, d.reexecuted);
        return false;
      }
      case Reexecutor<D>::Step::kMatched:
        ++report->commands;
        report->results += reexecutor.matched_count();
        return true;
      case Reexecutor<D>::Step::kPending: ++report->commands; return true;
    }
    return false;
  };
  // Reading and verifying the journal (checksums and the SHA-256 chain: as costly as
  // executing) runs on a thread of its own, a few frames ahead of execution.
  detail::FrameFeed feed;
  journal::RecoveryStatus s;
  std::thread reader([&] {
    detail::FrameFeed::Frame frame;
    s = scan_journal_from(io, exec->next_sequence(), [&](const JournalEntry& e) {
      if (frame.entries.empty()) {
        frame.segment = e.segment;
        frame.frame_offset = e.frame_offset;
      }
      frame.entries.push_back({frame.bytes.size(), e.bytes.size(), e.sequence});
      frame.bytes.insert(frame.bytes.end(), e.bytes.begin(), e.bytes.end());
      if (!e.last_in_frame) return true;
      const bool going = feed.push(std::move(frame));
      frame = {};
      return going;
    });
    feed.close();
  });
  detail::FrameFeed::Frame frame;
  bool going = true;
  while (going && feed.pop(&frame)) {
    for (const auto& meta : frame.entries) {
      JournalEntry e;
      e.segment = frame.segment;
      e.frame_offset = frame.frame_offset;
      e.sequence = meta.sequence;
      e.bytes = std::span<const std::byte>(frame.bytes).subspan(meta.offset, meta.size);
      going = reexecute_one(e);
      if (!going) break;
    }
  }
  feed.stop();  // the reader stops at its next frame
  reader.join();
  if (!failure.empty()) {
    *error = failure;
    return false;
  }
  if (report->diverged) return true;  // whatever lies after it
  if (!s.is_ok()) {
    *error = s.message();
    return false;
  }
  if (reexecutor.in_chain()) {
    *error = "the journal ends inside a linked chain";
    return false;
  }
  return true;
}

}  // namespace lockstep::replay
