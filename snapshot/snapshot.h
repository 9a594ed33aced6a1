// Snapshot files: a consistent image of an engine's state at a journal point, for a cold
// start without replaying the whole history (docs/snapshot-format.md is the format's
// specification; the constants in `snapshot_format` below are the one place its numbers
// live, shared by the writer and the reader).
//
// A snapshot is written under a temporary name, synced, closed, renamed to its final name
// and the directory synced: a crash at any point leaves either no new snapshot or a
// complete one, never a partial one under a snapshot's name. The writer streams: a
// snapshot of any size needs a few MiB of memory. The reader verifies everything it
// reads (checksums, places, counts, the descriptor) and names file, offset and what was
// wrong at the first problem.
//
// Errors are values (SnapshotStatus). Thread safety: a writer or reader is used by one
// thread at a time; each uses its IoBackend alone while it exists (the writer submits and
// reaps its own writes on it, so no other writes may be in flight on that backend).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/state_hash.h"
#include "journal/chain_hash.h"
#include "journal/format.h"
#include "journal/io_backend.h"
#include "schema/model.h"

namespace lockstep::snapshot {

// ---- The format's numbers (docs/snapshot-format.md) ------------------------------------
namespace snapshot_format {

inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::array<std::byte, 8> kMagic = {std::byte{'L'}, std::byte{'S'}, std::byte{'S'},
                                                    std::byte{'N'}, std::byte{'A'}, std::byte{'P'},
                                                    std::byte{0},   std::byte{0}};
inline constexpr std::array<std::byte, 4> kBlockMagic = {std::byte{'L'}, std::byte{'S'},
                                                         std::byte{'B'}, std::byte{'K'}};
inline constexpr std::array<std::byte, 4> kTrailerMagic = {std::byte{'L'}, std::byte{'S'},
                                                           std::byte{'T'}, std::byte{'R'}};

// Header: a fixed part, the descriptor, zeros up to a multiple of kHeaderAlignBytes.
inline constexpr std::size_t kHeaderFixedBytes = 128;
inline constexpr std::size_t kHeaderAlignBytes = 4096;
namespace header_field {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kFormatVersion = 8;
inline constexpr std::size_t kHeaderBytes = 12;
inline constexpr std::size_t kJournalFlags = 16;
inline constexpr std::size_t kDescriptorBytes = 20;
inline constexpr std::size_t kNextSequence = 24;
inline constexpr std::size_t kTxSequence = 32;
inline constexpr std::size_t kLastLogicalTimeNs = 40;
inline constexpr std::size_t kStateHashLo = 48;
inline constexpr std::size_t kStateHashHi = 56;
inline constexpr std::size_t kStateRecords = 64;
inline constexpr std::size_t kChainHash = 72;
inline constexpr std::size_t kBlockBytes = 104;
inline constexpr std::size_t kReserved = 108;  // 12 bytes of zeros
inline constexpr std::size_t kHeaderChecksum = 120;
}  // namespace header_field

// Body: blocks of kBlockBytes (the last one may be shorter), each a block header and a
// payload; the payloads together are one stream of sessions and records.
inline constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
inline constexpr std::size_t kBlockHeaderBytes = 32;
inline constexpr std::size_t kBlockPayloadBytesMax = kBlockBytes - kBlockHeaderBytes;
namespace block_field {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kPayloadBytes = 4;
inline constexpr std::size_t kBlockIndex = 8;
inline constexpr std::size_t kFileOffset = 16;
inline constexpr std::size_t kChecksum = 24;
}  // namespace block_field

// A session in the stream: client id, request id, sequence.
inline constexpr std::size_t kSessionBytes = 24;

// Trailer: a fixed part, one entry per table with records, its length and checksum.
inline constexpr std::size_t kTrailerFixedBytes = 32;
inline constexpr std::size_t kTrailerEntryBytes = 16;
inline constexpr std::size_t kTrailerEndBytes = 16;  // trailer_bytes, checksum
namespace trailer_field {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kTableCount = 4;
inline constexpr std::size_t kBlockCount = 8;
inline constexpr std::size_t kFileOffset = 16;
inline constexpr std::size_t kSessionCount = 24;
inline constexpr std::size_t kEntries = 32;
}  // namespace trailer_field
namespace entry_field {
inline constexpr std::size_t kTable = 0;
inline constexpr std::size_t kReserved = 2;
inline constexpr std::size_t kRecordBytes = 4;
inline constexpr std::size_t kCount = 8;
}  // namespace entry_field
inline constexpr std::size_t kTrailerBytesMin = kTrailerFixedBytes + kTrailerEndBytes;
inline constexpr std::size_t kTrailerBytesMax =
    kTrailerBytesMin + kTrailerEntryBytes * schema::kRecordsMax;

// Limits.
inline constexpr std::size_t kDescriptorBytesMax = journal::kDescriptorBytesMax;
inline constexpr std::size_t kRecordBytesMax = schema::kStructBytesMax;
// The writer submits this many blocks per write (double-buffered); the reader reads
// this many per read.
inline constexpr std::size_t kWriteChunkBlocks = 4;
inline constexpr std::size_t kReadChunkBlocks = 8;

static_assert(header_field::kChainHash + journal::kChainHashBytes == header_field::kBlockBytes);
static_assert(header_field::kReserved + 12 == header_field::kHeaderChecksum);
static_assert(header_field::kHeaderChecksum + 8 == kHeaderFixedBytes);
static_assert(kHeaderFixedBytes <= kHeaderAlignBytes);
static_assert(kBlockBytes % kHeaderAlignBytes == 0, "blocks start page-aligned");
static_assert(block_field::kChecksum + 8 == kBlockHeaderBytes);
static_assert(kBlockBytes <= UINT32_MAX, "block_bytes and payload_bytes are 32-bit fields");
static_assert(kRecordBytesMax <= kBlockPayloadBytesMax, "a record spans at most two blocks");
static_assert(kSessionBytes <= kBlockPayloadBytesMax);
static_assert(entry_field::kCount + 8 == kTrailerEntryBytes);
static_assert(trailer_field::kSessionCount + 8 == trailer_field::kEntries);
static_assert(trailer_field::kEntries == kTrailerFixedBytes);
static_assert(kDescriptorBytesMax <= UINT32_MAX, "descriptor_bytes is a 32-bit field");
static_assert(schema::kRecordsMax <= 65536, "table ids are 16-bit");

}  // namespace snapshot_format

// ---- File names ------------------------------------------------------------------------
inline constexpr std::string_view kSnapshotPrefix = "snapshot-";
inline constexpr std::string_view kSnapshotSuffix = ".lsnap";
// The suffix of a snapshot being written (never listed as a snapshot).
inline constexpr std::string_view kSnapshotTempSuffix = ".tmp";

// "snapshot-00000000000000001000.lsnap" for next_sequence 1000.
std::string snapshot_file_name(std::uint64_t next_sequence);
// The next_sequence a snapshot file name stands for; nothing unless the name has exactly
// that shape (20 digits). A temporary file ("....lsnap.tmp") is not a snapshot.
std::optional<std::uint64_t> parse_snapshot_file_name(std::string_view name);

// ---- Contents --------------------------------------------------------------------------
struct SnapshotHeader {
  // The image holds the effect of every journal entry below this.
  std::uint64_t next_sequence = 0;
  // Committed transactions among them.
  std::uint64_t tx_sequence = 0;
  // Logical time of entry next_sequence - 1 (0 if none).
  std::int64_t last_logical_time_ns = 0;
  // Of the image (lo, hi, records).
  StateHash state_hash;
  // The journal's chain hash after the frame whose last entry is next_sequence - 1 (zeros
  // when next_sequence == 0).
  journal::ChainHash chain{};
  // The journal segments' flags (chain kind), copied.
  std::uint32_t journal_flags = 0;
  // The domain's schema descriptor bytes (schema/descriptor.h).
  std::vector<std::byte> descriptor;
};

// One entry of the engine's retry table (runtime/client_table.h). In a snapshot, sessions
// are in strictly increasing client id order (so one state has one file), client id is
// never 0 (anonymous clients are not recorded) and sequence is below next_sequence.
struct ClientRecord {
  std::uint64_t client_id = 0;
  std::uint64_t request_id = 0;
  std::uint64_t sequence = 0;
};

// A table's entry in the trailer: how many records of which size it holds.
struct SnapshotTable {
  std::uint16_t table = 0;
  std::uint32_t record_bytes = 0;
  std::uint64_t count = 0;
};

// ---- Errors ----------------------------------------------------------------------------
enum class SnapshotError : std::uint8_t {
  kNone,     // ok (or an error built by hand, without a kind)
  kCorrupt,  // the file's bytes are not a valid snapshot: names file, offset and what
  kIo,       // an I/O call failed: `what` is the IoStatus message (operation, file, offset)
  kRefused,  // the writer was used against its contract (or the header is impossible)
};

struct [[nodiscard]] SnapshotStatus {  // errors are values
  bool ok = true;
  std::string file;
  std::uint64_t offset = 0;
  std::string what;
  SnapshotError error = SnapshotError::kNone;

