# Helpers the benchmark scripts share (sourced, not run): tool checks, the release
# build of tierd, a work dir cleaned up on exit, and loopback ports.

# require_tools HINT TOOL...: exits with HINT (how to install them) unless every
# TOOL is on the PATH.
require_tools() {
    local hint=$1
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$tool not found: $hint" >&2
            exit 1
        fi
    done
}

# work_dir [DIR]: sets $workdir to a new directory (under DIR, default $TMPDIR or
# /tmp) and $pids and $extra_dirs to empty lists; on exit, every process in $pids is
# stopped, and $workdir and every directory in $extra_dirs deleted.
work_dir() {
    workdir=$(mktemp -d "${1:-${TMPDIR:-/tmp}}/tier-bench.XXXXXX")
    pids=()
    extra_dirs=()
    trap stop_and_clean EXIT
}

stop_and_clean() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$workdir" "${extra_dirs[@]}"
}

build_tierd() {
    echo "building tierd (release)..."
    cargo build --release --quiet -p tier-server --bin tierd
}

# A port nothing listens on (a connection to it is refused).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# wait_for_port PORT NAME: waits up to 10 s for something to listen on PORT.
wait_for_port() {
    local port=$1 name=$2
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "$name did not start on port $port" >&2
    exit 1
}
