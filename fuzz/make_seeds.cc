// lockstep-fuzz-seeds: writes the generated seeds of the fuzz targets' corpora
// (docs/fuzzing.md, "Seeds").
//
//   lockstep-fuzz-seeds <source dir> <corpus dir>
//
// The binary seeds come from the real writers, so that a change of the journal, TxResult
// or snapshot format never leaves stale seeds behind: the bank test domain's executor runs
// a fixed command stream; JournalWriter journals its TxResults on a MemoryDisk (some runs
// crash part-way, as MemoryDisk plans it, and the disk a restarted machine finds is kept);
// frames, segment headers and whole journals are taken from those disks; DeltaReplay
// replays them and writes snapshots. The JSON seeds are sample values of the fuzz domains'
// structs written by to_json; the descriptor seeds are the in-tree schemas, parsed and
// encoded; the parser's seeds are copies of those schemas.
//
// Every file it writes is named gen-*: it first removes the gen-* files of each target's
// folder and leaves every other file (hand-written seeds) alone. The output depends only on
// the code and the schemas: running it again changes nothing unless one of them changed.
// Any failure is fatal: it prints what and exits with status 1.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "bank_domain.h"
#include "engine/executor.h"
#include "engine/tx_result.h"
#include "fuzz/disk_image.h"
#include "fuzz/frame_input.h"
#include "fuzz/fuzz_domains.h"
#include "journal/journal_writer.h"
#include "journal/memory_disk.h"
#include "journal/recovery.h"
#include "journal/segment_header.h"
#include "replay/journal_scan.h"
#include "replay/replay.h"
#include "schema/descriptor.h"
#include "schema/json.h"
#include "schema/parser.h"
#include "snapshot/snapshot.h"

namespace lockstep::fuzz {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "lockstep-fuzz-seeds: %s\n", what.c_str());
  std::exit(1);
}

Bytes as_bytes(std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return Bytes(p, p + text.size());
}

// The corpus folders: each target's generated seeds.
class Corpus {
 public:
  explicit Corpus(fs::path root) : root_(std::move(root)) {}

  // Removes the generated seeds of `target` (every gen-* file), creating its folder.
  void clear(const std::string& target) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
      if (e.path().filename().string().starts_with("gen-")) fs::remove(e.path());
    }
  }

  void write(const std::string& target, const std::string& name, std::span<const std::byte> bytes) {
    const fs::path path = root_ / target / ("gen-" + name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) die("cannot write " + path.string());
    ++written_;
    bytes_ += bytes.size();
  }

  std::size_t written() const noexcept { return written_; }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  fs::path root_;
  std::size_t written_ = 0;
  std::size_t bytes_ = 0;
};

// ---- The bank domain's TxResults ----------------------------------------------------------

struct Command {
  std::uint16_t kind;
  Bytes payload;
  bool linked = false;
};

template <class C>
Command command(const C& c, bool linked = false) {
  const auto b = std::as_bytes(std::span(&c, 1));
  return {C::kKind, Bytes(b.begin(), b.end()), linked};
}

// The command batches of one round: accounts opened, deposits, a refused withdrawal, a
// linked chain, a refused close, scans. Ids are the round's own.
std::vector<std::vector<Command>> round_batches(std::uint64_t round) {
  const std::uint64_t a = round * 10 + 1;
  const std::uint64_t b = round * 10 + 2;
  const std::string r = std::to_string(round);
  const auto owner = [&](const char* name) { return Chars<16>::from(std::string(name) + r); };
  const auto transfer_id = [&](std::uint64_t n) { return u128::from_u64(round * 100 + n); };
  return {
      {command(bank::OpenAccount{.id = a, .owner = owner("alice"), .overdraft_limit = {0}}),
       command(bank::OpenAccount{.id = b, .owner = owner("bob"), .overdraft_limit = {50000}})},
      {command(bank::Deposit{.account = a, .amount = {100000}}),
       command(bank::Deposit{.account = b, .amount = {2500}}),
       command(bank::Withdraw{.account = b, .amount = {999999}})},
      {command(bank::MakeTransfer{.id = transfer_id(1), .debit = a, .credit = b, .amount = {1234}},
               true),
       command(bank::MakeTransfer{.id = transfer_id(2), .debit = b, .credit = a, .amount = {10}},
               true),
       command(bank::SetStatus{.account = b, .status = bank::AccountStatus::frozen})},
      {command(bank::Rename{.account = a, .owner = owner("carol")}),
       command(bank::CloseAccount{.account = round * 10 + 9}),
       command(bank::AuditDebits{
           .account = a, .from = 0, .to = std::numeric_limits<std::int64_t>::max()}),
       command(bank::FreezeOpen{.limit = 1})},
  };
}

