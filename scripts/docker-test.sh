#!/usr/bin/env bash
# Proves the Docker image on a Debian machine, as root (issue 7):
#  1. starts a Docker engine when none runs (dockerd --bridge=none --iptables=false),
#  2. makes a Debian bookworm base image with debootstrap + docker import when
#     none is cached (no registry needed),
#  3. builds the image with --network host, reports build time and size,
#  4. runs it with --network host on free loopback ports and a volume, waits
#     for /healthz and the container's HEALTHCHECK, checks it runs as non-root,
#  5. enrolls with scepclient, restarts the container on the same volume and
#     checks the CA and the issued certificate are unchanged,
#  6. calls the admin API from the host with the token from
#     `docker exec … scep-lab admin-token` (never in docker logs),
#  7. checks the HTTPS names come from configuration and that a new container
#     on the same volume keeps the HTTPS certificate.
# Exit 0 on success, 1 on failure, 77 when it cannot run here (with the reason).
set -euo pipefail
cd "$(dirname "$0")/.."
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; [ -n "${CID:-}" ] && docker logs "$CID" 2>&1 | tail -20 >&2; exit 1; }
# cmd | contains [grep options] PATTERN, reading all of cmd's output (no SIGPIPE under pipefail).
contains() { local all; all=$(cat); grep -q "$@" <<<"$all"; }

[ "$(id -u)" = 0 ] || skip "needs root (it may start dockerd and runs debootstrap)"
command -v docker >/dev/null || skip "docker is not installed (Debian package docker.io)"
command -v scepclient >/dev/null || skip "scepclient is not installed"

