"""UDP, ICMP, other protocols, fragments, VLANs and IPv6 extension headers
against real OVS: every capture with golden files in tests/data/oracle/
goes through the engine with ct(commit) in zone 0, at batches of 1 and 32;
each packet's ct_state must be what OVS 3.1's conntrack gave it
(NAME.ovs-states) and the connections left must print as OVS's
dpctl/dump-conntrack printed them (NAME.ovs-conns).  The goldens come from
tests/ovs_oracle/run_oracle_other.py; see tests/data/oracle/README.

Captures: tests/data/oracle/NAME.pcap (tests/gen_oracle_pcaps.py) and
tests/data/NAME.pcap / NAME.pcapng (tests/gen_pcaps.py); mixed-be.pcapng
holds the frames of mixed.pcapng and shares its goldens.

KNOWN lists the differences from OVS found so far, with their cause: a
capture whose only differences are known ones is reported as xfail; any
other difference fails."""

import filecmp
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oraclelib import golden_states, run_capture

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLD = DATA / "other"
ORACLE = HERE / "ovs_oracle"
BATCHES = (1, 32)
OVSTEST = Path(os.environ.get(
    "OVSCT_ORACLE_OTHER", Path.home() / ".cache/ovsct-oracle/ovstest-other"))

# (golden name, packet index) -> why ovsct differs from OVS.  Empty: the
# cross-family ICMP difference found first is fixed (packet.c records the
# type, valid_new() picks the ICMP rules by protocol number).
KNOWN: dict = {}
# (golden name, dump line) OVS has and ovsct lacks, or the reverse.
KNOWN_CONNS: dict = {}

needs_engine = pytest.mark.skipif(
    importlib.util.find_spec("ovsct._engine") is None,
    reason="engine not built")


def _capture(gold):
    """The capture a golden name stands for."""
    for path in (GOLD / (gold + ".pcap"), DATA / (gold + ".pcap"),
                 DATA / (gold + ".pcapng")):
        if path.exists():
            return path
    raise FileNotFoundError(gold)


GOLDENS = sorted(p.stem for p in GOLD.glob("*.ovs-states"))
# (test id, capture, golden name)
CASES = [(g, _capture(g), g) for g in GOLDENS]
if "mixed" in GOLDENS:
    CASES.append(("mixed-be", DATA / "mixed-be.pcapng", "mixed"))
OWN = sorted(p.stem for p in GOLD.glob("*.pcap"))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _descriptions():
    """{(golden name, index): text} from captures.txt and the table in
    tests/gen_pcaps.py's docstring."""
    desc = {}
    with open(GOLD / "captures.txt") as f:
        for line in f:
            name, idx, text = line.rstrip("\n").split(" ", 2)
            desc[name, int(idx)] = text
    doc = _load("pcaps", HERE / "gen" / "pcaps.py").__doc__
    current = None
    for line in doc.split("\n"):
        m = re.match(r"^  (\S+)\.pcap(?:ng)?( \(.*\))?$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^ +(\d+)  [vri]  (.*)$", line)
        if m and current:
            desc[current, int(m.group(1))] = m.group(2)
    return desc


def _golden_states(gold):
    return golden_states(GOLD / (gold + ".ovs-states"))


def _run(capture, batch):
    return run_capture(capture, batch)


def _judge(what, unknown, known):
    assert not unknown, "%s:\n%s" % (what, "\n".join(unknown))
    if known:
        pytest.xfail("known differences from OVS:\n" + "\n".join(known))


def test_captures_present():
    assert {"udp", "icmp", "other", "bad", "sample", "mixed"} <= set(GOLDENS)
    assert len(OWN) >= 8, OWN
    assert set(OWN) <= set(GOLDENS), "run tests/ovs_oracle/run_oracle_other.py"


@needs_engine
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("tid,capture,gold", CASES, ids=[c[0] for c in CASES])
def test_states_match_ovs(tid, capture, gold, batch):
    want = _golden_states(gold)
    got, _ = _run(capture, batch)
    assert len(got) == len(want), "packet count"
    desc = _descriptions()
    unknown, known = [], []
    for i, (w, g) in enumerate(zip(want, got), 1):
        if w != g:
            line = "  packet %d: OVS %s, ovsct %s  (%s)" % (
                i, w, g, desc.get((gold, i), "?"))
            if (gold, i) in KNOWN:
                known.append(line + ": " + KNOWN[gold, i])
            else:
                unknown.append(line)
    _judge("%s (batch %d)" % (tid, batch), unknown, known)


