// Snapshot files (docs/snapshot-format.md): round trips, the writer's refusals, a
// corruption suite for the reader, atomicity under power loss and I/O faults, pruning,
// and real files.
#include <gtest/gtest.h>

// Static-linking-only API: XXH3_state_t on the stack (the test re-seals checksums).
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bank/bank_domain.h"
#include "base/endian.h"
#include "journal/memory_disk.h"
#include "journal/posix_backend.h"
#include "snapshot/snapshot.h"

namespace lockstep::snapshot {
namespace {

namespace f = snapshot_format;
using journal::FileHandle;
using journal::MemoryDisk;
using lockstep::load_le;
using lockstep::store_le;

constexpr std::uint32_t kAccountBytes = sizeof(bank::Account);    // table 0
constexpr std::uint32_t kTransferBytes = sizeof(bank::Transfer);  // table 1

std::uint32_t record_bytes_of(std::uint16_t table) {
  return table == 0 ? kAccountBytes : kTransferBytes;
}

std::vector<std::byte> bank_descriptor() {
  const std::span<const std::byte> d = bank::Domain::descriptor();
  return {d.begin(), d.end()};
}

// Record number `i` of `table`: bytes that differ from table to table and record to record.
void fill_record(std::uint16_t table, std::uint64_t i, std::span<std::byte> out) {
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k] = static_cast<std::byte>((i * 131 + k * 7 + table * 53) ^ (i >> 8));
  }
  std::memcpy(out.data(), &i, std::min(out.size(), sizeof i));
}

// What a snapshot holds: sessions, then (table, record count) in table order.
struct Contents {
  std::vector<ClientRecord> sessions;
  std::vector<std::pair<std::uint16_t, std::uint64_t>> tables;

  std::uint64_t records() const {
    std::uint64_t n = 0;
    for (const auto& t : tables) n += t.second;
    return n;
  }
};

Contents contents_of(std::uint64_t sessions, std::uint64_t accounts, std::uint64_t transfers,
                     std::uint64_t next_sequence) {
  Contents c;
  for (std::uint64_t i = 0; i < sessions; ++i) {
    c.sessions.push_back({1 + 3 * i, 10 * i + 1, i % next_sequence});
  }
  if (accounts > 0) c.tables.emplace_back(0, accounts);
  if (transfers > 0) c.tables.emplace_back(1, transfers);
  return c;
}

SnapshotHeader header_for(std::uint64_t next_sequence, const Contents& c) {
  SnapshotHeader h;
  h.next_sequence = next_sequence;
  h.tx_sequence = next_sequence / 2;
  h.last_logical_time_ns = next_sequence == 0 ? 0 : 1'700'000'000'000'000'000 + next_sequence;
  h.state_hash = {0x1234'5678'9abc'def0 + next_sequence, 0x0fed'cba9'8765'4321 ^ next_sequence,
                  c.records()};
  if (next_sequence != 0) {
    for (std::size_t i = 0; i < h.chain.size(); ++i) {
      h.chain[i] = static_cast<std::byte>(i * 3 + next_sequence);
    }
  }
  h.journal_flags = journal::kFlagChainXxh3;
  h.descriptor = bank_descriptor();
  return h;
}

SnapshotStatus write_snapshot(journal::IoBackend& io, const SnapshotHeader& h, const Contents& c) {
  std::unique_ptr<SnapshotWriter> w;
  if (SnapshotStatus s = SnapshotWriter::begin(io, h, &w); !s.is_ok()) return s;
  for (const ClientRecord& s : c.sessions) {
    if (SnapshotStatus st = w->add_session(s); !st.is_ok()) return st;
  }
  std::vector<std::byte> image(schema::kStructBytesMax);
  for (const auto& [table, count] : c.tables) {
    const std::uint32_t size = record_bytes_of(table);
    if (SnapshotStatus s = w->begin_table(table, size); !s.is_ok()) return s;
    for (std::uint64_t i = 0; i < count; ++i) {
      fill_record(table, i, std::span(image).first(size));
      if (SnapshotStatus s = w->add_record(std::span(image).first(size)); !s.is_ok()) return s;
    }
  }
  return w->finish();
}

struct ReadBack {
  SnapshotHeader header;
  std::vector<ClientRecord> sessions;
  std::vector<std::pair<std::uint16_t, std::uint64_t>> tables;
  std::uint64_t mismatches = 0;  // records whose bytes are not fill_record's
};

SnapshotStatus read_snapshot(journal::IoBackend& io, const std::string& name, ReadBack* out) {
  std::unique_ptr<SnapshotReader> r;
  if (SnapshotStatus s = SnapshotReader::open(io, name, &r); !s.is_ok()) return s;
  out->header = r->header();
  std::vector<std::byte> expected(schema::kStructBytesMax);
  return r->read([&](const ClientRecord& s) { out->sessions.push_back(s); },
                 [&](std::uint16_t table, std::span<const std::byte> image) {
                   if (out->tables.empty() || out->tables.back().first != table) {
                     out->tables.emplace_back(table, 0);
                   }
                   const std::span<std::byte> e = std::span(expected).first(image.size());
                   fill_record(table, out->tables.back().second++, e);
                   if (std::memcmp(e.data(), image.data(), e.size()) != 0) ++out->mismatches;
                 });
}

// Opens and reads `name`, discarding what it holds.
SnapshotStatus verify(journal::IoBackend& io, const std::string& name) {
  std::unique_ptr<SnapshotReader> r;
  if (SnapshotStatus s = SnapshotReader::open(io, name, &r); !s.is_ok()) return s;
  return r->read([](const ClientRecord&) {}, [](std::uint16_t, std::span<const std::byte>) {});
}

void expect_same_header(const SnapshotHeader& got, const SnapshotHeader& want) {
  EXPECT_EQ(got.next_sequence, want.next_sequence);
  EXPECT_EQ(got.tx_sequence, want.tx_sequence);
  EXPECT_EQ(got.last_logical_time_ns, want.last_logical_time_ns);
  EXPECT_EQ(got.state_hash, want.state_hash);
  EXPECT_EQ(got.chain, want.chain);
  EXPECT_EQ(got.journal_flags, want.journal_flags);
  EXPECT_EQ(got.descriptor, want.descriptor);
}

void expect_contents(const ReadBack& got, const SnapshotHeader& h, const Contents& c) {
  expect_same_header(got.header, h);
  ASSERT_EQ(got.sessions.size(), c.sessions.size());
  for (std::size_t i = 0; i < c.sessions.size(); ++i) {
    EXPECT_EQ(got.sessions[i].client_id, c.sessions[i].client_id) << i;
    EXPECT_EQ(got.sessions[i].request_id, c.sessions[i].request_id) << i;
    EXPECT_EQ(got.sessions[i].sequence, c.sessions[i].sequence) << i;
  }
  EXPECT_EQ(got.tables, c.tables);
  EXPECT_EQ(got.mismatches, 0u);
}

