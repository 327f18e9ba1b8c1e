"""What the capture generators and the test frame builders share: the
Internet checksum and the classic pcap container.  Stdlib only.

The generators (tests/gen_*.py) run as scripts from any directory; Python
puts their directory, tests/, first on sys.path, so `import pcaplib`
finds this file.  So does pytest, through tests/conftest.py.
"""

import struct

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def csum(data: bytes) -> int:
    """Internet checksum (RFC 1071) of 'data'."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


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
