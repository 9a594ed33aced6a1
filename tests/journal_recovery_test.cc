// Issue 15's recovery campaign: no case ever makes recovery (the engine's open, or the
// tools' verify) accept fewer acknowledged commands than were acknowledged, no file is
// ever removed, and a pure crash is never refused as corruption (docs/journal-format.md,
// "Recovery: what a crash can leave, and what it cannot").
//
// Everything runs on journal::MemoryDisk, driving journal::JournalWriter directly the way
// the engine's journal stage does (Workload below): frames of 1..6 entries of varied
// length and content, polls, an idle marker whenever nothing is in flight and one is due,
// close() for a quiet journal. Four writes are kept in flight and the disk defers each
// fdatasync to reap(), so several frames really are in flight when a crash comes.
// "Acknowledged" is the highest durable_sequence() the writer reported after any call.
//
// Every random choice comes from one std::mt19937_64 whose seed is printed on failure;
// LOCKSTEP_SEED=n replays it. LOCKSTEP_STRESS_ITEMS (default 20000: the bit flips of each
// flip campaign) scales every campaign.
//
// Outcomes are counted per recovery (each flip or cut is recovered in two modes, on
// copies of the disk): refused, dropped as a torn tail (no acknowledged entry lost), or
// unaffected. The contract is strict: the tail recovery opens at is never below what was
// acknowledged, or recovery refuses. And stricter where the rules say so: a flip in a
// record recovery had read as whole that leaves as many blank (all-zero) sectors in it as
// it had when written is refused (rule 7, a record's blank_sectors), dense or not; in a
// quiet journal (closed cleanly) every flip in a record is refused.
//
// The writer makes a segment as NAME.lsj.tmp and renames it once its header is durable,
// so no crash leaves a file named like a segment with a bad header (checked after every
// crash); a file so named is refused by name in every mode, and a *.lsj.tmp is ignored.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/endian.h"
#include "journal/format.h"
#include "journal/frame.h"
#include "journal/journal_writer.h"
#include "journal/memory_disk.h"
#include "journal/recovery.h"
#include "journal/segment_header.h"

namespace lockstep::journal {
namespace {

// ---- seeds and scale ---------------------------------------------------------------------

constexpr std::uint64_t kStressItemsDefault = 20'000;

// Bit flips per flip campaign; every other count scales with it.
std::uint64_t stress_items() {
  if (const char* text = std::getenv("LOCKSTEP_STRESS_ITEMS"); text != nullptr && *text != '\0') {
    if (const long long items = std::atoll(text); items > 0)
      return static_cast<std::uint64_t>(items);
  }
  return kStressItemsDefault;
}

// `base` scaled by LOCKSTEP_STRESS_ITEMS / 20000, at least 1.
std::uint64_t scaled(std::uint64_t base) {
  return std::max<std::uint64_t>(1, base * stress_items() / kStressItemsDefault);
}

std::uint64_t campaign_seed() {
  if (const char* text = std::getenv("LOCKSTEP_SEED"); text != nullptr && *text != '\0') {
    return std::strtoull(text, nullptr, 0);
  }
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

std::string replay_note(std::uint64_t seed) {
  return "seed " + std::to_string(seed) + " (LOCKSTEP_SEED=" + std::to_string(seed) +
         " replays it)";
}

void record(const std::string& key, std::uint64_t value) {
  ::testing::Test::RecordProperty(key, std::to_string(value));
}

// ---- the journals under test -------------------------------------------------------------

constexpr std::size_t kWritesInFlight = 4;
constexpr std::size_t kFrameBytesMax = 4096;

std::vector<std::byte> bytes_of(std::string_view text) {
  std::vector<std::byte> out(text.size());
  if (!text.empty()) std::memcpy(out.data(), text.data(), text.size());  // never a null source
  return out;
}

// Small segments and frames (a roll every few frames), four writes in flight.
JournalOptions campaign_options(std::uint64_t segment_bytes,
                                std::vector<std::byte> descriptor = bytes_of("issue 15")) {
  JournalOptions o;
  o.segment_bytes = segment_bytes;
  o.frame_bytes_max = kFrameBytesMax;
  o.writes_in_flight = kWritesInFlight;
  o.descriptor = std::move(descriptor);
  return o;
}

// A disk whose fdatasyncs happen at reap(): frames stay in flight until then.
MemoryDisk fresh_disk() {
  MemoryDisk disk(kWritesInFlight);
  disk.defer_syncs(true);
  return disk;
}

// What was written: the entry of every sequence the writer was given, by sequence.
using Model = std::vector<std::string>;

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t r = rng();
    std::memcpy(s.data() + i, &r, std::min<std::size_t>(8, n - i));
  }
  return s;
}

// An entry of varied length and content. A sparse one holds 1024 or more zeros in a row,
// so a whole 512-byte sector of its frame is zeros: the frame is not dense.
std::string make_entry(std::mt19937_64& rng, bool sparse) {
  if (sparse) {
    std::string e = random_bytes(rng, 1 + rng() % 48);
    e.append(1024 + rng() % 400, '\0');
    e += random_bytes(rng, 1 + rng() % 48);
    return e;
  }
  switch (rng() % 4) {
    case 0: return random_bytes(rng, 1 + rng() % 16);
    case 1: {
      std::string e = "transfer " + std::to_string(rng() % 1'000'000) + " units=";
      e.append(rng() % 300, static_cast<char>('a' + rng() % 26));
      return e;
    }
    case 2: return random_bytes(rng, 17 + rng() % 200);
    default: return random_bytes(rng, 217 + rng() % 700);
  }
}

// Drives a JournalWriter as the engine's journal stage does: frames committed back to
// back (up to writes_in_flight in flight), polls now and then, going idle now and then,
// an idle marker whenever nothing is in flight and one is due, and close() at the end.
// Every choice comes from its own seeded generator, so the same seed makes the same
// calls, up to wherever a planned crash stops it.
class Workload {
 public:
  Workload(JournalWriter& writer, Model& model, std::uint64_t seed)
      : w_(writer), model_(model), rng_(seed) {
    (void)see(true);
  }

  // `frames` frames (the second-to-last one sparse, others now and then), then idle, then
  // close() if asked. Returns false at the first failure (a crash).
  bool run(int frames, bool close) {
    for (int f = 0; f < frames; ++f) {
      const bool sparse = f + 2 == frames || rng_() % 6 == 0;
      if (!commit_frame(sparse)) return false;
      switch (rng_() % 8) {
        case 0:
        case 1:
        case 2:
          if (!see(w_.poll(false).is_ok())) return false;
          break;
        case 3:
          if (!go_idle()) return false;
          break;
        default: break;  // more work came: the frame stays in flight
      }
      if (!marker_if_due()) return false;
    }
    if (!go_idle()) return false;
    return !close || see(w_.close().is_ok());
  }

  bool marker_if_due() {
    if (w_.in_flight() == 0 && w_.marker_due()) return see(w_.write_marker().is_ok());
    return true;
  }

  // The highest durable sequence the writer reported after any call.
  std::uint64_t acknowledged() const noexcept { return acknowledged_; }

 private:
  bool see(bool ok) noexcept {
    acknowledged_ = std::max(acknowledged_, w_.durable_sequence());
    return ok;
  }

  bool commit_frame(bool sparse) {
    const std::span<std::byte> payload = w_.begin_frame();
    (void)see(true);
    if (payload.empty()) return false;
    if (model_.size() != w_.next_sequence()) {
      ADD_FAILURE() << "the model holds " << model_.size() << " entries, the writer is at "
                    << w_.next_sequence();
      return false;
    }
    const std::uint64_t count = 1 + rng_() % 6;
    std::size_t used = 0;
    std::uint32_t entries = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::string e = make_entry(rng_, sparse && i == 0);
      if (used + kEntryLengthBytes + e.size() > payload.size()) break;
      used = append_entry(payload, used, {reinterpret_cast<const std::byte*>(e.data()), e.size()});
      model_.push_back(std::move(e));
      ++entries;
    }
    return see(w_.commit(static_cast<std::uint32_t>(used), entries).is_ok());
  }

  bool go_idle() {
    while (w_.in_flight() > 0) {
      if (!see(w_.poll(true).is_ok())) return false;
    }
    return marker_if_due();
  }

  JournalWriter& w_;
  Model& model_;
  std::mt19937_64 rng_;
  std::uint64_t acknowledged_ = 0;
};

enum class Stop : std::uint8_t {
  kNone,       // the workload runs to its close(): a quiet journal
  kPowerLoss,  // crash_keeping_sectors_at(at, crash_seed), then restarted()
  kKill,       // the process dies at system call `at`: killed(), every write made survives
};

struct Journal {
  MemoryDisk disk{kWritesInFlight};
  Model model;
  std::uint64_t acknowledged = 0;
  std::uint64_t io_calls = 0;  // system calls the writer made
  bool stopped = false;        // the writer failed (the crash came)
};

// Writes a journal with `seed`'s workload of `frames` frames from `tail`, stopped as asked.
Journal write_journal(const JournalOptions& options, std::uint64_t seed, int frames,
                      Stop stop = Stop::kNone, std::uint64_t at = 0, std::uint64_t crash_seed = 0,
                      const JournalTail& tail = {}) {
  MemoryDisk disk = fresh_disk();
  if (stop == Stop::kPowerLoss) disk.crash_keeping_sectors_at(at, crash_seed);
  if (stop == Stop::kKill) disk.crash_at(at, 0);
  Journal j;
  j.model.resize(tail.next_sequence);
  {
    JournalWriter w(disk, options, tail);
    Workload load(w, j.model, seed);
    j.stopped = !load.run(frames, true);
    j.acknowledged = load.acknowledged();
    j.io_calls = disk.io_count();
  }
  j.disk = stop == Stop::kKill ? disk.killed() : disk.restarted();
  j.disk.defer_syncs(true);
  return j;
}

