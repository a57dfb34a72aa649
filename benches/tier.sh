#!/usr/bin/env bash
# The cold-tier benchmark: what tierd's NVMe tier costs and gives, against the raw
# device and against redis-server, in one run on this machine.
#
#   1. fio: 4 KiB random O_DIRECT reads (io_uring) at QD1 and QD32 on a file in the
#      same directory (so the same filesystem) as tierd's tier files;
#   2. tierd with a dataset 10x maxmemory (640 MiB of 1 KiB values under 64mb):
#      load rate, then RAM per key from INFO (used_memory, hot_bytes) and RSS;
#   3. every value demoted (maxmemory 1mb until cold_keys is 99.9 % of the keys and
#      no AOF rewrite or BGSAVE runs),
#      promotion off (tier-promote-window 0), RAM per cold key;
#   4. a small hot set written beside them (maxmemory raised so it stays in RAM), and
#      the same keys in redis-server 7;
#      then, for 1 client (fio QD1) and 32 clients (fio QD32) in turn: fio, cold GETs
#      (uniform over every key; INFO cold_reads must grow by the number of GETs), hot
#      GETs on tierd, the same on redis-server;
#   5. mixed: uniform random GETs over the whole dataset at 32 clients with maxmemory
#      and the promotion window back to what they were (what a user sees);
#   6. a summary with the targets beside the figures.
#
#   benches/tier.sh                           # defaults: 2.5-4 minutes
#   IO_ENGINE=psync benches/tier.sh           # the tier on the thread-pool engine
#   DATASET_MB=160 COLD_SECS=5 HOT_SECS=3 MIXED_SECS=5 FIO_SECS=5 benches/tier.sh
#
# Knobs (environment): MAXMEMORY (64mb), DATASET_MB (640: MiB of values loaded),
# VALUE (1024: bytes per value), HOT_KEYS (20000), IO_ENGINE (auto|uring|psync),
# COLD_SECS (15), HOT_SECS (8), MIXED_SECS (15): about how long each redis-benchmark
# run lasts (its request count is calibrated by a short probe run; N_COLD_C1,
# N_COLD_C32, N_HOT_C1, N_HOT_C32, N_MIXED fix the counts instead), FIO_SECS (12),
# FIO_SIZE (1g), BENCH_DIR (${TMPDIR:-/tmp}: where the run's directory, the tier
# files and fio's file go; must be a disk filesystem that takes O_DIRECT).
#
# Latencies are redis-benchmark's, measured by the client (a round trip over
# loopback): p50 and p99 from its "latency summary", p99.9 from its "Latency by
# percentile distribution" (the first line at or above 99.9 %: the latency under
# which at least 99.9 % of the requests completed). fio's rows show its total
# latencies (lat: submission, which on a virtual disk includes the notification of the
# device, plus completion), what a program waiting for one read sees; the completion
# latency alone (clat) p50 is in the row's note, and fio's own CPU per I/O in the CPU
# column. The first target's line also shows the floor this device sets: hot GET p50
# plus fio's QD1 lat p50, what a cold GET would take with no overhead of its own.
#
# Needs fio, redis-server, redis-benchmark, redis-cli and python3
# (Debian: apt-get install -y fio redis-server redis-tools).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAXMEMORY=${MAXMEMORY:-64mb}
DATASET_MB=${DATASET_MB:-640}
VALUE=${VALUE:-1024}
HOT_KEYS=${HOT_KEYS:-20000}
IO_ENGINE=${IO_ENGINE:-auto}
COLD_SECS=${COLD_SECS:-15}
HOT_SECS=${HOT_SECS:-8}
MIXED_SECS=${MIXED_SECS:-15}
FIO_SECS=${FIO_SECS:-12}
FIO_SIZE=${FIO_SIZE:-1g}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
# How long to wait for the demoter to make every value cold.
DEMOTE_TIMEOUT=${DEMOTE_TIMEOUT:-180}

KEYS=$((DATASET_MB * 1024 * 1024 / VALUE))
KEY_LEN=16 # key:%012d, redis-benchmark's __rand_int__ keys
if [ "$HOT_KEYS" -gt "$KEYS" ]; then HOT_KEYS=$KEYS; fi

# shellcheck source=benches/common.sh
. benches/common.sh
require_tools "apt-get install -y fio redis-server redis-tools python3" fio redis-server redis-benchmark redis-cli python3

build_tierd

