"""The OVS-oracle capture sets, shared by the oracle driver
(tests/ovs_oracle/run_oracle.py, which writes the goldens from real OVS) and
the test that holds ovsct to them (tests/test_ovs_oracle.py).

A capture set is a folder of tests/data holding its own captures (written
by a generator of tests/gen, described packet by packet in captures.txt),
maybe captures of tests/data it also covers, and for every capture NAME
(a set with per-batch goldens also has NAME.ovs-raw-b32, -states-b32 and
-conns-b32 for batches of 32):

  NAME.ovs-raw     the per-packet lines of the oracle, unchanged
                   ("<n>: <flags>", OVS's format_flags() order)
  NAME.ovs-states  the same, normalised to `ovsct -r FILE states`
                   ("<index>: <flags>", flags in the order
                   new,est,rel,rpl,inv,trk,snat,dnat joined by "|")
  NAME.ovs-conns   the connections left after the capture, as OVS's
                   dpctl/dump-conntrack prints them (not verbose, no
                   stats), sorted bytewise

The oracle is "ovstest ovsct-pcap OPTIONS FILE 1" (ovs-ct-oracle.c), with
the set's options; the README of each folder says what its captures hold.
A set's folder may hold actions.txt ("NAME ACTION" lines, written by its
generator): the ct() action capture NAME runs with instead of ct(commit);
an alg=NAME in it becomes the oracle's --helper=NAME.
"""

import re
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
GEN = TESTS / "gen"
# ct_state bits in the order ovsct prints them (OVS's CS_* bit order).
ORDER = ["new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"]


@dataclass(frozen=True)
class CaptureSet:
    name: str
    gold: Path              # goldens, own captures, captures.txt, README
    generator: Path         # writes the own captures and captures.txt
    oracle_args: tuple      # options of "ovstest ovsct-pcap"
    min_own: int            # at least this many own captures
    data_captures: tuple = ()   # files of tests/data the set also covers
    # (file of tests/data, golden name): a capture holding the same frames
    # as another one, tested against its goldens.
    twins: tuple = ()
    # Whether the engine reassembles fragments, as the oracle options say
    # (--no-ipf: no).
    ipf: bool = True
    # Goldens per batch size: NAME.ovs-* hold batch 1, NAME.ovs-*-b32
    # batch 32 (with reassembly, states depend on the batch boundaries).
    per_batch: bool = False

    def golden(self, gold: str, kind: str, batch: int = 1) -> Path:
        """The golden file of 'kind' (raw, states, conns) for 'batch'."""
        suffix = "-b32" if self.per_batch and batch != 1 else ""
        return self.gold / ("%s.ovs-%s%s" % (gold, kind, suffix))

    def batches(self) -> tuple:
        """The batch sizes with goldens of their own."""
        return (1, 32) if self.per_batch else (1,)

    def action(self, gold: str) -> str:
        """The ct() action golden 'gold' was recorded with."""
        path = self.gold / "actions.txt"
        if path.exists():
            for line in path.read_text().splitlines():
                name, _, action = line.partition(" ")
                if name == gold:
                    return action.strip()
        return "ct(commit)"

    def args(self, gold: str) -> tuple:
        """The oracle's options for golden 'gold'."""
        action = self.action(gold)
        helper = re.search(r"alg=(\w+)", action)
        return self.oracle_args + ((f"--helper={helper.group(1)}",)
                                   if helper else ())

    def own(self) -> list:
        """Stems of the set's own captures."""
        return sorted(p.stem for p in self.gold.glob("*.pcap"))

    def goldens(self) -> list:
        """Names with golden files."""
        return sorted(p.stem for p in self.gold.glob("*.ovs-states"))

    def capture(self, gold: str) -> Path:
        """The capture golden name 'gold' stands for."""
        for path in (self.gold / (gold + ".pcap"),
                     *(DATA / f for f in self.data_captures
                       if f.rsplit(".", 1)[0] == gold)):
            if path.exists():
                return path
        raise FileNotFoundError("%s: no capture for %s" % (self.name, gold))

    def cases(self) -> list:
        """[(test id, capture, golden name)]."""
        out = [(g, self.capture(g), g) for g in self.goldens()]
        for f, g in self.twins:
            out.append((f.rsplit(".", 1)[0], DATA / f, g))
        return out

    def captures(self) -> list:
        """[(golden name, capture)] the oracle runs: the data captures,
        then the own ones."""
        return ([(f.rsplit(".", 1)[0], DATA / f) for f in self.data_captures]
                + [(n, self.gold / (n + ".pcap")) for n in self.own()])


SETS = {
    # TCP tracker captures: OVS's library defaults, as test-conntrack.
    "tcp": CaptureSet("tcp", DATA / "tcp", GEN / "tcp_pcaps.py", (), 15),
    # UDP, ICMP, other protocols, fragments, VLANs, IPv6 extension headers
    # and the captures of tests/gen/pcaps.py: reassembly off and
    # vlan-limit 1, as ovs-vswitchd by default (ovs-ct-oracle.c).
    "other": CaptureSet(
        "other", DATA / "other", GEN / "other_pcaps.py",
        ("--vlan-limit=1", "--no-ipf"), 8, ipf=False,
        data_captures=("udp.pcap", "icmp.pcap", "other.pcap", "bad.pcap",
                       "sample.pcap", "tcp.pcap", "mixed.pcapng"),
        twins=(("mixed-be.pcapng", "mixed"),)),
    # FTP and TFTP with ct(commit,alg=...) (tests/gen/alg_pcaps.py): the
    # oracle gets the helper (--helper=, from actions.txt).
    "alg": CaptureSet("alg", DATA / "alg", GEN / "alg_pcaps.py",
                      ("--vlan-limit=1", "--no-ipf"), 8, ipf=False),
    # IP fragments through OVS's reassembly as configured by default
    # (lib/ipf.c), each packet's final state by capture index
    # (--by-index); goldens for batches of 1 and of 32.
    "frag": CaptureSet("frag", DATA / "frag", GEN / "frag_pcaps.py",
                       ("--vlan-limit=1", "--by-index"), 4, per_batch=True),
}


def normalise(raw: str) -> str:
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
        out.append("%d: %s\n" % (n, "|".join(f for f in ORDER if f in names)
                                 or "0"))
    return "".join(out)


def golden_states(path: Path) -> list:
    """The flags column of an .ovs-states file ("<n>: <flags>" lines)."""
    return [line.split(": ", 1)[1]
            for line in path.read_text().splitlines()]


def run_capture(path: Path, batch: int, action: str = "ct(commit)",
                ipf: bool = True):
    """(per-packet flag names, dump text) of 'path' through ovsct, the way
    the oracle ran it through OVS ('action', zone 0, manual clock; fragment
    reassembly on unless 'ipf' is false)."""
    from ovsct.action import parse_ct_action
    from ovsct.engine import Conntrack
    from ovsct.format import ct_state_name

    with Conntrack(manual_clock=True, sweeper=False) as ct:
        for v6 in (False, True):
            ct.ipf_set_enabled(v6, ipf)
        states = ct.execute_pcap(str(path), parse_ct_action(action),
                                 batch=batch)
        return [ct_state_name(s) for s in states], ct.dump_text()
