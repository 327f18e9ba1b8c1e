#!/usr/bin/env python3
"""Slow clients against ovsctd: memory held by clients that never read,
and time to the first byte of a streamed dump.

    python3 benchmarks/slow_clients.py [--conns 100000] [--clients 1000]
                                       [--format text|json] [--ttfb-conns N]
                                       [--out FILE]

Starts ovsctd (Ovsctd of tests/lib/daemonlib.py) with `--pcap FILE` holding
--conns one-packet UDP flows and `--max-clients` above --clients, with this
process's RLIMIT_NOFILE raised for both.  Then:

1. RSS of the daemon (VmRSS) idle, after one full dump (warm);
2. --clients connections (SO_RCVBUF 4 KB) each ask for dpctl/dump-conntrack
   in --format and never read: RSS after 5 s (during) and the peak
   (VmHWM); how long ovs-appctl dpctl/ct-get-nconns takes meanwhile;
3. the clients leave: RSS 2 s later (after);
4. with --ttfb-conns N (0: skip): a daemon with N flows, one JSON-mode
   client: time from the request to the first byte of the reply, total
   time and bytes.

Prints one JSON object (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "lib"))

from benchlib import machine, write_json  # noqa: E402
from daemonlib import OVS_APPCTL, Ovsctd  # noqa: E402
from pcaplib import write_udp_flows_pcap  # noqa: E402


def status_kb(pid: int, key: str) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def mb(kb: int) -> float:
    return round(kb / 1024, 1)


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def send(s: socket.socket, req_id: int, method: str, params=()) -> None:
    s.sendall(json.dumps({"id": req_id, "method": method,
                          "params": list(params)}).encode())


def read_one(s: socket.socket) -> dict:
    buf, dec = b"", json.JSONDecoder()
    while True:
        buf += s.recv(1 << 16)
        try:
            return dec.raw_decode(buf.decode())[0]
        except ValueError:
            continue


def slow_clients(pcap: str, conns: int, clients: int, fmt: str) -> dict:
    out: dict = {"conns": conns, "clients": clients, "format": fmt}
    with Ovsctd("--pcap", pcap, "--max-clients", str(clients + 100),
                timeout=300) as d:
        out["rss_idle_mb"] = mb(status_kb(d.pid, "VmRSS"))
        r = subprocess.run([OVS_APPCTL, "-t", d.socket,
                            "dpctl/dump-conntrack"], env=d.env,
                           stdout=subprocess.DEVNULL, timeout=300)
        assert r.returncode == 0
        time.sleep(1)
        out["rss_warm_mb"] = mb(status_kb(d.pid, "VmRSS"))
        socks = []
        t0 = time.perf_counter()
        for i in range(clients):
            s = connect(d.socket)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            if fmt == "json":
                send(s, 0, "set-options", ["--format", "json"])
                read_one(s)
            send(s, i + 1, "dpctl/dump-conntrack")
            socks.append(s)
        out["connect_s"] = round(time.perf_counter() - t0, 2)
        time.sleep(5)
        out["rss_during_mb"] = mb(status_kb(d.pid, "VmRSS"))
        out["rss_peak_mb"] = mb(status_kb(d.pid, "VmHWM"))
        t0 = time.perf_counter()
        r = subprocess.run([OVS_APPCTL, "-t", d.socket,
                            "dpctl/ct-get-nconns"], env=d.env,
                           capture_output=True, timeout=60)
        out["other_client_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["other_client_reply"] = r.stdout.decode().strip()
        for s in socks:
            s.close()
        time.sleep(2)
        subprocess.run([OVS_APPCTL, "-t", d.socket, "version"], env=d.env,
                       capture_output=True, timeout=60)
        time.sleep(0.5)
        out["rss_after_mb"] = mb(status_kb(d.pid, "VmRSS"))
        out["per_client_kb"] = round(
            (status_kb(d.pid, "VmHWM") - out["rss_warm_mb"] * 1024)
            / clients, 1)
    return out


def ttfb(pcap: str, conns: int) -> dict:
    out: dict = {"conns": conns}
    with Ovsctd("--pcap", pcap, timeout=600) as d:
        s = connect(d.socket)
        send(s, 0, "set-options", ["--format", "json"])
        read_one(s)
        t0 = time.perf_counter()
        send(s, 1, "dpctl/dump-conntrack")
        first = s.recv(1 << 16)
        out["ttfb_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        total = len(first)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if chunk.endswith(b',"error":null}'):
                break
        out["total_s"] = round(time.perf_counter() - t0, 2)
        out["bytes"] = total
        out["rss_peak_mb"] = mb(status_kb(d.pid, "VmHWM"))
        s.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--ttfb-conns", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.clients * 2 + 256
    if hard == resource.RLIM_INFINITY or hard >= want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))

    result: dict = {"machine": machine(), "command": " ".join(sys.argv)}
    with tempfile.TemporaryDirectory(prefix="ovsct-slow-") as tmp:
        pcap = os.path.join(tmp, "flows.pcap")
        if args.clients:
            write_udp_flows_pcap(pcap, args.conns)
            result["slow_clients"] = slow_clients(pcap, args.conns,
                                                  args.clients, args.format)
        if args.ttfb_conns:
            write_udp_flows_pcap(pcap, args.ttfb_conns)
            result["json_ttfb"] = ttfb(pcap, args.ttfb_conns)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