workdir=$(mktemp -d "$BENCH_DIR/tier-bench.XXXXXX")
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -eq 0 ]; then
        rm -rf "$workdir"
    else
        # Keep the logs and the outputs; drop the big files.
        rm -rf "$workdir/tier" "$workdir/fio.dat"
        echo "FAILED (status $status); tierd log: $workdir/tierd.log, outputs in $workdir" >&2
    fi
}
trap cleanup EXIT

fstype=$(df --output=fstype "$workdir" | tail -1)
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
    echo "$workdir is on $fstype (no O_DIRECT, no disk): set BENCH_DIR to a disk" >&2
    exit 1
fi

# ---- helpers written once into the run's directory ----

# benches/gen.py CMD PREFIX N SIZE: the RESP of N commands on keys PREFIX:%012d from
# 0 (the keys redis-benchmark's PREFIX:__rand_int__ names): SET with a value that
# starts with its key, padded to SIZE bytes, or DEL. benches/rb.py FILE: "rps p50 p99
# p99.9" (latencies in µs) from redis-benchmark's output.

# verify.py PORT KEYS SIZE COUNT: GETs COUNT random keys (pipelined) and checks each
# value is the one gen.py wrote; prints the number checked.
cat >"$workdir/verify.py" <<'EOF'
import random, socket, sys
port, keys, size, count = (int(a) for a in sys.argv[1:5])
idx = [random.randrange(keys) for _ in range(count)]
s = socket.create_connection(("127.0.0.1", port))
req = b"".join(b"*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n" % i for i in idx)
s.sendall(req)
f = s.makefile("rb")
pad = b"v" * size
for i in idx:
    head = f.readline()
    if not head.startswith(b"$"):
        sys.exit("GET key:%012d: unexpected reply %r" % (i, head))
    n = int(head[1:])
    body = f.read(n + 2)[:-2]
    k = b"key:%012d" % i
    want = (k + b":" + pad)[:size]
    if body != want:
        sys.exit("GET key:%012d: wrong value (%d bytes, starts %r)" % (i, len(body), body[:40]))
print(count)
EOF

# fio.py FILE: "iops p50 p99 p99.9 clat-p50 cpu" from fio's json: the total latency
# (lat) percentiles and the completion latency (clat) p50 in µs, and fio's user +
# system CPU µs per I/O.
cat >"$workdir/fio.py" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
read = job["read"]
lat = read["lat_ns"]["percentile"]
clat = read["clat_ns"]["percentile"]
cpu = (job["usr_cpu"] + job["sys_cpu"]) / 100 * read["runtime"] * 1e3 / read["total_ios"]
print("%.0f %.0f %.0f %.0f %.0f %.1f" % (read["iops"], lat["50.000000"] / 1e3, lat["99.000000"] / 1e3,
                                       lat["99.900000"] / 1e3, clat["50.000000"] / 1e3, cpu))
EOF

# ---- servers ----

tier_port=$(free_port)
./target/release/tierd --port "$tier_port" --bind 127.0.0.1 --dir "$workdir" \
    --maxmemory "$MAXMEMORY" --tier-io-engine "$IO_ENGINE" \
    --logfile "$workdir/tierd.log" &
tier_pid=$!
pids+=("$tier_pid")
redis_port=$(free_port)
while [ "$redis_port" = "$tier_port" ]; do redis_port=$(free_port); done
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$workdir" --logfile "$workdir/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
wait_for_port "$tier_port" tierd
wait_for_port "$redis_port" redis-server

tcli() { redis-cli -h 127.0.0.1 -p "$tier_port" "$@"; }

# field NAME: one INFO field of tierd (every section).
field() {
    tcli info all | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }'
}
config_get() { tcli config get "$1" | tr -d '\r' | sed -n 2p; }
# cpu_ticks PID: the user + system CPU time of a process, all threads, in ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)
# thread_ticks PID: "name ticks" per thread group of a process (tokio-rt-worker,
# tier-uring, iou-wrk, ...: digits and dashes at the end of a name dropped).
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(sed 's/[-0-9]*$//' "$t/comm")" "$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)"
    done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }'
}
# ctx_switches PID: context switches of all the threads of a process so far.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$tier_pid/status"; }

# A reply that is not OK means the server refused a setting: stop.
tset() {
    local reply
    reply=$(tcli config set "$1" "$2" | tr -d '\r')
    if [ "$reply" != OK ]; then
        echo "CONFIG SET $1 $2: $reply" >&2
        exit 1
    fi
}

