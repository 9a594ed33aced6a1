// The journal end to end on the in-memory disk: group commit, segment rolls, recovery,
// the corruption suite at the level of a whole journal, every crash point, and I/O faults.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/endian.h"
#include "journal/journal_reader.h"
#include "journal/journal_writer.h"
#include "journal/memory_disk.h"
#include "journal/recovery.h"
#include "journal/uring_backend.h"

namespace lockstep::journal {
namespace {

// Small segments and frames so a short workload rolls several times.
JournalOptions small_options() {
  JournalOptions o;
  o.segment_bytes = 12288;  // the least: a header block, one largest frame, a marker
  o.frame_bytes_max = 4096;
  o.writes_in_flight = 2;
  o.descriptor = {std::byte{'s'}, std::byte{'c'}, std::byte{'h'}};
  return o;
}

std::string entry_text(std::uint64_t sequence) {
  return "entry " + std::to_string(sequence) + std::string((sequence % 7) * 100, 'x');
}

// Commits frames of 1..4 entries; returns false at the first failure. *max_durable is
// the highest durable sequence the writer reported at any point, as a client acknowledged
// after each call would have seen it, whatever the call returned.
bool commit_frames(JournalWriter& w, int frames, std::uint64_t* max_durable = nullptr) {
  const auto observe = [&] {
    if (max_durable != nullptr) *max_durable = std::max(*max_durable, w.durable_sequence());
  };
  for (int f = 0; f < frames; ++f) {
    const std::span<std::byte> payload = w.begin_frame();
    observe();
    if (payload.empty()) return false;
    const std::uint32_t count = 1 + static_cast<std::uint32_t>(w.next_sequence() % 4);
    std::size_t used = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::string text = entry_text(w.next_sequence() + i);
      used = append_entry(payload, used,
                          {reinterpret_cast<const std::byte*>(text.data()), text.size()});
    }
    const bool committed = w.commit(static_cast<std::uint32_t>(used), count).is_ok();
    observe();
    if (!committed) return false;
    const bool polled = w.poll(false).is_ok();
    observe();
    if (!polled) return false;
  }
  const bool ok = w.flush().is_ok();
  observe();
  return ok;
}

std::span<const std::byte> bytes_of_text(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Recovers, checking that every entry is the one written for its sequence.
RecoveryStatus recover_checked(IoBackend& disk, RecoveryReport* report,
                               RecoveryMode mode = RecoveryMode::kRepairTornTail) {
  std::uint64_t expected = 0;
  bool entries_ok = true;
  const RecoveryStatus s = recover_journal(disk, mode, report, [&](const DecodedFrame& frame) {
    EntryReader reader(frame.payload);
    for (std::uint64_t seq = frame.header.first_sequence; seq <= frame.header.last_sequence;
         ++seq) {
      const auto entry = reader.next();
      entries_ok &= seq == expected++ && std::string(reinterpret_cast<const char*>(entry.data()),
                                                     entry.size()) == entry_text(seq);
    }
  });
  EXPECT_TRUE(entries_ok) << "an entry differs from what was written";
  return s;
}

TEST(Journal, AnEmptyDirectoryRecoversToSequenceZero) {
  MemoryDisk disk;
  RecoveryReport report;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kRepairTornTail, &report).is_ok());
  EXPECT_EQ(report.tail.next_sequence, 0u);
  EXPECT_FALSE(report.tail.segment_first_sequence.has_value());
}

TEST(Journal, RefusesOptionsThatCannotWork) {
  JournalOptions o = small_options();
  o.frame_bytes_max = 1000;
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = small_options();
  o.segment_bytes = 4096;  // no room for a header and a frame
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = small_options();
  o.writes_in_flight = 0;
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

TEST(Journal, FlushedFramesAreDurableAndRecoverEntryForEntry) {
  MemoryDisk disk(2);
  std::uint64_t written = 0;
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 20));
    written = w.next_sequence();
    EXPECT_EQ(w.durable_sequence(), written);
  }
  MemoryDisk after = disk.restarted();
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(after, &report).is_ok());
  EXPECT_EQ(report.tail.next_sequence, written);
  EXPECT_EQ(report.frames, 20u);
  EXPECT_EQ(report.entries, written);
  EXPECT_GT(report.segments, 2u);
  EXPECT_FALSE(report.torn_tail);
}

TEST(Journal, SegmentsAreNamedByTheirFirstSequence) {
  MemoryDisk disk(2);
  JournalWriter w(disk, small_options(), {});
  ASSERT_TRUE(commit_frames(w, 20));
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  ASSERT_GT(names.size(), 2u);
  EXPECT_EQ(names[0], "00000000000000000000.lsj");
  for (const std::string& name : names) EXPECT_TRUE(parse_segment_file_name(name).has_value());
}

// Recovery from a sequence (opening from a snapshot): it reads only from the segment
// holding the sequence before it, finds the chain hash at that boundary, and the tail.
TEST(Journal, RecoveryFromASequenceSkipsTheSegmentsBeforeItAndFindsTheBoundaryChain) {
  MemoryDisk disk(2);
  JournalWriter w(disk, small_options(), {});
  ASSERT_TRUE(commit_frames(w, 30));
  RecoveryReport full;
  std::vector<std::pair<std::uint64_t, ChainHash>> ends;  // (next sequence, chain) per frame
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kVerifyOnly, &full, [&](const DecodedFrame& f) {
                ends.emplace_back(f.header.last_sequence + 1, f.chain);
              }).is_ok());
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  ASSERT_GE(names.size(), 4u);
  for (const auto& [from, chain] : ends) {
    SCOPED_TRACE("from " + std::to_string(from));
    RecoveryReport r;
    std::uint64_t first_seen = UINT64_MAX;
    ASSERT_TRUE(recover_journal(
                    disk, RecoveryMode::kVerifyOnly, &r,
                    [&](const DecodedFrame& f) {
                      first_seen = std::min(first_seen, f.header.first_sequence);
                    },
                    from)
                    .is_ok());
    EXPECT_TRUE(r.boundary_found);
    EXPECT_EQ(r.boundary_chain, chain);
    EXPECT_EQ(r.tail.next_sequence, full.tail.next_sequence);
    EXPECT_EQ(r.segments + r.skipped_segments, full.segments);
    // Nothing read from a segment wholly before the one holding from - 1.
    if (first_seen != UINT64_MAX) {
      EXPECT_LT(first_seen, from);
    }
    const std::uint64_t holding = *parse_segment_file_name(names[r.skipped_segments]);
    EXPECT_LT(holding, from);
    if (r.skipped_segments + 1 < names.size()) {
      EXPECT_GE(*parse_segment_file_name(names[r.skipped_segments + 1]), from);
    }
  }
  // Inside a frame of several entries: no boundary there.
  bool tried = false;
  for (std::size_t i = 1; i < ends.size() && !tried; ++i) {
    if (ends[i].first - ends[i - 1].first < 2) continue;
    RecoveryReport r;
    ASSERT_TRUE(
        recover_journal(disk, RecoveryMode::kVerifyOnly, &r, {}, ends[i - 1].first + 1).is_ok());
    EXPECT_FALSE(r.boundary_found);
    tried = true;
  }
  EXPECT_TRUE(tried);
}

