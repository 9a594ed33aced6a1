#include "snapshot/snapshot.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "base/assert.h"
#include "base/endian.h"
#include "snapshot/codec.h"

namespace lockstep::snapshot {

using namespace codec;

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

}  // namespace lockstep::snapshot
