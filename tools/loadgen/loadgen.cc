// lockstep-loadgen: drives an embedded engine with a domain's workload and reports
// throughput, outcomes and latencies (docs/loadgen.md).
//
//   lockstep-loadgen ledger [--accounts N] [--transfers N | --duration S]
//                    [--distribution uniform|zipf] [--zipf-s S] [--seed N]
//                    [--rate R] [--producers P] [--batch-max B]
//                    [--durability fsync|none] [--layout TEXT] [--journal DIR]
//                    [--input FILE [--results FILE]] [--json] [--hgrm DIR] [--plot FILE.png]
//   lockstep-loadgen matching [--instruments N] [--accounts N] [--orders N | --duration S]
//                    [--mix L,M,I,F,P] [--cancel-percent C] [--replace-percent R]
//                    [--spread T] [--max-quantity Q] [--resting-max N] and the same
//                    run, journal and output options
//
// Generated workload: the setup (the ledger's accounts, the matching domain's
// instruments) runs first, not timed; then the transfers or orders are timed: from the
// first submission to the last acknowledgement. Closed loop (the
// default): producers submit as fast as the engine takes commands (a full ingress makes
// them wait), so latency includes queueing. Open loop (--rate): commands are due at fixed
// intervals and each one's latency is measured from when it was due, not from when it
// could be sent, so a stall counts against every command it delayed (no coordinated
// omission).
//
// --input: every line of FILE is parsed first (a bad line is reported with its number
// and nothing is submitted); then the commands run in file order through one session.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/outcome.h"
#include "ledger_domain.h"
#include "matching_domain.h"
#include "order_flow.h"
#include "pipeline/cpu_relax.h"
#include "pipeline/histogram.h"
#include "runtime/engine.h"
#include "schema/descriptor.h"
#include "schema/json.h"
#include "schema/model.h"

namespace {

using lockstep::Completion;
using lockstep::CompletionStatus;
using lockstep::SubmitResult;

struct Options {
  std::string domain;
  std::uint64_t accounts = 100'000;     // matching: 1,000 unless given
  std::uint64_t transfers = 1'000'000;  // matching: the orders (--orders)
  double duration_s = 0;                // > 0: run for this long instead of a count
  std::string distribution = "uniform";
  double zipf_s = 1.0;
  std::uint64_t seed = 1;
  double rate = 0;  // > 0: open loop at this many commands per second
  int producers = 1;
  std::size_t batch_max = lockstep::kBatchCommands;
  std::string durability = "fsync";
  std::string layout;
  std::string journal;
  std::string input;
  std::string results;
  bool json = false;
  std::string hgrm_dir;
  std::string plot;
  std::string clock = "wall";
  bool executor_only = false;
  bool project = false;
  bool direct_io = false;
  bool idle_markers = true;
  std::size_t writes_in_flight = 0;  // 0: the journal's default
  double expire_every_ms = 0;        // > 0: the engine submits ExpirePending this often
  std::uint64_t window = 16384;      // closed loop: most commands outstanding per producer
  std::uint64_t limit_every = 0;     // accounts whose id this divides: debits <= credits
  std::string emit_workload;
  std::string balances;
  std::uint64_t segment_bytes = 0;   // 0: the journal's default
  std::uint64_t snapshot_every = 0;  // > 0: the engine snapshots every N commands while running
  std::size_t snapshot_keep = 2;
  bool open_only = false;      // open the journal (timing recovery), report, and stop
  matching::FlowOptions flow;  // matching: the order flow (its seed and ids are set per producer)
};

bool is_matching(const Options& o) { return o.domain == "matching"; }

// --clock sequence: logical time advances one nanosecond per command from 1, whatever
// the wall clock says, so two runs of one workload end in the same state hash.
std::int64_t zero_clock() { return 0; }

[[noreturn]] void usage(const std::string& error) {
  std::FILE* out = error.empty() ? stdout : stderr;
  if (!error.empty()) std::fprintf(out, "lockstep-loadgen: %s\n", error.c_str());
  std::fprintf(
      out,
      "usage: lockstep-loadgen ledger|matching [options]\n"
      "  --accounts N           ledger: accounts to create first (default 100000);\n"
      "                         matching: accounts placing orders (default 1000)\n"
      "  --transfers N          ledger: transfers to run (default 1000000)\n"
      "  --orders N             matching: commands to run (default 1000000): orders,\n"
      "                         cancels and replaces\n"
      "  --duration S           run for S seconds instead\n"
      "  --instruments N        matching: order books (default 1)\n"
      "  --mix L,M,I,F,P        matching: parts of limit, market, ioc, fok and post-only\n"
      "                         orders (default 60,5,10,5,20)\n"
      "  --cancel-percent C     matching: commands that cancel a resting order (default 30)\n"
      "  --replace-percent R    matching: commands that replace one (default 5)\n"
      "  --spread T             matching: ticks orders are priced around the mid, which\n"
      "                         walks a tick every 64 orders (default 20)\n"
      "  --max-quantity Q       matching: order quantities 1..Q (default 100)\n"
      "  --resting-max N        matching: orders each producer keeps resting at most,\n"
      "                         cancelling one when over (default 10000)\n"
      "  --distribution D       uniform (default) or zipf: how accounts are picked\n"
      "  --zipf-s S             zipf exponent (default 1.0)\n"
      "  --seed N               workload seed (default 1)\n"
      "  --rate R               open loop: R commands per second, latency from the\n"
      "                         intended send time; default: closed loop at full speed\n"
      "  --producers P          submitting threads (default 1)\n"
      "  --batch-max B          most commands per ring slot, 1 to 64 (default 64)\n"
      "  --durability MODE      fsync (default: acknowledge after fdatasync) or none\n"
      "                         (acknowledge after the write: NOT durable)\n"
      "  --layout TEXT          thread layout, e.g. 'ingest,sequence,execute|journal,publish'\n"
      "  --journal DIR          journal directory (default: a fresh temporary one, removed)\n"
      "  --input FILE           run the commands of a JSON-lines file instead\n"
      "  --results FILE         with --input: one JSON line per command, in input order\n"
      "  --json                 print one JSON object instead of the table\n"
      "  --hgrm DIR             write one .hgrm file per stage and for acknowledgements\n"
      "  --plot FILE.png        draw the latency percentile curves (needs gnuplot)\n"
      "  --window W             closed loop: at most W commands outstanding per producer\n"
      "                         (default 16384)\n"
      "  --limit-every N        ledger: every N-th account may not have more debits than\n"
      "                         credits (default 0: none), so some transfers are refused\n"
      "  --emit-workload FILE   ledger: also write the generated accounts and transfers as\n"
      "                         CSV (bench/peers feeds them to other systems)\n"
      "  --balances FILE        ledger: after the run, write id,debits_posted,credits_posted\n"
      "                         per account, by id\n"
      "  --snapshot-every N     the engine writes a snapshot every N commands while running\n"
      "                         (docs/embedding.md, \"Snapshots\"); --snapshot-keep K keeps\n"
      "                         the newest K (default 2)\n"
      "  --segment-bytes N      journal segment size (default 256 MiB; a journal reopened\n"
      "                         with another size goes on in a new segment of that size)\n"
      "  --open-only            open the journal (from its newest snapshot, if any), report\n"
      "                         how long that took, and stop: a cold-start measurement\n"
      "  --expire-every MS      ledger: the engine submits ExpirePending{1000} every MS ms of\n"
      "                         wall time (expires pending transfers; default: never)\n"
      "  --writes-in-flight N   journal frames in flight at once (default 4)\n"
      "  --direct-io            write the journal with O_DIRECT (no page cache)\n"
      "  --no-idle-markers      no idle markers in the journal (to measure what they cost:\n"
      "                         after a crash, the last acknowledged frames are then proven\n"
      "                         only by the frames after them; docs/journal-format.md)\n"
      "  --project              keep a read-only projection while running, and check at\n"
      "                         the end that it equals the state\n"
      "  --executor-only        the baseline: the same setup and timed commands (one\n"
      "                         producer's) through the executor alone, on this thread\n"
      "                         (no pipeline, no journal)\n"
      "  --clock wall|sequence  logical time from the wall clock (default), or one ns per\n"
      "                         command from 1 (reproducible state hashes)\n");
  std::exit(error.empty() ? 0 : 2);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    usage(std::string(flag) + ": '" + std::string(text) + "' is not a valid number");
  }
  return v;
}

