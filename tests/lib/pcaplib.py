"""The classic pcap container the capture generators and the tests write
(frames come from framebuild).  Stdlib only.

The generators (tests/gen/*.py) run as scripts from any directory and put
tests/lib/ on sys.path themselves; pytest does it through tests/conftest.py.
"""

import struct

from framebuild import udp_flow_frames

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def ms_stamps(t0: int, n: int) -> list:
    """'n' (seconds, microseconds) time stamps from 't0' s, 1 ms apart."""
    return [(t0 + i // 1000, (i % 1000) * 1000) for i in range(n)]


def pcap_bytes(frames: list, stamps) -> bytes:
    """A little-endian microsecond pcap (Ethernet) of 'frames', frame i
    stamped stamps[i] = (seconds, microseconds)."""
    out = [PCAP_HEADER]
    for (sec, usec), frame in zip(stamps, frames):
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_udp_flows_pcap(path: str, n: int, first: int = 0) -> None:
    """Writes a pcap of 'n' one-packet UDP flows, each a distinct
    connection (framebuild.udp_flow_frames), 1 us apart from time 0: for
    the benchmarks and tests that need a big table."""
    stamps = [(i // 1000000, i % 1000000) for i in range(first, first + n)]
    with open(path, "wb") as f:
        f.write(pcap_bytes(udp_flow_frames(n, first), stamps))