TEST(Journal, RecoveryFromASequenceBeforeTheJournalsFirstSegmentIsRefused) {
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 20));
  }
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  ASSERT_GE(names.size(), 3u);
  ASSERT_TRUE(disk.remove(names[0]));
  ASSERT_TRUE(disk.remove(names[1]));
  const std::uint64_t first = *parse_segment_file_name(names[2]);
  RecoveryReport r;
  const RecoveryStatus s = recover_journal(disk, RecoveryMode::kVerifyOnly, &r, {}, first - 1);
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_NE(s.what.find("after the sequence recovery starts from"), std::string::npos) << s.what;
  // From the first remaining segment's own start, it opens (its carried hash trusted).
  RecoveryReport ok;
  EXPECT_TRUE(recover_journal(disk, RecoveryMode::kVerifyOnly, &ok, {}, first).is_ok());
  EXPECT_TRUE(ok.boundary_found);
}

TEST(Journal, AppendingResumesWhereRecoveryEnded) {
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 7));
  }
  RecoveryReport first;
  ASSERT_TRUE(recover_checked(disk, &first).is_ok());
  std::uint64_t total = 0;
  {
    JournalWriter w(disk, small_options(), first.tail);
    ASSERT_TRUE(commit_frames(w, 9));
    total = w.next_sequence();
  }
  MemoryDisk after = disk.restarted();
  RecoveryReport second;
  ASSERT_TRUE(recover_checked(after, &second).is_ok());
  EXPECT_EQ(second.tail.next_sequence, total);
  EXPECT_EQ(second.frames, 16u);
}

TEST(Journal, ResumingWithAnotherChainKindIsRefused) {
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 2));
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  JournalOptions other = small_options();
  other.chain = ChainKind::kXxh3_128;
  JournalWriter w(disk, other, report.tail);
  ASSERT_FALSE(w.failure().is_ok());
  EXPECT_EQ(w.failure().error_code(), EINVAL);
  EXPECT_NE(w.failure().message().find("chain hash is SHA-256, these options say XXH3-128"),
            std::string::npos)
      << w.failure().message();
  EXPECT_TRUE(w.begin_frame().empty());
}

TEST(Journal, ResumingWithAnotherSegmentSizeStartsANewSegment) {
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 2));
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  ASSERT_EQ(report.segments, 1u);
  JournalOptions other = small_options();
  other.segment_bytes = 65536;
  other.writes_in_flight = 1;
  {
    JournalWriter w(disk, other, report.tail);
    ASSERT_TRUE(w.failure().is_ok()) << w.failure().message();
    ASSERT_TRUE(commit_frames(w, 2));
  }
  RecoveryReport again;
  ASSERT_TRUE(recover_checked(disk, &again).is_ok());
  EXPECT_EQ(again.segments, 2u);  // the first frame went to a segment of the new size
  EXPECT_EQ(again.frames, 4u);
}

// A descriptor that fills several sectors of a segment header.
std::vector<std::byte> long_descriptor() {
  std::vector<std::byte> d(2000);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::byte>('a' + i % 26);
  return d;
}

// The header of a journal's first segment, as its writer writes it.
std::vector<std::byte> first_header() {
  SegmentHeader h;
  h.segment_bytes = small_options().segment_bytes;
  h.writes_in_flight = 2;
  h.frame_bytes_max = 4096;
  h.descriptor = long_descriptor();
  std::vector<std::byte> bytes(segment_header_bytes(h.descriptor.size()));
  encode_segment_header(h, bytes);
  return bytes;
}

TEST(Journal, ResumingAnEmptySegmentWithOtherLimitsReplacesIt) {
  // A crash right after a roll leaves the new segment with its header and no frame. A
  // writer reopening it with another segment size rolls before its first frame: the new
  // segment takes the empty one's name and index, and the journal still reads through.
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 20));
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  ASSERT_GE(report.segments, 2u);
  SegmentHeader h;
  h.segment_index = report.tail.segment_index + 1;
  h.first_sequence = report.tail.next_sequence;
  h.segment_bytes = small_options().segment_bytes;
  h.writes_in_flight = 2;
  h.frame_bytes_max = 4096;
  h.prev_chain_hash = report.tail.chain;
  h.descriptor = small_options().descriptor;
  std::vector<std::byte> header(segment_header_bytes(h.descriptor.size()));
  encode_segment_header(h, header);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(segment_file_name(h.first_sequence), {.create = true}, &f));
  ASSERT_TRUE(disk.allocate(f, h.segment_bytes));
  ASSERT_TRUE(disk.write_and_sync(f, 0, header));
  ASSERT_TRUE(disk.close(f));
  RecoveryReport empty;
  ASSERT_TRUE(recover_checked(disk, &empty).is_ok());
  ASSERT_EQ(empty.segments, report.segments + 1);
  ASSERT_EQ(empty.tail.segment_first_sequence, h.first_sequence);
  JournalOptions other = small_options();
  other.segment_bytes = 65536;
  {
    JournalWriter w(disk, other, empty.tail);
    ASSERT_TRUE(w.failure().is_ok()) << w.failure().message();
    ASSERT_TRUE(commit_frames(w, 3));
    ASSERT_TRUE(w.close());
  }
  RecoveryReport after;
  const RecoveryStatus s = recover_checked(disk, &after);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(after.segments, report.segments + 1);
  EXPECT_EQ(after.frames, report.frames + 3);
  EXPECT_TRUE(after.closed_cleanly);
}

TEST(Journal, AClosingMarkerInAnEarlierSegmentDoesNotMakeTheJournalClosed) {
  // Closed cleanly, reopened, rolled, and killed before the new segment's first frame.
  MemoryDisk disk(2);
  {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 2));
    ASSERT_TRUE(w.close());
  }
  RecoveryReport closed;
  ASSERT_TRUE(recover_checked(disk, &closed).is_ok());
  ASSERT_TRUE(closed.closed_cleanly);
  MemoryDisk killed;
  {
    JournalOptions other = small_options();
    other.segment_bytes = 65536;            // rolls before its first frame
    disk.crash_at(disk.io_count() + 5, 0);  // the frame's write: after the roll's 4 calls
    JournalWriter w(disk, other, closed.tail);
    EXPECT_FALSE(commit_frames(w, 1));
    killed = disk.restarted();
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(killed, &report).is_ok());
  EXPECT_EQ(report.segments, closed.segments + 1);
  EXPECT_FALSE(report.closed_cleanly);
}

