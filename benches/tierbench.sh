#!/usr/bin/env bash
# tierd against redis-server and the raw disk, measured by tierbench alone, and one
# chart of every latency curve:
#
#   1. tierbench device: 4 KiB random O_DIRECT reads (io_uring) at QD1 and QD32 on a
#      file in the run's directory (the filesystem of tierd's tier files);
#   2. tierd with DATASET_MB of VALUE-byte values under MAXMEMORY (most of them cold),
#      redis-server 7 with the same keys (all in RAM), both without persistence (an
#      AOF rewrite would read every cold value meanwhile);
#   3. uniform GETs over every key at 1 and at CLIENTS connections on each server,
#      then at 1 connection 90 % of them on 1 % of the keys (hotset:1), with tierd's
#      maxmemory raised first so that it promotes those to RAM on their second read
#      (below its low watermark only): tierd's GETs split hot and cold by TIER TRACE,
#      checked against INFO cold_reads;
#   4. tierbench plot of every result into chart.svg.
#
#   benches/tierbench.sh                        # about two minutes
#   SECS=3 DATASET_MB=128 benches/tierbench.sh  # quicker
#   OUT=/tmp/results benches/tierbench.sh       # keep the JSON results and the chart
#
# Knobs (environment): MAXMEMORY (32mb), DATASET_MB (256), VALUE (1024), CLIENTS (32),
# SECS (5: each run), DEVICE_SIZE (1gb), BENCH_DIR (${TMPDIR:-/tmp}: the run's
# directory, which must be on a disk that takes O_DIRECT), OUT (where the results and
# chart.svg are kept; default: target/tierbench-results).
#
# Needs redis-server and redis-cli (Debian: apt-get install -y redis-server redis-tools).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAXMEMORY=${MAXMEMORY:-32mb}
DATASET_MB=${DATASET_MB:-256}
VALUE=${VALUE:-1024}
CLIENTS=${CLIENTS:-32}
SECS=${SECS:-5}
DEVICE_SIZE=${DEVICE_SIZE:-1gb}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
OUT=${OUT:-target/tierbench-results}
KEYS=$((DATASET_MB * 1024 * 1024 / VALUE))

# shellcheck source=benches/common.sh
. benches/common.sh
require_tools "apt-get install -y redis-server redis-tools" redis-server redis-cli

echo "building tierd and tierbench (release)..."
cargo build --release --quiet -p tier-server --bin tierd -p tier-tools --bin tierbench
tierbench=./target/release/tierbench

work_dir "$BENCH_DIR"
mkdir -p "$OUT" "$workdir/tierd" "$workdir/redis"

echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dataset: $KEYS keys x $VALUE B under tierd --maxmemory $MAXMEMORY; runs of ${SECS}s"

"$tierbench" device --dir "$workdir" --size "$DEVICE_SIZE" --duration "${SECS}s" \
    --json "$OUT/device.json"

tier_port=$(free_port)
./target/release/tierd --port "$tier_port" --bind 127.0.0.1 --dir "$workdir/tierd" \
    --maxmemory "$MAXMEMORY" --appendonly no --logfile "$workdir/tierd.log" &
pids+=($!)
redis_port=$(free_port)
while [ "$redis_port" = "$tier_port" ]; do redis_port=$(free_port); done
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$workdir/redis" --logfile "$workdir/redis.log" &
pids+=($!)
wait_for_port "$tier_port" tierd
wait_for_port "$redis_port" redis-server

for server in tierd redis; do
    port=$tier_port
    [ "$server" = redis ] && port=$redis_port
    "$tierbench" -p "$port" --keys "$KEYS" --value-size "$VALUE" --load -n 0 -c 8 >/dev/null
    for clients in 1 "$CLIENTS"; do
        "$tierbench" -p "$port" --keys "$KEYS" --ratio 1:0 -c "$clients" \
            --duration "${SECS}s" --name "$server c=$clients" --json "$OUT/$server-c$clients.json"
    done
    if [ "$server" = tierd ]; then
        redis-cli -p "$port" config set maxmemory 1gb >/dev/null
    fi
    "$tierbench" -p "$port" --keys "$KEYS" --ratio 1:0 -c 1 --key-pattern hotset:1 \
        --duration "${SECS}s" --name "$server hotset c=1" --json "$OUT/$server-hotset-c1.json"
done

"$tierbench" plot "$OUT"/*.json -o "$OUT/chart.svg"