// One batch's TxResults, each a separate byte string.
using Batch = std::vector<Bytes>;

// Runs `rounds` rounds on a fresh executor; client ids 1..3 by batch, so that snapshots
// hold sessions.
std::vector<Batch> bank_results(std::uint64_t rounds) {
  EngineOptions options = EngineOptions::running_engine_defaults();
  options.default_capacity = 1024;
  Executor<bank::Domain> exec(bank::handlers(), options);
  Bytes out(options.result_bytes_max + options.chain_bytes_max);
  std::vector<Batch> batches;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    const auto commands = round_batches(round);
    for (std::size_t b = 0; b < commands.size(); ++b) {
      Batch& batch = batches.emplace_back();
      for (std::size_t i = 0; i < commands[b].size(); ++i) {
        const Command& c = commands[b][i];
        CommandView v;
        v.kind = c.kind;
        v.linked = c.linked;
        v.client_id = b % 4;  // 0: anonymous, not a session
        v.request_id = exec.next_sequence() + 1000;
        v.sequence = exec.next_sequence();
        v.logical_time_ns = 1'000'000 + static_cast<std::int64_t>(v.sequence) * 1000;
        v.payload = c.payload;
        const ExecuteResult r = exec.execute(v, i + 1 == commands[b].size(), out);
        TxResultReader results(std::span<const std::byte>(out).first(r.bytes));
        std::span<const std::byte> result;
        std::uint32_t n = 0;
        while (results.next(&result)) {
          batch.emplace_back(result.begin(), result.end());
          ++n;
        }
        if (results.malformed() || n != r.results) die("the executor's results do not add up");
      }
    }
  }
  return batches;
}

// ---- Journals -------------------------------------------------------------------------------

Bytes bank_descriptor() {
  const auto d = bank::Domain::descriptor();
  return Bytes(d.begin(), d.end());
}

// Small frames and segments: a short stream rolls. A segment holds its header,
// `frames_per_segment` largest frames, and whatever else the writer's options require (the
// smallest segment validate() accepts from there on, in steps of 4096 bytes).
journal::JournalOptions journal_options(journal::ChainKind chain, bool direct_io,
                                        std::uint64_t frames_per_segment) {
  journal::JournalOptions o;
  o.descriptor = bank_descriptor();
  o.frame_bytes_max = 4096;
  o.writes_in_flight = 2;
  o.chain = chain;
  o.direct_io = direct_io;
  o.register_buffers = false;
  o.segment_bytes =
      journal::segment_header_bytes(o.descriptor.size()) + frames_per_segment * o.frame_bytes_max;
  for (int step = 0;; ++step) {
    try {
      o.validate();
      return o;
    } catch (const std::invalid_argument& e) {
      if (step == 16) die(e.what());
      o.segment_bytes += journal::kFrameAlignDirect;
    }
  }
}

// Whether the writer also records durability on the journal: an idle marker after every
// third batch (when one is due) and the closing marker of a clean stop at the end.
enum class Markers : bool { kNone, kIdleAndClose };

struct Journal {
  journal::MemoryDisk disk;    // as a restarted machine finds it
  std::uint64_t io_count = 0;  // system calls made while writing
};

