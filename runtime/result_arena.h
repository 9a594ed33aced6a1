// ResultArena: where the execute stage writes TxResults, for the journal stage to copy
// into its frames and the publish stage to hand to completions.
//
// A circular byte buffer addressed by monotonic positions. Each result is stored as a
// journal entry (a 4-byte little-endian length, then the TxResult), so the journal
// stage copies it as it is. A reservation is contiguous: if the tail of the buffer is
// too short, it is skipped. Bytes are reclaimed only when every terminal stage has
// finished with the ring slot that wrote them (the execute stage tracks that), so
// memory is bounded and nothing is overwritten while a later stage may read it.
//
// Thread safety: written by the execute stage; read by later stages, for positions a
// ring sequence barrier has made visible to them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/assert.h"

namespace lockstep {

class ResultArena {
 public:
  explicit ResultArena(std::size_t bytes)
      : capacity_(bytes), bytes_(std::make_unique<std::byte[]>(bytes)) {
    LS_ASSERT(bytes > 0);
  }

  // Room for `need` contiguous bytes: their position (*at) and address, or null if the
  // unreclaimed bytes leave no room now.
  std::byte* reserve(std::size_t need, std::uint64_t* at) noexcept {
    LS_DASSERT(need <= capacity_);
    std::uint64_t pos = write_;
    std::size_t offset = static_cast<std::size_t>(pos % capacity_);
    if (offset + need > capacity_) {
      pos += capacity_ - offset;
      offset = 0;
    }
    if (pos + need - reclaimed_ > capacity_) return nullptr;
    *at = pos;
    return bytes_.get() + offset;
  }
  // Whether reserve(need) would succeed now.
  bool has_room(std::size_t need) const noexcept {
    std::uint64_t pos = write_;
    const std::size_t offset = static_cast<std::size_t>(pos % capacity_);
    if (offset + need > capacity_) pos += capacity_ - offset;
    return pos + need - reclaimed_ <= capacity_;
  }
  // The reservation at `at` used `used` bytes.
  void commit(std::uint64_t at, std::size_t used) noexcept { write_ = at + used; }
  // Bytes before `position` will not be read again.
  void reclaim(std::uint64_t position) noexcept {
    LS_DASSERT(position <= write_);
    if (position > reclaimed_) reclaimed_ = position;
  }

  const std::byte* at(std::uint64_t position) const noexcept {
    return bytes_.get() + position % capacity_;
  }
  std::uint64_t write_position() const noexcept { return write_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  std::unique_ptr<std::byte[]> bytes_;
  std::uint64_t write_ = 0;
  std::uint64_t reclaimed_ = 0;
};

}  // namespace lockstep
