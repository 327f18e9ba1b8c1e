#!/usr/bin/env python3
"""Runs real OVS conntrack over the non-TCP captures and writes their
golden files into tests/data/oracle/ (see the README there):

  NAME.ovs-raw     per-packet lines of ``ovstest ovsct-pcap-other FILE 1 1``
                   (ovs-ct-other.c: OVS's test-conntrack pcap loop with
                   fragment reassembly off and vlan-limit 1)
  NAME.ovs-states  the same, normalised to ovsct's ``states`` output
  NAME.ovs-conns   the connections left, as dpctl/dump-conntrack prints
                   them, sorted

The captures: every tests/data/oracle/NAME.pcap (tests/gen_oracle_pcaps.py)
and tests/data/{udp,icmp,other,bad,sample,tcp}.pcap and mixed.pcapng
(tests/gen_pcaps.py).  OVS reads only pcap, so mixed.pcapng is converted
first (mixed-be.pcapng must convert to the same bytes).

It refuses to write anything if a batch of 32 gives other states or
connections than a batch of 1, or if OVS's unmodified harness (``ovstest
test-conntrack pcap FILE 1``, the TCP oracle's) disagrees on a packet for
any reason other than two documented in ovs-ct-other.c: it crashes on
captures holding IP fragments, and with its vlan-limit of 2 it may differ
from the first frame with two VLAN tags on.  (test-conntrack is only run
with batches of 1: with more it mislabels packets after an IPv4/IPv6
switch, see ovs-ct-other.c.)

Usage: ``python3 tests/ovs_oracle/run_oracle_other.py [OVSTEST]`` (default:
the binary tests/ovs_oracle/build_other.sh builds).
"""

import glob
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
DATA = os.path.join(TESTS, "data")
OUT = os.path.join(DATA, "oracle")
BATCH = 1
VLAN_LIMIT = 1     # ovs-vswitchd default other_config:vlan-limit
ORDER = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"]
# Captures of tests/data/ (gen_pcaps.py) run through the oracle.
DATA_CAPTURES = ["udp.pcap", "icmp.pcap", "other.pcap", "bad.pcap",
                 "sample.pcap", "tcp.pcap", "mixed.pcapng"]


def normalise(raw):
    """OVS "N: a|b" lines -> ovsct "N: a|b" lines, canonical flag order
    (the same as tests/ovs_oracle/run_oracle.py's)."""
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        idx, _, flags = line.partition(": ")
        if int(idx) != n:
            raise ValueError("line %d: index %s" % (n, idx))
        names = [] if flags == "0" else flags.split("|")
        bad = set(names) - set(ORDER)
        if bad:
            raise ValueError("line %d: unknown flags %s" % (n, sorted(bad)))
        out.append("%d: %s\n" % (n, "|".join(f for f in ORDER if f in names)
                                 or "0"))
    return "".join(out)


# pcap and pcapng.