// Every option: whether it takes a value, and the one domain it belongs to (none: both).
struct OptionSpec {
  const char* name;
  bool takes_value;
  const char* domain;  // "ledger", "matching", or nullptr
};
constexpr OptionSpec kOptions[] = {
    {"--json", false, nullptr},
    {"--executor-only", false, nullptr},
    {"--project", false, nullptr},
    {"--direct-io", false, nullptr},
    {"--no-idle-markers", false, nullptr},
    {"--open-only", false, nullptr},
    {"--accounts", true, nullptr},
    {"--duration", true, nullptr},
    {"--seed", true, nullptr},
    {"--rate", true, nullptr},
    {"--producers", true, nullptr},
    {"--batch-max", true, nullptr},
    {"--durability", true, nullptr},
    {"--layout", true, nullptr},
    {"--journal", true, nullptr},
    {"--input", true, nullptr},
    {"--results", true, nullptr},
    {"--hgrm", true, nullptr},
    {"--plot", true, nullptr},
    {"--clock", true, nullptr},
    {"--window", true, nullptr},
    {"--writes-in-flight", true, nullptr},
    {"--snapshot-every", true, nullptr},
    {"--snapshot-keep", true, nullptr},
    {"--segment-bytes", true, nullptr},
    {"--transfers", true, "ledger"},
    {"--distribution", true, "ledger"},
    {"--zipf-s", true, "ledger"},
    {"--limit-every", true, "ledger"},
    {"--emit-workload", true, "ledger"},
    {"--balances", true, "ledger"},
    {"--expire-every", true, "ledger"},
    {"--orders", true, "matching"},
    {"--instruments", true, "matching"},
    {"--mix", true, "matching"},
    {"--cancel-percent", true, "matching"},
    {"--replace-percent", true, "matching"},
    {"--spread", true, "matching"},
    {"--max-quantity", true, "matching"},
    {"--resting-max", true, "matching"},
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("which domain? (ledger or matching)");
  o.domain = argv[1];
  if (o.domain == "--help" || o.domain == "-h") usage("");
  if (o.domain != "ledger" && o.domain != "matching") {
    usage("unknown domain '" + o.domain + "' (known: ledger, matching)");
  }
  bool transfers_given = false;
  bool accounts_given = false;
  std::vector<std::string> given;    // every option given, in order
  std::vector<std::string> shaping;  // matching options that shape the generated flow
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("");
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& x : kOptions) {
      if (flag == x.name) spec = &x;
    }
    if (spec == nullptr) usage("unknown option " + flag);
    if (spec->domain != nullptr && o.domain != spec->domain) {
      usage(flag + " is an option of the " + spec->domain + " workload, not of " + o.domain);
    }
    given.push_back(flag);
    if (spec->domain != nullptr && std::string_view(spec->domain) == "matching" &&
        flag != "--orders") {
      shaping.push_back(flag);
    }
    if (!spec->takes_value) {
      if (flag == "--json") o.json = true;
      if (flag == "--executor-only") o.executor_only = true;
      if (flag == "--project") o.project = true;
      if (flag == "--direct-io") o.direct_io = true;
      if (flag == "--no-idle-markers") o.idle_markers = false;
      if (flag == "--open-only") o.open_only = true;
      continue;
    }
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--accounts") {
      o.accounts = parse_number<std::uint64_t>(flag, value);
      accounts_given = true;
    } else if (flag == "--transfers" || flag == "--orders") {
      o.transfers = parse_number<std::uint64_t>(flag, value);
      transfers_given = true;
    } else if (flag == "--instruments") {
      o.flow.instruments = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--mix") {
      std::vector<std::uint32_t> parts;
      for (std::size_t begin = 0;;) {
        const std::size_t comma = value.find(',', begin);
        const std::size_t end = comma == std::string::npos ? value.size() : comma;
        parts.push_back(
            parse_number<std::uint32_t>(flag, std::string_view(value).substr(begin, end - begin)));
        if (comma == std::string::npos) break;
        begin = comma + 1;
      }
      if (parts.size() != 5) {
        usage("--mix: '" + value +
              "' is not five parts L,M,I,F,P (limit, market, ioc, fok, post-only)");
      }
      o.flow.limit_parts = parts[0];
      o.flow.market_parts = parts[1];
      o.flow.ioc_parts = parts[2];
      o.flow.fok_parts = parts[3];
      o.flow.post_only_parts = parts[4];
    } else if (flag == "--cancel-percent") {
      o.flow.cancel_percent = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--replace-percent") {
      o.flow.replace_percent = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--spread") {
      o.flow.spread = parse_number<std::int64_t>(flag, value);
    } else if (flag == "--max-quantity") {
      o.flow.max_quantity = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--resting-max") {
      o.flow.resting_max = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--duration") {
      o.duration_s = parse_number<double>(flag, value);
      if (!(o.duration_s > 0)) usage("--duration must be positive");
    } else if (flag == "--distribution") {
      if (value != "uniform" && value != "zipf") usage("--distribution is uniform or zipf");
      o.distribution = value;
    } else if (flag == "--zipf-s") {
      o.zipf_s = parse_number<double>(flag, value);
      if (!(o.zipf_s > 0)) usage("--zipf-s must be positive");
    } else if (flag == "--seed") {
      o.seed = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--rate") {
      o.rate = parse_number<double>(flag, value);
      if (!(o.rate > 0)) usage("--rate must be positive");
    } else if (flag == "--producers") {
      o.producers = parse_number<int>(flag, value);
      if (o.producers < 1 || o.producers > 64) usage("--producers must be in [1, 64]");
    } else if (flag == "--batch-max") {
      o.batch_max = parse_number<std::size_t>(flag, value);
      if (o.batch_max < 1 || o.batch_max > lockstep::kBatchCommands) {
        usage("--batch-max must be in [1, " + std::to_string(lockstep::kBatchCommands) + "]");
      }
    } else if (flag == "--durability") {
      if (value != "fsync" && value != "none") usage("--durability is fsync or none");
      o.durability = value;
    } else if (flag == "--layout") {
      o.layout = value;
    } else if (flag == "--journal") {
      o.journal = value;
    } else if (flag == "--input") {
      o.input = value;
    } else if (flag == "--results") {
      o.results = value;
    } else if (flag == "--hgrm") {
      o.hgrm_dir = value;
    } else if (flag == "--writes-in-flight") {
      o.writes_in_flight = parse_number<std::size_t>(flag, value);
      if (o.writes_in_flight < 1 || o.writes_in_flight > 64) {
        usage("--writes-in-flight must be in [1, 64]");
      }
    } else if (flag == "--expire-every") {
      o.expire_every_ms = parse_number<double>(flag, value);
      if (!(o.expire_every_ms > 0)) usage("--expire-every must be positive (milliseconds)");
    } else if (flag == "--window") {
      o.window = parse_number<std::uint64_t>(flag, value);
      if (o.window < 1) usage("--window must be at least 1");
    } else if (flag == "--segment-bytes") {
      o.segment_bytes = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--snapshot-every") {
      o.snapshot_every = parse_number<std::uint64_t>(flag, value);
      if (o.snapshot_every < 1) usage("--snapshot-every must be at least 1");
    } else if (flag == "--snapshot-keep") {
      o.snapshot_keep = parse_number<std::size_t>(flag, value);
      if (o.snapshot_keep < 1) usage("--snapshot-keep must be at least 1");
    } else if (flag == "--limit-every") {
      o.limit_every = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--emit-workload") {
      o.emit_workload = value;
    } else if (flag == "--balances") {
      o.balances = value;
    } else if (flag == "--clock") {
      if (value != "wall" && value != "sequence") usage("--clock is wall or sequence");
      o.clock = value;
    } else if (flag == "--plot") {
      o.plot = value;
    }
  }
  const auto was_given = [&](std::string_view f) {
    return std::find(given.begin(), given.end(), f) != given.end();
  };
  if (is_matching(o)) {
    if (!accounts_given) o.accounts = 1000;
    o.flow.accounts = o.accounts;
    if (!o.input.empty() && !shaping.empty()) {
      usage(shaping.front() + " shapes the generated order flow: it has no effect with --input");
    }
    if (o.input.empty()) {
      try {
        matching::validate(o.flow);
      } catch (const std::invalid_argument& e) {
        usage(std::string("matching: ") + e.what());
      }
    }
  }
  // --executor-only runs one producer's generated commands on this thread, with no
  // engine around the executor: options about anything else would be silently ignored.
  if (o.executor_only) {
    for (const char* f : {"--duration", "--input", "--open-only", "--rate", "--journal",
                          "--project", "--hgrm", "--plot", "--snapshot-every", "--expire-every"}) {
      if (was_given(f)) usage(std::string(f) + " does not apply to --executor-only");
    }
    if (o.producers != 1) usage("--executor-only runs one producer's commands");
  }
  if (o.duration_s > 0 && transfers_given) {
    usage(std::string("give ") + (is_matching(o) ? "--orders" : "--transfers") +
          " or --duration, not both");
  }
  if (!o.results.empty() && o.input.empty()) usage("--results needs --input");
  if (o.open_only && o.journal.empty()) usage("--open-only needs --journal DIR");
  if (!is_matching(o) && o.accounts < 2 && o.input.empty()) usage("--accounts must be at least 2");
  if (o.rate > 0 && o.producers != 1) usage("--rate runs one producer (leave out --producers)");
  if (!o.emit_workload.empty() && (o.producers != 1 || o.duration_s > 0 || !o.input.empty())) {
    usage("--emit-workload needs one producer and --transfers (not --duration, not --input)");
  }
  return o;
}

