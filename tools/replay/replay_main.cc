// lockstep-replay: a journal directory read back, checked, decoded and materialized,
// through the schema the journal embeds (docs/replay.md).
//
//   lockstep-replay verify   DIR [--reexecute] [--capacity N] [--json]
//   lockstep-replay dump     DIR [--from SEQ] [--to SEQ]
//   lockstep-replay history  DIR --table T --key K [--json]
//   lockstep-replay state    DIR --at SEQ [--export FILE] [--json]
//   lockstep-replay stats    DIR [--json]
//   lockstep-replay snapshot DIR [--keep K] [--json]
//   lockstep-replay salvage  DIR [--apply] [--json]
//
// Exit status: 0 when all is well; 1 when the journal (or a snapshot) is wrong or
// re-execution diverges, with a message naming segment, offset and sequence; 2 for a
// usage error. `--help` prints the usage and exits 0. Only `salvage --apply` writes.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bank_domain.h"
#include "engine/descriptor_check.h"
#include "engine/executor.h"
#include "ledger_domain.h"
#include "matching_domain.h"
#include "replay/generic_state.h"
#include "replay/journal_scan.h"
#include "replay/reexecute.h"
#include "replay/replay.h"
#include "schema/descriptor.h"
#include "schema/json.h"
#include "snapshot/snapshot.h"

namespace {

using namespace lockstep;
using namespace lockstep::replay;

constexpr const char* kUsage =
    "usage: lockstep-replay COMMAND DIR [options]\n"
    "  verify   DIR [--reexecute] [--capacity N] [--json]\n"
    "           checksums, hash chain, sequences, and every recorded state hash from the\n"
    "           deltas; --reexecute also re-runs every command through the domain's\n"
    "           handlers (domains in this tool: ledger, matching, bank) and compares every "
    "TxResult\n"
    "  dump     DIR [--from SEQ] [--to SEQ]   JSON lines: commands, outcomes, deltas, events\n"
    "  history  DIR --table T --key K [--json]\n"
    "           every transaction that wrote that record, with its command, the record\n"
    "           before and after, and its events\n"
    "  state    DIR --at SEQ [--export FILE] [--json]\n"
    "           the state after sequence SEQ: its hash; --export writes every record\n"
    "  stats    DIR [--json]                  segments, frames, commands, ranges, snapshots\n"
    "  snapshot DIR [--keep K] [--json]       writes a snapshot of the whole journal now\n"
    "  salvage  DIR [--apply] [--json]\n"
    "           what a salvage of a corrupt journal keeps and sets aside (the bytes cut\n"
    "           go to NAME.discarded-at-OFFSET, later segments to NAME.discarded);\n"
    "           --apply does it (the only command that writes)\n"
    "verify and stats also check every snapshot in DIR. Exit status: 0 all is well, 1 the\n"
    "journal, a snapshot or re-execution is wrong (the message says where), 2 usage.\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A problem with the journal, a snapshot or re-execution: exit status 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::string command;
  std::string dir;
  bool json = false;
  bool reexecute = false;
  bool apply = false;
  std::optional<std::uint64_t> from, to, at, capacity, keep;
  std::string table, key, export_path;
};

std::uint64_t number(const std::string& flag, const std::string& v) {
  std::uint64_t x = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) {
    throw UsageError(flag + ": expected a non-negative integer, got '" + v + "'");
  }
  return x;
}

// `--help` anywhere (or `help`): the usage on stdout, exit status 0.
struct HelpAsked {};

Args parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || (i == 1 && arg == "help")) throw HelpAsked{};
  }
  if (argc < 2) throw UsageError("missing COMMAND");
  Args a;
  a.command = argv[1];
  static const std::map<std::string, std::vector<std::string>> allowed = {
      {"verify", {"--reexecute", "--capacity", "--json"}},
      {"dump", {"--from", "--to"}},
      {"history", {"--table", "--key", "--json"}},
      {"state", {"--at", "--export", "--json"}},
      {"stats", {"--json"}},
      {"snapshot", {"--keep", "--json"}},
      {"salvage", {"--apply", "--json"}},
  };
  const auto it = allowed.find(a.command);
  if (it == allowed.end()) throw UsageError("unknown command '" + a.command + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string f = argv[i];
    if (f.rfind("--", 0) != 0) {
      if (!a.dir.empty()) throw UsageError("unexpected argument '" + f + "'");
      a.dir = f;
      continue;
    }
    if (std::find(it->second.begin(), it->second.end(), f) == it->second.end()) {
      throw UsageError(a.command + ": unknown option " + f);
    }
    if (f == "--json") {
      a.json = true;
      continue;
    }
    if (f == "--reexecute") {
      a.reexecute = true;
      continue;
    }
    if (f == "--apply") {
      a.apply = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(f + " needs a value");
    const std::string v = argv[++i];
    if (f == "--from") a.from = number(f, v);
    if (f == "--to") a.to = number(f, v);
    if (f == "--at") a.at = number(f, v);
    if (f == "--capacity") a.capacity = number(f, v);
    if (f == "--keep") a.keep = number(f, v);
    if (f == "--table") a.table = v;
    if (f == "--key") a.key = v;
    if (f == "--export") a.export_path = v;
  }
  if (a.dir.empty()) throw UsageError(a.command + ": missing DIR");
  if (a.command == "history" && (a.table.empty() || a.key.empty())) {
    std::string missing;
    for (const auto& option : {std::pair{"--table", &a.table}, std::pair{"--key", &a.key}}) {
      const std::string_view flag = option.first;
      bool given = false;
      for (int i = 2; i < argc; ++i) given |= flag == argv[i];
      if (!option.second->empty()) continue;
      missing += std::string(missing.empty() ? "" : "; ") + std::string(flag) +
                 (given ? " is empty" : " is missing");
    }
    throw UsageError(
        "history needs --table T and --key K (the record's primary key, as JSON: "
        "--key 42, or --key '{\"id\":42}' for a composite key): " +
        missing);
  }
  if (a.command == "state" && !a.at) throw UsageError("state needs --at SEQ");
  if (a.from && a.to && *a.from > *a.to) throw UsageError("--from is after --to");
  if (a.keep && *a.keep == 0) throw UsageError("--keep must be at least 1");
  return a;
}

