// Snapshots and the running engine (docs/embedding.md, "Snapshots"): opening from the
// newest snapshot that verifies and replaying only the journal after it gives the state a
// full replay gives, from snapshots at many points; a corrupt or foreign snapshot is
// refused and an older one used; all refused → the open is refused unless told to replay
// everything; retries after a restart from a snapshot are still duplicates; the
// background snapshotter writes snapshots while the engine runs, keeps the newest K and
// can remove old segments. Seeded (LOCKSTEP_SEED replays).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bank_domain.h"
#include "journal/memory_disk.h"
#include "journal/posix_backend.h"
#include "replay/replay.h"
#include "runtime/engine.h"
#include "snapshot/snapshot.h"

namespace lockstep {
namespace {

using BankEngine = Engine<bank::Domain>;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  std::string path;
  TempDir() {
    char templ[] = "/tmp/lockstep-snapshot-engine-XXXXXX";
    path = ::mkdtemp(templ);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("LOCKSTEP_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

EngineConfig config() {
  EngineConfig c;
  c.executor.table_capacity = {512, 1u << 15};
  c.ring_slots = 64;
  c.ingress_capacity = 1024;
  c.arena_bytes = 8u << 20;
  c.journal.segment_bytes = 8u << 20;
  c.journal.frame_bytes_max = 1u << 20;
  c.project = true;
  return c;
}

struct Done {
  std::atomic<std::uint64_t> n{0};
  static void on(void* self, const Completion&) { static_cast<Done*>(self)->n++; }
};

// Submits `count` commands of a seeded mix (opens, deposits, withdrawals that are
// sometimes refused, transfers), waiting for each burst of 50. Each call is a new client
// (a session's request ids start at 1: an old client's would be duplicates).
void run_mix(BankEngine& e, std::mt19937_64& rng, std::uint64_t count,
             std::uint64_t* next_transfer) {
  static std::atomic<std::uint64_t> next_client{1000};
  auto s = e.session(next_client++);
  Done done;
  std::uint64_t sent = 0;
  while (sent < count) {
    const std::uint64_t burst = std::min<std::uint64_t>(50, count - sent);
    for (std::uint64_t i = 0; i < burst; ++i) {
      const std::uint64_t a = 1 + rng() % 64;
      const std::uint64_t b = 1 + rng() % 64;
      SubmitResult r;
      switch (rng() % 4) {
        case 0:
          r = s.submit(bank::OpenAccount{.id = a,
                                         .owner = Chars<16>::from("o" + std::to_string(a)),
                                         .overdraft_limit = {0}},
                       &Done::on, &done);
          break;
        case 1: r = s.submit(bank::Deposit{.account = a, .amount = {100}}, &Done::on, &done); break;
        case 2: r = s.submit(bank::Withdraw{.account = a, .amount = {70}}, &Done::on, &done); break;
        default:
          r = s.submit(
              bank::MakeTransfer{
                  .id = u128::from_u64((*next_transfer)++), .debit = a, .credit = b, .amount = {5}},
              &Done::on, &done);
      }
      ASSERT_EQ(r, SubmitResult::kAccepted);
    }
    sent += burst;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done.n.load() < sent && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100us);
    }
    ASSERT_EQ(done.n.load(), sent);
  }
}

struct Ran {
  StateHash hash;
  std::uint64_t next = 0;
};

// A fresh journal in `dir` with `commands` commands of the mix, run on the engine.
Ran make_history(const std::string& dir, std::uint64_t seed, std::uint64_t commands,
                 EngineConfig c = config()) {
  std::mt19937_64 rng(seed);
  std::uint64_t next_transfer = 1;
  BankEngine e(dir, bank::handlers(), c);
  e.start();
  // Several sessions' worth of bursts: many frames.
  for (int round = 0; round < 4; ++round) {
    run_mix(e, rng, commands / 4, &next_transfer);
  }
  e.stop();
  return {e.executor().state_hash(), e.executor().next_sequence()};
}

// Writes snapshots with the replay library at the first frame end at or after each of
// `at` (ascending). Returns their names.
std::vector<std::string> write_snapshots(const std::string& dir, std::vector<std::uint64_t> at) {
  std::unique_ptr<journal::IoBackend> io;
  std::string error;
  EXPECT_TRUE(replay::open_directory(dir, &io, &error)) << error;
  replay::JournalHead head;
  EXPECT_TRUE(replay::read_journal_head(*io, &head, &error)) << error;
  schema::Domain domain;
  EXPECT_TRUE(replay::domain_of(head.descriptor, &domain, &error)) << error;
  replay::DeltaReplay r(domain);
  std::vector<std::string> names;
  std::size_t i = 0;
  const auto s = replay::scan_journal_from(*io, 0, [&](const replay::JournalEntry& e) {
    EXPECT_TRUE(r.apply(e, &error)) << error;
    if (i < at.size() && r.at_frame_end() && r.next_sequence() >= at[i]) {
      std::string name;
      EXPECT_TRUE(r.write_snapshot(*io, head.flags, head.descriptor, &name, &error)) << error;
      names.push_back(name);
      while (i < at.size() && at[i] <= r.next_sequence()) ++i;
    }
    return true;
  });
  EXPECT_TRUE(s.is_ok()) << s.message();
  return names;
}

std::vector<std::string> snapshot_files(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (snapshot::parse_snapshot_file_name(f.path().filename().string())) {
      v.push_back(f.path().filename().string());
    }
  }
  std::sort(v.begin(), v.end());
  return v;
}

void flip_byte(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

StateHash projected(const BankEngine& e) {
  return e.read([](const bank::Tables& tables, std::uint64_t) {
    StateHash h;
    std::apply([&](const auto&... t) { (t.hash_all(&h), ...); }, tables);
    return h;
  });
}

TEST(EngineSnapshot, OpeningFromASnapshotAtAnyPointPlusTheTailEqualsAFullReplay) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (LOCKSTEP_SEED)");
  TempDir dir;
  const Ran ran = make_history(dir.path, seed, 2000);
  const std::vector<std::string> names = write_snapshots(dir.path, {1, 300, 700, 1200, 1999});
  ASSERT_GE(names.size(), 4u);
  fs::create_directory(dir.path + "/aside");
  for (const std::string& n : names) fs::rename(dir.path + "/" + n, dir.path + "/aside/" + n);
  for (const std::string& n : names) {
    SCOPED_TRACE(n);
    fs::copy_file(dir.path + "/aside/" + n, dir.path + "/" + n);
    {
      BankEngine e(dir.path, bank::handlers(), config());
      EXPECT_EQ(e.snapshot_load().loaded, n);
      EXPECT_TRUE(e.snapshot_load().refused.empty());
      EXPECT_EQ(e.snapshot_load().sequence + e.snapshot_load().replayed, ran.next);
      EXPECT_EQ(e.executor().state_hash(), ran.hash);
      EXPECT_EQ(e.executor().recompute_state_hash(), ran.hash);
      EXPECT_EQ(e.executor().next_sequence(), ran.next);
      EXPECT_EQ(projected(e), ran.hash);  // the projection is loaded from it too
    }
    fs::remove(dir.path + "/" + n);
  }
  // Without any snapshot: the whole journal, to the same state.
  BankEngine full(dir.path, bank::handlers(), config());
  EXPECT_TRUE(full.snapshot_load().loaded.empty());
  EXPECT_EQ(full.snapshot_load().replayed, ran.next);
  EXPECT_EQ(full.executor().state_hash(), ran.hash);
}

TEST(EngineSnapshot, ACorruptNewestSnapshotIsRefusedAndTheOlderOneUsed) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  const Ran ran = make_history(dir.path, seed, 1200);
  const auto names = write_snapshots(dir.path, {400, 1000});
  ASSERT_EQ(names.size(), 2u);
  flip_byte(dir.path + "/" + names[1], 5000);  // inside a record block
  BankEngine e(dir.path, bank::handlers(), config());
  EXPECT_EQ(e.snapshot_load().loaded, names[0]);
  ASSERT_EQ(e.snapshot_load().refused.size(), 1u);
  EXPECT_NE(e.snapshot_load().refused[0].find(names[1]), std::string::npos)
      << e.snapshot_load().refused[0];
  EXPECT_EQ(e.executor().state_hash(), ran.hash);
}

