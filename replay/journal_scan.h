// Reading a journal's entries for replay tools, without writing anything.
//
// Both read with recovery's checks in read-only mode (journal::RecoveryMode::kVerifyOnly):
// a torn tail, what a crash leaves and what the engine drops on its next open, is
// reported in the RecoveryReport, not refused; any corruption is refused naming segment,
// offset and sequence (after the visitor has seen every good frame before it).
// scan_journal_from starts at the segment holding the sequence before `from`, so its cost
// does not grow with the history before it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "journal/chain_hash.h"
#include "journal/io_backend.h"
#include "journal/recovery.h"

namespace lockstep::replay {

struct JournalEntry {
  std::string segment;             // the segment file
  std::uint64_t frame_offset = 0;  // where its frame starts in that file
  std::uint64_t sequence = 0;
  std::span<const std::byte> bytes;  // the encoded TxResult
  bool last_in_frame = false;
  journal::ChainHash frame_chain{};  // the chain hash after its frame
  std::uint32_t frame_bytes = 0;
};
// Returns false to stop the scan.
using EntryVisitor = std::function<bool(const JournalEntry&)>;

// Every entry of the journal, in order (see above).
journal::RecoveryStatus scan_journal(journal::IoBackend& io, journal::RecoveryReport* report,
                                     const EntryVisitor& visit);

// The entries from sequence `from` on (earlier entries of the segments read are
// skipped). REQUIRES: the journal's first segment starts at or before `from`.
journal::RecoveryStatus scan_journal_from(journal::IoBackend& io, std::uint64_t from,
                                          const EntryVisitor& visit,
                                          journal::RecoveryReport* report = nullptr);

}  // namespace lockstep::replay
