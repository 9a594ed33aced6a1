// Test helper: the TxResults an executor wrote, split, copied and decoded.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "engine/tx_result.h"

namespace lockstep_test {

struct Decoded {
  std::vector<std::byte> bytes;
  lockstep::TxResultView view;  // points into `bytes` (move a Decoded, never copy it)
};

// The `count` results that fill `out` (as execute() reported them), each decoded; a result
// that does not decode, or bytes left over, fail the test.
inline std::vector<Decoded> decode_results(std::span<const std::byte> out, std::uint32_t count) {
  std::vector<Decoded> results;
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t body = 0;
    std::memcpy(&body, out.data() + at + lockstep::tx_field::kBodyBytes, 4);
    const std::size_t n = lockstep::kTxResultHeaderBytes + body;
    Decoded d;
    d.bytes.assign(out.begin() + static_cast<long>(at), out.begin() + static_cast<long>(at + n));
    std::string error;
    EXPECT_TRUE(lockstep::decode_tx_result(d.bytes, &d.view, &error)) << error;
    results.push_back(std::move(d));
    at += n;
  }
  EXPECT_EQ(at, out.size());
  return results;
}

}  // namespace lockstep_test