std::vector<std::string> names_in(journal::IoBackend& io) {
  std::vector<std::string> names;
  EXPECT_TRUE(io.list(&names));
  return names;
}

// A disk holding one file, `name`, with `bytes` (durable).
MemoryDisk disk_with(const std::string& name, const std::vector<std::byte>& bytes) {
  MemoryDisk disk;
  FileHandle file = 0;
  EXPECT_TRUE(disk.open(name, {.create = true}, &file));
  EXPECT_TRUE(disk.write_and_sync(file, 0, bytes));
  EXPECT_TRUE(disk.close(file));
  EXPECT_TRUE(disk.sync_directory());
  return disk;
}

// ---- re-sealing checksums, as docs/snapshot-format.md defines them ------------------------
// (To build files that are wrong in one way only: checksums right, a count or size wrong.)

std::uint64_t header_bytes_of(const std::vector<std::byte>& b) {
  return load_le<std::uint32_t>(b, f::header_field::kHeaderBytes);
}
std::uint64_t trailer_offset_of(const std::vector<std::byte>& b) {
  return b.size() - load_le<std::uint64_t>(b, b.size() - 16);
}

std::uint64_t reseal_header(std::vector<std::byte>& b) {
  const std::size_t size = header_bytes_of(b);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, b.data(), 120);
  XXH3_64bits_update(&state, b.data() + 128, size - 128);
  const std::uint64_t checksum = XXH3_64bits_digest(&state);
  store_le<std::uint64_t>(b, 120, checksum);
  return checksum;
}

void reseal_blocks(std::vector<std::byte>& b, std::uint64_t seed) {
  const std::uint64_t end = trailer_offset_of(b);
  for (std::uint64_t at = header_bytes_of(b); at < end; at += f::kBlockBytes) {
    const auto payload = load_le<std::uint32_t>(b, at + 4);
    XXH3_state_t state;
    XXH3_INITSTATE(&state);
    XXH3_64bits_reset_withSeed(&state, seed);
    XXH3_64bits_update(&state, b.data() + at, 24);
    XXH3_64bits_update(&state, b.data() + at + 32, payload);
    store_le<std::uint64_t>(b, at + 24, XXH3_64bits_digest(&state));
  }
}

void reseal_trailer(std::vector<std::byte>& b, std::uint64_t seed) {
  const std::uint64_t at = trailer_offset_of(b);
  store_le<std::uint64_t>(b, b.size() - 8,
                          XXH3_64bits_withSeed(b.data() + at, b.size() - at - 8, seed));
}

void reseal_all(std::vector<std::byte>& b) {
  const std::uint64_t seed = reseal_header(b);
  reseal_blocks(b, seed);
  reseal_trailer(b, seed);
}

// ---- names --------------------------------------------------------------------------------

TEST(SnapshotName, IsTheNextSequenceAsTwentyDigits) {
  EXPECT_EQ(snapshot_file_name(1000), "snapshot-00000000000000001000.lsnap");
  EXPECT_EQ(snapshot_file_name(UINT64_MAX), "snapshot-18446744073709551615.lsnap");
  EXPECT_EQ(parse_snapshot_file_name("snapshot-00000000000000001000.lsnap"), 1000u);
  EXPECT_EQ(parse_snapshot_file_name(snapshot_file_name(UINT64_MAX)), UINT64_MAX);
}

TEST(SnapshotName, OnlyTheExactShapeIsASnapshot) {
  for (const char* name :
       {"snapshot-00000000000000001000.lsnap.tmp", "snapshot-0000000000000001000.lsnap",
        "snapshot-000000000000000001000.lsnap", "snapshot-0000000000000000100a.lsnap",
        "snapshot-+0000000000000001000.lsnap", "snapshot-99999999999999999999.lsnap",
        "Snapshot-00000000000000001000.lsnap", "snapshot-00000000000000001000.lsj",
        "00000000000000001000.lsj", "snapshot-.lsnap", ""}) {
    EXPECT_FALSE(parse_snapshot_file_name(name).has_value()) << name;
  }
}

// ---- round trips --------------------------------------------------------------------------

TEST(SnapshotRoundTrip, HeaderSessionsAndRecordsReadBackAcrossManyBlocks) {
  MemoryDisk disk;
  const Contents c = contents_of(1000, 60'000, 50'000, 5000);
  const SnapshotHeader h = header_for(5000, c);
  const SnapshotStatus w = write_snapshot(disk, h, c);
  ASSERT_TRUE(w.is_ok()) << w.message();
  const std::string name = snapshot_file_name(5000);
  EXPECT_EQ(names_in(disk), std::vector<std::string>{name});
  EXPECT_GT(disk.contents(name).size(), 5 * f::kBlockBytes);  // six blocks, two writes
  ReadBack got;
  const SnapshotStatus r = read_snapshot(disk, name, &got);
  ASSERT_TRUE(r.is_ok()) << r.message();
  expect_contents(got, h, c);
}

TEST(SnapshotRoundTrip, TheReaderReportsTheTrailersCountsBeforeReading) {
  MemoryDisk disk;
  const Contents c = contents_of(7, 30, 20, 50);
  ASSERT_TRUE(write_snapshot(disk, header_for(50, c), c).is_ok());
  std::unique_ptr<SnapshotReader> r;
  ASSERT_TRUE(SnapshotReader::open(disk, snapshot_file_name(50), &r).is_ok());
  EXPECT_EQ(r->session_count(), 7u);
  ASSERT_EQ(r->tables().size(), 2u);
  EXPECT_EQ(r->tables()[0].table, 0);
  EXPECT_EQ(r->tables()[0].record_bytes, kAccountBytes);
  EXPECT_EQ(r->tables()[0].count, 30u);
  EXPECT_EQ(r->tables()[1].table, 1);
  EXPECT_EQ(r->tables()[1].count, 20u);
}

TEST(SnapshotRoundTrip, AnEmptySnapshotHoldsOnlyItsHeaderAndTrailer) {
  MemoryDisk disk;
  const Contents c;
  const SnapshotHeader h = header_for(0, c);
  ASSERT_TRUE(write_snapshot(disk, h, c).is_ok());
  const std::string name = snapshot_file_name(0);
  EXPECT_EQ(disk.contents(name).size(), f::kHeaderAlignBytes + f::kTrailerBytesMin);
  ReadBack got;
  const SnapshotStatus r = read_snapshot(disk, name, &got);
  ASSERT_TRUE(r.is_ok()) << r.message();
  expect_contents(got, h, c);
}