// ---- Workload ------------------------------------------------------------------------

// Picks account indexes in [0, n): uniform, or zipf(s) over a seeded permutation (so the
// hot accounts are not simply the first ids).
class AccountPicker {
 public:
  AccountPicker(std::uint64_t n, bool zipf, double s, std::uint64_t seed)
      : n_(n), zipf_(zipf), rng_(seed) {
    if (!zipf) return;
    cdf_.resize(n);
    double sum = 0;
    for (std::uint64_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
      cdf_[k] = sum;
    }
    for (double& c : cdf_) c /= sum;
    perm_.resize(n);
    for (std::uint64_t k = 0; k < n; ++k) perm_[k] = k;
    std::mt19937_64 shuffle(seed ^ 0x9E3779B97F4A7C15ull);
    std::shuffle(perm_.begin(), perm_.end(), shuffle);
  }
  std::uint64_t next() {
    if (!zipf_) return rng_() % n_;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    const auto rank = static_cast<std::uint64_t>(
        std::min<std::ptrdiff_t>(it - cdf_.begin(), static_cast<std::ptrdiff_t>(n_) - 1));
    return perm_[rank];
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::uint64_t n_;
  bool zipf_;
  std::mt19937_64 rng_;
  std::vector<double> cdf_;
  std::vector<std::uint64_t> perm_;
};

constexpr std::uint32_t kLedger = 1;

ledger::CreateAccount account_command(std::uint64_t id, std::uint64_t limit_every) {
  ledger::CreateAccount c{};
  c.id = lockstep::u128::from_u64(id);
  c.ledger = kLedger;
  c.code = 1;
  if (limit_every != 0 && id % limit_every == 0) c.flags = ledger::kDebitsMustNotExceedCredits;
  return c;
}

// Transfer `index` (0-based) of a producer's sequence: accounts from `pick`.
struct TransferSpec {
  std::uint64_t debit;  // account ids, from 1
  std::uint64_t credit;
  std::uint64_t amount;
};
TransferSpec next_transfer(AccountPicker& pick) {
  const std::uint64_t debit = pick.next();
  std::uint64_t credit = pick.next();
  while (credit == debit) credit = pick.next();
  return {debit + 1, credit + 1, 1 + pick.rng()() % 1000};
}

std::uint64_t producer_seed(const Options& o, int p) {
  return o.seed * 1'000'003 + static_cast<std::uint64_t>(p);
}

// One command ready to submit: its kind and its payload, in place.
struct Slot {
  std::uint16_t kind = 0;
  std::uint16_t size = 0;
  alignas(16) std::byte bytes[128];  // the largest command here: CreateTransfer, 112 bytes

  template <class C>
  void set(const C& c) {
    static_assert(sizeof(C) <= sizeof bytes);
    kind = C::kKind;
    size = sizeof c;
    std::memcpy(bytes, &c, sizeof c);
  }
  std::span<const std::byte> payload() const { return {bytes, size}; }
};

// The setup, run before the timed phase: the ledger's accounts (ids 1..accounts), the
// matching domain's instruments (ids 1..instruments).
std::uint64_t setup_count(const Options& o) {
  return is_matching(o) ? o.flow.instruments : o.accounts;
}
void setup_command(const Options& o, std::uint64_t i, Slot& s) {
  if (is_matching(o)) {
    s.set(matching::flow_instrument(static_cast<std::uint32_t>(i + 1)));
  } else {
    s.set(account_command(i + 1, o.limit_every));
  }
}

// A producer's timed commands: transfers with ids first_id, first_id + 1, ...; or the
// matching domain's order flow, its order ids from first_id (each command takes at most
// one), so producers given disjoint ranges never collide.
class Generator {
 public:
  Generator(const Options& o, int p, std::uint64_t first_id) : next_id_(first_id) {
    if (is_matching(o)) {
      matching::FlowOptions f = o.flow;
      f.seed = producer_seed(o, p);
      f.first_id = first_id;
      flow_.emplace(f);
    } else {
      pick_.emplace(o.accounts, o.distribution == "zipf", o.zipf_s, producer_seed(o, p));
    }
  }
  void next(Slot& s) {
    if (flow_) {
      const matching::FlowCommand c = flow_->next();
      static_assert(sizeof(matching::PlaceOrder) <= sizeof s.bytes &&
                    sizeof(matching::CancelOrder) <= sizeof s.bytes &&
                    sizeof(matching::ReplaceOrder) <= sizeof s.bytes);
      s.kind = c.kind;
      s.size = static_cast<std::uint16_t>(c.size());
      std::memcpy(s.bytes, c.data(), c.size());
      return;
    }
    const TransferSpec t = next_transfer(*pick_);
    ledger::CreateTransfer c{};
    c.id = lockstep::u128::from_u64(next_id_++);
    c.debit_account_id = lockstep::u128::from_u64(t.debit);
    c.credit_account_id = lockstep::u128::from_u64(t.credit);
    c.amount = t.amount;
    c.ledger = kLedger;
    c.code = 1;
    s.set(c);
  }

 private:
  std::uint64_t next_id_;
  std::optional<AccountPicker> pick_;
  std::optional<matching::OrderFlow> flow_;
};

// Table capacities for a generated run of `commands` timed commands. The matching
// domain's resting orders are bounded by the flow: at most resting_max + 1 per producer.
std::vector<std::uint32_t> capacities(const Options& o, std::uint64_t commands) {
  const auto cap = [](std::uint64_t n) {
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(n, 1024, 0xFFFFFFF0u));
  };
  if (is_matching(o)) {
    // Both bounded by matching::validate (instruments <= 2^20, resting_max <= 2^22) and
    // producers <= 64: no overflow.
    // Instruments, orders, and orders' expiries (as many as orders: a --input file's
    // orders may all expire; the generated flow's never do).
    const std::uint32_t orders =
        cap(static_cast<std::uint64_t>(o.producers) * (o.flow.resting_max + 1) + 1024);
    return {cap(o.flow.instruments), orders, orders};
  }
  return {cap(o.accounts), cap(commands)};
}