// Journals the batches, one frame each, until the end or the first failure (a planned
// crash: `crash` is the system call that fails and the bytes of it that reach the disk).
Journal write_journal(const std::vector<Batch>& batches, const journal::JournalOptions& options,
                      Markers markers,
                      std::optional<std::pair<std::uint64_t, std::size_t>> crash = std::nullopt) {
  journal::MemoryDisk disk(4);
  if (crash) disk.crash_at(crash->first, crash->second);
  bool failed = false;
  {
    journal::JournalWriter w(disk, options, {});
    for (std::size_t b = 0; b < batches.size() && !failed; ++b) {
      const std::span<std::byte> payload = w.begin_frame();
      if (payload.empty()) break;
      std::size_t used = 0;
      for (const Bytes& result : batches[b]) {
        if (payload.size() - used < journal::kEntryLengthBytes + result.size()) {
          die("a batch does not fit in one frame");
        }
        used = journal::append_entry(payload, used, result);
      }
      failed =
          !w.commit(static_cast<std::uint32_t>(used), static_cast<std::uint32_t>(batches[b].size()))
               .is_ok() ||
          !w.poll(false).is_ok();
      if (!failed && markers == Markers::kIdleAndClose && b % 3 == 1) {
        failed = !w.flush().is_ok() || (w.marker_due() && !w.write_marker().is_ok()) ||
                 !w.poll(true).is_ok();
      }
    }
    const journal::IoStatus end = markers == Markers::kIdleAndClose ? w.close() : w.flush();
    if (!crash && (failed || !end.is_ok())) {
      die("journal write failed: " + w.failure().message());
    }
  }
  const std::uint64_t io_count = disk.io_count();
  return {disk.restarted(), io_count};
}

// `bytes` without its trailing zeros (a preallocated segment is mostly zeros), rounded up
// to the buffered frame alignment.
Bytes trimmed(const Bytes& bytes) {
  std::size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == std::byte{0}) --end;
  const std::size_t align = journal::kFrameAlignBuffered;
  end = std::min(bytes.size(), (end + align - 1) / align * align);
  return Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(end));
}

// The disk's files as a fuzz_recovery input; prints what recovery makes of it.
void write_recovery_seed(Corpus& corpus, const std::string& label, journal::MemoryDisk& disk,
                         std::uint8_t control, const std::vector<DiskFile>& extra = {}) {
  DiskImage image;
  image.control = control;
  std::vector<std::string> names;
  if (!disk.list(&names).is_ok()) die("list failed");
  // Whole files: recovery refuses a segment shorter than its header says it was created.
  for (const std::string& name : names) image.files.push_back({name, disk.contents(name)});
  image.files.insert(image.files.end(), extra.begin(), extra.end());
  const std::optional<Bytes> bytes = encode_disk_image(image);
  if (!bytes) {
    die(label + ": a journal of " + std::to_string(image.files.size()) +
        " files, or with a name no name byte stands for (disk_image.h)");
  }
  corpus.write("fuzz_recovery", label, *bytes);
  journal::MemoryDisk copy;
  load_disk_image(image, copy);
  journal::RecoveryReport report;
  const journal::RecoveryStatus s =
      journal::recover_journal(copy, journal::RecoveryMode::kVerifyOnly, &report);
  std::printf("  fuzz_recovery/gen-%s: %zu files; %s, next sequence %llu%s\n", label.c_str(),
              image.files.size(), s.message().c_str(),
              static_cast<unsigned long long>(report.tail.next_sequence),
              report.torn_tail ? (", torn tail: " + report.torn_detail).c_str() : "");
}

// ---- Frames and segment headers -----------------------------------------------------------

struct FrameSeed {
  journal::FrameExpectation expect;
  Bytes bytes;  // the frame and everything after it in its segment
};