TEST(SnapshotRoundTrip, ReadingTwiceGivesTheSameContents) {
  MemoryDisk disk;
  const Contents c = contents_of(3, 25'000, 0, 10);
  const SnapshotHeader h = header_for(10, c);
  ASSERT_TRUE(write_snapshot(disk, h, c).is_ok());
  std::unique_ptr<SnapshotReader> r;
  ASSERT_TRUE(SnapshotReader::open(disk, snapshot_file_name(10), &r).is_ok());
  for (int pass = 0; pass < 2; ++pass) {
    std::uint64_t sessions = 0;
    std::uint64_t records = 0;
    ASSERT_TRUE(r->read([&](const ClientRecord&) { ++sessions; },
                        [&](std::uint16_t, std::span<const std::byte>) { ++records; })
                    .is_ok());
    EXPECT_EQ(sessions, 3u);
    EXPECT_EQ(records, 25'000u);
  }
}

TEST(SnapshotRoundTrip, ASkippedTableAndAnEmptyBegunTableGiveTheSameFile) {
  const Contents c = contents_of(2, 0, 500, 10);  // table 0 has no records
  const SnapshotHeader h = header_for(10, c);
  MemoryDisk skipped;
  ASSERT_TRUE(write_snapshot(skipped, h, c).is_ok());
  MemoryDisk begun;
  std::unique_ptr<SnapshotWriter> w;
  ASSERT_TRUE(SnapshotWriter::begin(begun, h, &w).is_ok());
  for (const ClientRecord& s : c.sessions) ASSERT_TRUE(w->add_session(s).is_ok());
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  ASSERT_TRUE(w->begin_table(1, kTransferBytes).is_ok());
  std::vector<std::byte> image(kTransferBytes);
  for (std::uint64_t i = 0; i < 500; ++i) {
    fill_record(1, i, image);
    ASSERT_TRUE(w->add_record(image).is_ok());
  }
  ASSERT_TRUE(w->finish().is_ok());
  const std::string name = snapshot_file_name(10);
  EXPECT_EQ(skipped.contents(name), begun.contents(name));
  ReadBack got;
  ASSERT_TRUE(read_snapshot(begun, name, &got).is_ok());
  expect_contents(got, h, c);
}

TEST(SnapshotRoundTrip, TheSameStateGivesTheSameBytesOnAnyBackendDepth) {
  const Contents c = contents_of(100, 50'000, 40'000, 300);
  const SnapshotHeader h = header_for(300, c);
  MemoryDisk deep(4);
  MemoryDisk shallow(1);
  ASSERT_TRUE(write_snapshot(deep, h, c).is_ok());
  ASSERT_TRUE(write_snapshot(shallow, h, c).is_ok());
  EXPECT_EQ(deep.contents(snapshot_file_name(300)), shallow.contents(snapshot_file_name(300)));
}

TEST(SnapshotRoundTrip, ANewSnapshotReplacesOneOfTheSameName) {
  MemoryDisk disk;
  const Contents first = contents_of(1, 10, 0, 10);
  const Contents second = contents_of(2, 0, 20, 10);
  ASSERT_TRUE(write_snapshot(disk, header_for(10, first), first).is_ok());
  ASSERT_TRUE(write_snapshot(disk, header_for(10, second), second).is_ok());
  EXPECT_EQ(names_in(disk), std::vector<std::string>{snapshot_file_name(10)});
  ReadBack got;
  ASSERT_TRUE(read_snapshot(disk, snapshot_file_name(10), &got).is_ok());
  expect_contents(got, header_for(10, second), second);
}

// ---- the writer's refusals ----------------------------------------------------------------

class SnapshotWriterRefusal : public ::testing::Test {
 protected:
  MemoryDisk disk;
  std::unique_ptr<SnapshotWriter> w;
  std::vector<std::byte> account = std::vector<std::byte>(kAccountBytes);
  std::vector<std::byte> transfer = std::vector<std::byte>(kTransferBytes);

  void SetUp() override {
    const Contents c = contents_of(0, 1, 1, 100);
    const SnapshotStatus s = SnapshotWriter::begin(disk, header_for(100, c), &w);
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_NE(w, nullptr);
  }
  // A refusal: named, sticky, and nothing is left in the directory once the writer is gone.
  void expect_refused(const SnapshotStatus& s, const std::string& what) {
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.error, SnapshotError::kRefused);
    EXPECT_NE(s.message().find("snapshot refused: snapshot-00000000000000000100.lsnap.tmp: "),
              std::string::npos)
        << s.message();
    EXPECT_NE(s.what.find(what), std::string::npos) << s.message();
    EXPECT_EQ(w->add_record(account).message(), s.message());
    EXPECT_EQ(w->finish().message(), s.message());
    w.reset();
    EXPECT_TRUE(names_in(disk).empty());
  }
};

TEST_F(SnapshotWriterRefusal, ARecordOfTheWrongSizeIsRefused) {
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  expect_refused(w->add_record(std::span(account).first(kAccountBytes - 1)),
                 "record of 47 bytes where table 0 has 48");
}

TEST_F(SnapshotWriterRefusal, TablesOutOfOrderAreRefused) {
  ASSERT_TRUE(w->begin_table(1, kTransferBytes).is_ok());
  expect_refused(w->begin_table(0, kAccountBytes), "table 0 after table 1");
}

TEST_F(SnapshotWriterRefusal, ATableRepeatedIsRefused) {
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  ASSERT_TRUE(w->add_record(account).is_ok());
  expect_refused(w->begin_table(0, kAccountBytes), "table 0 after table 0");
}

TEST_F(SnapshotWriterRefusal, ASessionAfterATableIsRefused) {
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  expect_refused(w->add_session({1, 1, 1}), "session after a table");
}

TEST_F(SnapshotWriterRefusal, ARecordBeforeBeginTableIsRefused) {
  expect_refused(w->add_record(account), "record before begin_table");
}

TEST_F(SnapshotWriterRefusal, ATableTheDescriptorDoesNotHaveIsRefused) {
  expect_refused(w->begin_table(2, kAccountBytes), "table 2 is not in the descriptor");
}

TEST_F(SnapshotWriterRefusal, ARecordSizeTheDescriptorDoesNotSayIsRefused) {
  expect_refused(w->begin_table(0, 40), "table 0 has records of 48 bytes, not 40");
}

TEST_F(SnapshotWriterRefusal, SessionsOutOfClientOrderAreRefused) {
  ASSERT_TRUE(w->add_session({5, 1, 1}).is_ok());
  expect_refused(w->add_session({5, 2, 2}), "sessions out of order: client 5 after client 5");
}

TEST_F(SnapshotWriterRefusal, ASessionOfTheAnonymousClientIsRefused) {
  expect_refused(w->add_session({0, 1, 1}), "client 0");
}

TEST_F(SnapshotWriterRefusal, ASessionAtOrBeyondNextSequenceIsRefused) {
  expect_refused(w->add_session({1, 1, 100}), "not below next_sequence 100");
}

TEST_F(SnapshotWriterRefusal, RecordsThatDisagreeWithTheStateHashCountAreRefused) {
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  ASSERT_TRUE(w->add_record(account).is_ok());
  expect_refused(w->finish(), "1 records written, but the header's state hash counts 2");
}

TEST(SnapshotWriter, FinishTwiceIsRefusedAndLeavesTheSnapshotInPlace) {
  MemoryDisk disk;
  const Contents c = contents_of(1, 1, 0, 10);
  std::unique_ptr<SnapshotWriter> w;
  ASSERT_TRUE(SnapshotWriter::begin(disk, header_for(10, c), &w).is_ok());
  ASSERT_TRUE(w->add_session(c.sessions[0]).is_ok());
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  std::vector<std::byte> image(kAccountBytes);
  fill_record(0, 0, image);
  ASSERT_TRUE(w->add_record(image).is_ok());
  ASSERT_TRUE(w->finish().is_ok());
  const SnapshotStatus again = w->finish();
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.error, SnapshotError::kRefused);
  EXPECT_NE(again.what.find("finish called twice"), std::string::npos) << again.message();
  EXPECT_FALSE(w->add_record(image).is_ok());
  w.reset();
  EXPECT_EQ(names_in(disk), std::vector<std::string>{snapshot_file_name(10)});
  ReadBack got;
  ASSERT_TRUE(read_snapshot(disk, snapshot_file_name(10), &got).is_ok());
  expect_contents(got, header_for(10, c), c);
}