TEST(EngineSnapshot, AllSnapshotsRefusedRefusesToOpenUnlessToldToReplayEverything) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  const Ran ran = make_history(dir.path, seed, 800);
  const auto names = write_snapshots(dir.path, {300, 600});
  ASSERT_EQ(names.size(), 2u);
  for (const std::string& n : names) flip_byte(dir.path + "/" + n, 40);  // a header field
  try {
    BankEngine e(dir.path, bank::handlers(), config());
    FAIL() << "opened with every snapshot corrupt";
  } catch (const EngineOpenError& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("every snapshot was refused"), std::string::npos) << m;
    EXPECT_NE(m.find(names[0]), std::string::npos) << m;
    EXPECT_NE(m.find(names[1]), std::string::npos) << m;
  }
  EngineConfig c = config();
  c.snapshots.replay_all_if_refused = true;
  BankEngine e(dir.path, bank::handlers(), c);
  EXPECT_TRUE(e.snapshot_load().loaded.empty());
  EXPECT_EQ(e.snapshot_load().refused.size(), 2u);
  EXPECT_EQ(e.snapshot_load().replayed, ran.next);
  EXPECT_EQ(e.executor().state_hash(), ran.hash);
}

TEST(EngineSnapshot, ASnapshotOfAnotherHistoryIsRefusedByTheChainHash) {
  TempDir a;
  TempDir b;
  (void)make_history(a.path, 1, 600);
  const Ran rb = make_history(b.path, 2, 600);
  const auto names = write_snapshots(a.path, {300});
  ASSERT_EQ(names.size(), 1u);
  fs::copy_file(a.path + "/" + names[0], b.path + "/" + names[0]);
  EngineConfig c = config();
  c.snapshots.replay_all_if_refused = true;
  BankEngine e(b.path, bank::handlers(), c);
  ASSERT_EQ(e.snapshot_load().refused.size(), 1u);
  EXPECT_NE(e.snapshot_load().refused[0].find("chain hash"), std::string::npos)
      << e.snapshot_load().refused[0];
  EXPECT_EQ(e.executor().state_hash(), rb.hash);
}

