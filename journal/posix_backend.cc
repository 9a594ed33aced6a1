#include "journal/posix_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>  // renameat

#include "base/assert.h"

namespace lockstep::journal {

IoStatus PosixBackend::open_directory_fd(const std::string& path, bool create, int* fd) {
  if (create && ::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return IoStatus::error(errno, "mkdir", path, 0);
  }
  *fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0) return IoStatus::error(errno, "open directory", path, 0);
  return IoStatus::ok();
}

IoStatus PosixBackend::open_directory(const std::string& path, bool create, std::size_t depth,
                                      std::unique_ptr<PosixBackend>* out) {
  LS_ASSERT(depth >= 1);
  int fd = -1;
  if (IoStatus s = open_directory_fd(path, create, &fd); !s) return s;
  out->reset(new PosixBackend(path, fd, depth));
  return IoStatus::ok();
}

PosixBackend::PosixBackend(std::string path, int directory_fd, std::size_t depth)
    : path_(std::move(path)), directory_fd_(directory_fd), depth_(depth) {}

PosixBackend::~PosixBackend() {
  for (const Open& f : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
  ::close(directory_fd_);
}

const PosixBackend::Open* PosixBackend::file_of(FileHandle file) const noexcept {
  if (file >= files_.size() || files_[file].fd < 0) return nullptr;
  return &files_[file];
}

IoStatus PosixBackend::list(std::vector<std::string>* names) {
  names->clear();
  const int fd = ::dup(directory_fd_);
  if (fd < 0) return IoStatus::error(errno, "dup", path_, 0);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    const int e = errno;
    ::close(fd);
    return IoStatus::error(e, "fdopendir", path_, 0);
  }
  ::rewinddir(dir);
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names->emplace_back(name);
  }
  const int e = errno;
  ::closedir(dir);
  if (e != 0) return IoStatus::error(e, "readdir", path_, 0);
  std::sort(names->begin(), names->end());
  return IoStatus::ok();
}

IoStatus PosixBackend::open(std::string_view name, const OpenOptions& options, FileHandle* file) {
  const std::string key(name);
  const int flags =
      O_RDWR | O_CLOEXEC | (options.create ? O_CREAT : 0) | (options.direct_io ? O_DIRECT : 0);
  const int fd = ::openat(directory_fd_, key.c_str(), flags, 0644);
  if (fd < 0) return IoStatus::error(errno, "open", key, 0);
  files_.push_back({fd, key});
  *file = static_cast<FileHandle>(files_.size() - 1);
  return IoStatus::ok();
}

IoStatus PosixBackend::close(FileHandle file) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "close", "", 0);
  const int rc = ::close(f->fd);
  files_[file].fd = -1;
  // A failed close may report a lost write-back; it is an error like any other.
  if (rc != 0) return IoStatus::error(errno, "close", files_[file].name, 0);
  return IoStatus::ok();
}

IoStatus PosixBackend::allocate(FileHandle file, std::uint64_t bytes) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "fallocate", "", 0);
  if (::fallocate(f->fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
    return IoStatus::error(errno, "fallocate", f->name, bytes);
  }
  return IoStatus::ok();
}

IoStatus PosixBackend::size(FileHandle file, std::uint64_t* bytes) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "fstat", "", 0);
  struct stat st {};
  if (::fstat(f->fd, &st) != 0) return IoStatus::error(errno, "fstat", f->name, 0);
  *bytes = static_cast<std::uint64_t>(st.st_size);
  return IoStatus::ok();
}

IoStatus PosixBackend::read(FileHandle file, std::uint64_t offset, std::span<std::byte> out,
                            std::size_t* got) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "read", "", offset);
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(f->fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoStatus::error(errno, "read", f->name, offset + done);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  *got = done;
  return IoStatus::ok();
}

IoStatus PosixBackend::truncate(FileHandle file, std::uint64_t bytes) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "ftruncate", "", bytes);
  if (::ftruncate(f->fd, static_cast<off_t>(bytes)) != 0) {
    return IoStatus::error(errno, "ftruncate", f->name, bytes);
  }
  return IoStatus::ok();
}

IoStatus PosixBackend::write_all(const Open& file, std::uint64_t offset,
                                 std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(file.fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoStatus::error(errno, "write", file.name, offset);
    if (n == 0) return IoStatus::error(EIO, "write (no progress)", file.name, offset);
    offset += static_cast<std::uint64_t>(n);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return IoStatus::ok();
}

IoStatus PosixBackend::sync(const Open& file, std::uint64_t offset) {
  // Never retried: after a failed fdatasync the kernel may have dropped the dirty pages,
  // and a second call can succeed without the data being on disk.
  if (::fdatasync(file.fd) != 0) return IoStatus::error(errno, "fdatasync", file.name, offset);
  return IoStatus::ok();
}

IoStatus PosixBackend::write_and_sync(FileHandle file, std::uint64_t offset,
                                      std::span<const std::byte> bytes) {
  const Open* f = file_of(file);
  if (f == nullptr) return IoStatus::error(EBADF, "write", "", offset);
  if (IoStatus s = write_all(*f, offset, bytes); !s) return s;
  return sync(*f, offset);
}

IoStatus PosixBackend::remove(std::string_view name) {
  const std::string key(name);
  if (::unlinkat(directory_fd_, key.c_str(), 0) != 0)
    return IoStatus::error(errno, "unlink", key, 0);
  return IoStatus::ok();
}

IoStatus PosixBackend::rename(std::string_view from, std::string_view to) {
  const std::string old_name(from);
  const std::string new_name(to);
  // renameat(2) replaces `to` atomically; both names are relative to the directory.
  if (::renameat(directory_fd_, old_name.c_str(), directory_fd_, new_name.c_str()) != 0) {
    return IoStatus::error(errno, "rename", old_name + " to " + new_name, 0);
  }
  return IoStatus::ok();
}

IoStatus PosixBackend::sync_directory() {
  if (::fsync(directory_fd_) != 0) return IoStatus::error(errno, "fsync of directory", path_, 0);
  return IoStatus::ok();
}

IoStatus PosixBackend::submit(const DurableWrite& write) {
  LS_ASSERT(completions_.size() < depth_);
  const Open* f = file_of(write.file);
  IoStatus status = f == nullptr ? IoStatus::error(EBADF, "write", "", write.offset)
                                 : write_all(*f, write.offset, write.bytes);
  if (status && write.sync) status = sync(*f, write.offset);
  completions_.push(write.tag, std::move(status));
  return IoStatus::ok();
}

IoStatus PosixBackend::reap(std::size_t min, std::vector<Completion>* out) {
  completions_.reap(min, out);
  return IoStatus::ok();
}

}  // namespace lockstep::journal
