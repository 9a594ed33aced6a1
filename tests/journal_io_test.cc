// The I/O seam: the same semantics from every backend, and the in-memory disk's faults
// (what the journal's crash and fault tests stand on).
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "journal/memory_disk.h"
#include "journal/posix_backend.h"
#include "journal/uring_backend.h"

namespace lockstep::journal {
namespace {

std::vector<std::byte> bytes(std::size_t n, unsigned char value) {
  return std::vector<std::byte>(n, std::byte{value});
}

std::vector<std::byte> read_all(IoBackend& io, FileHandle file) {
  std::uint64_t size = 0;
  EXPECT_TRUE(io.size(file, &size));
  std::vector<std::byte> out(size);
  std::size_t got = 0;
  EXPECT_TRUE(io.read(file, 0, out, &got));
  out.resize(got);
  return out;
}

// ---- every backend ----------------------------------------------------------------------

struct MemoryFactory {
  std::unique_ptr<IoBackend> make() { return std::make_unique<MemoryDisk>(4); }
};

struct PosixFactory {
  std::string dir;
  PosixFactory() {
    char templ[] = "/tmp/lockstep-io-test-XXXXXX";
    dir = ::mkdtemp(templ);
  }
  ~PosixFactory() { std::filesystem::remove_all(dir); }
  std::unique_ptr<IoBackend> make() {
    std::unique_ptr<PosixBackend> io;
    EXPECT_TRUE(PosixBackend::open_directory(dir, false, 4, &io));
    return io;
  }
};

struct UringFactory : PosixFactory {
  std::unique_ptr<IoBackend> make() {
    std::unique_ptr<UringBackend> io;
    const IoStatus s = UringBackend::create(dir, false, 4, &io);
    EXPECT_TRUE(s) << s.message();
    return io;
  }
};

template <class F>
class BackendTest : public ::testing::Test {
 protected:
  F factory;
  std::unique_ptr<IoBackend> io = factory.make();
};

using Factories = ::testing::Types<MemoryFactory, PosixFactory, UringFactory>;
TYPED_TEST_SUITE(BackendTest, Factories);

TYPED_TEST(BackendTest, OpeningAMissingFileWithoutCreateSaysWhich) {
  FileHandle f = 0;
  const IoStatus s = this->io->open("absent.lsj", {}, &f);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error_code(), ENOENT);
  EXPECT_NE(s.message().find("open of absent.lsj"), std::string::npos) << s.message();
}

TYPED_TEST(BackendTest, CreatedFilesAreListedInOrder) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("b.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->open("a.lsj", {.create = true}, &f));
  std::vector<std::string> names;
  ASSERT_TRUE(this->io->list(&names));
  EXPECT_EQ(names, (std::vector<std::string>{"a.lsj", "b.lsj"}));
}

TYPED_TEST(BackendTest, AllocatedSpaceReadsAsZeros) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->allocate(f, 8192));
  EXPECT_EQ(read_all(*this->io, f), bytes(8192, 0));
}

TYPED_TEST(BackendTest, WrittenBytesReadBack) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->allocate(f, 100));
  ASSERT_TRUE(this->io->write_and_sync(f, 10, bytes(5, 7)));
  const auto all = read_all(*this->io, f);
  ASSERT_EQ(all.size(), 100u);
  EXPECT_EQ(all[9], std::byte{0});
  EXPECT_EQ(all[10], std::byte{7});
  EXPECT_EQ(all[14], std::byte{7});
  EXPECT_EQ(all[15], std::byte{0});
}

TYPED_TEST(BackendTest, ReadsStopAtTheEndOfTheFile) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(10, 1)));
  std::vector<std::byte> out(64);
  std::size_t got = 99;
  ASSERT_TRUE(this->io->read(f, 4, out, &got));
  EXPECT_EQ(got, 6u);
  ASSERT_TRUE(this->io->read(f, 100, out, &got));
  EXPECT_EQ(got, 0u);
}

