"""The tracker against real OVS, one capture set at a time (tcp: the TCP
tracker; other: UDP, ICMP, other protocols, fragments without reassembly,
VLANs and IPv6 extension headers; frag: IP fragments through reassembly,
with goldens per batch size; tests/lib/oraclelib.py defines them).  Every
capture with golden files goes through the engine with ct(commit) in zone
0, at batches of 1 and 32: each packet's ct_state must be what OVS 3.1's
conntrack gave it (NAME.ovs-states) and the connections left must print as
OVS's dpctl/dump-conntrack printed them (NAME.ovs-conns).  The goldens come
from tests/ovs_oracle/run_oracle.py; see the README of each set's folder
(tests/data/tcp, tests/data/other).

KNOWN lists the differences from OVS found so far, with their cause: a
capture whose only differences are known ones is reported as xfail; any
other difference fails.
"""

import filecmp
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from enginecheck import needs_engine
from oraclelib import DATA, GEN, SETS, golden_states, normalise, run_capture
from pcaplib import capture_frames

HERE = Path(__file__).resolve().parent
BATCHES = (1, 32)
OVSTEST = Path(os.environ.get("OVSCT_ORACLE",
                              Path.home() / ".cache/ovsct-oracle/ovstest"))
ORACLE_MISSING = ("OVS oracle not built: optional, it reruns real OVS over "
                  "the committed captures (tests/ovs_oracle/build.sh, or "
                  "$OVSCT_ORACLE); the goldens are in the repository")

# (set, golden name, packet index) -> why ovsct differs from OVS.  Empty:
# the cross-family ICMP difference found first is fixed (packet.c records
# the type, valid_new() picks the ICMP rules by protocol number).
KNOWN: dict = {}
# (set, golden name, dump line) OVS has and ovsct lacks, or the reverse.
KNOWN_CONNS: dict = {}

CASES = [pytest.param(s, tid, capture, gold, id="%s-%s" % (s, tid))
         for s, cset in SETS.items()
         for tid, capture, gold in cset.cases()]
ORACLE_CASES = [pytest.param(s, gold, batch,
                             id="%s-%s-%d" % (s, gold, batch))
                for s, cset in SETS.items() for gold in cset.goldens()
                if cset.capture(gold).suffix == ".pcap"
                for batch in cset.batches()]
SET_NAMES = sorted(SETS)


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _descriptions(cset):
    """{(golden name, index): text} from the set's captures.txt and, for
    captures of tests/data, the table in tests/gen/pcaps.py's docstring."""
    desc = {}
    with open(cset.gold / "captures.txt") as f:
        for line in f:
            name, idx, text = line.rstrip("\n").split(" ", 2)
            desc[name, int(idx)] = text
    if cset.data_captures:
        doc = _load("pcaps", GEN / "pcaps.py").__doc__
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


def _judge(what, unknown, known):
    assert not unknown, "%s:\n%s" % (what, "\n".join(unknown))
    if known:
        pytest.xfail("known differences from OVS:\n" + "\n".join(known))


@pytest.mark.parametrize("s", SET_NAMES)
def test_captures_present(s):
    cset = SETS[s]
    own, goldens = cset.own(), cset.goldens()
    assert len(own) >= cset.min_own, own
    assert set(own) <= set(goldens), "run tests/ovs_oracle/run_oracle.py " + s
    data = {f.rsplit(".", 1)[0] for f in cset.data_captures}
    assert data <= set(goldens)
    assert set(goldens) == set(own) | data
    for f, _ in cset.twins:
        assert (DATA / f).exists(), f


@needs_engine
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("s,tid,capture,gold", CASES)
def test_states_match_ovs(s, tid, capture, gold, batch):
    cset = SETS[s]
    want = golden_states(cset.golden(gold, "states", batch))
    got, _ = run_capture(capture, batch, cset.action(gold), cset.ipf)
    assert len(got) == len(want), "packet count"
    desc = _descriptions(cset)
    unknown, known = [], []
    for i, (w, g) in enumerate(zip(want, got), 1):
        if w != g:
            line = "  packet %d: OVS %s, ovsct %s  (%s)" % (
                i, w, g, desc.get((gold, i), "?"))
            if (s, gold, i) in KNOWN:
                known.append(line + ": " + KNOWN[s, gold, i])
            else:
                unknown.append(line)
    _judge("%s (batch %d)" % (tid, batch), unknown, known)


