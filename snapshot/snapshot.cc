#include "snapshot/snapshot.h"

// Static-linking-only API: XXH3_state_t on the stack, no allocation per block.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/assert.h"
#include "base/endian.h"
#include "schema/descriptor.h"

namespace lockstep::snapshot {
namespace {

namespace f = snapshot_format;
namespace hf = snapshot_format::header_field;
namespace bf = snapshot_format::block_field;
namespace tf = snapshot_format::trailer_field;
namespace ef = snapshot_format::entry_field;
using lockstep::load_le;
using lockstep::store_le;

constexpr std::size_t kNameDigits = 20;

// ---- checksums (docs/snapshot-format.md) -------------------------------------------------

// XXH3-64 of the whole header but its checksum field.
std::uint64_t header_checksum(std::span<const std::byte> header) noexcept {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header.data(), hf::kHeaderChecksum);
  XXH3_64bits_update(&state, header.data() + f::kHeaderFixedBytes,
                     header.size() - f::kHeaderFixedBytes);
  return XXH3_64bits_digest(&state);
}

// XXH3-64, seeded with the header checksum, of the block header's first 24 bytes and the
// payload that follows the block header.
std::uint64_t block_checksum(std::uint64_t seed, const std::byte* block,
                             std::size_t payload_bytes) noexcept {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);  // reset_withSeed reads the state's seed: it must not be garbage
  XXH3_64bits_reset_withSeed(&state, seed);
  XXH3_64bits_update(&state, block, bf::kChecksum);
  XXH3_64bits_update(&state, block + f::kBlockHeaderBytes, payload_bytes);
  return XXH3_64bits_digest(&state);
}

// XXH3-64, seeded with the header checksum, of the trailer but its last 8 bytes.
std::uint64_t trailer_checksum(std::uint64_t seed, std::span<const std::byte> trailer) noexcept {
  return XXH3_64bits_withSeed(trailer.data(), trailer.size() - 8, seed);
}

// ---- sizes -------------------------------------------------------------------------------

std::size_t header_bytes_for(std::size_t descriptor_bytes) noexcept {
  const std::size_t n = f::kHeaderFixedBytes + descriptor_bytes;
  return (n + f::kHeaderAlignBytes - 1) / f::kHeaderAlignBytes * f::kHeaderAlignBytes;
}

// The blocks a stream of `body_bytes` fills.
std::uint64_t blocks_for(std::uint64_t body_bytes) noexcept {
  return (body_bytes + f::kBlockPayloadBytesMax - 1) / f::kBlockPayloadBytesMax;
}

// Where the trailer starts, for a header of `header_bytes` and a stream of `body_bytes`.
std::uint64_t trailer_offset_for(std::uint64_t header_bytes, std::uint64_t body_bytes) noexcept {
  const std::uint64_t blocks = blocks_for(body_bytes);
  if (blocks == 0) return header_bytes;
  const std::uint64_t last_payload = body_bytes - (blocks - 1) * f::kBlockPayloadBytesMax;
  return header_bytes + (blocks - 1) * f::kBlockBytes + f::kBlockHeaderBytes + last_payload;
}

bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", value);
  return text;
}

std::string num(std::uint64_t value) { return std::to_string(value); }

// The record size of each table the descriptor declares (table id = index), or an error.
bool table_sizes(std::span<const std::byte> descriptor, std::vector<std::uint32_t>* sizes,
                 std::string* error) {
  schema::Domain domain;
  if (!schema::decode_descriptor(descriptor, &domain, error)) return false;
  sizes->clear();
  for (const schema::Struct& record : domain.records) sizes->push_back(record.size);
  return true;
}

// What is wrong with a header's journal position and flags ("" if nothing), and the
// offset of the header field concerned.
std::pair<std::size_t, std::string> position_problem(const SnapshotHeader& h) {
  if ((h.journal_flags & ~journal::kFlagsKnown) != 0) {
    return {hf::kJournalFlags, "unknown journal flags " + hex32(h.journal_flags)};
  }
  if (h.tx_sequence > h.next_sequence) {
    return {hf::kTxSequence, "tx_sequence " + num(h.tx_sequence) + " is beyond next_sequence " +
                                 num(h.next_sequence)};
  }
  if (h.next_sequence == 0 &&
      (h.tx_sequence != 0 || h.last_logical_time_ns != 0 || !all_zero(h.chain))) {
    return {hf::kNextSequence,
            "next_sequence 0 with a non-zero transaction count, logical time or chain hash"};
  }
  return {0, ""};
}

