#!/usr/bin/env bash
# What the journal's idle markers cost (docs/benchmarks.md, "Idle markers"): the ledger
# on the embedded engine, durable (fsync), with idle markers (the default) and without
# (--no-idle-markers), the two interleaved run by run in the same conditions:
#
#   - open loop at RATES commands/s (the journal goes idle between frames, so a marker
#     follows nearly every frame: the worst case for their cost), ack p50/p99;
#   - closed loop at full speed (frames follow each other; markers are rare): commands/s
#     and ack p99.
#
# Each run's markers are counted from its journal (lockstep-replay stats --json).
# Environment: REPS (default 5), RATES (default "1000 5000"), SECONDS_PER_RUN (default 8),
# CLOSED (transfers of a closed-loop run, default 1000000). Prints the raw figures, then
# medians and the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-5}
RATES=${RATES:-"1000 5000"}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
CLOSED=${CLOSED:-1000000}
LOADGEN=build/release/tools/loadgen/lockstep-loadgen
REPLAY=build/release/tools/replay/lockstep-replay
cmake --preset release >/dev/null
cmake --build --preset release --target lockstep-loadgen lockstep-replay >/dev/null
out=build/bench/markers
mkdir -p "$out"
rm -f "$out"/*.jsonl
echo "journal directory: ${TMPDIR:-/tmp} on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2, $1}')"

# run NAME ARGS...: one loadgen run into a fresh journal; appends a JSON line with the
# loadgen's figures and the journal's marker count to $out/NAME.jsonl.
run() {
  local name=$1
  shift
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-markers.XXXXXX")
  "$LOADGEN" ledger --journal "$dir/j" --accounts 100000 --durability fsync --json "$@" \
    >"$out/last.json"
  local markers
  markers=$("$REPLAY" stats "$dir/j" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["markers"])')
  python3 - "$out/last.json" "$markers" >>"$out/$name.jsonl" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"commands_per_s": r["commands_per_s"], "p50": r["ack_latency_ns"]["p50"],
                  "p99": r["ack_latency_ns"]["p99"], "commands": r["commands"],
                  "markers": int(sys.argv[2])}))
EOF
  rm -rf "$dir"
}

for rep in $(seq 1 "$REPS"); do
  for rate in $RATES; do
    n=$((rate * SECONDS_PER_RUN))
    for variant in markers none; do
      extra=()
      [[ $variant == none ]] && extra=(--no-idle-markers)
      run "open_${rate}_${variant}" --transfers "$n" --rate "$rate" "${extra[@]}"
    done
  done
  for variant in markers none; do
    extra=()
    [[ $variant == none ]] && extra=(--no-idle-markers)
    run "closed_${variant}" --transfers "$CLOSED" "${extra[@]}"
  done
  echo "round $rep of $REPS done" >&2
done

python3 - "$out" $RATES <<'EOF'
import json, os, statistics, sys
out, rates = sys.argv[1], sys.argv[2:]
def load(name):
    return [json.loads(l) for l in open(os.path.join(out, name + ".jsonl"))]
def med(rows, key):
    return statistics.median(r[key] for r in rows)
print("raw runs (commands/s, ack p50 us, ack p99 us, markers/commands):")
for name in sorted(f[:-6] for f in os.listdir(out) if f.endswith(".jsonl")):
    for r in load(name):
        print(f"  {name:22} {r['commands_per_s']:>12.0f} {r['p50']/1e3:>8.0f} {r['p99']/1e3:>8.0f}"
              f" {r['markers']}/{r['commands']}")
print()
print("| run | with markers | without | ratio | markers per command |")
print("|---|---|---|---|---|")
for rate in rates:
    a, b = load(f"open_{rate}_markers"), load(f"open_{rate}_none")
    for key, label in (("p50", "ack p50"), ("p99", "ack p99")):
        print(f"| {rate}/s open loop, {label} | {med(a, key)/1e3:.0f} us | {med(b, key)/1e3:.0f} us"
              f" | {med(a, key)/med(b, key):.2f} | {statistics.median(r['markers']/r['commands'] for r in a):.2f} |")
a, b = load("closed_markers"), load("closed_none")
print(f"| closed loop, commands/s | {med(a, 'commands_per_s'):.0f} | {med(b, 'commands_per_s'):.0f}"
      f" | {med(a, 'commands_per_s')/med(b, 'commands_per_s'):.3f} |"
      f" {statistics.median(r['markers']/r['commands'] for r in a):.5f} |")
print(f"| closed loop, ack p99 | {med(a, 'p99')/1e3:.0f} us | {med(b, 'p99')/1e3:.0f} us"
      f" | {med(a, 'p99')/med(b, 'p99'):.2f} | |")
EOF
