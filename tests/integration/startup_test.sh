#!/usr/bin/env bash
# A first start that cannot wedge (issue 28): the server killed at random
# points of its first start, 20 times, starts again every time with a whole
# PKI; an incomplete PKI left by an older version is moved aside with a
# message; checks that write nothing (a busy port, a bad listen address) fail
# before the data directory exists; a lock refuses a second instance.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || skip "openssl not installed"

# serve_until_ready DIR [flags...]: starts serve on DIR, waits for its ready file.
serve_until_ready() {
    local dir=$1
    shift
    rm -f "$WORK/ready.json"
    "$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$dir" --ready-file "$WORK/ready.json" "$@" \
        >"$WORK/server.out" 2>"$WORK/server.log" </dev/null &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        [ -s "$WORK/ready.json" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "serve on $dir exited during start-up"
        sleep 0.05
    done
    fail "serve on $dir did not become ready in 15 s"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
whole_pki() {
    local pki=$1/pki
    [ -f "$pki/hierarchy.txt" ] || fail "no manifest in $pki"
    openssl verify -CAfile "$pki/root.crt" -untrusted "$pki/ca-chain.pem" "$pki/issuing.crt" "$pki/ra.crt" >/dev/null ||
        fail "the PKI in $pki does not verify"
}

# 1. Killed at random points of the first start (SIGKILL: nothing gets to
# clean up), then started again: it serves, with a whole PKI.
kills_before_pki=0 kills_after_pki=0
for i in $(seq 1 20); do
    dir="$WORK/kill$i"
    "$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$dir" >/dev/null 2>&1 </dev/null &
    pid=$!
    # 0 to 1.4 s: before, during and after the key generation (about 1 s here).
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % 1400) / 1000 }')"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -f "$dir/pki/hierarchy.txt" ]; then kills_after_pki=$((kills_after_pki + 1)); else kills_before_pki=$((kills_before_pki + 1)); fi
    if [ -d "$dir/pki" ] && [ -n "$(ls -A "$dir/pki")" ] && [ ! -f "$dir/pki/hierarchy.txt" ]; then
        fail "kill $i left a PKI directory without its manifest: $(ls "$dir/pki")"
    fi
    serve_until_ready "$dir"
    grep -q "incomplete" "$WORK/server.log" && fail "kill $i: the next start found an incomplete PKI: $(cat "$WORK/server.log")"
    curl -sf "$(sed -n 's/.*"base_url":"\([^"]*\)".*/\1/p' "$WORK/ready.json")/readyz" >/dev/null || fail "kill $i: not ready"
    stop_server
    whole_pki "$dir"
    [ -z "$(find "$WORK/kill$i" -maxdepth 1 -name '.pki.new-*')" ] || fail "kill $i: a leftover .pki.new-* directory stayed"
    rm -rf "$dir"
done
echo "ok: 20 first starts killed at random points ($kills_before_pki before the PKI was in place, $kills_after_pki after): every next start served with a whole PKI"

# 2. What an older version left when interrupted (keys of the first tiers, no
# manifest) is moved aside with a message, never loaded, never deleted.
dir="$WORK/old"
"$SCEP_LAB" init --data-dir "$WORK/donor" >/dev/null 2>&1 || fail "init"
mkdir -p "$dir/pki"
cp "$WORK/donor/pki/root.crt" "$WORK/donor/pki/root.key" "$WORK/donor/pki/intermediate.key" "$dir/pki/"
serve_until_ready "$dir"
grep -q "was incomplete" "$WORK/server.log" || fail "the incomplete PKI was not reported: $(cat "$WORK/server.log")"
stop_server
aside=$(ls -d "$dir"/pki.incomplete-* 2>/dev/null | head -1)
[ -n "$aside" ] && [ -f "$aside/intermediate.key" ] || fail "the incomplete PKI was not kept aside: $(ls "$dir")"
whole_pki "$dir"
cmp -s "$dir/pki/root.crt" "$WORK/donor/pki/root.crt" && fail "the incomplete PKI's root was loaded"
echo "ok: an incomplete PKI from an older version is moved to $(basename "$aside") with a message and a new one generated"

# 3. A leftover generation directory of a process that is gone is removed.
mkdir -p "$WORK/left/.pki.new-999999-abcdef"
touch "$WORK/left/.pki.new-999999-abcdef/root.key"
"$SCEP_LAB" init --data-dir "$WORK/left" >/dev/null 2>&1 || fail "init with a leftover"
[ -e "$WORK/left/.pki.new-999999-abcdef" ] && fail "the leftover generation directory stayed"
echo "ok: a leftover .pki.new-* of a dead process is removed"

# 4. Checks that write nothing come first: a busy port and a bad address fail
# with the data directory never made (no PKI, no admin token).
serve_until_ready "$WORK/busy-owner"
busy=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/ready.json")
"$SCEP_LAB" serve --listen 127.0.0.1 --port "$busy" --https-port 0 --data-dir "$WORK/busy" >"$WORK/busy.out" 2>&1 &&
    fail "serve on a busy port started"
grep -q "server.port" "$WORK/busy.out" || fail "the busy port's error does not name server.port: $(cat "$WORK/busy.out")"
[ -e "$WORK/busy" ] && fail "a start on a busy port wrote $(ls -A "$WORK/busy")"
set +e
"$SCEP_LAB" serve --listen 999.1.1.1 --port 0 --https-port 0 --data-dir "$WORK/bad-listen" >"$WORK/listen.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "--listen 999.1.1.1 exited $rc, not 2 (a configuration error)"
grep -q 'server.listen = "999.1.1.1" is not an IP address' "$WORK/listen.out" || fail "bad listen message: $(cat "$WORK/listen.out")"
[ -e "$WORK/bad-listen" ] && fail "--listen 999.1.1.1 wrote $(ls -A "$WORK/bad-listen")"
echo "ok: a busy port (names server.port) and a bad listen address (exit 2, names server.listen) write nothing"

# 5. One instance per data directory: a second serve and init are refused
# with the holder's pid; the first keeps serving.
owner=$SERVER_PID
"$SCEP_LAB" serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir "$WORK/busy-owner" >"$WORK/second.out" 2>&1 &&
    fail "a second serve on the same data directory started"
grep -q "another scep-lab (pid $owner) is using the data directory" "$WORK/second.out" ||
    fail "the second serve did not name the holder: $(cat "$WORK/second.out")"
"$SCEP_LAB" init --data-dir "$WORK/busy-owner" >"$WORK/init.out" 2>&1 && fail "init on a running lab's directory succeeded"
grep -q "pid $owner" "$WORK/init.out" || fail "init did not name the holder: $(cat "$WORK/init.out")"
kill -0 "$owner" || fail "the first instance died"
stop_server
serve_until_ready "$WORK/busy-owner"
stop_server
echo "ok: the lock refuses a second serve and init with the holder's pid, and is free once the holder stops"

# 6. The admin token made at the first start: shown to a terminal (script(1)
# gives serve one), never to a log file; `scep-lab admin-token` prints it.
if command -v script >/dev/null; then
    rm -f "$WORK/ready.json"
    # script(1) and the server it runs never outlive the test, pass or fail
    # (they hold the test's output open: ctest would wait for its timeout).
    stop_tty() { pkill -TERM -f -- "--data-dir $WORK/tty" 2>/dev/null || true; }
    trap 'stop_tty; cleanup' EXIT
    script -qfec "'$SCEP_LAB' serve --listen 127.0.0.1 --port 0 --https-port 0 --data-dir '$WORK/tty' --ready-file '$WORK/ready.json' 2>/dev/null" \
        "$WORK/tty.out" >/dev/null 2>&1 </dev/null &
    tty_pid=$!
    for _ in $(seq 1 600); do [ -s "$WORK/ready.json" ] && break; sleep 0.05; done
    [ -s "$WORK/ready.json" ] || fail "serve under script(1) did not become ready"
    token=$("$SCEP_LAB" admin-token --data-dir "$WORK/tty") || fail "admin-token failed"
    [[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "admin-token printed \"$token\""
    # The banner reaches the file through the terminal and script(1): give it time under load.
    for _ in $(seq 1 200); do grep -q "token $token (shown once" "$WORK/tty.out" && break; sleep 0.05; done
    grep -q "token $token (shown once" "$WORK/tty.out" || fail "the new token was not shown on the terminal: $(cat "$WORK/tty.out")"
    stop_tty
    wait "$tty_pid" 2>/dev/null || true
    echo "ok: a new admin token is shown on a terminal; scep-lab admin-token prints it"
else
    echo "note: script(1) missing: the terminal banner is not checked"
fi
"$SCEP_LAB" admin-token --data-dir "$WORK/never-ran" >"$WORK/nt.out" 2>&1 && fail "admin-token without a token succeeded"
grep -q "no admin token in" "$WORK/nt.out" || fail "admin-token without a token: $(cat "$WORK/nt.out")"
[ "$(SCEP_LAB_ADMIN_TOKEN=from-the-environment-0123456789abcdef "$SCEP_LAB" admin-token --data-dir "$WORK/never-ran")" = \
    from-the-environment-0123456789abcdef ] || fail "admin-token ignores SCEP_LAB_ADMIN_TOKEN"
echo "PASS: startup (6 checks)"