// ---- Completions ---------------------------------------------------------------------

// Counted on the publish thread, read by the main thread.
struct Tally {
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> other{0};  // duplicate, invalid, failed
  // Refusals by outcome code: the domain's below 256, the engine's (0x10000 and up) in
  // by_other_code. Publish thread only; read after stop.
  std::vector<std::uint64_t> by_code;
  std::map<std::uint32_t, std::uint64_t> by_other_code;
  lockstep::Histogram ack_ns{lockstep::StageMetrics::kLatencyConfig};
  std::atomic<bool> timed{false};  // record latencies (the transfer phase)
  // Completions per producer (client id p + 1), for the closed loop's window.
  std::atomic<std::uint64_t> completed_by[64] = {};

  Tally() : by_code(256, 0) {}

  void count(const Completion& c, std::int64_t due_ns) {
    switch (c.status) {
      case CompletionStatus::kCommitted: committed.fetch_add(1, std::memory_order_relaxed); break;
      case CompletionStatus::kRefused: {
        rejected.fetch_add(1, std::memory_order_relaxed);
        const std::uint32_t code = c.outcome.code();
        if (code < by_code.size()) {
          ++by_code[code];
        } else {
          ++by_other_code[code];
        }
        break;
      }
      default: other.fetch_add(1, std::memory_order_relaxed);
    }
    if (c.client_id >= 1 && c.client_id <= 64) {
      completed_by[c.client_id - 1].fetch_add(1, std::memory_order_release);
    }
    if (timed.load(std::memory_order_relaxed) && due_ns != 0) {
      ack_ns.record(lockstep::monotonic_now_ns() - due_ns);
    }
    completed.fetch_add(1, std::memory_order_release);
  }
};

// The context of a generated command's completion is the time it was due (monotonic ns).
void on_generated(void* context, const Completion& c);
Tally* g_tally = nullptr;
void on_generated(void* context, const Completion& c) {
  g_tally->count(c, static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(context)));
}

// ---- Input files ---------------------------------------------------------------------

struct InputCommand {
  std::uint16_t kind = 0;
  std::vector<std::byte> payload;
  // Set by the completion.
  CompletionStatus status = CompletionStatus::kFailed;
  std::uint32_t code = 0;
  std::uint64_t sequence = lockstep::kNoSequence;
};

void on_input(void* context, const Completion& c);
void on_input(void* context, const Completion& c) {
  auto* in = static_cast<InputCommand*>(context);
  in->status = c.status;
  in->code = c.outcome.code();
  in->sequence = c.sequence;
  g_tally->count(c, 0);
}

// ---- Files ---------------------------------------------------------------------------
// Every file error names the path and why: errno's text, or "Is a directory", which
// opening a directory for reading does not report (only its reads fail).

bool is_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// Why the file operation on `path` that just failed with `err` (errno) failed.
std::string file_error(const std::string& path, int err) {
  return std::strerror(is_directory(path) ? EISDIR : err);
}

std::ifstream open_input(const std::string& path) {
  if (is_directory(path)) {
    throw std::runtime_error(path + ": cannot read: " + std::strerror(EISDIR));
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read: " + file_error(path, errno));
  return in;
}

std::ofstream open_output(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path + ": " + file_error(path, errno));
  return out;
}

// Flushes and closes what open_output() opened; throws if any write failed.
void close_output(std::ofstream& out, const std::string& path) {
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path + ": " + file_error(path, errno));
}

// Creates `dir` (and its parents) unless it is a directory already.
void make_output_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // A file of that name: "Not a directory" (ENOTDIR), from create_directories or here.
  if (!ec && !is_directory(dir)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw std::runtime_error("cannot create the directory " + dir + ": " + ec.message());
}

std::vector<InputCommand> read_input(const std::string& path, const lockstep::schema::Domain& d) {
  std::ifstream in = open_input(path);
  std::vector<InputCommand> commands;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    InputCommand c;
    std::string error;
    if (!lockstep::schema::command_line_from_json(d, line, &c.kind, &c.payload, &error)) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + error);
    }
    commands.push_back(std::move(c));
  }
  if (in.bad()) throw std::runtime_error(path + ": read error: " + file_error(path, errno));
  return commands;
}

std::string outcome_name(const lockstep::schema::Domain& d, std::uint32_t code) {
  if (code == 0) return "ok";
  if (const lockstep::schema::Reject* r = d.find_reject(code)) return r->name;
  const std::string_view e = lockstep::engine_reject_name(code);
  return e.empty() ? "reject_" + std::to_string(code) : std::string(e);
}

// ---- Reporting -----------------------------------------------------------------------

std::string hex(std::span<const std::byte> b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::byte x : b) {
    s += digits[std::to_integer<unsigned>(x) >> 4];
    s += digits[std::to_integer<unsigned>(x) & 15];
  }
  return s;
}

std::string state_hash_hex(const lockstep::StateHash& h) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.hi),
                static_cast<unsigned long long>(h.lo));
  return buf;
}

std::string percentiles_json(const lockstep::HistogramSnapshot& h) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "{\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld}",
                static_cast<long long>(h.value_at_percentile(50)),
                static_cast<long long>(h.value_at_percentile(99)),
                static_cast<long long>(h.value_at_percentile(99.9)),
                static_cast<long long>(h.max()));
  return buf;
}

std::string us(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ns) / 1000.0);
  return buf;
}

struct RunResult {
  std::string workload;
  std::uint64_t commands = 0;
  double seconds = 0;
  std::uint64_t committed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t other = 0;
};

void write_hgrm(const std::string& dir, const lockstep::EngineStats& stats,
                const lockstep::HistogramSnapshot& ack) {
  make_output_directory(dir);
  const auto write = [&](const std::string& name, const lockstep::HistogramSnapshot& h) {
    if (h.total_count() == 0) return;
    const std::string path = (std::filesystem::path(dir) / (name + ".hgrm")).string();
    std::ofstream out = open_output(path);
    h.write_hgrm(out, 1000.0);
    close_output(out, path);
  };
  for (const auto& s : stats.stages) write(s.name, s.command_latency_ns);
  write("ack", ack);
}