WORK=$(mktemp -d /tmp/scep-lab-docker.XXXXXX)
STARTED_DOCKERD=""
CID=""
VOLUME="scep-lab-test-$$"
IMAGE=${SCEP_LAB_IMAGE:-scep-lab:test}
BASE_IMAGE=${SCEP_LAB_BASE_IMAGE:-scep-lab-base:bookworm}
cleanup() {
    [ -n "$CID" ] && docker rm -f "$CID" >/dev/null 2>&1 || true
    docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    if [ -n "$STARTED_DOCKERD" ]; then kill "$STARTED_DOCKERD" 2>/dev/null || true; wait "$STARTED_DOCKERD" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# 1. The engine.
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || skip "no Docker engine runs and dockerd is not installed"
    dockerd --bridge=none --iptables=false >"$WORK/dockerd.log" 2>&1 &
    STARTED_DOCKERD=$!
    for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || skip "dockerd would not start here: $(tail -3 "$WORK/dockerd.log" | tr '\n' ' ')"
    echo "started dockerd (pid $STARTED_DOCKERD)"
fi

# 2. The base image, made locally.
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || skip "no $BASE_IMAGE image and debootstrap is not installed"
    t0=$(date +%s)
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
        >"$WORK/debootstrap.log" 2>&1 || fail "debootstrap failed: $(tail -5 "$WORK/debootstrap.log")"
    # What a container never reads: documentation, manuals, locales, package caches.
    rm -rf "$WORK"/rootfs/usr/share/{doc,man,info,locale}/* "$WORK"/rootfs/var/cache/apt/archives/*.deb \
        "$WORK"/rootfs/var/lib/apt/lists/*
    tar -C "$WORK/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null || fail "docker import failed"
    rm -rf "$WORK/rootfs"
    echo "made $BASE_IMAGE with debootstrap in $(( $(date +%s) - t0 )) s"
fi

# 3. Build.
t0=$(date +%s)
docker build --network host --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" . >"$WORK/build.log" 2>&1 ||
    fail "docker build failed: $(tail -20 "$WORK/build.log")"
build_s=$(( $(date +%s) - t0 ))
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "built $IMAGE in ${build_s} s; image size $(( size / 1024 / 1024 )) MB"

# 4. Run on free loopback ports with a volume.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HPORT=$(free_port)
run() {
    CID=$(docker run -d --network host -v "$VOLUME:/data" -e SCEP_LAB_LISTEN=127.0.0.1 -e SCEP_LAB_PORT="$PORT" \
        -e SCEP_LAB_HTTPS_PORT="$HPORT" "$IMAGE") || fail "docker run failed"
    for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.2; done
    fail "no /healthz answer from the container"
}
run
[ "$(docker exec "$CID" id -u)" != 0 ] || fail "the container runs as root"
for _ in $(seq 1 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$CID")" = healthy ] && break
    sleep 1
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$CID")" = healthy ] ||
    fail "HEALTHCHECK status is $(docker inspect -f '{{.State.Health.Status}}' "$CID")"
echo "ok: container up as uid $(docker exec "$CID" id -u), /healthz answers, HEALTHCHECK healthy"

# 5. Enroll, restart on the same volume, compare.
curl -sf "http://127.0.0.1:$PORT/ca/root.pem" -o "$WORK/root-before.pem" || fail "no /ca/root.pem"
mkdir "$WORK/dev"
scepclient -server-url "http://127.0.0.1:$PORT/scep" -challenge scep-lab-challenge -private-key "$WORK/dev/key.pem" \
    -certificate "$WORK/dev/cert.pem" >"$WORK/dev/log" 2>&1 || fail "scepclient failed: $(tail -3 "$WORK/dev/log")"
openssl verify -CAfile "$WORK/root-before.pem" -untrusted <(curl -sf "http://127.0.0.1:$PORT/ca/chain.pem") \
    "$WORK/dev/cert.pem" >/dev/null || fail "the certificate does not chain to the container's root"
serial=$(openssl x509 -in "$WORK/dev/cert.pem" -noout -serial | cut -d= -f2)
echo "ok: scepclient enrolled against the container (serial $serial)"

docker restart "$CID" >/dev/null || fail "docker restart failed"
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/ca/root.pem" -o "$WORK/root-after.pem" || fail "no /ca/root.pem after the restart"
cmp -s "$WORK/root-before.pem" "$WORK/root-after.pem" || fail "the root CA changed across a restart on the same volume"
grep -q "$serial" <<<"$(docker exec "$CID" scep-lab cert list --serial "$serial")" || fail "the issued certificate is gone after the restart"
curl -sf "http://127.0.0.1:$PORT/certs/$serial.pem" | cmp -s - "$WORK/dev/cert.pem" ||
    fail "the stored certificate differs from the one scepclient received"
echo "ok: after a restart on the same volume the root CA and the issued certificate are unchanged"

# 6. The admin API from the host, with the token read through docker exec;
# the token never in docker logs; the image opens the admin API to the
# port-mapped host (still behind the token).
token=$(docker exec "$CID" scep-lab admin-token) || fail "docker exec scep-lab admin-token failed"
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "admin-token printed \"$token\""
docker logs "$CID" 2>&1 | contains -F "$token" && fail "the admin token is in docker logs"
docker logs "$CID" 2>&1 | contains -F "scep-lab admin-token" || fail "the banner does not say how to read the token"
docker exec "$CID" scep-lab config | contains -x "allow_remote = true" ||
    fail "the image does not open the admin API to port-mapped clients"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/admin/api/certificates")" = 401 ] ||
    fail "the admin API answered without the token"
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/admin/api/certificates?serial=$serial" |
    contains '"total":1' || fail "the admin API from the host did not list $serial"
echo "ok: the admin API answers the host with the token from docker exec scep-lab admin-token; docker logs never holds it"

# 7. HTTPS names come from configuration, not the hostname; a new container
# on the same volume keeps the HTTPS certificate (no pile of re-issues).
https_cert() { openssl s_client -connect "127.0.0.1:$HPORT" -servername localhost </dev/null 2>/dev/null | openssl x509 2>/dev/null; }
https_cert >"$WORK/https-1.pem" || true
[ -s "$WORK/https-1.pem" ] || fail "no HTTPS certificate served on $HPORT"
sans=$(openssl x509 -in "$WORK/https-1.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
[ "$sans" = "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1" ] ||
    fail "the HTTPS certificate names $sans, not the configured localhost,127.0.0.1,::1 (host name $(hostname))"
docker rm -f "$CID" >/dev/null
CID=""
run
https_cert >"$WORK/https-2.pem" || true
cmp -s "$WORK/https-1.pem" "$WORK/https-2.pem" || fail "a new container on the same volume issued a new HTTPS certificate"
n=$(docker exec "$CID" scep-lab cert list --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); rows=d["certificates"] if isinstance(d,dict) else d; print(sum(1 for r in rows if r.get("requester")=="scep-lab https"))')
[ "$n" = 1 ] || fail "the store holds $n HTTPS certificates after a new container, not 1"
echo "ok: HTTPS names from SCEP_LAB_HTTPS_NAMES; a new container keeps the certificate (1 in the store)"
echo "PASS: Docker image (build ${build_s} s, $(( size / 1024 / 1024 )) MB)"
