#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS]        (make fuzz FUZZ_SECONDS=SECONDS; default 30)
#
# Configures and builds the 'fuzz' preset (clang, ASan + UBSan, coverage) in build/fuzz,
# regenerates the binary seeds in fuzz/corpus/ with lockstep-fuzz-seeds (so a format change
# never leaves stale seeds), then runs each target for SECONDS on a temporary copy of its
# corpus: the checked-in corpus is never modified by fuzzing. Prints one line per target
# and fails, naming the target and the crashing input, if any target found a crash, a
# leak, a timeout or an out-of-memory. Logs and crashing inputs stay in build/fuzz/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]  (a positive number of seconds per target)" >&2
  exit 2
fi
targets=(fuzz_schema_parser fuzz_descriptor fuzz_json fuzz_tx_result fuzz_frame fuzz_recovery
  fuzz_snapshot)
bin=build/fuzz/fuzz
out=build/fuzz/out
timeout_s=10       # one input
rss_limit_mb=2048  # the whole process

start=$SECONDS
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
build_s=$((SECONDS - start))
"$bin/lockstep-fuzz-seeds" . fuzz/corpus

# Readable stacks: the symbolizer of the clang that built the targets.
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  for s in "$(command -v llvm-symbolizer || true)" /usr/lib/llvm-14/bin/llvm-symbolizer; do
    if [[ -n "$s" && -x "$s" ]]; then
      export ASAN_SYMBOLIZER_PATH=$s
      break
    fi
  done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

work=$(mktemp -d "${TMPDIR:-/tmp}/lockstep-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"

# The value of libFuzzer's final "stat::NAME: value" line in a log.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=()
run_start=$SECONDS
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus" "$out/$t"
  cp fuzz/corpus/"$t"/* "$corpus"/
  seeds=$(find "$corpus" -type f | wc -l)
  dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=(-dict=fuzz/dict/$t.dict)
  log=$out/$t.log
  t_start=$SECONDS
  status=0
  "$bin/$t" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout="$timeout_s" \
    -rss_limit_mb="$rss_limit_mb" -artifact_prefix="$out/$t/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - t_start))
  runs=$(stat number_of_executed_units "$log")
  rate=$(stat average_exec_per_sec "$log")
  rss=$(stat peak_rss_mb "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  summary="runs ${runs:-?} in ${elapsed} s (${rate:-?} exec/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${seeds} -> ${corp:-?}, peak RSS ${rss:-?} MB"
  if [[ $status -eq 0 ]]; then
    echo "fuzz: $t: ok: $summary"
    continue
  fi
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  reason=$(grep -m 1 -E '^==[0-9]+==ERROR|^SUMMARY|fuzz check failed|runtime error|deadly signal|ALARM|out-of-memory|detected memory leaks' "$log" || true)
  echo "fuzz: $t: FAILED (exit $status): ${reason:-see the log}"
  echo "fuzz: $t: crashing input: ${artifact:-none written}; log: $log; $summary"
  echo "fuzz: $t: reproduce: $bin/$t ${artifact:-<input>}"
  tail -n 40 "$log" | sed "s/^/  $t| /"
  failed+=("$t")
done
echo "fuzz: build ${build_s} s, run $((SECONDS - run_start)) s (${seconds} s per target)"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs and logs in $out/)" >&2
  exit 1
fi