TEST(EngineSnapshot, ASnapshotPastTheJournalsEndRefusesTheOpenEvenWithReplayAll) {
  TempDir a;
  TempDir b;
  (void)make_history(a.path, 3, 800);
  (void)make_history(b.path, 3, 200);  // the same seed: a prefix of a's history
  const auto names = write_snapshots(a.path, {700});
  ASSERT_EQ(names.size(), 1u);
  fs::copy_file(a.path + "/" + names[0], b.path + "/" + names[0]);
  // The journal lost entries the snapshot holds: opening on less would lose them silently.
  for (const bool replay_all : {false, true}) {
    EngineConfig c = config();
    c.snapshots.replay_all_if_refused = replay_all;
    try {
      BankEngine e(b.path, bank::handlers(), c);
      FAIL() << "opened a journal that ends before its snapshot";
    } catch (const EngineOpenError& err) {
      const std::string m = err.what();
      EXPECT_NE(m.find(replay_all ? "entries are missing" : "before the snapshot"),
                std::string::npos)
          << m;
    }
  }
  EXPECT_TRUE(fs::exists(b.path + "/" + names[0]));  // nothing set aside on a refused open
}

// A snapshot whose bytes are sound but whose records share a primary key is refused when
// the indexes are built.
TEST(EngineSnapshot, ASnapshotWithTwoRecordsOnOneKeyIsRefused) {
  TempDir dir;
  const Ran ran = make_history(dir.path, 21, 400);
  const auto names = write_snapshots(dir.path, {399});
  ASSERT_EQ(names.size(), 1u);
  std::unique_ptr<journal::IoBackend> io;
  std::string error;
  ASSERT_TRUE(replay::open_directory(dir.path, &io, &error)) << error;
  std::unique_ptr<snapshot::SnapshotReader> reader;
  ASSERT_TRUE(snapshot::SnapshotReader::open(*io, names[0], &reader).is_ok());
  snapshot::SnapshotHeader h = reader->header();
  std::vector<snapshot::ClientRecord> sessions;
  std::vector<std::pair<std::uint16_t, std::vector<std::byte>>> records;
  ASSERT_TRUE(reader
                  ->read([&](const snapshot::ClientRecord& x) { sessions.push_back(x); },
                         [&](std::uint16_t t, std::span<const std::byte> image) {
                           records.emplace_back(t,
                                                std::vector<std::byte>(image.begin(), image.end()));
                         })
                  .is_ok());
  reader.reset();
  ASSERT_GE(records.size(), 2u);
  ASSERT_EQ(records[0].first, records[1].first);
  // Rewrite it with the second record a copy of the first (the state hash made to match,
  // so only the key check can catch it).
  records[1].second = records[0].second;
  StateHash hash;
  for (const auto& [t, image] : records) hash.add(t, image);
  h.state_hash = hash;
  ASSERT_TRUE(io->remove(names[0]));
  std::unique_ptr<snapshot::SnapshotWriter> w;
  ASSERT_TRUE(snapshot::SnapshotWriter::begin(*io, h, &w).is_ok());
  for (const auto& x : sessions) ASSERT_TRUE(w->add_session(x).is_ok());
  std::uint16_t table = 0xFFFF;
  for (const auto& [t, image] : records) {
    if (t != table) {
      ASSERT_TRUE(w->begin_table(t, static_cast<std::uint32_t>(image.size())).is_ok());
      table = t;
    }
    ASSERT_TRUE(w->add_record(image).is_ok());
  }
  ASSERT_TRUE(w->finish().is_ok());
  w.reset();
  EngineConfig c = config();
  c.snapshots.replay_all_if_refused = true;
  {
    BankEngine e(dir.path, bank::handlers(), c);
    ASSERT_EQ(e.snapshot_load().refused.size(), 1u);
    EXPECT_NE(e.snapshot_load().refused[0].find("one primary key"), std::string::npos)
        << e.snapshot_load().refused[0];
    EXPECT_EQ(e.executor().state_hash(), ran.hash);
  }
}