maxmemory_bytes=$(config_get maxmemory)
promote_window=$(config_get tier-promote-window)
io_engine=$(field io_engine)

redis-server --version
./target/release/tierd --version
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run dir: $workdir ($fstype on $(df --output=source "$workdir" | tail -1))"
echo "tierd: maxmemory $MAXMEMORY ($maxmemory_bytes B), io_engine $io_engine, tier-promote-window $promote_window; dataset $KEYS keys x $VALUE B = $DATASET_MB MiB"

sleep 1
empty_used=$(field used_memory)
empty_rss=$(rss_kib)

# ---- redis-benchmark runs ----

# bench LABEL PORT CLIENTS REQUESTS KEYRANGE PREFIX: one run of uniform random GETs
# of PREFIX:%012d below KEYRANGE (with PREFIX "key", exactly what -t get sends);
# its output is kept in $workdir/LABEL.txt, "rps p50 p99 p99.9" in LABEL.res, the
# server's CPU per request in LABEL.cpu.
bench() {
    local label=$1 port=$2 clients=$3 n=$4 range=$5 prefix=$6 out="$workdir/$1.txt"
    local ticks0 ticks1 ctx0 ctx1 pid=$tier_pid
    [ "$port" = "$redis_port" ] && pid=$redis_pid
    echo "  $label: redis-benchmark -c $clients -n $n -r $range GET $prefix:__rand_int__" >&2
    ticks0=$(cpu_ticks "$pid")
    ctx0=$(ctx_switches "$pid")
    thread_ticks "$pid" >"$workdir/$label.threads0"
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" -n "$n" -r "$range" -e \
        GET "$prefix:__rand_int__" >"$out" 2>&1
    ticks1=$(cpu_ticks "$pid")
    ctx1=$(ctx_switches "$pid")
    awk -v c="$((ctx1 - ctx0))" -v n="$n" 'BEGIN { printf "%.2f\n", c / n }' >"$workdir/$label.ctx"
    echo "$n" >"$workdir/$label.n"
    thread_ticks "$pid" >"$workdir/$label.threads1"
    # The server's CPU time (user + system, all threads) per request, in µs.
    awk -v t="$((ticks1 - ticks0))" -v hz="$clk_tck" -v n="$n" \
        'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' >"$workdir/$label.cpu"
    if grep -qiE '^error|error from server' "$out" || ! grep -q "$n requests completed" "$out"; then
        echo "redis-benchmark reported errors ($out):" >&2
        grep -iE 'error' "$out" | head -5 >&2
        exit 1
    fi
    python3 benches/rb.py "$out" >"$workdir/$label.res"
}

# requests NAME PORT CLIENTS RANGE PREFIX SECS: $NAME if set, else the request
# count of about SECS seconds, from a short probe run (which also warms up).
requests() {
    local name=$1 port=$2 clients=$3 range=$4 prefix=$5 secs=$6 probe rps
    if [ -n "${!name:-}" ]; then
        echo "${!name}"
        return
    fi
    probe=$((clients == 1 ? 3000 : 30000))
    bench "probe-$name" "$port" "$clients" "$probe" "$range" "$prefix"
    rps=$(cut -d' ' -f1 "$workdir/probe-$name.res")
    echo $((rps * secs > probe ? rps * secs : probe))
}

res() { cat "$workdir/$1.res"; }
cpu() { cat "$workdir/$1.cpu"; }
ctx() { cat "$workdir/$1.ctx"; }
# threads LABEL: the server's CPU µs per request of LABEL's run, by thread.
threads() {
    awk -v hz="$clk_tck" -v n="$(cat "$workdir/$1.n")" '
        FNR == NR { a[$1] = $2; next }
        { d = $2 - a[$1]; if (d > 0) printf " %s %.1f", $1, d * 1e6 / hz / n }
        END { print "" }' "$workdir/$1.threads0" "$workdir/$1.threads1"
}

fio_run() {
    local qd=$1
    echo "  fio: 4k randread io_uring direct QD$qd, ${FIO_SECS}s" >&2
    fio --name="randread-qd$qd" --filename="$workdir/fio.dat" --size="$FIO_SIZE" \
        --rw=randread --bs=4k --ioengine=io_uring --direct=1 --iodepth="$qd" \
        --runtime="$FIO_SECS" --time_based --lat_percentiles=1 --output-format=json \
        --output="$workdir/fio-qd$qd.json" >/dev/null
    python3 "$workdir/fio.py" "$workdir/fio-qd$qd.json" >"$workdir/fio-qd$qd.res"
}

