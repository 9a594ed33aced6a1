#!/usr/bin/env bash
# Side by side: lockstep against Redis, SQLite and PostgreSQL on the same ledger workload.
#
#   bench/peers/run.sh
#
# lockstep-loadgen writes the generated workload (accounts, then transfers in submission
# order) as CSV; peer-driver (peer_driver.cc, built here) feeds it to each peer, started
# from Debian's packages on loopback in a temporary directory, with every transfer durable
# (fsync) before it is acknowledged. Every system's final balances must be byte-identical
# to lockstep's (cmp), and its committed and refused counts equal, or the run fails.
# Runs are interleaved (lockstep, redis, sqlite, postgres; RUNS times) and the table gives
# the median transfers/s of each system and the ratio lockstep / peer.
#
# Environment (defaults in brackets):
#   TRANSFERS       transfers per lockstep run [1000000]
#   PEER_TRANSFERS  transfers per peer run: a prefix of the same stream [500000]
#   ACCOUNTS        accounts [100000]
#   LIMIT_EVERY     every N-th account has debits_must_not_exceed_credits [10]
#   RUNS            interleaved rounds [3]
#   BATCH           transfers per peer round trip / transaction [1000]
#   SYSTEMS         which to run ["lockstep redis sqlite postgres"]
#   LOADGEN         a prebuilt lockstep-loadgen (default: build the release one, -j1)
#   WORK            where the workload, balances and logs go (default: a temporary
#                   directory, removed at the end unless KEEP=1)
#   HISTORY         1: the peers also index each account's transfers, as the ledger's
#                   by_debit and by_credit indexes do; 0: they do not [1]
#   TMPDIR          where lockstep's journal and the peers' data directories go [/tmp]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

TRANSFERS=${TRANSFERS:-1000000}
PEER_TRANSFERS=${PEER_TRANSFERS:-500000}
ACCOUNTS=${ACCOUNTS:-100000}
LIMIT_EVERY=${LIMIT_EVERY:-10}
RUNS=${RUNS:-3}
BATCH=${BATCH:-1000}
SYSTEMS=${SYSTEMS:-lockstep redis sqlite postgres}
KEEP=${KEEP:-0}
HISTORY=${HISTORY:-1}
export TMPDIR=${TMPDIR:-/tmp}

die() {
  echo "peers: FAILED: $*" >&2
  exit 1
}
log() { echo "peers: $*" >&2; }

for v in TRANSFERS PEER_TRANSFERS ACCOUNTS LIMIT_EVERY RUNS BATCH; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
done
((PEER_TRANSFERS >= 1 && PEER_TRANSFERS <= TRANSFERS)) || die "need 1 <= PEER_TRANSFERS <= TRANSFERS"
((RUNS >= 1)) || die "RUNS must be at least 1"
for s in $SYSTEMS; do
  case $s in lockstep | redis | sqlite | postgres) ;; *) die "unknown system '$s' in SYSTEMS" ;; esac
done
[[ $(id -u) -eq 0 ]] || die "run as root: it installs Debian packages and runs PostgreSQL as the postgres user"

# ---- Packages ----------------------------------------------------------------------------
# lockstep's own build dependencies, then the peers and the driver's client libraries.
"$ROOT/scripts/deps.sh"
packages=(redis-server redis-tools postgresql libsqlite3-dev libhiredis-dev libpq-dev g++)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed: ${missing[*]}"
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
id postgres >/dev/null 2>&1 || die "no 'postgres' user (the postgresql package creates it)"

# ---- Work directory, cleanup ---------------------------------------------------------------
if [[ -n ${WORK:-} ]]; then
  mkdir -p "$WORK"
  KEEP=1
else
  WORK=$(mktemp -d "$TMPDIR/lockstep-peers.XXXXXX")
