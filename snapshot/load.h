// Loading a snapshot into domain D's state: the one snapshot load, used by the running
// engine's open (runtime/engine.h), re-execution (replay/reexecute.h) and the background
// snapshotter (snapshot/snapshotter.h).
//
//   open_snapshot<D>       opens and verifies the file (snapshot/snapshot.h) and checks that
//                          it was written by domain D's schema;
//   load_snapshot_state<D> reads its sessions and records into an executor and/or a
//                          projection, builds their indexes together on every core, and
//                          (with an executor) checks that the records hash to the header's
//                          state hash.
//
// A refused snapshot says why, naming the file; whatever was loaded must then be
// discarded.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/descriptor_check.h"
#include "engine/executor.h"
#include "engine/load_tasks.h"
#include "engine/projection.h"
#include "journal/io_backend.h"
#include "snapshot/snapshot.h"

namespace lockstep::snapshot {

// Where a load spent its time, in seconds: reading, verifying and placing the records,
// and building the indexes.
struct LoadTimes {
  double read_seconds = 0;
  double index_seconds = 0;
};

// Opens the snapshot `name` for domain D: null with *why if it is unreadable, corrupt or
// another schema's.
template <class D>
std::unique_ptr<SnapshotReader> open_snapshot(journal::IoBackend& io, const std::string& name,
                                              std::string* why) {
  std::unique_ptr<SnapshotReader> reader;
  if (SnapshotStatus s = SnapshotReader::open(io, name, &reader); !s.is_ok()) {
    *why = s.message();
    return nullptr;
  }
  if (std::string e = check_descriptor<D>(reader->header().descriptor, name); !e.empty()) {
    *why = e;
    return nullptr;
  }
  return reader;
}

// Reads `reader`'s snapshot into `executor` and `projection` (either may be null; both
// empty, at the header's sequences), calling on_session for each client's newest request.
// False with *why if the file is corrupt, a record does not fit, two records share a key,
// or (with an executor) the records do not hash to the header's state hash.
template <class D>
bool load_snapshot_state(SnapshotReader& reader, Executor<D>* executor, Projection<D>* projection,
                         const std::function<void(const ClientRecord&)>& on_session,
                         LoadTimes* times, std::string* why) {
  const std::string& name = reader.file_name();
  const auto now = [] { return std::chrono::steady_clock::now(); };
  const auto seconds = [](auto from, auto to) {
    return std::chrono::duration<double>(to - from).count();
  };
  const auto t0 = now();
  std::string bad;
  const SnapshotStatus s = reader.read(
      [&](const ClientRecord& x) {
        if (on_session) on_session(x);
      },
      [&](std::uint16_t table, std::span<const std::byte> image) {
        if (!bad.empty()) return;
        if (executor != nullptr && !executor->load_record(table, image, &bad)) return;
        if (projection != nullptr) projection->load_record(table, image);
      });
  const auto t1 = now();
  if (s.is_ok() && bad.empty()) {
    // The indexes of both, built together on every core.
    std::vector<LoadTask> tasks;
    if (executor != nullptr) executor->load_tasks(&tasks);
    if (projection != nullptr) projection->load_tasks(&tasks);
    (void)run_load_tasks(std::move(tasks), &bad);
  }
  if (times != nullptr) {
    times->read_seconds = seconds(t0, t1);
    times->index_seconds = seconds(t1, now());
  }
  if (!s.is_ok()) {
    *why = s.message();
  } else if (!bad.empty()) {
    *why = name + ": " + bad;
  } else if (executor != nullptr && !(executor->state_hash() == reader.header().state_hash)) {
    *why = name + ": its records do not hash to the state hash in its header";
  } else {
    return true;
  }
  return false;
}

}  // namespace lockstep::snapshot
