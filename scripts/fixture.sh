#!/usr/bin/env bash
# scep-lab as a CI test fixture, without Docker: a thin wrapper around
# `scep-lab serve --env-file`, which writes the env file itself from the
# settings in force (so `-- --challenge x` or `-- --preset ndes-default` is
# what the file says).
#   scripts/fixture.sh start [-- extra `scep-lab serve` arguments]
#       builds scep-lab if needed, starts it on free loopback ports with a
#       temporary data dir, waits until the env file is written (= ready)
#   scripts/fixture.sh env        prints the env file (source it, or append it to $GITHUB_ENV)
#   scripts/fixture.sh challenge  prints a challenge a client can use now: the
#                                 static one, a fresh NDES one-time password,
#                                 or a single-use one from the admin API
#   scripts/fixture.sh stop       SIGTERM, waits for a clean exit, removes the data dir
# The env file is $SCEP_LAB_FIXTURE_ENV (default ./scep-lab-fixture.env); its
# variables are listed in docs/ci.md. A start that fails prints the server's
# log and leaves nothing behind.
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
    command -v scep-lab >/dev/null && { command -v scep-lab; return; }  # installed (.deb)
    (cd "$root" && scripts/deps.sh build >&2 && SCEP_LAB_BUILD_TESTS=OFF BUILD_DIR=build-run scripts/build.sh >&2)
    echo "$root/build-run/cli/scep-lab"
}

# value KEY: a variable of the env file, unquoted as `source` would.
value() { (set +u; . "$env_file" && printf '%s' "${!1:-}"); }

start() {
    if [ -e "$env_file" ]; then
        local old
        old=$(value SCEP_LAB_PID || true)
        if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
            die "$env_file exists and scep-lab (pid $old) runs: scripts/fixture.sh stop first"
        fi
        echo "fixture: removing $env_file left by a scep-lab that is gone" >&2
        rm -f "$env_file"
    fi
    local bin data pid
    bin=$(binary)
    data=$(mktemp -d "${TMPDIR:-/tmp}/scep-lab-fixture.XXXXXX")
    "$bin" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$data" --env-file "$env_file" "$@" \
        >"$data/server.out" 2>"$data/server.log" </dev/null &
    pid=$!
    for _ in $(seq 1 600); do
        [ -s "$env_file" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$data/server.log" >&2
            rm -rf "$data"
            die "scep-lab exited during start-up (its log is above)"
        fi
        sleep 0.1
    done
    if [ ! -s "$env_file" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        cat "$data/server.log" >&2
        rm -rf "$data" "$env_file"
        die "scep-lab did not become ready in 60 s (its log is above)"
    fi
    echo "fixture: scep-lab ready at $(value SCEP_LAB_URL) (pid $pid); environment in $env_file" >&2
}

challenge() {
    [ -f "$env_file" ] || die "no $env_file (scripts/fixture.sh start)"
    case "$(value SCEP_LAB_CHALLENGE_MODE)" in
        static) value SCEP_LAB_CHALLENGE; echo ;;
        none) echo ;;
        ndes-admin-page)
            # The page is UTF-16LE, as NDES serves it; the expression is the one scrapers use.
            curl -sf "$(value SCEP_LAB_NDES_ADMIN_URL)" | iconv -f UTF-16 -t UTF-8 |
                sed -n 's/.*The enrollment challenge password is: <B> \([^ <]*\).*/\1/p' | head -1 | grep . ||
                die "no password on the NDES admin page (the cache holds at most ndes.password_cache unused ones)" ;;
        api)
            SCEP_LAB_ADMIN_TOKEN=$(value SCEP_LAB_ADMIN_TOKEN) "$(binary)" challenge add \
                --url "$(value SCEP_LAB_BASE_URL)" | head -1 ;;
        *) die "challenges come from elsewhere (SCEP_LAB_CHALLENGE_MODE=$(value SCEP_LAB_CHALLENGE_MODE))" ;;
    esac
}

stop() {
    [ -f "$env_file" ] || die "no $env_file: nothing to stop"
    local pid data
    pid=$(value SCEP_LAB_PID)
    data=$(value SCEP_LAB_DATA_DIR)
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
    challenge) challenge ;;
    *) echo "usage: $0 start [-- serve args] | env | challenge | stop" >&2; exit 2 ;;
esac
