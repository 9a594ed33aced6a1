// The project stage's handler: applies every durable committed TxResult to the engine's
// Projection (engine/projection.h), one exclusive lock per batch of slots, so queries see
// the tables between batches. It runs behind the journal stage, beside publish: what a
// query sees is durable. After a journal failure it applies nothing more.
#pragma once

#include <cstdint>

#include "engine/projection.h"
#include "pipeline/batch_view.h"
#include "runtime/command.h"
#include "runtime/engine_signals.h"
#include "runtime/result_arena.h"

namespace lockstep {

template <class D, std::size_t P>
class ProjectHandler {
 public:
  using Slot = CommandBatch<P>;

  ProjectHandler(Projection<D>& projection, const ResultArena& arena, EngineSignals& signals)
      : projection_(projection), arena_(arena), signals_(signals) {}

  void on_batch(BatchView<Slot> batch) {
    const std::int64_t failed_after = signals_.failed_after_slot.load(std::memory_order_acquire);
    projection_.write([&] {
      for (auto it = batch.begin(); it != batch.end(); ++it) {
        if (it.sequence() > failed_after) return;
        const Slot& slot = *it;
        for (std::uint32_t i = 0; i < slot.count; ++i) {
          const CommandItem<P>& c = slot.items[i];
          if (c.disposition != Disposition::kExecuted) continue;
          projection_.apply({arena_.at(c.result_at), c.result_bytes});
        }
      }
    });
  }

 private:
  Projection<D>& projection_;
  const ResultArena& arena_;
  EngineSignals& signals_;
};

}  // namespace lockstep
