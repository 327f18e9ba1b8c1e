"""Helpers shared by the persistence tests (test_persist*.py): frames
with a TCP window-scale option, a TCP exchange, one-batch execution."""

from __future__ import annotations

from array import array

import framebuild as fb
from ovsct.engine import Conntrack
from ovsct.format import ct_state_name

CLIENT, SERVER, VIP = "10.0.0.1", "10.0.0.2", "10.9.9.9"


def engine(start_ms: int = 1_000_000) -> Conntrack:
    return Conntrack(manual_clock=True, start_ms=start_ms, sweeper=False)


def run(ct: Conntrack, frames: list[bytes], action):
    """Runs 'frames' in one batch: (state names, frames as rewritten)."""
    buf = bytearray(b"".join(frames))
    offsets = array("I", [0])
    for f in frames:
        offsets.append(offsets[-1] + len(f))
    states = ct.execute(buf, offsets, action)
    out = [bytes(buf[offsets[i]:offsets[i + 1]]) for i in range(len(frames))]
    return [ct_state_name(s) for s in states], out


def tcp_ws(src, dst, sport, dport, flags, seq, ack, wscale):
    """A TCP segment with a window-scale option (SYN, SYN/ACK)."""
    return fb.tcp4(src, dst, sport, dport, flags, seq, ack,
                   opts=bytes([3, 3, wscale, 1]))   # window scale, NOP


def tcp_handshake(sport: int) -> list[list[bytes]]:
    """Handshake and one data exchange, one packet per batch."""
    return [
        [tcp_ws(CLIENT, SERVER, sport, 80, "S", 1000, 0, 7)],
        [tcp_ws(SERVER, CLIENT, 80, sport, "SA", 5000, 1001, 7)],
        [fb.tcp4(CLIENT, SERVER, sport, 80, "A", 1001, 5001)],
        [fb.tcp4(CLIENT, SERVER, sport, 80, "PA", 1001, 5001, b"GET /")],
        [fb.tcp4(SERVER, CLIENT, 80, sport, "PA", 5001, 1006, b"200 OK")],
    ]
