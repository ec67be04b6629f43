#!/usr/bin/env python3
"""Writes a small EVTX file (the Windows event log's binary form) with the
events given as JSON, for the evidence tests: no Windows needed.

The layout follows the format's public description (libevtx's
documentation, "Windows XML Event Log (EVTX) format", in the libevtx source
tree): a 4096-byte file header, one 64 KiB chunk with its 512-byte header,
and one record per event whose content is Binary XML built from plain
tokens (elements, attributes, text values) rather than templates. The
checksums (CRC-32) are the real ones.

  make_evtx.py OUT.evtx '[{"id": 29, "level": 2, "time": "2026-12-05T10:00:02Z",
                          "provider": "Microsoft-Windows-NetworkDeviceEnrollmentService",
                          "data": ["text", ...]}, ...]'
"""
import datetime
import json
import struct
import sys
import zlib


def filetime(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return int((t - datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 10_000_000)


class Chunk:
    """Builds one chunk's records; names are written inline where first used."""

    def __init__(self):
        self.records = b""

    def record(self, number, written, xml):
        # The record starts at 512 + len(records) in the chunk: name offsets are chunk offsets.
        base = 512 + len(self.records) + 24  # after the record header
        body = xml(base)
        size = 24 + len(body) + 4
        self.records += struct.pack("<IIQQ", 0x00002A2A, size, number, written) + body + struct.pack("<I", size)


def name_bytes(text):
    encoded = text.encode("utf-16-le")
    h = 0
    for ch in text:
        h = (h * 65599 + ord(ch)) & 0xFFFFFFFF
    return struct.pack("<IHH", 0, h & 0xFFFF, len(text)) + encoded + b"\0\0"


def value_text(text):
    encoded = text.encode("utf-16-le")
    return bytes([0x05, 0x01]) + struct.pack("<H", len(text)) + encoded


class Xml:
    """Binary XML from tokens; `at` is the chunk offset of the next byte."""

    def __init__(self, at):
        self.out = b""
        self.at = at

    def put(self, b):
        self.out += b
        self.at += len(b)

    def name(self, text):
        # The name offset points just past itself: the name follows inline.
        self.put(struct.pack("<I", self.at + 4))
        self.put(name_bytes(text))

    def element(self, tag, attrs=(), text=None, children=()):
        start = len(self.out)
        self.put(bytes([0x41 if attrs else 0x01]) + struct.pack("<H", 0xFFFF))
        size_at = len(self.out)
        self.put(b"\0\0\0\0")  # data size, filled below
        self.name(tag)
        if attrs:
            list_at = len(self.out)
            self.put(b"\0\0\0\0")
            for i, (k, v) in enumerate(attrs):
                self.put(bytes([0x46 if i + 1 < len(attrs) else 0x06]))
                self.name(k)
                self.put(value_text(v))
            self.out = self.out[:list_at] + struct.pack("<I", len(self.out) - list_at - 4) + self.out[list_at + 4:]
        if text is None and not children:
            self.put(bytes([0x03]))  # close empty element
        else:
            self.put(bytes([0x02]))
            if text is not None:
                self.put(value_text(text))
            for c in children:
                c(self)
            self.put(bytes([0x04]))
        size = len(self.out) - size_at - 4
        self.out = self.out[:size_at] + struct.pack("<I", size) + self.out[size_at + 4:]
        return start


def event_xml(e):
    def build(at):
        x = Xml(at)
        x.put(bytes([0x0F, 0x01, 0x01, 0x00]))  # fragment header
        system = [
            lambda x: x.element("Provider", [("Name", e["provider"])]),
            lambda x: x.element("EventID", text=str(e["id"])),
            lambda x: x.element("Level", text=str(e["level"])),
            lambda x: x.element("TimeCreated", [("SystemTime", e["time"].replace("Z", ".000000000Z"))]),
            lambda x: x.element("Computer", text=e.get("computer", "NDES01.contoso.com")),
        ]
        data = [lambda x, d=d: x.element("Data", text=d) for d in e.get("data", [])]
        x.element("Event", [("xmlns", "http://schemas.microsoft.com/win/2004/08/events/event")], children=[
            lambda x: x.element("System", children=system),
            lambda x: x.element("EventData", children=data),
        ])
        x.put(bytes([0x00]))  # end of stream
        return x.out
    return build


def main():
    out, events = sys.argv[1], json.loads(sys.argv[2])
    chunk = Chunk()
    for n, e in enumerate(events, 1):
        chunk.record(n, filetime(e["time"]), event_xml(e))
    records = chunk.records
    assert 512 + len(records) <= 65536, "one chunk holds these events"
    last_offset = 512 + len(records) - struct.unpack("<I", records[-(struct.unpack("<I", records[-4:])[0]):][4:8])[0] if False else None
    # The last record's offset: walk the records.
    pos, last = 0, 0
    while pos < len(records):
        last = pos
        pos += struct.unpack("<I", records[pos + 4:pos + 8])[0]
    n = len(events)
    header = bytearray(512)
    struct.pack_into("<8sQQQQIII", header, 0, b"ElfChnk\0", 1, n, 1, n, 128, 512 + last, 512 + len(records))
    struct.pack_into("<I", header, 52, zlib.crc32(records))
    struct.pack_into("<I", header, 120, 0)  # flags
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120]) + bytes(header[128:512])))
    chunk_bytes = bytes(header) + records
    chunk_bytes += b"\0" * (65536 - len(chunk_bytes))
    fh = bytearray(4096)
    struct.pack_into("<8sQQQIHHHH", fh, 0, b"ElfFile\0", 0, 0, n + 1, 128, 2, 3, 4096, 1)
    struct.pack_into("<I", fh, 120, 0)  # flags: clean
    struct.pack_into("<I", fh, 124, zlib.crc32(bytes(fh[:120])))
    with open(out, "wb") as f:
        f.write(bytes(fh) + chunk_bytes)


if __name__ == "__main__":
    main()
