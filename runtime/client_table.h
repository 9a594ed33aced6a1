// ClientTable: the sequence stage's record of each client's newest request, which lets
// it drop retries. It is engine state: it is rebuilt from the journal on open (every
// TxResult carries its client and request id), so a retry after a restart is still
// recognised.
//
// Rule (docs/embedding.md, "Sessions and retries"): a client (client id != 0) numbers
// its requests with increasing ids; a request id at or below the newest one sequenced for
// that client is a duplicate. Client id 0 is anonymous: never deduplicated.
//
// Bounded: at most `capacity` clients; a new client past that is refused (kFull), never
// an allocation. Thread safety: one thread (the sequence stage's; recovery's before start).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <cstdint>

namespace lockstep {

class ClientTable {
 public:
  enum class Check : std::uint8_t { kNew, kDuplicate, kFull };

  explicit ClientTable(std::size_t capacity) : capacity_(capacity) { map_.reserve(capacity); }

  // Whether (client, request) may be sequenced. For kDuplicate, *newest is the sequence
  // of the client's newest request.
  Check check(std::uint64_t client, std::uint64_t request, std::uint64_t* newest) const {
    if (client == 0) return Check::kNew;
    const auto it = map_.find(client);
    if (it == map_.end()) return map_.size() < capacity_ ? Check::kNew : Check::kFull;
    if (request > it->second.request) return Check::kNew;
    *newest = it->second.sequence;
    return Check::kDuplicate;
  }
  // Records that (client, request) got `sequence`. REQUIRES: check() said kNew.
  void record(std::uint64_t client, std::uint64_t request, std::uint64_t sequence) {
    if (client == 0) return;
    map_[client] = Entry{request, sequence};
  }
  std::size_t size() const noexcept { return map_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Entry {
    std::uint64_t request;
    std::uint64_t sequence;
  };
  std::size_t capacity_;
  absl::flat_hash_map<std::uint64_t, Entry> map_;
};

}  // namespace lockstep
