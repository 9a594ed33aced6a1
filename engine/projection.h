// Projection<D>: a read-only copy of a domain's tables, kept current from committed
// TxResults, for queries while the engine runs (the `project` stage; docs/embedding.md,
// "Queries").
//
// It applies each committed TxResult's delta (after-images and erased keys) to its own
// tables, never running a handler: erased records go first, then records whose keys
// change; records whose keys did not change are overwritten in place, and the rest
// inserted. A TxResult's final state never has two records on one key (the writer
// refused any command that would), so this order never meets a conflict, whatever order
// the writes come in.
//
// Readers take a shared lock and see the tables between two applied batches: a
// consistent, durable prefix of the history (the project stage runs behind the journal
// stage). Queries use Table<T>'s read API (engine/table.h): slot_of(), record(),
// find_unique(), scan(), scan_prefix(), for_each().
//
// Thread safety: apply() from the project stage's thread only, inside write(); read()
// from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "engine/executor.h"
#include "engine/tx_result.h"

namespace lockstep {

template <class D>
class Projection {
 public:
  using Tables = typename D::Tables;

  // Tables of the writer's capacities (options.table_capacity), allocated as they fill.
  explicit Projection(const EngineOptions& options)
      : tables_(make(options, std::make_index_sequence<std::tuple_size_v<Tables>>{})) {
    writes_.reserve(options.limits.writes_per_command_max);
  }

  Projection(const Projection&) = delete;
  Projection& operator=(const Projection&) = delete;

  // Calls f(tables, next_sequence) under the shared lock: `next_sequence` is the first
  // command sequence whose effects are not in the tables yet.
  template <class F>
  decltype(auto) read(F&& f) const {
    std::shared_lock lock(mutex_);
    return std::forward<F>(f)(std::as_const(tables_), next_sequence_);
  }

  // The project stage: applies TxResults inside f(apply_fn) under the exclusive lock.
  template <class F>
  void write(F&& f) {
    std::unique_lock lock(mutex_);
    std::forward<F>(f)();
  }

  // Applies one TxResult (committed or refused: a refused one has no writes) and moves
  // next_sequence past it. Call inside write(). REQUIRES: TxResults in sequence order,
  // each as the executor wrote it.
  void apply(std::span<const std::byte> tx) {
    const TxResultHeader h = read_tx_result_header(tx.data());
    next_sequence_ = h.command_sequence + 1;
    if (h.write_count == 0) return;
    // Collect the writes.
    writes_.clear();
    std::size_t at = kTxResultHeaderBytes + h.command_bytes;
    for (std::uint32_t i = 0; i < h.write_count; ++i) {
      const TxWriteHeader wh = read_tx_write_header(tx.data() + at);
      Write w;
      w.op = wh.op;
      w.table = wh.table;
      w.bytes = tx.subspan(at + kTxWriteHeaderBytes, wh.bytes);
      writes_.push_back(w);
      at += kTxWriteHeaderBytes + wh.bytes;
    }
    // 1. Erases: out (first, so an erase and a re-insert of one key in one command meet
    // in that order, whatever the order of their writes).
    for (Write& w : writes_) {
      if (w.op != kWriteErase) continue;
      on_table(w.table, [&](auto& t) {
        const std::uint32_t slot = t.slot_of_key(w.bytes);
        LS_ASSERT(slot != kNoSlot);
        t.remove_slot(slot);
      });
      w.done = true;
    }
    // 2. Upserts whose keys change: out. Upserts with the same keys: in place.
    for (Write& w : writes_) {
      if (w.done) continue;
      on_table(w.table, [&](auto& t) {
        LS_ASSERT(w.bytes.size() == t.record_bytes());
        const std::uint32_t slot = t.slot_of_image(w.bytes.data());
        if (slot == kNoSlot) return;
        if (t.overwrite_same_keys(slot, w.bytes.data())) {
          w.done = true;
        } else {
          t.remove_slot(slot);
        }
      });
    }
    // 3. The rest: inserted.
    for (const Write& w : writes_) {
      if (w.done) continue;
      on_table(w.table, [&](auto& t) { t.insert_image(w.bytes.data()); });
    }
  }

  // Loads one record of a snapshot (the engine checked it, loading the same snapshot into
  // its executor first). Call inside write(), before any apply().
  void load_record(std::uint16_t table, std::span<const std::byte> image) {
    on_table(table, [&](auto& t) {
      LS_ASSERT(image.size() == t.record_bytes());
      StateHash ignored;
      const bool loaded = t.load_image(image.data(), &ignored);
      LS_ASSERT(loaded);
    });
  }
  // After the last load_record(): the tasks that build every index (Table::load_tasks),
  // to run with run_load_tasks (engine/load_tasks.h). One fails only where the
  // executor's, given the same records, fails too (the engine builds both together).
  void load_tasks(std::vector<LoadTask>* tasks) {
    std::apply([&](auto&... t) { (t.load_tasks(tasks), ...); }, tables_);
  }
  // load_tasks(), run on every core, for records the engine's executor already accepted.
  void finish_load() {
    std::vector<LoadTask> tasks;
    load_tasks(&tasks);
    std::string error;
    const bool ok = run_load_tasks(std::move(tasks), &error);
    LS_ASSERT(ok);
  }
  // Where the tables stand: the first sequence whose effects are not in them (after a
  // snapshot's load).
  void set_next_sequence(std::uint64_t next) noexcept { next_sequence_ = next; }
  // The tables, for the one thread that applies (the snapshotter's private replica).
  const Tables& tables_unlocked() const noexcept { return tables_; }

 private:
  struct Write {
    std::uint8_t op = 0;
    std::uint16_t table = 0;
    std::span<const std::byte> bytes;
    bool done = false;
  };

  template <std::size_t... I>
  static Tables make(const EngineOptions& o, std::index_sequence<I...>) {
    return Tables{typename std::tuple_element_t<I, Tables>(
        I < o.table_capacity.size() ? o.table_capacity[I] : o.default_capacity, false)...};
  }

  // f(table) for the table with id `id` (table ids are tuple indexes).
  template <class F>
  void on_table(std::uint16_t id, F&& f) {
    bool found = false;
    std::apply([&](auto&... t) { ((t.id() == id ? (f(t), found = true) : false), ...); }, tables_);
    LS_ASSERT(found);
  }

  mutable std::shared_mutex mutex_;
  Tables tables_;
  std::uint64_t next_sequence_ = 0;
  std::vector<Write> writes_;
};

}  // namespace lockstep
