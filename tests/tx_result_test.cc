// The TxResult decoder, a reader of bytes: its refusals, and a corruption suite.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "bank/bank_harness.h"

namespace {

using lockstep::decode_tx_result;
using lockstep::TxResultView;

// A transfer's result: three writes, one event, and the state hash (batch end).
std::vector<std::byte> sample() {
  bank_test::Bank b;
  EXPECT_TRUE(b.outcome(bank_test::open(1, "a")).is_ok());
  EXPECT_TRUE(b.outcome(bank_test::open(2, "b")).is_ok());
  EXPECT_TRUE(b.outcome(bank_test::deposit(1, 100)).is_ok());
  auto r = b.submit(bank_test::transfer(9, 1, 2, 40));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].view.writes.size(), 3u);
  EXPECT_EQ(r[0].view.events.size(), 1u);
  EXPECT_TRUE(r[0].view.has_state_hash);
  return r[0].bytes;
}

template <typename T>
void store(std::vector<std::byte>& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

std::string refusal(const std::vector<std::byte>& b) {
  TxResultView v;
  std::string error;
  EXPECT_FALSE(decode_tx_result(b, &v, &error)) << "accepted";
  return error;
}

TEST(TxResult, AValidResultDecodes) {
  const auto b = sample();
  TxResultView v;
  std::string error;
  ASSERT_TRUE(decode_tx_result(b, &v, &error)) << error;
  EXPECT_EQ(v.command_kind, bank::MakeTransfer::kKind);
  EXPECT_EQ(v.command.size(), sizeof(bank::MakeTransfer));
}

TEST(TxResult, EveryTruncationIsRefused) {
  const auto b = sample();
  for (std::size_t n = 0; n < b.size(); ++n) {
    std::vector<std::byte> t(b.begin(), b.begin() + static_cast<long>(n));
    TxResultView v;
    std::string error;
    EXPECT_FALSE(decode_tx_result(t, &v, &error)) << "length " << n;
  }
}

TEST(TxResult, ABadFormatIsRefused) {
  auto b = sample();
  store<std::uint16_t>(b, lockstep::tx_field::kFormat, 2);
  EXPECT_NE(refusal(b).find("format 2"), std::string::npos);
}

TEST(TxResult, UnknownFlagsAreRefused) {
  auto b = sample();
  store<std::uint16_t>(b, lockstep::tx_field::kFlags, 0x80);
  EXPECT_NE(refusal(b).find("unknown flags"), std::string::npos);
}

TEST(TxResult, ANonZeroReservedFieldIsRefused) {
  auto b = sample();
  store<std::uint16_t>(b, lockstep::tx_field::kReserved, 1);
  EXPECT_NE(refusal(b).find("byte 6: reserved"), std::string::npos);
}

TEST(TxResult, ABodyLengthThatDisagreesIsRefused) {
  auto b = sample();
  b.push_back(std::byte{0});
  EXPECT_NE(refusal(b).find("body length"), std::string::npos);
}

TEST(TxResult, ARefusedCommandWithWritesIsRefused) {
  auto b = sample();
  store<std::uint32_t>(b, lockstep::tx_field::kOutcomeCode, 3);
  EXPECT_NE(refusal(b).find("refused command with writes"), std::string::npos);
}

TEST(TxResult, ACommandThatOverrunsIsRefused) {
  auto b = sample();
  store<std::uint32_t>(b, lockstep::tx_field::kCommandBytes, 1u << 20);
  EXPECT_NE(refusal(b).find("command overruns"), std::string::npos);
}

TEST(TxResult, AnUnknownWriteOpIsRefused) {
  auto b = sample();
  const std::size_t first_write = lockstep::kTxResultHeaderBytes + sizeof(bank::MakeTransfer);
  b[first_write] = std::byte{3};
  EXPECT_NE(refusal(b).find("write op 3"), std::string::npos);
}

TEST(TxResult, AZeroLengthWriteIsRefused) {
  auto b = sample();
  const std::size_t first_write = lockstep::kTxResultHeaderBytes + sizeof(bank::MakeTransfer);
  store<std::uint32_t>(b, first_write + 4, 0);
  EXPECT_NE(refusal(b).find("write length 0"), std::string::npos);
}

TEST(TxResult, AnEventCountThatOverrunsIsRefused) {
  auto b = sample();
  store<std::uint32_t>(b, lockstep::tx_field::kEventCount, 1000);
  EXPECT_NE(refusal(b).find("event count overruns"), std::string::npos);
}

TEST(TxResult, AMissingStateHashIsRefused) {
  auto b = sample();
  store<std::uint16_t>(b, lockstep::tx_field::kFlags, 0);  // no batch end: 24 bytes left over
  EXPECT_NE(refusal(b).find("trailing bytes"), std::string::npos);
}

// Every single-bit flip: the decoder must not crash or read out of bounds (ASan), and a
// flip in a length or count must be refused.
TEST(TxResult, EverySingleBitFlipIsHandled) {
  const auto b = sample();
  const std::size_t lengths[] = {lockstep::tx_field::kCommandBytes, lockstep::tx_field::kWriteCount,
                                 lockstep::tx_field::kEventCount, lockstep::tx_field::kBodyBytes};
  for (std::size_t bit = 0; bit < b.size() * 8; ++bit) {
    auto c = b;
    c[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    TxResultView v;
    std::string error;
    const bool ok = decode_tx_result(c, &v, &error);
    for (std::size_t at : lengths) {
      if (bit / 8 >= at && bit / 8 < at + 4) {
        EXPECT_FALSE(ok) << "bit " << bit;
      }
    }
    if (ok) {
      EXPECT_LE(v.command.size(), c.size());
    }
  }
}

TEST(TxResult, RandomCorruptionsNeverCrash) {
  const char* env = std::getenv("LOCKSTEP_SEED");
  const std::uint64_t seed =
      env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("tx result corruption seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const auto b = sample();
  for (int i = 0; i < 20000; ++i) {
    auto c = b;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits; ++k) c[rng() % c.size()] = static_cast<std::byte>(rng());
    if (rng() % 4 == 0) c.resize(rng() % (c.size() + 1));
    TxResultView v;
    std::string error;
    if (decode_tx_result(c, &v, &error)) {
      std::size_t sum = lockstep::kTxResultHeaderBytes + v.command.size();
      for (const auto& w : v.writes) sum += lockstep::kTxWriteHeaderBytes + w.bytes.size();
      for (const auto& e : v.events) sum += lockstep::kTxEventHeaderBytes + e.bytes.size();
      if (v.has_state_hash) sum += lockstep::kTxStateHashBytes;
      EXPECT_EQ(sum, c.size()) << "seed " << seed << " case " << i;
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

}  // namespace