TEST(EngineSnapshot, RefusedSnapshotsAreSetAsideOnceTheEngineOpens) {
  TempDir dir;
  const Ran ran = make_history(dir.path, 11, 1000);
  const auto names = write_snapshots(dir.path, {300, 800});
  ASSERT_EQ(names.size(), 2u);
  flip_byte(dir.path + "/" + names[1], 5000);
  {
    BankEngine e(dir.path, bank::handlers(), config());
    EXPECT_EQ(e.snapshot_load().loaded, names[0]);
    EXPECT_EQ(e.executor().state_hash(), ran.hash);
  }
  EXPECT_FALSE(fs::exists(dir.path + "/" + names[1]));
  EXPECT_TRUE(fs::exists(dir.path + "/" + names[1] + ".refused"));
  // The next open does not meet it again.
  BankEngine e(dir.path, bank::handlers(), config());
  EXPECT_EQ(e.snapshot_load().loaded, names[0]);
  EXPECT_TRUE(e.snapshot_load().refused.empty());
}

TEST(EngineSnapshot, RetriesAfterARestartFromASnapshotAreStillDuplicates) {
  TempDir dir;
  std::uint64_t sequence = 0;
  {
    BankEngine e(dir.path, bank::handlers(), config());
    e.start();
    auto s = e.session(9);
    Done done;
    ASSERT_EQ(
        s.submit(bank::OpenAccount{.id = 1, .owner = Chars<16>::from("a"), .overdraft_limit = {0}},
                 &Done::on, &done, kNoDeadline, 41),
        SubmitResult::kAccepted);
    ASSERT_EQ(
        s.submit(bank::Deposit{.account = 1, .amount = {5}}, &Done::on, &done, kNoDeadline, 42),
        SubmitResult::kAccepted);
    e.stop();
    sequence = e.executor().next_sequence() - 1;
  }
  const auto names = write_snapshots(dir.path, {2});
  ASSERT_EQ(names.size(), 1u);
  BankEngine e(dir.path, bank::handlers(), config());
  ASSERT_EQ(e.snapshot_load().loaded, names[0]);
  EXPECT_EQ(e.snapshot_load().replayed, 0u);  // nothing after it: the sessions come from it
  e.start();
  auto s = e.session(9);
  std::mutex mu;
  std::vector<Completion> seen;
  struct Ctx {
    std::mutex* mu;
    std::vector<Completion>* seen;
  } ctx{&mu, &seen};
  const auto on = [](void* p, const Completion& c) {
    auto* x = static_cast<Ctx*>(p);
    std::lock_guard lock(*x->mu);
    x->seen->push_back(c);
  };
  ASSERT_EQ(s.submit(bank::Deposit{.account = 1, .amount = {5}}, on, &ctx, kNoDeadline, 42),
            SubmitResult::kAccepted);
  e.stop();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].status, CompletionStatus::kDuplicate);
  EXPECT_EQ(seen[0].sequence, sequence);
}