  bool is_ok() const noexcept { return ok; }
  // "corrupt snapshot: snapshot-00000000000000001000.lsnap at offset 1048640: block 1
  // checksum mismatch"; "snapshot I/O: fdatasync of ... failed: ..."; "snapshot refused:
  // snapshot-....lsnap.tmp: record of 40 bytes where table 0 has 48"; "ok".
  std::string message() const;

  static SnapshotStatus corrupt(std::string_view file, std::uint64_t offset, std::string_view what);
  static SnapshotStatus io(const journal::IoStatus& status);
  static SnapshotStatus refused(std::string_view file, std::string_view what);
};

// ---- Writing ---------------------------------------------------------------------------
// Streams one snapshot to `snapshot_file_name(next_sequence) + ".tmp"` and, on finish(),
// renames it into place. Order of calls: begin, add_session*, (begin_table add_record*)*,
// finish. Any error (I/O, or a call against the contract below) is sticky: every later
// call returns the first error, and the snapshot is abandoned (the destructor removes the
// temporary file).
//
// Memory: two write buffers of kWriteChunkBlocks blocks, allocated in begin(); nothing per
// record. The writer owns its temporary file; `io` must outlive it and have no writes in
// flight from anyone else while it exists.
class SnapshotWriter {
 public:
  // Checks `h` (descriptor no larger than kDescriptorBytesMax and decodable; known journal
  // flags; tx_sequence <= next_sequence; with next_sequence 0: zero tx_sequence, logical
  // time and chain), creates snapshot_file_name(h.next_sequence) + ".tmp" in io's directory
  // (emptying a stale one) and writes the header. On error *out stays empty and the
  // temporary file is removed (best effort). REQUIRES: io.in_flight() == 0.
  static SnapshotStatus begin(journal::IoBackend& io, const SnapshotHeader& h,
                              std::unique_ptr<SnapshotWriter>* out);
  // REQUIRES (refused otherwise): before any begin_table; client ids strictly increasing and
  // not 0; sequence < next_sequence.
  SnapshotStatus add_session(const ClientRecord& s);
  // Starts the records of `table`. REQUIRES (refused otherwise): ids strictly increasing
  // (each table at most once; a table with no records may be skipped); the table exists in
  // the descriptor with records of `record_bytes`.
  SnapshotStatus begin_table(std::uint16_t table, std::uint32_t record_bytes);
  // Appends one record of the current table. REQUIRES (refused otherwise): a begin_table
  // before; image.size() == its record_bytes.
  SnapshotStatus add_record(std::span<const std::byte> image);
  // Writes the last block and the trailer, syncs the file, closes it, renames it to
  // snapshot_file_name(next_sequence) and syncs the directory: only then is it a snapshot
  // (replacing one of the same name). Refused if the records written are not
  // header.state_hash.records, or if called twice. After a failed rename the temporary file
  // is removed by the destructor; after a failed directory sync the renamed file stays (it
  // is complete, but its name may not be durable).
  SnapshotStatus finish();
  ~SnapshotWriter();

  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // The final and the temporary file names.
  const std::string& file_name() const noexcept { return name_; }
  const std::string& temp_file_name() const noexcept { return temp_name_; }