std::vector<std::string> listing(MemoryDisk& disk) {
  std::vector<std::string> names;
  EXPECT_TRUE(disk.list(&names));
  return names;
}

std::map<std::string, std::vector<std::byte>> every_file(MemoryDisk& disk) {
  std::map<std::string, std::vector<std::byte>> files;
  for (const std::string& name : listing(disk)) files[name] = disk.contents(name);
  return files;
}

// ---- recovery, checked against the model --------------------------------------------------

struct Recovered {
  RecoveryStatus status;
  RecoveryReport report;
  bool entries_ok = true;  // every entry visited is the one written, in order, up to the tail
  std::string entry_error;
};

// Recovers, checking in the visitor that every entry is the one written for its sequence
// (from `first_sequence` on, none skipped), and that the tail follows the last visited.
Recovered recover_against(MemoryDisk& disk, RecoveryMode mode, const Model& model,
                          std::uint64_t first_sequence = 0) {
  Recovered r;
  std::uint64_t expected = first_sequence;
  const auto wrong = [&r](const std::string& what) {
    if (r.entries_ok) r.entry_error = what;
    r.entries_ok = false;
  };
  r.status = recover_journal(disk, mode, &r.report, [&](const DecodedFrame& frame) {
    EntryReader reader(frame.payload);
    for (std::uint64_t seq = frame.header.first_sequence; seq <= frame.header.last_sequence;
         ++seq) {
      const std::span<const std::byte> e = reader.next();
      if (seq != expected) {
        wrong("sequence " + std::to_string(seq) + " visited where " + std::to_string(expected) +
              " was expected");
      } else if (seq >= model.size() || std::string_view(reinterpret_cast<const char*>(e.data()),
                                                         e.size()) != model[seq]) {
        wrong("the entry of sequence " + std::to_string(seq) + " differs from what was written");
      }
      expected = seq + 1;
    }
  });
  if (r.status.is_ok() && r.report.tail.next_sequence != expected) {
    wrong("the tail is at " + std::to_string(r.report.tail.next_sequence) +
          ", the entries visited end before " + std::to_string(expected));
  }
  return r;
}

std::string describe(const Recovered& r) {
  if (!r.status.is_ok()) return "refused: " + r.status.message();
  std::string s = "opened at sequence " + std::to_string(r.report.tail.next_sequence);
  if (r.report.torn_tail) {
    s += ", torn tail at offset " + std::to_string(r.report.torn_offset) + ": " +
         r.report.torn_detail;
  }
  if (r.report.salvaged) s += ", salvaged: " + r.report.salvage_detail;
  return s;
}

// ---- the records on disk -----------------------------------------------------------------

struct Record {
  std::uint64_t offset = 0;
  FrameHeader header;
  bool intact = false;   // its checksum holds
  bool reached = false;  // intact, and so is every record from the segment's header to it
};

struct SegmentScan {
  std::string name;
  bool header_ok = false;
  std::size_t header_bytes = 0;
  std::uint64_t first_sequence = 0;
  std::size_t alignment = kFrameAlignBuffered;
  std::uint64_t data_end = 0;  // one past the last non-zero byte
  std::uint64_t size = 0;
  std::vector<Record> records;  // every well-placed record with a good header, in order
};

// Every segment file, and in each, every record whose header holds and says it belongs
// at its offset (found with decode_record_header, past torn ones too).
std::vector<SegmentScan> scan_journal(MemoryDisk& disk) {
  std::vector<SegmentScan> scans;
  for (const std::string& name : listing(disk)) {  // sorted: 20-digit names sort by sequence
    if (!parse_segment_file_name(name)) continue;
    const std::vector<std::byte> bytes = disk.contents(name);
    SegmentScan s;
    s.name = name;
    s.size = bytes.size();
    s.data_end = bytes.size();
    while (s.data_end > 0 && bytes[s.data_end - 1] == std::byte{0}) --s.data_end;
    const DecodedSegmentHeader d = decode_segment_header(bytes);
    s.header_ok = d.status == SegmentHeaderStatus::kOk;
    if (s.header_ok) {
      s.header_bytes = d.header_bytes;
      s.first_sequence = d.header.first_sequence;
      s.alignment = d.header.frame_alignment();
      const std::span<const std::byte> all(bytes);
      for (std::uint64_t q = s.header_bytes; q + kFrameHeaderBytes <= s.data_end;) {
        const DecodedFrame head = decode_record_header(all.subspan(q), s.alignment);
        if (head.status != FrameStatus::kOk || head.header.segment_offset != q ||
            head.header.segment_first_sequence != s.first_sequence ||
            q + head.header.frame_bytes > bytes.size()) {
          q += s.alignment;
          continue;
        }
        const std::span<const std::byte> rec = all.subspan(q, head.header.frame_bytes);
        const bool intact =
            load_le<std::uint64_t>(rec, frame_field::kChecksum) == frame_checksum(rec);
        const bool after_reached =
            s.records.empty()
                ? q == s.header_bytes
                : s.records.back().reached &&
                      s.records.back().offset + s.records.back().header.frame_bytes == q;
        s.records.push_back({q, head.header, intact, intact && after_reached});
        q += head.header.frame_bytes;
      }
    }
    scans.push_back(std::move(s));
  }
  return scans;
}

// The journal's segments and records, for failure messages.
std::string layout(MemoryDisk& disk) {
  std::string out;
  for (const SegmentScan& s : scan_journal(disk)) {
    out += "\n  " + s.name + " (" + std::to_string(s.size) + " bytes, data to " +
           std::to_string(s.data_end) + (s.header_ok ? "" : ", bad header") + "):";
    for (const Record& r : s.records) {
      const char* kind = r.header.kind == RecordKind::kEntries      ? "frame"
                         : r.header.kind == RecordKind::kIdleMarker ? "idle marker"
                                                                    : "closing marker";
      out += " [" + std::to_string(r.offset) + " " + kind + " seq " +
             std::to_string(r.header.first_sequence) + "+" + std::to_string(r.header.entry_count) +
             " durable<" + std::to_string(r.header.durable_through) + (r.intact ? "" : " torn") +
             "]";
    }
  }
  return out;
}

// The files named like segments whose header does not decode: a crash never leaves one
// (the writer names a segment only once its header is durable).
std::vector<std::string> segments_with_bad_headers(MemoryDisk& disk) {
  std::vector<std::string> bad;
  for (const SegmentScan& s : scan_journal(disk)) {
    if (!s.header_ok) bad.push_back(s.name);
  }
  return bad;
}

bool is_temporary(const std::string& name) {
  return name.size() > kSegmentTemporarySuffix.size() && name.ends_with(kSegmentTemporarySuffix) &&
         parse_segment_file_name(name.substr(0, name.size() - kSegmentTemporarySuffix.size()));
}

// The NAME.lsj.tmp files in the directory: a segment being made when the crash came.
std::uint64_t temporaries(MemoryDisk& disk) {
  std::uint64_t n = 0;
  for (const std::string& name : listing(disk)) n += is_temporary(name) ? 1 : 0;
  return n;
}

// The sequence after the last entry of the records recovery reads as good: every segment's
// reached records (an unflipped journal's recovery opens there).
std::uint64_t reached_tail(const std::vector<SegmentScan>& scans, std::uint64_t first) {
  std::uint64_t next = first;
  for (const SegmentScan& s : scans) {
    for (const Record& r : s.records) {
      if (r.reached && !r.header.is_marker()) next = r.header.last_sequence + 1;
    }
  }
  return next;
}

// The blank sectors of the record `rec` as found in `file` (its whole segment file).
std::uint16_t blank_sectors_found(const std::vector<std::byte>& file, const Record& rec) {
  const std::size_t pad_begin = kFrameHeaderBytes + rec.header.payload_bytes;
  return blank_sectors(std::span<const std::byte>(file).subspan(rec.offset, rec.header.frame_bytes),
                       rec.offset, pad_begin, pad_begin + rec.header.padding_bytes);
}