TEST(Journal, ACrashBeforeTheFirstSegmentWasNamedLeavesAnEmptyJournal) {
  // The writer makes a segment under a temporary name, and renames it once its header is
  // durable: a crash before leaves the temporary, part of its header written. It holds
  // no record, recovery ignores it, and the writer makes the segment again over it.
  MemoryDisk disk(2);
  const std::string temporary = segment_file_name(0) + std::string(kSegmentTemporarySuffix);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(temporary, {.create = true}, &f));
  ASSERT_TRUE(disk.allocate(f, 12288));
  std::vector<std::byte> torn = first_header();
  torn.resize(512);
  ASSERT_TRUE(disk.write_and_sync(f, 0, torn));
  ASSERT_TRUE(disk.close(f));
  ASSERT_TRUE(disk.sync_directory());
  RecoveryReport report;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kRepairTornTail, &report).is_ok());
  EXPECT_EQ(report.tail.next_sequence, 0u);
  EXPECT_FALSE(report.tail.segment_first_sequence.has_value());
  EXPECT_FALSE(report.torn_tail);
  JournalOptions o = small_options();
  o.descriptor = long_descriptor();
  JournalWriter w(disk, o, report.tail);
  ASSERT_TRUE(commit_frames(w, 2));
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  EXPECT_EQ(report.frames, 2u);
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  EXPECT_EQ(std::count(names.begin(), names.end(), temporary), 0);  // renamed to the segment
}

TEST(Journal, APartialSegmentHeaderUnderASegmentNameIsRefusedAndKept) {
  // A crash cannot leave this (a segment is named after its header is durable): it is
  // the journal's damage, not a crash's, even at the journal's very start.
  MemoryDisk disk(2);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(segment_file_name(0), {.create = true}, &f));
  ASSERT_TRUE(disk.allocate(f, 12288));
  std::vector<std::byte> torn = first_header();
  torn.resize(512);
  ASSERT_TRUE(disk.write_and_sync(f, 0, torn));
  ASSERT_TRUE(disk.close(f));
  const std::vector<std::byte> before = disk.contents(segment_file_name(0));
  for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
    RecoveryReport report;
    const RecoveryStatus s = recover_journal(disk, mode, &report);
    ASSERT_EQ(s.error, RecoveryError::kBadSegment);
    EXPECT_EQ(s.segment, segment_file_name(0));
    EXPECT_EQ(disk.contents(segment_file_name(0)), before);
  }
}

TEST(Journal, AFileOfOtherBytesNamedAsTheFirstSegmentIsRefusedAndKept) {
  MemoryDisk disk(2);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(segment_file_name(0), {.create = true}, &f));
  const std::vector<std::byte> junk(100, std::byte{7});
  ASSERT_TRUE(disk.write_and_sync(f, 0, junk));
  ASSERT_TRUE(disk.close(f));
  RecoveryReport report;
  const RecoveryStatus s = recover_journal(disk, RecoveryMode::kRepairTornTail, &report);
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_EQ(s.segment, segment_file_name(0));
  EXPECT_NE(s.what.find("left as it is"), std::string::npos) << s.what;
  EXPECT_EQ(disk.contents(segment_file_name(0)), junk);
}

TEST(Journal, TheXxh3ChainAndDirectIoFramesRecoverToo) {
  MemoryDisk disk(2);
  JournalOptions o = small_options();
  o.chain = ChainKind::kXxh3_128;
  o.direct_io = true;
  o.segment_bytes = 32768;
  {
    JournalWriter w(disk, o, {});
    ASSERT_TRUE(commit_frames(w, 10));
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  EXPECT_EQ(report.frames, 10u);
  EXPECT_EQ(report.flags, kFlagChainXxh3 | kFlagDirectIo);
}

TEST(Journal, DurabilityNoneWritesWithoutSyncingAndSaysSo) {
  MemoryDisk disk(2);
  JournalOptions o = small_options();
  o.durability = Durability::kNone;
  EXPECT_EQ(to_string(o.durability), "none (NOT DURABLE)");
  JournalWriter w(disk, o, {});
  ASSERT_TRUE(commit_frames(w, 1));  // creates the segment (its header is always synced)
  const std::uint64_t before = disk.io_count();
  ASSERT_TRUE(commit_frames(w, 3));
  EXPECT_EQ(disk.io_count() - before, 3u);  // three writes, no fdatasync
  EXPECT_EQ(w.durable_sequence(), w.next_sequence());
  // Nothing of those frames survives a power loss: that is what "none" means.
  RecoveryReport report;
  MemoryDisk after = disk.restarted();
  ASSERT_TRUE(recover_checked(after, &report).is_ok());
  EXPECT_LT(report.tail.next_sequence, w.next_sequence());
}

// ---- reading from any sequence ----------------------------------------------------------

// Reads frames until the end or the first error; returns that error, if any.
RecoveryStatus read_to_end(JournalReader& reader) {
  for (;;) {
    DecodedFrame frame;
    bool end = false;
    RecoveryStatus s = reader.next(&frame, &end);
    if (!s.is_ok() || end) return s;
  }
}

class JournalReading : public ::testing::Test {
 protected:
  MemoryDisk disk{2};
  std::uint64_t total = 0;
  void SetUp() override {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 30));
    total = w.next_sequence();
  }
};

TEST_F(JournalReading, ReadsEveryFrameInOrderAcrossSegments) {
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  std::uint64_t expected = 0;
  int frames = 0;
  for (;;) {
    DecodedFrame frame;
    bool end = false;
    const RecoveryStatus s = reader->next(&frame, &end);
    ASSERT_TRUE(s.is_ok()) << s.message();
    if (end) break;
    ASSERT_EQ(frame.header.first_sequence, expected);
    EntryReader entries(frame.payload);
    for (std::uint64_t seq = frame.header.first_sequence; seq <= frame.header.last_sequence;
         ++seq) {
      const auto e = entries.next();
      ASSERT_EQ(std::string(reinterpret_cast<const char*>(e.data()), e.size()), entry_text(seq));
    }
    expected = frame.header.last_sequence + 1;
    ++frames;
  }
  EXPECT_EQ(expected, total);
  EXPECT_EQ(frames, 30);
}

TEST_F(JournalReading, SeekingToAnySequenceReturnsTheFrameHoldingIt) {
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  for (std::uint64_t seq = 0; seq < total; ++seq) {
    ASSERT_TRUE(reader->seek(seq).is_ok()) << seq;
    DecodedFrame frame;
    bool end = true;
    const RecoveryStatus s = reader->next(&frame, &end);
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_FALSE(end) << seq;
    EXPECT_LE(frame.header.first_sequence, seq);
    EXPECT_GE(frame.header.last_sequence, seq);
  }
}

TEST_F(JournalReading, SeekingBeforeTheFirstSequenceStartsAtTheBeginning) {
  // As after archiving: the oldest remaining segment starts after sequence 0.
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  ASSERT_TRUE(disk.remove(names[0]));
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  ASSERT_GT(reader->first_sequence(), 0u);
  ASSERT_TRUE(reader->seek(0).is_ok());
  DecodedFrame frame;
  bool end = true;
  ASSERT_TRUE(reader->next(&frame, &end).is_ok());
  ASSERT_FALSE(end);
  EXPECT_EQ(frame.header.first_sequence, reader->first_sequence());
}