TYPED_TEST(BackendTest, TruncateShortensTheFile) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(100, 3)));
  ASSERT_TRUE(this->io->truncate(f, 40));
  EXPECT_EQ(read_all(*this->io, f), bytes(40, 3));
}

TYPED_TEST(BackendTest, DurableWritesCompleteInSubmissionOrder) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  const auto a = bytes(8, 1), b = bytes(8, 2), c = bytes(8, 3);
  ASSERT_TRUE(this->io->submit({f, 0, a, 11}));
  ASSERT_TRUE(this->io->submit({f, 8, b, 12}));
  ASSERT_TRUE(this->io->submit({f, 16, c, 13}));
  EXPECT_EQ(this->io->in_flight(), 3u);
  std::vector<Completion> done;
  ASSERT_TRUE(this->io->reap(3, &done));
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].tag, 11u);
  EXPECT_EQ(done[2].tag, 13u);
  for (const Completion& c2 : done) EXPECT_TRUE(c2.status) << c2.status.message();
  EXPECT_EQ(this->io->in_flight(), 0u);
  std::vector<std::byte> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  expected.insert(expected.end(), c.begin(), c.end());
  EXPECT_EQ(read_all(*this->io, f), expected);
}

TYPED_TEST(BackendTest, AWriteWithoutSyncCompletesToo) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  const auto a = bytes(4096, 1);
  ASSERT_TRUE(this->io->submit({f, 0, a, 5, false}));
  std::vector<Completion> done;
  ASSERT_TRUE(this->io->reap(1, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].status) << done[0].status.message();
  EXPECT_EQ(read_all(*this->io, f), a);
}

TYPED_TEST(BackendTest, ReapWithinReturnsEveryCompletionInOrderAndNeverWaitsWhenIdle) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  std::vector<Completion> done;
  // Nothing in flight: returns at once, with nothing, even with a long timeout.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(this->io->reap_within(5'000'000'000, &done));
  EXPECT_TRUE(done.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  const auto a = bytes(512, 1), b = bytes(512, 2);
  ASSERT_TRUE(this->io->submit({f, 0, a, 21}));
  ASSERT_TRUE(this->io->submit({f, 512, b, 22}));
  // Each call waits at most its timeout; together they deliver both, in order.
  for (int i = 0; i < 10'000 && done.size() < 2; ++i) {
    ASSERT_TRUE(this->io->reap_within(1'000'000, &done));
  }
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].tag, 21u);
  EXPECT_EQ(done[1].tag, 22u);
  EXPECT_EQ(this->io->in_flight(), 0u);
}

TYPED_TEST(BackendTest, AClosedHandleIsRefused) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("s.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->close(f));
  std::uint64_t size = 0;
  EXPECT_EQ(this->io->size(f, &size).error_code(), EBADF);
}

TYPED_TEST(BackendTest, ARemovedFileIsNoLongerListed) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("gone.lsj", {.create = true}, &f));
  ASSERT_TRUE(this->io->close(f));
  ASSERT_TRUE(this->io->remove("gone.lsj"));
  std::vector<std::string> names;
  ASSERT_TRUE(this->io->list(&names));
  EXPECT_TRUE(names.empty());
  EXPECT_EQ(this->io->remove("gone.lsj").error_code(), ENOENT);
}

TYPED_TEST(BackendTest, TheDirectoryCanBeSynced) { EXPECT_TRUE(this->io->sync_directory()); }

TYPED_TEST(BackendTest, ARenamedFileIsListedAndReadUnderItsNewNameOnly) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("a.tmp", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(12, 4)));
  ASSERT_TRUE(this->io->close(f));
  ASSERT_TRUE(this->io->rename("a.tmp", "a.snap"));
  ASSERT_TRUE(this->io->sync_directory());
  std::vector<std::string> names;
  ASSERT_TRUE(this->io->list(&names));
  EXPECT_EQ(names, (std::vector<std::string>{"a.snap"}));
  FileHandle g = 0;
  ASSERT_TRUE(this->io->open("a.snap", {}, &g));
  EXPECT_EQ(read_all(*this->io, g), bytes(12, 4));
  EXPECT_EQ(this->io->open("a.tmp", {}, &f).error_code(), ENOENT);
}