std::string quote(std::string_view s) {
  std::string o = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string hash_text(const StateHash& h) {
  char b[80];
  std::snprintf(b, sizeof b, "%016llx%016llx", static_cast<unsigned long long>(h.hi),
                static_cast<unsigned long long>(h.lo));
  return b;
}

struct Journal {
  std::unique_ptr<journal::IoBackend> io;
  JournalHead head;
  schema::Domain domain;
};

Journal open_journal(const std::string& dir) {
  Journal j;
  std::string error;
  if (!open_directory(dir, &j.io, &error)) throw Failure(error);
  if (!read_journal_head(*j.io, &j.head, &error)) throw Failure(dir + ": " + error);
  if (!domain_of(j.head.descriptor, &j.domain, &error)) throw Failure(dir + ": " + error);
  return j;
}

// A replay from the right starting point for a journal that may begin after sequence 0:
// the snapshot whose next_sequence is at least the journal's first and at most `at_most`.
std::unique_ptr<DeltaReplay> begin(Journal& j, std::optional<std::uint64_t> at_most,
                                   std::vector<std::string>* skipped) {
  std::unique_ptr<DeltaReplay> r = start_replay(*j.io, j.domain, at_most, skipped);
  if (r->next_sequence() < j.head.first_sequence) {
    throw Failure("the journal begins at sequence " + std::to_string(j.head.first_sequence) +
                  " (older segments were removed) and no snapshot that verifies covers it");
  }
  return r;
}

// A replay from the journal's beginning: the empty state, or, when older segments were
// removed, the oldest snapshot that verifies at or after the journal's first sequence.
std::unique_ptr<DeltaReplay> begin_at_start(Journal& j) {
  if (j.head.first_sequence == 0) return std::make_unique<DeltaReplay>(j.domain);
  std::vector<std::pair<std::uint64_t, std::string>> all;
  if (snapshot::SnapshotStatus s = snapshot::list_snapshots(*j.io, &all); !s.is_ok())
    throw Failure(s.message());
  for (const auto& [seq, name] : all) {
    if (seq < j.head.first_sequence) continue;
    auto r = std::make_unique<DeltaReplay>(j.domain);
    std::string error;
    if (r->load_snapshot(*j.io, name, &error)) return r;
    std::cerr << "lockstep-replay: skipped " << error << "\n";
  }
  throw Failure("the journal begins at sequence " + std::to_string(j.head.first_sequence) +
                " (older segments were removed) and no snapshot that verifies covers it");
}

void note_skipped(const std::vector<std::string>& skipped) {
  for (const std::string& s : skipped) std::cerr << "lockstep-replay: skipped " << s << "\n";
}

// After a corruption: where to look next.
std::string salvage_hint(const Journal& j, const journal::RecoveryStatus& s) {
  if (s.error == journal::RecoveryError::kIo) return {};
  (void)j;
  return "\n  (nothing was changed; `lockstep-replay salvage DIR` shows what a salvage would keep "
         "and set aside)";
}

// A snapshot in the directory, loaded and verified on its own.
struct SnapshotCheck {
  std::string file;
  std::uint64_t next_sequence = 0;
  bool ok = true;
  std::string error;  // why it does not verify
  StateHash state_hash{};
};

// Every snapshot in the directory, each loaded and checked like a cold start checks it
// (checksums, schema, the journal reaches its sequence with its chain hash, its records
// hash to its header's state hash), one at a time.
std::vector<SnapshotCheck> check_snapshots(Journal& j) {
  std::vector<std::pair<std::uint64_t, std::string>> all;
  if (snapshot::SnapshotStatus s = snapshot::list_snapshots(*j.io, &all); !s.is_ok())
    throw Failure(s.message());
  std::vector<SnapshotCheck> out;
  for (const auto& [seq, name] : all) {
    SnapshotCheck c;
    c.file = name;
    c.next_sequence = seq;
    DeltaReplay r(j.domain);
    c.ok = r.load_snapshot(*j.io, name, &c.error);
    if (c.ok) c.state_hash = r.state().hash();
    out.push_back(std::move(c));
  }
  return out;
}

std::string snapshots_json(const std::vector<SnapshotCheck>& snaps) {
  std::string o = "[";
  for (std::size_t i = 0; i < snaps.size(); ++i) {
    const SnapshotCheck& c = snaps[i];
    o += std::string(i ? "," : "") + "{\"file\":" + quote(c.file) +
         ",\"next_sequence\":" + std::to_string(c.next_sequence) +
         ",\"ok\":" + (c.ok ? "true" : "false") +
         ",\"error\":" + (c.ok ? std::string("null") : quote(c.error)) + "}";
  }
  return o + "]";
}

// Where the journal's records end: the last segment and the offset the next record goes
// to (null for a journal without segments).
std::string end_json(const journal::RecoveryReport& report) {
  if (!report.tail.segment_first_sequence) return "null";
  return "{\"segment\":" + quote(journal::segment_file_name(*report.tail.segment_first_sequence)) +
         ",\"offset\":" + std::to_string(report.tail.segment_offset) + "}";
}

// The torn tail's verdict, for humans: what is dropped, and that none of it was
// acknowledged.
void warn_torn_tail(const journal::RecoveryReport& report, std::uint64_t verified_to) {
  std::cerr << "lockstep-replay: warning: torn tail: " << report.torn_detail
            << "; verified up to sequence " << verified_to << "\n";
}

// Runs the replay from r's position to the journal's end (or while keep_going), checking.
void run(Journal& j, DeltaReplay& r, const std::function<bool(const JournalEntry&)>& each,
         journal::RecoveryReport* report) {
  std::string error;
  bool done = false;  // the caller has what it needs
  const auto visit = [&](const JournalEntry& e) {
    if (e.sequence < r.next_sequence()) return true;
    if (!r.apply(e, &error)) return false;
    done = !each(e);
    return !done;
  };
  journal::RecoveryStatus s;
  if (report != nullptr) {
    s = scan_journal(*j.io, report, visit);
  } else {
    s = scan_journal_from(*j.io, r.next_sequence(), visit);
  }
  if (!error.empty()) throw Failure(error);
  if (!s.is_ok()) {
    if (!done) throw Failure(s.message() + salvage_hint(j, s));
    // Everything asked for was read and checked; what is wrong lies after it.
    std::cerr << "lockstep-replay: warning: further on, " << s.message() << "\n";
  }
}

template <class D>
bool try_reexecute(Journal& j, const typename D::Handlers& handlers, const Args& a,
                   const DeltaReplay& deltas, ReexecuteReport* rep) {
  if (!is_descriptor_of<D>(j.head.descriptor)) return false;
  // The running engine's limits (a refusal for a limit must happen again), and tables
  // large enough for any history here unless --capacity says otherwise.
  EngineOptions o = EngineOptions::running_engine_defaults();
  o.default_capacity = static_cast<std::uint32_t>(a.capacity.value_or(1u << 24));
  // The delta replay knows how large the tables end: allocate for that much at once.
  for (std::size_t t = 0; t < j.domain.records.size(); ++t) {
    o.table_reserve.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(
        deltas.state().records(static_cast<std::uint16_t>(t)), o.default_capacity)));
  }
  std::string error;
  if (!reexecute_journal<D>(*j.io, handlers, o, rep, &error)) throw Failure(error);
  return true;
}