 private:
  enum class Phase : std::uint8_t { kSessions, kTables, kFinished, kFailed };

  SnapshotWriter(journal::IoBackend& io, const SnapshotHeader& h, std::vector<std::uint32_t> sizes);
  SnapshotStatus start();
  SnapshotStatus fail(SnapshotStatus status);
  SnapshotStatus refuse(std::string_view what);
  // Appends bytes to the stream, sealing and writing blocks as they fill.
  SnapshotStatus append(std::span<const std::byte> bytes);
  // Seals the current block (if it holds anything) and moves to the next.
  void seal_block();
  // Submits the current buffer's sealed blocks as one write; switches buffers.
  SnapshotStatus flush_buffer();
  SnapshotStatus wait_oldest_write();
  SnapshotStatus wait_all_writes();
  std::byte* block_start() noexcept;

  journal::IoBackend& io_;
  SnapshotHeader header_;
  std::vector<std::uint32_t> table_record_bytes_;  // by table id, from the descriptor
  std::string name_;
  std::string temp_name_;
  journal::FileHandle file_ = 0;
  bool file_open_ = false;
  bool temp_created_ = false;  // the temporary file is ours to remove
  bool renamed_ = false;
  Phase phase_ = Phase::kSessions;
  SnapshotStatus error_;
  std::uint64_t header_checksum_ = 0;  // the seed of every block's and the trailer's checksum
  std::uint64_t header_bytes_ = 0;