TYPED_TEST(BackendTest, ARenameReplacesTheFileAlreadyUnderTheNewName) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("new", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(8, 1)));
  ASSERT_TRUE(this->io->close(f));
  ASSERT_TRUE(this->io->open("old", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(3, 2)));
  ASSERT_TRUE(this->io->close(f));
  ASSERT_TRUE(this->io->rename("new", "old"));
  std::vector<std::string> names;
  ASSERT_TRUE(this->io->list(&names));
  EXPECT_EQ(names, (std::vector<std::string>{"old"}));
  ASSERT_TRUE(this->io->open("old", {}, &f));
  EXPECT_EQ(read_all(*this->io, f), bytes(8, 1));
}

TYPED_TEST(BackendTest, RenamingAMissingFileIsAnErrorThatNamesBothNames) {
  const IoStatus s = this->io->rename("absent.tmp", "present");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error_code(), ENOENT);
  EXPECT_NE(s.message().find("rename of absent.tmp to present"), std::string::npos) << s.message();
  std::vector<std::string> names;
  ASSERT_TRUE(this->io->list(&names));
  EXPECT_TRUE(names.empty());
}

TYPED_TEST(BackendTest, AFileOpenWhileRenamedStaysReadableThroughItsHandle) {
  FileHandle f = 0;
  ASSERT_TRUE(this->io->open("x", {.create = true}, &f));
  ASSERT_TRUE(this->io->write_and_sync(f, 0, bytes(5, 9)));
  ASSERT_TRUE(this->io->rename("x", "y"));
  EXPECT_EQ(read_all(*this->io, f), bytes(5, 9));
  ASSERT_TRUE(this->io->close(f));
}

TEST(OpenIoBackend, PrefersIoUringAndSaysWhichItChose) {
  PosixFactory dir;
  std::unique_ptr<IoBackend> io;
  std::string note;
  ASSERT_TRUE(open_io_backend(dir.dir, false, 4, &io, &note));
  ASSERT_NE(io, nullptr);
  EXPECT_NE(note.find(io->name()), std::string::npos) << note;
}

TEST(OpenIoBackend, AMissingDirectoryIsAnErrorThatNamesIt) {
  std::unique_ptr<IoBackend> io;
  std::string note;
  const IoStatus s = open_io_backend("/nonexistent/lockstep", false, 4, &io, &note);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("/nonexistent/lockstep"), std::string::npos) << s.message();
}

// ---- the in-memory disk's faults ----------------------------------------------------------

class MemoryDiskTest : public ::testing::Test {
 protected:
  MemoryDisk disk{4};
  FileHandle file = 0;
  void SetUp() override {
    ASSERT_TRUE(disk.open("s.lsj", {.create = true}, &file));
    ASSERT_TRUE(disk.sync_directory());
  }
  std::vector<std::byte> after_restart() { return disk.restarted().contents("s.lsj"); }
  Completion durable_write(std::uint64_t offset, const std::vector<std::byte>& data) {
    EXPECT_TRUE(disk.submit({file, offset, data, offset}));
    std::vector<Completion> done;
    EXPECT_TRUE(disk.reap(1, &done));
    return done.at(0);
  }
};

TEST_F(MemoryDiskTest, SyncedWritesSurviveARestart) {
  ASSERT_TRUE(durable_write(0, bytes(16, 5)).status);
  EXPECT_EQ(after_restart(), bytes(16, 5));
}

TEST_F(MemoryDiskTest, WritesNotYetSyncedAreLostInAPowerLoss) {
  ASSERT_TRUE(durable_write(0, bytes(16, 5)).status);
  disk.fail(MemoryDisk::Op::kSync, 3, EIO);  // the second durable write's sync (1: dir)
  EXPECT_FALSE(durable_write(16, bytes(16, 6)).status);
  EXPECT_EQ(disk.contents("s.lsj").size(), 32u);  // visible to reads...
  EXPECT_EQ(after_restart(), bytes(16, 5));       // ...but never made durable
}