# ---- 1. fio's file (the runs themselves alternate with the cold GETs) ----

echo
echo "== laying out fio's $FIO_SIZE file in $workdir"
# Written for real: reads of fallocated but unwritten extents never reach the device.
fio --name=layout --filename="$workdir/fio.dat" --size="$FIO_SIZE" --rw=write --bs=1m \
    --ioengine=io_uring --direct=1 --iodepth=8 --fallocate=none --end_fsync=1 >/dev/null

# ---- 2. load ----

echo "== loading $KEYS keys of $VALUE B into tierd (redis-cli --pipe)"
start=$(date +%s.%N)
python3 benches/gen.py set key "$KEYS" "$VALUE" |
    redis-cli -h 127.0.0.1 -p "$tier_port" --pipe >"$workdir/load.txt" 2>&1 || true
end=$(date +%s.%N)
# pipe_failed FILE: says what went wrong with a redis-cli --pipe whose output is FILE.
pipe_failed() {
    echo "redis-cli --pipe: $(tail -1 "$1"); first replies refused:" >&2
    grep -v -e '^All data transferred' -e '^Last reply' -e '^errors:' "$1" | sort | uniq -c | head -5 >&2
    echo "tierd: DBSIZE $(tcli dbsize), used_memory $(field used_memory)" >&2
    tcli info tiering | tr -d '\r' | grep -E '^(hot_keys|cold_keys|demotions|demoter_stalled):' >&2
}
if ! grep -q "errors: 0, replies: $KEYS" "$workdir/load.txt"; then
    pipe_failed "$workdir/load.txt"
    exit 1
fi
load_secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
load_mibs=$(awk -v s="$load_secs" -v k="$KEYS" -v v="$VALUE" 'BEGIN { printf "%.1f", k * v / 1048576 / s }')
load_kps=$(awk -v s="$load_secs" -v k="$KEYS" 'BEGIN { printf "%.0f", k / s }')
dbsize=$(tcli dbsize | tr -d '\r')
if [ "$dbsize" != "$KEYS" ]; then
    echo "DBSIZE is $dbsize after loading $KEYS keys" >&2
    exit 1
fi
sleep 1
load_used=$(field used_memory)
load_hot_bytes=$(field hot_bytes)
load_cold=$(field cold_keys)
load_rss=$(rss_kib)
echo "  $load_secs s: $load_mibs MiB/s of values, $load_kps keys/s"
echo "  keys $dbsize, cold_keys $load_cold, hot_bytes $load_hot_bytes, used_memory $load_used, RSS $load_rss KiB"

# ---- 3. every value cold ----

echo
echo "== demoting every value (CONFIG SET maxmemory 1mb), promotion off"
tset tier-promote-window 0
tset maxmemory 1mb
waited=0
while :; do
    cold=$(field cold_keys)
    # Sampling leaves a few stragglers for a while: 99.9 % is all we wait for. The
    # automatic AOF rewrite the load starts holds its own buffers (the snapshot's
    # compressor, its reads in flight) while it runs: RAM per key is measured after.
    jobs=$(($(field aof_rewrite_in_progress) + $(field rdb_bgsave_in_progress)))
    if [ $((cold * 1000)) -ge $((KEYS * 999)) ] && [ "$jobs" = 0 ]; then break; fi
    if [ "$waited" -ge "$DEMOTE_TIMEOUT" ]; then
        echo "after ${DEMOTE_TIMEOUT}s only $cold of $KEYS keys are cold:" >&2
        tcli info tiering >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
sleep 2
cold_keys=$(field cold_keys)
cold_used=$(field used_memory)
cold_hot_bytes=$(field hot_bytes)
cold_rss=$(rss_kib)
echo "  ${waited}s: cold_keys $cold_keys of $KEYS, hot_bytes $cold_hot_bytes, used_memory $cold_used, RSS $cold_rss KiB"
checked=$(python3 "$workdir/verify.py" "$tier_port" "$KEYS" "$VALUE" 2000)
echo "  $checked random cold values read back and checked"

# ---- 4. hot keys beside them, on tierd and redis-server ----