int verify(const Args& a) {
  Journal j = open_journal(a.dir);
  std::vector<SnapshotCheck> snaps = check_snapshots(j);
  auto r = begin_at_start(j);
  journal::RecoveryReport report;
  using Clock = std::chrono::steady_clock;
  // The state the journal's deltas give at each snapshot's sequence, to compare.
  std::map<std::uint64_t, StateHash> at_snapshot;
  for (const SnapshotCheck& c : snaps) {
    if (c.ok && c.next_sequence == r->next_sequence())
      at_snapshot[c.next_sequence] = r->state().hash();
  }
  const auto t0 = Clock::now();
  run(
      j, *r,
      [&](const JournalEntry&) {
        if (!snaps.empty() && r->at_frame_end()) {
          const std::uint64_t n = r->next_sequence();
          for (const SnapshotCheck& c : snaps) {
            if (c.ok && c.next_sequence == n) at_snapshot[n] = r->state().hash();
          }
        }
        return true;
      },
      &report);
  const double delta_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (r->in_chain()) throw Failure("the journal ends inside a linked chain");
  if (!(r->state().recompute_hash() == r->state().hash())) {
    throw Failure("internal: the incremental state hash differs from a recomputation");
  }
  ReexecuteReport rep;
  bool reexecuted = false;
  double reexecute_s = 0;
  if (a.reexecute) {
    const auto t1 = Clock::now();
    reexecuted = try_reexecute<ledger::Domain>(j, ledger::handlers(), a, *r, &rep) ||
                 try_reexecute<matching::Domain>(j, matching::handlers(), a, *r, &rep) ||
                 try_reexecute<bank::Domain>(j, bank::handlers(), a, *r, &rep);
    if (!reexecuted) {
      throw Failure(
          "--reexecute: the journal's domain '" + j.domain.name + "' version " +
          std::to_string(j.domain.version) +
          " is not compiled into this tool (it has: ledger, matching, bank); an embedding "
          "application calls lockstep::replay::reexecute_journal<D> itself");
    }
    reexecute_s = std::chrono::duration<double>(Clock::now() - t1).count();
  }
  const auto per_s = [](std::uint64_t n, double s) { return s > 0 ? n / s : 0.0; };
  const std::uint64_t first = r->snapshot() ? r->snapshot()->next_sequence : 0;
  bool snapshots_ok = true;
  for (SnapshotCheck& c : snaps) {
    const auto it = at_snapshot.find(c.next_sequence);
    if (c.ok && it != at_snapshot.end() && !(it->second == c.state_hash)) {
      c.ok = false;
      c.error = c.file +
                ": its state hash is not the state the journal's deltas give at sequence " +
                std::to_string(c.next_sequence);
    }
    snapshots_ok &= c.ok;
  }
  const std::uint64_t unproven = report.tail.next_sequence > report.proven_through
                                     ? report.tail.next_sequence - report.proven_through
                                     : 0;
  if (a.json) {
    std::cout << "{\"ok\":" << (rep.diverged || !snapshots_ok ? "false" : "true")
              << ",\"domain\":" << quote(j.domain.name) << ",\"from_sequence\":" << first
              << ",\"snapshot\":"
              << (r->snapshot() ? quote(snapshot::snapshot_file_name(first)) : "null")
              << ",\"next_sequence\":" << r->next_sequence() << ",\"entries\":" << r->entries()
              << ",\"committed\":" << r->committed() << ",\"refused\":" << r->refused()
              << ",\"state_hashes_checked\":" << r->hashes_checked()
              << ",\"state_hash\":" << quote(hash_text(r->state().hash()))
              << ",\"records\":" << r->state().hash().records
              << ",\"torn_tail\":" << (report.torn_tail ? quote(report.torn_detail) : "null")
              << ",\"dropped_commands\":" << report.dropped_entries
              << ",\"closed_cleanly\":" << (report.closed_cleanly ? "true" : "false")
              << ",\"proven_through\":" << report.proven_through
              << ",\"markers\":" << report.markers << ",\"snapshots\":" << snapshots_json(snaps)
              << ",\"delta_seconds\":" << delta_s
              << ",\"delta_entries_per_s\":" << per_s(r->entries(), delta_s);
    if (reexecuted) {
      std::cout << ",\"reexecuted\":{\"seconds\":" << reexecute_s
                << ",\"commands_per_s\":" << per_s(rep.commands, reexecute_s)
                << ",\"commands\":" << rep.commands << ",\"results\":" << rep.results
                << ",\"diverged\":" << (rep.diverged ? "true" : "false");
      if (rep.diverged) {
        std::cout << ",\"sequence\":" << rep.divergence_sequence
                  << ",\"where\":" << quote(rep.where) << ",\"journal\":" << rep.journal_json
                  << ",\"reexecuted\":" << rep.reexecuted_json;
      }
      std::cout << "}";
    }
    std::cout << "}\n";
  } else {
    std::cout << "journal " << a.dir << " (domain " << j.domain.name << " version "
              << j.domain.version << ")\n";
    if (r->snapshot())
      std::cout << "  from snapshot       " << snapshot::snapshot_file_name(first) << "\n";
    std::cout << "  entries             " << r->entries() << " (sequences " << first << " to "
              << (r->next_sequence() == 0 ? 0 : r->next_sequence() - 1) << ")\n"
              << "  committed, refused  " << r->committed() << ", " << r->refused() << "\n"
              << "  state hashes        " << r->hashes_checked()
              << " recorded, all reproduced from the deltas\n"
              << "  final state         " << hash_text(r->state().hash()) << ", "
              << r->state().hash().records << " records\n"
              << "  delta replay        " << std::fixed << std::setprecision(3) << delta_s << " s, "
              << std::setprecision(0) << per_s(r->entries(), delta_s)
              << " entries/s (reading and checking included)\n"
              << std::defaultfloat;
    if (report.closed_cleanly) {
      std::cout << "  journal end         closed cleanly (a closing marker)\n";
    } else if (unproven == 0) {
      std::cout
          << "  journal end         not closed; every entry proven durable by a later record\n";
    } else {
      std::cout << "  journal end         not closed (a crash): the last " << unproven
                << " entries are proven durable by no later record; the engine's next open "
                   "adds the proof\n";
    }
    if (report.torn_tail) {
      std::cout << "  torn tail           " << report.torn_detail << "\n";
    }
    std::cout << "  snapshots           " << snaps.size();
    if (snaps.empty()) {
      std::cout << "\n";
    } else if (snapshots_ok) {
      std::cout << ", all verify\n";
    } else {
      std::cout << "\n";
      for (const SnapshotCheck& c : snaps) {
        std::cout << "    " << c.file << (c.ok ? "  ok" : "  DOES NOT VERIFY: " + c.error) << "\n";
      }
    }
    if (reexecuted) {
      std::cout << "  re-executed         " << rep.commands << " commands, " << rep.results
                << " results compared"
                << (rep.diverged ? "" : ": every TxResult identical byte for byte") << "; "
                << std::fixed << std::setprecision(3) << reexecute_s << " s, "
                << std::setprecision(0) << per_s(rep.commands, reexecute_s) << " commands/s\n"
                << std::defaultfloat;
    }
  }
  if (report.torn_tail) {
    // What a crash leaves of the records in flight: never acknowledged, and the next open
    // drops it. Say so where it cannot be missed.
    warn_torn_tail(report, r->next_sequence());
  }
  for (const SnapshotCheck& c : snaps) {
    if (!c.ok) std::cerr << "lockstep-replay: snapshot does not verify: " << c.error << "\n";
  }
  if (rep.diverged) {
    std::cerr << "lockstep-replay: re-execution diverges at sequence " << rep.divergence_sequence
              << " (" << rep.where << ")\n  journal:     " << rep.journal_json
              << "\n  re-executed: " << rep.reexecuted_json << "\n";
    return 1;
  }
  return snapshots_ok ? 0 : 1;
}

