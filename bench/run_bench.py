#!/usr/bin/python3
"""xesp benchmark harness: what xesp keeps at high rate, next to tcpdump, netsniff-ng and dumpcap.

    sudo scripts/install-deps.sh --bench && sudo python3 bench/run_bench.py

One run builds a veth testbed (capture end in the root namespace, generator end in a namespace of
its own, `xbench-<pid>`), drives xesp-gen's BPF_PROG_RUN live-frames generator open loop into it
and measures, per testbed (1 and 4 RX queues), frame size and tool: the XDP_DROP ceiling, xesp,
tcpdump, netsniff-ng and dumpcap. It prints a table, checks xesp's drop accounting (GATE OK /
GATE FAILED), checks xesp's resident memory over a long capture, and writes JSON, Markdown and a
PNG chart. bench/README.md explains the columns, the method and the caveats.

Python 3.11 standard library only (Debian 12's /usr/bin/python3). Needs root.
Exit status: 0 all measured and every gate held; 1 a gate failed or a measurement failed;
2 cannot run (not root, xesp not built, bad option).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import platform
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PEERS = ("tcpdump", "netsniff-ng", "dumpcap")
# xesp-poller: xesp with --timestamps poller (no per-frame header; the pollers stamp frames).
# xesp-writev (not in the default run): --file-io write, to compare with the mapped file that
# `auto` picks for several queues on tmpfs.
# xesp-zstd, xesp-lz4: compressed while capturing, each queue's chunks on its own poller.
XESP_TOOLS = {"xesp": [], "xesp-poller": ["--timestamps", "poller"],
              "xesp-writev": ["--file-io", "write"],
              "xesp-zstd": ["--compress", "zstd"], "xesp-lz4": ["--compress", "lz4"]}
ALL_TOOLS = ("ceiling",) + tuple(XESP_TOOLS) + PEERS
DEFAULT_TOOLS = tuple(t for t in ALL_TOOLS if t != "xesp-writev")
PEER_BINARIES = {"tcpdump": "tcpdump", "netsniff-ng": "netsniff-ng", "dumpcap": "dumpcap"}
# Socket buffer / ring of each peer: the same 256 MiB for all three.
PEER_BUFFER_MIB = 256


class BenchError(Exception):
    """A failure that ends one measurement (or, raised before the first one, the run)."""


class Interrupted(BaseException):
    """SIGTERM / SIGHUP: unwinds like Ctrl-C so that the finally blocks clean up."""


def log(msg: str) -> None:
    print(msg, flush=True)


def die(msg: str, code: int = 2) -> None:
    print(f"run_bench: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


# ------------------------------------------------------------------------------------------------
# Processes: every child is registered, runs in a session of its own (a Ctrl-C on the terminal
# reaches the harness only) and is stopped by the harness, also when it fails.

class Procs:
    def __init__(self) -> None:
        self.live: dict[int, subprocess.Popen] = {}

    def spawn(self, cmd: list[str], out_path: Path, err_path: Path) -> subprocess.Popen:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True)
            except OSError as e:
                raise BenchError(f"cannot start {cmd[0]}: {e.strerror}") from None
        self.live[p.pid] = p
        return p

    def reap(self, p: subprocess.Popen, timeout: float) -> tuple[int | None, float]:
        """Waits up to `timeout` s; returns (exit status or None, CPU seconds user+system)."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                self.live.pop(p.pid, None)
                return p.returncode, ru.ru_utime + ru.ru_stime
            if time.monotonic() >= deadline:
                return None, 0.0
            time.sleep(0.02)

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGINT,
             timeout: float = 60.0) -> tuple[int | None, float, bool]:
        """Sends `sig`, waits, SIGKILLs after `timeout`. Returns (status, CPU s, killed)."""
        if p.pid not in self.live:
            return p.returncode, 0.0, False
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        rc, cpu = self.reap(p, timeout)
        if rc is not None:
            return rc, cpu, False
        os.kill(p.pid, signal.SIGKILL)
        rc, cpu = self.reap(p, 10)
        return rc, cpu, True

    def kill_all(self) -> None:
        for p in list(self.live.values()):
            try:
                os.kill(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        for p in list(self.live.values()):
            rc, _ = self.reap(p, max(0.0, deadline - time.monotonic()))
            if rc is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.reap(p, 5)


PROCS = Procs()


def run(cmd: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    except FileNotFoundError:
        raise BenchError(f"'{cmd[0]}' not found") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"'{' '.join(cmd)}' took more than {timeout} s") from None
    if check and r.returncode != 0:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise BenchError(f"'{' '.join(cmd)}' failed: {msg[-1] if msg else 'exit %d' % r.returncode}")
    return r


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def last_line(path: Path) -> str:
    lines = [l for l in read_text(path).splitlines() if l.strip()]
    return lines[-1].strip() if lines else "(no output)"


def exited(p: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it (its rusage stays for wait4)."""
    if p.pid not in PROCS.live:
        return True
    try:
        return os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def wait_until(pred, timeout: float, proc: subprocess.Popen | None = None,
               what: str = "", err_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if proc is not None and exited(proc):
            rc, _ = PROCS.reap(proc, 1)
            raise BenchError(f"{what} exited (status {rc}) before it was ready: "
                             f"{last_line(err_path) if err_path else ''}")
        if time.monotonic() >= deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------
# Testbed: a veth pair, capture end in the root namespace, generator end in xbench-<pid>.

@dataclass
class Testbed:
    queues: int
    ns: str
    cap_if: str
    gen_if: str
    mtu: int
    up: bool = False

    @staticmethod
    def new(queues: int, max_size: int) -> "Testbed":
        pid = os.getpid()
        return Testbed(queues=queues, ns=f"xbench-{pid}", cap_if=f"xb{pid}c", gen_if=f"xb{pid}g",
                       mtu=max(1500, max_size - 14))

    def setup(self) -> None:
        q = str(self.queues)
        self.up = True  # from here on teardown() has something to remove
        run(["ip", "netns", "add", self.ns])
        run(["ip", "link", "add", "name", self.cap_if, "numtxqueues", q, "numrxqueues", q,
             "type", "veth", "peer", "name", self.gen_if, "netns", self.ns,
             "numtxqueues", q, "numrxqueues", q])
        # IPv6 off before the links come up, or they send neighbour discovery into captures.
        run(["sysctl", "-qw", f"net.ipv6.conf.{self.cap_if}.disable_ipv6=1"])
        run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
             f"net.ipv6.conf.{self.gen_if}.disable_ipv6=1"])
        # Frames passed to the root namespace's stack (peer runs) are never forwarded anywhere.
        run(["sysctl", "-qw", f"net.ipv4.conf.{self.cap_if}.forwarding=0"])
        if self.mtu != 1500:
            run(["ip", "link", "set", self.cap_if, "mtu", str(self.mtu)])
            run(["ip", "-n", self.ns, "link", "set", self.gen_if, "mtu", str(self.mtu)])
        run(["ip", "link", "set", self.cap_if, "up"])
        run(["ip", "-n", self.ns, "link", "set", self.gen_if, "up"])

    def teardown(self) -> None:
        if not self.up:
            return
        # Deleting the namespace deletes its veth end and with it the pair.
        for _ in range(10):
            r = run(["ip", "netns", "del", self.ns], check=False)
            if not Path(f"/run/netns/{self.ns}").exists():
                break
            time.sleep(0.2)
        else:
            log(f"run_bench: could not delete namespace {self.ns}: {r.stderr.strip()}; "
                f"delete it with: ip netns del {self.ns}")
        if Path(f"/sys/class/net/{self.cap_if}").exists():  # only left by a half set-up
            run(["ip", "link", "del", self.cap_if], check=False)
        self.up = False

    def xdp_attached(self) -> bool:
        r = run(["ip", "-d", "link", "show", "dev", self.cap_if], check=False)
        return "prog/xdp" in r.stdout

    def counters(self) -> dict:
        """The veth counters the harness compares before and after a measurement."""
        c: dict = {"rx_dropped": int(read_text(
            Path(f"/sys/class/net/{self.cap_if}/statistics/rx_dropped")) or 0)}
        cap = run(["ethtool", "-S", self.cap_if]).stdout
        gen = run(["ip", "netns", "exec", self.ns, "ethtool", "-S", self.gen_if]).stdout
        for key, text in (("cap", cap), ("gen", gen)):
            for m in re.finditer(r"^\s*(\S+):\s*(\d+)\s*$", text, re.M):
                c[f"{key}.{m.group(1)}"] = int(m.group(2))
        return c

    def delta(self, before: dict, after: dict) -> dict:
        d = {k: after[k] - before.get(k, 0) for k in after}
        per_queue = [d.get(f"cap.rx_queue_{i}_xdp_packets", 0) for i in range(self.queues)]
        return {
            "sender_xdp_xmit": sum(d.get(f"gen.tx_queue_{i}_xdp_xmit", 0)
                                   for i in range(self.queues)),
            "sender_xdp_xmit_errors": sum(d.get(f"gen.tx_queue_{i}_xdp_xmit_errors", 0)
                                          for i in range(self.queues)),
            "rx_dropped": d["rx_dropped"],
            "rx_queue_drops": sum(d.get(f"cap.rx_queue_{i}_drops", 0) for i in range(self.queues)),
            "rx_queue_xdp_packets": per_queue,
        }


def remove_stale_testbeds() -> None:
    """Namespaces xbench-<pid> whose harness died without cleaning up (SIGKILL)."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        m = re.match(r"^(xbench-(\d+))\b", line.strip())
        if m and int(m.group(2)) != os.getpid() and not Path(f"/proc/{m.group(2)}").exists():
            log(f"run_bench: removing stale testbed namespace {m.group(1)} (its harness is gone)")
            run(["ip", "netns", "del", m.group(1)], check=False)


# ------------------------------------------------------------------------------------------------
# Counting frames in pcap / pcapng files, exactly, by walking the records.

def count_frames(path: Path) -> tuple[int, bool]:
    """(frames, truncated): records in a pcap or pcapng file; truncated: a partial last record."""
    size = path.stat().st_size
    if size == 0:
        raise BenchError(f"{path.name}: empty file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b" or head in (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18"):
        return _count_compressed(path)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        head = mm[:4]
        if head == b"\x0a\x0d\x0d\x0a":
            return _count_pcapng(mm, size)
        magic_le = struct.unpack("<I", head)[0]
        if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise BenchError(f"{path.name}: neither pcap nor pcapng (magic {head.hex()})")
        unpack = struct.Struct(endian + "I").unpack_from
        off, n = 24, 0
        while off + 16 <= size:
            off += 16 + unpack(mm, off + 8)[0]
            n += 1
        if off > size:
            return n - 1, True
        return n, off != size


def _count_compressed(path: Path) -> tuple[int, bool]:
    """A gzip, zstd or lz4 capture (xesp --compress), through capinfos as Wireshark reads it."""
    r = subprocess.run(["capinfos", "-c", "-M", str(path)], capture_output=True, text=True)
    m = re.search(r"Number of packets:\s+(\d+)", r.stdout)
    if not m:
        raise BenchError(f"{path.name}: capinfos cannot read it: {last_line(r.stderr)}")
    # capinfos reads up to damage and says so on stderr (and exits non-zero).
    return int(m.group(1)), r.returncode != 0


def _count_pcapng(mm: mmap.mmap, size: int) -> tuple[int, bool]:
    off, n = 0, 0
    unpack = None
    while off + 12 <= size:
        if mm[off:off + 4] == b"\x0a\x0d\x0d\x0a":  # section header: byte order of the section
            bom = mm[off + 8:off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            unpack = struct.Struct(endian + "II").unpack_from
        btype, blen = unpack(mm, off)
        if blen < 12 or off + blen > size:
            return n, True
        if btype in (6, 3, 2):  # enhanced, simple, obsolete packet block
            n += 1
        off += blen
    return n, off != size


# ------------------------------------------------------------------------------------------------
# Generators.

@dataclass
class GenResult:
    frames: int = 0
    seconds: float = 0.0          # the longest generator's sending time
    cpu_s: float = 0.0            # generators' CPU time (their softirq work included)
    check_frames: int | None = None  # frames the --check program ran on
    per_cpu: list = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.a = args
        self.work = workdir
        self.xesp = args.xesp
        self.gen = args.gen
        self.cpus = sorted(os.sched_getaffinity(0))
        self.seq = 0  # sequence numbers keep growing over the run: every frame is unique

    # Splits `count` frames over the CPUs that feed `tb`, one xesp-gen per CPU, run concurrently.
    def gen_cpus(self, tb: Testbed) -> list[int]:
        if self.a.gen_cpus:
            return self.a.gen_cpus
        if tb.queues == 1:
            return [self.cpus[0]]
        return self.cpus[:tb.queues]

    def send(self, tb: Testbed, size: int, count: int, check: str | None) -> GenResult:
        """check: None, 'drop' or 'pass' (the counting program on the capture end)."""
        cpus = self.gen_cpus(tb)
        shares = [count // len(cpus)] * len(cpus)
        shares[0] += count - sum(shares)
        procs = []
        timeout = 120 + count / 50_000
        try:
            for i, (cpu, n) in enumerate(zip(cpus, shares)):
                cmd = [str(self.gen), "--netns", tb.ns, "-i", tb.gen_if, "--mode", "live",
                       "--count", str(n), "--size", str(size), "--cpu", str(cpu),
                       "--start-seq", str(self.seq), "--json"]
                self.seq += n
                if check and i == 0:
                    # One program per interface: the first generator attaches it and keeps it
                    # until its own frames and, settling, the others' have arrived.
                    cmd += ["--check", tb.cap_if] + (["--check-pass"] if check == "pass" else [])
                out, err = self.work / f"gen{i}.out", self.work / f"gen{i}.err"
                p = PROCS.spawn(cmd, out, err)
                procs.append((p, cpu, n, out, err))
                if check and i == 0 and len(cpus) > 1:
                    # The others start once the counting program is on (or the first generator
                    # is already done: then their frames show up as lost before XDP).
                    deadline = time.monotonic() + 20
                    while not tb.xdp_attached() and not exited(p):
                        if time.monotonic() > deadline:
                            raise BenchError("xesp-gen --check: no XDP program after 20 s")
                        time.sleep(0.01)
            res = GenResult()
            for p, cpu, n, out, err in procs:
                rc, cpu_s = PROCS.reap(p, timeout)
                if rc is None:
                    raise BenchError(f"xesp-gen on CPU {cpu} still running after {timeout:.0f} s")
                j = None
                for line in read_text(out).splitlines():
                    if line.startswith("{"):
                        j = json.loads(line)
                # --check exits 1 when frames are missing; the JSON still says what arrived.
                if j is None or (rc != 0 and "check" not in j):
                    raise BenchError(f"xesp-gen on CPU {cpu} failed (exit {rc}): {last_line(err)}")
                res.frames += j["frames"]
                res.seconds = max(res.seconds, j["seconds"])
                res.cpu_s += cpu_s
                if "check" in j:
                    res.check_frames = j["check"]["frames"]
                res.per_cpu.append({"cpu": cpu, "frames": j["frames"], "seconds": j["seconds"],
                                    "fps": j["frames_per_second"]})
            return res
        finally:
            for p, *_ in procs:
                if p.pid in PROCS.live:
                    PROCS.stop(p, signal.SIGINT, 5)

    # --------------------------------------------------------------------------------------------
    def free_bytes(self) -> int:
        """Room for a file in /dev/shm: its free space, at most the memory available."""
        st = os.statvfs(self.work)
        avail = st.f_bavail * st.f_frsize
        for line in read_text(Path("/proc/meminfo")).splitlines():
            if line.startswith("MemAvailable:"):
                avail = min(avail, int(line.split()[1]) * 1024)
        return avail

    def space_check(self, frames: int, size: int) -> None:
        need = frames * (size + 48) + (64 << 20)
        if need > self.free_bytes():
            raise BenchError(f"/dev/shm has {self.free_bytes() >> 20} MiB free, a file of "
                             f"{frames} frames of {size} B needs ~{need >> 20} MiB: use --frames")

    def measure_ceiling(self, tb: Testbed, size: int, count: int) -> dict:
        before = tb.counters()
        g = self.send(tb, size, count, "drop")
        d = tb.delta(before, tb.counters())
        arrived = g.check_frames or 0
        return {"offered": g.frames, "in_file": arrived, "arrived_at_xdp": arrived,
                "seconds": g.seconds, "gen_cpu_s": g.cpu_s, "generators": g.per_cpu,
                "veth": d, "cpu_s": None}

    def measure_xesp(self, tool: str, tb: Testbed, size: int, count: int) -> dict:
        self.space_check(count, size)
        path = self.work / f"{tool}.pcapng"
        cmd = [str(self.xesp), "capture", "-i", tb.cap_if, "-w", str(path), "--json"]
        if self.a.xesp_cpus:
            cmd += ["--cpus", self.a.xesp_cpus]
        g, d, mem, rc, cpu_s, killed, out, err = self.run_capture(
            tool, cmd + XESP_TOOLS[tool], lambda out, err: tb.xdp_attached(), tb, size, count, None)
        summary = None
        for line in read_text(out).splitlines():
            if line.startswith("{"):
                summary = json.loads(line)
        if killed or rc != 0 or summary is None:
            raise BenchError(f"xesp did not stop cleanly (exit {rc}{', killed' if killed else ''})"
                             f": {last_line(err)}")
        in_file, truncated = count_frames(path)
        if not self.a.keep_files:
            path.unlink(missing_ok=True)
        r = {"offered": g.frames, "in_file": in_file, "file_truncated": truncated,
             "arrived_at_xdp": summary["frames_seen"], "seconds": g.seconds, "cpu_s": cpu_s,
             "gen_cpu_s": g.cpu_s, "generators": g.per_cpu, "veth": d, "memory": mem,
             "xesp": {k: summary.get(k) for k in (
                 "xdp_mode", "bind_mode", "frames_seen", "frames_written", "frames_dropped",
                 "dropped", "frames_paused", "frames_after_stop", "frames_poller_stamped", "nic",
                 "queues")}}
        r["gate"] = xesp_gate(r, pollers_stamp="--timestamps" in XESP_TOOLS[tool])
        return r

    def measure_peer(self, tool: str, tb: Testbed, size: int, count: int) -> dict:
        self.space_check(count, size)
        b = PEER_BUFFER_MIB
        if tool == "tcpdump":
            path = self.work / "tcpdump.pcap"
            # -Z root: Debian's tcpdump otherwise drops to user tcpdump before opening the file.
            cmd = ["tcpdump", "-i", tb.cap_if, "-w", str(path), "-n", "-B", str(b * 1024),
                   "-Z", "root"]
            ready_text, ready_in = "listening on", "err"
        elif tool == "netsniff-ng":
            path = self.work / "netsniff-ng.pcap"
            # -S ring; -T plain pcap with ns timestamps (16-byte record header, the smallest);
            # -Q / -A: leave IRQ affinity and the machine's socket memory sysctls alone.
            cmd = ["netsniff-ng", "--in", tb.cap_if, "--out", str(path), "--silent",
                   "-S", f"{b}MiB", "-T", "0xa1b23c4d", "-Q", "-A"]
            ready_text, ready_in = "Running!", "out"
        elif tool == "dumpcap":
            path = self.work / "dumpcap.pcapng"
            cmd = ["dumpcap", "-i", tb.cap_if, "-w", str(path), "-q", "-B", str(b)]
            ready_text, ready_in = "Capturing on", "err"
        else:
            raise AssertionError(tool)
        def ready(out: Path, err: Path) -> bool:
            return ready_text in read_text(out if ready_in == "out" else err) and path.exists()
        g, d, mem, rc, cpu_s, killed, out, err = self.run_capture(
            tool, cmd, ready, tb, size, count, "pass")
        if killed:
            raise BenchError(f"{tool} did not stop within 60 s of SIGINT")
        in_file, truncated = count_frames(path)
        if not self.a.keep_files:
            path.unlink(missing_ok=True)
        return {"offered": g.frames, "in_file": in_file, "file_truncated": truncated,
                "arrived_at_xdp": g.check_frames, "seconds": g.seconds, "cpu_s": cpu_s,
                "gen_cpu_s": g.cpu_s, "generators": g.per_cpu, "veth": d, "memory": mem,
                "exit_status": rc, "tool_says": peer_stats(tool, read_text(out) + read_text(err))}

    def run_capture(self, tool: str, cmd: list, ready, tb: Testbed, size: int, count: int,
                    check: str | None) -> tuple:
        """One measured capture: starts `cmd`, waits until ready(out, err) (30 s; exiting first
        is a BenchError), lets it settle 0.3 s, sends `count` frames (`check`: see send), gives
        the last frames 1 s, samples its memory and stops it with SIGINT (SIGKILL after 60 s).
        Returns the generators' result, the veth counter deltas, the memory sample, exit status,
        CPU seconds, whether it had to be killed, and its stdout / stderr files."""
        out, err = self.work / f"{tool}.out", self.work / f"{tool}.err"
        before = tb.counters()
        p = PROCS.spawn(cmd, out, err)
        try:
            wait_until(lambda: ready(out, err), 30, p, tool, err)
            time.sleep(0.3)
            g = self.send(tb, size, count, check)
            time.sleep(1.0)
            mem = proc_memory(p.pid)
            rc, cpu_s, killed = PROCS.stop(p, signal.SIGINT, 60)
        finally:
            if p.pid in PROCS.live:
                PROCS.stop(p, signal.SIGKILL, 5)
        return g, tb.delta(before, tb.counters()), mem, rc, cpu_s, killed, out, err

    # --------------------------------------------------------------------------------------------
    def memory_check(self, tb: Testbed) -> dict:
        total, first = self.a.memory_frames, min(1_000_000, self.a.memory_frames)
        size = 60
        need = total * (size + 40) * 1.2 + (256 << 20)
        if self.free_bytes() >= need:
            path, where = self.work / "memory.pcapng", "/dev/shm"
        else:
            path, where = Path("/dev/null"), "/dev/null (/dev/shm too small for the file)"
        log(f"  memory check: one xesp capture, {total:,} frames of {size} B, file to {where}")
        out, err = self.work / "xesp-mem.out", self.work / "xesp-mem.err"
        p = PROCS.spawn([str(self.xesp), "capture", "-i", tb.cap_if, "-w", str(path), "--json"],
                        out, err)
        samples = []
        try:
            wait_until(tb.xdp_attached, 30, p, "xesp", err)
            time.sleep(0.3)
            sent = 0
            step = 5_000_000
            while sent < total:
                n = first if sent == 0 else min(step, total - sent)
                g = self.send(tb, size, n, None)
                sent += g.frames
                time.sleep(1.0)
                m = proc_memory(p.pid)
                m["frames_sent"] = sent
                samples.append(m)
                log(f"    after {sent:>11,} frames: VmRSS {m['vm_rss_kib']:,} KiB, "
                    f"VmHWM {m['vm_hwm_kib']:,} KiB")
            rc, cpu_s, killed = PROCS.stop(p, signal.SIGINT, 120)
        finally:
            if p.pid in PROCS.live:
                PROCS.stop(p, signal.SIGKILL, 5)
        summary = None
        for line in read_text(out).splitlines():
            if line.startswith("{"):
                summary = json.loads(line)
        if path != Path("/dev/null"):
            path.unlink(missing_ok=True)
        if killed or rc != 0 or summary is None:
            raise BenchError(f"xesp (memory check) did not stop cleanly: {last_line(err)}")
        a, b = samples[0], samples[-1]
        growth = (b["vm_rss_kib"] - a["vm_rss_kib"]) / a["vm_rss_kib"] if a["vm_rss_kib"] else 0
        return {"file": str(path), "frames_sent": samples[-1]["frames_sent"],
                "frames_seen": summary["frames_seen"], "frames_written": summary["frames_written"],
                "frames_dropped": summary["frames_dropped"], "cpu_s": cpu_s,
                "after_first": a, "after_last": b, "samples": samples,
                "rss_growth": growth, "within_5_percent": abs(growth) < 0.05}


def proc_memory(pid: int) -> dict:
    m = {"vm_rss_kib": 0, "vm_hwm_kib": 0}
    for line in read_text(Path(f"/proc/{pid}/status")).splitlines():
        if line.startswith("VmRSS:"):
            m["vm_rss_kib"] = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            m["vm_hwm_kib"] = int(line.split()[1])
    return m


def peer_stats(tool: str, text: str) -> dict:
    """What the peer itself reports at exit (its own view of drops), for the JSON."""
    pats = {
        "tcpdump": {"captured": r"(\d+) packets? captured", "received": r"(\d+) packets? received",
                    "dropped": r"(\d+) packets? dropped by kernel"},
        "netsniff-ng": {"incoming": r"(\d+)\s+packets incoming", "passed": r"(\d+)\s+packets passed",
                        "dropped": r"(\d+)\s+packets failed filter"},
        "dumpcap": {"captured": r"Packets captured: (\d+)",
                    "received": r"received/dropped on interface '[^']*': (\d+)/",
                    "dropped": r"received/dropped on interface '[^']*': \d+/(\d+)"},
    }[tool]
    return {k: int(m.group(1)) for k, pat in pats.items() if (m := re.search(pat, text))}


def xesp_gate(r: dict, pollers_stamp: bool = False) -> dict:
    """Every frame xesp's program saw is in the file or in exactly one drop cause; and the
    pollers stamped all frames (pollers_stamp: --timestamps poller) or none."""
    x = r["xesp"]
    causes = x["dropped"] or {}
    by_cause = sum(causes.values())
    offered = x["frames_seen"]
    missing = offered - r["in_file"]
    other = (x.get("frames_paused") or 0) + (x.get("frames_after_stop") or 0)
    problems = []
    if x["frames_dropped"] != by_cause:
        problems.append(f"frames_dropped {x['frames_dropped']} != sum of causes {by_cause}")
    if missing != by_cause + other:
        problems.append(f"seen - in file = {missing} != drops by cause {by_cause}"
                        + (f" + paused/after stop {other}" if other else ""))
    if x["frames_written"] != r["in_file"]:
        problems.append(f"frames_written {x['frames_written']} != in file {r['in_file']}")
    if r.get("file_truncated"):
        problems.append("the file ends in a partial block")
    stamped, want = x.get("frames_poller_stamped"), r["in_file"] if pollers_stamp else 0
    if stamped != want:
        problems.append(f"frames_poller_stamped {stamped} != {want}")
    # Before XDP (not xesp's): what the generator produced but xesp's program never saw. On a
    # veth the trace of it is the sender's xdp_xmit falling short of the count. The receiving
    # veth's rx_dropped is no pre-XDP counter: it also counts every failed XDP redirect, i.e.
    # xesp's ring-full and fill-empty drops, so it is shown as a cross-check of those.
    return {"ok": not problems, "problems": problems, "offered_at_xdp": offered,
            "in_file": r["in_file"], "drops_by_cause": causes, "drops_total": by_cause,
            "lost_before_xdp": r["offered"] - offered,
            "sender_not_handed_over": r["offered"] - r["veth"]["sender_xdp_xmit"],
            "receiver_rx_dropped": r["veth"]["rx_dropped"]}


# ------------------------------------------------------------------------------------------------
# Summaries, output.

def median(values: list) -> float | None:
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def summarise(reps: list[dict]) -> dict:
    ok = [r for r in reps if "error" not in r]
    s = {"reps": len(reps), "reps_ok": len(ok), "errors": [r["error"] for r in reps if "error" in r]}
    if not ok:
        return s
    for r in ok:
        r["loss"] = 1 - r["in_file"] / r["offered"] if r["offered"] else None
        r["mfps"] = r["in_file"] / r["seconds"] / 1e6 if r["seconds"] else None
        r["offered_mfps"] = r["offered"] / r["seconds"] / 1e6 if r["seconds"] else None
        r["cpu_s_per_mframe"] = (r["cpu_s"] / (r["in_file"] / 1e6)
                                 if r.get("cpu_s") is not None and r["in_file"] else None)
    for k in ("offered", "in_file", "arrived_at_xdp", "loss", "mfps", "offered_mfps",
              "cpu_s_per_mframe", "seconds"):
        s[k] = median([r.get(k) for r in ok])
    return s


def fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


TOOL_LABEL = {"ceiling": "ceiling (XDP_DROP)", "xesp": "xesp",
              "xesp-poller": "xesp --timestamps poller", "xesp-writev": "xesp --file-io write",
              "xesp-zstd": "xesp --compress zstd", "xesp-lz4": "xesp --compress lz4",
              "tcpdump": "tcpdump",
              "netsniff-ng": "netsniff-ng", "dumpcap": "dumpcap"}
COLUMNS = ["queues", "size", "tool", "offered", "in file", "loss %", "Mfps", "x ceiling",
           "x best peer", "CPU s/Mframe"]


def table_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for t in results:
        for sz in t["sizes"]:
            for tool in t["tools"]:
                s = sz["tools"].get(tool)
                if s is None:
                    continue
                if s.get("reps_ok", 0) == 0:
                    rows.append([str(t["queues"]), f"{sz['size']} B", TOOL_LABEL[tool],
                                 "failed", "", "", "", "", "", ""])
                    continue
                rows.append([str(t["queues"]), f"{sz['size']} B", TOOL_LABEL[tool],
                             f"{s['offered']:,.0f}", f"{s['in_file']:,.0f}",
                             fmt(s["loss"] * 100 if s["loss"] is not None else None, ".2f"),
                             fmt(s["mfps"], ".3f"), fmt(s.get("x_ceiling"), ".2f"),
                             fmt(s.get("x_best_peer"), ".2f"), fmt(s["cpu_s_per_mframe"], ".3f")])
    return rows


def text_table(rows: list[list[str]]) -> str:
    w = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) if rows else len(COLUMNS[i])
         for i in range(len(COLUMNS))]
    right = {0, 3, 4, 5, 6, 7, 8, 9}
    def line(cells):
        return "  ".join(c.rjust(w[i]) if i in right else c.ljust(w[i]) for i, c in enumerate(cells))
    out = [line(COLUMNS), line(["-" * x for x in w])]
    prev = None
    for r in rows:
        if prev is not None and r[:2] != prev[:2]:
            out.append("")
        out.append(line(r))
        prev = r
    return "\n".join(out)


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |",
           "|" + "|".join(["---"] * 3 + ["---:"] * (len(COLUMNS) - 3)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def write_png(results: list[dict], png: Path, title: str) -> str | None:
    """Grouped bars: captured Mfps per tool, one group per (queues, size), the ceiling as the
    first, hatched bar of each group, values on top. Returns an error message or None."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "gnuplot not found (scripts/install-deps.sh --bench installs gnuplot-nox): no PNG"
    tools = [t for t in ALL_TOOLS if any(t in r["tools"] for r in results)]
    groups = []
    for t in results:
        for sz in t["sizes"]:
            vals = [(sz["tools"].get(tool) or {}).get("mfps") for tool in tools]
            groups.append((f"{sz['size']} B ({sz['size'] + 4} on the wire), {t['queues']} "
                           f"queue{'s' if t['queues'] > 1 else ''}", vals))
    if not groups or not tools:
        return "nothing measured: no PNG"
    n = len(tools)
    width = 0.8 / n
    colours = {"ceiling": "#c8c8c8", "xesp": "#1f77b4", "xesp-poller": "#9ecae1",
               "xesp-writev": "#6baed6", "xesp-zstd": "#3182bd", "xesp-lz4": "#08519c",
               "tcpdump": "#ff7f0e",
               "netsniff-ng": "#2ca02c", "dumpcap": "#d62728"}
    ymax = max((v for _, vals in groups for v in vals if v is not None), default=1.0) or 1.0
    with tempfile.TemporaryDirectory(prefix="xbench-plot-") as d:
        plots = []
        for j, tool in enumerate(tools):
            data = Path(d) / f"{j}.txt"
            with open(data, "w") as f:
                for i, (_, vals) in enumerate(groups):
                    x = i + (j - (n - 1) / 2) * width
                    v = vals[j]
                    f.write(f"{x:.4f} {0 if v is None else v:.4f} "
                            f"\"{'failed' if v is None else f'{v:.2f}'}\"\n")
            fill = ("fill pattern 4 border rgb '#555555'" if tool == "ceiling"
                    else "fill solid 0.9 border rgb '#333333'")
            plots.append(f"'{data}' using 1:2 with boxes lc rgb '{colours[tool]}' {fill} "
                         f"title '{TOOL_LABEL[tool]}'")
            plots.append(f"'{data}' using 1:2:3 with labels center offset 0,0.8 font ',9' "
                         f"notitle")
        xtics = ", ".join(f'"{name}" {i}' for i, (name, _) in enumerate(groups))
        script = f"""
set terminal pngcairo size 1400,720 noenhanced font 'Sans,11'
set output '{png}'
set title "{title}"
set ylabel 'captured frames/s, millions (frames in the file / sending time)'
set yrange [0:{ymax * 1.18:.3f}]
set xrange [-0.6:{len(groups) - 0.4}]
set boxwidth {width * 0.92:.4f} absolute
set xtics ({xtics}) nomirror
set key top left
set grid ytics
plot {', '.join(plots)}
"""
        sp = Path(d) / "plot.gp"
        sp.write_text(script)
        r = subprocess.run([gnuplot, str(sp)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"gnuplot failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


# ------------------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Benchmark xesp against tcpdump, netsniff-ng and dumpcap on a veth testbed "
                    "it makes itself (BPF_PROG_RUN live frames, open loop). Needs root.",
        epilog="Full default run: sizes 60 and 1500, 5,000,000 / 2,000,000 frames, 3 reps, "
               "1- and 4-queue testbeds, memory check. See bench/README.md.")
    ap.add_argument("--sizes", default="60,1500",
                    help="frame sizes in bytes without FCS, comma separated (default 60,1500)")
    ap.add_argument("--frames", type=int, default=None,
                    help="frames per measurement for every size (default 5,000,000 for sizes "
                         "below 1000 B, 2,000,000 from 1000 B on; --quick: 500,000)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions, medians reported "
                    "(default 3; --quick: 1)")
    ap.add_argument("--queues", default="1,4",
                    help="testbeds by RX queue count, comma separated (default 1,4)")
    ap.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                    help=f"what to measure (default {','.join(DEFAULT_TOOLS)}; also "
                         f"{','.join(t for t in ALL_TOOLS if t not in DEFAULT_TOOLS)})")
    ap.add_argument("--xesp-cpus", default=None,
                    help="pin xesp's queue pollers to these CPUs (xesp --cpus, e.g. 8-15; "
                         "default: unpinned)")
    ap.add_argument("--gen-cpus", default=None,
                    help="CPUs the generators send from, comma separated (default: the first "
                         "CPU for 1 queue; one generator per CPU, up to the queue count, else)")
    mem = ap.add_mutually_exclusive_group()
    mem.add_argument("--memory", dest="memory", action="store_true", default=None,
                     help="run the memory check (default: yes, except with --quick)")
    mem.add_argument("--no-memory", dest="memory", action="store_false")
    ap.add_argument("--memory-frames", type=int, default=50_000_000,
                    help="frames of the memory check's one capture (default 50,000,000)")
    ap.add_argument("--quick", action="store_true",
                    help="short development run: 500,000 frames, 1 rep, no memory check")
    ap.add_argument("--build-dir", default=str(REPO / "build"),
                    help="where scripts/build.sh built xesp and xesp-gen (default build/)")
    ap.add_argument("--json-out", default=str(RESULTS / "latest.json"))
    ap.add_argument("--png-out", default=str(RESULTS / "latest.png"))
    ap.add_argument("--md-out", default=str(RESULTS / "latest.md"))
    ap.add_argument("--keep-files", action="store_true",
                    help="leave the capture files in /dev/shm/xbench-<pid>/ (last of each)")
    a = ap.parse_args()
    try:
        a.sizes = [int(x) for x in a.sizes.split(",") if x]
        a.queues = [int(x) for x in a.queues.split(",") if x]
        a.tools = [x.strip() for x in a.tools.split(",") if x.strip()]
        a.gen_cpus = [int(x) for x in a.gen_cpus.split(",")] if a.gen_cpus else None
    except ValueError as e:
        ap.error(str(e))
    if a.xesp_cpus is not None and not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", a.xesp_cpus):
        ap.error(f"--xesp-cpus {a.xesp_cpus}: a CPU list like 1-3,6")
    for s in a.sizes:
        if not 60 <= s <= 3500:
            ap.error(f"--sizes {s}: live frames are 60..3500 bytes")
    for q in a.queues:
        if not 1 <= q <= 64:
            ap.error(f"--queues {q}: 1..64")
    for t in a.tools:
        if t not in ALL_TOOLS:
            ap.error(f"--tools {t}: one of {', '.join(ALL_TOOLS)}")
    if a.reps is None:
        a.reps = 1 if a.quick else 3
    if a.reps < 1:
        ap.error("--reps: at least 1")
    if a.memory is None:
        a.memory = not a.quick
    if a.frames is not None and a.frames < 1:
        ap.error("--frames: at least 1")
    if a.memory_frames < 1_000_000:
        ap.error("--memory-frames: at least 1,000,000")
    return a


def frames_for(a: argparse.Namespace, size: int) -> int:
    if a.frames:
        return a.frames
    if a.quick:
        return 500_000
    return 5_000_000 if size < 1000 else 2_000_000


def tool_version(tool: str) -> str:
    cmd = {"tcpdump": ["tcpdump", "--version"], "netsniff-ng": ["netsniff-ng", "-v"],
           "dumpcap": ["dumpcap", "-v"]}[tool]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        text = (r.stdout + r.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def environment(a) -> dict:
    cpu_model = ""
    for line in read_text(Path("/proc/cpuinfo")).splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    try:  # read only: no index refresh, no lock
        rev = subprocess.run(["git", "--no-optional-locks", "-C", str(REPO), "rev-parse",
                              "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu_model,
            "python": platform.python_version(), "git_head": rev or None,
            "xesp": str(a.xesp), "xesp_gen": str(a.gen),
            "peer_buffer_mib": PEER_BUFFER_MIB,
            "load_before": read_text(Path("/proc/loadavg")).split()[:3]}


def main() -> int:
    a = parse_args()
    # ip, ethtool, sysctl, netsniff-ng live in /usr/sbin, which a root shell from plain `su`
    # lacks in its PATH.
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    t_start = time.monotonic()
    if os.geteuid() != 0:
        die("needs root (veth, network namespaces, XDP, AF_XDP): run it with sudo")
    build = Path(a.build_dir)
    a.xesp = build / "userspace" / "cli" / "xesp"
    a.gen = build / "bench" / "gen" / "xesp-gen"
    for b in (a.xesp, a.gen):
        if not os.access(b, os.X_OK):
            die(f"{b} not found: build xesp first (scripts/build.sh), or point --build-dir at "
                f"your build")
    r = subprocess.run([str(a.gen), "--help"], capture_output=True, text=True)
    if "--check-pass" not in r.stdout and any(t in PEERS for t in a.tools):
        die(f"{a.gen} has no --check-pass (the peers need it): rebuild it (scripts/build.sh)")
    for need in ("ip", "ethtool", "sysctl"):
        if not shutil.which(need):
            die(f"'{need}' not found: sudo scripts/install-deps.sh --bench")
    tools = []
    for t in a.tools:
        if t in PEERS and not shutil.which(PEER_BINARIES[t]):
            log(f"run_bench: {t} not found, skipping it (sudo scripts/install-deps.sh --bench)")
            continue
        tools.append(t)
    a.tools = tools

    # SIGTERM / SIGHUP unwind like Ctrl-C, through the finally blocks below.
    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:  # nohup: keep ignoring hang-ups
        signal.signal(signal.SIGHUP, on_signal)
    # Ctrl-C, also where the shell started us with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    remove_stale_testbeds()
    env = environment(a)
    env["tool_versions"] = {t: tool_version(t) for t in tools if t in PEERS}
    workdir = Path(f"/dev/shm/xbench-{os.getpid()}")
    testbed: Testbed | None = None
    results, gates, errors = [], [], []
    memory = None
    interrupted = False
    try:
        workdir.mkdir(mode=0o700)
        bench = Bench(a, workdir)
        log(f"run_bench: load {' '.join(env['load_before'])}, {env['cpus_usable']} CPUs, "
            f"kernel {env['kernel']}; sizes {a.sizes}, {a.reps} rep(s), testbeds "
            f"{a.queues} queue(s), tools {', '.join(tools)}")
        for q in a.queues:
            testbed = Testbed.new(q, max(a.sizes))
            testbed.setup()
            cpus = bench.gen_cpus(testbed)
            queues_hit = sorted({c % q for c in cpus})
            note = ""
            if q > 1 and len(queues_hit) < q:
                note = (f"only RX queue(s) {','.join(map(str, queues_hit))} of {q} get traffic "
                        f"({len(cpus)} generator CPU(s): {','.join(map(str, cpus))})")
            log(f"testbed: {q} queue(s), {testbed.cap_if} (root ns) <- {testbed.gen_if} "
                f"(netns {testbed.ns}), generators on CPU(s) {','.join(map(str, cpus))}"
                + (f"; {note}" if note else ""))
            entry = {"queues": q, "capture_if": testbed.cap_if, "generator_cpus": cpus,
                     "queues_with_traffic": queues_hit, "note": note, "tools": tools, "sizes": []}
            raw = {(s, t): [] for s in a.sizes for t in tools}
            for rep in range(a.reps):
                for size in a.sizes:
                    n = frames_for(a, size)
                    for tool in tools:
                        t0 = time.monotonic()
                        try:
                            if tool == "ceiling":
                                m = bench.measure_ceiling(testbed, size, n)
                            elif tool in XESP_TOOLS:
                                m = bench.measure_xesp(tool, testbed, size, n)
                            else:
                                m = bench.measure_peer(tool, testbed, size, n)
                        except BenchError as e:
                            m = {"error": str(e)}
                            errors.append(f"{q}q {size} B {tool} rep {rep + 1}: {e}")
                        m["rep"] = rep + 1
                        m["wall_s"] = time.monotonic() - t0
                        raw[(size, tool)].append(m)
                        progress(q, size, tool, rep, a.reps, m)
                        if tool in XESP_TOOLS and "gate" in m:
                            g = m["gate"]
                            gates.append({"queues": q, "size": size, "rep": rep + 1, "tool": tool,
                                          **g})
                            print_gate(tool, q, size, rep, g)
            for size in a.sizes:
                sz = {"size": size, "wire_size": size + 4, "frames": frames_for(a, size),
                      "tools": {}, "raw": {}}
                for tool in tools:
                    sz["tools"][tool] = summarise(raw[(size, tool)])
                    sz["raw"][tool] = raw[(size, tool)]
                ceil = sz["tools"].get("ceiling", {}).get("mfps")
                best = max((sz["tools"][t].get("mfps") or 0 for t in tools if t in PEERS),
                           default=0) or None
                for tool, s in sz["tools"].items():
                    if s.get("mfps") is None:
                        continue
                    s["x_ceiling"] = s["mfps"] / ceil if ceil and tool != "ceiling" else None
                    s["x_best_peer"] = s["mfps"] / best if best and tool != "ceiling" else None
                entry["sizes"].append(sz)
            seen_q = set()
            for ms in raw.values():
                for m in ms:
                    for i, v in enumerate(m.get("veth", {}).get("rx_queue_xdp_packets", [])):
                        if v > 0:
                            seen_q.add(i)
            entry["queues_with_traffic_measured"] = sorted(seen_q)
            if q > 1:
                entry["note"] = (entry["note"] or f"traffic on {q} queues") + (
                    f"; the receiving veth counted XDP frames on RX queue(s) "
                    f"{','.join(map(str, sorted(seen_q))) or 'none'}")
                log(f"  {q}-queue testbed: {entry['note']}")
            results.append(entry)
            if a.memory and q == a.queues[0] and "xesp" in tools:
                try:
                    memory = bench.memory_check(testbed)
                except BenchError as e:
                    errors.append(f"memory check: {e}")
                    memory = {"error": str(e)}
            testbed.teardown()
            testbed = None
        if a.memory and "xesp" in tools and memory is None and a.queues:
            memory = {"error": "not run"}
    except (KeyboardInterrupt, Interrupted) as e:
        interrupted = True
        log(f"\nrun_bench: interrupted ({str(e) or 'SIGINT'}): cleaning up")
    except BenchError as e:
        errors.append(str(e))
        log(f"run_bench: {e}")
    finally:
        PROCS.kill_all()
        if testbed is not None:
            testbed.teardown()
        if not a.keep_files:
            shutil.rmtree(workdir, ignore_errors=True)
    if interrupted:
        return 130

    elapsed = time.monotonic() - t_start
    env["load_after"] = read_text(Path("/proc/loadavg")).split()[:3]
    rows = table_rows(results)
    print()
    print(f"xesp benchmark: kernel {env['kernel']}, {env['cpus_usable']} CPUs, load "
          f"{' '.join(env['load_before'])} -> {' '.join(env['load_after'])}, medians of "
          f"{a.reps} rep(s), {elapsed / 60:.1f} min")
    for t in results:
        if t["note"]:
            print(f"  {t['queues']}-queue testbed: {t['note']}")
    print()
    print(text_table(rows))
    print()
    print("Mfps: frames in the file / the generator's sending time; ceiling: frames that reached "
          "an XDP_DROP program.")
    print("x ceiling: Mfps / the ceiling's (same testbed, size and run); x best peer: Mfps / the "
          "best of tcpdump, netsniff-ng, dumpcap.")
    print("CPU s/Mframe: the tool's own CPU time (user+system) per million frames in its file.")
    n_fail = sum(1 for g in gates if not g["ok"])
    if gates:
        print(f"xesp drop-accounting gate: {len(gates) - n_fail} of {len(gates)} runs GATE OK"
              + (f", {n_fail} GATE FAILED" if n_fail else ""))
        lost = [g["lost_before_xdp"] for g in gates if g["lost_before_xdp"]]
        if lost:
            print(f"  frames lost before XDP (not xesp's): {sum(lost):,} over {len(lost)} run(s), "
                  "see JSON gates[].sender_not_handed_over")
    if memory:
        if "error" in memory:
            print(f"memory check: FAILED to run: {memory['error']}")
        else:
            f1, f2 = memory["after_first"], memory["after_last"]
            print(f"memory check ({memory['frames_sent']:,} frames of 60 B into one xesp, file "
                  f"{memory['file']}): VmRSS {f1['vm_rss_kib']:,} KiB after "
                  f"{f1['frames_sent']:,}, {f2['vm_rss_kib']:,} KiB after {f2['frames_sent']:,} "
                  f"({memory['rss_growth'] * 100:+.2f}%, "
                  f"{'< 5%: OK' if memory['within_5_percent'] else '>= 5%: GROWS'}); VmHWM "
                  f"{f1['vm_hwm_kib']:,} -> {f2['vm_hwm_kib']:,} KiB")
    for e in errors:
        print(f"error: {e}")

    doc = {"version": 1, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "elapsed_s": elapsed,
           "command": " ".join([sys.executable] + sys.argv),
           "options": {"sizes": a.sizes, "reps": a.reps, "queues": a.queues, "tools": a.tools,
                       "quick": a.quick, "memory": a.memory,
                       "frames": {s: frames_for(a, s) for s in a.sizes}},
           "environment": env, "columns": COLUMNS, "table": rows, "testbeds": results,
           "gates": gates, "memory": memory, "errors": errors}
    title = (f"xesp vs. peers on veth, kernel {env['kernel']}, {env['cpus_usable']} CPUs "
             f"(medians of {a.reps}; {time.strftime('%Y-%m-%d')})")
    for path_s, writer in ((a.json_out, lambda p: p.write_text(json.dumps(doc, indent=1) + "\n")),
                           (a.md_out, lambda p: p.write_text(markdown_md(doc, rows)))):
        p = Path(path_s)
        p.parent.mkdir(parents=True, exist_ok=True)
        writer(p)
        print(f"wrote {p}")
    p = Path(a.png_out)
    p.parent.mkdir(parents=True, exist_ok=True)
    msg = write_png(results, p, title)
    print(msg if msg else f"wrote {p}")
    return 1 if (n_fail or errors) else 0


def markdown_md(doc: dict, rows: list[list[str]]) -> str:
    env = doc["environment"]
    lines = [f"Benchmark of {doc['date']}: kernel {env['kernel']}, {env['cpus_usable']} CPUs "
             f"({env['cpu_model']}), load {' '.join(env['load_before'])}, medians of "
             f"{doc['options']['reps']} rep(s), `{' '.join(sys.argv[1:]) or '(defaults)'}`.", ""]
    lines.append(markdown_table(rows))
    lines.append("")
    for t in doc["testbeds"]:
        if t["note"]:
            lines.append(f"{t['queues']}-queue testbed: {t['note']}.")
    g = doc["gates"]
    if g:
        lines.append(f"xesp drop-accounting gate: {sum(x['ok'] for x in g)} of {len(g)} OK.")
    m = doc["memory"]
    if m and "error" not in m:
        lines.append(f"Memory: xesp VmRSS {m['after_first']['vm_rss_kib']:,} KiB after "
                     f"{m['after_first']['frames_sent']:,} frames, "
                     f"{m['after_last']['vm_rss_kib']:,} KiB after {m['after_last']['frames_sent']:,} "
                     f"({m['rss_growth'] * 100:+.2f}%).")
    return "\n".join(lines) + "\n"


def progress(q, size, tool, rep, reps, m) -> None:
    if "error" in m:
        log(f"  [{q}q {size:>4} B rep {rep + 1}/{reps}] {tool:<12} ERROR: {m['error']}")
        return
    mf = m["in_file"] / m["seconds"] / 1e6 if m["seconds"] else 0
    cpu = f", CPU {m['cpu_s']:.2f} s" if m.get("cpu_s") is not None else ""
    log(f"  [{q}q {size:>4} B rep {rep + 1}/{reps}] {tool:<12} offered {m['offered']:>10,} "
        f"in file {m['in_file']:>10,} ({mf:.3f} Mfps, sent in {m['seconds']:.2f} s{cpu})")


def print_gate(tool, q, size, rep, g) -> None:
    c = g["drops_by_cause"]
    detail = (f"seen {g['offered_at_xdp']:,} = in file {g['in_file']:,} + drops {g['drops_total']:,}"
              f" (ring full {c.get('rx_ring_full', 0):,}, fill empty {c.get('fill_ring_empty', 0):,}"
              f", other {c.get('other', 0):,}); lost before XDP (not xesp's): {g['lost_before_xdp']:,} "
              f"(sender's xdp_xmit short by {g['sender_not_handed_over']:,}); receiving veth's "
              f"rx_dropped +{g['receiver_rx_dropped']:,} (failed redirects included)")
    if g["ok"]:
        log(f"    GATE OK      {tool} {q}q {size} B rep {rep + 1}: {detail}")
    else:
        log(f"    GATE FAILED  {tool} {q}q {size} B rep {rep + 1}: {'; '.join(g['problems'])}; "
            f"{detail}")


if __name__ == "__main__":
    sys.exit(main())
