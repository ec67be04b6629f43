#!/usr/bin/env bash
# Benchmarks, in one go on this machine, and a comparison table
# (docs/benchmarks.md explains every figure):
#   - the floor: the private-key operations an enrollment cannot avoid (RA
#     decrypt, CA signature, RA signature), timed by `scep-lab bench` itself;
#   - the server's own CPU time per enrollment (scep-lab: its /metrics;
#     scepserver: /proc/<pid>/stat) and the efficiency floor / CPU, which do
#     not depend on who wins the two cores shared with the load generator;
#   - throughput and p50/p99 latency at BENCH_CONNECTIONS connections, over
#     HTTP and over HTTPS (keep-alive, and a new TLS connection per
#     enrollment resuming the previous session);
#   - scep-lab on a fresh store, then with BENCH_SEED certificates in it;
#   - scep-lab with an ECDSA issuing CA (P-256) behind an RSA RA, and with EC
#     P-256 requesters (replies enveloped by ECDH key agreement);
#   - micromdm's scepserver (Debian package `scep`, a fresh RSA-2048 depot,
#     -allowrenew 0) under the same `scep-lab bench` parameters;
#   - scep-lab's start-to-ready time on an existing PKI and its peak RSS.
# Keys: a pool of BENCH_KEYS keys per key type (kept in the build directory),
# cycled over the requests; every request still has its own CSR and
# transactionID. BENCH_KEYS=0 gives every request its own key (the first run
# then spends minutes generating them).
# Everything runs on loopback; as root the whole run is put in its own network
# namespace (unshare -n), so scepserver, which listens on every interface,
# is reachable from nowhere else.
#   BENCH_REQUESTS (2000) BENCH_CONNECTIONS (16) BENCH_KEYS (64) BENCH_SEED (100000) BENCH_OUT (build/bench/result.md)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && [ -z "${SCEP_LAB_BENCH_NETNS:-}" ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
    exec env SCEP_LAB_BENCH_NETNS=1 unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
requests=${BENCH_REQUESTS:-2000}
conns=${BENCH_CONNECTIONS:-16}
pool=${BENCH_KEYS:-64}
seed=${BENCH_SEED:-100000}
out=${BENCH_OUT:-build/bench/result.md}
scripts/deps.sh test >/dev/null
[ -x "${BUILD_DIR:-build}/cli/scep-lab" ] || scripts/build.sh >/dev/null
bin=$(readlink -f "${BUILD_DIR:-build}/cli/scep-lab")
cache_dir=$(readlink -f "${BUILD_DIR:-build}")
work=$(mktemp -d /tmp/scep-lab-bench.XXXXXX)
mkdir -p "$(dirname "$out")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$2" | awk '{printf "%.6g", $1 + 0}'; }

cores=$(nproc)
started=$(date +%s)
extra=()

# bench NAME URL [KEY [SERVER_PID]]: a warm-up, then the measured run, JSON in $work/NAME.json
bench() {
    local key=${3:-rsa2048}
    local cache="$cache_dir/bench-keys-$key.pem"
    local opts=(-c "$conns" --key "$key" --key-cache "$cache" --json)
    [ "$pool" -gt 0 ] && opts+=(--keys "$pool")
    [ -n "${4:-}" ] && opts+=(--server-pid "$4")
    opts+=("${extra[@]}")
    "$bin" bench "$2" -n 300 --no-floor "${opts[@]}" >"$work/$1.warmup.json" || true
    "$bin" bench "$2" -n "$requests" "${opts[@]}" >"$work/$1.json" || true
    cat "$work/$1.json"
}

# start_lab [DATA_DIR [serve options...]]
start_lab() {
    local data=${1:-$work/lab}
    shift || true
    rm -f "$work/ready.json"
    local t0
    t0=$(date +%s%N)
    "$bin" serve --port 0 --https-port 0 --data-dir "$data" --ready-file "$work/ready.json" "$@" >>"$work/lab.out" 2>>"$work/lab.log" &
    lab_pid=$!
    pids+=("$lab_pid")
    until [ -s "$work/ready.json" ]; do
        kill -0 "$lab_pid" 2>/dev/null || { tail "$work/lab.log"; exit 1; }
        sleep 0.005
    done
    ready_ms=$((($(date +%s%N) - t0) / 1000000))
    lab_url="http://127.0.0.1:$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ready.json")/scep"
    lab_https_url=$(sed -n 's/.*"https_url":"\([^"]*\)".*/\1/p' "$work/ready.json")
    lab_chain="$data/pki/ca-chain.pem"
}
stop_lab() {
    kill "$lab_pid"
    wait "$lab_pid" 2>/dev/null || true
}

echo "== scep-lab, empty store"
start_lab            # first start: generates the PKI
stop_lab
start_lab            # start on the existing PKI: the figure that counts
startup_logged=$(grep -o 'startup_ms=[0-9]*' "$work/lab.log" | tail -1 | cut -d= -f2)
echo "start to ready on an existing PKI: ${ready_ms} ms wall clock (server's own startup_ms: $startup_logged)"
bench lab "$lab_url"
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$lab_pid/status")
echo "peak RSS after the run: $((rss_kb / 1024)) MB"
echo "== scep-lab over HTTPS: keep-alive, then a new TLS connection per enrollment (sessions resumed)"
extra=(--ca-file "$lab_chain")
bench lab-https "$lab_https_url"
extra=(--ca-file "$lab_chain" --new-connection)
bench lab-https-new "$lab_https_url"
extra=()
echo "== scep-lab, EC P-256 requesters (key-agreement replies)"
bench lab-ec-requesters "$lab_url" ec-p256
stop_lab