TEST_F(JournalReading, SeekingPastTheEndFindsTheEnd) {
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  ASSERT_TRUE(reader->seek(total + 10).is_ok());
  DecodedFrame frame;
  bool end = false;
  ASSERT_TRUE(reader->next(&frame, &end).is_ok());
  EXPECT_TRUE(end);
}

TEST_F(JournalReading, AFrameThatFailsVerificationIsAnErrorThatSaysWhere) {
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  disk.flip_bit(names[1], segment_header_bytes(3) + 70, 1);
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  const RecoveryStatus s = read_to_end(*reader);
  ASSERT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.segment, names[1]);
  EXPECT_EQ(s.offset, segment_header_bytes(3));
}

TEST_F(JournalReading, AMissingSegmentIsFoundWhenReadingAcrossIt) {
  std::vector<std::string> names;
  ASSERT_TRUE(disk.list(&names));
  ASSERT_TRUE(disk.remove(names[1]));
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  const RecoveryStatus s = read_to_end(*reader);
  EXPECT_EQ(s.error, RecoveryError::kBadSegment);
}

TEST(JournalReadingLong, SeeksUseTheSparseIndexAndStayVerified) {
  // More frames per segment than the index interval, read and sought back and forth.
  MemoryDisk disk(2);
  JournalOptions o = small_options();
  o.segment_bytes = 1 << 20;
  std::uint64_t total = 0;
  {
    JournalWriter w(disk, o, {});
    ASSERT_TRUE(commit_frames(w, 400));
    total = w.next_sequence();
  }
  std::unique_ptr<JournalReader> reader;
  ASSERT_TRUE(JournalReader::open(disk, &reader).is_ok());
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    const std::uint64_t seq = rng() % total;
    ASSERT_TRUE(reader->seek(seq).is_ok()) << seq;
    DecodedFrame frame;
    bool end = true;
    ASSERT_TRUE(reader->next(&frame, &end).is_ok());
    ASSERT_FALSE(end);
    EXPECT_LE(frame.header.first_sequence, seq);
    EXPECT_GE(frame.header.last_sequence, seq);
  }
}

// ---- corruption of a whole journal ---------------------------------------------------------

class JournalCorruption : public ::testing::Test {
 protected:
  MemoryDisk disk{2};
  std::vector<std::string> names;
  void SetUp() override {
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 20));
    ASSERT_TRUE(disk.list(&names));
    ASSERT_GE(names.size(), 3u);
  }
  // The offsets of the frames of segment `index`.
  std::vector<std::size_t> frame_offsets(std::size_t index) {
    const std::vector<std::byte> bytes = disk.contents(names[index]);
    std::vector<std::size_t> offsets;
    for (std::size_t o = segment_header_bytes(3);
         o + 4 <= bytes.size() && bytes[o] == kFrameMagic[0];
         o += load_le<std::uint32_t>(bytes, o + frame_field::kFrameBytes)) {
      offsets.push_back(o);
    }
    return offsets;
  }
  void overwrite(std::size_t index, std::size_t offset, const std::vector<std::byte>& data) {
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(names[index], {}, &f));
    ASSERT_TRUE(disk.write_and_sync(f, offset, data));
    ASSERT_TRUE(disk.close(f));
  }
  // Changes a frame's header field and re-seals its checksums (a "valid" wrong frame).
  void rewrite_field(std::size_t index, std::size_t frame_offset, std::size_t field,
                     std::uint64_t value) {
    std::vector<std::byte> bytes = disk.contents(names[index]);
    const auto frame_bytes = load_le<std::uint32_t>(bytes, frame_offset + frame_field::kFrameBytes);
    std::vector<std::byte> frame(
        bytes.begin() + static_cast<std::ptrdiff_t>(frame_offset),
        bytes.begin() + static_cast<std::ptrdiff_t>(frame_offset + frame_bytes));
    store_le<std::uint64_t>(frame, field, value);
    store_le<std::uint32_t>(frame, frame_field::kHeaderChecksum, record_header_checksum(frame));
    store_le<std::uint64_t>(frame, frame_field::kChecksum, frame_checksum(frame));
    overwrite(index, frame_offset, frame);
  }
  // What a crash leaves of the frame at `frame_offset` of the last segment: its sectors
  // from the last one it touches on never written (and nothing after it).
  void tear_last_frame() {
    const std::size_t last = frame_offsets(names.size() - 1).back();
    const std::vector<std::byte> bytes = disk.contents(names.back());
    const auto frame_bytes = load_le<std::uint32_t>(bytes, last + frame_field::kFrameBytes);
    const std::size_t tear = (last + frame_bytes - 1) / kSectorBytes * kSectorBytes;
    ASSERT_GT(tear, last) << "the last frame lies in one sector: it cannot be torn";
    overwrite(names.size() - 1, tear, std::vector<std::byte>(bytes.size() - tear, std::byte{0}));
  }
  RecoveryStatus recover() {
    RecoveryReport report;
    return recover_journal(disk, RecoveryMode::kVerifyOnly, &report);
  }
};

TEST_F(JournalCorruption, ABadChecksumBeforeTheTailRefusesToOpenNamingSegmentAndOffset) {
  const std::size_t victim = frame_offsets(0)[1];
  disk.flip_bit(names[0], victim + 70, 2);
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.segment, names[0]);
  EXPECT_EQ(s.offset, victim);
  EXPECT_EQ(s.what.rfind("bad checksum, and it is not a torn tail: a later segment exists", 0), 0u)
      << s.what;
  EXPECT_NE(s.message().find(names[0] + " at offset " + std::to_string(victim)), std::string::npos)
      << s.message();
}

TEST_F(JournalCorruption, AFlippedBitInAFrameHeaderIsCorruption) {
  const std::size_t victim = frame_offsets(1)[0];
  disk.flip_bit(names[1], victim + frame_field::kFirstSequence, 0);
  EXPECT_EQ(recover().error, RecoveryError::kCorruptFrame);
}

TEST_F(JournalCorruption, AFlippedBitInPaddingIsCorruption) {
  const auto offsets = frame_offsets(0);
  std::vector<std::byte> bytes = disk.contents(names[0]);
  const auto payload_bytes = load_le<std::uint32_t>(bytes, offsets[0] + frame_field::kPayloadBytes);
  const auto frame_bytes = load_le<std::uint32_t>(bytes, offsets[0] + frame_field::kFrameBytes);
  ASSERT_GT(frame_bytes - kFrameHeaderBytes - kChainHashBytes - payload_bytes, 0u)
      << "the first frame has no padding to flip";
  disk.flip_bit(names[0], offsets[0] + kFrameHeaderBytes + payload_bytes, 0);
  EXPECT_EQ(recover().error, RecoveryError::kCorruptFrame);
}