TEST(SnapshotWriter, AnImpossibleHeaderIsRefusedAtBeginAndCreatesNothing) {
  MemoryDisk disk;
  const Contents c;
  std::vector<std::pair<SnapshotHeader, std::string>> cases;
  SnapshotHeader h = header_for(10, c);
  h.tx_sequence = 11;
  cases.emplace_back(h, "tx_sequence 11 is beyond next_sequence 10");
  h = header_for(0, c);
  h.chain[0] = std::byte{1};
  cases.emplace_back(h, "next_sequence 0 with a non-zero");
  h = header_for(10, c);
  h.journal_flags = 0x80;
  cases.emplace_back(h, "unknown journal flags 0x80");
  h = header_for(10, c);
  h.descriptor.pop_back();
  cases.emplace_back(h, "the descriptor does not decode");
  h = header_for(10, c);
  h.descriptor.assign(f::kDescriptorBytesMax + 1, std::byte{0});
  cases.emplace_back(h, "over the limit");
  for (const auto& [header, what] : cases) {
    std::unique_ptr<SnapshotWriter> w;
    const SnapshotStatus s = SnapshotWriter::begin(disk, header, &w);
    ASSERT_FALSE(s.is_ok()) << what;
    EXPECT_EQ(s.error, SnapshotError::kRefused);
    EXPECT_NE(s.what.find(what), std::string::npos) << s.message();
    EXPECT_EQ(w, nullptr);
  }
  EXPECT_TRUE(names_in(disk).empty());
  EXPECT_EQ(disk.io_count(), 0u);
}

TEST(SnapshotWriter, AWriterAbandonedBeforeFinishRemovesItsTemporaryFile) {
  MemoryDisk disk;
  const Contents c = contents_of(0, 30'000, 0, 10);
  std::unique_ptr<SnapshotWriter> w;
  ASSERT_TRUE(SnapshotWriter::begin(disk, header_for(10, c), &w).is_ok());
  ASSERT_TRUE(w->begin_table(0, kAccountBytes).is_ok());
  std::vector<std::byte> image(kAccountBytes);
  for (int i = 0; i < 30'000; ++i) ASSERT_TRUE(w->add_record(image).is_ok());
  EXPECT_EQ(names_in(disk), std::vector<std::string>{w->temp_file_name()});
  w.reset();
  EXPECT_TRUE(names_in(disk).empty());
}

TEST(SnapshotWriter, AStaleTemporaryFileIsReplaced) {
  MemoryDisk disk;
  const std::string temp = snapshot_file_name(10) + ".tmp";
  FileHandle file = 0;
  ASSERT_TRUE(disk.open(temp, {.create = true}, &file));
  ASSERT_TRUE(disk.write_and_sync(file, 0, std::vector<std::byte>(3 * f::kBlockBytes)));
  ASSERT_TRUE(disk.close(file));
  const Contents c = contents_of(1, 2, 3, 10);
  ASSERT_TRUE(write_snapshot(disk, header_for(10, c), c).is_ok());
  EXPECT_EQ(names_in(disk), std::vector<std::string>{snapshot_file_name(10)});
  ReadBack got;
  ASSERT_TRUE(read_snapshot(disk, snapshot_file_name(10), &got).is_ok());
  expect_contents(got, header_for(10, c), c);
}

// ---- the corruption suite -----------------------------------------------------------------

// The seed of a sampled test: LOCKSTEP_SEED if set (to replay a failure), else random;
// printed either way.
std::uint64_t seed_from_env() {
  const char* s = std::getenv("LOCKSTEP_SEED");
  const std::uint64_t seed = s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
  std::printf("seed %llu (LOCKSTEP_SEED=%llu replays it)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  return seed;
}

// A refusal that names the file and an offset (and never a crash: this runs under ASan).
::testing::AssertionResult refused(const SnapshotStatus& s, const std::string& name) {
  if (s.is_ok()) return ::testing::AssertionFailure() << "accepted";
  if (s.error != SnapshotError::kCorrupt) {
    return ::testing::AssertionFailure() << "not corruption: " << s.message();
  }
  if (s.message().find("corrupt snapshot: " + name + " at offset ") != 0) {
    return ::testing::AssertionFailure() << "does not name file and offset: " << s.message();
  }
  return ::testing::AssertionSuccess();
}

class SnapshotCorruption : public ::testing::Test {
 protected:
  // A snapshot of six blocks (sessions and both tables spanning blocks), and a small one
  // of a single block.
  static void SetUpTestSuite() {
    big_ = new std::vector<std::byte>(make(contents_of(1000, 60'000, 50'000, 5000)));
    small_ = new std::vector<std::byte>(make(contents_of(10, 20, 20, 5000)));
  }
  static void TearDownTestSuite() {
    delete big_;
    delete small_;
  }
  static std::vector<std::byte> make(const Contents& c) {
    MemoryDisk disk;
    EXPECT_TRUE(write_snapshot(disk, header_for(5000, c), c).is_ok());
    return disk.contents(name_);
  }
  // Whether `bytes`, as the snapshot file, are refused by open() or read().
  static SnapshotStatus check(const std::vector<std::byte>& bytes,
                              const std::string& name = name_) {
    MemoryDisk disk = disk_with(name, bytes);
    return verify(disk, name);
  }
  static std::uint64_t blocks(const std::vector<std::byte>& b) {
    return (trailer_offset_of(b) - header_bytes_of(b) + f::kBlockBytes - 1) / f::kBlockBytes;
  }

  static inline const std::string name_ = snapshot_file_name(5000);
  static inline std::vector<std::byte>* big_ = nullptr;
  static inline std::vector<std::byte>* small_ = nullptr;
};

TEST_F(SnapshotCorruption, TheTestFilesAreGoodAndResealingChangesNothing) {
  ASSERT_EQ(blocks(*big_), 6u);
  ASSERT_EQ(blocks(*small_), 1u);
  for (const std::vector<std::byte>* file : {big_, small_}) {
    const SnapshotStatus s = check(*file);
    ASSERT_TRUE(s.is_ok()) << s.message();
    std::vector<std::byte> resealed = *file;
    reseal_all(resealed);  // the document's checksums are the code's
    EXPECT_EQ(resealed, *file);
  }
}

TEST_F(SnapshotCorruption, TruncationAtEveryBlockBoundaryIsRefused) {
  const std::vector<std::byte>& b = *big_;
  const std::uint64_t header = header_bytes_of(b);
  std::vector<std::uint64_t> cuts = {0,
                                     1,
                                     127,
                                     128,
                                     header - 1,
                                     header,
                                     header + 1,
                                     b.size() - 1,
                                     b.size() - 8,
                                     b.size() - 16,
                                     trailer_offset_of(b),
                                     trailer_offset_of(b) + 1};
  for (std::uint64_t i = 1; i <= blocks(b); ++i) {
    const std::uint64_t at = header + i * f::kBlockBytes;
    for (const std::uint64_t cut : {at - 1, at, at + 1, at + f::kBlockHeaderBytes}) {
      if (cut < b.size()) cuts.push_back(cut);
    }
  }
  for (const std::uint64_t cut : cuts) {
    const std::vector<std::byte> truncated(b.begin(), b.begin() + static_cast<long>(cut));
    EXPECT_TRUE(refused(check(truncated), name_)) << "cut at " << cut;
  }
}

TEST_F(SnapshotCorruption, TruncationAtRandomPointsIsRefused) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED replays it)");
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 60; ++trial) {
    const std::vector<std::byte>& b = trial % 3 == 0 ? *small_ : *big_;
    const std::uint64_t cut = rng() % b.size();
    const std::vector<std::byte> truncated(b.begin(), b.begin() + static_cast<long>(cut));
    EXPECT_TRUE(refused(check(truncated), name_)) << "cut at " << cut;
  }
}