void plot(const std::string& png, const lockstep::EngineStats& stats,
          const lockstep::HistogramSnapshot& ack) {
  // gnuplot would fail on these with only "is it installed?" to say.
  if (is_directory(png)) {
    throw std::runtime_error("--plot: cannot write " + png + ": " + std::strerror(EISDIR));
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("lockstep-plot-" + std::to_string(::getpid()));
  make_output_directory(dir.string());
  struct RemoveDir {  // also when a write fails
    std::filesystem::path dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{dir};
  // One data file per curve: percentile and latency, from the histogram's .hgrm rows.
  std::string cmd = "set terminal pngcairo size 1000,600\nset output '" + png +
                    "'\nset logscale x\nset logscale y\nset xlabel 'percentile'\n"
                    "set ylabel 'latency (us)'\nset key left top\n"
                    "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n"
                    "plot ";
  bool first = true;
  const auto curve = [&](const std::string& name, const lockstep::HistogramSnapshot& h) {
    if (h.total_count() == 0) return;
    const auto path = dir / (name + ".dat");
    std::ofstream out = open_output(path.string());
    for (double p = 0; p < 99.999; p = 100.0 - (100.0 - p) * 0.9) {
      out << 100.0 / (100.0 - p) << " " << static_cast<double>(h.value_at_percentile(p)) / 1000.0
          << "\n";
    }
    close_output(out, path.string());
    cmd += (first ? "" : ", ") + std::string("'") + path.string() +
           "' using 1:2 with lines title '" + name + "'";
    first = false;
  };
  for (const auto& s : stats.stages) curve(s.name, s.command_latency_ns);
  curve("acknowledged", ack);
  const auto script = dir / "plot.gp";
  {
    std::ofstream out = open_output(script.string());
    out << cmd << "\n";
    close_output(out, script.string());
  }
  const std::string run = "gnuplot '" + script.string() + "'";
  const int rc = std::system(run.c_str());
  if (rc != 0) {
    throw std::runtime_error(
        "--plot: gnuplot failed (is it installed? apt-get install gnuplot-nox)");
  }
}

// The refusals by reject name, most frequent first: (name, count).
std::vector<std::pair<std::string, std::uint64_t>> rejects_by_name(
    const lockstep::schema::Domain& schema, const std::vector<std::uint64_t>& by_code,
    const std::map<std::uint32_t, std::uint64_t>& by_other_code) {
  std::vector<std::pair<std::string, std::uint64_t>> v;
  for (std::uint32_t code = 1; code < by_code.size(); ++code) {
    if (by_code[code] != 0) v.emplace_back(outcome_name(schema, code), by_code[code]);
  }
  for (const auto& [code, n] : by_other_code) v.emplace_back(outcome_name(schema, code), n);
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}

// {"unknown_order":12,...}
std::string rejects_json(const std::vector<std::pair<std::string, std::uint64_t>>& rejects) {
  std::string out = "{";
  for (std::size_t i = 0; i < rejects.size(); ++i) {
    out += (i ? ",\"" : "\"") + rejects[i].first + "\":" + std::to_string(rejects[i].second);
  }
  return out + "}";
}

// "\n  rejected: unknown_order 12, ..." (nothing when there were none).
void print_rejects(const std::vector<std::pair<std::string, std::uint64_t>>& rejects) {
  if (rejects.empty()) return;
  std::printf("\n  rejected:");
  for (std::size_t i = 0; i < rejects.size(); ++i) {
    std::printf("%s %s %llu", i ? "," : "", rejects[i].first.c_str(),
                static_cast<unsigned long long>(rejects[i].second));
  }
}

template <class E>
void report(const Options& o, const lockstep::schema::Domain& schema, const Tally& tally,
            const RunResult& r, const E& engine, const lockstep::EngineStats& stats,
            const lockstep::HistogramSnapshot& ack) {
  const auto rejects = rejects_by_name(schema, tally.by_code, tally.by_other_code);
  const lockstep::StateHash h = engine.executor().state_hash();
  const std::string state_hash = state_hash_hex(h);
  const std::string chain_hash = hex(engine.chain_hash());
  const double per_s = r.seconds > 0 ? static_cast<double>(r.commands) / r.seconds : 0;
  const std::uint64_t last_sequence =
      engine.executor().next_sequence() == 0 ? 0 : engine.executor().next_sequence() - 1;
  if (o.json) {
    std::printf(
        "{\"domain\":\"%s\",\"workload\":\"%s\",\"commands\":%llu,\"committed\":%llu,"
        "\"rejected\":%llu,\"not_executed\":%llu,\"seconds\":%.6f,\"commands_per_s\":%.1f,"
        "\"durability\":\"%s\",\"ack_latency_ns\":%s,\"rejects\":%s,\"stages\":[",
        o.domain.c_str(), r.workload.c_str(), static_cast<unsigned long long>(r.commands),
        static_cast<unsigned long long>(r.committed), static_cast<unsigned long long>(r.rejected),
        static_cast<unsigned long long>(r.other), r.seconds, per_s, o.durability.c_str(),
        percentiles_json(ack).c_str(), rejects_json(rejects).c_str());
    for (std::size_t i = 0; i < stats.stages.size(); ++i) {
      const auto& s = stats.stages[i];
      std::string p = percentiles_json(s.command_latency_ns);
      p.pop_back();
      std::printf("%s{\"name\":\"%s\",%s,\"batch_slots_mean\":%.2f}", i ? "," : "", s.name.c_str(),
                  p.substr(1).c_str(), s.batch_slots.mean());
    }
    const lockstep::SnapshotterStatus snap = engine.snapshotter_status();
    std::printf(
        "],\"last_sequence\":%llu,\"state_hash\":\"%s\",\"state_records\":%llu,"
        "\"chain_hash\":\"%s\",\"io\":\"%s\",\"snapshots_written\":%llu,"
        "\"snapshot_last_write_ms\":%.1f}\n",
        static_cast<unsigned long long>(last_sequence), state_hash.c_str(),
        static_cast<unsigned long long>(h.records), chain_hash.c_str(),
        engine.io_note().find("refused") == std::string::npos ? "io_uring" : "posix",
        static_cast<unsigned long long>(snap.written),
        static_cast<double>(snap.last_write_ns) / 1e6);
    return;
  }
  std::printf("lockstep-loadgen %s: %s\n", o.domain.c_str(), r.workload.c_str());
  std::printf("  %llu commands in %.3f s: %.0f commands/s; committed %llu, rejected %llu",
              static_cast<unsigned long long>(r.commands), r.seconds, per_s,
              static_cast<unsigned long long>(r.committed),
              static_cast<unsigned long long>(r.rejected));
  if (r.other != 0) std::printf(", not executed %llu", static_cast<unsigned long long>(r.other));
  print_rejects(rejects);
  std::printf("\n  durability %s%s\n\n", o.durability.c_str(),
              o.durability == "none" ? " (acknowledged after the write, NOT durable)"
                                     : " (acknowledged after fdatasync)");
  std::printf("%-9s %10s %9s   %-44s\n", "", "batches", "slots/bat",
              "latency from ingest, per command (us)");
  std::printf("%-9s %10s %9s   %8s %8s %8s %8s\n", "stage", "", "mean", "p50", "p99", "p99.9",
              "max");
  for (const auto& s : stats.stages) {
    std::printf("%-9s %10lld %9.2f   ", s.name.c_str(),
                static_cast<long long>(s.batch_slots.total_count()), s.batch_slots.mean());
    const auto& l = s.command_latency_ns;
    if (l.total_count() == 0) {
      std::printf("%8s\n", "(source)");
      continue;
    }
    std::printf("%8s %8s %8s %8s\n", us(l.value_at_percentile(50)).c_str(),
                us(l.value_at_percentile(99)).c_str(), us(l.value_at_percentile(99.9)).c_str(),
                us(l.max()).c_str());
  }
  std::printf("%-9s %10s %9s   %8s %8s %8s %8s\n", "ack", "", "",
              us(ack.value_at_percentile(50)).c_str(), us(ack.value_at_percentile(99)).c_str(),
              us(ack.value_at_percentile(99.9)).c_str(), us(ack.max()).c_str());
  std::printf("  (ack: from %s to the completion, after the journal made it durable)\n\n",
              o.rate > 0 ? "when each command was due" : "submission");
  std::printf("  last sequence %llu, state hash %s (%llu records)\n",
              static_cast<unsigned long long>(last_sequence), state_hash.c_str(),
              static_cast<unsigned long long>(h.records));
  std::printf("  chain hash %s\n", chain_hash.c_str());
  std::printf("  %s\n", engine.io_note().c_str());
}

// --open-only: what opening the journal cost, and from where.
template <class E>
void report_open(const Options& o, const E& engine, double open_s) {
  const lockstep::SnapshotLoad& l = engine.snapshot_load();
  const lockstep::StateHash h = engine.executor().state_hash();
  const std::uint64_t next = engine.executor().next_sequence();
  if (o.json) {
    std::printf(
        "{\"open_seconds\":%.6f,\"snapshot\":%s%s%s,\"snapshot_sequence\":%llu,"
        "\"replayed\":%llu,\"next_sequence\":%llu,\"state_hash\":\"%s\",\"records\":%llu,"
        "\"refused_snapshots\":%zu,\"phases\":{\"tables_s\":%.6f,\"read_s\":%.6f,"
        "\"index_s\":%.6f,\"journal_s\":%.6f}}\n",
        open_s, l.loaded.empty() ? "null" : "\"", l.loaded.c_str(), l.loaded.empty() ? "" : "\"",
        static_cast<unsigned long long>(l.sequence), static_cast<unsigned long long>(l.replayed),
        static_cast<unsigned long long>(next), state_hash_hex(h).c_str(),
        static_cast<unsigned long long>(h.records), l.refused.size(), l.tables_seconds,
        l.read_seconds, l.index_seconds, l.journal_seconds);
    return;
  }
  std::printf("lockstep-loadgen %s --open-only: opened %s in %.3f s\n", o.domain.c_str(),
              o.journal.c_str(), open_s);
  if (l.loaded.empty()) {
    std::printf("  no snapshot: replayed the whole journal, %llu commands\n",
                static_cast<unsigned long long>(l.replayed));
  } else {
    std::printf("  from %s, then %llu journal commands after it\n", l.loaded.c_str(),
                static_cast<unsigned long long>(l.replayed));
  }
  for (const std::string& r : l.refused) std::printf("  refused: %s\n", r.c_str());
  std::printf("  tables %.3f s, snapshot read %.3f s, indexes %.3f s, journal %.3f s\n",
              l.tables_seconds, l.read_seconds, l.index_seconds, l.journal_seconds);
  std::printf("  next sequence %llu, state hash %s (%llu records)\n",
              static_cast<unsigned long long>(next), state_hash_hex(h).c_str(),
              static_cast<unsigned long long>(h.records));
}

// ---- Running -------------------------------------------------------------------------

// Prints a progress line about once a second while `done` is false, once the run has
// lasted two seconds.
template <class E>
class Progress {
 public:
  Progress(const E& engine, const Tally& tally)
      : engine_(engine), tally_(tally), thread_([this] { run(); }) {}
  ~Progress() {
    stop_.store(true);
    thread_.join();
  }

 private:
  void run() {
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t last = 0;
    auto last_at = start;
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto now = std::chrono::steady_clock::now();
      if (now - start < std::chrono::seconds(2) || now - last_at < std::chrono::seconds(1)) {
        continue;
      }
      const std::uint64_t done = tally_.completed.load(std::memory_order_relaxed);
      const double dt = std::chrono::duration<double>(now - last_at).count();
      std::fprintf(stderr,
                   "lockstep-loadgen: %.0f s: %llu acknowledged (durable through sequence %llu), "
                   "%.0f/s\n",
                   std::chrono::duration<double>(now - start).count(),
                   static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(engine_.stats().acknowledged_sequence),
                   static_cast<double>(done - last) / dt);
      last = done;
      last_at = now;
    }
  }
  const E& engine_;
  const Tally& tally_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void wait_completed(const Tally& tally, std::uint64_t n) {
  while (tally.completed.load(std::memory_order_acquire) < n) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

template <class Session>
void submit_or_die(Session& s, std::span<const typename Session::Request> requests) {
  const SubmitResult r = s.submit_all(requests, lockstep::kNoDeadline);
  if (r != SubmitResult::kAccepted) {
    throw std::runtime_error(std::string("submit refused: ") + std::string(lockstep::to_string(r)));
  }
}

template <class D>
void run_setup(lockstep::Engine<D>& engine, const Options& o, Tally& tally) {
  using Session = typename lockstep::Engine<D>::Session;
  Session s = engine.session(1000);
  std::vector<Slot> cmds(o.batch_max);
  std::vector<typename Session::Request> reqs(o.batch_max);
  const std::uint64_t count = setup_count(o);
  std::uint64_t i = 0;
  while (i < count) {
    std::size_t n = 0;
    for (; n < o.batch_max && i < count; ++n, ++i) {
      setup_command(o, i, cmds[n]);
      reqs[n] = typename Session::Request{cmds[n].kind, cmds[n].payload(), on_generated, nullptr};
    }
    submit_or_die(s, std::span<const typename Session::Request>(reqs.data(), n));
  }
  wait_completed(tally, count);
  if (tally.committed.load() != count) {
    throw std::runtime_error(
        "the setup (" + std::string(is_matching(o) ? "instruments" : "accounts") +
        "): " + std::to_string(count - tally.committed.load()) + " were not committed");
  }
}

// One producer's share of the timed commands. Closed loop: submit as fast as accepted;
// open loop: each command is due at start + i / rate.
template <class D>
void produce(lockstep::Engine<D>& engine, const Options& o, int p, std::uint64_t first_id,
             std::uint64_t count, std::int64_t start_ns, std::int64_t end_ns,
             std::atomic<std::uint64_t>* submitted) {
  using Session = typename lockstep::Engine<D>::Session;
  Session s = engine.session(static_cast<std::uint64_t>(p + 1));
  Generator gen(o, p, first_id);
  std::vector<Slot> cmds(o.batch_max);
  std::vector<typename Session::Request> reqs(o.batch_max);
  const double interval_ns = o.rate > 0 ? 1e9 / o.rate : 0;
  std::uint64_t i = 0;
  while (i < count) {
    std::int64_t now = lockstep::monotonic_now_ns();
    if (end_ns != 0 && now >= end_ns) break;
    std::size_t n = o.batch_max;
    if (o.rate > 0) {
      // Everything due by now (at least the next one: wait for it).
      const auto due = [&](std::uint64_t k) {
        return start_ns + static_cast<std::int64_t>(static_cast<double>(k) * interval_ns);
      };
      while (now < due(i)) {
        const std::int64_t wait = due(i) - now;
        if (wait > 100'000) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(wait - 50'000));
        } else {
          lockstep::cpu_relax();
        }
        now = lockstep::monotonic_now_ns();
      }
      n = 0;
      while (n < o.batch_max && i + n < count && due(i + n) <= now) ++n;
    }
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, count - i));
    // Closed loop: at most `window` outstanding.
    if (o.rate == 0) {
      while (i - g_tally->completed_by[p].load(std::memory_order_acquire) + n > o.window) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    }
    for (std::size_t k = 0; k < n; ++k) {
      gen.next(cmds[k]);
      const std::int64_t due =
          o.rate > 0
              ? start_ns + static_cast<std::int64_t>(static_cast<double>(i + k) * interval_ns)
              : now;
      reqs[k] =
          typename Session::Request{cmds[k].kind, cmds[k].payload(), on_generated,
                                    reinterpret_cast<void*>(static_cast<std::uintptr_t>(due))};
    }
    submit_or_die(s, std::span<const typename Session::Request>(reqs.data(), n));
    i += n;
    submitted->fetch_add(n, std::memory_order_relaxed);
  }
}

