#!/usr/bin/env bash
# The evidence reader on a large capture (docs/evidence.md, docs/benchmarks.md):
# a synthetic pcap of SIZE_MB (default 1024) is made from the scepclient
# capture in tests/fuzz/seeds/capture (its connections repeated with other
# client addresses, ports and times), then `scep-lab inspect` reads it; the
# script prints the exchanges found, the wall time, the rate and the peak
# resident memory (the kernel's ru_maxrss of the child).
#   scripts/evidence-bench.sh [SIZE_MB] [path/to/scep-lab]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
bin=${2:-build/cli/scep-lab}
if [ ! -x "$bin" ]; then
    scripts/deps.sh build
    SCEP_LAB_BUILD_TESTS=OFF scripts/build.sh
    bin=build/cli/scep-lab
fi
work=$(mktemp -d /tmp/scep-lab-evidence-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$size_mb" "$work/big.pcap" tests/fuzz/seeds/capture/scepclient.pcap <<'PY'
import struct, sys
size = int(sys.argv[1]) << 20
out, seed = sys.argv[2], sys.argv[3]
data = open(seed, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
assert magic == 0xa1b2c3d4, "the seed is a little-endian microsecond pcap"
header, records, pos = data[:24], [], 24
while pos + 16 <= len(data):
    sec, usec, caplen, origlen = struct.unpack("<IIII", data[pos:pos + 16])
    records.append((sec * 1000000 + usec, bytearray(data[pos + 16:pos + 16 + caplen])))
    pos += 16 + caplen
t0 = records[0][0]
span = records[-1][0] - t0 + 1000
with open(out, "wb") as f:
    f.write(header)
    written, copy = 24, 0
    while written < size:
        copy += 1
        # Another client: 10.a.b.c, its own source ports; the server keeps 127.0.0.1.
        client = bytes([10, (copy >> 16) & 255, (copy >> 8) & 255, copy & 255])
        for t, frame in records:
            fr = bytearray(frame)
            ip = 14
            src, dst = fr[ip + 12:ip + 16], fr[ip + 16:ip + 20]
            tcp = ip + (fr[ip] & 15) * 4
            sport, dport = struct.unpack(">HH", fr[tcp:tcp + 4])
            if bytes(src) == bytes([127, 0, 0, 1]) and sport > dport:   # from the client (ephemeral port)
                fr[ip + 12:ip + 16] = client
                fr[tcp:tcp + 2] = struct.pack(">H", 20000 + copy % 40000)
            else:
                fr[ip + 16:ip + 20] = client
                fr[tcp + 2:tcp + 4] = struct.pack(">H", 20000 + copy % 40000)
            ts = t - t0 + copy * span
            f.write(struct.pack("<IIII", ts // 1000000 + 1764900000, ts % 1000000, len(fr), len(fr)))
            f.write(fr)
            written += 16 + len(fr)
print(f"made {written >> 20} MiB: {copy} copies of the seed's {len(records)} packets", file=sys.stderr)
PY
python3 - "$bin" "$work/big.pcap" <<'PY'
import json, resource, subprocess, sys, time
bin, cap = sys.argv[1], sys.argv[2]
start = time.monotonic()
p = subprocess.run([bin, "inspect", cap, "--format", "json", "--data-dir", "/nonexistent-scep-lab"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.monotonic() - start
if p.returncode != 0:
    sys.exit("inspect failed: " + p.stderr.decode()[:500])
report = json.loads(p.stdout)
exchanges = sum(len(c["exchanges"]) for c in report["clients"])
clients = len(report["clients"])
size = __import__("os").path.getsize(cap)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB
print(f"capture      {size / 2**20:.0f} MiB, {report['files'][0]['http_exchanges']} HTTP exchanges")
print(f"decoded      {exchanges} SCEP exchanges from {clients} clients")
print(f"wall time    {wall:.1f} s ({size / 2**20 / wall:.1f} MiB/s, {exchanges / wall:.0f} exchanges/s)")
print(f"peak RSS     {rss / 1024:.0f} MiB")
print(f"report       {len(p.stdout) / 2**20:.0f} MiB of JSON")
PY
