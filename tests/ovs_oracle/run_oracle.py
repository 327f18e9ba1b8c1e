#!/usr/bin/env python3
"""Runs real OVS conntrack (tests/ovs_oracle/build.sh) over every capture of
tests/data/tcp/ and writes, beside each NAME.pcap:

  NAME.ovs-raw     stdout of ``ovstest test-conntrack pcap NAME.pcap 1``
  NAME.ovs-states  the same, normalised to ovsct's ``states`` output
                   (``<index>: <flags>``, flags in the order
                   new,est,rel,rpl,inv,trk,snat,dnat joined by ``|``)
  NAME.ovs-conns   the connections left after the capture, as
                   ``ovs-appctl dpctl/dump-conntrack`` prints them, sorted
                   (``ovstest ovsct-pcap-dump``, see ovs-ct-dump.c)

It refuses to write anything if ovsct-pcap-dump's per-packet states differ
from test-conntrack's, or if a batch of 32 gives other states than a batch
of 1.  Usage: ``python3 tests/ovs_oracle/run_oracle.py [OVSTEST]``.
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "tcp")
BATCH = 1
# ct_state bits (OVS's CS_STATES order) and their names.
ORDER = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"]


def normalise(raw):
    """OVS "N: a|b" lines -> ovsct "N: a|b" lines, canonical flag order."""
    out = []
    for n, line in enumerate(raw.splitlines(), 1):
        idx, _, flags = line.partition(": ")
        if int(idx) != n:
            raise ValueError("line %d: index %s" % (n, idx))
        names = [] if flags == "0" else flags.split("|")
        bad = set(names) - set(ORDER)
        if bad:
            raise ValueError("line %d: unknown flags %s" % (n, sorted(bad)))
        canon = [f for f in ORDER if f in names]
        out.append("%d: %s\n" % (n, "|".join(canon) or "0"))
    return "".join(out)


def run(ovstest, *args):
    return subprocess.run([ovstest] + list(args), check=True,
                          capture_output=True, text=True).stdout


def main(argv):
    ovstest = argv[1] if len(argv) > 1 else subprocess.run(
        [os.path.join(HERE, "build.sh")], check=True, capture_output=True,
        text=True).stdout.strip()
    pcaps = sorted(glob.glob(os.path.join(DATA, "*.pcap")))
    if not pcaps:
        sys.exit("no captures in %s: run tests/gen_tcp_pcaps.py" % DATA)
    results = {}
    for pcap in pcaps:
        raw = run(ovstest, "test-conntrack", "pcap", pcap, str(BATCH))
        dump = run(ovstest, "ovsct-pcap-dump", pcap, str(BATCH))
        states, _, conns = dump.partition("--- conntrack\n")
        if states != raw:
            sys.exit("%s: ovsct-pcap-dump disagrees with test-conntrack"
                     % pcap)
        if run(ovstest, "test-conntrack", "pcap", pcap, "32") != raw:
            sys.exit("%s: batch 32 differs from batch 1" % pcap)
        results[pcap] = (raw, normalise(raw), conns)
    for pcap, (raw, states, conns) in results.items():
        base = pcap[:-len(".pcap")]
        for ext, text in ((".ovs-raw", raw), (".ovs-states", states),
                          (".ovs-conns", conns)):
            with open(base + ext, "w") as f:
                f.write(text)
        print("%-28s %3d packets, %d connections"
              % (os.path.basename(pcap), states.count("\n"),
                 conns.count("\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
