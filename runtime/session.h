// EngineSession: a client's handle for submitting commands to a running Engine
// (runtime/engine.h, Engine<D>::Session; docs/embedding.md, "Sessions and retries").
//
// `client_id` 0 is anonymous (no deduplication); otherwise request ids must increase per
// client. One session per client and thread: a session is not thread-safe, the engine is.
// A submit is accepted into the engine's bounded ingress or refused at once
// (SubmitResult); an accepted command gets exactly one completion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "runtime/command.h"
#include "runtime/config.h"

namespace lockstep {

// A client's handle for submitting. `client_id` 0 is anonymous (no deduplication);
// otherwise request ids must increase per client (docs/embedding.md). Throws
// std::invalid_argument past producers_max sessions.
template <class E>
class EngineSession {
 public:
  using Item = typename E::Item;
  static constexpr std::size_t kPayloadMax = E::kPayloadMax;

  EngineSession(EngineSession&&) noexcept = default;

  std::uint64_t client_id() const noexcept { return client_; }
  // The request id the next submit without one takes.
  std::uint64_t next_request_id() const noexcept { return next_request_; }

  // Submits one command: `payload` is the command struct's bytes. Waits for room in the
  // ingress until `deadline` (kNoDeadline: as long as it takes; now: not at all).
  // request_id 0 takes next_request_id(); a retry passes the original's id.
  SubmitResult submit(std::uint16_t kind, std::span<const std::byte> payload, CompletionFn done,
                      void* context, Deadline deadline = kNoDeadline,
                      std::uint64_t request_id = 0) {
    if (payload.size() > kPayloadMax) return SubmitResult::kInvalid;
    Item& item = items_[0];
    fill(item, kind, payload, done, context, request_id, false);
    return engine_->enqueue(producer_, items_.data(), 1, deadline);
  }
  template <class C>
  SubmitResult submit(const C& command, CompletionFn done, void* context,
                      Deadline deadline = kNoDeadline, std::uint64_t request_id = 0) {
    return submit(C::kKind, std::as_bytes(std::span(&command, 1)), done, context, deadline,
                  request_id);
  }

  // One command of a bulk submission.
  struct Request {
    std::uint16_t kind = 0;
    std::span<const std::byte> payload;
    CompletionFn done = nullptr;
    void* context = nullptr;
    bool linked = false;  // commits with the next request (the chain ends at one without)
    std::uint64_t request_id = 0;
  };
  // Submits all of `requests`, in order, or none. A linked chain must end within the
  // requests and be at most batch_commands_max long (longer: kInvalid).
  SubmitResult submit_all(std::span<const Request> requests, Deadline deadline = kNoDeadline) {
    if (requests.size() > items_.size()) return SubmitResult::kInvalid;
    std::size_t chain = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const Request& r = requests[i];
      if (r.payload.size() > kPayloadMax) return SubmitResult::kInvalid;
      chain = r.linked ? chain + 1 : 0;
      if (chain >= engine_->config().batch_commands_max) return SubmitResult::kInvalid;
      fill(items_[i], r.kind, r.payload, r.done, r.context, r.request_id, r.linked);
    }
    if (chain != 0) return SubmitResult::kInvalid;  // the last one is linked
    return engine_->enqueue(producer_, items_.data(), requests.size(), deadline);
  }

  // The most requests one submit_all takes.
  static constexpr std::size_t kBulkMax = 4 * kBatchCommands;

 private:
  friend E;
  EngineSession(E* engine, std::uint64_t client, std::uint64_t session_id,
                typename E::Producer producer)
      : engine_(engine),
        client_(client),
        session_id_(session_id),
        producer_(std::move(producer)),
        items_(kBulkMax) {}

  void fill(Item& item, std::uint16_t kind, std::span<const std::byte> payload, CompletionFn done,
            void* context, std::uint64_t request_id, bool linked) {
    item.done = done;
    item.context = context;
    item.client_id = client_;
    item.session_id = session_id_;
    if (request_id == 0) request_id = next_request_;
    if (request_id >= next_request_) next_request_ = request_id + 1;
    item.request_id = request_id;
    item.kind = kind;
    item.payload_bytes = static_cast<std::uint16_t>(payload.size());
    item.linked = linked ? 1 : 0;
    item.disposition = Disposition::kSubmitted;
    if (!payload.empty()) std::memcpy(item.payload, payload.data(), payload.size());
  }

  E* engine_;
  std::uint64_t client_;
  std::uint64_t session_id_;
  std::uint64_t next_request_ = 1;
  typename E::Producer producer_;
  std::vector<Item> items_;
};

}  // namespace lockstep
