"""The TCP tracker against real OVS: every capture of tests/data/tcp/ goes
through the engine with ct(commit) in zone 0 and each packet's ct_state
must equal what OVS 3.1's own conntrack gave it (NAME.ovs-states, made by
tests/ovs_oracle/run_oracle.py with ``ovstest test-conntrack pcap FILE 1``),
and the connections left must print as OVS's dpctl/dump-conntrack printed
them (NAME.ovs-conns).  See tests/data/tcp/README."""

import filecmp
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oraclelib import golden_states, run_capture

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "tcp"
ORACLE = HERE / "ovs_oracle"
CAPTURES = sorted(p.stem for p in DATA.glob("*.pcap")
                  if p.with_suffix(".ovs-states").exists())
# The OVS run used batches of 1; run_oracle.py checked that OVS gives the
# same states with batches of 32, so both must match the one golden file.
BATCHES = (1, 32)
OVSTEST = Path(os.environ.get("OVSCT_ORACLE",
                              Path.home() / ".cache/ovsct-oracle/ovstest"))

needs_engine = pytest.mark.skipif(
    importlib.util.find_spec("ovsct._engine") is None,
    reason="engine not built")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _descriptions():
    desc = {}
    with open(DATA / "captures.txt") as f:
        for line in f:
            name, idx, text = line.rstrip("\n").split(" ", 2)
            desc[name, int(idx)] = text
    return desc


def _golden(name):
    return golden_states(DATA / (name + ".ovs-states"))


def _run(name, batch):
    return run_capture(DATA / (name + ".pcap"), batch)


def test_captures_present():
    assert len(CAPTURES) >= 15, CAPTURES


@needs_engine
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", CAPTURES)
def test_states_match_ovs(name, batch):
    gold = _golden(name)
    ours, _ = _run(name, batch)
    assert len(ours) == len(gold), "packet count"
    desc = _descriptions()
    bad = ["  packet %d: OVS %s, ovsct %s  (%s)"
           % (i, g, o, desc.get((name, i), "?"))
           for i, (g, o) in enumerate(zip(gold, ours), 1) if g != o]
    assert not bad, "%s (batch %d):\n%s" % (name, batch, "\n".join(bad))


@needs_engine
@pytest.mark.parametrize("name", CAPTURES)
def test_connections_match_ovs(name):
    _, dump = _run(name, 1)
    assert dump == (DATA / (name + ".ovs-conns")).read_text()


def test_golden_states_are_normalised_raw():
    conv = _load("run_oracle", ORACLE / "run_oracle.py")
    for name in CAPTURES:
        raw = (DATA / (name + ".ovs-raw")).read_text()
        assert conv.normalise(raw) == \
            (DATA / (name + ".ovs-states")).read_text(), name


def test_generator_reproduces_captures(tmp_path):
    subprocess.run([sys.executable, str(HERE / "gen" / "tcp_pcaps.py"),
                    str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted([n + ".pcap" for n in CAPTURES] + ["captures.txt"])
    for f in made:
        assert filecmp.cmp(tmp_path / f, DATA / f, shallow=False), f


@pytest.mark.skipif(not os.access(OVSTEST, os.X_OK),
                    reason="OVS oracle not built (tests/ovs_oracle/build.sh)")
@pytest.mark.parametrize("name", CAPTURES)
def test_oracle_still_agrees(name):
    """With the oracle built, OVS itself still gives the committed output."""
    out = subprocess.run([str(OVSTEST), "test-conntrack", "pcap",
                          str(DATA / (name + ".pcap")), "1"], check=True,
                         capture_output=True, text=True).stdout
    assert out == (DATA / (name + ".ovs-raw")).read_text()
