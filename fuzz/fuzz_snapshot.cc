// The snapshot reader (snapshot/snapshot.h) on a MemoryDisk holding one file: the input.
//
// The file is named for the next_sequence its header field holds (read through the
// format's constants in snapshot_format, so a well-formed input passes the name check),
// or for 0 when the input is too short to hold it. Contracts checked:
// - SnapshotReader::open accepts or refuses with an error naming the file, never crashes,
//   and leaves *out empty on error;
// - read() of an opened snapshot stops at the first problem or hands out exactly what
//   the trailer announced: session_count() sessions in increasing client order, then
//   each table's records in the trailer's order, of its record size, state_hash.records
//   in all;
// - read() may be called again and gives the same result.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/assert.h"
#include "fuzz/fuzz_check.h"
#include "journal/memory_disk.h"
#include "snapshot/snapshot.h"

namespace {

using namespace lockstep;
using namespace lockstep::snapshot;

// What one read() handed out, in order.
struct Reading {
  SnapshotStatus status;
  std::uint64_t sessions = 0;
  std::vector<SnapshotTable> tables;               // table, record size, count, as the records came
  std::uint64_t digest = 14695981039346656037ull;  // FNV-1a of everything handed out

  void mix(std::span<const std::byte> bytes) {
    for (const std::byte b : bytes)
      digest = (digest ^ std::to_integer<std::uint8_t>(b)) * 1099511628211ull;
  }
};

Reading read_all(SnapshotReader& reader) {
  Reading r;
  std::uint64_t last_client = 0;
  r.status = reader.read(
      [&](const ClientRecord& s) {
        FUZZ_CHECK(r.tables.empty(), "a session after a record");
        FUZZ_CHECK(s.client_id != 0 && (r.sessions == 0 || s.client_id > last_client),
                   "session of client " + std::to_string(s.client_id) + " after client " +
                       std::to_string(last_client));
        last_client = s.client_id;
        ++r.sessions;
        r.mix(std::as_bytes(std::span(&s.client_id, 1)));
        r.mix(std::as_bytes(std::span(&s.request_id, 1)));
        r.mix(std::as_bytes(std::span(&s.sequence, 1)));
      },
      [&](std::uint16_t table, std::span<const std::byte> image) {
        if (r.tables.empty() || r.tables.back().table != table) {
          r.tables.push_back({table, static_cast<std::uint32_t>(image.size()), 0});
        }
        FUZZ_CHECK(image.size() == r.tables.back().record_bytes,
                   "records of two sizes in table " + std::to_string(table));
        ++r.tables.back().count;
        r.mix(image);
      });
  return r;
}

bool same_tables(const std::vector<SnapshotTable>& a, const std::vector<SnapshotTable>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].table != b[i].table || a[i].record_bytes != b[i].record_bytes ||
        a[i].count != b[i].count) {
      return false;
    }
  }
  return true;
}

void check_complete(const SnapshotReader& reader, const Reading& r) {
  FUZZ_CHECK(r.sessions == reader.session_count(), std::to_string(r.sessions) +
                                                       " sessions read, the trailer says " +
                                                       std::to_string(reader.session_count()));
  FUZZ_CHECK(same_tables(r.tables, reader.tables()),
             "the records read are not the tables the trailer announced");
  std::uint64_t records = 0;
  for (const SnapshotTable& t : r.tables) records += t.count;
  FUZZ_CHECK(records == reader.header().state_hash.records,
             std::to_string(records) + " records read, the header counts " +
                 std::to_string(reader.header().state_hash.records));
}

std::string file_name_for(std::span<const std::byte> bytes) {
  namespace hf = snapshot_format::header_field;
  std::uint64_t next_sequence = 0;
  if (bytes.size() >= hf::kNextSequence + 8) {
    for (int i = 0; i < 8; ++i) {
      next_sequence |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[hf::kNextSequence + i])}
                       << (8 * i);
    }
  }
  return snapshot_file_name(next_sequence);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const std::string name = file_name_for(bytes);
  journal::MemoryDisk disk;
  journal::FileHandle file = 0;
  LS_ASSERT(disk.open(name, {.create = true}, &file).is_ok());
  if (!bytes.empty()) LS_ASSERT(disk.write_and_sync(file, 0, bytes).is_ok());
  LS_ASSERT(disk.close(file).is_ok());

  std::unique_ptr<SnapshotReader> reader;
  const SnapshotStatus opened = SnapshotReader::open(disk, name, &reader);
  if (!opened.is_ok()) {
    FUZZ_CHECK(reader == nullptr, "open failed but handed out a reader");
    FUZZ_CHECK(opened.error != SnapshotError::kCorrupt || opened.file == name,
               "the error names " + opened.file + ", not " + name);
    (void)opened.message();
    return 0;
  }
  FUZZ_CHECK(reader != nullptr && reader->file_name() == name, "open succeeded without a reader");
  const Reading first = read_all(*reader);
  if (first.status.is_ok()) check_complete(*reader, first);
  const Reading second = read_all(*reader);
  FUZZ_CHECK(second.status.is_ok() == first.status.is_ok() &&
                 second.status.message() == first.status.message() &&
                 second.sessions == first.sessions && second.digest == first.digest &&
                 same_tables(second.tables, first.tables),
             "two reads differ: " + first.status.message() + " / " + second.status.message());
  return 0;
}