// Every frame of the journal with what a reader expects there, from recovery's walk.
std::vector<FrameSeed> frames_of(journal::MemoryDisk& disk) {
  struct Seen {
    std::uint64_t segment_first_sequence, segment_offset, first_sequence;
    journal::ChainHash prev_chain;
  };
  std::vector<Seen> seen;
  journal::ChainHash chain{};
  journal::RecoveryReport report;
  const journal::RecoveryStatus s = journal::recover_journal(
      disk, journal::RecoveryMode::kVerifyOnly, &report, [&](const journal::DecodedFrame& f) {
        seen.push_back({f.header.segment_first_sequence, f.header.segment_offset,
                        f.header.first_sequence, chain});
        chain = f.chain;
      });
  if (!s.is_ok()) die("a seed journal does not recover: " + s.message());
  const bool direct = (report.flags & journal::kFlagDirectIo) != 0;
  std::vector<FrameSeed> frames;
  for (const Seen& f : seen) {
    FrameSeed seed;
    seed.expect.segment_first_sequence = f.segment_first_sequence;
    seed.expect.segment_offset = f.segment_offset;
    seed.expect.next_sequence = f.first_sequence;
    seed.expect.prev_chain = f.prev_chain;
    seed.expect.alignment = direct ? journal::kFrameAlignDirect : journal::kFrameAlignBuffered;
    const Bytes segment =
        trimmed(disk.contents(journal::segment_file_name(f.segment_first_sequence)));
    seed.bytes.assign(segment.begin() + static_cast<std::ptrdiff_t>(f.segment_offset),
                      segment.end());
    frames.push_back(std::move(seed));
  }
  return frames;
}

journal::ChainKind chain_of(const Bytes& segment) {
  const journal::DecodedSegmentHeader h = journal::decode_segment_header(segment);
  if (h.status != journal::SegmentHeaderStatus::kOk) die("a seed segment header does not decode");
  return h.header.chain_kind();
}

// The journal's first `count` frames, each on its own; the first also followed by the rest
// of its segment; and the first segment's header.
void write_frame_seeds(Corpus& corpus, const std::string& label, journal::MemoryDisk& disk,
                       std::size_t count) {
  const std::vector<FrameSeed> frames = frames_of(disk);
  std::vector<std::string> names;
  if (!disk.list(&names).is_ok() || names.empty()) die("an empty seed journal");
  const journal::ChainKind kind = chain_of(disk.contents(names.front()));
  journal::ChainHasher hasher(kind);
  for (std::size_t i = 0; i < frames.size() && i < count; ++i) {
    const FrameSeed& f = frames[i];
    const journal::DecodedFrame d = journal::decode_frame(f.bytes, f.expect, hasher);
    if (d.status != journal::FrameStatus::kOk) {
      die(label + " frame " + std::to_string(i) + " decodes " + std::string(to_string(d.status)));
    }
    const auto frame = std::span(f.bytes).first(d.header.frame_bytes);
    corpus.write("fuzz_frame", label + "-frame-" + std::to_string(i),
                 encode_frame_input(f.expect, kind, frame));
    if (i == 0) {
      corpus.write("fuzz_frame", label + "-frames-from-0",
                   encode_frame_input(f.expect, kind, f.bytes));
    }
  }
  const Bytes segment = trimmed(disk.contents(names.front()));
  const journal::DecodedSegmentHeader h = journal::decode_segment_header(segment);
  corpus.write("fuzz_frame", label + "-segment-header",
               encode_frame_input({}, kind, std::span(segment).first(h.header_bytes)));
}

// ---- Snapshots --------------------------------------------------------------------------------

// The snapshot DeltaReplay writes after replaying the journal on `disk` (an empty one for a
// null disk).
Bytes snapshot_of(journal::MemoryDisk* disk) {
  const Bytes descriptor = bank_descriptor();
  schema::Domain domain;
  std::string error;
  if (!replay::domain_of(descriptor, &domain, &error)) die(error);
  replay::DeltaReplay rep(domain);
  std::uint32_t flags = 0;
  if (disk != nullptr) {
    journal::RecoveryReport report;
    const journal::RecoveryStatus s =
        replay::scan_journal(*disk, &report, [&](const replay::JournalEntry& e) {
          if (!rep.apply(e, &error)) die("replay: " + error);
          return true;
        });
    if (!s.is_ok()) die("replay: " + s.message());
    flags = report.flags;
  }
  journal::MemoryDisk out;
  std::string name;
  if (!rep.write_snapshot(out, flags, descriptor, &name, &error)) die("snapshot: " + error);
  return out.contents(name);
}

// ---- JSON --------------------------------------------------------------------------------------

void put_le(Bytes& b, std::size_t at, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * i));
}