# The hot set is HOT_KEYS more keys, hot:%012d (as long as the cold ones), written
# once every value is cold, under a maxmemory raised to hold the all-cold node and
# them below the low watermark (80 %; 2x their values for their entries): the
# demoter idles (while RAM is above 90 % of maxmemory, 1mb above, it never stops
# sampling), promotion stays off, so the cold keys stay cold and the hot ones hot,
# and cold and hot runs can alternate.
hot_max=$(awk -v u="$cold_used" -v h="$HOT_KEYS" -v v="$VALUE" -v m="$maxmemory_bytes" \
    'BEGIN { b = (u + 2 * h * v) / 0.8; b = int(b / 1048576 + 1) * 1048576; if (b < m) b = m; print b }')
echo "== writing $HOT_KEYS hot keys (hot:%012d) to tierd (maxmemory $((hot_max / 1048576))mb) and redis-server"
tset maxmemory "$hot_max"
for port in "$tier_port" "$redis_port"; do
    python3 benches/gen.py set hot "$HOT_KEYS" "$VALUE" |
        redis-cli -h 127.0.0.1 -p "$port" --pipe >"$workdir/hot-load-$port.txt" 2>&1 || true
    if ! grep -q "errors: 0, replies: $HOT_KEYS" "$workdir/hot-load-$port.txt"; then
        echo "loading the hot keys into port $port failed" >&2
        pipe_failed "$workdir/hot-load-$port.txt"
        exit 1
    fi
done
sleep 2
echo "  tierd: hot_keys $(field hot_keys), cold_keys $(field cold_keys), used_memory $(field used_memory)"

# ---- the runs: fio, cold GETs, hot GETs on tierd and redis, alternately ----

# counted LABEL BENCH-ARGS...: bench, and the cold_reads tierd made meanwhile.
counted() {
    local label=$1 before after
    before=$(field cold_reads)
    bench "$@"
    after=$(field cold_reads)
    echo "$((after - before))" >"$workdir/$label.reads"
    echo "    tierd cold_reads +$((after - before)) for $(cat "$workdir/$label.n") GETs" >&2
}

echo
echo "== calibrating request counts"
n_cold_c1=$(requests N_COLD_C1 "$tier_port" 1 "$KEYS" key "$COLD_SECS")
n_cold_c32=$(requests N_COLD_C32 "$tier_port" 32 "$KEYS" key "$COLD_SECS")
n_hot_c1=$(requests N_HOT_C1 "$tier_port" 1 "$HOT_KEYS" hot "$HOT_SECS")
n_hot_c32=$(requests N_HOT_C32 "$tier_port" 32 "$HOT_KEYS" hot "$HOT_SECS")
for c in 1 32; do
    echo "== QD$c / $c client(s): fio, cold GETs, hot GETs on tierd and on redis-server"
    n_cold=$n_cold_c1 n_hot=$n_hot_c1
    if [ "$c" = 32 ]; then n_cold=$n_cold_c32 n_hot=$n_hot_c32; fi
    fio_run "$c"
    counted "cold-c$c" "$tier_port" "$c" "$n_cold" "$KEYS" key
    counted "hot-tierd-c$c" "$tier_port" "$c" "$n_hot" "$HOT_KEYS" hot
    bench "hot-redis-c$c" "$redis_port" "$c" "$n_hot" "$HOT_KEYS" hot
done
rm -f "$workdir/fio.dat"

# ---- 5. mixed: maxmemory and the promotion window as configured ----

echo
echo "== mixed: hot keys deleted, maxmemory back to $MAXMEMORY, tier-promote-window $promote_window; uniform GETs over all $KEYS keys"
python3 benches/gen.py del hot "$HOT_KEYS" "$VALUE" |
    redis-cli -h 127.0.0.1 -p "$tier_port" --pipe >"$workdir/hot-del.txt" 2>&1 || true
if ! grep -q "errors: 0, replies: $HOT_KEYS" "$workdir/hot-del.txt"; then
    pipe_failed "$workdir/hot-del.txt"
    exit 1
fi
tset maxmemory "$maxmemory_bytes"
tset tier-promote-window "$promote_window"
high=$((maxmemory_bytes * 9 / 10))
for _ in $(seq 30); do
    [ "$(field used_memory)" -lt "$high" ] && break
    sleep 1