int dump(const Args& a) {
  Journal j = open_journal(a.dir);
  const std::uint64_t from = std::max<std::uint64_t>(a.from.value_or(0), j.head.first_sequence);
  const std::uint64_t to = a.to.value_or(UINT64_MAX);
  if (a.from && *a.from < from) {
    std::cerr << "lockstep-replay: note: the journal begins at sequence " << from
              << " (older segments were removed): dumping from there\n";
  }
  std::string error;
  std::uint64_t next = from;
  bool finished = false;
  const auto s = scan_journal_from(*j.io, from, [&](const JournalEntry& e) {
    if (e.sequence > to) {
      finished = true;
      return false;
    }
    TxResultView v;
    std::string why;
    if (!decode_tx_result(e.bytes, &v, &why)) {
      error = where(e) + ": the TxResult does not decode: " + why;
      return false;
    }
    std::cout << result_json(j.domain, v) << "\n";
    next = e.sequence + 1;
    return true;
  });
  std::cout.flush();
  if (!error.empty()) throw Failure(error);
  if (!s.is_ok()) {
    if (!finished) throw Failure(s.message());
    std::cerr << "lockstep-replay: warning: further on, " << s.message() << "\n";
  }
  if (a.from && next == from) {
    throw Failure("sequence " + std::to_string(from) + " is not in the journal");
  }
  return 0;
}