// What a generated run ran, for the report: "1000 transfers over 100 accounts (uniform),
// closed loop, 1 producer".
std::string workload_name(const Options& o, std::uint64_t commands, bool how = true) {
  char what[320];
  if (is_matching(o)) {
    const matching::FlowOptions& f = o.flow;
    std::snprintf(what, sizeof what,
                  "%llu commands on %u instrument%s by %llu accounts (orders limit %u, market %u, "
                  "ioc %u, fok %u, post-only %u; cancel %u%%, replace %u%%; spread %lld)",
                  static_cast<unsigned long long>(commands), f.instruments,
                  f.instruments == 1 ? "" : "s", static_cast<unsigned long long>(o.accounts),
                  f.limit_parts, f.market_parts, f.ioc_parts, f.fok_parts, f.post_only_parts,
                  f.cancel_percent, f.replace_percent, static_cast<long long>(f.spread));
  } else {
    std::snprintf(what, sizeof what, "%llu transfers over %llu accounts (%s%s)",
                  static_cast<unsigned long long>(commands),
                  static_cast<unsigned long long>(o.accounts), o.distribution.c_str(),
                  o.distribution == "zipf" ? (" s=" + std::to_string(o.zipf_s)).c_str() : "");
  }
  if (!how) return what;
  return std::string(what) + ", " +
         (o.rate > 0 ? "open loop at " + std::to_string(static_cast<long long>(o.rate)) + "/s"
                     : std::string("closed loop")) +
         ", " + std::to_string(o.producers) + " producer" + (o.producers == 1 ? "" : "s");
}

