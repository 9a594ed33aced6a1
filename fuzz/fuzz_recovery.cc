// Journal recovery (journal/recovery.h) and the journal reader (journal/journal_reader.h)
// on a MemoryDisk whose files come from the input (disk_image.h: 1 to 4 files, segment
// names or not).
//
// Each mode runs on its own fresh disk. Contracts checked:
// - recover_journal returns a status for any directory, in every mode;
// - the visitor sees report.frames frames, whose payloads hold report.entries entries;
// - kVerifyOnly and kRepairTornTail make the same decisions: both succeed or both fail,
//   with the same tail, frames, entries and torn-tail verdict;
// - kSalvage succeeds where kRepairTornTail does, the same way and salvaging nothing;
// - after a successful repair or salvage the journal is clean: recovering it again
//   (kVerifyOnly) succeeds, finds no torn tail, and ends at the same tail;
// - recovery from a sequence (as when opening from a snapshot) succeeds where recovery
//   from the start does, unless the journal starts after that sequence, and ends at the
//   same place if the journal reaches that sequence;
// - a JournalReader reads a repaired journal, from the start and from a sequence, to its
//   end without an error, meeting report.entries entries; on the unrepaired directory it
//   may fail but must not crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fuzz/disk_image.h"
#include "fuzz/fuzz_check.h"
#include "journal/journal_reader.h"
#include "journal/memory_disk.h"
#include "journal/recovery.h"

namespace {

using namespace lockstep;
using namespace lockstep::journal;

// Inputs larger than this are skipped: small files keep runs fast.
constexpr std::size_t kInputBytesMax = std::size_t{1} << 20;
// Frames a reader takes from a damaged directory before giving up (each read is bounded).
constexpr int kReaderFramesMax = 4096;

struct Run {
  RecoveryStatus status;
  RecoveryReport report;
};

std::string describe(const Run& r) {
  return r.status.message() + " (next sequence " + std::to_string(r.report.tail.next_sequence) +
         ", " + std::to_string(r.report.frames) + " frames, " + std::to_string(r.report.entries) +
         " entries" +
         (r.report.torn_tail ? ", torn tail: " + r.report.torn_detail : std::string()) +
         (r.report.salvaged ? ", salvaged: " + r.report.salvage_detail : std::string()) + ")";
}

Run recover(MemoryDisk& disk, RecoveryMode mode, std::uint64_t from_sequence = 0) {
  Run r;
  std::uint64_t frames = 0;
  std::uint64_t entries = 0;
  r.status = recover_journal(
      disk, mode, &r.report,
      [&](const DecodedFrame& frame) {
        ++frames;
        EntryReader reader(frame.payload);
        while (!reader.done()) {
          (void)reader.next();
          ++entries;
        }
      },
      from_sequence);
  if (r.status.is_ok()) {
    FUZZ_CHECK(frames == r.report.frames && entries == r.report.entries,
               "the visitor saw " + std::to_string(frames) + " frames and " +
                   std::to_string(entries) + " entries; " + describe(r));
  } else {
    (void)r.status.message();
  }
  return r;
}

bool same_tail(const JournalTail& a, const JournalTail& b) {
  return a.next_sequence == b.next_sequence && a.chain == b.chain &&
         a.segment_first_sequence == b.segment_first_sequence &&
         a.segment_index == b.segment_index && a.segment_offset == b.segment_offset;
}

bool same_end(const Run& a, const Run& b) {
  return same_tail(a.report.tail, b.report.tail) && a.report.frames == b.report.frames &&
         a.report.entries == b.report.entries;
}

// Recovering a repaired or salvaged journal again finds it clean and ends where it did.
void check_clean(MemoryDisk& disk, const Run& before, const char* after) {
  const Run again = recover(disk, RecoveryMode::kVerifyOnly);
  FUZZ_CHECK(again.status.is_ok() && !again.report.torn_tail && !again.report.salvaged &&
                 same_tail(again.report.tail, before.report.tail),
             std::string("after ") + after + " (" + describe(before) + "), recovery again gives " +
                 describe(again));
}

// Reads every frame to the end (after seeking to `from`, if given); returns the status and
// adds the entries read to *entries.
RecoveryStatus read_all(MemoryDisk& disk, const std::uint64_t* from, std::uint64_t* entries) {
  std::unique_ptr<JournalReader> reader;
  if (RecoveryStatus s = JournalReader::open(disk, &reader); !s.is_ok()) return s;
  if (from != nullptr) {
    if (RecoveryStatus s = reader->seek(*from); !s.is_ok()) return s;
  }
  for (int i = 0; i < kReaderFramesMax; ++i) {
    DecodedFrame frame;
    bool end = false;
    if (RecoveryStatus s = reader->next(&frame, &end); !s.is_ok() || end) return s;
    *entries += frame.header.entry_count;
  }
  return {};
}

void check_reader(MemoryDisk& disk, const Run& repaired, std::uint64_t from) {
  std::uint64_t entries = 0;
  const RecoveryStatus all = read_all(disk, nullptr, &entries);
  FUZZ_CHECK(all.is_ok() && entries == repaired.report.entries,
             "the reader, on a journal recovery repaired (" + describe(repaired) + "), gives " +
                 all.message() + " after " + std::to_string(entries) + " entries");
  std::uint64_t ignored = 0;
  const RecoveryStatus seeking = read_all(disk, &from, &ignored);
  FUZZ_CHECK(seeking.is_ok(), "the reader, from sequence " + std::to_string(from) +
                                  " of a journal recovery repaired (" + describe(repaired) +
                                  "), gives " + seeking.message());
}

MemoryDisk disk_of(const fuzz::DiskImage& image) {
  MemoryDisk disk;
  fuzz::load_disk_image(image, disk);
  return disk;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > kInputBytesMax) return 0;
  const fuzz::DiskImage image =
      fuzz::decode_disk_image({reinterpret_cast<const std::byte*>(data), size});
  const std::uint64_t from = image.control;