TEST_F(JournalCorruption, AChangedFrameWithARecomputedChecksumBreaksTheChain) {
  const std::size_t victim = frame_offsets(0)[0];
  std::vector<std::byte> bytes = disk.contents(names[0]);
  const auto frame_bytes = load_le<std::uint32_t>(bytes, victim + frame_field::kFrameBytes);
  std::vector<std::byte> frame(bytes.begin() + static_cast<std::ptrdiff_t>(victim),
                               bytes.begin() + static_cast<std::ptrdiff_t>(victim + frame_bytes));
  frame[kFrameHeaderBytes + 4] = std::byte{'E'};  // "entry" -> "Entry"
  store_le<std::uint64_t>(frame, frame_field::kChecksum, frame_checksum(frame));
  overwrite(0, victim, frame);
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.what.rfind("broken hash chain", 0), 0u) << s.what;
}

TEST_F(JournalCorruption, AFrameThatSkipsSequencesIsASequenceGap) {
  const std::size_t victim = frame_offsets(0)[1];
  const std::vector<std::byte> bytes = disk.contents(names[0]);
  const auto first = load_le<std::uint64_t>(bytes, victim + frame_field::kFirstSequence);
  rewrite_field(0, victim, frame_field::kFirstSequence, first + 1);
  EXPECT_EQ(recover().what.rfind("sequence gap", 0), 0u);
}

TEST_F(JournalCorruption, ADuplicatedFrameIsCaught) {
  // The first frame copied over the second: same sequences again, wrong offset.
  const auto offsets = frame_offsets(0);
  const std::vector<std::byte> bytes = disk.contents(names[0]);
  const std::vector<std::byte> first(bytes.begin() + static_cast<std::ptrdiff_t>(offsets[0]),
                                     bytes.begin() + static_cast<std::ptrdiff_t>(offsets[1]));
  overwrite(0, offsets[1], first);
  EXPECT_EQ(recover().error, RecoveryError::kCorruptFrame);
}

TEST_F(JournalCorruption, AFrameFromAnotherSegmentIsMisplaced) {
  const std::size_t victim = frame_offsets(1)[0];
  rewrite_field(1, victim, frame_field::kSegmentFirstSequence, 0);
  EXPECT_EQ(recover().what.rfind("record of another segment or offset", 0), 0u);
}

TEST_F(JournalCorruption, AZeroedFrameBeforeTheTailIsCorruptionNotTheEnd) {
  const auto offsets = frame_offsets(0);
  overwrite(0, offsets[0], std::vector<std::byte>(offsets[1] - offsets[0], std::byte{0}));
  const RecoveryStatus s = recover();
  EXPECT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.offset, offsets[0]);
}

TEST_F(JournalCorruption, AMissingMiddleSegmentRefusesToOpen) {
  ASSERT_TRUE(disk.remove(names[1]));
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_EQ(s.segment, names[2]);
  EXPECT_NE(s.what.find("a segment is missing"), std::string::npos) << s.what;
}

TEST_F(JournalCorruption, ACorruptSegmentHeaderRefusesToOpen) {
  disk.flip_bit(names[1], 40, 1);
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_EQ(s.segment, names[1]);
}

TEST_F(JournalCorruption, ATornLastFrameIsATornTailThatIsDroppedAndReported) {
  const std::size_t last = frame_offsets(names.size() - 1).back();
  tear_last_frame();
  RecoveryReport report;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kRepairTornTail, &report).is_ok());
  EXPECT_TRUE(report.torn_tail);
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.torn_offset, last);
  EXPECT_GT(report.dropped_bytes, 0u);
  EXPECT_NE(report.torn_detail.find("bad checksum"), std::string::npos) << report.torn_detail;
  EXPECT_NE(report.torn_detail.find("none was acknowledged"), std::string::npos)
      << report.torn_detail;
  EXPECT_EQ(report.tail.segment_offset, last);
  // Repaired: a second recovery finds a clean end, and appending works.
  RecoveryReport again;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kRepairTornTail, &again).is_ok());
  EXPECT_FALSE(again.torn_tail);
  JournalWriter w(disk, small_options(), again.tail);
  ASSERT_TRUE(commit_frames(w, 3));
  RecoveryReport final_report;
  ASSERT_TRUE(recover_checked(disk, &final_report).is_ok());
}

TEST_F(JournalCorruption, AFlippedBitInTheLastFrameIsCorruptionNotATornTail) {
  // Every sector of the frame was written (it is whole), so a crash did not do this.
  const std::size_t last = frame_offsets(names.size() - 1).back();
  disk.flip_bit(names.back(), last + kFrameHeaderBytes + 3, 5);
  const std::vector<std::byte> before = disk.contents(names.back());
  RecoveryReport report;
  const RecoveryStatus s = recover_journal(disk, RecoveryMode::kRepairTornTail, &report);
  ASSERT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.segment, names.back());
  EXPECT_EQ(s.offset, last);
  EXPECT_NE(s.what.find("its bytes changed after they were written"), std::string::npos) << s.what;
  EXPECT_EQ(disk.contents(names.back()), before);  // refused: nothing changed
}

TEST_F(JournalCorruption, ATruncatedSegmentFileIsRefusedEvenAtAFrameBoundary) {
  const auto offsets = frame_offsets(names.size() - 1);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(names.back(), {}, &f));
  ASSERT_TRUE(disk.truncate(f, offsets.back()));
  ASSERT_TRUE(disk.close(f));
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_EQ(s.segment, names.back());
  EXPECT_NE(s.what.find("truncated"), std::string::npos) << s.what;
}

TEST_F(JournalCorruption, GarbageAppendedToASegmentFileIsRefused) {
  const std::vector<std::byte> bytes = disk.contents(names.back());
  overwrite(names.size() - 1, bytes.size(), std::vector<std::byte>(100, std::byte{0x5a}));
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kBadSegment);
  EXPECT_NE(s.what.find("extended"), std::string::npos) << s.what;
}

TEST_F(JournalCorruption, GarbageAfterTheLastFrameIsRefused) {
  const std::size_t last = frame_offsets(names.size() - 1).back();
  const std::vector<std::byte> bytes = disk.contents(names.back());
  const auto frame_bytes = load_le<std::uint32_t>(bytes, last + frame_field::kFrameBytes);
  overwrite(names.size() - 1, last + frame_bytes, std::vector<std::byte>(40, std::byte{0x5a}));
  const RecoveryStatus s = recover();
  ASSERT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.offset, last + frame_bytes);
}

TEST_F(JournalCorruption, AStrayFileNamedAfterTheEndIsRefusedAndKept) {
  const std::string stray = segment_file_name(99999);
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(stray, {.create = true}, &f));
  std::vector<std::byte> junk(100 * 1024);
  std::mt19937 rng(3);
  for (std::byte& b : junk) b = static_cast<std::byte>(rng());
  ASSERT_TRUE(disk.write_and_sync(f, 0, junk));
  ASSERT_TRUE(disk.close(f));
  ASSERT_TRUE(disk.sync_directory());
  for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
    RecoveryReport report;
    const RecoveryStatus s = recover_journal(disk, mode, &report);
    ASSERT_EQ(s.error, RecoveryError::kBadSegment);
    EXPECT_EQ(s.segment, stray);
    EXPECT_NE(s.what.find("not one"), std::string::npos) << s.what;
    EXPECT_EQ(disk.contents(stray), junk);
  }
}

