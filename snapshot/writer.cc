#include "snapshot/snapshot.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"
#include "base/endian.h"
#include "snapshot/codec.h"

namespace lockstep::snapshot {

using namespace codec;

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

}  // namespace lockstep::snapshot
