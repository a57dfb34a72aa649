#!/usr/bin/env bash
# Durability figures: how fast tierd comes back after a restart with a dataset several
# times maxmemory (replaying the AOF's increments, then loading a rewritten AOF's
# base snapshot), and what a BGSAVE costs the clients beside it (its duration, and
# the p99 of 50 clients' SETs and GETs during it against the same run without it).
#
#   benches/durability.sh                        # 640 MiB of 1 KiB values under 64mb
#   DATASET_MB=128 BENCH_N=100000 benches/durability.sh   # quicker
#
# Needs redis-benchmark, redis-cli and python3 (Debian: apt-get install redis-tools).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAXMEMORY=${MAXMEMORY:-64mb}
DATASET_MB=${DATASET_MB:-640}
VALUE=${VALUE:-1024}
CLIENTS=${CLIENTS:-50}
# Requests of each redis-benchmark run (SET, then GET).
BENCH_N=${BENCH_N:-400000}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
KEYS=$((DATASET_MB * 1024 * 1024 / VALUE))

# shellcheck source=benches/common.sh
. benches/common.sh
require_tools "apt-get install -y redis-tools python3" redis-benchmark redis-cli python3

build_tierd

workdir=$(mktemp -d "$BENCH_DIR/tier-durability.XXXXXX")
tier_pid=
cleanup() {
    if [ -n "$tier_pid" ]; then
        kill "$tier_pid" 2>/dev/null || true
        wait "$tier_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
tcli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
field() { tcli info everything | tr -d '\r' | awk -F: -v f="$1" '$1 == f { print $2 }'; }
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Starts tierd on the run's data dir (automatic rewrites off: each case chooses what
# the AOF holds); sets loaded_secs to the seconds until it has loaded its data.
start_tierd() {
    local started
    started=$(now)
    ./target/release/tierd --port "$port" --bind 127.0.0.1 --dir "$workdir/data" \
        --maxmemory "$MAXMEMORY" --auto-aof-rewrite-percentage 0 \
        --logfile "$workdir/tierd.log" >/dev/null 2>&1 &
    tier_pid=$!
    wait_for_port "$port" tierd
    until [ "$(field loading)" = 0 ]; do sleep 0.05; done
    loaded_secs=$(secs_since "$started")
}

stop_tierd() {
    tcli shutdown >/dev/null 2>&1 || true
    wait "$tier_pid" 2>/dev/null || true
    tier_pid=
}

# Waits until INFO's FIELD is 0 (a background job is over).
wait_zero() { until [ "$(field "$1")" = 0 ]; do sleep 0.05; done; }

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
rate() { awk -v m="$DATASET_MB" -v s="$1" 'BEGIN { printf "%.0f", m / s }'; }

./target/release/tierd --version
echo "machine: $(nproc) cores, $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dataset: $KEYS keys x $VALUE random bytes = $DATASET_MB MiB, maxmemory $MAXMEMORY, appendfsync everysec"

start_tierd
echo "== loading (redis-cli --pipe)"
loaded_at=$(now)
python3 benches/gen.py set-random key "$KEYS" "$VALUE" |
    redis-cli -h 127.0.0.1 -p "$port" --pipe >"$workdir/load.txt" 2>&1 || true
load_secs=$(secs_since "$loaded_at")
if ! grep -q "errors: 0, replies: $KEYS" "$workdir/load.txt"; then
    echo "loading failed: $(tail -1 "$workdir/load.txt")" >&2
    exit 1
fi
cold_keys=$(field cold_keys)
aof_size=$(field aof_current_size)
stop_tierd

echo "== restart: replaying the AOF's increments"
start_tierd
replay_secs=$loaded_secs
[ "$(tcli dbsize | tr -d '\r')" = "$KEYS" ] || { echo "DBSIZE after replay is wrong" >&2; exit 1; }

echo "== BGREWRITEAOF, then restart: loading the base snapshot"
rewrite_at=$(now)
tcli bgrewriteaof >/dev/null
wait_zero aof_rewrite_in_progress
rewrite_secs=$(secs_since "$rewrite_at")
base_size=$(field aof_base_size)
stop_tierd
start_tierd
base_secs=$loaded_secs
[ "$(tcli dbsize | tr -d '\r')" = "$KEYS" ] || { echo "DBSIZE after the base load is wrong" >&2; exit 1; }

alone_at=$(now)
tcli bgsave >/dev/null
wait_zero rdb_bgsave_in_progress
alone_secs=$(secs_since "$alone_at")

# bench LABEL: SETs then GETs of the dataset's keys, 50 clients; "test rps p99" lines.
bench() {
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$BENCH_N" -r "$KEYS" \
        -d "$VALUE" -t set,get --csv 2>/dev/null |
        awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); print $1, $2, $7 }' \
        >"$workdir/$1.txt"
}
echo "== clients without a BGSAVE, then with one started as they start"
bench quiet
bgsave_at=$(now)
tcli bgsave >/dev/null
bench busy &
bench_pid=$!
wait_zero rdb_bgsave_in_progress
bgsave_secs=$(secs_since "$bgsave_at")
wait "$bench_pid"
bench_secs=$(secs_since "$bgsave_at")
dump_size=$(stat -c %s "$workdir/data/dump.tsnap")
stop_tierd

echo
echo "load (redis-cli --pipe): ${load_secs}s, $(rate "$load_secs") MiB/s; $cold_keys keys cold; AOF $(mib "$aof_size") MiB"
echo "restart replaying increments: ${replay_secs}s, $(rate "$replay_secs") MiB/s of data"
echo "BGREWRITEAOF: ${rewrite_secs}s; base $(mib "$base_size") MiB"
echo "restart loading the base: ${base_secs}s, $(rate "$base_secs") MiB/s of data"
echo "BGSAVE alone: ${alone_secs}s"
echo "BGSAVE beside clients: ${bgsave_secs}s (the clients' runs: ${bench_secs}s); dump $(mib "$dump_size") MiB"
printf '%-5s %12s %12s %12s %12s\n' test "rps quiet" "rps bgsave" "p99 quiet" "p99 bgsave"
join "$workdir/quiet.txt" "$workdir/busy.txt" |
    awk '{ printf "%-5s %12.0f %12.0f %10.3fms %10.3fms\n", $1, $2, $4, $3, $5 }'