std::vector<std::byte> encode_header(const SnapshotHeader& h, std::uint64_t* checksum) {
  std::vector<std::byte> out(header_bytes_for(h.descriptor.size()));
  const std::span<std::byte> b(out);
  std::memcpy(b.data() + hf::kMagic, f::kMagic.data(), f::kMagic.size());
  store_le<std::uint32_t>(b, hf::kFormatVersion, f::kVersion);
  store_le<std::uint32_t>(b, hf::kHeaderBytes, static_cast<std::uint32_t>(out.size()));
  store_le<std::uint32_t>(b, hf::kJournalFlags, h.journal_flags);
  store_le<std::uint32_t>(b, hf::kDescriptorBytes, static_cast<std::uint32_t>(h.descriptor.size()));
  store_le<std::uint64_t>(b, hf::kNextSequence, h.next_sequence);
  store_le<std::uint64_t>(b, hf::kTxSequence, h.tx_sequence);
  store_le<std::int64_t>(b, hf::kLastLogicalTimeNs, h.last_logical_time_ns);
  store_le<std::uint64_t>(b, hf::kStateHashLo, h.state_hash.lo);
  store_le<std::uint64_t>(b, hf::kStateHashHi, h.state_hash.hi);
  store_le<std::uint64_t>(b, hf::kStateRecords, h.state_hash.records);
  std::memcpy(b.data() + hf::kChainHash, h.chain.data(), h.chain.size());
  store_le<std::uint32_t>(b, hf::kBlockBytes, static_cast<std::uint32_t>(f::kBlockBytes));
  if (!h.descriptor.empty()) {
    std::memcpy(b.data() + f::kHeaderFixedBytes, h.descriptor.data(), h.descriptor.size());
  }
  *checksum = header_checksum(b);
  store_le<std::uint64_t>(b, hf::kHeaderChecksum, *checksum);
  return out;
}

std::vector<std::byte> encode_trailer(std::uint64_t seed, std::uint64_t offset,
                                      std::uint64_t blocks, std::uint64_t sessions,
                                      const std::vector<SnapshotTable>& tables) {
  const std::size_t size = f::kTrailerBytesMin + tables.size() * f::kTrailerEntryBytes;
  std::vector<std::byte> out(size);
  const std::span<std::byte> t(out);
  std::memcpy(t.data() + tf::kMagic, f::kTrailerMagic.data(), f::kTrailerMagic.size());
  store_le<std::uint32_t>(t, tf::kTableCount, static_cast<std::uint32_t>(tables.size()));
  store_le<std::uint64_t>(t, tf::kBlockCount, blocks);
  store_le<std::uint64_t>(t, tf::kFileOffset, offset);
  store_le<std::uint64_t>(t, tf::kSessionCount, sessions);
  std::size_t at = tf::kEntries;
  for (const SnapshotTable& table : tables) {
    store_le<std::uint16_t>(t, at + ef::kTable, table.table);
    store_le<std::uint32_t>(t, at + ef::kRecordBytes, table.record_bytes);
    store_le<std::uint64_t>(t, at + ef::kCount, table.count);
    at += f::kTrailerEntryBytes;
  }
  store_le<std::uint64_t>(t, at, size);
  store_le<std::uint64_t>(t, at + 8, trailer_checksum(seed, t));
  LS_ASSERT(at + 16 == size);
  return out;
}

}  // namespace

// ---- names -------------------------------------------------------------------------------

std::string snapshot_file_name(std::uint64_t next_sequence) {
  char name[64];
  std::snprintf(name, sizeof name, "snapshot-%020llu.lsnap",
                static_cast<unsigned long long>(next_sequence));
  return name;
}

