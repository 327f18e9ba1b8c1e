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


def pcap_frames(data: bytes) -> list:
    """[(seconds, microseconds, frame)] of a little-endian microsecond pcap
    (what pcap_bytes() and the generators write)."""
    if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
        raise ValueError("only little-endian microsecond pcap is read here")
    frames, off = [], 24
    while off < len(data):
        sec, usec, cap, _ = struct.unpack("<IIII", data[off:off + 16])
        frames.append((sec, usec, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return frames


def pcapng_frames(data: bytes) -> list:
    """[(seconds, microseconds, frame)] of the packet blocks of a pcapng
    file (EPB and SPB; every section, either byte order; microsecond
    timestamps, the default resolution).  Other blocks are skipped."""
    frames, off, order, snap = [], 0, "<", {}
    ts = (0, 0)
    while off < len(data):
        btype = struct.unpack(order + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:             # The same in both orders.
            order = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" \
                else ">"
            snap = {}
        blen = struct.unpack(order + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            snap[len(snap)] = struct.unpack(order + "I", body[4:8])[0]
        elif btype == 6:
            _, hi, lo, cap, _ = struct.unpack(order + "IIIII", body[:20])
            t = (hi << 32) | lo
            ts = (t // 1000000, t % 1000000)
            frames.append((ts[0], ts[1], body[20:20 + cap]))
        elif btype == 3:
            orig = struct.unpack(order + "I", body[:4])[0]
            cap = min(orig, snap.get(0, orig) or orig)
            frames.append((ts[0], ts[1], body[4:4 + cap]))
        off += blen
    return frames


def capture_frames(path) -> list:
    """[(seconds, microseconds, frame)] of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if str(path).endswith(".pcapng"):
        return pcapng_frames(data)
    return pcap_frames(data)
