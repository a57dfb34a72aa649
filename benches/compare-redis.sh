#!/usr/bin/env bash
# Compares tierd with redis-server under redis-benchmark: SET and GET, 50 clients,
# 16-byte values, 1M random keys, without and with pipelining (-P 1, -P 16). Both
# servers run at the same time on free loopback ports, without persistence, and are
# measured alternately (redis, then tierd, for each pipeline depth).
#
#   benches/compare-redis.sh                  # defaults: about 10 s per run
#   N=200000 N_PIPELINED=1000000 benches/compare-redis.sh   # quicker
#   ROUNDS=5 PERSISTENCE=always benches/compare-redis.sh       # 5 alternated rounds
#   TIER_TMPDIR=/dev/shm PERSISTENCE=always benches/compare-redis.sh
#
# TIER_TMPDIR puts tierd's data dir under another directory than redis-server's; on
# tmpfs (/dev/shm) an fsync costs nothing, which shows the most tierd's commit path
# can do on this machine beside redis-server on the real disk.
#
# With ROUNDS above 1 every round's ratio is listed, and the table shows the medians:
# of each server's rps and p99, and of the rounds' ratios (a disk's fsync latency
# drifts from minute to minute, so one pair under appendfsync always can mislead).
#
# Needs redis-server and redis-benchmark (Debian: apt-get install redis-server).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Requests per run without pipelining, and with -P 16.
N=${N:-1000000}
N_PIPELINED=${N_PIPELINED:-8000000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-1}

# shellcheck source=benches/common.sh
. benches/common.sh
require_tools "apt-get install -y redis-server redis-tools" redis-server redis-benchmark

build_tierd

work_dir "${TMPDIR:-/tmp}"

# Both servers persist alike: PERSISTENCE=aof (the default, tierd's default) runs
# both with the AOF at appendfsync everysec, PERSISTENCE=always at appendfsync
# always, PERSISTENCE=none with no AOF; neither takes snapshots while measured.
case "${PERSISTENCE:-aof}" in
aof) persist=(--appendonly yes --appendfsync everysec --save '') ;;
always) persist=(--appendonly yes --appendfsync always --save '') ;;
none) persist=(--appendonly no --save '') ;;
*) echo "PERSISTENCE must be aof, always or none" >&2; exit 2 ;;
esac
mkdir -p "$workdir/redis"
tier_dir=$(mktemp -d "${TIER_TMPDIR:-$workdir}/tier-data.XXXXXX")
extra_dirs+=("$tier_dir")
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 "${persist[@]}" \
    --dir "$workdir/redis" --logfile "$workdir/redis.log" &
pids+=($!)
tier_port=$(free_port)
while [ "$tier_port" = "$redis_port" ]; do tier_port=$(free_port); done
./target/release/tierd --port "$tier_port" --bind 127.0.0.1 --dir "$tier_dir" \
    "${persist[@]}" --logfile "$workdir/tierd.log" &
pids+=($!)
wait_for_port "$redis_port" redis-server
wait_for_port "$tier_port" tierd

redis-server --version
./target/release/tierd --version
echo "machine: $(nproc) cores, $(uname -sr); clients $CLIENTS; N=$N (-P 1), N_PIPELINED=$N_PIPELINED (-P 16)"
[ -n "${TIER_TMPDIR:-}" ] && echo "tierd's data: $tier_dir; redis-server's: $workdir/redis"

# Runs redis-benchmark against a port; prints "TEST rps p99" lines.
bench() {
    local port=$1 pipeline=$2 requests=$3
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -t set,get -d 16 -r 1000000 \
        -n "$requests" -P "$pipeline" --csv |
        awk -F, 'NR > 1 { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); print $1, $2, $7 }'
}

results="$workdir/results"
for round in $(seq "$ROUNDS"); do
    for pipeline in 1 16; do
        requests=$N
        [ "$pipeline" -gt 1 ] && requests=$N_PIPELINED
        for server in redis tierd; do
            port=$redis_port
            [ "$server" = tierd ] && port=$tier_port
            echo "round $round/$ROUNDS: running $server -P $pipeline -n $requests..." >&2
            bench "$port" "$pipeline" "$requests" | sed "s/^/$round $server $pipeline /" >>"$results"
        done
    done
done

# results lines: round server pipeline test rps p99
echo
awk '
    # The median of list[1..len] (sorted in place).
    function median(list, len,    i, j, v) {
        for (i = 2; i <= len; i++) {
            v = list[i]
            for (j = i - 1; j >= 1 && list[j] > v; j--) list[j + 1] = list[j]
            list[j + 1] = v
        }
        return len % 2 ? list[(len + 1) / 2] : (list[len / 2] + list[len / 2 + 1]) / 2
    }
    {
        key = $4 " " $3; rps[$2, key, $1] = $5; p99[$2, key, $1] = $6
        if ($1 > rounds) rounds = $1
        if (!(key in seen)) { seen[key] = 1; order[n++] = key }
    }
    END {
        for (i = 0; i < n; i++)
            for (r = 1; r <= rounds; r++) {
                redis = rps["redis", order[i], r]
                ratios[order[i], r] = redis > 0 ? rps["tierd", order[i], r] / redis : 0
            }
        if (rounds > 1) {
            printf "%-5s %8s  %s\n", "test", "pipeline", "tierd/redis by round"
            for (i = 0; i < n; i++) {
                split(order[i], k, " "); line = ""
                for (r = 1; r <= rounds; r++) line = line sprintf(" %.2f", ratios[order[i], r])
                printf "%-5s %8s %s\n", k[1], k[2], line
            }
            printf "\nmedians of %d rounds:\n", rounds
        }
        printf "%-5s %8s %12s %12s %7s %10s %10s\n", "test", "pipeline", "redis rps", "tierd rps", "ratio", "redis p99", "tierd p99"
        for (i = 0; i < n; i++) {
            split(order[i], k, " ")
            for (r = 1; r <= rounds; r++) {
                rr[r] = rps["redis", order[i], r]; tr[r] = rps["tierd", order[i], r]
                ratio[r] = ratios[order[i], r]
                rp[r] = p99["redis", order[i], r]; tp[r] = p99["tierd", order[i], r]
            }
            printf "%-5s %8s %12.0f %12.0f %7.2f %8.3fms %8.3fms\n", k[1], k[2], median(rr, rounds), median(tr, rounds), median(ratio, rounds), median(rp, rounds), median(tp, rounds)
        }
    }' "$results"