std::optional<std::uint64_t> parse_snapshot_file_name(std::string_view name) {
  if (name.size() != kSnapshotPrefix.size() + kNameDigits + kSnapshotSuffix.size() ||
      !name.starts_with(kSnapshotPrefix) || !name.ends_with(kSnapshotSuffix)) {
    return std::nullopt;
  }
  const char* begin = name.data() + kSnapshotPrefix.size();
  const char* end = begin + kNameDigits;
  if (!std::all_of(begin, end, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// ---- SnapshotStatus ----------------------------------------------------------------------

SnapshotStatus SnapshotStatus::corrupt(std::string_view file, std::uint64_t offset,
                                       std::string_view what) {
  return {false, std::string(file), offset, std::string(what), SnapshotError::kCorrupt};
}

SnapshotStatus SnapshotStatus::io(const journal::IoStatus& status) {
  LS_ASSERT(!status.is_ok());
  return {false, status.file(), status.offset(), status.message(), SnapshotError::kIo};
}

SnapshotStatus SnapshotStatus::refused(std::string_view file, std::string_view what) {
  return {false, std::string(file), 0, std::string(what), SnapshotError::kRefused};
}

std::string SnapshotStatus::message() const {
  if (ok) return "ok";
  switch (error) {
    case SnapshotError::kNone: return "snapshot error: " + (file.empty() ? "" : file + ": ") + what;
    case SnapshotError::kCorrupt:
      return "corrupt snapshot: " + file + " at offset " + num(offset) + ": " + what;
    case SnapshotError::kIo: return "snapshot I/O: " + what;
    case SnapshotError::kRefused: return "snapshot refused: " + file + ": " + what;
  }
  return what;
}

// ---- SnapshotWriter ----------------------------------------------------------------------

SnapshotWriter::SnapshotWriter(journal::IoBackend& io, const SnapshotHeader& h,
                               std::vector<std::uint32_t> sizes)
    : io_(io),
      header_(h),
      table_record_bytes_(std::move(sizes)),
      name_(snapshot_file_name(h.next_sequence)),
      temp_name_(name_ + std::string(kSnapshotTempSuffix)) {}

SnapshotStatus SnapshotWriter::begin(journal::IoBackend& io, const SnapshotHeader& h,
                                     std::unique_ptr<SnapshotWriter>* out) {
  LS_ASSERT(io.in_flight() == 0);
  out->reset();
  const std::string temp = snapshot_file_name(h.next_sequence) + std::string(kSnapshotTempSuffix);
  if (h.descriptor.size() > f::kDescriptorBytesMax) {
    return SnapshotStatus::refused(temp, "descriptor of " + num(h.descriptor.size()) +
                                             " bytes is over the limit of " +
                                             num(f::kDescriptorBytesMax));
  }
  if (const auto [at, problem] = position_problem(h); !problem.empty()) {
    return SnapshotStatus::refused(temp, problem);
  }
  std::vector<std::uint32_t> sizes;
  if (std::string error; !table_sizes(h.descriptor, &sizes, &error)) {
    return SnapshotStatus::refused(temp, "the descriptor does not decode: " + error);
  }
  std::unique_ptr<SnapshotWriter> writer(new SnapshotWriter(io, h, std::move(sizes)));
  if (SnapshotStatus s = writer->start(); !s.is_ok()) return s;  // ~SnapshotWriter cleans up
  *out = std::move(writer);
  return {};
}

SnapshotStatus SnapshotWriter::start() {
  if (journal::IoStatus s = io_.open(temp_name_, {.create = true}, &file_); !s) {
    return fail(SnapshotStatus::io(s));
  }
  file_open_ = true;
  temp_created_ = true;
  if (journal::IoStatus s = io_.truncate(file_, 0); !s) return fail(SnapshotStatus::io(s));
  const std::vector<std::byte> header = encode_header(header_, &header_checksum_);
  header_bytes_ = header.size();
  for (std::vector<std::byte>& buffer : buffers_) {
    buffer.resize(f::kWriteChunkBlocks * f::kBlockBytes);
  }
  // A plain write (no sync: finish() syncs the whole file once).
  if (journal::IoStatus s = io_.submit({file_, 0, header, 0, false}); !s) {
    return fail(SnapshotStatus::io(s));
  }
  ++writes_in_flight_;
  return wait_all_writes();
}

SnapshotWriter::~SnapshotWriter() {
  // Best effort, errors ignored: the writes in flight still use the buffers, and an
  // unfinished temporary file is of no use to anyone.
  if (writes_in_flight_ > 0) {
    std::vector<journal::Completion> done;
    (void)io_.reap(writes_in_flight_, &done);
  }
  if (file_open_) (void)io_.close(file_);
  if (temp_created_ && !renamed_) (void)io_.remove(temp_name_);
}

SnapshotStatus SnapshotWriter::fail(SnapshotStatus status) {
  if (phase_ != Phase::kFailed) {
    phase_ = Phase::kFailed;
    error_ = std::move(status);
  }
  return error_;
}

SnapshotStatus SnapshotWriter::refuse(std::string_view what) {
  return fail(SnapshotStatus::refused(temp_name_, what));
}

std::byte* SnapshotWriter::block_start() noexcept {
  return buffers_[buffer_].data() + buffer_blocks_ * f::kBlockBytes;
}

SnapshotStatus SnapshotWriter::add_session(const ClientRecord& s) {
  if (phase_ == Phase::kFailed) return error_;
  if (phase_ == Phase::kFinished) return SnapshotStatus::refused(name_, "session after finish");
  if (phase_ != Phase::kSessions) return refuse("session after a table");
  if (s.client_id == 0) return refuse("session of client 0 (anonymous clients have none)");
  if (sessions_ > 0 && s.client_id <= last_client_) {
    return refuse("sessions out of order: client " + num(s.client_id) + " after client " +
                  num(last_client_));
  }
  if (s.sequence >= header_.next_sequence) {
    return refuse("session of client " + num(s.client_id) + " at sequence " + num(s.sequence) +
                  ", not below next_sequence " + num(header_.next_sequence));
  }
  std::array<std::byte, f::kSessionBytes> bytes;
  store_le<std::uint64_t>(bytes, 0, s.client_id);
  store_le<std::uint64_t>(bytes, 8, s.request_id);
  store_le<std::uint64_t>(bytes, 16, s.sequence);
  ++sessions_;
  last_client_ = s.client_id;
  return append(bytes);
}

SnapshotStatus SnapshotWriter::begin_table(std::uint16_t table, std::uint32_t record_bytes) {
  if (phase_ == Phase::kFailed) return error_;
  if (phase_ == Phase::kFinished) return SnapshotStatus::refused(name_, "table after finish");
  if (table_ >= 0 && table <= table_) {
    return refuse("table " + num(table) + " after table " + num(static_cast<unsigned>(table_)) +
                  " (tables in increasing id order, each once)");
  }
  if (table >= table_record_bytes_.size()) {
    return refuse("table " + num(table) + " is not in the descriptor (it has " +
                  num(table_record_bytes_.size()) + " tables)");
  }
  if (record_bytes != table_record_bytes_[table]) {
    return refuse("table " + num(table) + " has records of " + num(table_record_bytes_[table]) +
                  " bytes, not " + num(record_bytes));
  }
  phase_ = Phase::kTables;
  table_ = table;
  record_bytes_ = record_bytes;
  return {};
}

SnapshotStatus SnapshotWriter::add_record(std::span<const std::byte> image) {
  if (phase_ == Phase::kFailed) return error_;
  if (phase_ == Phase::kFinished) return SnapshotStatus::refused(name_, "record after finish");
  if (table_ < 0) return refuse("record before begin_table");
  if (image.size() != record_bytes_) {
    return refuse("record of " + num(image.size()) + " bytes where table " +
                  num(static_cast<unsigned>(table_)) + " has " + num(record_bytes_));
  }
  if (tables_.empty() || tables_.back().table != table_) {
    tables_.push_back({static_cast<std::uint16_t>(table_), record_bytes_, 0});
  }
  ++tables_.back().count;
  // The common case: the record fits in the current block.
  if (block_fill_ + image.size() < f::kBlockPayloadBytesMax) {
    std::memcpy(block_start() + f::kBlockHeaderBytes + block_fill_, image.data(), image.size());
    block_fill_ += image.size();
    return {};
  }
  return append(image);
}

SnapshotStatus SnapshotWriter::append(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const std::size_t n = std::min(f::kBlockPayloadBytesMax - block_fill_, bytes.size());
    std::memcpy(block_start() + f::kBlockHeaderBytes + block_fill_, bytes.data(), n);
    block_fill_ += n;
    bytes = bytes.subspan(n);
    if (block_fill_ == f::kBlockPayloadBytesMax) {
      seal_block();
      if (buffer_blocks_ == f::kWriteChunkBlocks) {
        if (SnapshotStatus s = flush_buffer(); !s.is_ok()) return s;
      }
    }
  }
  return {};
}

void SnapshotWriter::seal_block() {
  LS_ASSERT(block_fill_ > 0 && block_fill_ <= f::kBlockPayloadBytesMax);
  LS_ASSERT(buffer_blocks_ < f::kWriteChunkBlocks);
  std::byte* block = block_start();
  const std::span<std::byte> b(block, f::kBlockHeaderBytes);
  std::memcpy(block + bf::kMagic, f::kBlockMagic.data(), f::kBlockMagic.size());
  store_le<std::uint32_t>(b, bf::kPayloadBytes, static_cast<std::uint32_t>(block_fill_));
  store_le<std::uint64_t>(b, bf::kBlockIndex, block_index_);
  store_le<std::uint64_t>(b, bf::kFileOffset, header_bytes_ + block_index_ * f::kBlockBytes);
  store_le<std::uint64_t>(b, bf::kChecksum, block_checksum(header_checksum_, block, block_fill_));
  buffer_used_ = buffer_blocks_ * f::kBlockBytes + f::kBlockHeaderBytes + block_fill_;
  ++buffer_blocks_;
  ++block_index_;
  block_fill_ = 0;
}

SnapshotStatus SnapshotWriter::flush_buffer() {
  if (buffer_blocks_ == 0) return {};
  // At most two writes in flight (one per buffer), and never more than the backend takes.
  if (writes_in_flight_ >= std::min<std::size_t>(2, io_.depth())) {
    if (SnapshotStatus s = wait_oldest_write(); !s.is_ok()) return s;
  }
  const std::uint64_t offset = header_bytes_ + buffer_first_block_ * f::kBlockBytes;
  const std::span<const std::byte> bytes(buffers_[buffer_].data(), buffer_used_);
  if (journal::IoStatus s = io_.submit({file_, offset, bytes, offset, false}); !s) {
    return fail(SnapshotStatus::io(s));
  }
  ++writes_in_flight_;
  file_end_ = offset + buffer_used_;
  buffer_ ^= 1;
  buffer_blocks_ = 0;
  buffer_used_ = 0;
  buffer_first_block_ = block_index_;
  // With both buffers in flight, the one to fill next is the older write's: wait for it.
  if (writes_in_flight_ == 2) return wait_oldest_write();
  return {};
}

SnapshotStatus SnapshotWriter::wait_oldest_write() {
  LS_ASSERT(writes_in_flight_ > 0);
  std::vector<journal::Completion> done;
  if (journal::IoStatus s = io_.reap(1, &done); !s) return fail(SnapshotStatus::io(s));
  LS_ASSERT(!done.empty() && done.size() <= writes_in_flight_);
  writes_in_flight_ -= done.size();
  for (const journal::Completion& c : done) {
    if (!c.status) return fail(SnapshotStatus::io(c.status));
  }
  return {};
}

SnapshotStatus SnapshotWriter::wait_all_writes() {
  while (writes_in_flight_ > 0) {
    if (SnapshotStatus s = wait_oldest_write(); !s.is_ok()) return s;
  }
  return {};
}

SnapshotStatus SnapshotWriter::finish() {
  if (phase_ == Phase::kFailed) return error_;
  if (phase_ == Phase::kFinished) return SnapshotStatus::refused(name_, "finish called twice");
  std::uint64_t records = 0;
  for (const SnapshotTable& t : tables_) records += t.count;
  if (records != header_.state_hash.records) {
    return refuse(num(records) + " records written, but the header's state hash counts " +
                  num(header_.state_hash.records));
  }
  if (block_fill_ > 0) seal_block();
  if (SnapshotStatus s = flush_buffer(); !s.is_ok()) return s;
  if (SnapshotStatus s = wait_all_writes(); !s.is_ok()) return s;
  const std::uint64_t trailer_offset = block_index_ == 0 ? header_bytes_ : file_end_;
  const std::vector<std::byte> trailer =
      encode_trailer(header_checksum_, trailer_offset, block_index_, sessions_, tables_);
  // The trailer, then one fdatasync for the whole file.
  if (journal::IoStatus s = io_.write_and_sync(file_, trailer_offset, trailer); !s) {
    return fail(SnapshotStatus::io(s));
  }
  file_open_ = false;
  if (journal::IoStatus s = io_.close(file_); !s) return fail(SnapshotStatus::io(s));
  if (journal::IoStatus s = io_.rename(temp_name_, name_); !s) return fail(SnapshotStatus::io(s));
  renamed_ = true;
  if (journal::IoStatus s = io_.sync_directory(); !s) return fail(SnapshotStatus::io(s));
  phase_ = Phase::kFinished;
  for (std::vector<std::byte>& buffer : buffers_) std::vector<std::byte>().swap(buffer);
  return {};
}

// ---- SnapshotReader ----------------------------------------------------------------------

namespace {

// The stream of a snapshot's body, cut into sessions and records as block payloads arrive
// (a session or record may span two blocks: it is gathered in `carry_`).
class StreamCursor {
 public:
  using OnSession = std::function<void(const ClientRecord&)>;
  using OnRecord = std::function<void(std::uint16_t, std::span<const std::byte>)>;

  StreamCursor(const SnapshotReader& reader, std::uint64_t header_bytes,
               const OnSession& on_session, const OnRecord& on_record)
      : reader_(reader),
        header_bytes_(header_bytes),
        on_session_(on_session),
        on_record_(on_record) {
    if (reader.session_count() > 0) {
      sections_.push_back({0, f::kSessionBytes, reader.session_count(), true});
    }
    for (const SnapshotTable& t : reader.tables()) {
      sections_.push_back({t.table, t.record_bytes, t.count, false});
    }
  }

  // Consumes one verified payload, at stream position `pos`.
  SnapshotStatus consume(std::span<const std::byte> p, std::uint64_t pos) {
    while (!p.empty()) {
      LS_ASSERT(section_ < sections_.size());  // the trailer's counts fill the stream exactly
      Section& s = sections_[section_];
      if (carry_bytes_ > 0) {
        const std::size_t n = std::min(s.item_bytes - carry_bytes_, p.size());
        std::memcpy(carry_.data() + carry_bytes_, p.data(), n);
        carry_bytes_ += n;
        p = p.subspan(n);
        pos += n;
        if (carry_bytes_ < s.item_bytes) break;
        carry_bytes_ = 0;
        if (SnapshotStatus st = emit(s, carry_.data(), 1, pos - s.item_bytes); !st.is_ok()) {
          return st;
        }
        continue;
      }
      const std::uint64_t whole = std::min<std::uint64_t>(p.size() / s.item_bytes, s.remaining);
      if (whole > 0) {
        if (SnapshotStatus st = emit(s, p.data(), whole, pos); !st.is_ok()) return st;
        const std::size_t n = static_cast<std::size_t>(whole) * s.item_bytes;
        p = p.subspan(n);
        pos += n;
        continue;
      }
      std::memcpy(carry_.data(), p.data(), p.size());  // a part of an item: the rest follows
      carry_bytes_ = p.size();
      pos += p.size();
      p = {};
    }
    return {};
  }

  bool done() const noexcept { return section_ == sections_.size() && carry_bytes_ == 0; }

 private:
  struct Section {
    std::uint16_t table;
    std::size_t item_bytes;
    std::uint64_t remaining;
    bool sessions;
  };

  // Hands out `n` consecutive items of section `s` starting at `items` (stream position
  // `pos`), and moves to the next section when `s` is complete.
  SnapshotStatus emit(Section& s, const std::byte* items, std::uint64_t n, std::uint64_t pos) {
    LS_ASSERT(n <= s.remaining);
    if (s.sessions) {
      for (std::uint64_t i = 0; i < n; ++i) {
        if (SnapshotStatus st = session(items + i * f::kSessionBytes, pos + i * f::kSessionBytes);
            !st.is_ok()) {
          return st;
        }
      }
    } else {
      const std::size_t size = s.item_bytes;
      for (std::uint64_t i = 0; i < n; ++i) on_record_(s.table, {items + i * size, size});
    }
    s.remaining -= n;
    if (s.remaining == 0) ++section_;
    return {};
  }

  SnapshotStatus session(const std::byte* bytes, std::uint64_t pos) {
    const std::span<const std::byte> b(bytes, f::kSessionBytes);
    const ClientRecord s{load_le<std::uint64_t>(b, 0), load_le<std::uint64_t>(b, 8),
                         load_le<std::uint64_t>(b, 16)};
    const std::uint64_t next = reader_.header().next_sequence;
    std::string problem;
    if (s.client_id == 0) {
      problem = "session of client 0";
    } else if (sessions_seen_ > 0 && s.client_id <= last_client_) {
      problem = "sessions out of order: client " + num(s.client_id) + " after client " +
                num(last_client_);
    } else if (s.sequence >= next) {
      problem = "session of client " + num(s.client_id) + " at sequence " + num(s.sequence) +
                ", not below next_sequence " + num(next);
    }
    if (!problem.empty()) {
      return SnapshotStatus::corrupt(reader_.file_name(), file_offset(pos), problem);
    }
    ++sessions_seen_;
    last_client_ = s.client_id;
    on_session_(s);
    return {};
  }

  // The file offset of stream position `pos`.
  std::uint64_t file_offset(std::uint64_t pos) const noexcept {
    return header_bytes_ + pos / f::kBlockPayloadBytesMax * f::kBlockBytes + f::kBlockHeaderBytes +
           pos % f::kBlockPayloadBytesMax;
  }

  const SnapshotReader& reader_;
  std::uint64_t header_bytes_;
  const OnSession& on_session_;
  const OnRecord& on_record_;
  std::vector<Section> sections_;
  std::size_t section_ = 0;
  std::array<std::byte, f::kRecordBytesMax> carry_{};
  std::size_t carry_bytes_ = 0;
  std::uint64_t sessions_seen_ = 0;
  std::uint64_t last_client_ = 0;
};

static_assert(f::kSessionBytes <= f::kRecordBytesMax, "a session fits in the carry buffer");

}  // namespace

SnapshotReader::SnapshotReader(journal::IoBackend& io, std::string name, journal::FileHandle file)
    : io_(io), name_(std::move(name)), file_(file) {}

SnapshotReader::~SnapshotReader() { (void)io_.close(file_); }

SnapshotStatus SnapshotReader::open(journal::IoBackend& io, std::string_view name,
                                    std::unique_ptr<SnapshotReader>* out) {
  out->reset();
  journal::FileHandle file = 0;
  if (journal::IoStatus s = io.open(name, {}, &file); !s) return SnapshotStatus::io(s);
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader(io, std::string(name), file));
  if (SnapshotStatus s = reader->read_header(); !s.is_ok()) return s;
  if (SnapshotStatus s = reader->read_trailer(); !s.is_ok()) return s;
  *out = std::move(reader);
  return {};
}

SnapshotStatus SnapshotReader::corrupt(std::uint64_t offset, std::string_view what) const {
  return SnapshotStatus::corrupt(name_, offset, what);
}

SnapshotStatus SnapshotReader::read_exact(std::uint64_t offset, std::span<std::byte> out) {
  std::size_t got = 0;
  if (journal::IoStatus s = io_.read(file_, offset, out, &got); !s) return SnapshotStatus::io(s);
  if (got != out.size()) {
    return corrupt(offset + got, "the file ends early (it changed since it was opened)");
  }
  return {};
}

std::uint64_t SnapshotReader::block_offset(std::uint64_t index) const noexcept {
  return header_bytes_ + index * f::kBlockBytes;
}

SnapshotStatus SnapshotReader::read_header() {
  if (journal::IoStatus s = io_.size(file_, &file_bytes_); !s) return SnapshotStatus::io(s);
  if (file_bytes_ < f::kHeaderFixedBytes) {
    return corrupt(file_bytes_, "truncated header: the file has " + num(file_bytes_) + " bytes");
  }
  std::array<std::byte, f::kHeaderFixedBytes> fixed;
  if (SnapshotStatus s = read_exact(0, fixed); !s.is_ok()) return s;
  if (std::memcmp(fixed.data(), f::kMagic.data(), f::kMagic.size()) != 0) {
    return corrupt(hf::kMagic, "bad magic: not a lockstep snapshot");
  }
  if (const auto v = load_le<std::uint32_t>(fixed, hf::kFormatVersion); v != f::kVersion) {
    return corrupt(hf::kFormatVersion, "unsupported format version " + num(v));
  }
  const auto descriptor_bytes = load_le<std::uint32_t>(fixed, hf::kDescriptorBytes);
  if (descriptor_bytes > f::kDescriptorBytesMax) {
    return corrupt(hf::kDescriptorBytes, "descriptor_bytes " + num(descriptor_bytes) +
                                             " is over the limit of " +
                                             num(f::kDescriptorBytesMax));
  }
  const auto header_bytes = load_le<std::uint32_t>(fixed, hf::kHeaderBytes);
  if (header_bytes != header_bytes_for(descriptor_bytes)) {
    return corrupt(hf::kHeaderBytes, "header_bytes " + num(header_bytes) +
                                         " does not fit descriptor_bytes " + num(descriptor_bytes));
  }
  if (header_bytes > file_bytes_) {
    return corrupt(file_bytes_, "truncated header: " + num(header_bytes) + " bytes in a file of " +
                                    num(file_bytes_));
  }
  std::vector<std::byte> bytes(header_bytes);
  if (SnapshotStatus s = read_exact(0, bytes); !s.is_ok()) return s;
  const std::span<const std::byte> h(bytes);
  header_checksum_ = load_le<std::uint64_t>(h, hf::kHeaderChecksum);
  if (header_checksum(h) != header_checksum_) {
    return corrupt(hf::kHeaderChecksum, "header checksum mismatch");
  }
  if (const auto b = load_le<std::uint32_t>(h, hf::kBlockBytes); b != f::kBlockBytes) {
    return corrupt(hf::kBlockBytes, "unsupported block size " + num(b));
  }
  if (!all_zero(h.subspan(hf::kReserved, hf::kHeaderChecksum - hf::kReserved))) {
    return corrupt(hf::kReserved, "non-zero reserved header bytes");
  }
  const std::size_t padding_at = f::kHeaderFixedBytes + descriptor_bytes;
  if (!all_zero(h.subspan(padding_at))) return corrupt(padding_at, "non-zero header padding");
  header_bytes_ = header_bytes;
  SnapshotHeader& out = header_;
  out.journal_flags = load_le<std::uint32_t>(h, hf::kJournalFlags);
  out.next_sequence = load_le<std::uint64_t>(h, hf::kNextSequence);
  out.tx_sequence = load_le<std::uint64_t>(h, hf::kTxSequence);
  out.last_logical_time_ns = load_le<std::int64_t>(h, hf::kLastLogicalTimeNs);
  out.state_hash.lo = load_le<std::uint64_t>(h, hf::kStateHashLo);
  out.state_hash.hi = load_le<std::uint64_t>(h, hf::kStateHashHi);
  out.state_hash.records = load_le<std::uint64_t>(h, hf::kStateRecords);
  std::memcpy(out.chain.data(), h.data() + hf::kChainHash, out.chain.size());
  out.descriptor.assign(h.begin() + f::kHeaderFixedBytes, h.begin() + padding_at);
  if (const auto [at, problem] = position_problem(out); !problem.empty()) {
    return corrupt(at, problem);
  }
  const std::optional<std::uint64_t> named = parse_snapshot_file_name(name_);
  if (!named) return corrupt(0, "not a snapshot file name");
  if (*named != out.next_sequence) {
    return corrupt(hf::kNextSequence, "the name says next_sequence " + num(*named) +
                                          ", the header " + num(out.next_sequence));
  }
  if (std::string error; !table_sizes(out.descriptor, &table_record_bytes_, &error)) {
    return corrupt(f::kHeaderFixedBytes, "the descriptor does not decode: " + error);
  }
  return {};
}

SnapshotStatus SnapshotReader::read_trailer() {
  const std::uint64_t size = file_bytes_;
  if (size < header_bytes_ + f::kTrailerBytesMin) {
    return corrupt(size, "truncated: no room for a trailer after the header");
  }
  std::array<std::byte, f::kTrailerEndBytes> end;
  if (SnapshotStatus s = read_exact(size - end.size(), end); !s.is_ok()) return s;
  const auto trailer_bytes = load_le<std::uint64_t>(end, 0);
  if (trailer_bytes < f::kTrailerBytesMin || trailer_bytes > f::kTrailerBytesMax ||
      (trailer_bytes - f::kTrailerBytesMin) % f::kTrailerEntryBytes != 0 ||
      trailer_bytes > size - header_bytes_) {
    return corrupt(size - end.size(), "no trailer at the end of the file (trailer_bytes " +
                                          num(trailer_bytes) +
                                          "): truncated, or bytes after the trailer");
  }
  trailer_offset_ = size - trailer_bytes;
  std::vector<std::byte> bytes(trailer_bytes);
  if (SnapshotStatus s = read_exact(trailer_offset_, bytes); !s.is_ok()) return s;
  const std::span<const std::byte> t(bytes);
  if (trailer_checksum(header_checksum_, t) != load_le<std::uint64_t>(t, t.size() - 8)) {
    return corrupt(trailer_offset_,
                   "trailer checksum mismatch (truncated, or bytes after the "
                   "trailer, or a damaged trailer)");
  }
  if (std::memcmp(t.data(), f::kTrailerMagic.data(), f::kTrailerMagic.size()) != 0) {
    return corrupt(trailer_offset_, "bad trailer magic");
  }
  if (const auto at = load_le<std::uint64_t>(t, tf::kFileOffset); at != trailer_offset_) {
    return corrupt(trailer_offset_, "misplaced trailer: written at offset " + num(at));
  }
  const std::size_t entries = (trailer_bytes - f::kTrailerBytesMin) / f::kTrailerEntryBytes;
  if (const auto n = load_le<std::uint32_t>(t, tf::kTableCount); n != entries) {
    return corrupt(trailer_offset_ + tf::kTableCount,
                   "table count " + num(n) + " disagrees with the trailer's length");
  }
  session_count_ = load_le<std::uint64_t>(t, tf::kSessionCount);
  if (session_count_ > size / f::kSessionBytes) {
    return corrupt(trailer_offset_ + tf::kSessionCount,
                   "session count " + num(session_count_) + " cannot fit in the file");
  }
  body_bytes_ = session_count_ * f::kSessionBytes;
  std::uint64_t records = 0;
  tables_.clear();
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t at = tf::kEntries + i * f::kTrailerEntryBytes;
    const std::uint64_t where = trailer_offset_ + at;
    const SnapshotTable e{load_le<std::uint16_t>(t, at + ef::kTable),
                          load_le<std::uint32_t>(t, at + ef::kRecordBytes),
                          load_le<std::uint64_t>(t, at + ef::kCount)};
    const std::string table = "table " + num(e.table);
    if (load_le<std::uint16_t>(t, at + ef::kReserved) != 0) {
      return corrupt(where, table + ": non-zero reserved bytes");
    }
    if (!tables_.empty() && e.table <= tables_.back().table) {
      return corrupt(where, table + " after table " + num(tables_.back().table) +
                                " (tables in increasing id order)");
    }
    if (e.table >= table_record_bytes_.size()) {
      return corrupt(where, "unknown " + table + ": the descriptor has " +
                                num(table_record_bytes_.size()) + " tables");
    }
    if (e.record_bytes != table_record_bytes_[e.table] || e.record_bytes == 0) {
      return corrupt(where, table + " has records of " + num(e.record_bytes) +
                                " bytes, the descriptor says " + num(table_record_bytes_[e.table]));
    }
    if (e.count == 0 || e.count > size / e.record_bytes) {
      return corrupt(where, table + ": impossible record count " + num(e.count));
    }
    body_bytes_ += e.count * e.record_bytes;  // no overflow: each term is below the file size
    records += e.count;
    tables_.push_back(e);
  }
  if (records != header_.state_hash.records) {
    return corrupt(trailer_offset_, "the tables hold " + num(records) +
                                        " records, the header's state hash counts " +
                                        num(header_.state_hash.records));
  }
  block_count_ = load_le<std::uint64_t>(t, tf::kBlockCount);
  if (block_count_ != blocks_for(body_bytes_)) {
    return corrupt(trailer_offset_ + tf::kBlockCount, "block count " + num(block_count_) +
                                                          ", but the counts need " +
                                                          num(blocks_for(body_bytes_)) + " blocks");
  }
  if (const std::uint64_t expected = trailer_offset_for(header_bytes_, body_bytes_);
      expected != trailer_offset_) {
    return corrupt(trailer_offset_, "the counts place the trailer at offset " + num(expected) +
                                        ": blocks missing or extra bytes before the trailer");
  }
  return {};
}

