// Executor<D>: the single writer. Runs one command at a time against staged state,
// commits it all-or-nothing and serializes its TxResult (engine/tx_result.h) straight
// into the caller's buffer: in the engine, the journal's frame payload.
//
// D is a generated domain (schemac): Tables (a tuple of Table<...>), Tx, Handlers,
// dispatch(), kRecordBytesMax. Per command:
//
//   1. the handler for its kind runs with a Tx (typed accessors over the tables) and
//      returns ok or a reject code;
//   2. if ok, and nothing was refused on the way, the engine checks what it wrote: the
//      secondary indexes are synced (unique keys!), no primary key changed, every named
//      invariant of every written record holds, every state-machine edge is declared;
//   3. ok: the state hash takes the writes, the TxResult carries the after-images, erased
//      keys and events. Refused: every write is taken back; the result carries the reject
//      code and detail, no writes, no events.
//
// Linked chains: a command with `linked` set commits together with the commands after
// it, up to and including the first without the flag. If one is refused, all are: it
// carries its own reason, the others kLinkedChainFailed. A batch that ends inside a chain
// refuses the chain (kLinkedChainOpen). A chain's results are staged in the executor's
// own buffer and reach the caller's when the chain ends.
//
// Determinism: handlers see the command, its logical time and the state; results and
// the state hash depend on nothing else (docs/determinism.md).
//
// Thread safety: one thread (the execute stage's). Memory: everything is sized at
// construction from EngineOptions; nothing allocates per command (scans of more than 1024
// records grow one scratch vector once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "engine/outcome.h"
#include "engine/state_hash.h"
#include "engine/table.h"
#include "engine/tx_core.h"
#include "engine/tx_result.h"

namespace lockstep {

struct EngineOptions {
  // Capacity of each table, by table id; tables beyond the list get default_capacity.
  std::vector<std::uint32_t> table_capacity;
  std::uint32_t default_capacity = 1u << 20;
  // Allocate every table's storage and index tables at start (no allocation later).
  bool preallocate = false;
  // Without preallocate: records to allocate for at start anyway, by table id (a hint, not
  // a limit: re-execution of a journal whose final sizes are known).
  std::vector<std::uint32_t> table_reserve;
  TxLimits limits;
  // The largest TxResult; a command whose result would be larger is refused.
  std::uint32_t result_bytes_max = 1u << 20;
  // The longest linked chain, in commands and in result bytes; a longer one is refused
  // as a whole.
  std::uint32_t chain_length_max = 256;
  std::uint32_t chain_bytes_max = 4u << 20;
  // Where sequences start (after recovery: the journal's next sequence).
  std::uint64_t first_command_sequence = 0;
  std::uint64_t first_tx_sequence = 0;

  // Throws std::invalid_argument naming the first bad field.
  void validate() const;

  // The running engine's defaults (EngineConfig::executor): a TxResult under 64 KiB, a
  // chain of at most 64 commands and 256 KiB. Re-execution must use the live limits.
  static EngineOptions running_engine_defaults() {
    EngineOptions o;
    o.result_bytes_max = 64u << 10;
    o.chain_bytes_max = 256u << 10;
    o.chain_length_max = 64;
    return o;
  }
};

// One command as the executor takes it.
struct CommandView {
  std::uint16_t kind = 0;
  bool linked = false;
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  std::uint64_t sequence = 0;  // must be the executor's next_sequence()
  std::int64_t logical_time_ns = 0;
  std::span<const std::byte> payload;
};

// The command a journaled TxResult records, as the executor takes it again (replay,
// re-execution): its identity, logical time, linked flag and payload, and whether it
// ended its batch. False if `tx` is shorter than a header or the command overruns it.
inline bool command_of_result(std::span<const std::byte> tx, CommandView* v, bool* batch_end) {
  if (tx.size() < kTxResultHeaderBytes) return false;
  const TxResultHeader h = read_tx_result_header(tx.data());
  v->kind = h.command_kind;
  v->linked = h.linked();
  v->client_id = h.client_id;
  v->request_id = h.request_id;
  v->sequence = h.command_sequence;
  v->logical_time_ns = h.logical_time_ns;
  *batch_end = h.batch_end();
  if (h.command_bytes > tx.size() - kTxResultHeaderBytes) return false;
  v->payload = tx.subspan(kTxResultHeaderBytes, h.command_bytes);
  return true;
}

struct ExecuteResult {
  std::size_t bytes = 0;      // written to the caller's buffer
  std::uint32_t results = 0;  // TxResults among them (0 while a chain stays open)
};

template <class D>
class Executor {
 public:
  using Tables = typename D::Tables;
  using Tx = typename D::Tx;
  using Handlers = typename D::Handlers;