struct ByteRange {
  std::string segment;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// The journal's tail: from the third-to-last intact entry frame on, every byte of every
// record after it (entry frames and markers) and, after a crash, the torn bytes between
// and after them, up to the end of the data.
std::vector<ByteRange> tail_region(const std::vector<SegmentScan>& scans) {
  std::vector<std::pair<std::size_t, std::uint64_t>> frames;  // (segment, offset)
  for (std::size_t i = 0; i < scans.size(); ++i) {
    for (const Record& r : scans[i].records) {
      if (!r.header.is_marker() && r.intact) frames.emplace_back(i, r.offset);
    }
  }
  std::size_t first = scans.size();
  std::uint64_t start = 0;
  if (frames.size() >= 3) {
    std::tie(first, start) = frames[frames.size() - 3];
  } else {
    for (std::size_t i = 0; i < scans.size() && first == scans.size(); ++i) {
      if (scans[i].header_ok) first = i, start = scans[i].header_bytes;
    }
  }
  std::vector<ByteRange> region;
  for (std::size_t i = first; i < scans.size(); ++i) {
    const SegmentScan& s = scans[i];
    if (!s.header_ok) continue;
    std::uint64_t end = s.data_end;
    if (!s.records.empty()) {
      end = std::max(end, s.records.back().offset + s.records.back().header.frame_bytes);
    }
    const std::uint64_t begin = i == first ? start : s.header_bytes;
    if (end > begin) region.push_back({s.name, begin, end});
  }
  return region;
}

struct BitPosition {
  std::string segment;
  std::uint64_t offset = 0;
  int bit = 0;
};

// `want` distinct bit positions in `region`, uniformly (all of them if it has fewer).
std::vector<BitPosition> sample_bits(const std::vector<ByteRange>& region, std::uint64_t want,
                                     std::mt19937_64& rng) {
  std::uint64_t total = 0;
  for (const ByteRange& r : region) total += (r.end - r.begin) * 8;
  std::vector<std::uint64_t> picks;
  if (total <= want) {
    for (std::uint64_t b = 0; b < total; ++b) picks.push_back(b);
  } else {
    std::unordered_set<std::uint64_t> chosen;
    while (chosen.size() < want) chosen.insert(rng() % total);
    picks.assign(chosen.begin(), chosen.end());
    std::sort(picks.begin(), picks.end());
  }
  std::vector<BitPosition> out;
  for (std::uint64_t b : picks) {
    for (const ByteRange& r : region) {
      const std::uint64_t bits = (r.end - r.begin) * 8;
      if (b < bits) {
        out.push_back({r.segment, r.begin + b / 8, static_cast<int>(b % 8)});
        break;
      }
      b -= bits;
    }
  }
  return out;
}

const Record* record_at(const std::vector<SegmentScan>& scans, const std::string& segment,
                        std::uint64_t offset) {
  for (const SegmentScan& s : scans) {
    if (s.name != segment) continue;
    for (const Record& r : s.records) {
      if (offset >= r.offset && offset < r.offset + r.header.frame_bytes) return &r;
    }
  }
  return nullptr;
}

// ---- the flip campaign ---------------------------------------------------------------------

struct Tally {
  std::uint64_t journals = 0;
  std::uint64_t flips = 0;  // positions; each is recovered in two modes
  std::uint64_t in_entry_frames = 0;
  std::uint64_t in_sparse_frames = 0;  // entry frames that are not dense
  std::uint64_t in_markers = 0;
  std::uint64_t elsewhere = 0;  // torn bytes between or after records
  // Flips in records recovery read as good: leaving their blank sectors as written (rule 7:
  // to be refused), or changing them (a bit set in a blank sector, or a sector's only
  // set bit cleared: only the contract holds).
  std::uint64_t whole = 0;
  std::uint64_t whole_sparse = 0;  // ... of an entry frame that is not dense
  std::uint64_t blank_changed = 0;
  std::uint64_t blank_fewer = 0;  // ... fewer blank sectors than written: a bit set in one
  std::uint64_t refused = 0;      // recoveries
  std::uint64_t dropped = 0;
  std::uint64_t unaffected = 0;
  std::uint64_t blank_changed_refused = 0;  // recoveries of blank_changed flips
  std::uint64_t violations = 0;
  std::uint64_t violations_blank_fewer = 0;  // ... of flips with fewer blank sectors

  void note(const std::string& what, bool fewer) {
    ++violations;
    violations_blank_fewer += fewer ? 1 : 0;
    if (violations <= 5) ADD_FAILURE() << what;
  }

  void publish(const char* campaign, std::uint64_t seed) const {
    record("journals", journals);
    record("flips", flips);
    record("flips_in_entry_frames", in_entry_frames);
    record("flips_in_sparse_entry_frames", in_sparse_frames);
    record("flips_in_markers", in_markers);
    record("flips_elsewhere", elsewhere);
    record("flips_in_whole_records", whole);
    record("flips_in_whole_sparse_frames", whole_sparse);
    record("flips_changing_blank_sectors", blank_changed);
    record("flips_leaving_fewer_blank_sectors", blank_fewer);
    record("refused", refused);
    record("dropped_as_torn", dropped);
    record("unaffected", unaffected);
    record("violations", violations);
    record("violations_fewer_blank_sectors", violations_blank_fewer);
    std::printf(
        "[ campaign ] %s: %llu journals, %llu bit flips (%llu in entry frames, %llu of them not "
        "dense; %llu in markers; %llu in torn bytes; %llu in records read as whole that keep "
        "their blank sectors, %llu of them in frames not dense; %llu changing a record's blank "
        "sectors, %llu of them leaving fewer than written, %llu of whose recoveries refused), "
        "%llu recoveries: refused %llu, dropped as torn %llu, unaffected %llu, violations %llu "
        "(%llu of flips leaving fewer blank sectors than written); seed %llu\n",
        campaign, static_cast<unsigned long long>(journals), static_cast<unsigned long long>(flips),
        static_cast<unsigned long long>(in_entry_frames),
        static_cast<unsigned long long>(in_sparse_frames),
        static_cast<unsigned long long>(in_markers), static_cast<unsigned long long>(elsewhere),
        static_cast<unsigned long long>(whole), static_cast<unsigned long long>(whole_sparse),
        static_cast<unsigned long long>(blank_changed),
        static_cast<unsigned long long>(blank_fewer),
        static_cast<unsigned long long>(blank_changed_refused),
        static_cast<unsigned long long>(refused + dropped + unaffected + violations),
        static_cast<unsigned long long>(refused), static_cast<unsigned long long>(dropped),
        static_cast<unsigned long long>(unaffected), static_cast<unsigned long long>(violations),
        static_cast<unsigned long long>(violations_blank_fewer),
        static_cast<unsigned long long>(seed));
  }
};

// A journal and what its unflipped recovery found.
struct FlipSubject {
  const Journal& journal;
  bool quiet;  // closed cleanly: every record is followed by a closing marker that proves it
  std::vector<SegmentScan> scans;
  std::vector<std::string> names;
};

void check_flip(const FlipSubject& c, const BitPosition& p, Tally& t) {
  const Record* rec = record_at(c.scans, p.segment, p.offset);
  ++t.flips;
  if (rec == nullptr) {
    ++t.elsewhere;
  } else if (rec->header.is_marker()) {
    ++t.in_markers;
  } else {
    ++t.in_entry_frames;
    if (!rec->header.dense()) ++t.in_sparse_frames;
  }
  MemoryDisk flipped = c.journal.disk;
  flipped.flip_bit(p.segment, p.offset, p.bit);
  const std::map<std::string, std::vector<std::byte>> before = every_file(flipped);
  // Rule 7 applies: a record recovery read as good, as many blank sectors as written.
  bool whole = false;
  bool blank_changed = false;
  bool blank_fewer = false;
  if (rec != nullptr && rec->reached) {
    const std::uint16_t found = blank_sectors_found(before.at(p.segment), *rec);
    whole = found == rec->header.blank_sectors;
    blank_changed = !whole;
    blank_fewer = found < rec->header.blank_sectors;
    ++(whole ? t.whole : t.blank_changed);
    t.blank_fewer += blank_fewer ? 1 : 0;
    if (whole && !rec->header.is_marker() && !rec->header.dense()) ++t.whole_sparse;
  }
  const std::string last_segment = c.scans.empty() ? std::string() : c.scans.back().name;
  const std::uint64_t acknowledged = c.journal.acknowledged;
  for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
    MemoryDisk disk = flipped;
    const Recovered r = recover_against(disk, mode, c.journal.model);
    const std::map<std::string, std::vector<std::byte>> after = every_file(disk);
    std::string problem;
    bool others_changed = false;  // a file other than the last segment, or any in verify
    for (const auto& [name, bytes] : before) {
      const auto now = after.find(name);
      if (now == after.end()) continue;
      if ((mode == RecoveryMode::kVerifyOnly || name != last_segment) && now->second != bytes) {
        others_changed = true;
      }
    }
    if (listing(disk) != c.names) {
      problem = "a file was removed or added";
    } else if (!r.status.is_ok()) {
      ++t.refused;
      t.blank_changed_refused += blank_changed ? 1 : 0;
      if (after != before) problem = "refused, yet a file was changed";
    } else if (!r.entries_ok) {
      problem = r.entry_error;
    } else if (whole) {
      problem =
          "a flip in a record read as whole, its blank sectors as written, was not "
          "refused (rule 7)";
    } else if (c.quiet && rec != nullptr) {
      problem = "a flip in a record of a quiet journal was not refused";
    } else if (others_changed) {
      problem = mode == RecoveryMode::kVerifyOnly
                    ? "verify wrote"
                    : "a file other than the last segment was changed";
    } else if (r.report.tail.next_sequence >= acknowledged) {
      ++(r.report.torn_tail ? t.dropped : t.unaffected);
    } else {
      problem = "fewer entries than were acknowledged (" + std::to_string(acknowledged) + ")";
    }
    if (!problem.empty()) {
      std::string where = "not in a record";
      if (rec != nullptr) {
        const std::uint16_t found = blank_sectors_found(before.at(p.segment), *rec);
        where = (rec->header.is_marker() ? "marker" : "entry frame") + std::string(" at offset ") +
                std::to_string(rec->offset) + " of " + std::to_string(rec->header.frame_bytes) +
                " bytes, sequences " + std::to_string(rec->header.first_sequence) + ".." +
                std::to_string(rec->header.last_sequence) + ", durable<" +
                std::to_string(rec->header.durable_through) + ", blank sectors " +
                std::to_string(rec->header.blank_sectors) + " written, " + std::to_string(found) +
                " after the flip" +
                (rec->reached ? ", read as good before the flip" : ", not reached");
      }
      t.note(problem + "\n  flip: " + p.segment + " offset " + std::to_string(p.offset) + " bit " +
                 std::to_string(p.bit) + " (" + where + ")\n  mode: " +
                 (mode == RecoveryMode::kVerifyOnly ? "verify only" : "repair torn tail") +
                 "\n  recovery: " + describe(r) +
                 "\n  acknowledged: " + std::to_string(acknowledged) + ", written: " +
                 std::to_string(c.journal.model.size()) + "\n  layout:" + layout(flipped),
             blank_fewer);
    }
  }
}