fi
REDIS_PID= REDIS_DIR= PG_DIR= SQLITE_DIR=
stop_redis() {
  if [[ -n $REDIS_PID ]]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  fi
  [[ -z $REDIS_DIR ]] || rm -rf "$REDIS_DIR"
  REDIS_DIR=
}
stop_postgres() {
  if [[ -n $PG_DIR ]]; then
    if [[ -f $PG_DIR/data/postmaster.pid ]]; then
      runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || {
        pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)
        [[ -z $pid ]] || kill -9 "$pid" 2>/dev/null || true
      }
    fi
    rm -rf "$PG_DIR"
  fi
  PG_DIR=
}
cleanup() {
  local rc=$?
  stop_redis
  stop_postgres
  [[ -z $SQLITE_DIR ]] || rm -rf "$SQLITE_DIR"
  if [[ $KEEP == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Build ----------------------------------------------------------------------------------
if [[ -z ${LOADGEN:-} ]]; then
  log "building lockstep-loadgen (release, -j1)"
  (cd "$ROOT" && cmake --preset release >/dev/null &&
    cmake --build --preset release --target lockstep-loadgen -j1 >"$WORK/build.log" 2>&1) ||
    { cat "$WORK/build.log" >&2; die "building lockstep-loadgen"; }
  LOADGEN=$ROOT/build/release/tools/loadgen/lockstep-loadgen
fi
[[ -x $LOADGEN ]] || die "no lockstep-loadgen at $LOADGEN"
DRIVER=$WORK/peer-driver
log "building peer-driver"
g++ -std=c++20 -O2 -Wall -Wextra -I/usr/include/postgresql -o "$DRIVER" "$HERE/peer_driver.cc" \
  -lhiredis -lsqlite3 -lpq || die "building peer-driver"

json_field() { # json_field FILE KEY: a number from a one-line JSON object
  sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}

# ---- The workload and the reference balances (not timed) -------------------------------------
gen=(ledger --accounts "$ACCOUNTS" --limit-every "$LIMIT_EVERY" --producers 1)
log "workload: $ACCOUNTS accounts, $TRANSFERS transfers for lockstep, the first $PEER_TRANSFERS for the peers"
# The whole stream, and its balances from the executor alone (fast, no journal): every
# timed lockstep run must end with these.
"$LOADGEN" "${gen[@]}" --transfers "$TRANSFERS" --executor-only --json \
  --emit-workload "$WORK/full.csv" --balances "$WORK/ref-full.csv" >"$WORK/ref-full.json" 2>"$WORK/ref-full.log" ||
  { cat "$WORK/ref-full.log" >&2; die "lockstep-loadgen --executor-only"; }
# The peers' prefix, run through the full lockstep pipeline (durable): the peers' reference
# balances and counts.
"$LOADGEN" "${gen[@]}" --transfers "$PEER_TRANSFERS" --json \
  --emit-workload "$WORK/workload.csv" --balances "$WORK/ref.csv" >"$WORK/ref.json" 2>"$WORK/ref.log" ||
  { cat "$WORK/ref.log" >&2; die "lockstep-loadgen on the prefix"; }
# The stream must be prefix-stable: the prefix run's accounts and transfers are the first
# lines of the full stream's.
lines=$((ACCOUNTS + PEER_TRANSFERS))
cmp -s <(grep -v '^#' "$WORK/workload.csv") <(grep -v '^#' "$WORK/full.csv" | head -n "$lines") ||
  die "the workload of $PEER_TRANSFERS transfers is not a prefix of the workload of $TRANSFERS"
[[ $(grep -c '^T,' "$WORK/workload.csv") == "$PEER_TRANSFERS" ]] || die "workload.csv: wrong transfer count"
REF_COMMITTED=$(json_field "$WORK/ref.json" committed)
REF_REJECTED=$(json_field "$WORK/ref.json" rejected)
FULL_COMMITTED=$(json_field "$WORK/ref-full.json" committed)
log "reference: prefix $REF_COMMITTED committed, $REF_REJECTED refused; full stream $FULL_COMMITTED committed"

# ---- One run of each system --------------------------------------------------------------------
RESULTS=$WORK/results.tsv
: >"$RESULTS"

check_peer() { # check_peer NAME OUT.json BALANCES
  cmp "$3" "$WORK/ref.csv" >&2 ||
    die "$1: balances differ from lockstep's on the same $PEER_TRANSFERS transfers ($3 vs $WORK/ref.csv)"
  local c r
  c=$(json_field "$2" committed)
  r=$(json_field "$2" rejected)
  [[ $c == "$REF_COMMITTED" && $r == "$REF_REJECTED" ]] ||
    die "$1: committed $c, refused $r; lockstep: $REF_COMMITTED, $REF_REJECTED"
}

run_lockstep() { # run_lockstep ROUND
  local out=$WORK/lockstep-$1
  "$LOADGEN" "${gen[@]}" --transfers "$TRANSFERS" --json --balances "$out.csv" >"$out.json" 2>"$out.log" ||
    { cat "$out.log" >&2; die "lockstep run $1"; }
  cmp "$out.csv" "$WORK/ref-full.csv" >&2 || die "lockstep run $1: balances differ from the executor's"
  [[ $(json_field "$out.json" committed) == "$FULL_COMMITTED" ]] || die "lockstep run $1: committed count"
  printf 'lockstep\t%s\t%s\t%s\t%s\n' "$1" "$TRANSFERS" "$(json_field "$out.json" seconds)" \
    "$(json_field "$out.json" commands_per_s)" >>"$RESULTS"
}

peer_result() { # peer_result NAME ROUND OUT.json
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$PEER_TRANSFERS" "$(json_field "$3" seconds)" \
    "$(json_field "$3" transfers_per_s)" >>"$RESULTS"
}

run_redis() {
  local out=$WORK/redis-$1 port i
  REDIS_DIR=$(mktemp -d "$TMPDIR/lockstep-peers-redis.XXXXXX")
  port=$("$DRIVER" freeport)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$REDIS_DIR" --daemonize no \
    --appendonly yes --appendfsync always --save '' --logfile "$REDIS_DIR/redis.log" &
  REDIS_PID=$!
  for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited: $(tail -n 5 "$REDIS_DIR/redis.log")"
    sleep 0.1
  done
  ((i < 100)) || die "redis-server did not answer on port $port"
  "$DRIVER" redis --workload "$WORK/workload.csv" --transfers "$PEER_TRANSFERS" --batch "$BATCH" --history "$HISTORY" \
    --port "$port" --balances "$out.csv" >"$out.json" || die "redis run $1"
  cp "$REDIS_DIR/redis.log" "$out.log"
  stop_redis
  check_peer redis "$out.json" "$out.csv"
  peer_result redis "$1" "$out.json"
}

run_sqlite() {
  local out=$WORK/sqlite-$1
  SQLITE_DIR=$(mktemp -d "$TMPDIR/lockstep-peers-sqlite.XXXXXX")
  "$DRIVER" sqlite --workload "$WORK/workload.csv" --transfers "$PEER_TRANSFERS" --batch "$BATCH" --history "$HISTORY" \
    --db "$SQLITE_DIR/ledger.db" --balances "$out.csv" >"$out.json" || die "sqlite run $1"
  rm -rf "$SQLITE_DIR"
  SQLITE_DIR=
  check_peer sqlite "$out.json" "$out.csv"
  peer_result sqlite "$1" "$out.json"
}

run_postgres() {
  local out=$WORK/postgres-$1 port
  PG_DIR=$(mktemp -d "$TMPDIR/lockstep-peers-pg.XXXXXX")
  chown postgres:postgres "$PG_DIR"
  port=$("$DRIVER" freeport)
  runuser -u postgres -- "$PGBIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb"; }
  # Durability as shipped (fsync, synchronous_commit, full_page_writes: on); memory and
  # checkpoint spacing sized so the run neither evicts nor checkpoints mid-way.
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=512MB -c max_wal_size=8GB -c checkpoint_timeout=30min" \
    start >/dev/null || { cat "$PG_DIR/postgres.log" >&2; die "postgres did not start"; }
  "$DRIVER" postgres --workload "$WORK/workload.csv" --transfers "$PEER_TRANSFERS" --batch "$BATCH" --history "$HISTORY" \
    --port "$port" --balances "$out.csv" >"$out.json" || die "postgres run $1"
  cp "$PG_DIR/postgres.log" "$out.log"
  stop_postgres
  check_peer postgres "$out.json" "$out.csv"
  peer_result postgres "$1" "$out.json"
}

LOAD_BEFORE=$(cut -d ' ' -f 1-3 /proc/loadavg)
for ((r = 1; r <= RUNS; r++)); do
  for s in $SYSTEMS; do
    log "round $r/$RUNS: $s"
    "run_$s" "$r"
    tail -n 1 "$RESULTS" | awk -F'\t' '{ printf "peers:   %s transfers in %.2f s: %.0f transfers/s\n", $3, $4, $5 }' >&2
  done
done

# ---- The table ----------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
pgpkg=postgresql-$(basename "$(dirname "$PGBIN")")
echo
echo "Side by side: $ACCOUNTS accounts, every ${LIMIT_EVERY}th with debits_must_not_exceed_credits; durable (fsync before acknowledge)"
echo "$(date -u +%Y-%m-%d) $(nproc) CPUs ($cpu), $(uname -r); redis-server $(ver redis-server), libsqlite3-0 $(ver libsqlite3-0), $pgpkg $(ver "$pgpkg")"
echo "lockstep: $TRANSFERS transfers per run ($FULL_COMMITTED committed); peers: the first $PEER_TRANSFERS ($REF_COMMITTED committed, $REF_REJECTED refused), batches of $BATCH"
echo "$RUNS interleaved rounds; medians; load average before the rounds: $LOAD_BEFORE, after: $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo
awk -F'\t' -v order="$SYSTEMS" '
  function commas(x,   s, r) {
    s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
  }
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { runs[$1] = runs[$1] (runs[$1] == "" ? "" : " ") $5; n[$1] = $3 }
  END {
    k = split(order, sys, " ")
    for (i = 1; i <= k; i++) if (sys[i] in runs) med[sys[i]] = median(runs[sys[i]])
    printf "| system | transfers per run | median transfers/s | runs (transfers/s) | lockstep ÷ system |\n"
    printf "|---|---|---|---|---|\n"
    best = ""
    for (i = 1; i <= k; i++) {
      s = sys[i]; if (!(s in med)) continue
      m = split(runs[s], v, " "); list = ""
      for (j = 1; j <= m; j++) list = list (j > 1 ? ", " : "") commas(v[j])
      ratio = ("lockstep" in med) ? sprintf("%.1f", med["lockstep"] / med[s]) : "-"
      printf "| %s | %s | %s | %s | %s |\n", s, commas(n[s]), commas(med[s]), list, ratio
      if (s != "lockstep" && (best == "" || med[s] > med[best])) best = s
    }
    if (best != "" && ("lockstep" in med))
      printf "\nlockstep ÷ best peer (%s): %.1f\n", best, med["lockstep"] / med[best]
  }' "$RESULTS"
echo
echo "balances: every run's byte-identical to lockstep's on the same transfers (cmp); counts equal"
[[ $KEEP != 1 ]] || echo "per-run results, balances and logs: $WORK"