  // Throws std::invalid_argument if options are bad or a handler is missing.
  Executor(const Handlers& handlers, EngineOptions options)
      : options_(validated(std::move(options))),
        handlers_(checked(handlers)),
        tables_(make_tables(std::make_index_sequence<std::tuple_size_v<Tables>>{})),
        core_(table_bases(), options_.limits, D::kRecordBytesMax),
        tx_(core_, tables_),
        next_sequence_(options_.first_command_sequence),
        tx_sequence_(options_.first_tx_sequence),
        chain_buffer_(options_.chain_bytes_max) {}

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // How many free bytes the caller's buffer must have for the next execute(): one
  // result, plus the results of the open chain, which are copied out when it ends.
  std::size_t room_needed() const noexcept { return options_.result_bytes_max + chain_used_; }

  // Executes `cmd` (the last of its batch if `batch_end`: its result then also carries
  // the state hash) and writes the results that are final into `out`, from its start.
  // REQUIRES: cmd.sequence == next_sequence(); out.size() >= room_needed().
  ExecuteResult execute(const CommandView& cmd, bool batch_end, std::span<std::byte> out) {
    if (cmd.payload.size() > D::kCommandBytesMax) [[unlikely]] {
      // Larger than any command of the domain: malformed whatever its kind. Its result
      // records it without the payload, so results stay within their limit.
      CommandView trimmed = cmd;
      trimmed.payload = {};
      return execute(trimmed, batch_end, out);
    }
    LS_ASSERT(cmd.sequence == next_sequence_);
    LS_ASSERT(out.size() >= room_needed());
    ++next_sequence_;
    const bool in_chain = cmd.linked || chain_length_ > 0;
    if (!in_chain) {
      Sink sink{out.data(), 0};
      (void)run(sink, cmd);
      core_.clear();
      std::size_t bytes = sink.used;
      if (batch_end) bytes = append_state_hash(out.data(), last_result_offset_, bytes);
      return {bytes, 1};
    }
    if (chain_failed_) {
      // The rest of a refused chain: each result is final, straight to the caller.
      Sink sink{out.data(), 0};
      write_refused(sink, cmd, Outcome::engine(EngineReject::kLinkedChainFailed, chain_failed_at_));
      if (!cmd.linked || batch_end) end_chain();  // a chain never outlives its batch
      std::size_t bytes = sink.used;
      if (batch_end) bytes = append_state_hash(out.data(), last_result_offset_, bytes);
      return {bytes, 1};
    }
    if (chain_length_ == 0) {
      chain_hash_ = hash_;
      chain_tx_sequence_ = tx_sequence_;
    }
    const std::uint32_t position = chain_length_;
    Sink sink{chain_buffer_.data(), chain_used_};
    Outcome failed;
    // A member runs only if its result and one refused result after it fit the buffer.
    if (position >= options_.chain_length_max ||
        chain_used_ + options_.result_bytes_max + refused_bytes_max() > chain_buffer_.size()) {
      failed =
          Outcome::engine(EngineReject::kCapacityExceeded,
                          kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kChainLength));
      write_refused(sink, cmd, failed);
    } else {
      failed = run(sink, cmd);
    }
    chain_used_ = sink.used;
    ++chain_length_;
    if (!failed.is_ok()) {
      // Refused: so is every member so far, and every one still to come.
      fail_chain(position, failed, Outcome::engine(EngineReject::kLinkedChainFailed, position));
    } else if (cmd.linked && batch_end) {
      // The batch ends inside the chain: all of it is refused.
      const Outcome open = Outcome::engine(EngineReject::kLinkedChainOpen);
      fail_chain(kNoPosition, open, open);
    } else if (cmd.linked) {
      return {};  // the chain goes on
    } else {
      core_.clear();  // the chain ends: its writes stand
    }
    // The chain's results so far are final: they go to the caller.
    std::memcpy(out.data(), chain_buffer_.data(), chain_used_);
    ExecuteResult r{chain_used_, chain_length_};
    if (batch_end) r.bytes = append_state_hash(out.data(), last_result_offset_, r.bytes);
    if (!cmd.linked || batch_end) {
      end_chain();
    } else {
      chain_used_ = 0;  // a refused chain goes on: its next members are written directly
    }
    return r;
  }

  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  std::uint64_t tx_sequence() const noexcept { return tx_sequence_; }
  // The incrementally maintained state hash (after the last closed command or chain).
  const StateHash& state_hash() const noexcept { return hash_; }
  // The state hash computed from every live record, to check the incremental one.
  StateHash recompute_state_hash() const {
    StateHash h;
    std::apply([&](const auto&... t) { (t.hash_all(&h), ...); }, tables_);
    return h;
  }
  const Tables& tables() const noexcept { return tables_; }
  const EngineOptions& options() const noexcept { return options_; }