// The unflipped journal's recoveries (a pure crash is never refused), then `want` flips.
void flip_campaign(const Journal& j, bool quiet, std::uint64_t want, std::mt19937_64& rng,
                   Tally& t) {
  FlipSubject c{j, quiet, {}, {}};
  MemoryDisk base = j.disk;
  c.scans = scan_journal(base);
  c.names = listing(base);
  ASSERT_EQ(segments_with_bad_headers(base), std::vector<std::string>{})
      << "a file named like a segment with a bad header" << layout(base);
  for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
    MemoryDisk disk = j.disk;
    const Recovered r = recover_against(disk, mode, j.model);
    ASSERT_TRUE(r.status.is_ok()) << "a crash was refused as corruption: " << describe(r);
    ASSERT_TRUE(r.entries_ok) << r.entry_error;
    ASSERT_GE(r.report.tail.next_sequence, j.acknowledged) << describe(r);
    ASSERT_EQ(r.report.tail.next_sequence, reached_tail(c.scans, 0))
        << "the records read as good end elsewhere: " << describe(r) << layout(base);
    ASSERT_EQ(listing(disk), c.names) << describe(r);
    if (quiet) {
      ASSERT_TRUE(r.report.closed_cleanly) << describe(r) << layout(base);
      ASSERT_FALSE(r.report.torn_tail) << describe(r);
    }
  }
  ++t.journals;
  for (const BitPosition& p : sample_bits(tail_region(c.scans), want, rng)) check_flip(c, p, t);
}

// ---- 1. bit flips in a quiet journal -------------------------------------------------------

// Quiet journals (run to their close()) until `want` flips are made, 2500 per journal.
TEST(RecoveryCampaign, EveryBitFlipInTheTailOfAQuietJournalIsRefusedOrLosesNoEntry) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed);
  constexpr std::uint64_t kPerJournal = 2500;
  const std::uint64_t want = stress_items();
  Tally t;
  for (std::uint64_t attempt = 0; t.flips < want && attempt < want; ++attempt) {
    const std::uint64_t segment_bytes = rng() % 2 == 0 ? 16384 : 32768;
    const int frames = 6 + static_cast<int>(rng() % 14);
    const Journal j = write_journal(campaign_options(segment_bytes), rng(), frames);
    ASSERT_FALSE(j.stopped);
    ASSERT_EQ(j.acknowledged, j.model.size());
    flip_campaign(j, true, std::min(kPerJournal, want - t.flips), rng, t);
    if (::testing::Test::HasFatalFailure()) return;
  }
  t.publish("quiet journals", seed);
  EXPECT_GE(t.flips, want);
  EXPECT_GT(t.in_sparse_frames, 0u) << "no flip hit a frame that is not dense";
  EXPECT_GT(t.whole_sparse, 0u) << "no flip hit a frame that is not dense, keeping its blanks";
  EXPECT_GT(t.blank_changed, 0u) << "no flip hit a blank sector";
  EXPECT_GT(t.in_markers, 0u);
  EXPECT_EQ(t.refused, 2 * t.flips) << "every flip in a quiet journal's records is refused";
  EXPECT_EQ(t.violations, 0u);
}

// ---- 2. bit flips in journals cut by a crash -------------------------------------------------

// Crashed journals (at a random system call of a random workload) until `want` flips are
// made, 250 per journal. A crash never leaves a file named like a segment with a bad
// header (only a NAME.lsj.tmp, after a kill while rolling), and is never refused.
void crash_campaign(Stop stop, const char* name) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed + static_cast<std::uint64_t>(stop));  // other workloads per stop
  const std::uint64_t want = stress_items();
  constexpr std::uint64_t kPerJournal = 250;
  Tally t;
  std::uint64_t crashes = 0;
  std::uint64_t torn = 0;
  std::uint64_t left_temporary = 0;
  for (std::uint64_t attempt = 0; t.flips < want && attempt < 10 * want; ++attempt) {
    const JournalOptions options = campaign_options(rng() % 2 == 0 ? 16384 : 32768);
    const std::uint64_t workload = rng();
    const int frames = 4 + static_cast<int>(rng() % 20);
    const std::uint64_t calls = write_journal(options, workload, frames).io_calls;
    const std::uint64_t at = 1 + rng() % calls;
    const std::uint64_t crash_seed = rng();
    SCOPED_TRACE("workload " + std::to_string(workload) + ", " + std::to_string(frames) +
                 " frames, stopped at system call " + std::to_string(at) + " of " +
                 std::to_string(calls) + ", crash seed " + std::to_string(crash_seed));
    const Journal j = write_journal(options, workload, frames, stop, at, crash_seed);
    ASSERT_TRUE(j.stopped);
    ++crashes;
    {
      MemoryDisk disk = j.disk;
      ASSERT_EQ(segments_with_bad_headers(disk), std::vector<std::string>{}) << layout(disk);
      left_temporary += temporaries(disk) > 0 ? 1 : 0;
      const Recovered r = recover_against(disk, RecoveryMode::kRepairTornTail, j.model);
      torn += r.report.torn_tail ? 1 : 0;
    }
    const std::uint64_t before = t.flips;
    flip_campaign(j, false, std::min(kPerJournal, want - t.flips), rng, t);
    if (::testing::Test::HasFatalFailure()) return;
    if (t.flips == before) --t.journals;  // nothing written yet to flip
  }
  record("crashes", crashes);
  record("crashes_with_torn_tail", torn);
  record("crashes_leaving_a_temporary", left_temporary);
  std::printf(
      "[ campaign ] %s: %llu crashes, %llu left a torn tail, %llu a segment being made (.tmp, "
      "ignored), none a segment-named file with a bad header\n",
      name, static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(torn),
      static_cast<unsigned long long>(left_temporary));
  t.publish(name, seed);
  EXPECT_GE(t.flips, want);
  EXPECT_GT(t.whole, 0u);
  EXPECT_EQ(t.violations, 0u);
}

TEST(RecoveryCampaign, AfterAPowerLossNothingAcknowledgedIsLostAndNoBitFlipLosesItSilently) {
  crash_campaign(Stop::kPowerLoss, "power loss");
}

TEST(RecoveryCampaign, AfterAProcessKillNothingAcknowledgedIsLostAndNoBitFlipLosesItSilently) {
  crash_campaign(Stop::kKill, "process kill");
}

// ---- 3. truncation -----------------------------------------------------------------------------

void truncate_file(MemoryDisk& disk, const std::string& name, std::uint64_t bytes) {
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(name, {}, &f));
  ASSERT_TRUE(disk.truncate(f, bytes));
  ASSERT_TRUE(disk.close(f));
}