TEST_F(MemoryDiskTest, AFileWhoseNameWasNeverSyncedIsGoneAfterARestart) {
  FileHandle other = 0;
  ASSERT_TRUE(disk.open("new.lsj", {.create = true}, &other));
  ASSERT_TRUE(disk.write_and_sync(other, 0, bytes(4, 1)));
  EXPECT_TRUE(disk.restarted().contents("new.lsj").empty());
  ASSERT_TRUE(disk.sync_directory());
  EXPECT_EQ(disk.restarted().contents("new.lsj"), bytes(4, 1));
}

TEST_F(MemoryDiskTest, ACrashDuringAWriteKeepsOnlyItsTornPrefix) {
  ASSERT_TRUE(durable_write(0, bytes(8, 1)).status);
  disk.crash_at(disk.io_count() + 1, 3);  // the next system call is the write
  const Completion c = durable_write(8, bytes(8, 2));
  EXPECT_FALSE(c.status);
  EXPECT_TRUE(disk.crashed());
  std::vector<std::byte> expected = bytes(8, 1);
  const auto torn = bytes(3, 2);
  expected.insert(expected.end(), torn.begin(), torn.end());
  EXPECT_EQ(after_restart(), expected);
}

TEST_F(MemoryDiskTest, EverythingFailsAfterTheCrash) {
  disk.crash_at(disk.io_count() + 1, 0);
  EXPECT_FALSE(durable_write(0, bytes(8, 1)).status);
  EXPECT_EQ(disk.write_and_sync(file, 0, bytes(1, 1)).error_code(), EIO);
  EXPECT_FALSE(disk.sync_directory());
}

TEST_F(MemoryDiskTest, AFailedWriteNamesTheOperationFileAndOffset) {
  disk.fail(MemoryDisk::Op::kWrite, 1, EIO);
  const Completion c = durable_write(4096, bytes(8, 1));
  ASSERT_FALSE(c.status);
  EXPECT_EQ(c.status.error_code(), EIO);
  EXPECT_EQ(c.status.message(), "write of s.lsj at offset 4096 failed: Input/output error (EIO)");
}

TEST_F(MemoryDiskTest, AFailedSyncIsReportedAsTheSync) {
  disk.fail(MemoryDisk::Op::kSync, 2, ENOSPC);
  const Completion c = durable_write(0, bytes(8, 1));
  ASSERT_FALSE(c.status);
  EXPECT_EQ(c.status.operation(), "fdatasync");
  EXPECT_EQ(c.status.error_code(), ENOSPC);
}

TEST_F(MemoryDiskTest, AOneTimeFaultFailsOnlyTheNthCall) {
  disk.fail(MemoryDisk::Op::kWrite, 2, EIO);
  EXPECT_TRUE(durable_write(0, bytes(8, 1)).status);
  EXPECT_FALSE(durable_write(8, bytes(8, 2)).status);
  EXPECT_TRUE(durable_write(16, bytes(8, 3)).status);
}

TEST_F(MemoryDiskTest, APermanentFaultFailsEveryCallFromTheNthOn) {
  disk.fail(MemoryDisk::Op::kWrite, 2, EIO, true);
  EXPECT_TRUE(durable_write(0, bytes(8, 1)).status);
  EXPECT_FALSE(durable_write(8, bytes(8, 2)).status);
  EXPECT_FALSE(durable_write(16, bytes(8, 3)).status);
}

TEST_F(MemoryDiskTest, AShortWriteIsContinuedUntilComplete) {
  disk.short_write(1, 5);
  ASSERT_TRUE(durable_write(0, bytes(16, 9)).status);
  EXPECT_EQ(after_restart(), bytes(16, 9));
}