// A value for every field of `s`, each one to_json accepts and of a different shape.
Bytes sample(const schema::Domain& d, const schema::Struct& s) {
  Bytes b(s.size, std::byte{0});
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    const schema::Field& f = s.fields[i];
    using T = schema::FieldType;
    switch (f.type) {
      case T::kU8:
      case T::kU16:
      case T::kU32:
      case T::kU64: put_le(b, f.offset, 0x0123456789ABCDEFull >> (8 * (8 - f.size)), f.size); break;
      case T::kI8:
      case T::kI16:
      case T::kI32:
      case T::kI64:
        put_le(b, f.offset, static_cast<std::uint64_t>(-static_cast<std::int64_t>(i + 2)), f.size);
        break;
      case T::kU128:
        put_le(b, f.offset, 12345678901234567890ull, 8);
        put_le(b, f.offset + 8, i + 1, 8);
        break;
      case T::kBool: b[f.offset] = std::byte{1}; break;
      case T::kEnum: put_le(b, f.offset, d.enums[f.enum_index].values.back().value, f.size); break;
      case T::kDecimal:
        put_le(b, f.offset, static_cast<std::uint64_t>(std::int64_t{-1234567}), 8);
        break;
      case T::kBytes:
        for (std::uint32_t k = 0; k < f.size; ++k) b[f.offset + k] = std::byte(0xA0 + k);
        break;
      case T::kChars: {
        const std::string_view text = f.size >= 5 ? "a\"\xC3\xA9z" : "ab";
        std::copy_n(reinterpret_cast<const std::byte*>(text.data()),
                    std::min<std::size_t>(f.size, text.size()), b.begin() + f.offset);
        break;
      }
    }
  }
  return b;
}

void write_json_seeds(Corpus& corpus) {
  const std::vector<FuzzDomain>& domains = fuzz_domains();
  for (std::size_t di = 0; di < domains.size(); ++di) {
    const schema::Domain& d = domains[di].domain;
    const std::string label(domains[di].label);
    std::size_t commands = 0;
    std::size_t events = 0;
    for (std::size_t si = 0; si < domains[di].structs.size(); ++si) {
      const schema::Struct& s = *domains[di].structs[si];
      const bool is_command = s.kind == schema::StructKind::kCommand;
      if ((is_command && ++commands > 3) ||
          (s.kind == schema::StructKind::kEvent && ++events > 2)) {
        continue;
      }
      const Bytes bytes = sample(d, s);
      std::string json;
      std::string error;
      if (!schema::to_json(d, s, bytes, &json, &error)) die(s.name + ": " + error);
      const std::string base = label + "-" + s.name;
      corpus.write("fuzz_json", base + "-text",
                   encode_json_input(JsonMode::kStructText, di, si, as_bytes(json)));
      corpus.write("fuzz_json", base + "-bytes",
                   encode_json_input(JsonMode::kStructBytes, di, si, bytes));
      if (!is_command) continue;
      const std::string envelope = "{\"command\": \"" + s.name + "\", \"fields\": " + json + "}";
      corpus.write("fuzz_json", base + "-envelope",
                   encode_json_input(JsonMode::kEnvelope, di, si, as_bytes(envelope)));
      const std::string line = json == "{}" ? "{\"kind\":\"" + s.name + "\"}"
                                            : "{\"kind\":\"" + s.name + "\"," + json.substr(1);
      corpus.write("fuzz_json", base + "-line",
                   encode_json_input(JsonMode::kCommandLine, di, si, as_bytes(line)));
    }
  }
}

// ---- Schemas ------------------------------------------------------------------------------------

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_schema_seeds(Corpus& corpus, const fs::path& source) {
  const char* schemas[] = {
      "tests/bank/bank.lss",  "domains/ledger/ledger.lss", "domains/matching/matching.lss",
      "tests/data/names.lss", "tests/data/bad.lss",        "fuzz/every_type.lss"};
  for (const char* relative : schemas) {
    const fs::path path = source / relative;
    const std::string text = read_text(path);
    const std::string stem = path.stem().string();
    corpus.write("fuzz_schema_parser", stem + ".lss", as_bytes(text));
    const schema::ParseResult r = schema::parse(text, path.filename().string());
    if (!r.ok()) continue;  // bad.lss: a seed for the parser only
    corpus.write("fuzz_descriptor", stem + ".desc", schema::encode_descriptor(r.domain));
  }
}

