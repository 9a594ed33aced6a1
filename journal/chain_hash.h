// ChainHasher: the journal's hash chain, h_n = H(h_{n-1} ‖ frame), with H either
// SHA-256 (the default: cryptographic, so history is tamper-evident) or XXH3-128 (an
// option for speed: corruption-evident only; every tool reports which one a journal uses).
//
// One ChainHasher per thread: it owns its hashing context, allocated once at
// construction, and reuses it for every frame.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "journal/format.h"

namespace lockstep::journal {

enum class ChainKind : std::uint8_t { kSha256, kXxh3_128 };

std::string_view to_string(ChainKind kind) noexcept;

using ChainHash = std::array<std::byte, kChainHashBytes>;

class ChainHasher {
 public:
  // Throws std::runtime_error if the hashing library cannot set up a context.
  explicit ChainHasher(ChainKind kind);
  ~ChainHasher();
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  // H(prev ‖ a ‖ b). XXH3-128 fills the first 16 bytes and zeros the rest.
  ChainHash next(const ChainHash& prev, std::span<const std::byte> a, std::span<const std::byte> b);

  ChainKind kind() const noexcept { return kind_; }

 private:
  ChainKind kind_;
  void* context_;  // EVP_MD_CTX* or XXH3_state_t*, by kind_
};

}  // namespace lockstep::journal
