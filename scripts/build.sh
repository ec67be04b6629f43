#!/usr/bin/env bash
# Configures and builds scep-lab. BUILD_DIR (default build) and
# SCEP_LAB_SANITIZE=1 (ASan+UBSan, in build-sanitize) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=${SCEP_LAB_SANITIZE:-0}
dir=${BUILD_DIR:-$([ "$sanitize" = 1 ] && echo build-sanitize || echo build)}
tests=${SCEP_LAB_BUILD_TESTS:-ON}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSCEP_LAB_SANITIZE=$([ "$sanitize" = 1 ] && echo ON || echo OFF) -DSCEP_LAB_BUILD_TESTS="$tests" >/dev/null
cmake --build "$dir" -j "${JOBS:-2}"