TEST_F(SnapshotCorruption, EveryBitFlipInTheHeaderIsRefused) {
  MemoryDisk disk = disk_with(name_, *small_);
  const std::uint64_t header = header_bytes_of(*small_);
  for (std::uint64_t bit = 0; bit < header * 8; ++bit) {
    disk.flip_bit(name_, bit / 8, static_cast<int>(bit % 8));
    std::unique_ptr<SnapshotReader> r;
    ASSERT_TRUE(refused(SnapshotReader::open(disk, name_, &r), name_)) << "bit " << bit;
    disk.flip_bit(name_, bit / 8, static_cast<int>(bit % 8));
  }
  EXPECT_TRUE(verify(disk, name_).is_ok());
}

TEST_F(SnapshotCorruption, EveryBitFlipInTheTrailerIsRefused) {
  for (const std::vector<std::byte>* file : {small_, big_}) {
    MemoryDisk disk = disk_with(name_, *file);
    for (std::uint64_t at = trailer_offset_of(*file); at < file->size(); ++at) {
      for (int bit = 0; bit < 8; ++bit) {
        disk.flip_bit(name_, at, bit);
        std::unique_ptr<SnapshotReader> r;
        ASSERT_TRUE(refused(SnapshotReader::open(disk, name_, &r), name_))
            << "byte " << at << " bit " << bit;
        disk.flip_bit(name_, at, bit);
      }
    }
  }
}

TEST_F(SnapshotCorruption, EveryBitFlipInASmallSnapshotsBlockIsRefused) {
  MemoryDisk disk = disk_with(name_, *small_);
  const std::uint64_t begin = header_bytes_of(*small_);
  const std::uint64_t end = trailer_offset_of(*small_);
  for (std::uint64_t at = begin; at < end; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      disk.flip_bit(name_, at, bit);
      ASSERT_TRUE(refused(verify(disk, name_), name_)) << "byte " << at << " bit " << bit;
      disk.flip_bit(name_, at, bit);
    }
  }
}

TEST_F(SnapshotCorruption, SampledBitFlipsInEveryBlockOfALargeSnapshotAreRefused) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED replays it)");
  std::mt19937_64 rng(seed);
  MemoryDisk disk = disk_with(name_, *big_);
  const std::uint64_t header = header_bytes_of(*big_);
  const std::uint64_t end = trailer_offset_of(*big_);
  for (std::uint64_t block = 0; block < blocks(*big_); ++block) {
    const std::uint64_t at = header + block * f::kBlockBytes;
    const std::uint64_t block_end = std::min<std::uint64_t>(at + f::kBlockBytes, end);
    for (int trial = 0; trial < 12; ++trial) {
      // Half in the block header (magic, length, index, offset, checksum), half in the payload.
      const std::uint64_t byte =
          trial % 2 == 0
              ? at + rng() % f::kBlockHeaderBytes
              : at + f::kBlockHeaderBytes + rng() % (block_end - at - f::kBlockHeaderBytes);
      const int bit = static_cast<int>(rng() % 8);
      disk.flip_bit(name_, byte, bit);
      const SnapshotStatus s = verify(disk, name_);
      ASSERT_TRUE(refused(s, name_)) << "byte " << byte << " bit " << bit;
      EXPECT_GE(s.offset, at) << s.message();  // found in that block, not before
      EXPECT_LT(s.offset, block_end) << s.message();
      disk.flip_bit(name_, byte, bit);
    }
  }
  EXPECT_TRUE(verify(disk, name_).is_ok());
}

