// PosixBackend: the journal's I/O with plain system calls (pwrite, fdatasync, fallocate)
// on a directory. Used where io_uring is refused (old kernels, seccomp) and as the
// reference the other backends are tested against.
//
// Durable writes run synchronously inside submit() on the calling thread, which in the
// engine is the journal stage's own thread: the "dedicated thread" of the fallback. A
// short write is continued from where it stopped; EINTR is retried; any other error is
// returned, never retried, and an fdatasync is never retried at all.
//
// UringBackend derives from it: the same synchronous set-up and recovery calls, with the
// group-commit path on io_uring.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "journal/completion_queue.h"
#include "journal/io_backend.h"

namespace lockstep::journal {

class PosixBackend : public IoBackend {
 public:
  // Opens (with `create`, first creates) the directory. On failure returns the error and
  // leaves *out empty.
  static IoStatus open_directory(const std::string& path, bool create, std::size_t depth,
                                 std::unique_ptr<PosixBackend>* out);
  ~PosixBackend() override;

  std::string_view name() const noexcept override { return "posix"; }
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
  std::size_t in_flight() const noexcept override { return completions_.size(); }

 protected:
  PosixBackend(std::string path, int directory_fd, std::size_t depth);
  struct Open {
    int fd = -1;
    std::string name;
  };
  const Open* file_of(FileHandle file) const noexcept;
  // Opens (creating if asked) the directory; the fd for the constructor.
  static IoStatus open_directory_fd(const std::string& path, bool create, int* fd);

 private:
  IoStatus write_all(const Open& file, std::uint64_t offset, std::span<const std::byte> bytes);
  IoStatus sync(const Open& file, std::uint64_t offset);

  std::string path_;
  int directory_fd_;
  std::size_t depth_;
  std::vector<Open> files_;  // FileHandle -> open file (fd -1 once closed)
  CompletionQueue completions_;
};

}  // namespace lockstep::journal