TEST_F(JournalCorruption, AnEmptyFileNamedAfterTheEndIsRefusedEvenAtTheNextSequence) {
  // A crash while rolling leaves only a temporary file: an empty segment-named file is
  // somebody else's doing, wherever it is named.
  RecoveryReport clean;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kVerifyOnly, &clean).is_ok());
  const std::uint64_t next = clean.tail.next_sequence;
  for (const std::uint64_t name : {next + 1, next}) {
    MemoryDisk d = disk;
    FileHandle f = 0;
    ASSERT_TRUE(d.open(segment_file_name(name), {.create = true}, &f));
    ASSERT_TRUE(d.close(f));
    RecoveryReport report;
    const RecoveryStatus s = recover_journal(d, RecoveryMode::kRepairTornTail, &report);
    EXPECT_EQ(s.error, RecoveryError::kBadSegment);
    EXPECT_EQ(s.segment, segment_file_name(name));
    std::vector<std::string> left;
    ASSERT_TRUE(d.list(&left));
    EXPECT_NE(std::find(left.begin(), left.end(), segment_file_name(name)), left.end());
  }
}

TEST_F(JournalCorruption, SalvageCutsAtTheFirstBadFrameAndSetsTheRestAside) {
  const std::size_t victim = frame_offsets(1)[1];
  disk.flip_bit(names[1], victim + 70, 2);
  RecoveryReport verify;
  ASSERT_EQ(recover_journal(disk, RecoveryMode::kRepairTornTail, &verify).error,
            RecoveryError::kCorruptFrame);  // refused unless salvage is asked for
  RecoveryReport report;
  const RecoveryStatus salvaged = recover_checked(disk, &report, RecoveryMode::kSalvage);
  ASSERT_TRUE(salvaged.is_ok()) << salvaged.message();
  EXPECT_TRUE(report.salvaged);
  EXPECT_NE(report.salvage_detail.find(names[1] + " at offset " + std::to_string(victim)),
            std::string::npos)
      << report.salvage_detail;
  const std::string side = names[1] + ".discarded-at-" + std::to_string(victim);
  EXPECT_NE(report.salvage_detail.find(side), std::string::npos) << report.salvage_detail;
  EXPECT_NE(
      report.salvage_detail.find(names.back() + " set aside as " + names.back() + ".discarded"),
      std::string::npos)
      << report.salvage_detail;
  EXPECT_EQ(report.tail.segment_offset, victim);
  // Nothing is destroyed: the cut bytes are in the side file, the later segments renamed.
  const std::vector<std::byte> cut = disk.contents(side);
  ASSERT_FALSE(cut.empty());
  EXPECT_EQ(cut[0], kFrameMagic[0]);
  std::vector<std::string> left;
  ASSERT_TRUE(disk.list(&left));
  EXPECT_EQ(
      std::count_if(left.begin(), left.end(),
                    [](const std::string& n) { return parse_segment_file_name(n).has_value(); }),
      2);
  EXPECT_EQ(report.discarded.size(), 1u + (names.size() - 2));
  // The salvaged journal is clean and appendable.
  RecoveryReport again;
  ASSERT_TRUE(recover_checked(disk, &again).is_ok());
  EXPECT_FALSE(again.salvaged);
  JournalWriter w(disk, small_options(), again.tail);
  ASSERT_TRUE(commit_frames(w, 3));
  ASSERT_TRUE(recover_checked(disk, &again).is_ok());
}

TEST_F(JournalCorruption, SalvageEndsTheJournalBeforeABadSegmentHeader) {
  disk.flip_bit(names[2], 40, 1);
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report, RecoveryMode::kSalvage).is_ok());
  EXPECT_TRUE(report.salvaged);
  EXPECT_NE(report.salvage_detail.find("before " + names[2]), std::string::npos)
      << report.salvage_detail;
  std::vector<std::string> left;
  ASSERT_TRUE(disk.list(&left));
  EXPECT_EQ(
      std::count_if(left.begin(), left.end(),
                    [](const std::string& n) { return parse_segment_file_name(n).has_value(); }),
      2);
  EXPECT_NE(std::find(left.begin(), left.end(), names[2] + ".discarded"), left.end());
  EXPECT_EQ(report.segments, 2u);
}

TEST_F(JournalCorruption, VerifyOnlyWritesNothingEvenForATornTail) {
  tear_last_frame();
  const std::vector<std::byte> before = disk.contents(names.back());
  RecoveryReport report;
  ASSERT_TRUE(recover_journal(disk, RecoveryMode::kVerifyOnly, &report).is_ok());
  EXPECT_TRUE(report.torn_tail);
  EXPECT_FALSE(report.repaired);
  EXPECT_NE(report.torn_detail.find("to be dropped on the next open"), std::string::npos)
      << report.torn_detail;
  EXPECT_EQ(disk.contents(names.back()), before);
}

// Commits frames back to back, polling only when the writer must (writes_in_flight are
// in flight): each frame is sealed while the one before it is still in flight.
bool commit_frames_in_flight(JournalWriter& w, int frames) {
  for (int f = 0; f < frames; ++f) {
    const std::span<std::byte> payload = w.begin_frame();
    if (payload.empty()) return false;
    const std::string text = entry_text(w.next_sequence());
    const std::size_t used = append_entry(payload, 0, bytes_of_text(text));
    if (!w.commit(static_cast<std::uint32_t>(used), 1).is_ok()) return false;
  }
  return w.flush().is_ok();
}

// With several frames in flight, a crash can leave a frame missing while a later one,
// never acknowledged, reached the disk. That is a torn tail, not corruption.
class JournalInFlightWindow : public ::testing::Test {
 protected:
  MemoryDisk disk{2};
  std::vector<std::size_t> offsets;
  std::string name;
  void SetUp() override {
    JournalOptions o = small_options();
    o.segment_bytes = 65536;  // one segment holds the whole workload
    ASSERT_EQ(o.writes_in_flight, 2u);
    disk.defer_syncs(true);  // a frame is in flight until it is reaped
    JournalWriter w(disk, o, {});
    ASSERT_TRUE(commit_frames_in_flight(w, 12));
    std::vector<std::string> names;
    ASSERT_TRUE(disk.list(&names));
    ASSERT_EQ(names.size(), 1u);
    name = names[0];
    const std::vector<std::byte> bytes = disk.contents(name);
    for (std::size_t at = segment_header_bytes(3); bytes[at] == kFrameMagic[0];
         at += load_le<std::uint32_t>(bytes, at + frame_field::kFrameBytes)) {
      offsets.push_back(at);
    }
    ASSERT_EQ(offsets.size(), 12u);
  }
  // The frame at `index` never reached the disk.
  void lose_frame(std::size_t index) {
    const std::vector<std::byte> bytes = disk.contents(name);
    const auto frame_bytes =
        load_le<std::uint32_t>(bytes, offsets[index] + frame_field::kFrameBytes);
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(name, {}, &f));
    ASSERT_TRUE(
        disk.write_and_sync(f, offsets[index], std::vector<std::byte>(frame_bytes, std::byte{0})));
    ASSERT_TRUE(disk.close(f));
  }
};