const schema::Struct& table_named(const schema::Domain& d, const std::string& name) {
  for (const schema::Struct& s : d.records) {
    if (s.name == name) return s;
  }
  std::string names;
  for (const schema::Struct& s : d.records) names += (names.empty() ? "" : ", ") + s.name;
  throw Failure("no table '" + name + "' in domain " + d.name + " (it has: " + names + ")");
}

int history(const Args& a) {
  Journal j = open_journal(a.dir);
  const schema::Struct& t = table_named(j.domain, a.table);
  std::string key;
  std::string error;
  if (!key_from_json(j.domain, t, a.key, &key, &error)) throw Failure("--key: " + error);
  auto r = begin_at_start(j);
  const auto table = static_cast<std::uint16_t>(t.number);
  std::string before;
  {
    const auto b = r->state().find(table, key);
    before.assign(reinterpret_cast<const char*>(b.data()), b.size());
  }
  const auto image_json = [&](const std::string& img) -> std::string {
    if (img.empty()) return "null";
    std::string out;
    std::string why;
    if (!schema::to_json(j.domain, t, {reinterpret_cast<const std::byte*>(img.data()), img.size()},
                         &out, &why)) {
      return quote("undecodable: " + why);
    }
    return out;
  };
  std::uint64_t found = 0;
  if (!a.json) {
    std::cout << "history of " << t.name << " " << a.key << " in " << a.dir << "\n";
    if (r->snapshot()) {
      std::cout << "  (from snapshot " << snapshot::snapshot_file_name(r->snapshot()->next_sequence)
                << ": before it, " << image_json(before) << ")\n";
    }
  }
  run(
      j, *r,
      [&](const JournalEntry&) {
        const auto now = r->state().find(table, key);
        const std::string after(reinterpret_cast<const char*>(now.data()), now.size());
        bool touched = false;
        for (const TxWriteView& w : r->last().writes) {
          if (w.table != table) continue;
          if (w.op == kWriteErase) {
            touched |= std::string_view(reinterpret_cast<const char*>(w.bytes.data()),
                                        w.bytes.size()) == key;
          } else {
            std::string k;
            encode_key(t, t.primary, w.bytes.data(), &k);
            touched |= k == key;
          }
        }
        if (!touched) return true;
        ++found;
        const TxResultView& v = r->last();
        const schema::Struct* c = j.domain.find_command(v.command_kind);
        std::string cmd;
        std::string why;
        if (c == nullptr || !schema::to_json(j.domain, *c, v.command, &cmd, &why)) cmd = "null";
        if (a.json) {
          std::cout << "{\"sequence\":" << v.command_sequence
                    << ",\"tx_sequence\":" << v.tx_sequence << ",\"time_ns\":" << v.logical_time_ns
                    << ",\"client_id\":" << v.client_id << ",\"request_id\":" << v.request_id
                    << ",\"kind\":" << quote(c ? c->name : std::to_string(v.command_kind))
                    << ",\"command\":" << cmd << ",\"before\":" << image_json(before)
                    << ",\"after\":" << image_json(after)
                    << ",\"events\":" << events_json(j.domain, v) << "}\n";
        } else {
          std::cout << "sequence " << v.command_sequence << " (tx " << v.tx_sequence << ", time "
                    << v.logical_time_ns << " ns, client " << v.client_id << " request "
                    << v.request_id << "): " << (c ? c->name : std::to_string(v.command_kind))
                    << " " << cmd << "\n"
                    << "  before " << image_json(before) << "\n"
                    << "  after  " << image_json(after) << "\n";
          for (const TxEventView& e : v.events) {
            std::cout << "  event  " << event_name(j.domain, e.kind) << " "
                      << event_fields_json(j.domain, e) << "\n";
          }
        }
        before = after;
        return true;
      },
      nullptr);
  if (!a.json) std::cout << found << " transactions wrote it\n";
  return 0;
}

