#!/usr/bin/env bash
# Replay and cold-start benchmarks (docs/benchmarks.md, "Replay and cold start").
#
#   bench/replay/run.sh throughput   live engine vs delta replay vs re-execution, same journal
#   bench/replay/run.sh coldstart    open from a snapshot vs replaying the whole journal
#   bench/replay/run.sh history      open from a snapshot: a history 10x longer, same state
#
# Environment: REPS (default 3), WORK (default /tmp/lockstep-bench-replay; needs room:
# COLD_ACCOUNTS=10000000 writes about 7 GB), THROUGHPUT_ACCOUNTS / THROUGHPUT_TRANSFERS
# (100000 / 1000000), COLD_ACCOUNTS (1000000 10000000), COLD_TRANSFERS (1000000),
# HISTORY_ACCOUNTS (1000000), HISTORY_SHORT / HISTORY_LONG (1000000 / 10000000).
# Prints one JSON object per measurement; the summary lines give medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-throughput}
REPS=${REPS:-3}
WORK=${WORK:-/tmp/lockstep-bench-replay}
LOADGEN=build/release/tools/loadgen/lockstep-loadgen
REPLAY=build/release/tools/replay/lockstep-replay
cmake --preset release >/dev/null
cmake --build --preset release --target lockstep-loadgen lockstep-replay >/dev/null
mkdir -p "$WORK"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
calc() { python3 -c "print(round($1, 3))"; }

case "$MODE" in
throughput)
  A=${THROUGHPUT_ACCOUNTS:-100000}
  T=${THROUGHPUT_TRANSFERS:-1000000}
  : >"$WORK/live" ; : >"$WORK/delta" ; : >"$WORK/reexec"
  for r in $(seq "$REPS"); do
    J="$WORK/j"
    rm -rf "$J"
    live=$("$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$T" --seed "$r" --json 2>/dev/null)
    v=$("$REPLAY" verify "$J" --reexecute --json)
    echo "{\"rep\":$r,\"live\":$live,\"verify\":$v}"
    echo "$live" | field "['commands_per_s']" >>"$WORK/live"
    echo "$v" | field "['delta_entries_per_s']" >>"$WORK/delta"
    echo "$v" | field "['reexecuted']['commands_per_s']" >>"$WORK/reexec"
  done
  rm -rf "$WORK/j"
  l=$(median <"$WORK/live"); d=$(median <"$WORK/delta"); x=$(median <"$WORK/reexec")
  echo "medians of $REPS: live closed loop $l commands/s; delta replay $d entries/s ($(calc "$d/$l")x); re-execution $x commands/s ($(calc "$x/$l")x)"
  ;;
coldstart)
  for A in ${COLD_ACCOUNTS:-1000000 10000000}; do
    T=${COLD_TRANSFERS:-1000000}
    J="$WORK/cold-$A"
    rm -rf "$J"
    "$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$T" --durability none >/dev/null 2>&1
    snap_start=$(date +%s.%N)
    "$REPLAY" snapshot "$J" >/dev/null
    snap_s=$(calc "$(date +%s.%N) - $snap_start")
    sync  # the journal was made without fdatasync: write it back before timing anything
    : >"$WORK/with" ; : >"$WORK/without"
    for r in $(seq "$REPS"); do
      o=$("$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$T" --open-only --json)
      echo "{\"accounts\":$A,\"rep\":$r,\"snapshot\":true,\"open\":$o}"
      echo "$o" | field "['open_seconds']" >>"$WORK/with"
    done
    mkdir -p "$J/aside" && mv "$J"/*.lsnap "$J/aside/"
    for r in $(seq "$REPS"); do
      o=$("$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$T" --open-only --json)
      echo "{\"accounts\":$A,\"rep\":$r,\"snapshot\":false,\"open\":$o}"
      echo "$o" | field "['open_seconds']" >>"$WORK/without"
    done
    w=$(median <"$WORK/with"); wo=$(median <"$WORK/without")
    echo "accounts $A, history $((A + T)) commands: open from a snapshot ${w} s, replaying the whole journal ${wo} s ($(calc "$wo/$w")x); offline snapshot written in ${snap_s} s"
    rm -rf "$J"
  done
  ;;
history)
  # Every transfer is refused (--limit-every 1: no account may have more debits than
  # credits, and every balance starts at zero), so the state is the accounts alone
  # whatever the history's length.
  # Both are opened with the same table capacities (the loadgen sizes the transfer table
  # from --transfers, and preallocates it): opening costs the capacity's page faults too.
  A=${HISTORY_ACCOUNTS:-1000000}
  CAP=${HISTORY_SHORT:-1000000}
  for T in ${HISTORY_SHORT:-1000000} ${HISTORY_LONG:-10000000}; do
    J="$WORK/hist-$T"
    rm -rf "$J"
    "$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$T" --limit-every 1 \
      --durability none >/dev/null 2>&1
    "$REPLAY" snapshot "$J" >/dev/null
    sync
    : >"$WORK/with"
    for r in $(seq "$REPS"); do
      o=$("$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$CAP" --open-only --json)
      echo "{\"accounts\":$A,\"transfers\":$T,\"rep\":$r,\"open\":$o}"
      echo "$o" | field "['open_seconds']" >>"$WORK/with"
    done
    mkdir -p "$J/aside" && mv "$J"/*.lsnap "$J/aside/"
    o=$("$LOADGEN" ledger --journal "$J" --accounts "$A" --transfers "$CAP" --open-only --json)
    echo "{\"accounts\":$A,\"transfers\":$T,\"snapshot\":false,\"open\":$o}"
    wo=$(echo "$o" | field "['open_seconds']")
    echo "history $((A + T)) commands, state $A records: open from a snapshot $(median <"$WORK/with") s; replaying the whole journal $wo s"
    rm -rf "$J"
  done
  ;;
*)
  echo "usage: bench/replay/run.sh throughput|coldstart|history" >&2
  exit 2
  ;;
esac