  // Loads one record of a snapshot (snapshot/snapshot.h) into an executor that has executed
  // nothing yet (options.first_command_sequence and first_tx_sequence are the snapshot's),
  // keeping the state hash; finish_load() then builds the indexes. Refuses (false, *error
  // says why) an unknown table, an image of the wrong size or a full table; then the
  // executor must be discarded.
  [[nodiscard]] bool load_record(std::uint16_t table, std::span<const std::byte> image,
                                 std::string* error) {
    LS_ASSERT(next_sequence_ == options_.first_command_sequence && chain_length_ == 0);
    bool found = false;
    bool ok = false;
    for_each_table([&](std::size_t i, auto& t) {
      if (i != table) return;
      found = true;
      using Record = typename std::remove_reference_t<decltype(t)>::Record;
      if (image.size() != sizeof(Record)) {
        *error = "a record of table " + std::to_string(table) + " of " +
                 std::to_string(image.size()) + " bytes, not " + std::to_string(sizeof(Record));
      } else if (!t.load_image(image.data(), &hash_)) {
        *error = "table " + std::to_string(table) + " is full at " + std::to_string(t.capacity()) +
                 " records (configure a larger capacity)";
      } else {
        ok = true;
      }
    });
    if (!found)
      *error = "a record of table " + std::to_string(table) + ", which is not in the schema";
    return ok;
  }
  // After the last load_record(): the tasks that build every index (Table::load_tasks),
  // to run with run_load_tasks (engine/load_tasks.h), perhaps with others. If one fails
  // (two records share a key) the executor must be discarded.
  void load_tasks(std::vector<LoadTask>* tasks) {
    for_each_table([&](std::size_t, auto& t) { t.load_tasks(tasks); });
  }
  // load_tasks(), run on every core.
  [[nodiscard]] bool finish_load(std::string* error) {
    std::vector<LoadTask> tasks;
    load_tasks(&tasks);
    return run_load_tasks(std::move(tasks), error);
  }

 private:
  struct Sink {
    std::byte* base;
    std::size_t used;
  };