TEST_F(MemoryDiskTest, AShortWriteThatCannotBeCompletedFails) {
  disk.short_write(1, 5);
  disk.fail(MemoryDisk::Op::kWrite, 2, ENOSPC);
  const Completion c = durable_write(0, bytes(16, 9));
  ASSERT_FALSE(c.status);
  EXPECT_EQ(c.status.error_code(), ENOSPC);
  EXPECT_EQ(c.status.offset(), 5u);  // where the continuation failed
}

TEST_F(MemoryDiskTest, AFlippedBitIsSeenAndSurvives) {
  ASSERT_TRUE(durable_write(0, bytes(4, 0)).status);
  disk.flip_bit("s.lsj", 2, 3);
  EXPECT_EQ(disk.contents("s.lsj")[2], std::byte{8});
  EXPECT_EQ(after_restart()[2], std::byte{8});
}

TEST_F(MemoryDiskTest, CountsEverySystemCall) {
  const std::uint64_t before = disk.io_count();
  disk.short_write(1, 3);
  ASSERT_TRUE(durable_write(0, bytes(6, 1)).status);  // two writes and a sync
  EXPECT_EQ(disk.io_count() - before, 3u);
}

// ---- renames and the directory's durability -------------------------------------------

class MemoryDiskRenameTest : public ::testing::Test {
 protected:
  MemoryDisk disk{4};
  // Creates `name` holding `data`, synced, closed; its name durable if `durable_name`.
  void make(const std::string& name, const std::vector<std::byte>& data, bool durable_name) {
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(name, {.create = true}, &f));
    ASSERT_TRUE(disk.write_and_sync(f, 0, data));
    ASSERT_TRUE(disk.close(f));
    if (durable_name) {
      ASSERT_TRUE(disk.sync_directory());
    }
  }
  static std::vector<std::string> names_of(MemoryDisk& d) {
    std::vector<std::string> names;
    EXPECT_TRUE(d.list(&names));
    return names;
  }
};

TEST_F(MemoryDiskRenameTest, APowerLossBeforeTheDirectorySyncBringsBackBothOldNames) {
  make("b", bytes(4, 2), true);
  make("a", bytes(6, 1), true);
  ASSERT_TRUE(disk.rename("a", "b"));
  EXPECT_EQ(names_of(disk), (std::vector<std::string>{"b"}));
  EXPECT_EQ(disk.contents("b"), bytes(6, 1));
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(names_of(after), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(after.contents("a"), bytes(6, 1));
  EXPECT_EQ(after.contents("b"), bytes(4, 2));
}

TEST_F(MemoryDiskRenameTest, TheDirectorySyncMakesTheRenameDurable) {
  make("b", bytes(4, 2), true);
  make("a", bytes(6, 1), true);
  ASSERT_TRUE(disk.rename("a", "b"));
  ASSERT_TRUE(disk.sync_directory());
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(names_of(after), (std::vector<std::string>{"b"}));
  EXPECT_EQ(after.contents("b"), bytes(6, 1));
}

TEST_F(MemoryDiskRenameTest, AFileWhoseOldNameWasNeverDurableIsGoneUntilTheDirectorySync) {
  make("old", bytes(2, 7), true);
  make("s.tmp", bytes(6, 1), false);
  ASSERT_TRUE(disk.rename("s.tmp", "s"));
  EXPECT_EQ(names_of(disk), (std::vector<std::string>{"old", "s"}));
  MemoryDisk before_sync = disk.restarted();
  EXPECT_EQ(names_of(before_sync), (std::vector<std::string>{"old"}));
  ASSERT_TRUE(disk.sync_directory());
  MemoryDisk after_sync = disk.restarted();
  EXPECT_EQ(names_of(after_sync), (std::vector<std::string>{"old", "s"}));
  EXPECT_EQ(after_sync.contents("s"), bytes(6, 1));
}

TEST_F(MemoryDiskRenameTest, ARenamedFileKeepsOnlyItsSyncedBytesAfterAPowerLoss) {
  FileHandle f = 0;
  ASSERT_TRUE(disk.open("s.tmp", {.create = true}, &f));
  ASSERT_TRUE(disk.write_and_sync(f, 0, bytes(4, 1)));
  ASSERT_TRUE(disk.submit({f, 4, bytes(4, 2), 0, false}));  // written, never synced
  std::vector<Completion> done;
  ASSERT_TRUE(disk.reap(1, &done));
  ASSERT_TRUE(disk.close(f));
  ASSERT_TRUE(disk.rename("s.tmp", "s"));
  ASSERT_TRUE(disk.sync_directory());
  EXPECT_EQ(disk.contents("s").size(), 8u);
  EXPECT_EQ(disk.restarted().contents("s"), bytes(4, 1));
}

TEST_F(MemoryDiskRenameTest, ARenameIsOneNumberedSystemCall) {
  make("a", bytes(1, 1), true);
  const std::uint64_t before = disk.io_count();
  ASSERT_TRUE(disk.rename("a", "b"));
  EXPECT_EQ(disk.io_count() - before, 1u);
}

TEST_F(MemoryDiskRenameTest, APlannedRenameFailureChangesNoName) {
  make("a", bytes(1, 1), true);
  disk.fail(MemoryDisk::Op::kRename, 1, EIO);
  const IoStatus s = disk.rename("a", "b");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.message(), "rename of a to b at offset 0 failed: Input/output error (EIO)");
  EXPECT_EQ(names_of(disk), (std::vector<std::string>{"a"}));
  ASSERT_TRUE(disk.rename("a", "b"));  // a one-time fault
  EXPECT_EQ(names_of(disk), (std::vector<std::string>{"b"}));
}