SnapshotStatus SnapshotReader::read(
    const std::function<void(const ClientRecord&)>& on_session,
    const std::function<void(std::uint16_t table, std::span<const std::byte> image)>& on_record) {
  StreamCursor cursor(*this, header_bytes_, on_session, on_record);
  const std::uint64_t body_end = trailer_offset_;
  std::vector<std::byte> buffer(
      std::min<std::uint64_t>(f::kReadChunkBlocks * f::kBlockBytes, body_end - header_bytes_));
  std::uint64_t pos = 0;  // stream position
  for (std::uint64_t first = 0; first < block_count_; first += f::kReadChunkBlocks) {
    const std::uint64_t offset = block_offset(first);
    const std::size_t length = static_cast<std::size_t>(
        std::min<std::uint64_t>(f::kReadChunkBlocks * f::kBlockBytes, body_end - offset));
    const std::span<std::byte> chunk(buffer.data(), length);
    if (SnapshotStatus s = read_exact(offset, chunk); !s.is_ok()) return s;
    for (std::uint64_t index = first; index < std::min(first + f::kReadChunkBlocks, block_count_);
         ++index) {
      const std::size_t at = static_cast<std::size_t>(index - first) * f::kBlockBytes;
      const std::uint64_t where = offset + at;
      const std::span<const std::byte> b = chunk.subspan(at);
      const std::uint64_t payload =
          index + 1 < block_count_ ? f::kBlockPayloadBytesMax : body_bytes_ - pos;
      LS_ASSERT(b.size() >= f::kBlockHeaderBytes + payload);  // open() checked the layout
      const std::string block = "block " + num(index);
      if (std::memcmp(b.data(), f::kBlockMagic.data(), f::kBlockMagic.size()) != 0) {
        return corrupt(where, block + ": bad magic");
      }
      if (const auto n = load_le<std::uint32_t>(b, bf::kPayloadBytes); n != payload) {
        return corrupt(where + bf::kPayloadBytes, block + ": payload of " + num(n) +
                                                      " bytes where " + num(payload) + " belong");
      }
      if (block_checksum(header_checksum_, b.data(), payload) !=
          load_le<std::uint64_t>(b, bf::kChecksum)) {
        return corrupt(where, block + " checksum mismatch");
      }
      if (const auto i = load_le<std::uint64_t>(b, bf::kBlockIndex); i != index) {
        return corrupt(where, "misplaced block: block " + num(i) + " where " + block + " belongs");
      }
      if (const auto o = load_le<std::uint64_t>(b, bf::kFileOffset); o != where) {
        return corrupt(where, "misplaced " + block + ": written at offset " + num(o));
      }
      if (SnapshotStatus s = cursor.consume(b.subspan(f::kBlockHeaderBytes, payload), pos);
          !s.is_ok()) {
        return s;
      }
      pos += payload;
    }
  }
  LS_ASSERT(pos == body_bytes_ && cursor.done());
  return {};
}

