#include "replay/journal_scan.h"

#include <memory>

#include "journal/frame.h"
#include "journal/segment_header.h"

namespace lockstep::replay {

namespace {

// Visits a good frame's entries from `from` on; false once the visitor stops.
bool visit_frame(const journal::DecodedFrame& frame, std::uint64_t from,
                 const EntryVisitor& visit) {
  JournalEntry e;
  e.segment = journal::segment_file_name(frame.header.segment_first_sequence);
  e.frame_offset = frame.header.segment_offset;
  e.frame_chain = frame.chain;
  e.frame_bytes = frame.header.frame_bytes;
  journal::EntryReader entries(frame.payload);
  std::uint64_t seq = frame.header.first_sequence;
  while (!entries.done()) {
    e.bytes = entries.next();
    e.sequence = seq++;
    e.last_in_frame = entries.done();
    if (e.sequence < from) continue;
    if (!visit(e)) return false;
  }
  return true;
}

}  // namespace

journal::RecoveryStatus scan_journal(journal::IoBackend& io, journal::RecoveryReport* report,
                                     const EntryVisitor& visit) {
  bool going = true;
  return journal::recover_journal(io, journal::RecoveryMode::kVerifyOnly, report,
                                  [&](const journal::DecodedFrame& frame) {
                                    if (going) going = visit_frame(frame, 0, visit);
                                  });
}

journal::RecoveryStatus scan_journal_from(journal::IoBackend& io, std::uint64_t from,
                                          const EntryVisitor& visit,
                                          journal::RecoveryReport* report) {
  journal::RecoveryReport ignored;
  bool going = true;
  return journal::recover_journal(
      io, journal::RecoveryMode::kVerifyOnly, report != nullptr ? report : &ignored,
      [&](const journal::DecodedFrame& frame) {
        if (going && frame.header.last_sequence >= from) going = visit_frame(frame, from, visit);
      },
      from);
}

}  // namespace lockstep::replay
