// The TxResult decoder (engine/tx_result.h) and command_of_result (engine/executor.h), the
// two readers of a journal entry, on arbitrary bytes.
//
// Contracts checked:
// - decode_tx_result accepts or refuses with an error, never reads outside the bytes;
// - what it accepts fills the bytes exactly: header, command, writes, events, and the
//   state hash when the batch-end flag is set; every view lies inside the bytes;
// - replay takes the command of an accepted result back with command_of_result: it must
//   succeed and agree with the decoder on kind, identity, time, flags and payload.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "engine/executor.h"
#include "engine/tx_result.h"
#include "fuzz/fuzz_check.h"

namespace {

using namespace lockstep;

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_accepted(std::span<const std::byte> bytes, const TxResultView& v) {
  std::size_t total = kTxResultHeaderBytes + v.command.size();
  FUZZ_CHECK(inside(v.command, bytes), "the command lies outside the result");
  FUZZ_CHECK(v.command.data() == bytes.data() + kTxResultHeaderBytes || v.command.empty(),
             "the command does not follow the header");
  for (const TxWriteView& w : v.writes) {
    FUZZ_CHECK(inside(w.bytes, bytes) && !w.bytes.empty(), "a write lies outside the result");
    FUZZ_CHECK(w.op == kWriteUpsert || w.op == kWriteErase, "unknown write op accepted");
    total += kTxWriteHeaderBytes + w.bytes.size();
  }
  for (const TxEventView& e : v.events) {
    FUZZ_CHECK(inside(e.bytes, bytes) && !e.bytes.empty(), "an event lies outside the result");
    total += kTxEventHeaderBytes + e.bytes.size();
  }
  FUZZ_CHECK(v.has_state_hash == ((v.flags & kTxFlagBatchEnd) != 0),
             "a state hash without the batch-end flag, or the flag without one");
  if (v.has_state_hash) total += kTxStateHashBytes;
  FUZZ_CHECK(total == bytes.size(), "the parts add up to " + std::to_string(total) + " of " +
                                        std::to_string(bytes.size()) + " bytes");
  FUZZ_CHECK(v.outcome.is_ok() || (v.writes.empty() && v.events.empty()),
             "a refused result with writes or events");

  CommandView c;
  bool batch_end = false;
  FUZZ_CHECK(command_of_result(bytes, &c, &batch_end),
             "command_of_result refuses a result decode_tx_result accepts");
  FUZZ_CHECK(c.kind == v.command_kind && c.client_id == v.client_id &&
                 c.request_id == v.request_id && c.sequence == v.command_sequence &&
                 c.logical_time_ns == v.logical_time_ns,
             "command_of_result and decode_tx_result disagree on the command's identity");
  FUZZ_CHECK(c.linked == ((v.flags & kTxFlagLinked) != 0) && batch_end == v.has_state_hash,
             "command_of_result and decode_tx_result disagree on the flags");
  FUZZ_CHECK(c.payload.data() == v.command.data() && c.payload.size() == v.command.size(),
             "command_of_result and decode_tx_result disagree on the payload");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  TxResultView v;
  std::string error;
  if (decode_tx_result(bytes, &v, &error)) {
    check_accepted(bytes, v);
  } else {
    FUZZ_CHECK(!error.empty(), "decode_tx_result refused without an error");
  }
  // Replay calls it on every entry, decoded or not: it must not read outside the bytes.
  CommandView c;
  bool batch_end = false;
  if (command_of_result(bytes, &c, &batch_end)) {
    FUZZ_CHECK(inside(c.payload, bytes), "command_of_result's payload lies outside the result");
  }
  return 0;
}
