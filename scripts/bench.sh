#!/usr/bin/env bash
# Benchmarks, in one go on this machine, and a comparison table:
#   - the crypto bound from `openssl speed rsa2048`: cores x RSA-2048 private
#     operations per second / 3 (an enrollment costs the server three: decrypt
#     the request envelope, sign the certificate, sign the CertRep);
#   - scep-lab on a fresh store, then with 1,000,000 certificates in it;
#   - micromdm's scepserver (Debian package `scep`, a fresh RSA-2048 depot,
#     -allowrenew 0) under the same `scep-lab bench` parameters;
#   - scep-lab with an ECDSA issuing CA (P-256) behind an RSA RA: the RA
#     decrypts and signs the CertRep, the CA signs certificates with ECDSA;
#   - scep-lab with EC P-256 requesters (replies enveloped by ECDH key agreement);
#   - scep-lab's start-to-ready time on an existing PKI and its peak RSS.
# Everything runs on loopback; as root the whole run is put in its own network
# namespace (unshare -n), so scepserver, which listens on every interface,
# is reachable from nowhere else.
#   BENCH_REQUESTS (3000) BENCH_CONNECTIONS (16) BENCH_SEED (1000000) BENCH_OUT (build/bench/result.md)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && [ -z "${SCEP_LAB_BENCH_NETNS:-}" ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
    exec env SCEP_LAB_BENCH_NETNS=1 unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
requests=${BENCH_REQUESTS:-3000}
conns=${BENCH_CONNECTIONS:-16}
seed=${BENCH_SEED:-1000000}
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
echo "== crypto bound"
sign=$(openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
bound=$(awk -v c="$cores" -v s="$sign" 'BEGIN {printf "%.0f", c * s / 3}')
echo "openssl speed rsa2048: $sign private operations/s on one core; $cores cores / 3 per enrollment = $bound enrollments/s"

# bench NAME URL [KEY]: a warm-up, then the measured run, JSON in $work/NAME.json
bench() {
    local key=${3:-rsa2048}
    local cache="$cache_dir/bench-keys-$key.pem"
    "$bin" bench "$2" -n 300 -c "$conns" --key "$key" --key-cache "$cache" --json >"$work/$1.warmup.json" || true
    "$bin" bench "$2" -n "$requests" -c "$conns" --key "$key" --key-cache "$cache" --json >"$work/$1.json" || true
    cat "$work/$1.json"
}

# start_lab [DATA_DIR [serve options...]]
start_lab() {
    local data=${1:-$work/lab}
    shift || true
    rm -f "$work/ready.json"
    local t0
    t0=$(date +%s%N)
    "$bin" serve --port 0 --no-https --data-dir "$data" --ready-file "$work/ready.json" "$@" >>"$work/lab.out" 2>>"$work/lab.log" &
    lab_pid=$!
    pids+=("$lab_pid")
    until [ -s "$work/ready.json" ]; do
        kill -0 "$lab_pid" 2>/dev/null || { tail "$work/lab.log"; exit 1; }
        sleep 0.005
    done
    ready_ms=$((($(date +%s%N) - t0) / 1000000))
    lab_url="http://127.0.0.1:$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$work/ready.json")/scep"
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
echo "== scep-lab, EC P-256 requesters (key-agreement replies)"
bench lab-ec-requesters "$lab_url" ec-p256
stop_lab

echo "== scep-lab, ECDSA issuing CA (P-256) with an RSA-2048 RA"
start_lab "$work/lab-ecdsa" --config config/examples/ecdsa-issuing-ca.toml
bench lab-ecdsa-ca "$lab_url"
stop_lab

echo "== scep-lab, $seed certificates in the store"
"$bin" seed "$seed" --data-dir "$work/lab"
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
    bench scepserver "http://127.0.0.1:$port/scep"
    ss_ok=1
else
    echo "scepserver not installed (apt-get install scep): no comparison"
fi

row() { # name file
    local rate p50 p99 failed
    rate=$(field enrollments_per_second "$2")
    p50=$(field p50 "$2")
    p99=$(field p99 "$2")
    failed=$(field failed "$2")
    awk -v n="$1" -v r="$rate" -v a="$p50" -v b="$p99" -v f="$failed" -v bound="$bound" -v ss="${3:-0}" 'BEGIN {
        printf "| %s | %.0f | %.1f | %.1f | %d | %.0f %% | %s |\n", n, r, a, b, f, 100 * r / bound,
            (ss > 0 ? sprintf("%.2fx", r / ss) : "-") }'
}
ss_rate=0
[ "$ss_ok" = 1 ] && ss_rate=$(field enrollments_per_second "$work/scepserver.json")
{
    echo "### $(date -u +%Y-%m-%d) on $(uname -n): $cores cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
    echo
    echo "OpenSSL: $(openssl version). RSA-2048 private operations: $sign/s per core; crypto bound $bound enrollments/s."
    echo "Each run: $requests enrollments (RSA-2048 keys unless the row says otherwise, AES-128, SHA-256, POST), $conns connections, after a 300-request warm-up."
    echo "The crypto bound is the RSA one; the ECDSA-CA row's own bound is higher (one RSA private operation fewer per enrollment)."
    echo
    echo "| server | enrollments/s | p50 ms | p99 ms | failed | of bound | vs scepserver |"
    echo "|---|---|---|---|---|---|---|"
    row "scep-lab" "$work/lab.json" "$ss_rate"
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
} | tee "$out"
echo "(written to $out)"