@needs_engine
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("s,tid,capture,gold", CASES)
def test_connections_match_ovs(s, tid, capture, gold, batch):
    want = sorted(SETS[s].golden(gold, "conns", batch).read_text()
                  .splitlines())
    cset = SETS[s]
    _, dump = run_capture(capture, batch, cset.action(gold), cset.ipf)
    got = sorted(dump.splitlines())
    if got == want:
        return
    unknown, known = [], []
    for sign, lines in (("OVS only:   ", set(want) - set(got)),
                        ("ovsct only: ", set(got) - set(want))):
        for line in sorted(lines):
            if (s, gold, line) in KNOWN_CONNS:
                known.append(sign + line)
            else:
                unknown.append(sign + line)
    _judge("%s (batch %d)" % (tid, batch), unknown, known)


@needs_engine
def test_cli_states_match_ovs():
    """`ovsct -r FILE states` prints the golden file byte for byte."""
    cset, gold = SETS["other"], "icmp_errors_v4"
    p = subprocess.run([sys.executable, "-m", "ovsct.cli", "-r",
                        str(cset.capture(gold)), "states"],
                       capture_output=True, text=True, cwd=HERE.parent)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (cset.gold / (gold + ".ovs-states")).read_text()


@pytest.mark.parametrize("s", SET_NAMES)
def test_golden_states_are_normalised_raw(s):
    cset = SETS[s]
    for gold in cset.goldens():
        for batch in cset.batches():
            raw = cset.golden(gold, "raw", batch).read_text()
            assert normalise(raw) == \
                cset.golden(gold, "states", batch).read_text(), gold


@pytest.mark.parametrize("s", SET_NAMES)
def test_golden_conns_are_sorted(s):
    cset = SETS[s]
    for gold in cset.goldens():
        for batch in cset.batches():
            text = cset.golden(gold, "conns", batch).read_text()
            lines = text.splitlines()
            assert lines == sorted(lines) and (not text
                                               or text.endswith("\n"))


def test_pcapng_conversion_matches_pcap():
    """The reader run_oracle.py converts pcapng with reads the same frames
    from mixed.pcapng and mixed-be.pcapng as from the pcaps they were built
    from."""
    le = [f for *_, f in capture_frames(DATA / "mixed.pcapng")]
    be = [f for *_, f in capture_frames(DATA / "mixed-be.pcapng")]
    src = {n: [f for *_, f in capture_frames(DATA / (n + ".pcap"))]
           for n in ("udp", "icmp", "other", "tcp", "bad")}
    assert le == be == [src["udp"][0], src["udp"][1], src["icmp"][0],
                        src["icmp"][1], src["other"][0], src["tcp"][0],
                        src["bad"][0]]


@pytest.mark.parametrize("s", SET_NAMES)
def test_generator_reproduces_captures(s, tmp_path):
    cset = SETS[s]
    subprocess.run([sys.executable, str(cset.generator), str(tmp_path)],
                   check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    extra = ["actions.txt"] if (cset.gold / "actions.txt").exists() else []
    assert made == sorted([n + ".pcap" for n in cset.own()]
                          + ["captures.txt"] + extra)
    for f in made:
        assert filecmp.cmp(tmp_path / f, cset.gold / f, shallow=False), f


@pytest.fixture(scope="module")
def ovstest(tmp_path_factory):
    """The oracle binary, rebuilt (into a temporary folder, from the same
    OVS library) when it is older than ovs-ct-oracle.c: a binary from an
    older driver may lack options the sets use (--helper)."""
    src = HERE / "ovs_oracle" / "ovs-ct-oracle.c"
    if OVSTEST.stat().st_mtime >= src.stat().st_mtime:
        return OVSTEST
    env = dict(os.environ, ORACLE_DIR=str(tmp_path_factory.mktemp("oracle")))
    if "OVS_SRC" not in env:
        env["OVS_SRC"] = str(OVSTEST.parent / "openvswitch")
    out = subprocess.run(["sh", str(HERE / "ovs_oracle" / "build.sh")],
                         env=env, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.access(OVSTEST, os.X_OK), reason=ORACLE_MISSING)
@pytest.mark.parametrize("s,gold,batch", ORACLE_CASES)
def test_oracle_still_agrees(s, gold, batch, ovstest):
    """With the oracle built, OVS itself still gives the committed
    output."""
    cset = SETS[s]
    out = subprocess.run([str(ovstest), "ovsct-pcap", *cset.args(gold),
                          str(cset.capture(gold)), str(batch)], check=True,
                         capture_output=True, text=True).stdout
    states, _, conns = out.partition("--- conntrack\n")
    assert states == cset.golden(gold, "raw", batch).read_text()
    assert conns == cset.golden(gold, "conns", batch).read_text()
