// UringBackend: the journal's default I/O. Set-up and recovery are PosixBackend's plain
// system calls; the group-commit path goes through io_uring.
//
// Each durable write is two linked submissions: the write, then an fdatasync that the
// kernel starts only when the write completed in full (IOSQE_IO_LINK). Up to depth() such
// pairs are in flight; completions are handed back in submission order whatever order
// the kernel finishes them in. A short write breaks the link (the fdatasync comes back
// cancelled): the rest is submitted again as a new linked pair, so the sync only ever
// follows a complete write. Errors are final, as in PosixBackend.
//
// Where the kernel or a seccomp profile refuses io_uring, create() fails and
// open_io_backend() falls back to PosixBackend and says so.
#pragma once

#include <liburing.h>

#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "journal/posix_backend.h"

namespace lockstep::journal {

class UringBackend final : public PosixBackend {
 public:
  // Fails (and leaves *out empty) if io_uring cannot be set up here.
  static IoStatus create(const std::string& path, bool create_directory, std::size_t depth,
                         std::unique_ptr<UringBackend>* out);
  ~UringBackend() override;

  std::string_view name() const noexcept override { return "io_uring"; }
  IoStatus submit(const DurableWrite& write) override;
  // Registers the buffers as fixed buffers; a write that lies inside one of them is then
  // submitted as IORING_OP_WRITE_FIXED. False (and nothing registered) if the kernel
  // refuses, e.g. over the locked-memory limit.
  bool register_buffers(std::span<const std::span<std::byte>> buffers) override;
  void unregister_buffers() override;
  IoStatus reap(std::size_t min, std::vector<Completion>* out) override;
  IoStatus reap_within(std::int64_t timeout_ns, std::vector<Completion>* out) override;
  std::size_t in_flight() const noexcept override { return pending_.size(); }

 private:
  UringBackend(std::string path, int directory_fd, std::size_t depth);

  struct Pending {
    std::uint64_t id = 0;
    std::uint64_t tag = 0;
    int fd = -1;
    std::string name;
    std::uint64_t offset = 0;
    std::span<const std::byte> bytes;
    std::size_t written = 0;  // bytes the kernel reported written so far
    bool sync = true;         // false: durability "none", the write alone
    bool done = false;
    IoStatus status;
  };

  // Queues the write of what is left of `p` (linked to an fdatasync if p.sync), and submits.
  IoStatus queue_pair(Pending& p);
  // Applies one completion to its pending write.
  IoStatus handle(const io_uring_cqe& cqe);
  // Applies every completion already in the queue, without waiting.
  IoStatus drain_ready();
  // After a failure of the ring itself: tears it down (which waits for the kernel to be
  // done with every request), fails every pending write, refuses later ones.
  IoStatus poison(IoStatus why);
  Pending* find(std::uint64_t id) noexcept;

  // The registered buffer holding [p, p + n), or -1.
  int fixed_index(const std::byte* p, std::size_t n) const noexcept;

  io_uring ring_{};
  std::vector<std::span<std::byte>> fixed_;  // registered buffers, by index
  std::deque<Pending> pending_;              // in submission order; front is the oldest
  std::uint64_t next_id_ = 0;
  IoStatus broken_;  // set by poison(): every later submit fails with it
};

// The best backend for `path`: io_uring, or, if that is refused, PosixBackend. *note says
// which and why, once, for the caller to log.
IoStatus open_io_backend(const std::string& path, bool create_directory, std::size_t depth,
                         std::unique_ptr<IoBackend>* out, std::string* note);

}  // namespace lockstep::journal
