#!/usr/bin/env bash
# Configures and builds scep-lab. BUILD_DIR (default build) and
# SCEP_LAB_SANITIZE=1 (ASan+UBSan, in build-sanitize) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=${SCEP_LAB_SANITIZE:-0}
dir=${BUILD_DIR:-$([ "$sanitize" = 1 ] && echo build-sanitize || echo build)}
tests=${SCEP_LAB_BUILD_TESTS:-ON}
# Unity builds (8 sources a unit) halve a clean build on 2 cores, which is
# what CI and a fresh clone pay three times; SCEP_LAB_UNITY=OFF for
# one-file-at-a-time incremental work.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_UNITY_BUILD="${SCEP_LAB_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 \
    -DSCEP_LAB_SANITIZE=$([ "$sanitize" = 1 ] && echo ON || echo OFF) -DSCEP_LAB_BUILD_TESTS="$tests" >/dev/null
cmake --build "$dir" -j "${JOBS:-2}"
