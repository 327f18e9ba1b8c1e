"""The JSON of dump-conntrack is made in C (ext/format.c
ovsct_format_entry_json(), sorted by ovsct_sort_entries()): on real
captures it is, object for object and byte for byte, what the Python
reference (tests/lib/entryjson.py, from the Entry objects of the same
table) encoded with sorted keys gives; whole, streamed in pieces, and
under the engine's filter.  ALG captures check "helper" and "parent"."""

import json
from pathlib import Path

import pytest

import entryjson  # noqa: E402
from enginecheck import needs_engine  # noqa: E402
from ovsct.commands.flush import parse_dump_filter

DATA = Path(__file__).parent / "data"

CAPTURES = [
    ("tcp.pcap", "ct(commit)"),
    ("udp.pcap", "ct(commit,zone=3)"),
    ("icmp.pcap", "ct(commit,exec(set_field:7->ct_mark,"
                  "set_field:0x1000000000000000000000000000ab->ct_label))"),
    ("other.pcap", "ct(commit)"),
    ("sample.pcap", "ct(commit)"),
    ("mixed.pcapng", "ct(commit)"),
    ("nat/tcp_snat.pcap", "ct(commit,nat(src=10.1.1.240-10.1.1.255))"),
    ("nat/udp_dnat.pcap", "ct(commit,nat(dst=10.1.1.2:8080))"),
    ("nat/udp6_snat.pcap", "ct(commit,nat(src=fc00::240))"),
    ("nat/icmp_snat.pcap", "ct(commit,nat(src=10.1.1.240))"),
    # ALG control and data connections: "helper" and "parent".
    ("alg/ftp-active4.pcap", "ct(commit,alg=ftp)"),
    ("alg/ftp-passive6.pcap", "ct(commit,alg=ftp)"),
    ("alg/tftp.pcap", "ct(commit,alg=tftp)"),
]


def _encode(rows):
    return json.dumps(rows, separators=(",", ":"), sort_keys=True).encode()


@pytest.fixture(params=CAPTURES, ids=[c for c, _ in CAPTURES])
def engine(request):
    from ovsct.engine import Conntrack

    pcap, action = request.param
    ct = Conntrack(manual_clock=True, start_ms=1000, sweeper=False)
    try:
        ct.execute_pcap(str(DATA / pcap), action)
        ct.advance(1500)        # Timeouts with a fraction of a second.
        yield ct
    finally:
        ct.close()


@needs_engine
def test_whole_dump_is_the_reference(engine):
    entries = engine.dump()
    assert entries
    got = engine.dump_json()
    assert got.json_bytes() == _encode(entryjson.entries_json(entries))
    # Hash order: the same objects as dump() gives them.
    assert engine.dump_json(sort=False).json_bytes() == _encode(
        [entryjson.entry_json(e) for e in entries])


@needs_engine
def test_alg_helper_and_parent():
    """An FTP control connection carries "helper", its data connection
    "parent" (the control connection's orig tuple), as the text does."""
    from ovsct.engine import Conntrack

    with Conntrack(manual_clock=True, start_ms=1000, sweeper=False) as ct:
        ct.execute_pcap(str(DATA / "alg/ftp-active4.pcap"),
                        "ct(commit,alg=ftp)")
        rows = list(ct.dump_json())
        ctl = [r for r in rows
               if r.get("helper") == "ftp" and "parent" not in r]
        data = [r for r in rows if "parent" in r]
        assert len(ctl) == 1 and len(data) == 1
        assert data[0]["parent"] == ctl[0]["orig"]
        assert "helper=ftp" in ct.dump_text()
        assert "parent=(" in ct.dump_text(verbose=True)


@needs_engine
@pytest.mark.parametrize("size", [1, 4096, 1 << 20])
def test_streamed_dump_is_the_reference(engine, size):
    entries = engine.dump()
    text = b"".join(engine.dump_json_chunks(size=size).json_chunks())
    assert text == _encode([entryjson.entry_json(e) for e in entries])


@needs_engine
@pytest.mark.parametrize("args", [["zone=3"], ["state=ESTABLISHED"],
                                  ["ct_nw_src=10.0.0.0/8"],
                                  ["mark=7"], ["ct_nw_proto=17"]])
def test_filtered_dump_is_the_reference(engine, args):
    flt = parse_dump_filter(list(args), [])
    entries = engine.dump(flt)
    assert engine.dump_json(flt).json_bytes() == _encode(
        entryjson.entries_json(entries))
    text = b"".join(engine.dump_json_chunks(flt, size=1).json_chunks())
    assert json.loads(text) == [entryjson.entry_json(e) for e in entries]


@needs_engine
def test_empty_dump():
    from ovsct.engine import Conntrack

    with Conntrack(sweeper=False) as ct:
        assert ct.dump_json().json_bytes() == b"[]"
        assert b"".join(ct.dump_json_chunks().json_chunks()) == b"[]"
        assert list(ct.dump_json()) == []
