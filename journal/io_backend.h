// IoBackend: the journal's only contact with the operating system (STYLE: one seam for
// the OS). Three implementations: io_uring (the default), plain POSIX syscalls (where
// io_uring is refused), and MemoryDisk, a simulated disk for tests that tears writes,
// shortens them, fails them, loses what was not synced and flips bits.
//
// Files live in one directory and are named, not pathed. The hot path is submit/reap:
// one durable write = a write of a byte range followed by an fdatasync of that file, the
// two linked so the sync runs only after the write completed in full. Up to depth()
// such pairs may be in flight; completions come back in submission order. Everything
// else (listing, opening, reading, truncating) is for set-up and recovery.
//
// Errors are values (IoStatus). An error of a durable write is final: the journal above
// treats it as fatal and never retries a failed fdatasync (a retry can report success for
// data the kernel already dropped).
//
// Thread safety: one thread uses a backend at a time (the journal's thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "journal/io_status.h"

namespace lockstep::journal {

using FileHandle = std::uint32_t;

// A write of `bytes` at `offset` of `file`, then an fdatasync of `file` (unless `sync` is
// false: durability mode "none", for benchmarks only). `bytes` must stay valid and
// unchanged until its completion is reaped.
struct DurableWrite {
  FileHandle file = 0;
  std::uint64_t offset = 0;
  std::span<const std::byte> bytes;
  std::uint64_t tag = 0;  // returned with the completion
  bool sync = true;
};

struct Completion {
  std::uint64_t tag = 0;
  IoStatus status;  // the first failure of the write or the sync, if any
};

struct OpenOptions {
  bool create = false;     // create if missing (the directory entry is synced by sync_directory)
  bool direct_io = false;  // O_DIRECT: offsets, sizes and buffers aligned to 4096
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  // "io_uring", "posix" or "memory": every tool that reports a number says which.
  virtual std::string_view name() const noexcept = 0;

  // ---- set-up and recovery: synchronous -------------------------------------------------
  // The names of the files in the directory, sorted.
  virtual IoStatus list(std::vector<std::string>* names) = 0;
  virtual IoStatus open(std::string_view name, const OpenOptions& options, FileHandle* file) = 0;
  virtual IoStatus close(FileHandle file) = 0;
  // Reserves `bytes` for the file (fallocate): later writes below that size never need
  // to allocate, and unwritten ranges read as zeros.
  virtual IoStatus allocate(FileHandle file, std::uint64_t bytes) = 0;
  virtual IoStatus size(FileHandle file, std::uint64_t* bytes) = 0;
  // Reads up to out.size() bytes at `offset`; *got is less at the end of the file.
  virtual IoStatus read(FileHandle file, std::uint64_t offset, std::span<std::byte> out,
                        std::size_t* got) = 0;
  virtual IoStatus truncate(FileHandle file, std::uint64_t bytes) = 0;
  // Writes synchronously and syncs (segment headers, recovery's repairs).
  virtual IoStatus write_and_sync(FileHandle file, std::uint64_t offset,
                                  std::span<const std::byte> bytes) = 0;
  // Removes a file that is not open (snapshots' pruning; never the journal's recovery).
  virtual IoStatus remove(std::string_view name) = 0;
  // Renames `from` to `to` in one step, replacing `to` if it exists: a reader of the
  // directory sees either the old names or the new ones, never neither. Meant for closed
  // files (snapshots are written under a temporary name, synced, closed, then renamed).
  // The new name is durable only after sync_directory(): a power loss before it leaves the
  // old names (the old `to`, if its name was durable; `from`, if its name was).
  virtual IoStatus rename(std::string_view from, std::string_view to) = 0;
  // Makes file creations, removals and renames in the directory durable.
  virtual IoStatus sync_directory() = 0;

  // ---- the group-commit path ------------------------------------------------------------
  // How many durable writes may be in flight at once.
  virtual std::size_t depth() const noexcept = 0;
  // Queues one durable write. REQUIRES: fewer than depth() in flight.
  virtual IoStatus submit(const DurableWrite& write) = 0;
  // Offers the buffers the caller will write from, for the backend to register with the
  // kernel (io_uring's fixed buffers: no page pinning per write). Optional: a backend
  // that does not register returns false; a write outside them works either way.
  // REQUIRES: nothing in flight; the buffers outlive the backend's use of them.
  virtual bool register_buffers(std::span<const std::span<std::byte>> buffers) {
    (void)buffers;
    return false;
  }
  // Forgets registered buffers (before their memory is freed). REQUIRES: nothing in flight.
  virtual void unregister_buffers() {}
  // Waits until at least `min` completions are ready (0: takes what is ready, no wait)
  // and appends them to *out in submission order. REQUIRES: min <= in flight.
  virtual IoStatus reap(std::size_t min, std::vector<Completion>* out) = 0;
  // Appends the completions that are ready; if none is and writes are in flight, first
  // waits up to `timeout_ns` for one. (A backend whose writes complete inside submit()
  // never waits.)
  virtual IoStatus reap_within(std::int64_t timeout_ns, std::vector<Completion>* out) {
    (void)timeout_ns;
    return reap(0, out);
  }
  virtual std::size_t in_flight() const noexcept = 0;
};

}  // namespace lockstep::journal