// The stages' histograms as of the start of the timed phase, subtracted at the end so
// the report covers only the transfers.
lockstep::EngineStats g_before_timed;

template <class D>
RunResult run_generated(lockstep::Engine<D>& engine, const Options& o, Tally& tally) {
  run_setup(engine, o, tally);
  g_before_timed = engine.stats();
  const std::uint64_t before = tally.completed.load();
  const std::uint64_t committed_before = tally.committed.load();
  tally.timed.store(true);
  const std::uint64_t count = o.duration_s > 0 ? ~std::uint64_t{0} / 2 : o.transfers;
  std::atomic<std::uint64_t> submitted{0};
  const std::int64_t start = lockstep::monotonic_now_ns();
  const std::int64_t end =
      o.duration_s > 0 ? start + static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
  std::int64_t stop = 0;
  {
    Progress progress(engine, tally);
    std::vector<std::thread> producers;
    const std::uint64_t share = count / static_cast<std::uint64_t>(o.producers);
    for (int p = 0; p < o.producers; ++p) {
      const std::uint64_t first = 1 + share * static_cast<std::uint64_t>(p);
      const std::uint64_t n =
          p + 1 == o.producers ? count - share * static_cast<std::uint64_t>(p) : share;
      producers.emplace_back(produce<D>, std::ref(engine), std::cref(o), p, first, n, start, end,
                             &submitted);
    }
    for (auto& t : producers) t.join();
    wait_completed(tally, before + submitted.load());
    stop = lockstep::monotonic_now_ns();  // before the progress thread's join
  }
  RunResult r;
  r.workload = workload_name(o, submitted.load());
  r.commands = submitted.load();
  r.seconds = static_cast<double>(stop - start) / 1e9;
  r.committed = tally.committed.load() - committed_before;
  r.rejected = tally.rejected.load();
  r.other = tally.other.load();
  return r;
}

template <class D>
RunResult run_input(lockstep::Engine<D>& engine, const Options& o, Tally& tally,
                    std::vector<InputCommand>& commands) {
  // Client 0: anonymous, so a file's commands are never taken for retries of commands an
  // earlier run left in the same journal.
  auto s = engine.session(0);
  const std::int64_t start = lockstep::monotonic_now_ns();
  std::int64_t stop = 0;
  {
    Progress progress(engine, tally);
    for (InputCommand& c : commands) {
      const SubmitResult r = s.submit(c.kind, c.payload, on_input, &c, lockstep::kNoDeadline);
      if (r != SubmitResult::kAccepted) {
        throw std::runtime_error(std::string("submit refused: ") +
                                 std::string(lockstep::to_string(r)));
      }
    }
    wait_completed(tally, commands.size());
    stop = lockstep::monotonic_now_ns();  // before the progress thread's join
  }
  RunResult r;
  r.workload = std::to_string(commands.size()) + " commands from " + o.input;
  r.commands = commands.size();
  r.seconds = static_cast<double>(stop - start) / 1e9;
  r.committed = tally.committed.load();
  r.rejected = tally.rejected.load();
  r.other = tally.other.load();
  return r;
}

// The generated workload as CSV, for other systems (bench/peers): a header line, the
// accounts (id,flags), then the transfers in submission order (id,debit,credit,amount).
void emit_workload(const Options& o) {
  std::ofstream out = open_output(o.emit_workload);
  out << "# lockstep-loadgen ledger workload: accounts " << o.accounts << ", transfers "
      << o.transfers << ", seed " << o.seed << ", distribution " << o.distribution
      << ", limit-every " << o.limit_every << "\n";
  for (std::uint64_t id = 1; id <= o.accounts; ++id) {
    out << "A," << id << "," << account_command(id, o.limit_every).flags << "\n";
  }
  AccountPicker pick(o.accounts, o.distribution == "zipf", o.zipf_s, producer_seed(o, 0));
  for (std::uint64_t i = 0; i < o.transfers; ++i) {
    const TransferSpec t = next_transfer(pick);
    out << "T," << 1 + i << "," << t.debit << "," << t.credit << "," << t.amount << "\n";
  }
  close_output(out, o.emit_workload);
}

// Every account's posted balances, by id.
void write_balances(const std::string& path, const lockstep::Executor<ledger::Domain>& exec) {
  struct Row {
    lockstep::u128 id;
    std::uint64_t debits;
    std::uint64_t credits;
  };
  std::vector<Row> rows;
  std::get<0>(exec.tables()).for_each([&](std::uint32_t, const ledger::Account& a) {
    rows.push_back({a.id, a.debits_posted, a.credits_posted});
  });
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.id.hi != b.id.hi ? a.id.hi < b.id.hi : a.id.lo < b.id.lo;
  });
  std::ofstream out = open_output(path);
  for (const Row& r : rows) {
    if (r.id.hi != 0) throw std::runtime_error("--balances: an account id above 2^64");
    out << r.id.lo << "," << r.debits << "," << r.credits << "\n";
  }
  close_output(out, path);
}

// The baseline for the full pipeline: the same setup and timed commands (one producer's
// sequence) through Executor<D> on this thread, results serialized into a reused buffer
// per batch, no pipeline, no journal.
template <class D>
int run_executor_only(const Options& o, const lockstep::schema::Domain& schema,
                      typename D::Handlers handlers) {
  lockstep::EngineOptions eo = lockstep::EngineConfig::default_executor_options();
  eo.table_capacity = capacities(o, o.transfers);
  eo.preallocate = true;
  lockstep::Executor<D> exec(std::move(handlers), eo);
  std::vector<std::byte> out(eo.result_bytes_max + eo.chain_bytes_max);
  std::uint64_t seq = 0;
  std::int64_t time = 0;
  std::uint64_t committed = 0;
  std::vector<std::uint64_t> by_code(256, 0);
  std::map<std::uint32_t, std::uint64_t> by_other_code;
  const auto run_one = [&](const Slot& c, bool batch_end) {
    lockstep::CommandView v;
    v.kind = c.kind;
    v.sequence = seq++;
    v.logical_time_ns = ++time;
    v.payload = c.payload();
    (void)exec.execute(v, batch_end, out);
    const std::uint32_t code = lockstep::read_tx_result_header(out.data()).outcome_code;
    committed += code == 0 ? 1 : 0;
    if (code < by_code.size()) {
      ++by_code[code];
    } else {
      ++by_other_code[code];
    }
  };
  Slot c;
  const std::uint64_t setup = setup_count(o);
  for (std::uint64_t i = 0; i < setup; ++i) {
    setup_command(o, i, c);
    run_one(c, (i + 1) % o.batch_max == 0 || i + 1 == setup);
  }
  if (committed != setup) throw std::runtime_error("the setup was not committed whole");
  Generator gen(o, 0, 1);
  const std::int64_t start = lockstep::monotonic_now_ns();
  for (std::uint64_t i = 0; i < o.transfers; ++i) {
    gen.next(c);
    run_one(c, (i + 1) % o.batch_max == 0);
  }
  const double seconds = static_cast<double>(lockstep::monotonic_now_ns() - start) / 1e9;
  const double per_s = static_cast<double>(o.transfers) / seconds;
  if constexpr (std::is_same_v<D, ledger::Domain>) {
    if (!o.balances.empty()) write_balances(o.balances, exec);
  }
  const auto rejects = rejects_by_name(schema, by_code, by_other_code);
  if (o.json) {
    std::printf(
        "{\"domain\":\"%s\",\"workload\":\"executor only\",\"commands\":%llu,"
        "\"committed\":%llu,\"rejected\":%llu,\"seconds\":%.6f,\"commands_per_s\":%.1f,"
        "\"rejects\":%s,\"state_hash\":\"%s\"}\n",
        o.domain.c_str(), static_cast<unsigned long long>(o.transfers),
        static_cast<unsigned long long>(committed - setup),
        static_cast<unsigned long long>(o.transfers - (committed - setup)), seconds, per_s,
        rejects_json(rejects).c_str(), state_hash_hex(exec.state_hash()).c_str());
  } else {
    std::printf(
        "lockstep-loadgen %s, executor only (no pipeline, no journal): %s\n"
        "  %.3f s: %.0f commands/s; committed %llu, rejected %llu",
        o.domain.c_str(), workload_name(o, o.transfers, false).c_str(), seconds, per_s,
        static_cast<unsigned long long>(committed - setup),
        static_cast<unsigned long long>(o.transfers - (committed - setup)));
    print_rejects(rejects);
    std::printf("\n");
  }
  return 0;
}