// Cuts the last segment at every record boundary and at random offsets, inside its header
// too, and to nothing: every cut is refused in both modes, naming the file and saying it
// was truncated, every file left as it is (none removed); salvage then opens it (but for
// a journal of one segment whose header was cut: nothing is left to trust), sets aside
// rather than removes, and the result is clean. On a journal of one segment and on one of
// several.
TEST(RecoveryCampaign, ALastSegmentCutShortIsRefusedAsTruncatedAndLeftAsItIs) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed);
  struct Counts {
    std::uint64_t cuts = 0, refused = 0, accepted = 0, changed = 0;
  };
  std::map<std::string, Counts> counts;  // by journal and place of the cut
  std::uint64_t salvaged = 0;
  std::uint64_t salvage_refused = 0;
  std::uint64_t violations = 0;
  for (const std::uint64_t segment_bytes : {std::uint64_t{65536}, std::uint64_t{16384}}) {
    const Journal j =
        write_journal(campaign_options(segment_bytes), rng(), segment_bytes == 65536 ? 8 : 24);
    ASSERT_FALSE(j.stopped);
    MemoryDisk base = j.disk;
    const std::vector<SegmentScan> scans = scan_journal(base);
    ASSERT_FALSE(scans.empty());
    ASSERT_EQ(scans.size() > 1, segment_bytes == 16384);
    const SegmentScan& last = scans.back();
    std::vector<std::uint64_t> offsets;
    for (const Record& r : last.records) offsets.push_back(r.offset);
    if (!last.records.empty()) {
      offsets.push_back(last.records.back().offset + last.records.back().header.frame_bytes);
    }
    offsets.push_back(last.header_bytes);
    offsets.push_back(0);
    offsets.push_back(1);
    offsets.push_back(kSegmentHeaderFixedBytes - 1);
    offsets.push_back(kSegmentHeaderFixedBytes);
    offsets.push_back(last.header_bytes - 1);
    for (int i = 0; i < 20; ++i) offsets.push_back(1 + rng() % (last.header_bytes - 1));
    const std::uint64_t random_cuts = scaled(200);
    for (std::uint64_t i = 0; i < random_cuts; ++i) offsets.push_back(1 + rng() % (last.size - 1));
    for (const std::uint64_t cut : offsets) {
      SCOPED_TRACE(last.name + " cut to " + std::to_string(cut) + " bytes");
      Counts& c = counts[std::string(scans.size() == 1 ? "one segment" : "several segments") +
                         (cut == 0                  ? ", cut to nothing"
                          : cut < last.header_bytes ? ", cut inside the header"
                                                    : ", cut after the header")];
      ++c.cuts;
      for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
        MemoryDisk disk = j.disk;
        truncate_file(disk, last.name, cut);
        const std::map<std::string, std::vector<std::byte>> before = every_file(disk);
        const Recovered r = recover_against(disk, mode, j.model);
        if (every_file(disk) != before) {
          ++c.changed;
          ADD_FAILURE() << "a file was removed or changed: " << describe(r);
        }
        if (r.status.is_ok()) {
          ++c.accepted;
          if (++violations <= 5) {
            ADD_FAILURE() << "a truncated last segment was not refused ("
                          << (mode == RecoveryMode::kVerifyOnly ? "verify only" : "repair")
                          << "; acknowledged " << j.acknowledged << "): " << describe(r);
          }
          continue;
        }
        ++c.refused;
        EXPECT_EQ(r.status.error, RecoveryError::kBadSegment) << r.status.message();
        EXPECT_EQ(r.status.segment, last.name) << r.status.message();
        EXPECT_NE(r.status.message().find(last.name), std::string::npos) << r.status.message();
        EXPECT_NE(r.status.what.find("truncated"), std::string::npos) << r.status.message();
      }
      MemoryDisk salvage = j.disk;
      truncate_file(salvage, last.name, cut);
      const std::map<std::string, std::vector<std::byte>> before = every_file(salvage);
      const Recovered s = recover_against(salvage, RecoveryMode::kSalvage, j.model);
      if (scans.size() == 1 && cut < last.header_bytes && !s.status.is_ok()) {
        // The journal's first segment header is cut: nothing is left to trust, salvage too
        // refuses, naming it, and leaves it as it is.
        ++salvage_refused;
        EXPECT_EQ(s.status.segment, last.name) << describe(s);
        EXPECT_EQ(every_file(salvage), before);
        continue;
      }
      ASSERT_TRUE(s.status.is_ok()) << describe(s);
      EXPECT_TRUE(s.entries_ok) << s.entry_error;
      EXPECT_TRUE(s.report.salvaged) << describe(s);
      salvaged += s.report.salvaged ? 1 : 0;
      // Nothing removed: every file is there, or set aside under another name.
      const std::vector<std::string> now = listing(salvage);
      for (const auto& [name, bytes] : before) {
        EXPECT_TRUE(std::find(now.begin(), now.end(), name) != now.end() ||
                    std::find(now.begin(), now.end(), name + ".discarded") != now.end())
            << name << " was removed; " << describe(s);
      }
      const Recovered again = recover_against(salvage, RecoveryMode::kRepairTornTail, j.model);
      ASSERT_TRUE(again.status.is_ok()) << describe(again);
      EXPECT_TRUE(again.entries_ok) << again.entry_error;
      EXPECT_FALSE(again.report.torn_tail) << describe(again);
      EXPECT_FALSE(again.report.salvaged);
      EXPECT_EQ(again.report.tail.next_sequence, s.report.tail.next_sequence);
    }
  }
  std::uint64_t cuts = 0, refused = 0, accepted = 0, changed = 0;
  for (const auto& [where, c] : counts) {
    cuts += c.cuts, refused += c.refused, accepted += c.accepted, changed += c.changed;
    std::printf(
        "[ campaign ] truncation, %s: %llu cuts, recoveries refused %llu, accepted %llu, files "
        "removed or changed %llu\n",
        where.c_str(), static_cast<unsigned long long>(c.cuts),
        static_cast<unsigned long long>(c.refused), static_cast<unsigned long long>(c.accepted),
        static_cast<unsigned long long>(c.changed));
  }
  record("cuts", cuts);
  record("refused", refused);
  record("accepted", accepted);
  record("files_removed_or_changed", changed);
  record("salvaged", salvaged);
  record("salvage_refused", salvage_refused);
  std::printf(
      "[ campaign ] truncation: %llu cuts, recoveries refused %llu, accepted %llu, files removed "
      "or changed %llu; salvage cut %llu, refused %llu (the first segment's header cut); seed "
      "%llu\n",
      static_cast<unsigned long long>(cuts), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(changed),
      static_cast<unsigned long long>(salvaged), static_cast<unsigned long long>(salvage_refused),
      static_cast<unsigned long long>(seed));
  EXPECT_EQ(refused, 2 * cuts);
  EXPECT_EQ(changed, 0u);
}

// A last segment cut to nothing: a crash cannot leave it (a crash while rolling leaves
// only NAME.lsj.tmp; the writer names a segment once its header is durable), so it is
// refused by name in both modes, as truncated, and kept as it is.
TEST(RecoveryCampaign, ALastSegmentCutToNothingIsRefusedByNameAndKept) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed);
  const Journal j = write_journal(campaign_options(16384), rng(), 24);
  ASSERT_FALSE(j.stopped);
  MemoryDisk disk = j.disk;
  const std::vector<SegmentScan> scans = scan_journal(disk);
  ASSERT_GT(scans.size(), 1u);
  const std::string last = scans.back().name;
  truncate_file(disk, last, 0);
  const std::map<std::string, std::vector<std::byte>> before = every_file(disk);
  const Recovered verify = recover_against(disk, RecoveryMode::kVerifyOnly, j.model);
  const Recovered repair = recover_against(disk, RecoveryMode::kRepairTornTail, j.model);
  std::printf("[ campaign ] last segment cut to 0 bytes: verify %s; repair %s; acknowledged %llu\n",
              describe(verify).c_str(), describe(repair).c_str(),
              static_cast<unsigned long long>(j.acknowledged));
  for (const Recovered* r : {&verify, &repair}) {
    ASSERT_FALSE(r->status.is_ok()) << describe(*r);
    EXPECT_EQ(r->status.error, RecoveryError::kBadSegment) << describe(*r);
    EXPECT_EQ(r->status.segment, last) << describe(*r);
    EXPECT_NE(r->status.message().find(last), std::string::npos) << describe(*r);
    EXPECT_NE(r->status.what.find("truncated"), std::string::npos) << describe(*r);
  }
  EXPECT_EQ(every_file(disk), before);
  EXPECT_TRUE(disk.contents(last).empty());
}

// ---- 4. garbage ------------------------------------------------------------------------------

TEST(RecoveryCampaign, GarbageAfterTheLastRecordIsNeverAcceptedSilently) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed);
  const Journal j = write_journal(campaign_options(32768), rng(), 14);
  ASSERT_FALSE(j.stopped);
  MemoryDisk base = j.disk;
  const std::vector<SegmentScan> scans = scan_journal(base);
  const SegmentScan& last = scans.back();
  ASSERT_FALSE(last.records.empty());
  const std::uint64_t end = last.records.back().offset + last.records.back().header.frame_bytes;
  ASSERT_EQ(end, last.data_end);
  ASSERT_LT(end + 64, last.size);
  const std::vector<std::byte> original = base.contents(last.name);
  const std::vector<std::string> names = listing(base);
  struct Counts {
    std::uint64_t trials = 0, refused = 0, dropped = 0, silent = 0;
  };
  std::map<std::string, Counts> counts;
  const std::uint64_t trials = scaled(100);
  for (const char* where : {"just after the last record", "between the last record and the end",
                            "past the end of the file"}) {
    Counts& c = counts[where];
    for (std::uint64_t i = 0; i < trials; ++i) {
      const std::string kind(where);
      std::uint64_t at = 0;
      std::uint64_t length = 0;
      if (kind == "just after the last record") {
        at = end;
        length = 1 + rng() % 2000;
      } else if (kind == "between the last record and the end") {
        at = end + 1 + rng() % (last.size - end - 1);
        length = 1 + rng() % std::min<std::uint64_t>(600, last.size - at);
      } else {
        at = last.size;
        length = 1 + rng() % 4096;
      }
      std::string garbage = random_bytes(rng, length);
      garbage[0] = static_cast<char>(garbage[0] | 1);  // never all zeros
      SCOPED_TRACE(std::to_string(length) + " bytes of garbage " + kind + ", at offset " +
                   std::to_string(at));
      ++c.trials;
      for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
        MemoryDisk disk = j.disk;
        FileHandle f = 0;
        ASSERT_TRUE(disk.open(last.name, {}, &f));
        ASSERT_TRUE(disk.write_and_sync(f, at, bytes_of(garbage)));
        ASSERT_TRUE(disk.close(f));
        const std::vector<std::byte> before = disk.contents(last.name);
        const Recovered r = recover_against(disk, mode, j.model);
        EXPECT_EQ(listing(disk), names);
        if (!r.status.is_ok()) {
          ++c.refused;
          EXPECT_EQ(r.status.segment, last.name) << r.status.message();
          EXPECT_EQ(disk.contents(last.name), before) << "refused, yet the file was changed";
          continue;
        }
        EXPECT_TRUE(r.entries_ok) << r.entry_error;
        EXPECT_EQ(r.report.tail.next_sequence, j.model.size()) << describe(r);
        if (!r.report.torn_tail) {
          ++c.silent;
          ADD_FAILURE() << "garbage accepted silently: " << describe(r);
          continue;
        }
        ++c.dropped;
        if (mode == RecoveryMode::kRepairTornTail) {
          EXPECT_EQ(disk.contents(last.name), original) << "the garbage was not dropped";
        } else {
          EXPECT_EQ(disk.contents(last.name), before) << "verify wrote";
        }
      }
    }
    std::printf(
        "[ campaign ] garbage %s: %llu trials, recoveries refused %llu, dropped as torn %llu, "
        "accepted silently %llu; seed %llu\n",
        where, static_cast<unsigned long long>(c.trials),
        static_cast<unsigned long long>(c.refused), static_cast<unsigned long long>(c.dropped),
        static_cast<unsigned long long>(c.silent), static_cast<unsigned long long>(seed));
  }
  std::uint64_t refused = 0, dropped = 0, silent = 0, all = 0;
  for (const auto& [where, c] : counts) {
    all += c.trials, refused += c.refused, dropped += c.dropped, silent += c.silent;
  }
  record("trials", all);
  record("refused", refused);
  record("dropped_as_torn", dropped);
  record("unaffected", silent);
  // Past the end, the file is longer than the segment: always refused.
  EXPECT_EQ(counts["past the end of the file"].refused, 2 * trials);
}

