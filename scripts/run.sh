#!/usr/bin/env bash
# One command on a fresh Debian machine: install what is missing, build, and
# start scep-lab on its embedded default configuration. The lab PKI is
# generated in ./data on first start. Extra arguments go to `scep-lab serve`,
# e.g. scripts/run.sh --listen 0.0.0.0 --port 8081
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
SCEP_LAB_BUILD_TESTS=OFF BUILD_DIR=build-run scripts/build.sh
exec build-run/cli/scep-lab serve "$@"