TEST_F(SnapshotCorruption, ABadBlockChecksumIsReportedWithItsBlockAndOffset) {
  std::vector<std::byte> b = *big_;
  const std::uint64_t at = header_bytes_of(b) + f::kBlockBytes;  // block 1
  b[at + 100] ^= std::byte{1};
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_EQ(s.message(), "corrupt snapshot: " + name_ + " at offset " + std::to_string(at) +
                             ": block 1 checksum mismatch");
}

TEST_F(SnapshotCorruption, TrailingGarbageIsRefused) {
  const std::vector<std::byte>& good = *small_;
  const std::vector<std::byte> trailer(good.begin() + static_cast<long>(trailer_offset_of(good)),
                                       good.end());
  std::vector<std::vector<std::byte>> tails = {
      std::vector<std::byte>(1), std::vector<std::byte>(8), std::vector<std::byte>(16),
      std::vector<std::byte>(4096, std::byte{0x5a}), trailer};
  for (const std::vector<std::byte>& tail : tails) {
    std::vector<std::byte> b = good;
    b.insert(b.end(), tail.begin(), tail.end());
    EXPECT_TRUE(refused(check(b), name_)) << tail.size() << " bytes appended";
  }
}

TEST_F(SnapshotCorruption, ABlockCopiedToAnotherPlaceIsRefused) {
  const std::uint64_t header = header_bytes_of(*big_);
  for (const auto& [from, to] : {std::pair<int, int>{1, 2}, {0, 1}, {3, 0}}) {
    std::vector<std::byte> b = *big_;
    std::memcpy(b.data() + header + to * f::kBlockBytes, b.data() + header + from * f::kBlockBytes,
                f::kBlockBytes);
    const SnapshotStatus s = check(b);
    ASSERT_TRUE(refused(s, name_)) << from << " -> " << to;
    EXPECT_NE(s.what.find("misplaced block"), std::string::npos) << s.message();
    EXPECT_EQ(s.offset, header + to * f::kBlockBytes);
  }
}

TEST_F(SnapshotCorruption, ABlockFromAnotherSnapshotIsRefused) {
  // The same records and place, but another header: the checksum's seed differs.
  const Contents c = contents_of(1000, 60'000, 50'000, 5000);
  SnapshotHeader other = header_for(5000, c);
  other.tx_sequence += 1;
  MemoryDisk disk;
  ASSERT_TRUE(write_snapshot(disk, other, c).is_ok());
  const std::vector<std::byte> foreign = disk.contents(name_);
  std::vector<std::byte> b = *big_;
  const std::uint64_t at = header_bytes_of(b) + 2 * f::kBlockBytes;
  std::memcpy(b.data() + at, foreign.data() + at, f::kBlockBytes);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_EQ(s.what, "block 2 checksum mismatch");
}

// The trailer's entry for table `index` (0: the first listed).
std::size_t entry_at(const std::vector<std::byte>& b, std::size_t index) {
  return trailer_offset_of(b) + f::kTrailerFixedBytes + index * f::kTrailerEntryBytes;
}

TEST_F(SnapshotCorruption, ARecordCountThatDisagreesWithTheStateHashIsRefused) {
  std::vector<std::byte> b = *small_;
  const std::size_t count_at = entry_at(b, 0) + f::entry_field::kCount;
  store_le<std::uint64_t>(b, count_at, load_le<std::uint64_t>(b, count_at) + 1);
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_NE(s.what.find("the tables hold 41 records, the header's state hash counts 40"),
            std::string::npos)
      << s.message();
}

TEST_F(SnapshotCorruption, CountsThatDisagreeWithTheRecordsInTheFileAreRefused) {
  for (const std::vector<std::byte>* file : {small_, big_}) {
    // One more record in the trailer and in the header's count, every checksum right.
    std::vector<std::byte> b = *file;
    const std::size_t count_at = entry_at(b, 1) + f::entry_field::kCount;
    store_le<std::uint64_t>(b, count_at, load_le<std::uint64_t>(b, count_at) + 1);
    const std::size_t records_at = f::header_field::kStateRecords;
    store_le<std::uint64_t>(b, records_at, load_le<std::uint64_t>(b, records_at) + 1);
    reseal_all(b);
    const SnapshotStatus s = check(b);
    ASSERT_TRUE(refused(s, name_));
    EXPECT_NE(s.what.find("the counts place the trailer at offset"), std::string::npos)
        << s.message();
    // One session fewer.
    b = *file;
    const std::size_t sessions_at = trailer_offset_of(b) + f::trailer_field::kSessionCount;
    store_le<std::uint64_t>(b, sessions_at, load_le<std::uint64_t>(b, sessions_at) - 1);
    reseal_all(b);
    EXPECT_TRUE(refused(check(b), name_));
  }
}

TEST_F(SnapshotCorruption, ABlockCountThatDisagreesWithTheCountsIsRefused) {
  std::vector<std::byte> b = *big_;
  const std::size_t at = trailer_offset_of(b) + f::trailer_field::kBlockCount;
  store_le<std::uint64_t>(b, at, 5);
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_NE(s.what.find("block count 5, but the counts need 6 blocks"), std::string::npos)
      << s.message();
}

TEST_F(SnapshotCorruption, ARecordSizeThatDisagreesWithTheDescriptorIsRefused) {
  std::vector<std::byte> b = *small_;
  store_le<std::uint32_t>(b, entry_at(b, 0) + f::entry_field::kRecordBytes, 40);
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_EQ(s.offset, entry_at(b, 0));
  EXPECT_NE(s.what.find("table 0 has records of 40 bytes, the descriptor says 48"),
            std::string::npos)
      << s.message();
}

TEST_F(SnapshotCorruption, AnUnknownTableIdIsRefused) {
  std::vector<std::byte> b = *small_;
  store_le<std::uint16_t>(b, entry_at(b, 1) + f::entry_field::kTable, 7);
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_NE(s.what.find("unknown table 7: the descriptor has 2 tables"), std::string::npos)
      << s.message();
}

TEST_F(SnapshotCorruption, TablesOutOfOrderInTheTrailerAreRefused) {
  std::vector<std::byte> b = *small_;
  store_le<std::uint16_t>(b, entry_at(b, 0) + f::entry_field::kTable, 1);
  store_le<std::uint16_t>(b, entry_at(b, 1) + f::entry_field::kTable, 0);
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_NE(s.what.find("table 0 after table 1"), std::string::npos) << s.message();
}

TEST_F(SnapshotCorruption, SessionsOutOfOrderInTheFileAreRefusedWhereTheyAre) {
  std::vector<std::byte> b = *small_;
  const std::size_t first = header_bytes_of(b) + f::kBlockHeaderBytes;
  const std::size_t third = first + 2 * f::kSessionBytes;
  std::swap_ranges(b.begin() + static_cast<long>(third),
                   b.begin() + static_cast<long>(third + f::kSessionBytes),
                   b.begin() + static_cast<long>(third + f::kSessionBytes));
  reseal_all(b);
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_EQ(s.offset, third + f::kSessionBytes);
  EXPECT_NE(s.what.find("sessions out of order: client 7 after client 10"), std::string::npos)
      << s.message();
}