// ---- 5. stray files --------------------------------------------------------------------------

// A quiet journal that starts at sequence 1000 (as after archiving), in several segments,
// with a descriptor that spans several sectors of a segment header.
class StrayFiles : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kFirstSequence = 1000;

  void SetUp() override {
    SCOPED_TRACE(replay_note(seed));
    record("seed", seed);
    std::vector<std::byte> descriptor(2000);
    for (std::size_t i = 0; i < descriptor.size(); ++i) {
      descriptor[i] = static_cast<std::byte>('a' + i % 26);
    }
    options = campaign_options(16384, descriptor);
    JournalTail start;
    start.next_sequence = kFirstSequence;
    const std::uint64_t workload = rng();
    for (int frames = 24; names.size() < 3; frames += 8) {
      journal = write_journal(options, workload, frames, Stop::kNone, 0, 0, start);
      ASSERT_FALSE(journal.stopped);
      names = listing(journal.disk);
    }
    files = every_file(journal.disk);
    const Recovered r = recover(journal.disk, RecoveryMode::kVerifyOnly);
    ASSERT_TRUE(r.status.is_ok()) << describe(r);
    ASSERT_TRUE(r.report.closed_cleanly);
    tail = r.report.tail;
    ASSERT_EQ(tail.next_sequence, journal.model.size());
  }

  Recovered recover(MemoryDisk& disk, RecoveryMode mode) {
    return recover_against(disk, mode, journal.model, kFirstSequence);
  }

  static void put(MemoryDisk& disk, const std::string& name, const std::vector<std::byte>& bytes,
                  std::uint64_t size) {
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(name, {.create = true}, &f));
    if (size > 0) {
      ASSERT_TRUE(disk.allocate(f, size));
    }
    ASSERT_TRUE(disk.write_and_sync(f, 0, bytes));
    ASSERT_TRUE(disk.close(f));
    ASSERT_TRUE(disk.sync_directory());
  }

  // The header the writer would write for the journal's next segment.
  std::vector<std::byte> next_header() const {
    SegmentHeader h;
    h.flags = options.segment_flags();
    h.segment_index = tail.segment_index + 1;
    h.first_sequence = tail.next_sequence;
    h.segment_bytes = options.segment_bytes;
    h.writes_in_flight = static_cast<std::uint32_t>(options.writes_in_flight);
    h.frame_bytes_max = static_cast<std::uint32_t>(options.frame_bytes_max);
    h.prev_chain_hash = tail.chain;
    h.descriptor = options.descriptor;
    std::vector<std::byte> header(segment_header_bytes(h.descriptor.size()));
    EXPECT_EQ(encode_segment_header(h, header), header.size());
    return header;
  }

  // Which of the next header's sectors reached the disk in trial `i`, as a bit mask: the
  // first trial none, the others some, never every one that holds a non-zero byte.
  std::uint64_t partial_mask(std::uint64_t i) {
    const std::vector<std::byte> header = next_header();
    const std::size_t sectors = header.size() / kSectorBytes;
    EXPECT_GE(sectors, 4u) << "the header should span several sectors";
    std::uint64_t written = 0;  // the sectors holding a non-zero byte
    for (std::size_t s = 0; s < sectors; ++s) {
      const auto sector =
          std::span<const std::byte>(header).subspan(s * kSectorBytes, kSectorBytes);
      if (std::any_of(sector.begin(), sector.end(), [](std::byte b) { return b != std::byte{0}; }))
        written |= std::uint64_t{1} << s;
    }
    EXPECT_GE(std::popcount(written), 4) << "the header should span several sectors";
    std::uint64_t kept = 0;
    if (i > 0) {
      do kept = rng() & ((std::uint64_t{1} << sectors) - 1);
      while ((kept & written) == written);
    }
    return kept;
  }

  // The next header with only the sectors in `kept` written (the others zeros).
  std::vector<std::byte> partial_header(std::uint64_t kept) const {
    const std::vector<std::byte> header = next_header();
    std::vector<std::byte> partial(header.size(), std::byte{0});
    for (std::size_t s = 0; s < header.size() / kSectorBytes; ++s) {
      if ((kept >> s) & 1) {
        std::copy_n(header.begin() + static_cast<std::ptrdiff_t>(s * kSectorBytes), kSectorBytes,
                    partial.begin() + static_cast<std::ptrdiff_t>(s * kSectorBytes));
      }
    }
    return partial;
  }

  const std::uint64_t seed = campaign_seed();
  std::mt19937_64 rng{seed};
  JournalOptions options;
  Journal journal;
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::byte>> files;
  JournalTail tail;
};

TEST_F(StrayFiles, FilesNamedLikeSegmentsThatAreNotTheJournalsAreRefusedByNameAndNeverRemoved) {
  SCOPED_TRACE(replay_note(seed));
  const std::uint64_t second = *parse_segment_file_name(names[1]);
  ASSERT_GT(*parse_segment_file_name(names[2]), second + 1);
  const std::vector<std::pair<std::string, std::uint64_t>> places = {
      {"before the first segment", kFirstSequence / 2},
      {"between two segments", second + 1},
      {"at the journal's next sequence", tail.next_sequence},
      {"far after the journal's end", 99999},
  };
  std::uint64_t trials = 0, refused = 0, salvaged = 0;
  const std::uint64_t per_place = scaled(10);
  for (const auto& [place, sequence] : places) {
    const std::string stray = segment_file_name(sequence);
    ASSERT_LT(tail.next_sequence, 99999u);
    for (std::uint64_t i = 0; i <= per_place; ++i) {
      // The first is an empty file, wherever it is named: at the journal's next sequence
      // too (a crash while rolling leaves only NAME.lsj.tmp: the last tests of this suite).
      const bool empty = i == 0;
      std::string content = empty ? std::string() : random_bytes(rng, 1 + rng() % 40000);
      if (!empty) content[0] = static_cast<char>(content[0] | 1);  // not a zero sector
      SCOPED_TRACE(std::string(empty ? "an empty file" : "random bytes") + " named " + stray +
                   ", " + place);
      for (const RecoveryMode mode :
           {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail, RecoveryMode::kSalvage}) {
        MemoryDisk disk = journal.disk;
        put(disk, stray, bytes_of(content), 0);
        ++trials;
        const Recovered r = recover(disk, mode);
        // Every file is still there with its bytes: under its name, or (salvage only)
        // renamed aside as NAME.discarded.
        std::map<std::string, std::vector<std::byte>> expected = files;
        expected[stray] = bytes_of(content);
        const std::map<std::string, std::vector<std::byte>> now = every_file(disk);
        for (const auto& [name, bytes] : expected) {
          const auto same = now.find(name);
          const auto aside = now.find(name + ".discarded");
          const bool kept = same != now.end() && same->second == bytes;
          const bool set_aside =
              mode == RecoveryMode::kSalvage && aside != now.end() && aside->second == bytes;
          EXPECT_TRUE(kept || set_aside) << name << " was removed or changed; " << describe(r);
        }
        if (mode == RecoveryMode::kSalvage) {
          EXPECT_TRUE(r.entries_ok) << r.entry_error;
          salvaged += r.status.is_ok() ? 1 : 0;
          continue;
        }
        EXPECT_EQ(now.size(), expected.size());
        if (r.status.is_ok()) {
          ADD_FAILURE() << "a stray file was not refused: " << describe(r);
          continue;
        }
        ++refused;
        EXPECT_EQ(r.status.error, RecoveryError::kBadSegment) << r.status.message();
        EXPECT_EQ(r.status.segment, stray) << r.status.message();
        EXPECT_NE(r.status.message().find(stray), std::string::npos) << r.status.message();
      }
    }
  }
  record("trials", trials);
  record("refused", refused);
  record("salvaged", salvaged);
  std::printf(
      "[ campaign ] stray files: %llu recoveries, verify and repair refused %llu, salvage opened "
      "%llu (strays set aside, none removed); seed %llu\n",
      static_cast<unsigned long long>(trials), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(salvaged), static_cast<unsigned long long>(seed));
  EXPECT_EQ(refused, 2 * trials / 3) << "verify and repair refuse every stray";
}

TEST_F(StrayFiles, AFileWhoseNameIsNotASegmentsIsIgnored) {
  SCOPED_TRACE(replay_note(seed));
  for (const std::string& name :
       {std::string("notes.txt"), names.back() + ".bak", std::string("0000000000000000001.lsj"),
        segment_file_name(0) + ".discarded", names.back() + std::string(kSegmentTemporarySuffix),
        segment_file_name(tail.next_sequence) + std::string(kSegmentTemporarySuffix)}) {
    SCOPED_TRACE(name);
    const std::vector<std::byte> content = bytes_of(random_bytes(rng, 1 + rng() % 20000));
    for (const RecoveryMode mode :
         {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail, RecoveryMode::kSalvage}) {
      MemoryDisk disk = journal.disk;
      put(disk, name, content, 0);
      const Recovered r = recover(disk, mode);
      ASSERT_TRUE(r.status.is_ok()) << describe(r);
      EXPECT_TRUE(r.entries_ok) << r.entry_error;
      EXPECT_TRUE(r.report.closed_cleanly);
      EXPECT_FALSE(r.report.torn_tail);
      EXPECT_FALSE(r.report.salvaged);
      EXPECT_EQ(r.report.tail.next_sequence, tail.next_sequence);
      EXPECT_EQ(disk.contents(name), content);
      std::map<std::string, std::vector<std::byte>> expected = files;
      expected[name] = content;
      EXPECT_EQ(every_file(disk), expected);
    }
  }
}