template <class D>
int run_domain(const Options& o, typename D::Handlers handlers) {
  lockstep::schema::Domain schema;
  std::string error;
  if (!lockstep::schema::decode_descriptor(D::descriptor(), &schema, &error)) {
    throw std::runtime_error("the " + o.domain + " domain's descriptor: " + error);
  }
  if (o.executor_only) return run_executor_only<D>(o, schema, std::move(handlers));
  std::vector<InputCommand> input;
  if (!o.input.empty()) input = read_input(o.input, schema);  // all of it, before anything runs

  lockstep::EngineConfig config;
  config.executor.table_capacity =
      capacities(o, o.duration_s > 0 ? std::uint64_t{1} << 26 : o.transfers);
  // Generated runs: no page faults while timing. A file's commands, or a matching journal
  // opened as it is (made by any flow): tables grow as needed.
  const bool grow = !o.input.empty() || (is_matching(o) && o.open_only);
  if (grow) {
    config.executor.table_capacity = is_matching(o)
                                         ? std::vector<std::uint32_t>{1u << 20, 1u << 22, 1u << 22}
                                         : std::vector<std::uint32_t>{1u << 20, 1u << 22};
  }
  config.executor.preallocate = !grow;
  config.journal.durability = o.durability == "none" ? lockstep::journal::Durability::kNone
                                                     : lockstep::journal::Durability::kFsync;
  config.batch_commands_max = o.batch_max;
  config.layout = o.layout;
  config.producers_max = static_cast<std::size_t>(o.producers) + 2;
  if (o.clock == "sequence") config.clock = zero_clock;
  config.project = o.project;
  config.journal.direct_io = o.direct_io;
  config.journal.idle_markers = o.idle_markers;
  if (o.writes_in_flight != 0) config.journal.writes_in_flight = o.writes_in_flight;
  if constexpr (std::is_same_v<D, ledger::Domain>) {
    if (o.expire_every_ms > 0) {
      config.timers.push_back(ledger::expiry_timer(
          std::chrono::nanoseconds(static_cast<std::int64_t>(o.expire_every_ms * 1e6))));
    }
  }

  std::string dir = o.journal;
  bool remove_dir = false;
  if (dir.empty()) {
    std::string templ =
        (std::filesystem::temp_directory_path() / "lockstep-loadgen-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary journal directory: " +
                               std::string(std::strerror(errno)));
    }
    dir = templ;
    remove_dir = true;
  }
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (remove) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir, remove_dir};

  if (o.segment_bytes != 0) config.journal.segment_bytes = o.segment_bytes;
  config.snapshots.every_commands = o.snapshot_every;
  config.snapshots.keep = o.snapshot_keep;

  Tally tally;
  g_tally = &tally;
  const auto open_start = std::chrono::steady_clock::now();
  lockstep::Engine<D> engine(dir, std::move(handlers), config);
  const double open_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - open_start).count();
  if (o.open_only) {
    report_open(o, engine, open_s);
    return 0;
  }
  if (engine.executor().next_sequence() != 0 && o.input.empty()) {
    throw std::runtime_error(dir + " already holds a journal (" +
                             std::to_string(engine.executor().next_sequence()) +
                             " commands): the generated workload needs an empty one");
  }
  engine.start();
  const RunResult r =
      o.input.empty() ? run_generated(engine, o, tally) : run_input(engine, o, tally, input);
  engine.stop();
  if (engine.failed()) throw std::runtime_error(engine.failure());

  if (o.project) {
    // The projection, fed only by durable deltas, must hold exactly the writer's state.
    const lockstep::StateHash projected = engine.read([](const auto& tables, std::uint64_t) {
      lockstep::StateHash h;
      std::apply([&](const auto&... t) { (t.hash_all(&h), ...); }, tables);
      return h;
    });
    if (!(projected == engine.executor().state_hash())) {
      throw std::runtime_error("the projection's state hash " + state_hash_hex(projected) +
                               " differs from the state's " +
                               state_hash_hex(engine.executor().state_hash()));
    }
  }
  lockstep::EngineStats stats = engine.stats();
  for (std::size_t i = 0; i < g_before_timed.stages.size() && i < stats.stages.size(); ++i) {
    stats.stages[i].batch_slots.subtract(g_before_timed.stages[i].batch_slots);
    stats.stages[i].slot_latency_ns.subtract(g_before_timed.stages[i].slot_latency_ns);
    stats.stages[i].command_latency_ns.subtract(g_before_timed.stages[i].command_latency_ns);
  }
  const lockstep::HistogramSnapshot ack = tally.ack_ns.snapshot();
  report(o, schema, tally, r, engine, stats, ack);
  if (!o.results.empty()) {
    std::ofstream out = open_output(o.results);
    for (const InputCommand& c : input) {
      out << "{\"seq\":";
      if (c.sequence == lockstep::kNoSequence) {
        out << "null";
      } else {
        out << c.sequence;
      }
      out << ",\"outcome\":\"";
      switch (c.status) {
        case CompletionStatus::kCommitted:
        case CompletionStatus::kRefused: out << outcome_name(schema, c.code); break;
        default: out << lockstep::to_string(c.status);
      }
      out << "\"}\n";
    }
    close_output(out, o.results);
  }
  if (o.snapshot_every > 0 && !o.json) {
    const lockstep::SnapshotterStatus st = engine.snapshotter_status();
    std::printf("  snapshots written %llu (the newest at sequence %llu, written in %.1f ms)%s%s\n",
                static_cast<unsigned long long>(st.written),
                static_cast<unsigned long long>(st.last_sequence),
                static_cast<double>(st.last_write_ns) / 1e6,
                st.error.empty() ? "" : "; stopped: ", st.error.c_str());
  }
  if constexpr (std::is_same_v<D, ledger::Domain>) {
    if (!o.balances.empty()) write_balances(o.balances, engine.executor());
  }
  if (!o.hgrm_dir.empty()) write_hgrm(o.hgrm_dir, stats, ack);
  if (!o.plot.empty()) plot(o.plot, stats, ack);
  return 0;
}

int run(const Options& o) {
  if (is_matching(o)) return run_domain<matching::Domain>(o, matching::handlers());
  if (!o.emit_workload.empty()) emit_workload(o);
  return run_domain<ledger::Domain>(o, ledger::handlers());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "lockstep-loadgen: %s\n", what.c_str());
    if (what.find("corrupt journal: ") != std::string::npos) {
      std::fprintf(stderr,
                   "lockstep-loadgen: nothing was changed; `lockstep-replay salvage %s` shows what "
                   "a salvage would keep and set aside\n",
                   o.journal.empty() ? "DIR" : o.journal.c_str());
    }
    return 1;
  }
}
