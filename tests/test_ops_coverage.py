"""Issue 13, counters: ct/coverage-show in the shape of OVS's coverage/show
(lib/coverage.c coverage_read()), its JSON, its rates, and the
rate-limited NAT exhaustion warning in the daemon's log."""

import json
import re

import pytest

from ovsct.commands import coverage
from enginecheck import needs_engine  # noqa: E402
from daemonlib import Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


HEADER = re.compile(r"^Event coverage, avg rate over last: 5 seconds, last "
                    r"minute, last hour,  hash=[0-9a-f]{8}:$")
LINE = re.compile(r"^(\S+) +\s*\d+\.\d/sec +\d+\.\d{3}/sec +\d+\.\d{4}/sec"
                  r"   total: (\d+)$")


class FakeEngine:
    def __init__(self):
        self.values = {"packets": 0, "nat_exhausted": 0,
                       "max_sweep_hold_ns": 7}

    def counters(self):
        return dict(self.values)


def test_line_layout_is_coverage_reads():
    # "%-24s %5.1f/sec %9.3f/sec %13.4f/sec   total: %llu".
    text = coverage.coverage_text(
        [("conntrack_full", [1.25, 0.5, 0.0125], 42)], 3)
    lines = text.splitlines()
    assert HEADER.match(lines[0])
    assert lines[1] == ("conntrack_full             1.2/sec     0.500/sec"
                        "        0.0125/sec   total: 42")
    assert lines[2] == "3 events never hit"


def test_rates_over_the_three_windows():
    engine = FakeEngine()
    h = coverage.History.__new__(coverage.History)
    h.__init__(engine)
    t0 = h.samples[0][0]
    for second in range(1, 11):
        engine.values["packets"] = 100 * second
        h.sample(engine, t0 + second)
    now = t0 + 10
    r5, r60, r3600 = h.rates("packets", 1000, now)
    assert r5 == pytest.approx(500 / 5)       # Since the sample at t0+5.
    assert r60 == pytest.approx(1000 / 60)
    assert r3600 == pytest.approx(1000 / 3600)


def test_nat_warning_is_rate_limited():
    engine = FakeEngine()
    logged = []
    t = 1000.0
    assert not coverage.check_nat_exhaustion(engine, logged.append, t)
    engine.values["nat_exhausted"] = 5
    assert coverage.check_nat_exhaustion(engine, logged.append, t + 0.1)
    engine.values["nat_exhausted"] = 9
    assert not coverage.check_nat_exhaustion(engine, logged.append, t + 0.5)
    assert coverage.check_nat_exhaustion(engine, logged.append, t + 1.2)
    assert not coverage.check_nat_exhaustion(engine, logged.append, t + 5)
    assert logged == [coverage.NAT_EXHAUSTED_WARNING] * 2


@needs_engine
def test_counters_and_nat_warning_through_the_daemon(tmp_path):
    """200 UDP flows source-NATed to one address and port towards one
    destination: one gets the tuple, the others exhaust the NAT space.  The
    counters say so, over the socket, and the daemon logs OVS's warning
    once (rate-limited) when a command follows."""
    pcap = str(tmp_path / "flows.pcap")
    write_udp_flows_pcap(pcap, 200)
    with Ovsctd(timeout=60) as d:
        r = d.appctl("ct/replay", pcap, "ct(commit,nat(src=10.9.9.9:5000))")
        assert r.returncode == 0, r.stderr
        r = d.appctl("ct/coverage-show")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.decode().splitlines()
        assert HEADER.match(lines[0])
        totals = {}
        for line in lines[1:-1]:
            m = LINE.match(line)
            assert m, line
            totals[m.group(1)] = int(m.group(2))
        assert re.match(r"^\d+ events never hit$", lines[-1])
        assert totals["conntrack_packets"] == 200
        assert totals["conntrack_created"] == 1
        assert totals["conntrack_nat_exhausted"] == 199
        data = json.loads(d.ovsct("-f", "json", "coverage-show").stdout)
        assert data["conntrack_nat_exhausted"]["total"] == 199
        assert data["conntrack_full"]["total"] == 0
        assert "conntrack_max_sweep_hold_ns" not in data
        d.appctl("dpctl/ct-get-nconns")
        with open(d.log) as f:
            log = f.read()
        assert log.count(coverage.NAT_EXHAUSTED_WARNING) == 1
        line = next(x for x in log.splitlines()
                    if coverage.NAT_EXHAUSTED_WARNING in x)
        assert "WARN" in line


def _coverage_totals(d):
    r = d.appctl("ct/coverage-show")
    assert r.returncode == 0, r.stderr
    totals = {}
    for line in r.stdout.decode().splitlines()[1:-1]:
        m = LINE.match(line)
        assert m, line
        totals[m.group(1)] = int(m.group(2))
    return totals


@needs_engine
def test_flushed_counter_through_the_daemon(tmp_path):
    """conntrack_flushed grows by the number of connections each flush
    removes, in the text and the JSON of ct/coverage-show."""
    pcap = str(tmp_path / "flows.pcap")
    write_udp_flows_pcap(pcap, 40)
    with Ovsctd(timeout=60) as d:
        r = d.appctl("ct/replay", pcap, "ct(commit)")
        assert r.returncode == 0, r.stderr
        assert "conntrack_flushed" not in _coverage_totals(d)
        data = json.loads(d.ovsct("-f", "json", "coverage-show").stdout)
        assert data["conntrack_flushed"]["total"] == 0
        r = d.appctl("dpctl/flush-conntrack")
        assert r.returncode == 0, r.stderr
        totals = _coverage_totals(d)
        assert totals["conntrack_flushed"] == 40
        assert totals["conntrack_created"] == 40
        assert "conntrack_expired" not in totals
        r = d.appctl("ct/replay", pcap, "ct(commit,zone=3)")
        assert r.returncode == 0, r.stderr
        r = d.appctl("dpctl/flush-conntrack", "zone=3")
        assert r.returncode == 0, r.stderr
        data = json.loads(d.ovsct("-f", "json", "coverage-show").stdout)
        assert data["conntrack_flushed"]["total"] == 80
