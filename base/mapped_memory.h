// MappedMemory: anonymous memory mapped whole, for the large arrays of the engine's state
// (table chunks, the primary key index).
//
// The kernel hands out zeroed pages, so nothing is memset. A mapping of at least 2 MiB is
// 2 MiB-aligned and advised MADV_HUGEPAGE: one fault maps 2 MiB where the kernel grants a
// huge page (on a virtual machine a 4 KiB fault costs microseconds: a few hundred MiB of
// them cost a good part of a second), and random access over it misses the TLB less.
// Smaller mappings are page-aligned.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace lockstep {

class MappedMemory {
 public:
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  MappedMemory() = default;
  // At least `bytes` of zeroed memory; with `touch`, every page faulted in now.
  // Throws std::bad_alloc if the kernel refuses.
  explicit MappedMemory(std::size_t bytes, bool touch = false) : bytes_(rounded(bytes)) {
    if (bytes_ == 0) return;
    const std::size_t align = bytes_ >= kHugePage ? kHugePage : kPage;
    const std::size_t over = bytes_ + align - kPage;
    void* m = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<std::uintptr_t>(m);
    const std::uintptr_t aligned = (base + align - 1) / align * align;
    if (aligned > base) ::munmap(m, aligned - base);
    if (base + over > aligned + bytes_) {
      ::munmap(reinterpret_cast<void*>(aligned + bytes_), base + over - aligned - bytes_);
    }
    data_ = reinterpret_cast<std::byte*>(aligned);
    if (align == kHugePage) (void)::madvise(data_, bytes_, MADV_HUGEPAGE);
    if (touch) {
      for (std::size_t at = 0; at < bytes_; at += kPage) {
        reinterpret_cast<volatile std::byte*>(data_)[at] = std::byte{0};
      }
    }
  }
  MappedMemory(const MappedMemory&) = delete;
  MappedMemory& operator=(const MappedMemory&) = delete;
  MappedMemory(MappedMemory&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  MappedMemory& operator=(MappedMemory&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  ~MappedMemory() { release(); }

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return bytes_; }

  // What a mapping of `bytes` takes: whole huge pages from 2 MiB, else whole pages.
  static constexpr std::size_t rounded(std::size_t bytes) noexcept {
    const std::size_t unit = bytes >= kHugePage ? kHugePage : kPage;
    return (bytes + unit - 1) / unit * unit;
  }

 private:
  static constexpr std::size_t kPage = 4096;
  void release() noexcept {
    if (data_ != nullptr) ::munmap(data_, bytes_);
    data_ = nullptr;
    bytes_ = 0;
  }

  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace lockstep
