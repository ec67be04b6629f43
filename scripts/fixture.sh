#!/usr/bin/env bash
# scep-lab as a CI test fixture, without Docker.
#   scripts/fixture.sh start [-- extra `scep-lab serve` arguments]
#       builds scep-lab if needed, starts it on free loopback ports with a
#       temporary data dir, waits until it is ready, writes the env file
#   scripts/fixture.sh env     prints the env file (source it, or append it to $GITHUB_ENV)
#   scripts/fixture.sh stop    SIGTERM, waits for a clean exit, removes the data dir
# The env file is $SCEP_LAB_FIXTURE_ENV (default ./scep-lab-fixture.env):
#   SCEP_LAB_URL, SCEP_LAB_HTTPS_URL, SCEP_LAB_BASE_URL, SCEP_LAB_CHALLENGE,
#   SCEP_LAB_CA_CHAIN, SCEP_LAB_ROOT_CA, SCEP_LAB_ADMIN_TOKEN, SCEP_LAB_DATA_DIR,
#   SCEP_LAB_PID
# Deterministic runs: export SCEP_LAB_SERIAL_SEED and/or SCEP_LAB_CLOCK_OFFSET
# before `start` (every SCEP_LAB_* variable reaches the server).
# SCEP_LAB_BIN picks the binary; KEEP_DATA=1 keeps the data dir on stop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
env_file=${SCEP_LAB_FIXTURE_ENV:-./scep-lab-fixture.env}

die() { echo "fixture: $*" >&2; exit 1; }

binary() {
    if [ -n "${SCEP_LAB_BIN:-}" ]; then echo "$SCEP_LAB_BIN"; return; fi
    for b in "$root/build-run/cli/scep-lab" "$root/build/cli/scep-lab"; do
        [ -x "$b" ] && { echo "$b"; return; }
    done
    (cd "$root" && scripts/deps.sh build >&2 && SCEP_LAB_BUILD_TESTS=OFF BUILD_DIR=build-run scripts/build.sh >&2)
    echo "$root/build-run/cli/scep-lab"
}

json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$2"; }

start() {
    [ -e "$env_file" ] && die "$env_file exists: a fixture is running (scripts/fixture.sh stop) or remove the file"
    local bin data token
    bin=$(binary)
    data=$(mktemp -d "${TMPDIR:-/tmp}/scep-lab-fixture.XXXXXX")
    token=${SCEP_LAB_ADMIN_TOKEN:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}
    SCEP_LAB_ADMIN_TOKEN=$token "$bin" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$data" \
        --ready-file "$data/ready.json" "$@" >"$data/server.out" 2>"$data/server.log" </dev/null &
    local pid=$!
    for _ in $(seq 1 300); do
        [ -s "$data/ready.json" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$data/server.log" >&2; die "scep-lab exited during start-up"; }
        sleep 0.1
    done
    [ -s "$data/ready.json" ] || { kill "$pid"; die "scep-lab did not become ready in 30 s"; }
    local url base https_url
    url=$(json_field url "$data/ready.json")
    base=$(json_field base_url "$data/ready.json")
    https_url=$(json_field https_url "$data/ready.json")
    local challenge
    challenge=$("$bin" --data-dir "$data" config --show-secrets 2>/dev/null | sed -n 's/^challenge = "\(.*\)"$/\1/p' | head -1)
    local tmp="$env_file.tmp"
    {
        echo "SCEP_LAB_URL=$url"
        echo "SCEP_LAB_HTTPS_URL=$https_url"
        echo "SCEP_LAB_BASE_URL=$base"
        echo "SCEP_LAB_CHALLENGE=$challenge"
        echo "SCEP_LAB_CA_CHAIN=$data/pki/ca-chain.pem"
        echo "SCEP_LAB_ROOT_CA=$data/pki/$(head -n1 "$data/pki/hierarchy.txt").crt"
        echo "SCEP_LAB_ADMIN_TOKEN=$token"
        echo "SCEP_LAB_DATA_DIR=$data"
        echo "SCEP_LAB_PID=$pid"
    } >"$tmp"
    chmod 600 "$tmp"
    mv "$tmp" "$env_file"
    echo "fixture: scep-lab ready at $url (pid $pid); environment in $env_file" >&2
}

stop() {
    [ -f "$env_file" ] || die "no $env_file: nothing to stop"
    local pid data
    pid=$(sed -n 's/^SCEP_LAB_PID=//p' "$env_file")
    data=$(sed -n 's/^SCEP_LAB_DATA_DIR=//p' "$env_file")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "fixture: scep-lab did not stop in 15 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$env_file"
    if [ "${KEEP_DATA:-0}" = 1 ]; then
        echo "fixture: stopped; data kept in $data" >&2
    else
        case "$data" in */scep-lab-fixture.*) rm -rf "$data" ;; esac
        echo "fixture: stopped" >&2
    fi
}

case "${1:-}" in
    start) shift; [ "${1:-}" = "--" ] && shift; start "$@" ;;
    stop) stop ;;
    env) [ -f "$env_file" ] || die "no $env_file (scripts/fixture.sh start)"; cat "$env_file" ;;
    *) echo "usage: $0 start [-- serve args] | env | stop" >&2; exit 2 ;;
esac