// ---- the directory -----------------------------------------------------------------------

SnapshotStatus list_snapshots(journal::IoBackend& io,
                              std::vector<std::pair<std::uint64_t, std::string>>* out) {
  out->clear();
  std::vector<std::string> names;
  if (journal::IoStatus s = io.list(&names); !s) return SnapshotStatus::io(s);
  for (std::string& name : names) {
    if (const std::optional<std::uint64_t> seq = parse_snapshot_file_name(name)) {
      out->emplace_back(*seq, std::move(name));
    }
  }
  std::sort(out->begin(), out->end());
  return {};
}

SnapshotStatus prune_snapshots(journal::IoBackend& io, std::size_t keep) {
  std::vector<std::string> names;
  if (journal::IoStatus s = io.list(&names); !s) return SnapshotStatus::io(s);
  std::vector<std::pair<std::uint64_t, std::string>> snapshots;
  std::vector<std::string> doomed;
  for (std::string& name : names) {
    const std::string_view n = name;
    if (const std::optional<std::uint64_t> seq = parse_snapshot_file_name(n)) {
      snapshots.emplace_back(*seq, std::move(name));
    } else if (n.ends_with(kSnapshotTempSuffix) &&
               parse_snapshot_file_name(n.substr(0, n.size() - kSnapshotTempSuffix.size()))) {
      doomed.push_back(std::move(name));
    }
  }
  std::sort(snapshots.begin(), snapshots.end());
  const std::size_t excess = snapshots.size() > keep ? snapshots.size() - keep : 0;
  for (std::size_t i = 0; i < excess; ++i) doomed.push_back(std::move(snapshots[i].second));
  for (const std::string& name : doomed) {
    if (journal::IoStatus s = io.remove(name); !s) return SnapshotStatus::io(s);
  }
  if (journal::IoStatus s = io.sync_directory(); !s) return SnapshotStatus::io(s);
  return {};
}

}  // namespace lockstep::snapshot