int state(const Args& a) {
  Journal j = open_journal(a.dir);
  const std::uint64_t at = *a.at;
  if (at == UINT64_MAX)
    throw Failure("sequence " + std::to_string(at) + " is past the journal's end");
  std::vector<std::string> skipped;
  auto r = begin(j, at + 1, &skipped);  // a snapshot holding entries up to `at` at most
  note_skipped(skipped);
  if (at + 1 < r->next_sequence()) {
    throw Failure("sequence " + std::to_string(at) + " is before the journal's first (" +
                  std::to_string(j.head.first_sequence) + ")");
  }
  if (r->next_sequence() <= at) {
    run(
        j, *r, [&](const JournalEntry& e) { return e.sequence < at; }, nullptr);
  }
  if (r->next_sequence() != at + 1) {
    throw Failure(
        "sequence " + std::to_string(at) + " is past the journal's end (its last is " +
        (r->next_sequence() == 0 ? std::string("none") : std::to_string(r->next_sequence() - 1)) +
        ")");
  }
  if (r->in_chain()) {
    std::cerr << "lockstep-replay: note: sequence " << at
              << " is inside a linked chain; the state shown has the chain's writes so far\n";
  }
  std::uint64_t exported = 0;
  if (!a.export_path.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(a.export_path, ec)) {
      throw Failure("cannot write " + a.export_path +
                    ": it is a directory (--export takes a file)");
    }
    std::ofstream out(a.export_path, std::ios::binary | std::ios::trunc);
    if (!out) throw Failure("cannot write " + a.export_path + ": " + std::strerror(errno));
    const auto& records = j.domain.records;
    for (std::size_t t = 0; t < records.size(); ++t) {
      r->state().for_each(
          static_cast<std::uint16_t>(t), [&](std::string_view, std::span<const std::byte> image) {
            std::string js;
            std::string why;
            if (!schema::to_json(j.domain, records[t], image, &js, &why)) {
              js = quote("undecodable: " + why);
            }
            out << "{\"table\":" << quote(records[t].name) << ",\"record\":" << js << "}\n";
            ++exported;
          });
    }
    out.flush();
    if (!out) throw Failure("error writing " + a.export_path + ": " + std::strerror(errno));
  }
  const StateHash& h = r->state().hash();
  if (a.json) {
    std::cout << "{\"sequence\":" << at << ",\"state_hash\":" << quote(hash_text(h))
              << ",\"records\":" << h.records << ",\"snapshot\":"
              << (r->snapshot() ? quote(snapshot::snapshot_file_name(r->snapshot()->next_sequence))
                                : "null")
              << ",\"replayed\":" << r->entries() << "}\n";
  } else {
    std::cout << "state after sequence " << at << ": " << hash_text(h) << ", " << h.records
              << " records";
    if (r->snapshot()) {
      std::cout << " (snapshot " << snapshot::snapshot_file_name(r->snapshot()->next_sequence)
                << " + " << r->entries() << " entries)";
    } else {
      std::cout << " (" << r->entries() << " entries replayed)";
    }
    std::cout << "\n";
    if (!a.export_path.empty()) {
      std::cout << exported << " records written to " << a.export_path << "\n";
    }
  }
  return 0;
}

