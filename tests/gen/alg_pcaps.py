"""FTP and TFTP sessions for the ALG tests and the "alg" capture set.

Each scenario is a list of frames built with tests/lib/framebuild.py: a
TCP control connection to port 21 with real sequence numbers (so that
sequence checking passes), the commands and replies that announce a data
connection (PORT, 227, EPRT, 229), then the data connection's handshake;
TFTP is a request to port 69 and the answer from a new server port.

    python tests/gen/alg_pcaps.py DIR     writes DIR/<name>.pcap for every
                                          scenario of captures() and
                                          DIR/actions.txt (their actions)

Used by tests/test_alg.py (engine level) and by the OVS oracle pipeline
(tests/ovs_oracle/run_oracle.py, capture set "alg", goldens in
tests/data/alg/).
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import framebuild as fb  # noqa: E402
import pcaplib  # noqa: E402

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class Tcp:
    """One TCP connection between 'a' (the opener) and 'b' as seen on one
    wire: tracks both sequence numbers.  'a_seen'/'b_seen' are the
    addresses as they appear in frames (NAT may differ per side)."""

    def __init__(self, a, ap, b, bp, isn_a=1000, isn_b=5000):
        self.a, self.ap, self.b, self.bp = a, ap, b, bp
        self.l3 = 6 if ":" in a else 4
        self.sa, self.sb = isn_a, isn_b

    def _frame(self, src, dst, sport, dport, seq, ack, flags, data):
        seg = fb.tcp(src, dst, sport, dport, seq, ack, flags, data=data)
        if self.l3 == 4:
            return fb.v4(src, dst, 6, seg)
        return fb.v6(src, dst, 6, seg)

    def handshake(self):
        f = [self._frame(self.a, self.b, self.ap, self.bp, self.sa, 0, SYN,
                         b""),
             self._frame(self.b, self.a, self.bp, self.ap, self.sb,
                         self.sa + 1, SYN | ACK, b""),
             self._frame(self.a, self.b, self.ap, self.bp, self.sa + 1,
                         self.sb + 1, ACK, b"")]
        self.sa += 1
        self.sb += 1
        return f

    def a_sends(self, data: bytes, skew: int = 0):
        """'a' sends 'data'; the peer will see 'skew' more bytes."""
        f = self._frame(self.a, self.b, self.ap, self.bp, self.sa, self.sb,
                        PSH | ACK, data)
        self.sa += len(data)
        return f

    def b_sends(self, data: bytes):
        f = self._frame(self.b, self.a, self.bp, self.ap, self.sb, self.sa,
                        PSH | ACK, data)
        self.sb += len(data)
        return f


def _port_args(ip: str, port: int) -> str:
    return ",".join(ip.split(".") + [str(port >> 8), str(port & 0xff)])


C4, S4 = "10.1.1.1", "10.1.1.2"
C6, S6 = "fc00::1", "fc00::2"


def ftp_active4(c=C4, s=S4, dport=40000, cport=33333, arg=None):
    """PORT: the server opens the data connection from port 20."""
    ctl = Tcp(c, cport, s, 21)
    out = ctl.handshake()
    out.append(ctl.b_sends(b"220 ready\r\n"))
    text = arg if arg is not None else _port_args(c, dport)
    out.append(ctl.a_sends(f"PORT {text}\r\n".encode()))
    out.append(ctl.b_sends(b"200 PORT ok\r\n"))
    data = Tcp(s, 20, c, dport, 7000, 9000)
    out += data.handshake()
    out.append(ctl.a_sends(b"QUIT\r\n"))
    return out


def ftp_passive4(c=C4, s=S4, dport=30000, cport=33334):
    """PASV / 227: the client opens the data connection."""
    ctl = Tcp(c, cport, s, 21)
    out = ctl.handshake()
    out.append(ctl.b_sends(b"220 ready\r\n"))
    out.append(ctl.a_sends(b"PASV\r\n"))
    out.append(ctl.b_sends(f"227 Entering Passive Mode "
                           f"({_port_args(s, dport)})\r\n".encode()))
    data = Tcp(c, 41000, s, dport, 7000, 9000)
    out += data.handshake()
    out.append(ctl.a_sends(b"QUIT\r\n"))
    return out


def ftp_active6(c=C6, s=S6, dport=40001, cport=33335):
    """EPRT |2|addr|port|."""
    ctl = Tcp(c, cport, s, 21)
    out = ctl.handshake()
    out.append(ctl.b_sends(b"220 ready\r\n"))
    out.append(ctl.a_sends(f"EPRT |2|{c}|{dport}|\r\n".encode()))
    out.append(ctl.b_sends(b"200 EPRT ok\r\n"))
    data = Tcp(s, 20, c, dport, 7000, 9000)
    out += data.handshake()
    return out


def ftp_passive6(c=C6, s=S6, dport=30001, cport=33336):
    """EPSV / 229 Entering Extended Passive Mode (|||port|)."""
    ctl = Tcp(c, cport, s, 21)
    out = ctl.handshake()
    out.append(ctl.b_sends(b"220 ready\r\n"))
    out.append(ctl.a_sends(b"EPSV\r\n"))
    out.append(ctl.b_sends(f"229 Entering Extended Passive Mode "
                           f"(|||{dport}|)\r\n".encode()))
    data = Tcp(c, 41001, s, dport, 7000, 9000)
    out += data.handshake()
    return out


def ftp_bad_port():
    """PORT arguments OVS refuses: a third party's address, a byte over
    255, too few numbers, no digits; the data connection of the first is
    not expected."""
    ctl = Tcp(C4, 33337, S4, 21)
    out = ctl.handshake()
    for arg in ("10,1,1,9,156,64", "10,1,1,1,300,1", "10,1,1,1",
                "x", "10,1,1,1,1,"):
        out.append(ctl.a_sends(f"PORT {arg}\r\n".encode()))
        out.append(ctl.b_sends(b"500 no\r\n"))
    out += Tcp(S4, 20, "10.1.1.9", 40000, 7000, 9000).handshake()[:1]
    return out


def tftp4(c=C4, s=S4, cport=5000, sport=6000):
    """RRQ to port 69; the server answers from port 'sport'."""
    return [fb.v4(c, s, 17, fb.udp(c, s, cport, 69,
                                   b"\x00\x01file\x00octet\x00")),
            fb.v4(s, c, 17, fb.udp(s, c, sport, cport,
                                   b"\x00\x03\x00\x01data")),
            fb.v4(c, s, 17, fb.udp(c, s, cport, sport, b"\x00\x04\x00\x01"))]


# Capture set "alg": name -> (frames, ct action).
def captures():
    return {
        "ftp-active4": (ftp_active4(), "ct(commit,alg=ftp)"),
        "ftp-passive4": (ftp_passive4(), "ct(commit,alg=ftp)"),
        "ftp-active6": (ftp_active6(), "ct(commit,alg=ftp)"),
        "ftp-passive6": (ftp_passive6(), "ct(commit,alg=ftp)"),
        "ftp-bad-port": (ftp_bad_port(), "ct(commit,alg=ftp)"),
        "ftp-noalg": (ftp_active4(), "ct(commit)"),
        "tftp": (tftp4(), "ct(commit,alg=tftp)"),
        "tftp-noalg": (tftp4(), "ct(commit)"),
    }


def describe(frame: bytes) -> str:
    """One line on 'frame': addresses, ports, TCP flags, payload's first
    line."""
    import dpkt
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    l4 = ip.data
    if isinstance(ip, dpkt.ip6.IP6):
        import ipaddress
        src, dst = (str(ipaddress.ip_address(a)) for a in (ip.src, ip.dst))
    else:
        src, dst = (".".join(map(str, a)) for a in (ip.src, ip.dst))
    text = f"{src}:{l4.sport} > {dst}:{l4.dport}"
    if isinstance(l4, dpkt.tcp.TCP):
        names = [n for b, n in ((SYN, "S"), (FIN, "F"), (PSH, "P"),
                                (ACK, "A")) if l4.flags & b]
        text += " tcp " + "".join(names)
    else:
        text += " udp"
    data = bytes(l4.data).split(b"\r\n")[0]
    if data:
        text += " " + data.decode("latin-1").encode("unicode_escape").decode()
    return text


def main(argv):
    out = argv[1] if len(argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    lines, desc = [], []
    for name, (frames, action) in captures().items():
        desc += [f"{name} {i} {describe(f)}\n"
                 for i, f in enumerate(frames, 1)]
        with open(os.path.join(out, name + ".pcap"), "wb") as f:
            f.write(pcaplib.pcap_bytes(frames,
                                       pcaplib.ms_stamps(1, len(frames))))
        lines.append(f"{name} {action}\n")
    with open(os.path.join(out, "actions.txt"), "w") as f:
        f.writelines(lines)
    with open(os.path.join(out, "captures.txt"), "w") as f:
        f.writelines(desc)


if __name__ == "__main__":
    main(sys.argv)
