#include "engine/executor.h"

namespace lockstep {

void EngineOptions::validate() const {
  limits.validate();
  const auto bad = [](const std::string& what) { throw std::invalid_argument(what); };
  for (std::size_t i = 0; i < table_capacity.size(); ++i) {
    if (table_capacity[i] >= kNoSlot) {
      bad("table_capacity[" + std::to_string(i) + "] must be below " + std::to_string(kNoSlot));
    }
  }
  if (default_capacity >= kNoSlot) bad("default_capacity must be below " + std::to_string(kNoSlot));
  if (result_bytes_max < kTxResultHeaderBytes + kTxStateHashBytes + 4096) {
    bad("result_bytes_max must be at least " +
        std::to_string(kTxResultHeaderBytes + kTxStateHashBytes + 4096) + ", not " +
        std::to_string(result_bytes_max));
  }
  if (chain_length_max == 0) bad("chain_length_max must be at least 1");
  if (chain_bytes_max < 2 * std::uint64_t{result_bytes_max}) {
    bad("chain_bytes_max (" + std::to_string(chain_bytes_max) +
        ") must be at least twice result_bytes_max (" + std::to_string(result_bytes_max) + ")");
  }
}

}  // namespace lockstep