// Waits until the snapshotter has written `n` snapshots (or 10 s).
bool wait_written(const BankEngine& e, std::uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (e.snapshotter_status().written < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  return e.snapshotter_status().written >= n;
}

TEST(EngineSnapshot, TheRunningEngineWritesSnapshotsKeepsTheNewestAndRestartsFromThem) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  EngineConfig c = config();
  c.snapshots.every_commands = 200;
  c.snapshots.keep = 2;
  std::mt19937_64 rng(seed);
  std::uint64_t next_transfer = 1;
  StateHash hash;
  std::uint64_t next = 0;
  {
    BankEngine e(dir.path, bank::handlers(), c);
    e.start();
    for (std::uint64_t round = 1; round <= 4; ++round) {
      run_mix(e, rng, 250, &next_transfer);
      ASSERT_TRUE(wait_written(e, round)) << e.snapshotter_status().error;
    }
    e.stop();
    const SnapshotterStatus st = e.snapshotter_status();
    EXPECT_TRUE(st.error.empty()) << st.error;
    EXPECT_GE(st.written, 4u);
    hash = e.executor().state_hash();
    next = e.executor().next_sequence();
  }
  const auto files = snapshot_files(dir.path);
  ASSERT_EQ(files.size(), 2u);  // keep = 2
  {
    BankEngine e(dir.path, bank::handlers(), c);
    EXPECT_EQ(e.snapshot_load().loaded, files.back());
    EXPECT_LT(e.snapshot_load().replayed, next);
    EXPECT_EQ(e.executor().state_hash(), hash);
    EXPECT_EQ(projected(e), hash);
    // It goes on snapshotting from the snapshot it opened from.
    e.start();
    run_mix(e, rng, 250, &next_transfer);
    ASSERT_TRUE(wait_written(e, 1)) << e.snapshotter_status().error;
    e.stop();
    hash = e.executor().state_hash();
  }
  BankEngine e(dir.path, bank::handlers(), config());
  EXPECT_EQ(e.executor().state_hash(), hash);
}

TEST(EngineSnapshot, OldSegmentsCanBeRemovedOnceASnapshotCoversThem) {
  TempDir dir;
  EngineConfig c = config();
  c.journal.segment_bytes = 1u << 20;  // many segments
  c.journal.frame_bytes_max = 384u << 10;
  c.snapshots.every_commands = 1000;
  c.snapshots.keep = 1;
  c.snapshots.remove_old_segments = true;
  std::mt19937_64 rng(5);
  std::uint64_t next_transfer = 1;
  StateHash hash;
  {
    BankEngine e(dir.path, bank::handlers(), c);
    e.start();
    for (std::uint64_t round = 1; round <= 4; ++round) {
      run_mix(e, rng, 3000, &next_transfer);
      ASSERT_TRUE(wait_written(e, round)) << e.snapshotter_status().error;
    }
    e.stop();
    EXPECT_GT(e.snapshotter_status().segments_removed, 0u);
    hash = e.executor().state_hash();
  }
  EXPECT_FALSE(fs::exists(dir.path + "/00000000000000000000.lsj"));
  c.snapshots.every_commands = 0;
  BankEngine e(dir.path, bank::handlers(), c);
  EXPECT_FALSE(e.snapshot_load().loaded.empty());
  EXPECT_EQ(e.executor().state_hash(), hash);
}

TEST(EngineSnapshot, SnapshotsWhileRunningNeedAJournalDirectoryAndKeepAtLeastOne) {
  journal::MemoryDisk disk;
  EngineConfig c = config();
  c.snapshots.every_commands = 10;
  EXPECT_THROW(BankEngine(disk, bank::handlers(), c), std::invalid_argument);
  TempDir dir;
  c.snapshots.keep = 0;
  try {
    BankEngine e(dir.path, bank::handlers(), c);
    FAIL() << "keep = 0 accepted";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("snapshots.keep"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace lockstep