  std::uint64_t sessions_ = 0;
  std::uint64_t last_client_ = 0;
  int table_ = -1;  // the current table, -1 before the first
  std::uint32_t record_bytes_ = 0;
  std::vector<SnapshotTable> tables_;  // tables with records, for the trailer

  std::array<std::vector<std::byte>, 2> buffers_;
  std::size_t buffer_ = 0;         // the buffer being filled
  std::size_t buffer_blocks_ = 0;  // sealed blocks in it
  std::size_t buffer_used_ = 0;    // bytes of it the sealed blocks fill
  std::size_t block_fill_ = 0;     // payload bytes in its current block
  std::uint64_t block_index_ = 0;  // index of the current block in the file
  std::uint64_t buffer_first_block_ = 0;
  std::size_t writes_in_flight_ = 0;
  std::uint64_t file_end_ = 0;  // the end of the last block submitted
};

// ---- Reading ---------------------------------------------------------------------------
// Reads and verifies one snapshot file. The reader owns an open handle on it; `io` must
// outlive the reader.
class SnapshotReader {
 public:
  // Opens `name`, reads and verifies its header (magic, version, sizes, header checksum,
  // known flags, reserved bytes, the descriptor decodes, the name is this next_sequence's)
  // and its trailer (length, checksum, place at the end of the file, tables known to the
  // descriptor with its record sizes, in increasing order, counts adding up to
  // state_hash.records and to the file's size). On error *out stays empty.
  static SnapshotStatus open(journal::IoBackend& io, std::string_view name,
                             std::unique_ptr<SnapshotReader>* out);
  ~SnapshotReader();

  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  const SnapshotHeader& header() const noexcept { return header_; }
  // From the trailer (verified by open()): lets a caller size its tables before read().
  std::uint64_t session_count() const noexcept { return session_count_; }
  const std::vector<SnapshotTable>& tables() const noexcept { return tables_; }
  const std::string& file_name() const noexcept { return name_; }

  // Reads the body in chunks of kReadChunkBlocks blocks, verifying every block (magic,
  // index, file offset, payload length, checksum) before handing out anything in it, and
  // each session's order; calls on_session for each session, then on_record(table, image)
  // for each record, tables in increasing id order. `image` points into the reader's
  // buffer: valid only during the call. Stops at the first problem with an error naming
  // file, offset and what; what the callbacks received before it must then be discarded.
  // The state hash is not recomputed here (the caller that rebuilds the state does).
  // May be called again: each call reads the whole body.
  SnapshotStatus read(
      const std::function<void(const ClientRecord&)>& on_session,
      const std::function<void(std::uint16_t table, std::span<const std::byte> image)>& on_record);

 private:
  SnapshotReader(journal::IoBackend& io, std::string name, journal::FileHandle file);
  SnapshotStatus read_header();
  SnapshotStatus read_trailer();
  SnapshotStatus corrupt(std::uint64_t offset, std::string_view what) const;
  SnapshotStatus read_exact(std::uint64_t offset, std::span<std::byte> out);
  std::uint64_t block_offset(std::uint64_t index) const noexcept;

  journal::IoBackend& io_;
  std::string name_;
  journal::FileHandle file_;
  SnapshotHeader header_;
  std::vector<std::uint32_t> table_record_bytes_;  // by table id, from the descriptor
  std::uint64_t header_checksum_ = 0;
  std::uint64_t header_bytes_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t trailer_offset_ = 0;
  std::uint64_t block_count_ = 0;
  std::uint64_t body_bytes_ = 0;  // the stream's length: sessions and records
  std::uint64_t session_count_ = 0;
  std::vector<SnapshotTable> tables_;
};

// ---- The directory ---------------------------------------------------------------------
// The snapshots in io's directory, by next_sequence ascending (file names only; not
// verified; temporary files are not listed).
SnapshotStatus list_snapshots(journal::IoBackend& io,
                              std::vector<std::pair<std::uint64_t, std::string>>* out);
// Removes all but the newest `keep` snapshots, and every temporary snapshot file; then
// syncs the directory. REQUIRES: no SnapshotWriter is writing in this directory.
SnapshotStatus prune_snapshots(journal::IoBackend& io, std::size_t keep);

}  // namespace lockstep::snapshot