done
n_mixed=${N_MIXED:-$(($(cut -d' ' -f1 "$workdir/cold-c32.res") * MIXED_SECS))}
m_promotions0=$(field promotions)
m_demotions0=$(field demotions)
m_reads0=$(field cold_reads)
bench mixed-c32 "$tier_port" 32 "$n_mixed" "$KEYS" key
m_promotions=$(($(field promotions) - m_promotions0))
m_demotions=$(($(field demotions) - m_demotions0))
m_reads=$(($(field cold_reads) - m_reads0))
m_hot_keys=$(field hot_keys)
echo "  promotions +$m_promotions, demotions +$m_demotions, cold_reads +$m_reads ($(awk -v r="$m_reads" -v n="$n_mixed" 'BEGIN { printf "%.0f", 100 * r / n }') % of GETs), hot_keys now $m_hot_keys, used_memory $(field used_memory)"

checked=$(python3 "$workdir/verify.py" "$tier_port" "$KEYS" "$VALUE" 2000)
echo "  $checked random values read back and checked"
errors=$(field cold_read_errors)
if [ "$errors" != 0 ]; then
    echo "INFO cold_read_errors is $errors" >&2
    exit 1
fi

# ---- 6. summary ----

read -r fio1_iops fio1_p50 fio1_p99 fio1_p999 fio1_clat fio1_cpu < <(res fio-qd1)
read -r fio32_iops fio32_p50 fio32_p99 fio32_p999 fio32_clat fio32_cpu < <(res fio-qd32)
read -r c1_rps c1_p50 c1_p99 c1_p999 < <(res cold-c1)
read -r c32_rps c32_p50 c32_p99 c32_p999 < <(res cold-c32)
read -r ht1_rps ht1_p50 ht1_p99 ht1_p999 < <(res hot-tierd-c1)
read -r hr1_rps hr1_p50 hr1_p99 hr1_p999 < <(res hot-redis-c1)
read -r ht32_rps ht32_p50 ht32_p99 ht32_p999 < <(res hot-tierd-c32)
read -r hr32_rps hr32_p50 hr32_p99 hr32_p999 < <(res hot-redis-c32)
read -r mx_rps mx_p50 mx_p99 mx_p999 < <(res mixed-c32)
c1_reads=$(cat "$workdir/cold-c1.reads")
c32_reads=$(cat "$workdir/cold-c32.reads")
hot_cold_reads=$(($(cat "$workdir/hot-tierd-c1.reads") + $(cat "$workdir/hot-tierd-c32.reads")))

per_key() { awk -v a="$1" -v b="$2" -v c="$3" -v k="$4" 'BEGIN { printf "%.1f", (a - b - c) / k }'; }
load_pk=$(per_key "$load_used" "$empty_used" 0 "$KEYS")
load_pk_nohot=$(per_key "$load_used" "$empty_used" "$load_hot_bytes" "$KEYS")
cold_pk=$(per_key "$cold_used" "$empty_used" 0 "$KEYS")
cold_pk_nohot=$(per_key "$cold_used" "$empty_used" "$cold_hot_bytes" "$KEYS")
rss_pk=$(awk -v a="$cold_rss" -v b="$empty_rss" -v k="$KEYS" 'BEGIN { printf "%.1f", (a - b) * 1024 / k }')

verdict() { if awk "BEGIN { exit !($1) }"; then echo MET; else echo "NOT MET"; fi; }
t1_limit=$((ht1_p50 + 60))
t1=$(verdict "$c1_p50 <= $t1_limit")
t2_limit=$(awk -v f="$fio32_iops" 'BEGIN { printf "%.0f", 0.8 * f }')
t2=$(verdict "$c32_rps >= $t2_limit")
t2_pct=$(awk -v a="$c32_rps" -v f="$fio32_iops" 'BEGIN { printf "%.0f", 100 * a / f }')
t3_limit=$((32 + KEY_LEN))
t3=$(verdict "$cold_pk_nohot <= $t3_limit")

