#include "journal/uring_backend.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace lockstep::journal {
namespace {

// user_data of a submission: the pending write's id, and whether it is the sync.
constexpr std::uint64_t kSyncBit = 1;
std::uint64_t user_data(std::uint64_t id, bool sync) noexcept {
  return id << 1 | (sync ? kSyncBit : 0);
}

}  // namespace

IoStatus UringBackend::create(const std::string& path, bool create_directory, std::size_t depth,
                              std::unique_ptr<UringBackend>* out) {
  LS_ASSERT(depth >= 1);
  int fd = -1;
  if (IoStatus s = open_directory_fd(path, create_directory, &fd); !s) return s;
  std::unique_ptr<UringBackend> backend(new UringBackend(path, fd, depth));
  // Two entries per durable write (write + fdatasync); a write is never re-queued before
  // its previous pair has completed, so this never runs out.
  const int rc = io_uring_queue_init(static_cast<unsigned>(2 * depth), &backend->ring_, 0);
  if (rc < 0) {
    backend->ring_.ring_fd = -1;
    return IoStatus::error(-rc, "io_uring_setup", path, 0);
  }
  *out = std::move(backend);
  return IoStatus::ok();
}

UringBackend::UringBackend(std::string path, int directory_fd, std::size_t depth)
    : PosixBackend(std::move(path), directory_fd, depth) {}

UringBackend::~UringBackend() {
  if (ring_.ring_fd < 0) return;
  // Writes still in flight point into memory the caller owns: wait for them before the
  // ring goes away (poison tears it down only once the kernel is done with every one).
  std::vector<Completion> ignored;
  (void)reap(pending_.size(), &ignored);
  if (ring_.ring_fd >= 0) io_uring_queue_exit(&ring_);
}

UringBackend::Pending* UringBackend::find(std::uint64_t id) noexcept {
  if (pending_.empty() || id < pending_.front().id) return nullptr;
  const std::uint64_t index = id - pending_.front().id;
  return index < pending_.size() ? &pending_[static_cast<std::size_t>(index)] : nullptr;
}

bool UringBackend::register_buffers(std::span<const std::span<std::byte>> buffers) {
  LS_ASSERT(pending_.empty());
  if (!broken_.is_ok() || buffers.empty()) return false;
  unregister_buffers();
  std::vector<iovec> iov;
  iov.reserve(buffers.size());
  for (const std::span<std::byte> b : buffers) iov.push_back({b.data(), b.size()});
  if (io_uring_register_buffers(&ring_, iov.data(), static_cast<unsigned>(iov.size())) != 0) {
    return false;
  }
  fixed_.assign(buffers.begin(), buffers.end());
  return true;
}

void UringBackend::unregister_buffers() {
  LS_ASSERT(pending_.empty());
  if (fixed_.empty()) return;
  if (ring_.ring_fd >= 0) (void)io_uring_unregister_buffers(&ring_);
  fixed_.clear();
}

int UringBackend::fixed_index(const std::byte* p, std::size_t n) const noexcept {
  for (std::size_t i = 0; i < fixed_.size(); ++i) {
    const std::byte* begin = fixed_[i].data();
    if (p >= begin && p + n <= begin + fixed_[i].size()) return static_cast<int>(i);
  }
  return -1;
}

IoStatus UringBackend::queue_pair(Pending& p) {
  io_uring_sqe* write = io_uring_get_sqe(&ring_);
  LS_ASSERT(write != nullptr);  // sized for depth() pairs
  const std::span<const std::byte> rest = p.bytes.subspan(p.written);
  if (const int index = fixed_index(rest.data(), rest.size()); index >= 0) {
    io_uring_prep_write_fixed(write, p.fd, rest.data(), static_cast<unsigned>(rest.size()),
                              p.offset + p.written, index);
  } else {
    io_uring_prep_write(write, p.fd, rest.data(), static_cast<unsigned>(rest.size()),
                        p.offset + p.written);
  }
  io_uring_sqe_set_data64(write, user_data(p.id, false));
  if (p.sync) {
    io_uring_sqe* sync = io_uring_get_sqe(&ring_);
    LS_ASSERT(sync != nullptr);
    write->flags |= IOSQE_IO_LINK;
    io_uring_prep_fsync(sync, p.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sync, user_data(p.id, true));
  }
  const int rc = io_uring_submit(&ring_);
  const int expected = p.sync ? 2 : 1;
  if (rc < expected) {
    return poison(
        IoStatus::error(rc < 0 ? -rc : EIO, "io_uring_enter", p.name, p.offset + p.written));
  }
  return IoStatus::ok();
}

IoStatus UringBackend::submit(const DurableWrite& write) {
  LS_ASSERT(pending_.size() < depth());
  LS_ASSERT(write.bytes.size() <= UINT32_MAX);
  const Open* f = file_of(write.file);
  Pending p;
  p.id = next_id_++;
  p.tag = write.tag;
  p.offset = write.offset;
  p.bytes = write.bytes;
  p.sync = write.sync;
  if (f == nullptr) {
    p.done = true;
    p.status = IoStatus::error(EBADF, "write", "", write.offset);
    pending_.push_back(std::move(p));
    return IoStatus::ok();
  }
  p.fd = f->fd;
  p.name = f->name;
  if (!broken_.is_ok()) {
    p.done = true;
    p.status = broken_;
    pending_.push_back(std::move(p));
    return IoStatus::ok();
  }
  pending_.push_back(std::move(p));
  (void)queue_pair(pending_.back());  // a failure poisons the ring and fails the entry
  return IoStatus::ok();
}

