#include "journal/chain_hash.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cstring>
#include <stdexcept>

#include "base/assert.h"

namespace lockstep::journal {

std::string_view to_string(ChainKind kind) noexcept {
  switch (kind) {
    case ChainKind::kSha256: return "sha256";
    case ChainKind::kXxh3_128: return "xxh3-128 (not cryptographic)";
  }
  return "?";
}

ChainHasher::ChainHasher(ChainKind kind) : kind_(kind), context_(nullptr) {
  if (kind_ == ChainKind::kSha256) {
    context_ = EVP_MD_CTX_new();
  } else {
    context_ = XXH3_createState();
  }
  if (context_ == nullptr) throw std::runtime_error("chain hash: cannot allocate a context");
}

ChainHasher::~ChainHasher() {
  if (kind_ == ChainKind::kSha256) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_));
  } else {
    XXH3_freeState(static_cast<XXH3_state_t*>(context_));
  }
}

ChainHash ChainHasher::next(const ChainHash& prev, std::span<const std::byte> a,
                            std::span<const std::byte> b) {
  ChainHash out{};
  if (kind_ == ChainKind::kSha256) {
    auto* ctx = static_cast<EVP_MD_CTX*>(context_);
    unsigned int length = 0;
    // Failure here means OpenSSL itself is broken (no SHA-256 provider): not an
    // operating condition to report, but a process that cannot keep its journal.
    LS_ASSERT(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1);
    LS_ASSERT(EVP_DigestUpdate(ctx, prev.data(), prev.size()) == 1);
    LS_ASSERT(EVP_DigestUpdate(ctx, a.data(), a.size()) == 1);
    LS_ASSERT(EVP_DigestUpdate(ctx, b.data(), b.size()) == 1);
    LS_ASSERT(EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &length) == 1);
    LS_ASSERT(length == out.size());
    return out;
  }
  auto* state = static_cast<XXH3_state_t*>(context_);
  LS_ASSERT(XXH3_128bits_reset(state) == XXH_OK);
  LS_ASSERT(XXH3_128bits_update(state, prev.data(), prev.size()) == XXH_OK);
  LS_ASSERT(XXH3_128bits_update(state, a.data(), a.size()) == XXH_OK);
  LS_ASSERT(XXH3_128bits_update(state, b.data(), b.size()) == XXH_OK);
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
  static_assert(sizeof canonical <= kChainHashBytes);
  std::memcpy(out.data(), &canonical, sizeof canonical);
  return out;
}

}  // namespace lockstep::journal