TEST_F(StrayFiles, APartialHeaderAtTheJournalsNextSequenceIsRefusedAndKeptInEveryMode) {
  SCOPED_TRACE(replay_note(seed));
  // The header the writer would write for the next segment, some of its sectors: a crash
  // cannot leave this under a segment's name (it leaves only NAME.lsj.tmp), so it is
  // refused by name, and salvage sets it aside, never removes it.
  const std::string name = segment_file_name(tail.next_sequence);
  const std::uint64_t trials = scaled(30);
  std::uint64_t refused = 0, set_aside = 0;
  for (std::uint64_t i = 0; i < trials; ++i) {
    const std::uint64_t kept = partial_mask(i);
    SCOPED_TRACE("sectors kept (bit mask): " + std::to_string(kept));
    MemoryDisk base = journal.disk;
    put(base, name, partial_header(kept), options.segment_bytes);
    const std::map<std::string, std::vector<std::byte>> before = every_file(base);
    for (const RecoveryMode mode :
         {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail, RecoveryMode::kSalvageDryRun}) {
      MemoryDisk disk = base;
      const Recovered r = recover(disk, mode);
      EXPECT_EQ(every_file(disk), before) << describe(r);
      if (mode == RecoveryMode::kSalvageDryRun) {
        ASSERT_TRUE(r.status.is_ok()) << describe(r);
        EXPECT_TRUE(r.report.salvaged) << describe(r);
        EXPECT_EQ(r.report.discarded, std::vector<std::string>{name + ".discarded"});
        continue;
      }
      ASSERT_FALSE(r.status.is_ok()) << describe(r);
      ++refused;
      EXPECT_EQ(r.status.error, RecoveryError::kBadSegment) << r.status.message();
      EXPECT_EQ(r.status.segment, name) << r.status.message();
      EXPECT_NE(r.status.message().find(name), std::string::npos) << r.status.message();
    }
    MemoryDisk disk = base;
    const Recovered salvage = recover(disk, RecoveryMode::kSalvage);
    ASSERT_TRUE(salvage.status.is_ok()) << describe(salvage);
    EXPECT_TRUE(salvage.entries_ok) << salvage.entry_error;
    EXPECT_TRUE(salvage.report.salvaged);
    EXPECT_EQ(salvage.report.tail.next_sequence, tail.next_sequence);
    std::map<std::string, std::vector<std::byte>> expected = files;
    expected[name + ".discarded"] = before.at(name);
    EXPECT_EQ(every_file(disk), expected) << describe(salvage);
    set_aside += every_file(disk) == expected ? 1 : 0;
    const Recovered again = recover(disk, RecoveryMode::kRepairTornTail);
    ASSERT_TRUE(again.status.is_ok()) << describe(again);
    EXPECT_FALSE(again.report.torn_tail);
    EXPECT_FALSE(again.report.salvaged);
    EXPECT_EQ(again.report.tail.next_sequence, tail.next_sequence);
  }
  record("trials", trials);
  record("refused", refused);
  record("set_aside_by_salvage", set_aside);
  std::printf(
      "[ campaign ] partial header named as the next segment: %llu trials, verify and repair "
      "refused %llu of %llu, salvage set it aside %llu times; seed %llu\n",
      static_cast<unsigned long long>(trials), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(2 * trials), static_cast<unsigned long long>(set_aside),
      static_cast<unsigned long long>(seed));
}

TEST_F(StrayFiles, APartialHeaderInTheNextSegmentsTemporaryIsIgnoredAndReplacedByTheWriter) {
  SCOPED_TRACE(replay_note(seed));
  // What a crash while rolling leaves: NAME.lsj.tmp, preallocated, some sectors of its
  // header written. Not a segment: recovery ignores it in every mode; a writer resuming
  // from the tail that rolls to that name starts it from nothing and renames it.
  const std::string name = segment_file_name(tail.next_sequence);
  const std::string temporary = name + std::string(kSegmentTemporarySuffix);
  // Options that differ in segment size: the resumed writer's first frame goes to a new
  // segment (JournalWriter: kept for markers only), named with the tail's next sequence.
  JournalOptions resumed = options;
  resumed.segment_bytes = 2 * options.segment_bytes;
  const std::uint64_t trials = scaled(30);
  std::uint64_t ignored = 0, replaced = 0;
  for (std::uint64_t i = 0; i < trials; ++i) {
    const std::uint64_t kept = partial_mask(i);
    SCOPED_TRACE("sectors kept (bit mask): " + std::to_string(kept));
    MemoryDisk base = journal.disk;
    // Half of them as long as the writer makes them; the others cut where the header ends.
    const std::vector<std::byte> partial = partial_header(kept);
    put(base, temporary, partial, i % 2 == 0 ? options.segment_bytes : 0);
    const std::map<std::string, std::vector<std::byte>> before = every_file(base);
    for (const RecoveryMode mode :
         {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail, RecoveryMode::kSalvage}) {
      MemoryDisk disk = base;
      const Recovered r = recover(disk, mode);
      ASSERT_TRUE(r.status.is_ok()) << describe(r);
      EXPECT_TRUE(r.entries_ok) << r.entry_error;
      EXPECT_TRUE(r.report.closed_cleanly);
      EXPECT_FALSE(r.report.torn_tail);
      EXPECT_FALSE(r.report.salvaged);
      EXPECT_EQ(r.report.tail.next_sequence, tail.next_sequence);
      EXPECT_EQ(every_file(disk), before) << describe(r);
      ++ignored;
    }
    MemoryDisk disk = base;
    const Recovered r = recover(disk, RecoveryMode::kRepairTornTail);
    ASSERT_TRUE(r.status.is_ok()) << describe(r);
    Model model = journal.model;
    std::uint64_t written = 0;
    {
      JournalWriter w(disk, resumed, r.report.tail);
      ASSERT_TRUE(w.failure().is_ok()) << w.failure().message();
      Workload load(w, model, rng());
      ASSERT_TRUE(load.run(4, true)) << w.failure().message();
      written = w.next_sequence();
    }
    ASSERT_GT(written, tail.next_sequence);
    const std::vector<std::string> now = listing(disk);
    EXPECT_EQ(std::count(now.begin(), now.end(), temporary), 0) << "the temporary was kept";
    ASSERT_NE(std::find(now.begin(), now.end(), name), now.end()) << "the writer did not roll";
    const std::vector<std::byte> made = disk.contents(name);
    EXPECT_EQ(made.size(), resumed.segment_bytes);
    const DecodedSegmentHeader d = decode_segment_header(made);
    ASSERT_EQ(d.status, SegmentHeaderStatus::kOk) << describe(d);
    EXPECT_EQ(d.header.first_sequence, tail.next_sequence);
    EXPECT_EQ(segments_with_bad_headers(disk), std::vector<std::string>{});
    const Recovered again = recover_against(disk, RecoveryMode::kVerifyOnly, model, kFirstSequence);
    ASSERT_TRUE(again.status.is_ok()) << describe(again);
    EXPECT_TRUE(again.entries_ok) << again.entry_error;
    EXPECT_TRUE(again.report.closed_cleanly);
    EXPECT_FALSE(again.report.torn_tail);
    EXPECT_EQ(again.report.tail.next_sequence, written);
    replaced += again.status.is_ok() && again.report.closed_cleanly &&
                        std::count(now.begin(), now.end(), temporary) == 0
                    ? 1
                    : 0;
  }
  record("trials", trials);
  record("ignored", ignored);
  record("replaced", replaced);
  std::printf(
      "[ campaign ] partial header in the next segment's temporary: %llu trials, %llu recoveries "
      "ignored it, the resumed writer replaced it %llu times and the journal recovered clean; "
      "seed %llu\n",
      static_cast<unsigned long long>(trials), static_cast<unsigned long long>(ignored),
      static_cast<unsigned long long>(replaced), static_cast<unsigned long long>(seed));
}

// ---- 6. every crash point with writes in flight ----------------------------------------------