@needs_engine
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("tid,capture,gold", CASES, ids=[c[0] for c in CASES])
def test_connections_match_ovs(tid, capture, gold, batch):
    want = sorted((GOLD / (gold + ".ovs-conns")).read_text().splitlines())
    _, dump = _run(capture, batch)
    got = sorted(dump.splitlines())
    if got == want:
        return
    unknown, known = [], []
    for sign, lines in (("OVS only:   ", set(want) - set(got)),
                        ("ovsct only: ", set(got) - set(want))):
        for line in sorted(lines):
            if (gold, line) in KNOWN_CONNS:
                known.append(sign + line)
            else:
                unknown.append(sign + line)
    _judge("%s (batch %d)" % (tid, batch), unknown, known)


@needs_engine
def test_cli_states_match_ovs():
    """`ovsct -r FILE states` prints the golden file byte for byte."""
    gold = "icmp_errors_v4"
    try:
        import ovsct.cli  # noqa: F401
    except ImportError as e:
        pytest.skip("ovsct.cli not importable: %s" % e)
    p = subprocess.run([sys.executable, "-m", "ovsct.cli", "-r",
                        str(_capture(gold)), "states"],
                       capture_output=True, text=True, cwd=HERE.parent)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (GOLD / (gold + ".ovs-states")).read_text()


def test_golden_states_are_normalised_raw():
    conv = _load("run_oracle_other", ORACLE / "run_oracle_other.py")
    for gold in GOLDENS:
        raw = (GOLD / (gold + ".ovs-raw")).read_text()
        assert conv.normalise(raw) == \
            (GOLD / (gold + ".ovs-states")).read_text(), gold


def test_golden_conns_are_sorted():
    for gold in GOLDENS:
        text = (GOLD / (gold + ".ovs-conns")).read_text()
        lines = text.splitlines()
        assert lines == sorted(lines) and (not text or text.endswith("\n"))


def test_pcapng_conversion_matches_pcap():
    """The converter run_oracle_other.py feeds OVS with reads the same
    frames from mixed.pcapng and mixed-be.pcapng as from the pcaps they
    were built from."""
    conv = _load("run_oracle_other", ORACLE / "run_oracle_other.py")
    le = [f for _, _, f in conv.pcapng_frames(
        (DATA / "mixed.pcapng").read_bytes())]
    be = [f for _, _, f in conv.pcapng_frames(
        (DATA / "mixed-be.pcapng").read_bytes())]
    src = {n: [f for _, _, f in conv.pcap_frames(
        (DATA / (n + ".pcap")).read_bytes())]
        for n in ("udp", "icmp", "other", "tcp", "bad")}
    assert le == be == [src["udp"][0], src["udp"][1], src["icmp"][0],
                        src["icmp"][1], src["other"][0], src["tcp"][0],
                        src["bad"][0]]


def test_generator_reproduces_captures(tmp_path):
    subprocess.run([sys.executable, str(HERE / "gen" / "other_pcaps.py"),
                    str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted([n + ".pcap" for n in OWN] + ["captures.txt"])
    for f in made:
        assert filecmp.cmp(tmp_path / f, GOLD / f, shallow=False), f


@pytest.mark.skipif(not os.access(OVSTEST, os.X_OK),
                    reason="OVS oracle not built "
                           "(tests/ovs_oracle/build_other.sh)")
@pytest.mark.parametrize("gold", [g for g in GOLDENS if g in OWN
                                  or _capture(g).suffix == ".pcap"])
def test_oracle_still_agrees(gold):
    """With the oracle built, OVS itself still gives the committed output."""
    out = subprocess.run([str(OVSTEST), "ovsct-pcap-other",
                          str(_capture(gold)), "1", "1"], check=True,
                         capture_output=True, text=True).stdout
    states, _, conns = out.partition("--- conntrack\n")
    assert states == (GOLD / (gold + ".ovs-raw")).read_text()
    assert conns == (GOLD / (gold + ".ovs-conns")).read_text()