def pcapng_frames(data):
    """[(seconds, microseconds, frame)] of the packet blocks of a pcapng
    file (EPB and SPB; every section, either byte order; microsecond
    timestamps, the default resolution).  Other blocks are skipped."""
    frames, off, order, snap = [], 0, "<", {}
    ts = (0, 0)
    while off < len(data):
        btype = struct.unpack(order + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:             # The same in both orders.
            order = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" \
                else ">"
            snap = {}
        blen = struct.unpack(order + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            snap[len(snap)] = struct.unpack(order + "I", body[4:8])[0]
        elif btype == 6:
            _, hi, lo, cap, _ = struct.unpack(order + "IIIII", body[:20])
            t = (hi << 32) | lo
            ts = (t // 1000000, t % 1000000)
            frames.append((ts[0], ts[1], body[20:20 + cap]))
        elif btype == 3:
            orig = struct.unpack(order + "I", body[:4])[0]
            cap = min(orig, snap.get(0, orig) or orig)
            frames.append((ts[0], ts[1], body[4:4 + cap]))
        off += blen
    return frames


def pcap_frames(data):
    if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        raise ValueError("only little-endian microsecond pcap is read here")
    frames, off = [], 24
    while off < len(data):
        sec, usec, cap, _ = struct.unpack("<IIII", data[off:off + 16])
        frames.append((sec, usec, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return frames


def pcap_bytes(frames):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for sec, usec, f in frames:
        out.append(struct.pack("<IIII", sec, usec, len(f), len(f)) + f)
    return b"".join(out)


def frame_facts(frame):
    """(number of VLAN tags, whether the frame is an IP fragment)."""
    off, tags = 12, 0
    while frame[off:off + 2] in (b"\x81\x00", b"\x88\xa8"):
        off, tags = off + 4, tags + 1
    et, l3 = frame[off:off + 2], frame[off + 2:]
    if et == b"\x08\x00" and len(l3) >= 20:
        return tags, bool(struct.unpack("!H", l3[6:8])[0] & 0x3FFF)
    if et == b"\x86\xdd" and len(l3) >= 40:
        nxt, p = l3[6], 40
        while nxt in (0, 43, 60, 44, 51) and p + 8 <= len(l3):
            if nxt == 44:
                return tags, True
            hlen = (l3[p + 1] + 2) * 4 if nxt == 51 else (l3[p + 1] + 1) * 8
            nxt, p = l3[p], p + hlen
    return tags, False


# The oracle.

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def oracle(ovstest, path, batch):
    p = run([ovstest, "ovsct-pcap-other", path, str(batch), str(VLAN_LIMIT)])
    if p.returncode:
        sys.exit("%s: ovsct-pcap-other failed: %s" % (path, p.stderr))
    states, sep, conns = p.stdout.partition("--- conntrack\n")
    if not sep:
        sys.exit("%s: no dump" % path)
    return states, conns


def captures():
    """[(golden name, pcap path OVS reads, frames)]."""
    out = []
    for name in DATA_CAPTURES:
        path = os.path.join(DATA, name)
        with open(path, "rb") as f:
            data = f.read()
        if name.endswith(".pcapng"):
            frames = pcapng_frames(data)
            with open(os.path.join(DATA, "mixed-be.pcapng"), "rb") as f:
                if [x[2] for x in pcapng_frames(f.read())] != \
                        [x[2] for x in frames]:
                    sys.exit("mixed-be.pcapng holds other frames")
            path = None
        else:
            frames = pcap_frames(data)
        out.append((name.rsplit(".", 1)[0], path, frames))
    for path in sorted(glob.glob(os.path.join(OUT, "*.pcap"))):
        with open(path, "rb") as f:
            frames = pcap_frames(f.read())
        out.append((os.path.basename(path)[:-5], path, frames))
    return out


def main(argv):
    ovstest = argv[1] if len(argv) > 1 else run(
        [os.path.join(HERE, "build_other.sh")]).stdout.strip()
    caps = captures()
    if not any(p and p.startswith(OUT) for _, p, _ in caps):
        sys.exit("no captures in %s: run tests/gen_oracle_pcaps.py" % OUT)
    results, notes = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, frames in caps:
            if path is None:
                path = os.path.join(tmp, name + ".pcap")
                with open(path, "wb") as f:
                    f.write(pcap_bytes(frames))
            raw, conns = oracle(ovstest, path, BATCH)
            if oracle(ovstest, path, 32) != (raw, conns):
                sys.exit("%s: batch 32 differs from batch 1" % name)
            if raw.count("\n") != len(frames):
                sys.exit("%s: %d lines for %d frames"
                         % (name, raw.count("\n"), len(frames)))
            facts = [frame_facts(f) for _, _, f in frames]
            tc = run([ovstest, "test-conntrack", "pcap", path, "1"])
            if tc.returncode:
                if not any(frag for _, frag in facts):
                    sys.exit("%s: test-conntrack failed (%d) without "
                             "fragments" % (name, tc.returncode))
                notes.append("%s: test-conntrack crashes (fragments)" % name)
            else:
                diff = [i for i, (a, b) in enumerate(
                    zip(raw.splitlines(), tc.stdout.splitlines()), 1)
                    if a != b]
                # Differences may start at the first double-tagged frame
                # (and follow from it: it makes a connection there).
                qinq = [i for i, (tags, _) in enumerate(facts, 1)
                        if tags >= 2]
                if tc.stdout.count("\n") != len(frames) or (
                        diff and (not qinq or diff[0] < qinq[0])):
                    sys.exit("%s: test-conntrack disagrees at %s"
                             % (name, diff))
                if diff:
                    notes.append("%s: test-conntrack (vlan-limit 2) differs "
                                 "at %s" % (name, diff))
            results[name] = (raw, normalise(raw), conns)
    for name, (raw, states, conns) in results.items():
        base = os.path.join(OUT, name)
        for ext, text in ((".ovs-raw", raw), (".ovs-states", states),
                          (".ovs-conns", conns)):
            with open(base + ext, "w") as f:
                f.write(text)
        print("%-16s %3d packets, %2d connections"
              % (name, states.count("\n"), conns.count("\n")))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
