#!/usr/bin/env python3
"""Writes the multi-section and damaged-tail seeds of tests/fuzz/corpus/pcapng_reader_fuzz/.

The fuzz target reads its input with PcapngReader and scans it with the block scan of
`xesp repair`, so the seeds cover what both walk: every block type the pcapng draft registers,
in both byte orders; files of several sections (as `cat a.pcapng b.pcapng` makes them, and with
byte orders that differ per section); and the endings an interrupted capture leaves (zeros of a
mapped file's growth, garbage, a block cut in its header or body), plus files that are not
pcapng at all (gzip, pcap). Names carry no `seed-` prefix: another generator owns those.
Run from anywhere:  python3 tests/fuzz/make_pcapng_section_seeds.py
"""
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "pcapng_reader_fuzz"
PREFIXES = ("sections-", "all-blocks-", "tail-", "not-pcapng-")

SHB, IDB, PB, SPB, NRB, ISB, EPB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def frame(n, seed):
    return bytes((seed * 7 + i) & 0xFF for i in range(n))


class Section:
    """Blocks of one section in one byte order ("<" little-endian, ">" big-endian)."""

    def __init__(self, e):
        self.e = e

    def p(self, fmt, *v):
        return struct.pack(self.e + fmt, *v)

    def opts(self, *pairs):
        out = b"".join(self.p("HH", c, len(v)) + pad(v) for c, v in pairs)
        return out + self.p("HH", 0, 0) if pairs else b""

    def block(self, btype, body):
        body = pad(body)
        return self.p("II", btype, 12 + len(body)) + body + self.p("I", 12 + len(body))

    def ts(self, v):  # high word first, each in the section's byte order
        return self.p("II", v >> 32, v & 0xFFFFFFFF)

    def shb(self, *options):
        return self.block(SHB, self.p("IHHq", 0x1A2B3C4D, 1, 0, -1) + self.opts(*options))

    def idb(self, snap=262144, *options):
        return self.block(IDB, self.p("HHI", 1, 0, snap) + self.opts(*options))

    def epb(self, ifid, ts, data, *options):
        body = self.p("I", ifid) + self.ts(ts) + self.p("II", len(data), len(data) + 4)
        return self.block(EPB, body + pad(data) + self.opts(*options))

    def spb(self, data):
        return self.block(SPB, self.p("I", len(data)) + data)

    def isb(self, ifid, ts, *options):
        return self.block(ISB, self.p("I", ifid) + self.ts(ts) + self.opts(*options))


def every_block(e, user_appl):
    """A section with every registered block type, each known one with options."""
    s = Section(e)
    ns = 1_700_000_000_123_456_789
    return b"".join([
        s.shb((1, b"section comment"), (2, b"x86_64"), (3, b"Linux"), (4, user_appl)),
        s.idb(262144, (2, b"eth0"), (9, b"\x09"), (11, b"\x00udp"), (14, s.p("Q", 3))),
        s.idb(64, (2, b"eth1"), (9, b"\x86")),  # 2^-6 s units
        s.block(PB, s.p("HH", 1, 0) + s.ts(5) + s.p("II", 4, 4) + b"abcd"),  # obsolete
        s.spb(frame(70, 1)),  # interface 0
        s.block(NRB, s.p("HH", 1, 8) + b"\x0a\x00\x00\x01" + b"h1\0\0" + s.p("HH", 0, 0)),
        s.epb(1, 12345, frame(61, 2), (1, b"epb comment"), (2, s.p("I", 1))),
        s.epb(0, ns, frame(60, 3)),
        s.isb(0, ns + 1, (2, s.ts(ns)), (3, s.ts(ns + 1)), (4, s.p("Q", 10)), (5, s.p("Q", 1)),
              (6, s.p("Q", 9)), (7, s.p("Q", 0)), (8, s.p("Q", 9))),
        s.block(7, b"irig"), s.block(8, b"arinc429"),
        s.block(9, b"__REALTIME_TIMESTAMP=1\n"),
        s.block(0xA, s.p("II", 0x544C534B, 4) + b"keys"),  # decryption secrets (TLS key log)
        s.block(0x101, b"hone machine"), s.block(0x204, b"sysdig event"),
        s.block(0xBAD, s.p("I", 32473) + b"custom, copiable"),
        s.block(0x40000BAD, s.p("I", 32473) + b"custom, not copiable"),
        s.block(0x80000001, b"local use"),
    ])


def seeds():
    le, be = Section("<"), Section(">")
    full_le = every_block("<", b"le")
    full_be = every_block(">", b"be")
    two_ifs = le.shb() + le.idb() + le.idb() + le.epb(1, 1, frame(20, 4))
    one_if = le.shb() + le.idb(128) + le.epb(0, 2, frame(20, 5)) + le.spb(frame(200, 6))
    return {
        "all-blocks-le": full_le,
        "all-blocks-be": full_be,
        # Three sections: byte order changes at each SHB, interface ids restart.
        "sections-le-be-le": full_le + full_be + two_ifs,
        # `cat a b` of two small captures; the second has fewer interfaces.
        "sections-cat-two": two_ifs + one_if,
        "sections-shb-only-be": be.shb() + le.shb() + be.shb(),
        # Interface 1 exists in section 0 only.
        "sections-bad-interface-in-second": two_ifs + le.shb() + le.idb() + le.epb(1, 3, b"x"),
        "sections-bad-second-magic": two_ifs + le.block(SHB, le.p("IHHq", 0x01020304, 1, 0, -1)),
        "sections-bad-second-version": two_ifs + be.block(SHB, be.p("IHHq", 0x1A2B3C4D, 2, 0, -1)),
        # What an interrupted capture leaves.
        "tail-zeros": full_le + bytes(4096),
        "tail-garbage": full_le + bytes((i * 37 + 11) & 0xFF for i in range(600)),
        "tail-cut-in-header": full_le + le.epb(0, 9, frame(100, 7))[:6],
        "tail-cut-in-body": full_be + be.epb(0, 9, frame(100, 8))[:70],
        "tail-torn-trailer": two_ifs + le.epb(0, 9, frame(30, 9))[:-4] + bytes(4),
        # Not pcapng: refused by the scan with a reason.
        "not-pcapng-gzip": b"\x1f\x8b\x08\x00" + bytes(16) + full_le[:64],
        "not-pcapng-pcap": struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.name.startswith(PREFIXES):
            old.unlink()
    for name, data in seeds().items():
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