TEST_F(SnapshotCorruption, ANameThatDisagreesWithNextSequenceIsRefused) {
  const std::string other = snapshot_file_name(4999);
  const SnapshotStatus s = check(*small_, other);
  ASSERT_TRUE(refused(s, other));
  EXPECT_EQ(s.offset, f::header_field::kNextSequence);
  EXPECT_NE(s.what.find("the name says next_sequence 4999, the header 5000"), std::string::npos)
      << s.message();
  EXPECT_TRUE(refused(check(*small_, name_ + ".tmp"), name_ + ".tmp"));
}

TEST_F(SnapshotCorruption, AFileThatIsNotASnapshotIsRefused) {
  std::vector<std::byte> b(10'000);
  std::mt19937 rng(7);
  for (std::byte& x : b) x = static_cast<std::byte>(rng());
  const SnapshotStatus s = check(b);
  ASSERT_TRUE(refused(s, name_));
  EXPECT_EQ(s.message(),
            "corrupt snapshot: " + name_ + " at offset 0: bad magic: not a lockstep snapshot");
  EXPECT_TRUE(refused(check({}), name_));
}

// ---- atomicity ----------------------------------------------------------------------------

// After a power loss: every snapshot listed verifies, and the newest is `a` or `b` whole.
void expect_a_or_b(MemoryDisk& disk, const Contents& a, const Contents& b, bool* saw_b) {
  std::vector<std::pair<std::uint64_t, std::string>> listed;
  ASSERT_TRUE(list_snapshots(disk, &listed).is_ok());
  ASSERT_FALSE(listed.empty());
  for (const auto& [seq, name] : listed) {
    const SnapshotStatus s = verify(disk, name);
    EXPECT_TRUE(s.is_ok()) << s.message();  // never a partial snapshot under a snapshot's name
  }
  const auto& [seq, name] = listed.back();
  ASSERT_TRUE(seq == 100 || seq == 200) << name;
  ReadBack got;
  ASSERT_TRUE(read_snapshot(disk, name, &got).is_ok());
  expect_contents(got, header_for(seq, seq == 100 ? a : b), seq == 100 ? a : b);
  *saw_b = seq == 200;
}

class SnapshotAtomicity : public ::testing::Test {
 protected:
  Contents a = contents_of(10, 1000, 500, 100);
  Contents b = contents_of(500, 60'000, 50'000, 200);  // six blocks: two body writes
  MemoryDisk base;
  void SetUp() override { ASSERT_TRUE(write_snapshot(base, header_for(100, a), a).is_ok()); }
  // The system calls writing B makes.
  std::uint64_t calls_to_write_b() {
    MemoryDisk dry = base.restarted();
    const std::uint64_t before = dry.io_count();
    EXPECT_TRUE(write_snapshot(dry, header_for(200, b), b).is_ok());
    return dry.io_count() - before;
  }
};

TEST_F(SnapshotAtomicity, APowerLossAtAnyCallLeavesTheOldSnapshotOrTheNewOneWhole) {
  const std::uint64_t calls = calls_to_write_b();
  EXPECT_EQ(calls, 7u);  // header, two body writes, trailer, fdatasync, rename, directory sync
  for (std::uint64_t k = 1; k <= calls; ++k) {
    for (const std::size_t torn : {std::size_t{0}, std::size_t{100}, f::kBlockBytes + 7}) {
      SCOPED_TRACE("crash at call " + std::to_string(k) + ", torn " + std::to_string(torn));
      MemoryDisk disk = base.restarted();
      disk.crash_at(disk.io_count() + k, torn);
      EXPECT_FALSE(write_snapshot(disk, header_for(200, b), b).is_ok());
      MemoryDisk after = disk.restarted();
      bool saw_b = false;
      expect_a_or_b(after, a, b, &saw_b);
      EXPECT_FALSE(saw_b);  // B's name becomes durable with the last call, the directory sync
    }
  }
  MemoryDisk disk = base.restarted();
  ASSERT_TRUE(write_snapshot(disk, header_for(200, b), b).is_ok());
  MemoryDisk after = disk.restarted();
  bool saw_b = false;
  expect_a_or_b(after, a, b, &saw_b);
  EXPECT_TRUE(saw_b);
}

TEST_F(SnapshotAtomicity, AStaleTemporaryFileLeftByAPowerLossIsNeverListed) {
  // A temporary file whose name became durable (a directory sync by someone else).
  const std::string temp = snapshot_file_name(200) + ".tmp";
  FileHandle file = 0;
  ASSERT_TRUE(base.open(temp, {.create = true}, &file));
  ASSERT_TRUE(base.write_and_sync(file, 0, std::vector<std::byte>(5000, std::byte{1})));
  ASSERT_TRUE(base.close(file));
  ASSERT_TRUE(base.sync_directory());
  const std::uint64_t calls = calls_to_write_b();
  for (std::uint64_t k = 1; k <= calls; ++k) {
    SCOPED_TRACE("crash at call " + std::to_string(k));
    MemoryDisk disk = base.restarted();
    disk.crash_at(k, 64);
    EXPECT_FALSE(write_snapshot(disk, header_for(200, b), b).is_ok());
    MemoryDisk after = disk.restarted();
    const std::vector<std::string> names = names_in(after);
    EXPECT_NE(std::find(names.begin(), names.end(), temp), names.end());
    bool saw_b = false;
    expect_a_or_b(after, a, b, &saw_b);
    EXPECT_FALSE(saw_b);
    ASSERT_TRUE(prune_snapshots(after, 1).is_ok());
    EXPECT_EQ(names_in(after), std::vector<std::string>{snapshot_file_name(100)});
  }
}

struct InjectedFault {
  MemoryDisk::Op op;
  std::uint64_t nth;  // counted on a fresh disk: the n-th call of that kind writing B
  const char* what;
  bool renamed;  // the fault comes after the rename: B is in place (complete)
  const char* name;
};

void PrintTo(const InjectedFault& fault, std::ostream* out) { *out << fault.name; }

class SnapshotFault : public SnapshotAtomicity,
                      public ::testing::WithParamInterface<InjectedFault> {};

TEST_P(SnapshotFault, AFailedCallFailsTheSnapshotAndLeavesTheOldOneUntouched) {
  const InjectedFault fault = GetParam();
  MemoryDisk disk = base.restarted();
  disk.fail(fault.op, fault.nth, EIO);
  const SnapshotStatus s = write_snapshot(disk, header_for(200, b), b);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error, SnapshotError::kIo);
  EXPECT_EQ(s.message().rfind(std::string("snapshot I/O: ") + fault.what, 0), 0u) << s.message();
  std::vector<std::string> expected = {snapshot_file_name(100)};
  if (fault.renamed) expected.push_back(snapshot_file_name(200));
  EXPECT_EQ(names_in(disk), expected);  // the temporary file is gone
  ReadBack got;
  ASSERT_TRUE(read_snapshot(disk, snapshot_file_name(100), &got).is_ok());
  expect_contents(got, header_for(100, a), a);
  MemoryDisk after = disk.restarted();
  bool saw_b = false;
  expect_a_or_b(after, a, b, &saw_b);
}

