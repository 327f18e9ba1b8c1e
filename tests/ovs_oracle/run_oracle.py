#!/usr/bin/env python3
"""Runs real OVS conntrack over the captures of one capture set (tcp,
other, alg or frag, tests/lib/oraclelib.py) and writes their golden files into
the set's folder (NAME.ovs-raw, NAME.ovs-states, NAME.ovs-conns, and for a
set with per-batch goldens the same for batches of 32 with "-b32"
appended; see the README there).

    python3 tests/ovs_oracle/run_oracle.py SET [OVSTEST]

OVSTEST defaults to the binary tests/ovs_oracle/build.sh builds.  For every
capture it runs ``ovstest ovsct-pcap OPTIONS FILE 1`` (ovs-ct-oracle.c, the
set's options); OVS reads only pcap, so a pcapng capture is converted in a
temporary file first (and each twin capture must hold the same frames).

It refuses to write anything if a batch of 32 gives other states or
connections than a batch of 1 (unless the set keeps goldens per batch:
fragment reassembly makes the batch boundaries matter), or if OVS's
unmodified harness (``ovstest test-conntrack pcap FILE 1``) disagrees on
a packet for any reason other than the two ovs-ct-oracle.c documents: it
crashes on captures holding IP fragments (so it is not run on the
--by-index set), and with its vlan-limit of 2 it may differ from the first
frame with two VLAN tags on.  (test-conntrack is only run with batches of
1: with more it mislabels packets after an IPv4/IPv6 switch.)
"""

import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "lib"))

from oraclelib import DATA, SETS, normalise  # noqa: E402
from pcaplib import capture_frames, pcap_bytes  # noqa: E402

BATCH = 1


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


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def oracle(ovstest, cset, name, path, batch):
    """(per-packet lines, dump lines) of 'path' through OVS."""
    p = run([ovstest, "ovsct-pcap", *cset.args(name), path, str(batch)])
    if p.returncode:
        sys.exit("%s: ovsct-pcap failed: %s" % (path, p.stderr))
    states, sep, conns = p.stdout.partition("--- conntrack\n")
    if not sep:
        sys.exit("%s: no dump" % path)
    return states, conns


def check_test_conntrack(ovstest, name, path, raw, frames, notes):
    """OVS's own test-conntrack agrees with 'raw' but for the documented
    differences."""
    facts = [frame_facts(f) for _, _, f in frames]
    tc = run([ovstest, "test-conntrack", "pcap", path, "1"])
    if tc.returncode:
        if not any(frag for _, frag in facts):
            sys.exit("%s: test-conntrack failed (%d) without fragments"
                     % (name, tc.returncode))
        notes.append("%s: test-conntrack crashes (fragments)" % name)
        return
    diff = [i for i, (a, b) in enumerate(
        zip(raw.splitlines(), tc.stdout.splitlines()), 1) if a != b]
    # Differences may start at the first double-tagged frame (and follow
    # from it: it makes a connection there).
    qinq = [i for i, (tags, _) in enumerate(facts, 1) if tags >= 2]
    if tc.stdout.count("\n") != len(frames) or (
            diff and (not qinq or diff[0] < qinq[0])):
        sys.exit("%s: test-conntrack disagrees at %s" % (name, diff))
    if diff:
        notes.append("%s: test-conntrack (vlan-limit 2) differs at %s"
                     % (name, diff))


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in SETS:
        sys.exit("usage: run_oracle.py {%s} [OVSTEST]" % ",".join(SETS))
    cset = SETS[argv[1]]
    ovstest = argv[2] if len(argv) > 2 else run(
        [os.path.join(HERE, "build.sh")]).stdout.strip()
    if not cset.own():
        sys.exit("no captures in %s: run %s" % (cset.gold, cset.generator))
    for twin, gold in cset.twins:
        if [f for *_, f in capture_frames(DATA / twin)] != \
                [f for *_, f in capture_frames(cset.capture(gold))]:
            sys.exit("%s holds other frames than %s" % (twin, gold))
    results, notes = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name, capture in cset.captures():
            frames = capture_frames(capture)
            path = str(capture)
            if path.endswith(".pcapng"):
                path = os.path.join(tmp, name + ".pcap")
                with open(path, "wb") as f:
                    f.write(pcap_bytes([f for *_, f in frames],
                                       [(s, u) for s, u, _ in frames]))
            raw, conns = oracle(ovstest, cset, name, path, BATCH)
            raw32, conns32 = oracle(ovstest, cset, name, path, 32)
            if not cset.per_batch and (raw32, conns32) != (raw, conns):
                sys.exit("%s: batch 32 differs from batch 1" % name)
            for text in (raw, raw32):
                if text.count("\n") != len(frames):
                    sys.exit("%s: %d lines for %d frames"
                             % (name, text.count("\n"), len(frames)))
            args = cset.args(name)
            if "--by-index" in args:
                pass        # test-conntrack crashes on fragments.
            elif any(a.startswith("--helper") for a in args):
                # test-conntrack passes no helper: nothing to compare.
                notes.append("%s: run with a helper, test-conntrack not "
                             "compared" % name)
            else:
                check_test_conntrack(ovstest, name, path, raw, frames,
                                     notes)
            results[name] = {1: (raw, conns), 32: (raw32, conns32)}
    for name, runs in results.items():
        for batch in cset.batches():
            raw, conns = runs[batch]
            for kind, text in (("raw", raw), ("states", normalise(raw)),
                               ("conns", conns)):
                with open(cset.golden(name, kind, batch), "w") as f:
                    f.write(text)
            print("%-28s batch %2d: %3d packets, %2d connections"
                  % (name, batch, raw.count("\n"), conns.count("\n")))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
