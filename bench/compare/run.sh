#!/usr/bin/env bash
# Two builds of lockstep measured against each other, interleaved run by run in the same
# conditions (docs/benchmarks.md, "Before and after a restructuring"): for a change that
# must not change performance.
#
#   bench/compare/run.sh OLD_BUILD NEW_BUILD
#
# Each is a release build directory holding lockstep-loadgen, lockstep-bench-engine and
# lockstep-bench-matching (cmake --preset release; cmake --build build/release --target
# lockstep-loadgen lockstep-bench-engine lockstep-bench-matching). Each round runs every
# figure on OLD then NEW, or NEW then OLD (alternating), so drift hits both alike:
#
#   - lockstep-bench-engine: Executor<ledger> per transfer and per deposit, 1,000 and
#     100,000 accounts (ns per command);
#   - lockstep-bench-matching: the execute stage on an order flow, 1 and 16 instruments;
#   - lockstep-loadgen ledger --executor-only and the durable pipeline (fsync), and
#     lockstep-loadgen matching --executor-only (commands/s; ack p99 for the durable run).
#
# Environment: REPS (default 3), TRANSFERS (default 1000000). Prints medians and NEW/OLD.
set -euo pipefail
OLD=$1
NEW=$2
REPS=${REPS:-3}
TRANSFERS=${TRANSFERS:-1000000}
out=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-compare.XXXXXX")
echo "journal directory: ${TMPDIR:-/tmp} on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2, $1}')"

# figures BUILD LABEL: appends one JSON line per figure to $out/LABEL.jsonl.
figures() {
  local b=$1 label=$2 j
  "$b/bench/lockstep-bench-engine" --benchmark_filter='BM_Engine' --benchmark_format=json \
    2>/dev/null | python3 -c '
import json, sys
for x in json.load(sys.stdin)["benchmarks"]:
    print(json.dumps({"figure": "bench-engine " + x["name"].split("/iterations")[0] + " ns",
                      "value": x["real_time"]}))' >>"$out/$label.jsonl"
  "$b/bench/lockstep-bench-matching" --benchmark_filter='Engine' --benchmark_format=json \
    2>/dev/null | python3 -c '
import json, sys
for x in json.load(sys.stdin)["benchmarks"]:
    print(json.dumps({"figure": "bench-matching " + x["name"].split("/iterations")[0] + " ns",
                      "value": x["real_time"]}))' >>"$out/$label.jsonl"
  "$b/tools/loadgen/lockstep-loadgen" ledger --executor-only --json --transfers "$TRANSFERS" \
    | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(json.dumps({"figure": "ledger --executor-only commands/s", "value": r["commands_per_s"]}))' \
    >>"$out/$label.jsonl"
  j=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-compare-j.XXXXXX")
  "$b/tools/loadgen/lockstep-loadgen" ledger --journal "$j/j" --durability fsync --json \
    --transfers "$TRANSFERS" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(json.dumps({"figure": "ledger durable commands/s", "value": r["commands_per_s"]}))
print(json.dumps({"figure": "ledger durable ack p99 ms", "value": r["ack_latency_ns"]["p99"] / 1e6}))' \
    >>"$out/$label.jsonl"
  rm -rf "$j"
  "$b/tools/loadgen/lockstep-loadgen" matching --executor-only --json --orders 2000000 \
    | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(json.dumps({"figure": "matching --executor-only commands/s", "value": r["commands_per_s"]}))' \
    >>"$out/$label.jsonl"
}

for rep in $(seq 1 "$REPS"); do
  if ((rep % 2)); then
    figures "$OLD" old
    figures "$NEW" new
  else
    figures "$NEW" new
    figures "$OLD" old
  fi
  echo "round $rep of $REPS done" >&2
done

python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
rows = {}
for label in ("old", "new"):
    for line in open(os.path.join(out, label + ".jsonl")):
        r = json.loads(line)
        rows.setdefault(r["figure"], {}).setdefault(label, []).append(r["value"])
print("| figure | old (runs) | new (runs) | old median | new median | new / old |")
print("|---|---|---|---|---|---|")
for fig, v in rows.items():
    o, n = statistics.median(v["old"]), statistics.median(v["new"])
    fmt = lambda xs: ", ".join(f"{x:,.0f}" if x >= 100 else f"{x:.1f}" for x in xs)
    print(f"| {fig} | {fmt(v['old'])} | {fmt(v['new'])} | {o:,.1f} | {n:,.1f} | {n / o:.2f} |")
PY
rm -rf "$out"
