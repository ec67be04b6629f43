#!/usr/bin/env bash
# Installing scep-lab (issue 28): `cmake --install` places the binary, its man
# page and the documentation; `cpack -G DEB` makes a package whose Depends name
# the package of every library the binary links, holding the same files; the Dockerfile builds through scripts/package.sh and installs
# that .deb (peer.docker installs it into a clean debootstrap image and serves).
set -euo pipefail
BIN=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
BUILD=$(dirname "$(dirname "$BIN")")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/scep-lab-packaging.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg >/dev/null || { echo "SKIP: not a Debian system"; exit 77; }
# (ldd's output is read whole first: `ldd | grep -q` under pipefail fails
# whenever grep has already exited when ldd writes its next line.)
libs=$(ldd "$BIN")
if grep -q "libasan" <<<"$libs"; then echo "SKIP: a sanitized build; packages hold a release build"; exit 77; fi

# 1. The Dockerfile: build packages from scripts/deps.sh, the .deb from
# scripts/package.sh, the runtime stage installs the .deb with apt-get.
grep -q 'scripts/deps.sh package' "$ROOT/Dockerfile" || fail "the build stage does not install through scripts/deps.sh"
grep -q 'RUN scripts/package.sh /deb' "$ROOT/Dockerfile" || fail "the build stage does not make the .deb with scripts/package.sh"
grep -q 'apt-get install -y --no-install-recommends /deb/scep-lab_\*.deb' "$ROOT/Dockerfile" ||
    fail "the runtime stage does not install the .deb"
echo "ok: the Dockerfile builds the .deb with scripts/package.sh and installs it"

# 2. cmake --install into an empty prefix: the binary runs, the man page and
# the docs are there.
cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$WORK/install.log")"
"$WORK/prefix/bin/scep-lab" --version | grep -q "^scep-lab [0-9]" || fail "the installed binary does not run"
head -1 "$WORK/prefix/share/man/man1/scep-lab.1" | grep -q '^\.TH SCEP\\-LAB 1' || fail "no man page in share/man/man1"
grep -q '^\.SS "scep\\-lab serve"' "$WORK/prefix/share/man/man1/scep-lab.1" || fail "the man page has no serve section"
grep -q '^\.B SCEP_LAB_PORT' "$WORK/prefix/share/man/man1/scep-lab.1" || fail "the man page lists no environment"
for f in README.md docs/configuration.md docs/ci.md examples/scep-lab.example.toml; do
    [ -f "$WORK/prefix/share/doc/scep-lab/$f" ] || fail "cmake --install did not place share/doc/scep-lab/$f"
done
if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$WORK/prefix/share/man/man1/scep-lab.1" 2>"$WORK/man.err" | grep -q "scep-lab - a lab SCEP" ||
        fail "man cannot render the page: $(cat "$WORK/man.err")"
fi
echo "ok: cmake --install places bin/scep-lab, man1/scep-lab.1 (commands, environment) and the docs"

# 3. The .deb: its files, and a Depends entry for every library the binary
# links, as this machine's dpkg says (libc6, libgcc-s1 and libstdc++6 included),
# and only packages that bookworm's archive has (apt-get install checks that
# in peer.docker).
(cd "$BUILD" && cpack -G DEB -B "$WORK/deb" >"$WORK/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$WORK/cpack.log")"
deb=$(ls "$WORK"/deb/scep-lab_*.deb)
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/scep-lab ./usr/share/man/man1/scep-lab.1 ./usr/share/doc/scep-lab/README.md; do
    grep -qx "$f" <<<"$contents" || fail "the .deb holds no $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
names=$(tr ',' '\n' <<<"$depends" | awk '{print $1}')
missing=""
for lib in $(awk '$3 ~ /^\// {print $3}' <<<"$libs"); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) || fail "no package owns $lib"
    pkg=${pkg%%:*}
    grep -qxF "$pkg" <<<"$names" || missing="$missing $pkg"
done
[ -z "$missing" ] || fail "the .deb does not depend on the packages of libraries the binary links:$missing (Depends: $depends)"
# And depends on nothing it does not link.
for name in $names; do
    found=0
    for lib in $(awk '$3 ~ /^\// {print $3}' <<<"$libs"); do
        owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
        [ "${owner%%:*}" = "$name" ] && found=1
    done
    [ "$found" = 1 ] || fail "the .deb depends on $name, which the binary does not link"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$("$BIN" --version | cut -d' ' -f2)" ] || fail "the .deb's version is not the binary's"
echo "ok: the .deb holds the binary, man page and docs; Depends: $depends"
# Boost.URL is not used: neither the build nor the packages may bring it back.
! grep -rq "boost/url" "$ROOT/pki" "$ROOT/server" "$ROOT/config" "$ROOT/cli" || fail "Boost.URL is included somewhere"
! grep -q "libboost-url" "$ROOT/scripts/deps.sh" || fail "scripts/deps.sh still installs Boost.URL"
echo "PASS: packaging (3 checks)"
