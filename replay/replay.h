// Replay without domain code: a journal's deltas applied, in order, to a GenericState,
// with every consistency check a reader can make on the way (docs/replay.md).
//
// DeltaReplay is fed the journal's entries in order (replay/journal_scan.h), optionally
// starting from a snapshot. For each entry it checks that the TxResult decodes, that its
// sequence is the entry's, that its transaction sequence counts committed results, that
// logical time increases, that a refused result wrote nothing, that linked chains close,
// and that at every batch end the state hash the journal recorded is the one the deltas
// produce. It keeps what a snapshot needs: the session table (each client's newest
// request), the transaction sequence, the last logical time and the chain hash after the
// last complete frame.
//
// Thread safety: one thread.
#pragma once

#include <absl/container/btree_map.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/tx_result.h"
#include "journal/io_backend.h"
#include "replay/generic_state.h"
#include "replay/journal_scan.h"
#include "schema/model.h"
#include "snapshot/snapshot.h"

namespace lockstep::replay {

// Opens an existing journal directory for reading (never creates one).
[[nodiscard]] bool open_directory(const std::string& path, std::unique_ptr<journal::IoBackend>* out,
                                  std::string* error);

// "sequence 41 (00000000000000000000.lsj, frame at offset 8192)": where an entry is.
std::string where(const JournalEntry& e);

// What the journal's first segment header says: its descriptor, flags and first sequence.
struct JournalHead {
  std::vector<std::byte> descriptor;
  std::uint32_t flags = 0;
  std::uint64_t first_sequence = 0;
  std::string first_segment;
};
// False with *error if the directory has no segment or the first one's header is bad.
[[nodiscard]] bool read_journal_head(journal::IoBackend& io, JournalHead* out, std::string* error);

// The schema a journal embeds, decoded. False with *error if the bytes are not a valid
// descriptor or the journal has none (no segment).
[[nodiscard]] bool domain_of(std::span<const std::byte> descriptor, schema::Domain* out,
                             std::string* error);

// One TxResult as one JSON object (docs/replay.md, "dump"): identity, outcome by name,
// the command, the writes (after-images, erased keys) and the events, each decoded by
// field name through the schema; bytes the schema cannot decode are shown as hex with
// the reason.
std::string result_json(const schema::Domain& d, const TxResultView& r);

// A TxResult's events as a JSON array, as result_json shows them:
// [{"kind":NAME,"event":{...}}, ...].
std::string events_json(const schema::Domain& d, const TxResultView& r);
// One event's name ("kind_N" if the schema has none), and its fields as a JSON object
// (hex and the reason if they do not decode).
std::string event_name(const schema::Domain& d, std::uint16_t kind);
std::string event_fields_json(const schema::Domain& d, const TxEventView& e);

// Whether a snapshot belongs to io's journal: the journal reaches its sequence and has a
// frame boundary there with the snapshot's chain hash. False with *why otherwise (another
// history, a journal that ends before it, or corruption after it).
[[nodiscard]] bool snapshot_fits_journal(journal::IoBackend& io, const std::string& name,
                                         const snapshot::SnapshotHeader& h, std::string* why);

class DeltaReplay {
 public:
  struct ClientRequest {
    std::uint64_t request_id = 0;
    std::uint64_t sequence = 0;
  };

  explicit DeltaReplay(const schema::Domain& domain) : state_(domain) {}

  // Starts from the snapshot `name` in io's directory instead of an empty state: loads
  // and verifies it (it fits the journal, its checksums hold, and its records hash to the
  // state hash in its header).
  [[nodiscard]] bool load_snapshot(journal::IoBackend& io, const std::string& name,
                                   std::string* error);

  // Applies one entry (the next sequence). False, with *error saying where and what, if it
  // is inconsistent; the replay must not go on after that.
  [[nodiscard]] bool apply(const JournalEntry& e, std::string* error);

  const GenericState& state() const noexcept { return state_; }
  // The decoded result of the last entry applied (valid until the next apply).
  const TxResultView& last() const noexcept { return last_; }

  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  std::uint64_t tx_sequence() const noexcept { return tx_sequence_; }
  std::int64_t last_time_ns() const noexcept { return last_time_; }
  // After the last complete frame: where a snapshot may be taken (never inside a chain).
  bool at_frame_end() const noexcept { return at_frame_end_; }
  const journal::ChainHash& chain() const noexcept { return chain_; }
  const absl::btree_map<std::uint64_t, ClientRequest>& sessions() const noexcept {
    return sessions_;
  }

  std::uint64_t entries() const noexcept { return entries_; }
  std::uint64_t committed() const noexcept { return committed_; }
  std::uint64_t refused() const noexcept { return refused_; }
  std::uint64_t hashes_checked() const noexcept { return hashes_checked_; }
  bool in_chain() const noexcept { return in_chain_; }
  // The snapshot this replay started from, if any.
  const std::optional<snapshot::SnapshotHeader>& snapshot() const noexcept { return snapshot_; }

  // Writes a snapshot of the state now into io's directory. REQUIRES: at_frame_end().
  [[nodiscard]] bool write_snapshot(journal::IoBackend& io, std::uint32_t journal_flags,
                                    std::span<const std::byte> descriptor, std::string* name,
                                    std::string* error) const;

 private:
  GenericState state_;
  TxResultView last_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t tx_sequence_ = 0;
  std::int64_t last_time_ = 0;
  bool any_ = false;  // an entry was applied (or a snapshot loaded)
  bool at_frame_end_ = true;
  bool in_chain_ = false;
  journal::ChainHash chain_{};
  absl::btree_map<std::uint64_t, ClientRequest> sessions_;
  std::uint64_t entries_ = 0;
  std::uint64_t committed_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t hashes_checked_ = 0;
  std::optional<snapshot::SnapshotHeader> snapshot_;
};

// A replay that starts from the newest snapshot in io's directory whose next_sequence is
// at most `at_most` and that verifies; snapshots that fail to verify are skipped, each
// noted in *skipped ("snapshot-...: why"). With no usable snapshot, or with `at_most`
// empty, a replay from the empty state (at sequence 0).
std::unique_ptr<DeltaReplay> start_replay(journal::IoBackend& io, const schema::Domain& domain,
                                          std::optional<std::uint64_t> at_most,
                                          std::vector<std::string>* skipped);

}  // namespace lockstep::replay
