#!/usr/bin/env bash
# The matching domain's benchmarks (docs/benchmarks.md, "The matching domain"):
#
#   1. the execute stage alone against the hand-written book, same order flow, same
#      binary (lockstep-bench-matching: 1 and 16 instruments, REPS repetitions
#      interleaved);
#   2. the same flow end to end: lockstep-loadgen matching through the full pipeline,
#      durable (fsync) and not (none), and --executor-only (the execute stage on the
#      loadgen's thread, with the flow generated inline), REPS runs of each, interleaved.
#
# Environment: REPS (default 5), ORDERS (commands per loadgen run, default 4000000).
# Prints the raw figures, then medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-5}
ORDERS=${ORDERS:-4000000}
LOADGEN=build/release/tools/loadgen/lockstep-loadgen
BENCH=build/release/bench/lockstep-bench-matching
cmake --preset release >/dev/null
cmake --build --preset release --target lockstep-loadgen lockstep-bench-matching >/dev/null
mkdir -p build/bench

# The journals go to a fresh temporary directory (TMPDIR): fsync on tmpfs would prove
# nothing, so say where that is.
echo "journal directory: ${TMPDIR:-/tmp} on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2, $1}')"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

"$BENCH" --benchmark_repetitions="$REPS" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out=build/bench/matching.json --benchmark_out_format=json
python3 - build/bench/matching.json <<'EOF'
import json, sys
med = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") == "median":
        med[b["run_name"].split("/iterations")[0]] = b["real_time"]
print("| instruments | hand-written ns | engine ns | engine ÷ hand-written | engine orders/s |")
print("|---|---|---|---|---|")
for n in ("1", "16"):
    h, e = med.get(f"BM_HandBook/instruments:{n}"), med.get(f"BM_Engine/instruments:{n}")
    if h and e:
        print(f"| {n} | {h:.1f} | {e:.1f} | {e / h:.2f} | {1e9 / e:,.0f} |")
EOF

: >build/bench/matching-fsync
: >build/bench/matching-none
: >build/bench/matching-executor
for r in $(seq "$REPS"); do
  for mode in fsync none executor; do
    # stderr (progress lines) to a file, shown if the run fails.
    if [ "$mode" = executor ]; then
      args=(--executor-only)
    else
      args=(--durability "$mode")
    fi
    if ! out=$("$LOADGEN" matching --orders "$ORDERS" "${args[@]}" --json 2>build/bench/matching.err); then
      cat build/bench/matching.err >&2
      echo "lockstep-loadgen matching ${args[*]} failed" >&2
      exit 1
    fi
    echo "{\"rep\":$r,\"mode\":\"$mode\",\"run\":$out}"
    echo "$out" | field commands_per_s >>"build/bench/matching-$mode"
  done
done
echo "loadgen matching, $ORDERS commands, medians of $REPS (commands/s):"
for mode in executor none fsync; do
  echo "  $mode: $(median <"build/bench/matching-$mode")"
done