TEST_F(MemoryDiskRenameTest, APowerLossDuringTheRenameLeavesTheOldNames) {
  make("b", bytes(4, 2), true);
  make("a", bytes(6, 1), true);
  disk.crash_at(disk.io_count() + 1, 0);
  EXPECT_EQ(disk.rename("a", "b").error_code(), EIO);
  EXPECT_TRUE(disk.crashed());
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(after.contents("a"), bytes(6, 1));
  EXPECT_EQ(after.contents("b"), bytes(4, 2));
}

TEST_F(MemoryDiskRenameTest, APowerLossAtTheDirectorySyncAfterARenameLeavesTheOldNames) {
  make("b", bytes(4, 2), true);
  make("a", bytes(6, 1), true);
  ASSERT_TRUE(disk.rename("a", "b"));
  disk.crash_at(disk.io_count() + 1, 0);
  EXPECT_FALSE(disk.sync_directory());
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(names_of(after), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(after.contents("b"), bytes(4, 2));
}

TEST_F(MemoryDiskRenameTest, NothingIsRemovedOrRenamedAfterAPowerLoss) {
  make("a", bytes(1, 1), true);
  make("b", bytes(1, 2), true);
  disk.crash_at(disk.io_count() + 1, 0);
  EXPECT_FALSE(disk.sync_directory());
  EXPECT_EQ(disk.remove("a").error_code(), EIO);
  EXPECT_EQ(disk.rename("b", "c").error_code(), EIO);
  EXPECT_EQ(names_of(disk), (std::vector<std::string>{"a", "b"}));
  MemoryDisk after = disk.restarted();
  EXPECT_EQ(names_of(after), (std::vector<std::string>{"a", "b"}));
}

TEST_F(MemoryDiskRenameTest, ACopyOfTheDiskSharesNoFileWithTheOriginal) {
  make("a", bytes(4, 1), true);
  ASSERT_TRUE(disk.rename("a", "b"));  // "a" durable, "b" current: one file
  MemoryDisk copy = disk;
  copy.flip_bit("b", 0, 1);
  EXPECT_EQ(disk.contents("b"), bytes(4, 1));
  EXPECT_EQ(copy.contents("b")[0], std::byte{3});
  // Within the copy, the old durable name still refers to the same (flipped) file.
  EXPECT_EQ(copy.restarted().contents("a")[0], std::byte{3});
  EXPECT_EQ(disk.restarted().contents("a"), bytes(4, 1));
}

}  // namespace
}  // namespace lockstep::journal
