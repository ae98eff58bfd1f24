#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz corpus (tests/fuzz/corpus/<target>/seed-*).

The seeds cover the syntax each decoder knows, so fuzzing starts from every branch instead of
finding the keywords by chance: blobs with every NPP tag of userspace/npp/capture_config.cpp,
good and bad values, malformed lines; pcapng files of both byte orders with SHB, IDB, EPB,
SPB, ISB and unknown blocks and their options, and broken ones. Inputs that fuzzing found
(`scripts/fuzz.sh --merge`) sit beside them under hash names. Run from anywhere:
    python3 tests/fuzz/make_seeds.py
"""
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

# --- blobs -------------------------------------------------------------------------------
ALL_TAGS = """\
# every tag NPP reads, each with a valid value
NPP:Config:Interface=veth0
NPP:Config:Queues=0-3,6
NPP:Config:XdpMode=native
NPP:Config:BindMode=zero-copy
NPP:Config:FrameSize=4096
NPP:Config:FrameCount=16384
NPP:Config:RxRingSize=8192
NPP:Config:FillRingSize=8192
NPP:Config:BatchSize=256
NPP:Config:SnapLength=262144
NPP:Config:CaptureDirectory=/tmp/xesp
NPP:Config:CaptureFile=-
NPP:Config:Promiscuous=yes
NPP:Config:UpdateFreq=1000
NPP:Config:HugePages=auto
NPP:Config:Timestamps=poller
NPP:Config:FileIo=map
NPP:Config:BusyPoll=200
NPP:Config:PollerCpus=0,1
NPP:Trigger:StopAfterFrames=1000
NPP:Trigger:StopAfterBytes=10M
NPP:Trigger:StopAfterFileSize=1G
NPP:Trigger:StopAfterSeconds=2.5
NPP:Trigger:PauseAfterFrames=10
NPP:Trigger:PauseAfterBytes=64k
NPP:Location:Site=lab
NPP:Remote:Address=127.0.0.1
"""

FILE_TAGS = """\
# the capture files' tags: rotation, rings, creation, compression, the disk-space guard
NPP:Config:Interface=veth0
NPP:Config:CaptureFile=/cap/x-%Y%m%d-%H%M%S.pcapng.zst
NPP:Config:RotateBytes=64M
NPP:Config:RotateSeconds=3600
NPP:Config:RotateFiles=168
NPP:Config:FileMode=0640
NPP:Config:FileGroup=root
NPP:Config:Overwrite=no
NPP:Config:Compression=zstd
NPP:Config:MinFreeBytes=20G
"""

BAD_FILE_TAGS = """\
NPP:Config:Interface=veth0
NPP:Config:CaptureFile=-
NPP:Config:RotateBytes=100
NPP:Config:RotateSeconds=-1
NPP:Config:RotateFiles=3
NPP:Config:FileMode=0999
NPP:Config:FileGroup=no-such-group
NPP:Config:Overwrite=perhaps
NPP:Config:Compression=brotli
NPP:Config:MinFreeBytes=lots
NPP:Trigger:StopAfterFileSize=1M
NPP:Trigger:StopAfterSeconds=1e10
"""

OTHER_VALUES = """\
npp:config:interface = eth1\r
NPP:Config:Queues=all
NPP:Config:XdpMode=skb
NPP:Config:BindMode=copy
NPP:Config:FrameSize=2048
NPP:Config:Promiscuous=off
NPP:Config:HugePages=yes
NPP:Config:Timestamps=KERNEL
NPP:Config:FileIo=write
NPP:Config:BusyPoll=auto
NPP:Trigger:StopAfterSeconds=1e-3
\tNPP:Config:Interface=\tlo\t
"""

BAD_VALUES = """\
NPP:Config:Interface=veth0
NPP:Config:Queues=3-1
NPP:Config:XdpMode=fast
NPP:Config:BindMode=zc2
NPP:Config:FrameSize=3000
NPP:Config:FrameCount=4294967296
NPP:Config:RxRingSize=100
NPP:Config:FillRingSize=0x100
NPP:Config:BatchSize=8192
NPP:Config:SnapLength=0
NPP:Config:Promiscuous=maybe
NPP:Config:UpdateFreq=-1
NPP:Config:HugePages=sometimes
NPP:Config:Timestamps=nic
NPP:Config:FileIo=mmap
NPP:Config:BusyPoll=2000000
NPP:Config:PollerCpus=9999
NPP:Trigger:StopAfterFrames=0
NPP:Trigger:StopAfterBytes=1T
NPP:Trigger:StopAfterFileSize=18446744073709551615G
NPP:Trigger:StopAfterSeconds=nan
NPP:Trigger:PauseAfterFrames=
NPP:Trigger:PauseAfterBytes=k
NPP:Config:NoSuchTag=1
NPP:Nowhere:Tag=1
Other:Config:Interface=eth0
"""

BLOBS = {
    "seed-all-tags": ALL_TAGS,
    "seed-file-tags": FILE_TAGS,
    "seed-bad-file-tags": BAD_FILE_TAGS,
    "seed-other-values": OTHER_VALUES,
    "seed-bad-values": BAD_VALUES,
    "seed-minimal": "NPP:Config:Interface=veth0\n",
    "seed-no-interface": "NPP:Config:Queues=0\n",
    "seed-queue-lists": "NPP:Config:Interface=x\nNPP:Config:Queues=0,2-5,,7\nNPP:Config:Queues=1023\n",
    "seed-duplicates": "NPP:Config:Interface=a\nnpp:CONFIG:interface=b\nNPP:Config:Tag:With:Colons=v=w\n",
    "seed-bad-line-no-equals": "NPP:Config:Interface\n",
    "seed-bad-line-one-colon": "NPP:Interface=veth0\n",
    "seed-bad-line-empty-names": " : :Tag=1\n",
    "seed-bad-line-colon-after-equals": "NPP=Config:Interface:x\n",
    "seed-comments-and-blanks": "# a comment\n\n   \n#NPP:Config:Interface=x\nNPP:Config:Interface=veth0",
}

# Whole values for parse_queue_list (config_fuzz also reads the input as one queue list).
QUEUE_LISTS = {
    "seed-queues-range": "0-3,6",
    "seed-queues-all": "ALL",
    "seed-queues-backwards": "5-2",
    "seed-queues-too-high": "0-1024",
    "seed-queues-empty-item": "1,,2",
}

# --- pcapng ------------------------------------------------------------------------------
SHB, IDB, SPB, ISB, EPB = 0x0A0D0D0A, 1, 3, 5, 6


def pad(b):
    return b + b"\0" * (-len(b) % 4)


class Writer:
    def __init__(self, endian):
        self.e = endian  # "<" or ">"

    def opt(self, code, value):
        return struct.pack(self.e + "HH", code, len(value)) + pad(value)

    def opts(self, *pairs, end=True):
        out = b"".join(self.opt(c, v) for c, v in pairs)
        return out + (struct.pack(self.e + "HH", 0, 0) if end else b"")

    def block(self, btype, body):
        body = pad(body)
        total = 12 + len(body)
        return struct.pack(self.e + "II", btype, total) + body + struct.pack(self.e + "I", total)

    def u64(self, v):
        return struct.pack(self.e + "Q", v)

    def ts(self, v):  # high word first, each in the section's byte order
        return struct.pack(self.e + "II", v >> 32, v & 0xFFFFFFFF)

    def shb(self, *options, major=1, minor=0):
        body = struct.pack(self.e + "IHHq", 0x1A2B3C4D, major, minor, -1)
        return self.block(SHB, body + (self.opts(*options) if options else b""))

    def idb(self, link=1, snap=0, options=()):
        return self.block(IDB, struct.pack(self.e + "HHI", link, 0, snap) +
                          (self.opts(*options) if options else b""))

    def epb(self, ifid, ts, data, orig=None, options=()):
        body = struct.pack(self.e + "I", ifid) + self.ts(ts)
        body += struct.pack(self.e + "II", len(data), len(data) if orig is None else orig)
        return self.block(EPB, body + pad(data) + (self.opts(*options) if options else b""))

    def spb(self, orig, data):
        return self.block(SPB, struct.pack(self.e + "I", orig) + data)

    def isb(self, ifid, ts, options=()):
        return self.block(ISB, struct.pack(self.e + "I", ifid) + self.ts(ts) +
                          (self.opts(*options) if options else b""))


def frame(n, seed):
    return bytes((seed + i) & 0xFF for i in range(n))


def full_file(w):
    return b"".join([
        w.shb((1, b"a comment"), (2, b"x86_64"), (3, b"Linux 6.18"), (4, b"xesp 0.1"),
              (99, b"unknown shb option")),
        w.idb(1, 262144, [(2, b"veth0"), (3, b"test veth"), (9, b"\x09"), (12, b"Linux"),
                          (14, w.u64(5)), (11, b"\x00udp port 9"), (1, b"idb comment")]),
        w.idb(1, 64, [(9, b"\x86")]),  # 2^-6 s units, snap 64 for the SPB
        w.epb(0, 1_700_000_000_123_456_789, frame(60, 1), options=[(1, b"epb comment"),
                                                                   (2, struct.pack(w.e + "I", 1))]),
        w.epb(1, 12345, frame(61, 2), orig=1500),
        w.isb(0, 1_700_000_001_000_000_000, [(1, b"isb comment"), (2, w.ts(1)), (3, w.ts(2)),
                                             (4, w.u64(10)), (5, w.u64(1)), (6, w.u64(9)),
                                             (7, w.u64(0)), (8, w.u64(9)), (100, b"xyz")]),
        w.block(0x00000BAD, b"unknown block body"),
        w.block(0x80000001, b""),
    ])


def pcapng_seeds():
    seeds = {}
    for name, e in (("le", "<"), ("be", ">")):
        w = Writer(e)
        seeds[f"seed-{name}-all-blocks"] = full_file(w)
        seeds[f"seed-{name}-shb-only"] = w.shb()
        seeds[f"seed-{name}-spb"] = w.shb() + w.idb(1, 0) + w.spb(40, frame(40, 3))
        # An SPB holds min(original length, snap length of interface 0) bytes.
        seeds[f"seed-{name}-spb-snap"] = w.shb() + w.idb(1, 16) + w.spb(100, frame(16, 4))
        seeds[f"seed-{name}-tsresol-extremes"] = w.shb() + \
            w.idb(1, 0, [(9, b"\x00")]) + w.idb(1, 0, [(9, b"\x7f")]) + \
            w.idb(1, 0, [(9, b"\xff"), (14, w.u64(2**63 + 5))]) + \
            w.epb(0, 2**64 - 1, b"") + w.epb(1, 2**64 - 1, b"a") + w.epb(2, 2**64 - 1, b"ab")
    w = Writer("<")
    seeds["seed-bad-magic"] = w.block(SHB, struct.pack("<IHHq", 0x11223344, 1, 0, -1))
    seeds["seed-bad-version"] = w.shb(major=2)
    seeds["seed-bad-first-block"] = w.idb()
    seeds["seed-bad-trailer"] = w.shb()[:-4] + struct.pack("<I", 999)
    seeds["seed-bad-truncated"] = full_file(w)[:-7]
    seeds["seed-bad-interface-id"] = w.shb() + w.epb(0, 1, frame(8, 0))
    seeds["seed-bad-captured-len"] = w.shb() + w.idb() + \
        w.block(EPB, struct.pack("<IIIII", 0, 0, 0, 0xFFFFFFFF, 60) + frame(60, 0))
    seeds["seed-bad-option-len"] = w.shb() + \
        w.block(IDB, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 2, 200) + b"abcd")
    seeds["seed-bad-tsresol-len"] = w.shb() + w.idb(1, 0, [(9, b"\x09\x09")])
    seeds["seed-bad-isb-option"] = w.shb() + w.idb() + w.isb(0, 0, [(4, b"1234")])
    seeds["seed-bad-second-shb"] = w.shb() + Writer(">").shb()
    seeds["seed-bad-empty-filter"] = w.shb() + w.idb(1, 0, [(11, b"")])
    return seeds


def write(target, seeds):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def main():
    write("blob_fuzz", BLOBS)
    write("config_fuzz", {**BLOBS, **QUEUE_LISTS})
    write("pcapng_reader_fuzz", pcapng_seeds())


if __name__ == "__main__":
    main()
