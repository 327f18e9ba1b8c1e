"""Helpers of the kernel datapath tests: a private network namespace with
conntrack turned on, commands run inside it, and the kernel's own view of
its table (``conntrack -L -o extended``) parsed for comparison.

    with Netns() as ns:
        ns.conntrack("-I", "-p", "udp", ...)
        ns.ovsct("dump-conntrack", "system@ovs-system")
        ns.kernel_entries()

Every namespace is named "ks-<random>" and removed on exit, even when the
test fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# nftables: a ct state rule makes the namespace's hooks track every packet.
RULESET = """
table inet ks {
    chain out { type filter hook output priority 0; ct state new accept; }
    chain in { type filter hook input priority 0; ct state new accept; }
}
"""

TCP_STATES = {  # conntrack(8) name -> OVS ct_dpif name
    "NONE": "CLOSED", "SYN_SENT": "SYN_SENT", "SYN_SENT2": "SYN_SENT",
    "SYN_RECV": "SYN_RECV", "ESTABLISHED": "ESTABLISHED",
    "FIN_WAIT": "FIN_WAIT_1", "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK", "TIME_WAIT": "TIME_WAIT", "CLOSE": "CLOSING",
}


def env() -> dict:
    e = dict(os.environ)
    path = e.get("PYTHONPATH")
    e["PYTHONPATH"] = ROOT + (os.pathsep + path if path else "")
    return e


class Netns:
    """A fresh network namespace with lo up and the tracking ruleset."""

    def __init__(self, ruleset: str = RULESET) -> None:
        self.name = "ks-" + uuid.uuid4().hex[:10]
        self.ruleset = ruleset

    def __enter__(self) -> "Netns":
        from pyroute2 import netns
        netns.create(self.name)
        try:
            self.run("ip", "link", "set", "lo", "up")
            if self.ruleset:
                self.run("nft", "-f", "-", input=self.ruleset)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from pyroute2 import netns
        try:
            netns.remove(self.name)
        except OSError:
            subprocess.run(["ip", "netns", "del", self.name],
                           capture_output=True)

    def run(self, *cmd: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        r = subprocess.run(["ip", "netns", "exec", self.name] + list(cmd),
                           input=input, capture_output=True, text=True,
                           env=env(), cwd=ROOT, timeout=timeout)
        if check and r.returncode:
            raise AssertionError("%s: exit %d\n%s%s" % (
                " ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def popen(self, *cmd: str) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.name]
                                + list(cmd), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=env(), cwd=ROOT)

    def ovsct(self, *args: str, check: bool = False
              ) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "ovsct.cli", *args,
                        check=check)

    def python(self, code: str) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-c", code)

    def conntrack(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("conntrack", *args)

    def kernel_entries(self) -> list[dict]:
        """``conntrack -L -o extended,id`` parsed."""
        r = self.run("conntrack", "-L", "-o", "extended,id")
        return [parse_conntrack_line(line)
                for line in r.stdout.splitlines() if line.strip()]


_KV = re.compile(r"(\w+)=(\S+)")


def parse_conntrack_line(line: str) -> dict:
    """One ``conntrack -L -o extended,id`` line as a dict with the keys of
    parse_ovs_line(): l3, proto, orig and reply (dicts), zone, mark, state,
    ct_id."""
    words = line.split()
    proto = int(words[3])
    out: dict = {"l3": 6 if words[0] == "ipv6" else 4, "proto": proto,
                 "zone": 0, "mark": 0, "state": None}
    per_tuple = 5 if proto in (1, 58) else 4
    tuples: list[dict] = [{}, {}]
    for word in words[5:]:
        m = _KV.fullmatch(word)
        if m is None:
            if word in TCP_STATES:
                out["state"] = TCP_STATES[word]
            continue
        key, value = m.groups()
        if key in ("packets", "bytes"):
            continue
        which = next((i for i in (0, 1) if len(tuples[i]) < per_tuple),
                     None)
        if which is not None:
            tuples[which][key] = value if key in ("src", "dst") \
                else int(value)
        elif key in ("mark", "zone"):
            out[key] = int(value)
        elif key == "id":
            out["ct_id"] = int(value)
    out["orig"], out["reply"] = tuples
    return out


_OVS_TUPLE = re.compile(r"(orig|reply)=\(([^)]*)\)")


def parse_ovs_line(line: str) -> dict:
    """One OVS dump line as the same dict shape."""
    proto_name = line.split(",", 1)[0]
    names = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132,
             "udplite": 136, "dccp": 33, "igmp": 2}
    out: dict = {"proto": names.get(proto_name) or int(proto_name),
                 "zone": 0, "mark": 0, "state": None, "labels": 0}
    for which, body in _OVS_TUPLE.findall(line):
        t = {}
        for item in body.split(","):
            key, _, value = item.partition("=")
            if key in ("packets", "bytes"):
                continue
            t[key] = value if key in ("src", "dst") else int(value)
        out[which] = t
    rest = _OVS_TUPLE.sub("", line)
    for key in ("zone", "mark", "id"):
        m = re.search(r"[,(]%s=(\d+)" % key, rest)
        if m:
            out["ct_id" if key == "id" else key] = int(m.group(1))
    m = re.search(r"labels=(0x[0-9a-f]+)", rest)
    if m:
        out["labels"] = int(m.group(1), 16)
    m = re.search(r"state(?:_orig)?=(\w+)", rest)
    if m:
        out["state"] = m.group(1)
    out["l3"] = 6 if ":" in out["orig"]["src"] else 4
    return out


def key_of(e: dict) -> tuple:
    o = e["orig"]
    return (e["zone"], e["proto"], o["src"], o["dst"], o.get("sport"),
            o.get("dport"), o.get("id"), o.get("type"))