int stats(const Args& a) {
  Journal j = open_journal(a.dir);
  journal::RecoveryReport report;
  std::uint64_t entries = 0, committed = 0, frames = 0, bytes = 0, first_seq = 0, last_seq = 0;
  std::int64_t first_time = 0, last_time = 0;
  std::map<std::string, std::uint64_t> segment_entries;
  std::string error;
  const auto s = scan_journal(*j.io, &report, [&](const JournalEntry& e) {
    TxResultView v;
    std::string why;
    if (!decode_tx_result(e.bytes, &v, &why)) {
      error = where(e) + ": the TxResult does not decode: " + why;
      return false;
    }
    if (entries == 0) {
      first_seq = e.sequence;
      first_time = v.logical_time_ns;
    }
    last_seq = e.sequence;
    last_time = v.logical_time_ns;
    ++entries;
    committed += v.outcome.is_ok() ? 1 : 0;
    bytes += e.bytes.size();
    if (e.last_in_frame) ++frames;
    ++segment_entries[e.segment];
    return true;
  });
  if (!s.is_ok()) throw Failure(s.message() + salvage_hint(j, s));
  if (!error.empty()) throw Failure(error);
  const std::vector<SnapshotCheck> snaps = check_snapshots(j);
  const bool snapshots_ok =
      std::all_of(snaps.begin(), snaps.end(), [](const SnapshotCheck& c) { return c.ok; });
  if (a.json) {
    std::cout << "{\"domain\":" << quote(j.domain.name) << ",\"segments\":" << report.segments
              << ",\"frames\":" << frames << ",\"entries\":" << entries
              << ",\"committed\":" << committed << ",\"refused\":" << entries - committed
              << ",\"entry_bytes\":" << bytes << ",\"first_sequence\":" << first_seq
              << ",\"last_sequence\":" << last_seq << ",\"first_time_ns\":" << first_time
              << ",\"last_time_ns\":" << last_time
              << ",\"torn_tail\":" << (report.torn_tail ? "true" : "false")
              << ",\"markers\":" << report.markers
              << ",\"closed_cleanly\":" << (report.closed_cleanly ? "true" : "false")
              << ",\"proven_through\":" << report.proven_through << ",\"end\":" << end_json(report)
              << ",\"snapshots\":" << snapshots_json(snaps) << "}\n";
  } else {
    std::cout << "journal " << a.dir << " (domain " << j.domain.name << " version "
              << j.domain.version << ")\n"
              << "  segments   " << report.segments << "\n";
    for (const auto& [name, n] : segment_entries) {
      std::cout << "    " << name << "  " << n << " entries\n";
    }
    std::cout << "  frames     " << frames << "\n"
              << "  entries    " << entries << " (" << committed << " committed, "
              << entries - committed << " refused), " << bytes << " bytes\n";
    if (entries > 0) {
      std::cout << "  sequences  " << first_seq << " to " << last_seq << "\n"
                << "  time       " << first_time << " to " << last_time << " ns ("
                << (last_time - first_time) / 1'000'000 << " ms)\n";
    }
    std::cout << "  markers    " << report.markers
              << (report.closed_cleanly ? ", closed cleanly" : "") << "\n";
    if (report.torn_tail) std::cout << "  torn tail  " << report.torn_detail << "\n";
    std::cout << "  snapshots  " << snaps.size() << "\n";
    for (const SnapshotCheck& c : snaps) {
      std::cout << "    " << c.file << (c.ok ? "" : "  DOES NOT VERIFY: " + c.error) << "\n";
    }
  }
  if (report.torn_tail) warn_torn_tail(report, report.tail.next_sequence);
  return snapshots_ok ? 0 : 1;
}