INSTANTIATE_TEST_SUITE_P(
    EveryKindOfCall, SnapshotFault,
    ::testing::Values(InjectedFault{MemoryDisk::Op::kWrite, 1, "write", false, "HeaderWrite"},
                      InjectedFault{MemoryDisk::Op::kWrite, 2, "write", false, "FirstBodyWrite"},
                      InjectedFault{MemoryDisk::Op::kWrite, 3, "write", false, "SecondBodyWrite"},
                      InjectedFault{MemoryDisk::Op::kWrite, 4, "write", false, "TrailerWrite"},
                      InjectedFault{MemoryDisk::Op::kSync, 1, "fdatasync", false, "FileSync"},
                      InjectedFault{MemoryDisk::Op::kRename, 1, "rename", false, "Rename"},
                      InjectedFault{MemoryDisk::Op::kSync, 2, "fsync of directory", true,
                                    "DirectorySync"}),
    [](const ::testing::TestParamInfo<InjectedFault>& param) {
      return std::string(param.param.name);
    });

// ---- the directory ------------------------------------------------------------------------

TEST(SnapshotDirectory, ListingGivesSnapshotsInSequenceOrderAndNothingElse) {
  MemoryDisk disk;
  const Contents c;
  for (const std::uint64_t seq : {300u, 20u, 1000u}) {
    ASSERT_TRUE(write_snapshot(disk, header_for(seq, c), c).is_ok());
  }
  FileHandle file = 0;
  for (const char* other :
       {"00000000000000000000.lsj", "snapshot-00000000000000002000.lsnap.tmp", "notes.txt"}) {
    ASSERT_TRUE(disk.open(other, {.create = true}, &file));
  }
  std::vector<std::pair<std::uint64_t, std::string>> listed;
  ASSERT_TRUE(list_snapshots(disk, &listed).is_ok());
  const std::vector<std::pair<std::uint64_t, std::string>> expected = {
      {20, snapshot_file_name(20)},
      {300, snapshot_file_name(300)},
      {1000, snapshot_file_name(1000)}};
  EXPECT_EQ(listed, expected);
}

TEST(SnapshotDirectory, PruningKeepsTheNewestAndRemovesTemporaryFilesOnly) {
  MemoryDisk disk;
  const Contents c;
  for (const std::uint64_t seq : {100u, 200u, 300u, 400u}) {
    ASSERT_TRUE(write_snapshot(disk, header_for(seq, c), c).is_ok());
  }
  FileHandle file = 0;
  for (const char* other : {"00000000000000000000.lsj", "snapshot-00000000000000000500.lsnap.tmp",
                            "snapshot-00000000000000000050.lsnap.tmp", "notes.tmp"}) {
    ASSERT_TRUE(disk.open(other, {.create = true}, &file));
  }
  ASSERT_TRUE(disk.sync_directory());
  ASSERT_TRUE(prune_snapshots(disk, 2).is_ok());
  const std::vector<std::string> expected = {"00000000000000000000.lsj", "notes.tmp",
                                             snapshot_file_name(300), snapshot_file_name(400)};
  EXPECT_EQ(names_in(disk), expected);
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(names_in(after), expected);
  ASSERT_TRUE(prune_snapshots(disk, 5).is_ok());
  EXPECT_EQ(names_in(disk), expected);
  ASSERT_TRUE(prune_snapshots(disk, 0).is_ok());
  EXPECT_EQ(names_in(disk), (std::vector<std::string>{"00000000000000000000.lsj", "notes.tmp"}));
}

TEST(SnapshotDirectory, AFailedDirectorySyncWhilePruningIsAnIoError) {
  MemoryDisk disk;
  disk.fail(MemoryDisk::Op::kSync, 1, EIO);
  const SnapshotStatus s = prune_snapshots(disk, 1);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error, SnapshotError::kIo);
  EXPECT_EQ(s.message(),
            "snapshot I/O: fsync of directory of . at offset 0 failed: Input/output error (EIO)");
}

TEST(SnapshotDirectory, OpeningAMissingSnapshotIsAnIoErrorNamingIt) {
  MemoryDisk disk;
  std::unique_ptr<SnapshotReader> r;
  const SnapshotStatus s = SnapshotReader::open(disk, snapshot_file_name(1), &r);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error, SnapshotError::kIo);
  EXPECT_NE(s.message().find("open of " + snapshot_file_name(1)), std::string::npos) << s.message();
  EXPECT_EQ(r, nullptr);
}

// ---- real files ---------------------------------------------------------------------------

TEST(SnapshotPosix, ASnapshotRoundTripsThroughRealFilesAndReplacesAnOlderOne) {
  char templ[] = "/tmp/lockstep-snapshot-test-XXXXXX";
  const std::string dir = ::mkdtemp(templ);
  {
    std::unique_ptr<journal::PosixBackend> io;
    ASSERT_TRUE(journal::PosixBackend::open_directory(dir, false, 4, &io));
    const Contents first = contents_of(3, 10, 10, 700);
    ASSERT_TRUE(write_snapshot(*io, header_for(700, first), first).is_ok());
    const Contents c = contents_of(200, 40'000, 30'000, 700);
    const SnapshotHeader h = header_for(700, c);
    const SnapshotStatus w = write_snapshot(*io, h, c);
    ASSERT_TRUE(w.is_ok()) << w.message();
    std::vector<std::pair<std::uint64_t, std::string>> listed;
    ASSERT_TRUE(list_snapshots(*io, &listed).is_ok());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].second, snapshot_file_name(700));
    ReadBack got;
    const SnapshotStatus r = read_snapshot(*io, listed[0].second, &got);
    ASSERT_TRUE(r.is_ok()) << r.message();
    expect_contents(got, h, c);
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    files.push_back(e.path().filename().string());
  }
  EXPECT_EQ(files, std::vector<std::string>{snapshot_file_name(700)});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lockstep::snapshot
