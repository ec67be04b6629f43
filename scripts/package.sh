#!/usr/bin/env bash
# Builds the Debian package: scripts/package.sh [OUT_DIR]
#   a Release build (unity batches, no tests) in $BUILD_DIR (default
#   build-package), then `cpack -G DEB`; prints the path of the .deb.
# Install it with `apt-get install ./scep-lab_<version>_<arch>.deb` (apt pulls
# the libraries it depends on); the Dockerfile does exactly that.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.}
build=${BUILD_DIR:-build-package}
scripts/deps.sh package
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCEP_LAB_BUILD_TESTS=OFF \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 >/dev/null
echo "package: building scep-lab (Release) in $build" >&2
cmake --build "$build" -j "${JOBS:-$(nproc)}"
(cd "$build" && cpack -G DEB >/dev/null)
mkdir -p "$out"
deb=$(ls "$build"/scep-lab_*.deb | head -1)
[ -n "$deb" ] || { echo "package: cpack made no .deb" >&2; exit 1; }
[ "$(readlink -f "$(dirname "$deb")")" = "$(readlink -f "$out")" ] || cp "$deb" "$out/"
echo "$out/$(basename "$deb")"