  static EngineOptions validated(EngineOptions o) {
    o.validate();
    return o;
  }
  static const Handlers& checked(const Handlers& h) {
    if (const char* missing = D::missing_handler(h); missing != nullptr) {
      throw std::invalid_argument(std::string("no handler for command '") + missing + "'");
    }
    return h;
  }
  template <std::size_t... I>
  Tables make_tables(std::index_sequence<I...>) const {
    return Tables{typename std::tuple_element_t<I, Tables>(
        capacity_of(I), options_.preallocate,
        I < options_.table_reserve.size() ? options_.table_reserve[I] : 0)...};
  }
  std::uint32_t capacity_of(std::size_t table) const noexcept {
    return table < options_.table_capacity.size() ? options_.table_capacity[table]
                                                  : options_.default_capacity;
  }
  template <class F>
  void for_each_table(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (f(I, std::get<I>(tables_)), ...); }
    (std::make_index_sequence<std::tuple_size_v<Tables>>{});
  }
  std::vector<TableBase*> table_bases() {
    std::vector<TableBase*> v;
    std::apply([&](auto&... t) { (v.push_back(&t), ...); }, tables_);
    return v;
  }

  void write_header(Sink& s, const CommandView& cmd, Outcome outcome, std::uint32_t writes,
                    std::uint32_t events, std::size_t body) noexcept {
    last_result_offset_ = s.used;
    TxResultHeader h;
    h.flags = cmd.linked ? kTxFlagLinked : 0;
    h.command_kind = cmd.kind;
    h.client_id = cmd.client_id;
    h.request_id = cmd.request_id;
    h.command_sequence = cmd.sequence;
    h.tx_sequence = tx_sequence_;
    h.logical_time_ns = cmd.logical_time_ns;
    h.outcome_code = outcome.code();
    h.outcome_detail = outcome.detail();
    h.command_bytes = static_cast<std::uint32_t>(cmd.payload.size());
    h.write_count = writes;
    h.event_count = events;
    h.body_bytes = static_cast<std::uint32_t>(body);
    TxResultWriter::header(s.base + s.used, h);
    s.used += kTxResultHeaderBytes;
    if (!cmd.payload.empty()) std::memcpy(s.base + s.used, cmd.payload.data(), cmd.payload.size());
    s.used += cmd.payload.size();
  }

  void write_refused(Sink& s, const CommandView& cmd, Outcome why) noexcept {
    write_header(s, cmd, why, 0, 0, cmd.payload.size());
  }

  // Runs one command as a member: commits it (its result with writes and events) or
  // takes it back (its result with the reason). Returns its outcome.
  Outcome run(Sink& s, const CommandView& cmd) {
    core_.begin_member(cmd.logical_time_ns);
    Outcome outcome = D::dispatch(handlers_, cmd.kind, cmd.payload, tx_);
    if (core_.doomed() || outcome.is_ok()) outcome = core_.finish_member();
    std::size_t body = 0;
    std::uint32_t writes = 0;
    if (outcome.is_ok()) {
      body = cmd.payload.size() + core_.member_events().size();
      for (const TxCore::Entry& e : core_.member_entries()) {
        if (const std::size_t n = delta_bytes(e); n != 0) {
          body += kTxWriteHeaderBytes + n;
          ++writes;
        }
      }
      if (kTxResultHeaderBytes + body + kTxStateHashBytes > options_.result_bytes_max) {
        outcome = Outcome::engine(
            EngineReject::kCapacityExceeded,
            kLimitDetailBase | static_cast<std::uint32_t>(EngineLimit::kResultBytes));
      }
    }
    if (!outcome.is_ok()) {
      core_.rollback_member();
      write_refused(s, cmd, outcome);
      return outcome;
    }
    ++tx_sequence_;
    write_header(s, cmd, outcome, writes, core_.member_event_count(), body);
    for (const TxCore::Entry& e : core_.member_entries()) write_delta(s, e);
    const std::span<const std::byte> events = core_.member_events();
    if (!events.empty()) std::memcpy(s.base + s.used, events.data(), events.size());
    s.used += events.size();
    core_.apply_member(&hash_);
    return outcome;
  }

  // After-image of a live record; primary key of one erased; nothing for one inserted
  // and erased by the same command.
  static std::size_t delta_bytes(const TxCore::Entry& e) noexcept {
    if (e.is_live()) return e.bytes;
    return e.existed ? e.table->primary_bytes() : 0;
  }

  void write_delta(Sink& s, const TxCore::Entry& e) noexcept {
    std::byte* p = s.base + s.used;
    std::uint32_t n = 0;
    std::uint8_t op = 0;
    if (e.is_live()) {
      op = kWriteUpsert;
      n = e.bytes;
      std::memcpy(p + kTxWriteHeaderBytes, e.record, n);
    } else if (e.existed) {
      op = kWriteErase;
      n = e.table->encode_primary(core_.image(e.before), p + kTxWriteHeaderBytes);
    } else {
      return;
    }
    TxResultWriter::write_header(p, {op, e.table->id(), n});
    s.used += kTxWriteHeaderBytes + n;
  }

  static constexpr std::uint32_t kNoPosition = 0xFFFFFFFFu;

  // The largest refused result: a header and the largest command.
  static constexpr std::size_t refused_bytes_max() noexcept {
    return kTxResultHeaderBytes + D::kCommandBytesMax;
  }

  void end_chain() noexcept {
    chain_used_ = 0;
    chain_length_ = 0;
    chain_failed_ = false;
  }

  // Refuses the open chain: takes back what its members applied, restores the state
  // hash and transaction sequence, and rewrites every result in the chain buffer as
  // refused, with no writes or events: the member at `failing` with `why`, the others
  // with `others`.
  void fail_chain(std::uint32_t failing, Outcome why, Outcome others) noexcept {
    if (!chain_failed_) {
      core_.rollback_applied();
      hash_ = chain_hash_;
      tx_sequence_ = chain_tx_sequence_;
      chain_failed_ = true;
      chain_failed_at_ = failing;
    }
    std::size_t read = 0;
    std::size_t write = 0;
    std::uint32_t position = 0;
    while (read < chain_used_) {
      std::byte* p = chain_buffer_.data() + read;
      const std::size_t was = tx_result_size(p);
      const std::size_t now =
          TxResultWriter::refuse(p, chain_tx_sequence_, position == failing ? why : others);
      std::memmove(chain_buffer_.data() + write, p, now);
      last_result_offset_ = write;
      write += now;
      read += was;
      ++position;
    }
    chain_used_ = write;
  }

  // Marks the result at `at` as its batch's last and appends the state hash.
  std::size_t append_state_hash(std::byte* base, std::size_t at, std::size_t end) noexcept {
    LS_ASSERT(at + tx_result_size(base + at) == end);
    return at + TxResultWriter::end_batch(base + at, hash_);
  }

  const EngineOptions options_;
  const Handlers handlers_;
  Tables tables_;
  TxCore core_;
  Tx tx_;
  std::uint64_t next_sequence_;
  std::uint64_t tx_sequence_;
  StateHash hash_;
  // Linked chain state.
  std::vector<std::byte> chain_buffer_;
  std::size_t chain_used_ = 0;
  std::uint32_t chain_length_ = 0;
  bool chain_failed_ = false;
  std::uint32_t chain_failed_at_ = 0;
  StateHash chain_hash_;
  std::uint64_t chain_tx_sequence_ = 0;
  std::size_t last_result_offset_ = 0;
};

}  // namespace lockstep