  MemoryDisk verified = disk_of(image);
  const Run verify = recover(verified, RecoveryMode::kVerifyOnly);
  {  // The reader on the directory as it is: errors allowed, crashes not.
    std::uint64_t entries = 0;
    (void)read_all(verified, nullptr, &entries);
    (void)read_all(verified, &from, &entries);
  }

  MemoryDisk repaired = disk_of(image);
  const Run repair = recover(repaired, RecoveryMode::kRepairTornTail);
  FUZZ_CHECK(verify.status.is_ok() == repair.status.is_ok() &&
                 (!repair.status.is_ok() ||
                  (same_end(verify, repair) && verify.report.torn_tail == repair.report.torn_tail)),
             "kVerifyOnly gives " + describe(verify) + ", kRepairTornTail " + describe(repair));
  if (repair.status.is_ok()) {
    check_clean(repaired, repair, "a repair");
    check_reader(repaired, repair, from);
  }

  MemoryDisk salvaged = disk_of(image);
  const Run salvage = recover(salvaged, RecoveryMode::kSalvage);
  if (repair.status.is_ok()) {
    FUZZ_CHECK(salvage.status.is_ok() && !salvage.report.salvaged && same_end(salvage, repair),
               "kRepairTornTail gives " + describe(repair) + ", kSalvage " + describe(salvage));
  }
  if (salvage.status.is_ok()) check_clean(salvaged, salvage, "a salvage");

  if (from > 0) {
    MemoryDisk partial = disk_of(image);
    const Run part = recover(partial, RecoveryMode::kVerifyOnly, from);
    // (A journal that ends before `from` cannot be opened from a snapshot there: the tail
    // is then not compared.)
    if (verify.status.is_ok()) {
      FUZZ_CHECK(part.status.is_ok() ? verify.report.tail.next_sequence < from ||
                                           same_tail(part.report.tail, verify.report.tail)
                                     : part.status.error == RecoveryError::kBadSegment,
                 "from the start: " + describe(verify) + "; from sequence " + std::to_string(from) +
                     ": " + describe(part));
    }
  }
  return 0;
}