TEST_F(JournalInFlightWindow, AMissingFrameFollowedByOneSealedWhileItWasInFlightIsATornTail) {
  // Frame 11 was sealed while frame 10 was in flight: it says only frame 9 was durable.
  lose_frame(10);
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(disk, &report).is_ok());
  EXPECT_TRUE(report.torn_tail);
  EXPECT_EQ(report.tail.segment_offset, offsets[10]);
  EXPECT_EQ(report.frames, 10u);
  EXPECT_EQ(report.dropped_records, 1u);  // frame 11, intact and never acknowledged
  EXPECT_FALSE(report.dropped_entries_exact);
}

TEST_F(JournalInFlightWindow, AMissingFrameThatALaterFrameSaysWasDurableIsCorruption) {
  // Frame 10 was sealed after frame 9 was reaped: it says frame 9 was durable.
  lose_frame(9);
  RecoveryReport report;
  const RecoveryStatus s = recover_journal(disk, RecoveryMode::kRepairTornTail, &report);
  EXPECT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.offset, offsets[9]);
  EXPECT_NE(s.what.find("was durable when it was written"), std::string::npos) << s.what;
}

TEST_F(JournalInFlightWindow, AMissingFrameFollowedByAMarkerIsCorruption) {
  // The journal went idle after frame 11 and wrote a marker: everything before it was
  // durable, so the missing frame 11 had been acknowledged.
  {
    RecoveryReport report;
    ASSERT_TRUE(recover_checked(disk, &report).is_ok());
    JournalOptions o = small_options();
    o.segment_bytes = 65536;
    JournalWriter w(disk, o, report.tail);
    ASSERT_TRUE(w.marker_due());  // nothing on disk proves frame 11 durable yet
    ASSERT_TRUE(w.write_marker());
    ASSERT_TRUE(w.flush());
    EXPECT_FALSE(w.marker_due());
  }
  lose_frame(11);
  RecoveryReport report;
  const RecoveryStatus s = recover_journal(disk, RecoveryMode::kRepairTornTail, &report);
  EXPECT_EQ(s.error, RecoveryError::kCorruptFrame);
  EXPECT_EQ(s.offset, offsets[11]);
}

// ---- every crash point -------------------------------------------------------------------

// For a workload on the in-memory disk, crash at every system call in turn (tearing the
// write in flight at a different byte each time), restart and recover: everything the
// writer reported durable is there, entry for entry, and the journal is appendable.
TEST(JournalCrash, EveryCrashPointRecoversEverythingReportedDurable) {
  constexpr int kFrames = 14;
  std::uint64_t total_io = 0;
  {
    MemoryDisk disk(2);
    JournalWriter w(disk, small_options(), {});
    ASSERT_TRUE(commit_frames(w, kFrames));
    total_io = disk.io_count();
  }
  ASSERT_GT(total_io, 20u);
  ::testing::Test::RecordProperty("crash_points", std::to_string(total_io));
  for (std::uint64_t crash = 1; crash <= total_io; ++crash) {
    SCOPED_TRACE("crash at system call " + std::to_string(crash));
    MemoryDisk disk(2);
    // A write torn at a sector boundary of the file (the fault model), at a different
    // place each time.
    disk.crash_keeping_sectors_at(crash, crash);
    std::uint64_t durable = 0;
    {
      JournalWriter w(disk, small_options(), {});
      EXPECT_FALSE(commit_frames(w, kFrames, &durable));
      EXPECT_FALSE(w.failure().is_ok());
    }
    MemoryDisk after = disk.restarted();
    RecoveryReport report;
    const RecoveryStatus s = recover_checked(after, &report);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_GE(report.tail.next_sequence, durable);
    JournalWriter w(after, small_options(), report.tail);
    ASSERT_TRUE(commit_frames(w, 2)) << w.failure().message();
    RecoveryReport again;
    ASSERT_TRUE(recover_checked(after, &again).is_ok());
    EXPECT_FALSE(again.torn_tail);
  }
}

// ---- every bit of a sample segment ---------------------------------------------------------

// A flipped bit anywhere in a segment (header, frames, padding, the zeros after) is never
// taken for good data: recovery refuses, or drops and reports a torn tail of bytes that
// held no entry.
class SegmentBitRot : public ::testing::Test {
 protected:
  MemoryDisk clean{2};
  std::string name;
  void SetUp() override {
    JournalWriter w(clean, small_options(), {});
    ASSERT_TRUE(commit_frames(w, 3));
    written = w.next_sequence();
    std::vector<std::string> names;
    ASSERT_TRUE(clean.list(&names));
    ASSERT_EQ(names.size(), 1u);
    name = names[0];
  }
  bool detected(MemoryDisk& disk) {
    RecoveryReport report;
    const RecoveryStatus s = recover_journal(disk, RecoveryMode::kVerifyOnly, &report);
    if (!s.is_ok()) return true;
    // Not refused: only bytes after the last entry may have been taken for a torn tail.
    return report.torn_tail && report.tail.next_sequence == written && report.dropped_entries == 0;
  }
  std::uint64_t written = 0;
};

TEST_F(SegmentBitRot, EverySingleBitFlipInASegmentIsDetected) {
  const std::size_t bits = clean.contents(name).size() * 8;
  ASSERT_EQ(bits, 12288u * 8);
  for (std::size_t bit = 0; bit < bits; ++bit) {
    MemoryDisk disk = clean.restarted();
    disk.flip_bit(name, bit / 8, static_cast<int>(bit % 8));
    ASSERT_TRUE(detected(disk)) << "bit " << bit;
  }
}

TEST_F(SegmentBitRot, RandomMultiByteCorruptionsOfASegmentAreAllDetected) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::vector<std::byte> good = clean.contents(name);
  for (int trial = 0; trial < 100'000; ++trial) {
    MemoryDisk disk = clean.restarted();
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(name, {}, &f));
    std::vector<std::byte> bytes = good;
    const int changes = 2 + static_cast<int>(rng() % 8);
    const std::size_t start = rng() % bytes.size();
    for (int c = 0; c < changes; ++c) {
      // Half the trials scatter bytes anywhere, half overwrite a short run.
      const std::size_t at = trial % 2 == 0 ? rng() % bytes.size() : (start + c) % bytes.size();
      bytes[at] = static_cast<std::byte>(rng());
    }
    if (bytes == good) continue;
    ASSERT_TRUE(disk.write_and_sync(f, 0, bytes));
    ASSERT_TRUE(disk.close(f));
    ASSERT_TRUE(detected(disk)) << "trial " << trial;
  }
}