TEST(RecoveryCampaign, EveryCrashPointWithWritesInFlightKeepsEverythingAcknowledgedAndResumes) {
  const std::uint64_t seed = campaign_seed();
  SCOPED_TRACE(replay_note(seed));
  record("seed", seed);
  std::mt19937_64 rng(seed);
  const JournalOptions options = campaign_options(16384);
  const std::uint64_t workload = rng();
  constexpr int kFrames = 18;
  std::uint64_t calls = 0;
  {
    const Journal clean = write_journal(options, workload, kFrames);
    ASSERT_FALSE(clean.stopped);
    calls = clean.io_calls;
    MemoryDisk disk = clean.disk;
    const std::vector<SegmentScan> scans = scan_journal(disk);
    ASSERT_GE(scans.size(), 2u) << "the workload should roll a segment";
    std::uint64_t markers = 0;
    for (const SegmentScan& s : scans) {
      for (const Record& r : s.records) markers += r.header.is_marker() ? 1 : 0;
    }
    ASSERT_GE(markers, 2u) << "the workload should write idle markers";
  }
  const std::uint64_t seeds = std::max<std::uint64_t>(3, scaled(3));
  std::uint64_t crashes = 0, torn = 0, left_temporary = 0, lost_unacknowledged = 0;
  std::uint64_t closed = 0;  // resumed and closed: recovered as closed cleanly
  for (std::uint64_t at = 1; at <= calls; ++at) {
    for (std::uint64_t k = 0; k < seeds; ++k) {
      const std::uint64_t crash_seed = rng();
      SCOPED_TRACE("crash at system call " + std::to_string(at) + " of " + std::to_string(calls) +
                   ", crash seed " + std::to_string(crash_seed) + ", workload " +
                   std::to_string(workload));
      Journal j = write_journal(options, workload, kFrames, Stop::kPowerLoss, at, crash_seed);
      ASSERT_TRUE(j.stopped);
      ++crashes;
      // A crash leaves a segment only once its header is durable; a segment being made
      // is NAME.lsj.tmp.
      ASSERT_EQ(segments_with_bad_headers(j.disk), std::vector<std::string>{})
          << "a crash left a file named like a segment with a bad header" << layout(j.disk);
      left_temporary += temporaries(j.disk) > 0 ? 1 : 0;
      const std::vector<std::string> names = listing(j.disk);
      {
        MemoryDisk copy = j.disk;
        const Recovered v = recover_against(copy, RecoveryMode::kVerifyOnly, j.model);
        ASSERT_TRUE(v.status.is_ok()) << "a crash was refused as corruption: " << describe(v);
        ASSERT_TRUE(v.entries_ok) << v.entry_error;
        ASSERT_GE(v.report.tail.next_sequence, j.acknowledged) << describe(v);
        ASSERT_EQ(listing(copy), names) << describe(v);
      }
      const Recovered r = recover_against(j.disk, RecoveryMode::kRepairTornTail, j.model);
      ASSERT_TRUE(r.status.is_ok()) << "a crash was refused as corruption: " << describe(r);
      ASSERT_TRUE(r.entries_ok) << r.entry_error;
      ASSERT_GE(r.report.tail.next_sequence, j.acknowledged) << describe(r);
      ASSERT_EQ(listing(j.disk), names) << "a file was removed or added: " << describe(r);
      torn += r.report.torn_tail ? 1 : 0;
      lost_unacknowledged += r.report.tail.next_sequence < j.model.size() ? 1 : 0;
      // Resume: a marker if one is due, a few frames, close.
      j.model.resize(r.report.tail.next_sequence);
      std::uint64_t written = 0;
      {
        JournalWriter w(j.disk, options, r.report.tail);
        ASSERT_TRUE(w.failure().is_ok()) << w.failure().message();
        Workload load(w, j.model, rng());
        ASSERT_TRUE(load.marker_if_due()) << w.failure().message();
        ASSERT_TRUE(load.run(3, true)) << w.failure().message();
        written = w.next_sequence();
      }
      ASSERT_EQ(written, j.model.size());
      const Recovered again = recover_against(j.disk, RecoveryMode::kRepairTornTail, j.model);
      ASSERT_TRUE(again.status.is_ok()) << describe(again);
      EXPECT_TRUE(again.entries_ok) << again.entry_error;
      EXPECT_TRUE(again.report.closed_cleanly) << describe(again) << layout(j.disk);
      closed += again.report.closed_cleanly ? 1 : 0;
      EXPECT_FALSE(again.report.torn_tail) << describe(again);
      EXPECT_EQ(again.report.tail.next_sequence, written);
      EXPECT_EQ(segments_with_bad_headers(j.disk), std::vector<std::string>{}) << layout(j.disk);
    }
  }
  record("system_calls", calls);
  record("crashes", crashes);
  record("torn_tails", torn);
  record("crashes_leaving_a_temporary", left_temporary);
  record("unacknowledged_lost", lost_unacknowledged);
  record("resumed_and_closed_cleanly", closed);
  std::printf(
      "[ campaign ] every crash point: %llu system calls x %llu seeds = %llu crashes, never "
      "refused, none left a segment-named file with a bad header, none a file removed; %llu "
      "left a torn tail, %llu a segment being made (.tmp), %llu lost entries never "
      "acknowledged; resumed and closed: %llu of %llu recovered as closed cleanly; seed %llu\n",
      static_cast<unsigned long long>(calls), static_cast<unsigned long long>(seeds),
      static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(torn),
      static_cast<unsigned long long>(left_temporary),
      static_cast<unsigned long long>(lost_unacknowledged), static_cast<unsigned long long>(closed),
      static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(seed));
}

// ---- 7. a true torn tail, and the same bytes followed by a marker ------------------------------

// A journal whose last frame is torn: frames written one by one, no marker, and the last
// frame's last sector never written: the bytes a crash in the middle of its write leaves.
class TornLastFrame : public ::testing::Test {
 protected:
  void SetUp() override {
    SCOPED_TRACE(replay_note(seed));
    record("seed", seed);
    options = campaign_options(32768);
    disk = fresh_disk();
    {
      JournalWriter w(disk, options, {});
      for (int f = 0; f < 6; ++f) {
        const std::span<std::byte> payload = w.begin_frame();
        ASSERT_FALSE(payload.empty());
        std::size_t used = 0;
        const std::uint32_t count = 2 + static_cast<std::uint32_t>(rng() % 3);
        for (std::uint32_t i = 0; i < count; ++i) {
          std::string e = random_bytes(rng, 300 + rng() % 200);  // > 1 sector per frame
          used = append_entry(payload, used, bytes_of(e));
          model.push_back(std::move(e));
        }
        ASSERT_TRUE(w.commit(static_cast<std::uint32_t>(used), count));
        ASSERT_TRUE(w.flush());
      }
    }
    const Recovered whole = recover_against(disk, RecoveryMode::kVerifyOnly, model);
    ASSERT_TRUE(whole.status.is_ok()) << describe(whole);
    chain_after = whole.report.tail.chain;
    const std::vector<SegmentScan> scans = scan_journal(disk);
    ASSERT_EQ(scans.size(), 1u);
    name = scans[0].name;
    torn = scans[0].records.back();
    ASSERT_FALSE(torn.header.is_marker());
    const std::uint64_t frame_end = torn.offset + torn.header.frame_bytes;
    const std::uint64_t last_sector = (frame_end - 1) / kSectorBytes * kSectorBytes;
    ASSERT_GT(last_sector, torn.offset) << "the frame must span more than one sector";
    FileHandle f = 0;
    ASSERT_TRUE(disk.open(name, {}, &f));
    ASSERT_TRUE(disk.write_and_sync(f, last_sector,
                                    std::vector<std::byte>(frame_end - last_sector, std::byte{0})));
    ASSERT_TRUE(disk.close(f));
  }

  const std::uint64_t seed = campaign_seed();
  std::mt19937_64 rng{seed};
  JournalOptions options;
  MemoryDisk disk{kWritesInFlight};
  Model model;
  ChainHash chain_after{};
  std::string name;
  Record torn;
};

TEST_F(TornLastFrame, ATrueTornTailOpensWithAWarningThatNoneOfItWasAcknowledged) {
  SCOPED_TRACE(replay_note(seed));
  const Recovered r = recover_against(disk, RecoveryMode::kRepairTornTail, model);
  ASSERT_TRUE(r.status.is_ok()) << describe(r);
  EXPECT_TRUE(r.entries_ok) << r.entry_error;
  EXPECT_TRUE(r.report.torn_tail);
  EXPECT_TRUE(r.report.repaired);
  EXPECT_EQ(r.report.torn_offset, torn.offset);
  EXPECT_EQ(r.report.tail.next_sequence, torn.header.first_sequence);
  EXPECT_NE(r.report.torn_detail.find("none was acknowledged"), std::string::npos)
      << r.report.torn_detail;
  EXPECT_NE(r.report.torn_detail.find(name + " at offset " + std::to_string(torn.offset)),
            std::string::npos)
      << r.report.torn_detail;
  std::printf("[ campaign ] torn tail: %s\n", r.report.torn_detail.c_str());
}

TEST_F(TornLastFrame, TheSameTornFrameFollowedByAMarkerIsRefusedNamingItsOffset) {
  SCOPED_TRACE(replay_note(seed));
  // An idle marker after it, sealed once the torn frame was durable: it was acknowledged.
  const std::uint64_t marker_offset = torn.offset + torn.header.frame_bytes;
  FrameSeal seal;
  seal.first_sequence = torn.header.last_sequence + 1;
  seal.segment_first_sequence = torn.header.segment_first_sequence;
  seal.segment_offset = marker_offset;
  seal.durable_through = torn.header.last_sequence + 1;
  seal.alignment = kFrameAlignBuffered;
  ASSERT_GT(seal.durable_through, torn.header.first_sequence);
  std::vector<std::byte> marker(frame_bytes_for(0, kFrameAlignBuffered));
  ASSERT_EQ(seal_marker(marker, RecordKind::kIdleMarker, seal, chain_after), marker.size());
  FileHandle f = 0;
  ASSERT_TRUE(disk.open(name, {}, &f));
  ASSERT_TRUE(disk.write_and_sync(f, marker_offset, marker));
  ASSERT_TRUE(disk.close(f));
  const std::vector<std::byte> before = disk.contents(name);
  for (const RecoveryMode mode : {RecoveryMode::kVerifyOnly, RecoveryMode::kRepairTornTail}) {
    const Recovered r = recover_against(disk, mode, model);
    ASSERT_FALSE(r.status.is_ok()) << describe(r);
    EXPECT_EQ(r.status.error, RecoveryError::kCorruptFrame) << r.status.message();
    EXPECT_EQ(r.status.segment, name);
    EXPECT_EQ(r.status.offset, torn.offset) << r.status.message();
    EXPECT_EQ(r.status.sequence, torn.header.first_sequence) << r.status.message();
    EXPECT_NE(r.status.message().find(name + " at offset " + std::to_string(torn.offset)),
              std::string::npos)
        << r.status.message();
    EXPECT_NE(r.status.what.find("offset " + std::to_string(marker_offset)), std::string::npos)
        << "the evidence names the marker: " << r.status.message();
    EXPECT_EQ(disk.contents(name), before);
    if (mode == RecoveryMode::kRepairTornTail) {
      std::printf("[ campaign ] torn frame then marker: %s\n", r.status.message().c_str());
    }
  }
}

}  // namespace
}  // namespace lockstep::journal