echo "== scep-lab, ECDSA issuing CA (P-256) with an RSA-2048 RA"
start_lab "$work/lab-ecdsa" --config config/examples/ecdsa-issuing-ca.toml
bench lab-ecdsa-ca "$lab_url"
stop_lab

echo "== scep-lab, $seed certificates in the store"
"$bin" store seed "$seed" --data-dir "$work/lab"
start_lab
bench lab-full "$lab_url"
rss_full_kb=$(awk '/VmHWM/ {print $2}' "/proc/$lab_pid/status")
stop_lab

echo "== micromdm scepserver"
ss_ok=0
if command -v scepserver >/dev/null; then
    (cd "$work" && scepserver ca -init -keySize 2048 -depot depot >/dev/null 2>&1)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo 18080)
    (cd "$work" && exec scepserver -depot depot -port "$port" -challenge scep-lab-challenge -allowrenew 0) \
        >"$work/scepserver.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/scep?operation=GetCACaps" >/dev/null 2>&1 && break
        sleep 0.05
    done
    bench scepserver "http://127.0.0.1:$port/scep" rsa2048 "${pids[-1]}"
    ss_ok=1
else
    echo "scepserver not installed (apt-get install scep): no comparison"
fi

row() { # name file [scepserver's rate]
    local rate p50 p99 failed cpu floor eff
    rate=$(field enrollments_per_second "$2")
    p50=$(field p50 "$2")
    p99=$(field p99 "$2")
    failed=$(field failed "$2")
    cpu=$(field server_cpu_ms_per_enrollment "$2")
    floor=$(field floor_ms "$2")
    eff=$(field efficiency "$2")
    awk -v n="$1" -v r="$rate" -v a="$p50" -v b="$p99" -v f="$failed" -v c="$cpu" -v fl="$floor" -v e="$eff" \
        -v ss="${3:-0}" 'BEGIN {
        printf "| %s | %.0f | %.1f | %.1f | %d | %.3f | %.3f | %.0f %% | %s |\n", n, r, a, b, f, c, fl, 100 * e,
            (ss > 0 ? sprintf("%.2fx", r / ss) : "-") }'
}
ss_rate=0
[ "$ss_ok" = 1 ] && ss_rate=$(field enrollments_per_second "$work/scepserver.json")
{
    echo "### $(date -u +%Y-%m-%d) on $(uname -n): $cores cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
    echo
    echo "OpenSSL: $(openssl version). Floor (RSA CA): $(sed -n 's/.*"floor":"\([^"]*\)".*/\1/p' "$work/lab.json")."
    echo "Floor (ECDSA CA): $(sed -n 's/.*"floor":"\([^"]*\)".*/\1/p' "$work/lab-ecdsa-ca.json")."
    echo "Each run: $requests enrollments (RSA-2048 keys unless the row says otherwise, AES-128, SHA-256, POST), $conns connections, after a 300-request warm-up; keys: $([ "$pool" -gt 0 ] && echo "a pool of $pool, cycled" || echo "one per request"), each request its own CSR and transactionID."
    echo "Server CPU: scep-lab's /metrics (process_cpu_seconds_total), scepserver's /proc/<pid>/stat, read before and after the measured run; efficiency = floor / server CPU."
    echo
    echo "| server | enrollments/s | p50 ms | p99 ms | failed | server CPU ms/enrollment | floor ms | efficiency | vs scepserver |"
    echo "|---|---|---|---|---|---|---|---|---|"
    row "scep-lab" "$work/lab.json" "$ss_rate"
    row "scep-lab, HTTPS keep-alive" "$work/lab-https.json" "$ss_rate"
    row "scep-lab, HTTPS, new TLS connection per enrollment ($(field tls_resumed "$work/lab-https-new.json") of $(field tls_handshakes "$work/lab-https-new.json") resumed)" "$work/lab-https-new.json" "$ss_rate"
    row "scep-lab, $seed certs stored" "$work/lab-full.json" "$ss_rate"
    row "scep-lab, ECDSA P-256 issuing CA, RSA RA" "$work/lab-ecdsa-ca.json" "$ss_rate"
    row "scep-lab, EC P-256 requesters (ECDH replies)" "$work/lab-ec-requesters.json" "$ss_rate"
    [ "$ss_ok" = 1 ] && row "micromdm scepserver" "$work/scepserver.json" "$ss_rate"
    echo
    echo "scep-lab start to ready on an existing PKI: ${ready_ms} ms (wall clock, exec to ready file); peak RSS $((rss_kb / 1024)) MB (empty store), $((rss_full_kb / 1024)) MB ($seed certificates)."
    if [ "$ss_ok" = 1 ]; then
        echo
        echo "scepserver failures by kind: $(sed -n 's/.*"failures":{\([^}]*\)}.*/\1/p' "$work/scepserver.json")"
    fi
    echo
    echo "The whole script took $(($(date +%s) - started)) s."
} | tee "$out"
echo "(written to $out)"