// ---- The journal's seeds ------------------------------------------------------------------------

void write_journal_seeds(Corpus& corpus) {
  using journal::ChainKind;
  const std::vector<Batch> one_round = bank_results(1);
  const std::vector<Batch> three_rounds = bank_results(3);

  for (std::size_t b = 0; b < one_round.size(); ++b) {
    for (std::size_t r = 0; r < one_round[b].size(); ++r) {
      corpus.write("fuzz_tx_result", "batch" + std::to_string(b) + "-result" + std::to_string(r),
                   one_round[b][r]);
    }
  }

  const auto small = journal_options(ChainKind::kSha256, false, 1);
  const auto rolling = journal_options(ChainKind::kXxh3_128, false, 1);
  const auto direct = journal_options(ChainKind::kSha256, true, 2);
  Journal one = write_journal(one_round, small, Markers::kNone);
  Journal marked = write_journal(one_round, small, Markers::kIdleAndClose);
  Journal rolled = write_journal(three_rounds, rolling, Markers::kIdleAndClose);
  Journal aligned = write_journal(one_round, direct, Markers::kIdleAndClose);

  write_recovery_seed(corpus, "one-segment", one.disk, 5);
  write_recovery_seed(corpus, "marked", marked.disk, 4);
  write_recovery_seed(corpus, "rolled", rolled.disk, 20);
  write_recovery_seed(corpus, "direct-io", aligned.disk, 3);
  const Bytes first_segment = one.disk.contents(journal::segment_file_name(0));
  write_recovery_seed(
      corpus, "beside-other-files", one.disk, 0,
      {{"00000000000000000000.lsj.tmp", first_segment}, {"0000000000000000000x.lsj", {}}});
  // Crashes: during the last frame's write (torn), in the middle of the stream, and near
  // its end (with markers).
  Journal torn = write_journal(one_round, small, Markers::kNone, std::pair{one.io_count - 1, 200});
  Journal mid = write_journal(three_rounds, rolling, Markers::kIdleAndClose,
                              std::pair{rolled.io_count / 2, 100});
  Journal late = write_journal(three_rounds, rolling, Markers::kIdleAndClose,
                               std::pair{rolled.io_count - 3, 0});
  write_recovery_seed(corpus, "crash-torn-last-frame", torn.disk, 7);
  write_recovery_seed(corpus, "crash-mid-stream", mid.disk, 9);
  write_recovery_seed(corpus, "crash-late", late.disk, 30);

  write_frame_seeds(corpus, "one-segment", one.disk, 4);
  write_frame_seeds(corpus, "marked", marked.disk, 4);
  write_frame_seeds(corpus, "rolled", rolled.disk, 2);
  write_frame_seeds(corpus, "direct-io", aligned.disk, 1);

  corpus.write("fuzz_snapshot", "empty", snapshot_of(nullptr));
  corpus.write("fuzz_snapshot", "one-round", snapshot_of(&one.disk));
  corpus.write("fuzz_snapshot", "three-rounds", snapshot_of(&rolled.disk));
}

}  // namespace
}  // namespace lockstep::fuzz

int main(int argc, char** argv) {
  using namespace lockstep::fuzz;
  if (argc != 3) {
    std::fprintf(stderr, "usage: lockstep-fuzz-seeds <source dir> <corpus dir>\n");
    return 2;
  }
  Corpus corpus{fs::path(argv[2])};
  for (const char* target : {"fuzz_schema_parser", "fuzz_descriptor", "fuzz_json", "fuzz_tx_result",
                             "fuzz_frame", "fuzz_recovery", "fuzz_snapshot"}) {
    corpus.clear(target);
  }
  write_schema_seeds(corpus, fs::path(argv[1]));
  write_json_seeds(corpus);
  write_journal_seeds(corpus);
  std::printf("lockstep-fuzz-seeds: %zu seeds, %zu bytes, in %s\n", corpus.written(),
              corpus.bytes(), argv[2]);
  return 0;
}