row() { printf '%-36s %9s %8s %8s %8s %9s %8s  %s\n' "$@"; }
echo
echo "== summary: tierd io_engine $io_engine, maxmemory $MAXMEMORY, $KEYS keys x $VALUE B ($DATASET_MB MiB); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
row "" "ops/s" "p50 µs" "p99 µs" "p99.9 µs" "CPU µs/op" "ctxsw/op" ""
row "fio 4k randread QD1 (lat)" "$fio1_iops" "$fio1_p50" "$fio1_p99" "$fio1_p999" "$fio1_cpu" "" "clat p50 $fio1_clat µs"
row "fio 4k randread QD32 (lat)" "$fio32_iops" "$fio32_p50" "$fio32_p99" "$fio32_p999" "$fio32_cpu" "" "clat p50 $fio32_clat µs"
row "tierd cold GET c=1" "$c1_rps" "$c1_p50" "$c1_p99" "$c1_p999" "$(cpu cold-c1)" "$(ctx cold-c1)" "cold_reads +$c1_reads / $n_cold_c1 GETs"
row "tierd cold GET c=32" "$c32_rps" "$c32_p50" "$c32_p99" "$c32_p999" "$(cpu cold-c32)" "$(ctx cold-c32)" "cold_reads +$c32_reads / $n_cold_c32 GETs"
row "tierd hot GET c=1" "$ht1_rps" "$ht1_p50" "$ht1_p99" "$ht1_p999" "$(cpu hot-tierd-c1)" "$(ctx hot-tierd-c1)" "$HOT_KEYS keys; cold_reads +$hot_cold_reads in both hot runs"
row "redis hot GET c=1" "$hr1_rps" "$hr1_p50" "$hr1_p99" "$hr1_p999" "$(cpu hot-redis-c1)" "$(ctx hot-redis-c1)" "tierd/redis $(awk -v a="$ht1_rps" -v b="$hr1_rps" 'BEGIN { printf "%.2f", a / b }')"
row "tierd hot GET c=32" "$ht32_rps" "$ht32_p50" "$ht32_p99" "$ht32_p999" "$(cpu hot-tierd-c32)" "$(ctx hot-tierd-c32)" ""
row "redis hot GET c=32" "$hr32_rps" "$hr32_p50" "$hr32_p99" "$hr32_p999" "$(cpu hot-redis-c32)" "$(ctx hot-redis-c32)" "tierd/redis $(awk -v a="$ht32_rps" -v b="$hr32_rps" 'BEGIN { printf "%.2f", a / b }')"
row "tierd mixed GET c=32 (promotion on)" "$mx_rps" "$mx_p50" "$mx_p99" "$mx_p999" "$(cpu mixed-c32)" "$(ctx mixed-c32)" "promotions +$m_promotions, demotions +$m_demotions, cold_reads +$m_reads / $n_mixed GETs"
echo "(CPU µs/op, ctxsw/op: the server's user + system time, and its threads' context switches, over the run / its requests)"
for label in cold-c1 cold-c32 hot-tierd-c1 hot-tierd-c32 mixed-c32; do
    printf '  tierd CPU µs/op by thread, %-13s%s\n' "$label:" "$(threads "$label")"
done
echo
echo "load: $load_mibs MiB/s of values ($load_kps keys/s, $load_secs s)"
printf '%-34s %10s %10s %12s %10s\n' "RAM (key length $KEY_LEN B)" used_memory hot_bytes "B/key" "B/key-hot"
printf '%-34s %10s %10s %12s %10s\n' "empty tierd" "$empty_used" 0 "" ""
printf '%-34s %10s %10s %12s %10s\n' "after load ($load_cold cold)" "$load_used" "$load_hot_bytes" "$load_pk" "$load_pk_nohot"
printf '%-34s %10s %10s %12s %10s\n' "all cold ($cold_keys cold)" "$cold_used" "$cold_hot_bytes" "$cold_pk" "$cold_pk_nohot"
echo "RSS: empty $((empty_rss / 1024)) MiB, after load $((load_rss / 1024)) MiB, all cold $((cold_rss / 1024)) MiB ($rss_pk B/key over empty)"
echo
echo "targets (run time ${SECONDS}s):"
printf '  %-66s %s\n' "cold GET p50 $c1_p50 µs <= hot GET p50 $ht1_p50 + 60 = $t1_limit µs (c=1)" "$t1"
echo "    (the device's floor: hot GET p50 + fio QD1 lat p50 = $((ht1_p50 + fio1_p50)) µs; the cold GET's own overhead above it: $((c1_p50 - ht1_p50 - fio1_p50)) µs)"
printf '  %-66s %s\n' "cold GET c=32 $c32_rps/s >= 80 % of fio QD32 = $t2_limit/s ($t2_pct %)" "$t2"
printf '  %-66s %s\n' "RAM per cold key $cold_pk_nohot B <= 32 + key $KEY_LEN = $t3_limit B" "$t3"