IoStatus UringBackend::handle(const io_uring_cqe& cqe) {
  const std::uint64_t data = io_uring_cqe_get_data64(&cqe);
  Pending* p = find(data >> 1);
  LS_ASSERT(p != nullptr && !p->done);
  const bool is_sync = (data & kSyncBit) != 0;
  if (!is_sync) {
    if (cqe.res < 0) {
      p->status = IoStatus::error(-cqe.res, "write", p->name, p->offset + p->written);
    } else if (cqe.res == 0) {
      p->status = IoStatus::error(EIO, "write (no progress)", p->name, p->offset + p->written);
    } else {
      p->written += static_cast<std::size_t>(cqe.res);
    }
    if (p->sync) return IoStatus::ok();  // the linked sync's completion decides what's next
    if (p->status.is_ok() && p->written < p->bytes.size()) return queue_pair(*p);
    p->done = true;
    return IoStatus::ok();
  }
  if (!p->status.is_ok()) {  // the write failed; its linked sync was cancelled
    p->done = true;
    return IoStatus::ok();
  }
  if (cqe.res < 0 && cqe.res != -ECANCELED) {
    // A failed fdatasync is final, even after a short write: a later sync of the same file
    // may succeed without the data that failed ever reaching the disk.
    p->status = IoStatus::error(-cqe.res, "fdatasync", p->name, p->offset);
    p->done = true;
    return IoStatus::ok();
  }
  if (p->written < p->bytes.size()) {
    // A short write: the kernel cancelled the linked sync (or synced a partial write,
    // harmless). Write the rest, then sync.
    return queue_pair(*p);
  }
  if (cqe.res < 0) p->status = IoStatus::error(-cqe.res, "fdatasync", p->name, p->offset);
  p->done = true;
  return IoStatus::ok();
}

IoStatus UringBackend::drain_ready() {
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    const io_uring_cqe copy = *cqe;
    io_uring_cqe_seen(&ring_, cqe);
    if (IoStatus s = handle(copy); !s) return poison(std::move(s));
  }
  return IoStatus::ok();
}

IoStatus UringBackend::poison(IoStatus why) {
  // The ring can no longer be trusted to report what it did. Tearing it down waits for
  // every request in flight, so no buffer is read after this; every pending write fails.
  if (ring_.ring_fd >= 0) {
    io_uring_queue_exit(&ring_);
    ring_.ring_fd = -1;
  }
  broken_ = why;
  for (Pending& p : pending_) {
    if (!p.done) {
      p.status = why;
      p.done = true;
    }
  }
  return why;
}

IoStatus UringBackend::reap(std::size_t min, std::vector<Completion>* out) {
  LS_ASSERT(min <= pending_.size());
  std::size_t delivered = 0;
  for (;;) {
    if (ring_.ring_fd >= 0) (void)drain_ready();  // failures are in the pending entries
    while (!pending_.empty() && pending_.front().done) {
      out->push_back({pending_.front().tag, std::move(pending_.front().status)});
      pending_.pop_front();
      ++delivered;
    }
    if (delivered >= min || pending_.empty()) return IoStatus::ok();
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) (void)poison(IoStatus::error(-rc, "io_uring_wait_cqe", "", 0));
  }
}

IoStatus UringBackend::reap_within(std::int64_t timeout_ns, std::vector<Completion>* out) {
  const auto deliver = [&] {
    std::size_t n = 0;
    if (ring_.ring_fd >= 0) (void)drain_ready();  // failures are in the pending entries
    while (!pending_.empty() && pending_.front().done) {
      out->push_back({pending_.front().tag, std::move(pending_.front().status)});
      pending_.pop_front();
      ++n;
    }
    return n;
  };
  if (deliver() > 0 || pending_.empty() || ring_.ring_fd < 0) return IoStatus::ok();
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ns / 1'000'000'000;
  ts.tv_nsec = timeout_ns % 1'000'000'000;
  io_uring_cqe* cqe = nullptr;
  const int rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
  // -ETIME: nothing yet. -EAGAIN/-EBUSY: a kernel without IORING_FEAT_EXT_ARG, where
  // liburing queues a timeout request of its own, found no room for it: nothing yet too.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    (void)poison(IoStatus::error(-rc, "io_uring_wait_cqe_timeout", "", 0));
  }
  (void)deliver();
  return IoStatus::ok();
}

IoStatus open_io_backend(const std::string& path, bool create_directory, std::size_t depth,
                         std::unique_ptr<IoBackend>* out, std::string* note) {
  std::unique_ptr<UringBackend> uring;
  const IoStatus refused = UringBackend::create(path, create_directory, depth, &uring);
  if (refused) {
    *out = std::move(uring);
    *note = "journal I/O: io_uring";
    return IoStatus::ok();
  }
  std::unique_ptr<PosixBackend> posix;
  if (IoStatus s = PosixBackend::open_directory(path, create_directory, depth, &posix); !s) {
    return s;
  }
  *out = std::move(posix);
  *note = "journal I/O: io_uring refused (" + refused.message() + "); using pwrite + fdatasync";
  return IoStatus::ok();
}

}  // namespace lockstep::journal
