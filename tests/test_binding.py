"""The binding (binding/) and the engine's exported names (ext/names.c).

- execute() uses a read-only frame buffer (bytes) in place unless the
  action may rewrite frames (NAT); then it copies it, so the caller's bytes
  never change, while a writable buffer receives the rewrite.
- The engine names are exported by ovsct._engine and the Python modules
  use those objects, not copies of their own.
"""

from __future__ import annotations

import ipaddress

import entryjson  # noqa: E402
from framebuild import udp4

from ovsct import _engine, engine, format as fmt
from ovsct.action import parse_ct_action

CS_NEW, CS_TRACKED, CS_SRC_NAT = 0x01, 0x20, 0x40


def _one(frame: bytes) -> list[int]:
    return [0, len(frame)]


def test_readonly_frames_are_copied_only_for_nat():
    ct = engine.Conntrack(sweeper=False)
    try:
        plain = parse_ct_action("ct(commit)")
        nat = parse_ct_action("ct(commit,nat(src=192.168.1.1))")

        data = udp4("10.0.0.1", "10.0.0.2", 1000, 53)
        before = _engine.frame_copies()
        assert ct.execute(data, _one(data), plain) == bytes(
            [CS_NEW | CS_TRACKED])
        assert _engine.frame_copies() == before, "plain ct() copied"

        data = udp4("10.0.0.3", "10.0.0.2", 1000, 53)
        original = bytes(data)
        states = ct.execute(data, _one(data), nat)
        assert states == bytes([CS_NEW | CS_TRACKED | CS_SRC_NAT])
        assert _engine.frame_copies() == before + 1, "NAT did not copy"
        assert data == original

        buf = bytearray(udp4("10.0.0.4", "10.0.0.2", 1000, 53))
        states = ct.execute(buf, _one(buf), nat)
        assert states == bytes([CS_NEW | CS_TRACKED | CS_SRC_NAT])
        assert _engine.frame_copies() == before + 1, "writable was copied"
        assert bytes(buf[26:30]) == ipaddress.IPv4Address(
            "192.168.1.1").packed
        assert ct.nconns() == 3
    finally:
        ct.close()


def test_names_come_from_the_engine():
    assert _engine.TCP_STATE_NAMES[0] == "CLOSED"
    assert _engine.TCP_STATE_NAMES[-1] == "TIME_WAIT"
    assert len(_engine.TCP_STATE_NAMES) == _engine.TCPS_N
    assert _engine.TCP_FLAG_NAMES[0] == "WINDOW_SCALE"
    assert _engine.PROTO_NAMES[6] == "tcp" and _engine.PROTO_NAMES[58] == (
        "icmpv6")
    assert len(_engine.PROTO_CLASSES) == _engine.PC_N
    assert len(_engine.PROTO_CLASS_LABELS) == _engine.PC_N
    assert dict(_engine.CT_STATE_NAMES)[0x20] == "trk"
    assert _engine.COUNTER_NAMES[0] == "packets"
    # The Python modules hold the engine's objects, not copies.
    assert engine.TCP_STATE_NAMES is _engine.TCP_STATE_NAMES
    assert engine.PROTO_CLASSES is _engine.PROTO_CLASSES
    assert engine.COUNTER_NAMES is _engine.COUNTER_NAMES
    assert fmt.TCP_STATES is _engine.TCP_STATE_NAMES
    # The JSON reference of the tests (the JSON itself is made in C).
    assert entryjson.TCP_FLAGS is _engine.TCP_FLAG_NAMES
    assert entryjson.PROTO_NAMES is _engine.PROTO_NAMES
    assert fmt.CT_STATE_BITS is _engine.CT_STATE_NAMES


def test_tcp_state_coalesce():
    names = _engine.TCP_STATE_NAMES

    def coalesce(a: str, b: str) -> str:
        return names[_engine.tcp_state_coalesce(names.index(a),
                                                names.index(b))]

    assert coalesce("SYN_SENT", "SYN_RECV") == "ESTABLISHED"
    assert coalesce("FIN_WAIT_2", "CLOSED") == "TIME_WAIT"
    assert coalesce("ESTABLISHED", "CLOSE_WAIT") == "CLOSE_WAIT"
    # Unknown states pass through (the formatter prints "[N]").
    assert _engine.tcp_state_coalesce(200, 1) == 200


def test_counters_follow_counter_names():
    ct = engine.Conntrack(sweeper=False)
    try:
        data = udp4("10.0.0.1", "10.0.0.2", 1000, 53)
        ct.execute(data, _one(data), parse_ct_action("ct(commit)"))
        counters = ct.counters()
        assert list(counters) == list(_engine.COUNTER_NAMES)
        assert counters["packets"] == 1 and counters["created"] == 1
    finally:
        ct.close()