// ---- the real backends ---------------------------------------------------------------------

struct RealBackend {
  const char* name;
  bool uring;
  bool direct_io;
};

class JournalOnDisk : public ::testing::TestWithParam<RealBackend> {
 protected:
  std::string dir;
  void SetUp() override {
    char templ[] = "/tmp/lockstep-journal-test-XXXXXX";
    dir = ::mkdtemp(templ);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::unique_ptr<IoBackend> open() {
    if (GetParam().uring) {
      std::unique_ptr<UringBackend> io;
      const IoStatus s = UringBackend::create(dir, false, 4, &io);
      EXPECT_TRUE(s) << s.message();
      return io;
    }
    std::unique_ptr<PosixBackend> io;
    EXPECT_TRUE(PosixBackend::open_directory(dir, false, 4, &io));
    return io;
  }
  JournalOptions options() const {
    JournalOptions o = small_options();
    o.direct_io = GetParam().direct_io;
    o.segment_bytes = 32768;
    return o;
  }
};

TEST_P(JournalOnDisk, WritesRecoversAndAppendsOnARealFileSystem) {
  std::uint64_t written = 0;
  {
    auto io = open();
    JournalWriter w(*io, options(), {});
    ASSERT_TRUE(commit_frames(w, 15)) << w.failure().message();
    written = w.next_sequence();
  }
  RecoveryReport report;
  {
    auto io = open();
    ASSERT_TRUE(recover_checked(*io, &report).is_ok());
    EXPECT_EQ(report.tail.next_sequence, written);
    EXPECT_EQ(report.frames, 15u);
    JournalWriter w(*io, options(), report.tail);
    ASSERT_TRUE(commit_frames(w, 5)) << w.failure().message();
    written = w.next_sequence();
  }
  auto io = open();
  RecoveryReport again;
  ASSERT_TRUE(recover_checked(*io, &again).is_ok());
  EXPECT_EQ(again.tail.next_sequence, written);
  EXPECT_EQ(again.frames, 20u);
}

TEST_P(JournalOnDisk, FrameBuffersAreRegisteredWithIoUringOnly) {
  auto io = open();
  JournalWriter w(*io, options(), {});
  EXPECT_EQ(w.buffers_registered(), GetParam().uring);
  ASSERT_TRUE(commit_frames(w, 3)) << w.failure().message();
  JournalOptions unregistered = options();
  unregistered.register_buffers = false;
  auto io2 = open();
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(*io2, &report).is_ok());
  JournalWriter w2(*io2, unregistered, report.tail);
  EXPECT_FALSE(w2.buffers_registered());
  ASSERT_TRUE(commit_frames(w2, 3)) << w2.failure().message();
}

// Registered buffers belong to their writer: a later writer on the same backend writes
// from its own buffers, never from the pages of a freed one.
TEST_P(JournalOnDisk, SuccessiveWritersOnOneBackendWriteTheirOwnBytes) {
  auto io = open();
  {
    JournalWriter w(*io, options(), {});
    ASSERT_TRUE(commit_frames(w, 5)) << w.failure().message();
  }
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(*io, &report).is_ok());
  std::uint64_t written = 0;
  {
    JournalWriter w(*io, options(), report.tail);
    ASSERT_TRUE(commit_frames(w, 5)) << w.failure().message();
    written = w.next_sequence();
  }
  RecoveryReport again;
  ASSERT_TRUE(recover_checked(*io, &again).is_ok());  // every checksum and chain link
  EXPECT_EQ(again.frames, 10u);
  EXPECT_EQ(again.tail.next_sequence, written);
}

TEST_P(JournalOnDisk, PollingWithoutWaitingSeesACommitBecomeDurable) {
  auto io = open();
  JournalWriter w(*io, options(), {});
  const std::span<std::byte> payload = w.begin_frame();
  ASSERT_FALSE(payload.empty());
  const std::size_t used = append_entry(payload, 0, bytes_of_text(entry_text(0)));
  ASSERT_TRUE(w.commit(static_cast<std::uint32_t>(used), 1));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (w.durable_sequence() < 1 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(w.poll(false)) << w.failure().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(w.durable_sequence(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, JournalOnDisk,
                         ::testing::Values(RealBackend{"posix_buffered", false, false},
                                           RealBackend{"posix_direct", false, true},
                                           RealBackend{"uring_buffered", true, false},
                                           RealBackend{"uring_direct", true, true}),
                         [](const ::testing::TestParamInfo<RealBackend>& param_info) {
                           return std::string(param_info.param.name);
                         });

// ---- I/O faults ---------------------------------------------------------------------------

struct Fault {
  MemoryDisk::Op op;
  std::uint64_t nth;
  int error_code;
  bool forever;
  const char* operation;
};

class JournalFault : public ::testing::TestWithParam<Fault> {};

TEST_P(JournalFault, NothingAfterTheFaultIsReportedDurableAndTheErrorNamesTheOperation) {
  const Fault fault = GetParam();
  MemoryDisk disk(2);
  disk.fail(fault.op, fault.nth, fault.error_code, fault.forever);
  JournalWriter w(disk, small_options(), {});
  std::uint64_t durable = 0;
  EXPECT_FALSE(commit_frames(w, 12, &durable));
  ASSERT_FALSE(w.failure().is_ok());
  EXPECT_EQ(w.failure().error_code(), fault.error_code);
  EXPECT_EQ(w.failure().operation(), fault.operation) << w.failure().message();
  // Sticky: nothing more is accepted, and the durable position never moves again.
  const std::uint64_t frozen = w.durable_sequence();
  EXPECT_TRUE(w.begin_frame().empty());
  EXPECT_FALSE(w.poll(false));
  EXPECT_EQ(w.durable_sequence(), frozen);
  // What was reported durable survives a restart.
  MemoryDisk after = disk.restarted();
  RecoveryReport report;
  ASSERT_TRUE(recover_checked(after, &report).is_ok());
  EXPECT_GE(report.tail.next_sequence, durable);
}

INSTANTIATE_TEST_SUITE_P(WritesAndSyncs, JournalFault,
                         ::testing::Values(Fault{MemoryDisk::Op::kWrite, 1, EIO, false, "write"},
                                           Fault{MemoryDisk::Op::kWrite, 5, EIO, false, "write"},
                                           Fault{MemoryDisk::Op::kWrite, 5, EIO, true, "write"},
                                           Fault{MemoryDisk::Op::kWrite, 7, ENOSPC, true, "write"},
                                           Fault{MemoryDisk::Op::kSync, 1, EIO, false, "fdatasync"},
                                           Fault{MemoryDisk::Op::kSync, 6, EIO, false, "fdatasync"},
                                           Fault{MemoryDisk::Op::kSync, 6, EIO, true,
                                                 "fdatasync"}));

}  // namespace
}  // namespace lockstep::journal
