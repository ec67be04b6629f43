#!/usr/bin/env bash
# The command line and the logs as scripts and log collectors meet them
# (issue 28): usage errors exit 2 with a message naming the mistake (not
# CLI11's 105-114), --version, TOML type errors in words, JSON logs whose
# numbers are numbers and with nothing else on either stream, refusals logged
# at warning so that --log-level warn shows every client that failed.
. "$(dirname "$0")/lib.sh"

# expect_exit CODE PATTERN -- command...: exit code and a line of its stderr.
expect_exit() {
    local want=$1 pattern=$2
    shift 3
    set +e
    "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "\`${*:2}\` exited $rc, not $want: $(cat "$WORK/err")"
    contains -F -- "$pattern" <"$WORK/err" || fail "\`${*:2}\` did not say \"$pattern\": $(cat "$WORK/err")"
}

# 1. Usage errors: exit 2, the nearest command, the wrong option named.
expect_exit 2 'unknown command "lsit" for `scep-lab`; did you mean `scep-lab list`?' -- "$SCEP_LAB" lsit
expect_exit 2 'did you mean `scep-lab cert list`?' -- "$SCEP_LAB" cert lsit
expect_exit 2 'unknown option --bogus for `scep-lab`' -- "$SCEP_LAB" --bogus
expect_exit 2 'unknown option --nope for `scep-lab serve`' -- "$SCEP_LAB" serve --nope
expect_exit 2 '`scep-lab` needs a command' -- "$SCEP_LAB"
expect_exit 2 '`scep-lab cert` needs a command' -- "$SCEP_LAB" cert
expect_exit 2 '--port="99999" must be an integer from 0 to 65535' -- "$SCEP_LAB" serve --port 99999
expect_exit 2 'File does not exist' -- "$SCEP_LAB" --config "$WORK/none.toml" config
"$SCEP_LAB" cert list --help >/dev/null || fail "--help did not exit 0"
version=$("$SCEP_LAB" --version) || fail "--version did not exit 0"
[[ "$version" =~ ^scep-lab\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed \"$version\""
[ "$("$SCEP_LAB" version)" = "$version" ] || fail "version and --version differ"
echo "ok: usage errors exit 2 with the mistake named; --version"

# 2. TOML type errors in words, with the place.
printf '[server]\nport = "abc"\n' >"$WORK/t1.toml"
expect_exit 2 'server.port must be a whole number, not a string' -- "$SCEP_LAB" -c "$WORK/t1.toml" config
printf '[server]\nhttp = 3\n' >"$WORK/t2.toml"
expect_exit 2 'server.http must be true or false, not a whole number' -- "$SCEP_LAB" -c "$WORK/t2.toml" config
printf '[scep]\npaths = "/x"\n' >"$WORK/t3.toml"
expect_exit 2 'scep.paths must be a list of strings' -- "$SCEP_LAB" -c "$WORK/t3.toml" config
printf '[[faults]]\nkind = 7\n' >"$WORK/t4.toml"
expect_exit 2 'faults[0].kind must be a string in quotes, not a whole number' -- "$SCEP_LAB" -c "$WORK/t4.toml" config
printf '[server\n' >"$WORK/t5.toml"
expect_exit 2 'TOML syntax' -- "$SCEP_LAB" -c "$WORK/t5.toml" config
grep -q "bad_cast\|toml::" "$WORK/err" && fail "library internals in a configuration error: $(cat "$WORK/err")"
echo "ok: TOML type and syntax errors name the key, the type wanted and the type found"

# 3. JSON logs: every stderr line is a JSON object, numbers are numbers,
# nothing on stdout (the "ready" record is the banner), refusals at warning.
start_server --log-format json --log-level warn
[ -s "$WORK/server.out" ] && fail "JSON mode wrote text on stdout: $(cat "$WORK/server.out")"
mkdir -p "$WORK/dev"
scepclient -server-url "$URL" -challenge wrong-challenge -private-key "$WORK/dev/key.pem" \
    -certificate "$WORK/dev/cert.pem" >/dev/null 2>&1 && fail "a wrong challenge enrolled"
curl -s "http://127.0.0.1:$PORT/scep?operation=Bogus" >/dev/null
curl -s "http://127.0.0.1:$PORT/scep?operation=GetCACaps" >/dev/null
sleep 0.3
python3 - "$WORK/server.log" <<'EOF' || fail "JSON log check: $(tail -5 "$WORK/server.log")"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
requests = [r for r in records if r.get("msg") == "request"]
refused = [r for r in requests if r.get("status") == "FAILURE"]
assert refused, "no refused enrollment logged at --log-level warn: %r" % requests
assert all(r["level"] == "warning" for r in refused), refused
bad = [r for r in requests if r.get("http") == 400]
assert bad and all(r["level"] == "warning" for r in bad), requests
assert all(isinstance(r["http"], int) and isinstance(r["ms"], (int, float)) for r in requests), requests
assert not any(r.get("op") == "GetCACaps" for r in requests), "an answered GetCACaps logged at warn level"
EOF
echo "ok: JSON logs parse line by line, http/ms are numbers, refusals and 400s are warnings, successes stay at info"
echo "PASS: cli (3 checks)"
