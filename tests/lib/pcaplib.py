"""The classic pcap container the capture generators and the tests write
(frames come from framebuild).  Stdlib only.

The generators (tests/gen/*.py) run as scripts from any directory and put
tests/lib/ on sys.path themselves; pytest does it through tests/conftest.py.
"""

import os
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


def write_captures(outdir: str, captures: list, t0: int) -> None:
    """Writes OUTDIR/NAME.pcap for every (NAME, build) of 'captures' (build()
    returns [(description, frame)]), frames 1 ms apart from 't0' s, and
    OUTDIR/captures.txt: one line a frame, "NAME INDEX DESCRIPTION" (INDEX
    from 1), which the oracle tests print next to a verdict."""
    os.makedirs(outdir, exist_ok=True)
    lines = []
    for name, build in captures:
        pkts = build()
        frames = [frame for _, frame in pkts]
        with open(os.path.join(outdir, name + ".pcap"), "wb") as f:
            f.write(pcap_bytes(frames, ms_stamps(t0, len(frames))))
        lines += ["%s %d %s\n" % (name, i, desc)
                  for i, (desc, _) in enumerate(pkts, 1)]
    with open(os.path.join(outdir, "captures.txt"), "w") as f:
        f.writelines(lines)


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


# ---------------------------------------------------------------------------
# Other link types and containers, for the capture tests (test_capture.py):
# what tcpdump, Wireshark and BSD tools write.

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276


def read_pcap(data: bytes) -> tuple:
    """(link type, nanosecond?, [(seconds, fraction, frame)]) of a classic
    pcap of either byte order and resolution."""
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") \
        else ">"
    nsec = struct.unpack(order + "I", magic)[0] == 0xA1B23C4D
    linktype = struct.unpack(order + "I", data[20:24])[0]
    records, off = [], 24
    while off + 16 <= len(data):
        sec, frac, cap, _ = struct.unpack(order + "IIII", data[off:off + 16])
        records.append((sec, frac, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return linktype, nsec, records


def write_pcap(records: list, linktype: int, nsec: bool = False,
               big_endian: bool = False) -> bytes:
    """A classic pcap of 'records' [(seconds, fraction, frame)]."""
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144,
                       linktype)]
    for sec, frac, frame in records:
        out.append(struct.pack(order + "IIII", sec, frac, len(frame),
                               len(frame)))
        out.append(frame)
    return b"".join(out)


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + \
        struct.pack(order + "I", n)


def write_pcapng(ifaces: list, packets: list,
                 big_endian: bool = False) -> bytes:
    """A one-section pcapng: 'ifaces' [(link type, if_tsresol or None)],
    'packets' [(interface, time stamp in its units, frame)] as Enhanced
    Packet Blocks."""
    order = ">" if big_endian else "<"
    out = [_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D,
                                                 1, 0, -1))]
    for linktype, tsresol in ifaces:
        body = struct.pack(order + "HHI", linktype, 0, 0)
        if tsresol is not None:
            body += struct.pack(order + "HHB3x", 9, 1, tsresol)
            body += struct.pack(order + "HH", 0, 0)
        out.append(_block(order, 1, body))
    for iface, ts, frame in packets:
        out.append(_block(order, 6, struct.pack(
            order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame),
            len(frame)) + frame))
    return b"".join(out)


def read_pcapng(data: bytes) -> tuple:
    """([link type per interface], [(interface, raw time stamp, frame)])
    of a one-section pcapng (Enhanced Packet Blocks)."""
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    ifaces, packets, off = [], [], 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack(order + "II", data[off:off + 8])
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            ifaces.append(struct.unpack(order + "H", body[:2])[0])
        elif btype == 6:
            iface, hi, lo, cap, _ = struct.unpack(order + "IIIII", body[:20])
            packets.append((iface, hi << 32 | lo, body[20:20 + cap]))
        off += blen
    return ifaces, packets


def eth_to(frame: bytes, linktype: int) -> bytes:
    """An Ethernet frame (untagged IPv4 or IPv6) in another link type: raw
    IP (101, 228, 229), BSD null (0, little-endian host) or loopback
    (108)."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return ip
    af = 2 if ethertype == 0x0800 else 24
    if linktype == LINKTYPE_NULL:
        return struct.pack("<I", af) + ip
    if linktype == LINKTYPE_LOOP:
        return struct.pack(">I", af) + ip
    raise ValueError("link type %d" % linktype)
