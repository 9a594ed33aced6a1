// MemoryDisk: an IoBackend over a simulated disk, for tests (TigerBeetle's faulty
// storage, LevelDB's fault-injection Env).
//
// Model. Each file has `current` bytes (what reads see) and `durable` bytes (what survives
// a power loss). The directory, too, has a current state (the names list() and open()
// see) and a durable one (the names a restarted machine finds), each mapping names to
// files. A sync of a file makes its current bytes durable; a directory sync makes the
// current names durable: created and renamed files' new names, and the disappearance of
// renamed-away names. Until then a power loss brings back the old names: a renamed file
// under its old name (if that name was durable) and a replaced file under the new name (if
// it was durable), each with its own durable bytes. (A removal is durable at once.)
// Every system call the backend makes (each write attempt, each sync, each directory
// sync, each rename) is numbered from 1; faults are planned against those numbers or
// against the n-th call of a kind:
// - fail(op, nth, errno, forever): the n-th write (or sync, or rename) fails with errno,
//   once or from then on (directory syncs count as syncs);
// - short_write(nth, bytes): the n-th write transfers only `bytes`; the backend writes the
//   rest in another call, as a POSIX backend must;
// - crash_at(io_number, torn_bytes): power fails during system call `io_number`: if it is
//   a write, its first `torn_bytes` bytes reach the disk (a torn write); that call and
//   every later one (and every later removal or rename) fail with EIO, and nothing
//   unsynced survives;
// - crash_keeping_sectors_at(io_number, seed): power fails during system call
//   `io_number`, and of every byte not yet synced (that call's write included), each
//   512-byte sector survives whole or not at all, at random (seeded): page-cache
//   writeback in any order, the fault model of docs/journal-format.md. A file's size is
//   metadata: its unsynced new size survives whole or not at all, independently;
// - flip_bit(file, offset, bit): a bit rots, in what reads see and in what survives.
// restarted() returns the disk a machine would find after the power loss; killed() the
// one a restarted process finds after its own crash (kill -9: the page cache, and so
// every write made, survives).
//
// Durable writes complete synchronously inside submit(), and reap() hands them back in
// order; with defer_syncs(true), submit() makes only the write, and each fdatasync is
// made when reap() hands its completion back, so writes in flight are in the page cache,
// not synced, until then (what a crash in the middle of group commit sees).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "journal/completion_queue.h"
#include "journal/io_backend.h"

namespace lockstep::journal {

class MemoryDisk final : public IoBackend {
 public:
  enum class Op : std::uint8_t { kWrite, kSync, kRename };

  explicit MemoryDisk(std::size_t depth = 4);

  // ---- fault plan (test thread, between operations) ----
  void fail(Op op, std::uint64_t nth, int error_code, bool forever = false);
  void short_write(std::uint64_t nth, std::size_t bytes);
  void crash_at(std::uint64_t io_number, std::size_t torn_bytes);
  void crash_keeping_sectors_at(std::uint64_t io_number, std::uint64_t seed);
  void defer_syncs(bool defer) noexcept { defer_syncs_ = defer; }
  void flip_bit(const std::string& name, std::uint64_t offset, int bit);

  // System calls made so far (writes, syncs, directory syncs, renames).
  std::uint64_t io_count() const noexcept { return io_count_; }
  bool crashed() const noexcept { return crashed_; }
  // The disk as a restarted machine finds it: durable bytes and names only.
  MemoryDisk restarted() const;
  // The disk as a process restarted after kill -9 finds it: every write made, every name.
  MemoryDisk killed() const;
  // What reads of `name` see now (test inspection); empty if there is no such file.
  std::vector<std::byte> contents(const std::string& name) const;