int take_snapshot(const Args& a) {
  Journal j = open_journal(a.dir);
  std::vector<std::string> skipped;
  auto r = begin(j, UINT64_MAX, &skipped);
  note_skipped(skipped);
  // Replay to the journal's end: the last good frame's end.
  run(
      j, *r, [](const JournalEntry&) { return true; }, nullptr);
  if (!r->at_frame_end()) throw Failure("internal: the journal's last entry ends no frame");
  std::string name;
  std::string error;
  if (!r->write_snapshot(*j.io, j.head.flags, j.head.descriptor, &name, &error)) {
    throw Failure(error);
  }
  if (a.keep) {
    if (snapshot::SnapshotStatus s = snapshot::prune_snapshots(*j.io, *a.keep); !s.is_ok())
      throw Failure(s.message());
  }
  const StateHash& h = r->state().hash();
  if (a.json) {
    std::cout << "{\"file\":" << quote(name) << ",\"next_sequence\":" << r->next_sequence()
              << ",\"state_hash\":" << quote(hash_text(h)) << ",\"records\":" << h.records << "}\n";
  } else {
    std::cout << "wrote " << name << ": " << h.records << " records, state " << hash_text(h)
              << ", the effect of sequences below " << r->next_sequence() << "\n";
  }
  return 0;
}

// What a salvage of the journal keeps and sets aside; with --apply, does it. Snapshots
// past the cut (they hold commands the journal no longer has) are set aside too.
int salvage(const Args& a) {
  Journal j = open_journal(a.dir);
  journal::RecoveryReport report;
  const journal::RecoveryStatus s = journal::recover_journal(
      *j.io, a.apply ? journal::RecoveryMode::kSalvage : journal::RecoveryMode::kSalvageDryRun,
      &report);
  if (!s.is_ok()) {
    throw Failure(s.message() + (s.error == journal::RecoveryError::kBadSegment
                                     ? " (salvage keeps nothing before the first segment)"
                                     : ""));
  }
  std::vector<std::pair<std::uint64_t, std::string>> all;
  if (snapshot::SnapshotStatus ss = snapshot::list_snapshots(*j.io, &all); !ss.is_ok())
    throw Failure(ss.message());
  // Snapshots past the journal's (new) end: set aside whether this run cut the journal or
  // an earlier, interrupted one did.
  std::vector<std::pair<std::string, std::string>> stale;  // snapshot, its new name
  std::vector<std::string> names;
  if (journal::IoStatus st = j.io->list(&names); !st) throw Failure(st.message());
  for (const auto& [seq, name] : all) {
    if (seq <= report.tail.next_sequence) continue;
    std::string side = name + ".discarded";
    for (int i = 1; std::find(names.begin(), names.end(), side) != names.end(); ++i) {
      side = name + ".discarded." + std::to_string(i);
    }
    if (a.apply) {
      if (journal::IoStatus st = j.io->rename(name, side); !st) throw Failure(st.message());
    }
    stale.emplace_back(name, side);
  }
  if (a.apply && !stale.empty()) {
    if (journal::IoStatus st = j.io->sync_directory(); !st) throw Failure(st.message());
  }
  const bool needed = report.salvaged || !stale.empty();
  const std::uint64_t kept = report.tail.next_sequence;
  if (a.json) {
    std::cout << "{\"salvage_needed\":" << (needed ? "true" : "false")
              << ",\"applied\":" << (a.apply && needed ? "true" : "false")
              << ",\"kept_through\":" << kept
              << ",\"detail\":" << (report.salvaged ? quote(report.salvage_detail) : "null")
              << ",\"torn_tail\":" << (report.torn_tail ? quote(report.torn_detail) : "null")
              << ",\"set_aside\":[";
    std::size_t n = 0;
    for (const std::string& d : report.discarded) std::cout << (n++ ? "," : "") << quote(d);
    for (const auto& [from, to] : stale) std::cout << (n++ ? "," : "") << quote(to);
    std::cout << "]}\n";
  } else if (!needed) {
    std::cout << "journal " << a.dir << ": nothing to salvage: it verifies to sequence " << kept
              << (report.torn_tail ? " (with a torn tail the engine drops on its next open: " +
                                         report.torn_detail + ")"
                                   : std::string())
              << "\n";
  } else {
    std::cout << "journal " << a.dir << ": "
              << (a.apply ? "salvaged" : "a salvage would keep the journal") << " up to sequence "
              << kept << " (entries below " << kept << ")\n";
    if (report.salvaged) std::cout << "  " << report.salvage_detail << "\n";
    for (const auto& [from, to] : stale) {
      std::cout << "  snapshot " << from << " (past the cut) "
                << (a.apply ? "set aside as " : "to be set aside as ") << to << "\n";
    }
    if (!a.apply) {
      std::cout << "nothing was changed; run `lockstep-replay salvage " << a.dir
                << " --apply` to do it (every byte cut is kept in the files named)\n";
    }
  }
  return needed && !a.apply ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    if (a.command == "verify") return verify(a);
    if (a.command == "dump") return dump(a);
    if (a.command == "history") return history(a);
    if (a.command == "state") return state(a);
    if (a.command == "stats") return stats(a);
    if (a.command == "salvage") return salvage(a);
    return take_snapshot(a);
  } catch (const HelpAsked&) {
    std::cout << kUsage;
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "lockstep-replay: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const Failure& e) {
    std::cerr << "lockstep-replay: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lockstep-replay: " << e.what() << "\n";
    return 1;
  }
}
