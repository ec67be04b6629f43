#!/usr/bin/env bash
# Installs the Debian (bookworm) packages scep-lab needs, when missing.
#   scripts/deps.sh build   compiler, CMake and libraries
#   scripts/deps.sh test    the above plus the real peers the tests run
#   scripts/deps.sh fuzz    the build packages plus clang and libFuzzer
#   scripts/deps.sh package the build packages (what scripts/package.sh needs)
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

BUILD_PACKAGES=(
    g++ cmake ninja-build pkg-config
    libssl-dev libsqlite3-dev
    libboost1.81-dev libboost-json1.81-dev
    libspdlog-dev libtoml11-dev libcli11-dev
    libre2-dev   # linear-time regular expressions (pki/crypto/pattern)
    libevtx-dev libbfio-dev  # EVTX event logs (pki/evidence); libevtx.h includes libbfio.h
    openssl
)
TEST_PACKAGES=(
    libgtest-dev
    scep         # micromdm scepclient / scepserver
    certmonger   # getcert add-scep-ca / request
    dbus-daemon  # dbus-run-session for a private certmonger
    sqlite3
    iproute2     # ss: the port micromdm's scepserver picked (probe test)
    curl         # fetches CRLs in the lifecycle test
    freeradius eapoltest  # the EAP-TLS end-to-end test
    python3      # plistlib checks of Apple profiles; WebDriver client of the browser test
    chromium chromium-driver  # the status page in a real browser
    docker.io debootstrap     # scripts/docker-test.sh (engine and a locally made base image)
    clang libclang-rt-14-dev  # libFuzzer: the short fuzz runs of the suite
    tcpdump tshark  # captures made and cross-checked by the evidence test
    libevtx-utils   # evtxexport: the evidence test's second reading of an EVTX file
)
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

want=("${BUILD_PACKAGES[@]}")
case "${1:-build}" in
    build) ;;
    test) want+=("${TEST_PACKAGES[@]}") ;;
    fuzz) want+=("${FUZZ_PACKAGES[@]}") ;;
    package) ;;  # cpack -G DEB needs nothing more (its Depends are written out)
    *) echo "usage: $0 [build|test|fuzz|package]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    if ! grep -q "install ok installed" <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "scep-lab needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