  // ---- IoBackend ----
  std::string_view name() const noexcept override { return "memory"; }
  IoStatus list(std::vector<std::string>* names) override;
  IoStatus open(std::string_view name, const OpenOptions& options, FileHandle* file) override;
  IoStatus close(FileHandle file) override;
  IoStatus allocate(FileHandle file, std::uint64_t bytes) override;
  IoStatus size(FileHandle file, std::uint64_t* bytes) override;
  IoStatus read(FileHandle file, std::uint64_t offset, std::span<std::byte> out,
                std::size_t* got) override;
  IoStatus truncate(FileHandle file, std::uint64_t bytes) override;
  IoStatus write_and_sync(FileHandle file, std::uint64_t offset,
                          std::span<const std::byte> bytes) override;
  IoStatus remove(std::string_view name) override;
  IoStatus rename(std::string_view from, std::string_view to) override;
  IoStatus sync_directory() override;
  std::size_t depth() const noexcept override { return depth_; }
  IoStatus submit(const DurableWrite& write) override;
  IoStatus reap(std::size_t min, std::vector<Completion>* out) override;
  std::size_t in_flight() const noexcept override { return completions_.size() + deferred_.size(); }

 private:
  // A file (an inode): names refer to it, from the current and the durable directory.
  struct File {
    std::vector<std::byte> current;
    std::vector<std::byte> durable;
  };
  // An open file: the name it was opened by (for messages) and the file itself, which
  // stays reachable through the handle when it is renamed or removed.
  struct Handle {
    std::string name;
    std::shared_ptr<File> file;  // null once closed
  };
  // The names and handles, which share files. A copy of it (and so of a MemoryDisk) is
  // deep: it shares no file with the original, but the same sharing among its names.
  struct Directory {
    std::map<std::string, std::shared_ptr<File>> files;    // the directory now
    std::map<std::string, std::shared_ptr<File>> durable;  // ... after a power loss
    std::vector<Handle> handles;                           // FileHandle -> open file

    Directory() = default;
    Directory(const Directory& other);
    Directory& operator=(const Directory& other);
    Directory(Directory&&) = default;
    Directory& operator=(Directory&&) = default;
    ~Directory() = default;
  };
  // A durable write whose fdatasync is deferred to reap() (defer_syncs).
  struct Deferred {
    FileHandle file;
    std::uint64_t offset;
    std::uint64_t tag;
    IoStatus status;  // of the write
    bool sync;
  };
  struct Fault {
    Op op;
    std::uint64_t nth;
    int error_code;
    bool forever;
  };

  File* file_of(FileHandle handle, std::string* name);
  // One write system call: returns the bytes transferred, or an error.
  IoStatus sys_write(FileHandle handle, std::uint64_t offset, std::span<const std::byte> bytes,
                     std::size_t* written);
  IoStatus sys_sync(FileHandle handle, std::uint64_t offset);
  IoStatus write_all(FileHandle handle, std::uint64_t offset, std::span<const std::byte> bytes);
  // Counts a system call of kind `op`; returns the planned failure, if any.
  IoStatus next_call(Op op, const std::string& name, std::uint64_t offset,
                     std::span<const std::byte> torn_source, File* file);
  // The power loss of crash_keeping_sectors_at: unsynced sectors survive at random.
  void lose_power_keeping_sectors(std::uint64_t offset, std::span<const std::byte> write,
                                  File* file);

  std::size_t depth_;
  Directory dir_;
  CompletionQueue completions_;
  std::deque<Deferred> deferred_;
  bool defer_syncs_ = false;
  std::vector<Fault> faults_;
  std::map<std::uint64_t, std::size_t> short_writes_;  // nth write -> bytes
  std::uint64_t io_count_ = 0;
  std::uint64_t writes_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t renames_ = 0;
  std::uint64_t crash_at_ = 0;  // 0: no crash planned
  std::size_t torn_bytes_ = 0;
  bool crash_keeps_sectors_ = false;
  std::uint64_t crash_seed_ = 0;
  bool crashed_ = false;
};

}  // namespace lockstep::journal
