#!/usr/bin/env bash
# The Docker image's package lists cannot drift from what the build needs:
# the build stage installs through scripts/deps.sh (one list), and every
# shared library the built binary links comes from a package the runtime
# stage installs (or that debian:bookworm-slim always has).
set -euo pipefail
BIN=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg >/dev/null || { echo "SKIP: not a Debian system"; exit 77; }
# A sanitized build links its runtime (and Boost unoptimised); the image is a release build.
# (ldd's output is read whole first: `ldd | grep -q` under pipefail fails
# whenever grep has already exited when ldd writes its next line.)
libs=$(ldd "$BIN")
if grep -q "libasan" <<<"$libs"; then echo "SKIP: a sanitized build; the image holds a release build"; exit 77; fi

grep -q 'scripts/deps.sh build' "$ROOT/Dockerfile" || fail "the Dockerfile's build stage does not install through scripts/deps.sh"
# The runtime stage's apt-get install line(s), up to the first '&& rm'.
runtime=$(awk '/^FROM \$\{BASE\}$/ {rt=1} rt && /apt-get install/ {on=1} on {print} on && /rm -rf/ {exit}' "$ROOT/Dockerfile" |
    tr ' \\' '\n\n' | grep -E '^lib[a-z0-9.+-]+$' || true)
[ -n "$runtime" ] || fail "no runtime package list found in the Dockerfile"
base="libc6 libgcc-s1 libstdc++6"   # in every bookworm image (apt needs them)
missing=""
for lib in $(ldd "$BIN" | awk '$3 ~ /^\// {print $3}'); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) || fail "no package owns $lib"
    pkg=${pkg%%:*}
    case " $base " in *" $pkg "*) continue ;; esac
    grep -qx "$pkg" <<<"$runtime" || missing="$missing $pkg"
done
[ -z "$missing" ] || fail "the binary links libraries the runtime image does not install:$missing"
# And nothing is installed that the binary does not link (the legacy provider lives in libssl3).
for pkg in $runtime; do
    found=0
    for lib in $(ldd "$BIN" | awk '$3 ~ /^\// {print $3}'); do
        owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
        [ "${owner%%:*}" = "$pkg" ] && found=1
    done
    [ "$found" = 1 ] || fail "the runtime image installs $pkg, which the binary does not link"
done
# Boost.URL is not used: neither the build nor the packages may bring it back.
! grep -rq "boost/url" "$ROOT/pki" "$ROOT/server" "$ROOT/config" "$ROOT/cli" || fail "Boost.URL is included somewhere"
! grep -q "libboost-url" "$ROOT/scripts/deps.sh" || fail "scripts/deps.sh still installs Boost.URL"
echo "PASS: Dockerfile packages match the build (deps.sh) and the binary's libraries:" $runtime
