#!/usr/bin/env python3
"""Live datapath figures: frames per second tracked from a veth, and the
latency a bridge adds.  Needs root (namespaces, AF_PACKET) and a C
compiler.

1. Throughput.  A bounded generator (benchmarks/live_gen.c: AF_PACKET with
   PACKET_QDISC_BYPASS and sendmmsg, 64-byte UDP frames over --flows
   flows) sends --count frames from namespace lv-p-gen into veth lv-p0,
   which ovsctd monitors (--interface=lv-p0, ct(commit)) with 1 and then
   2 workers.  Reported: the generator's rate, the frames tracked per
   second while they came in, the kernel ring drops at that rate, and the
   daemon's CPU use (cores busy) over the run.
2. Latency.  ping RTT between two namespaces over a direct veth pair, and
   between two namespaces through an ovsctd bridge (--firewall).

    sudo python3 benchmarks/live_bench.py [--count 2000000] [--flows 1000]

Prints one JSON object.  Every namespace and veth it creates starts with
lv-p and is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

from daemonlib import Ovsctd  # noqa: E402
from ovsct import client  # noqa: E402

GEN_SRC = os.path.join(ROOT, "benchmarks", "live_gen.c")
GEN_BIN = os.path.join(ROOT, "build", "live_gen")
PREFIX = "lv-p"


def sh(*argv: str, check: bool = True) -> str:
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


def cleanup() -> None:
    for name in sh("ip", "netns", "list", check=False).split():
        if name.startswith(PREFIX):
            sh("ip", "netns", "del", name, check=False)
    for line in sh("ip", "-o", "link", "show", check=False).splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            sh("ip", "link", "del", name, check=False)


def netns(name: str) -> str:
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    return name


def veth_to_ns(host: str, ns: str, peer: str, addr: str | None) -> None:
    sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer,
       "netns", ns)
    sh("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % host)
    sh("ip", "link", "set", host, "up")
    if addr:
        sh("ip", "-n", ns, "addr", "add", addr, "dev", peer)
    sh("ip", "-n", ns, "link", "set", peer, "up")


def show(sock: str) -> dict[str, dict[str, int]]:
    with client.UnixctlClient.connect(sock) as conn:
        err, text = conn.transact("ct/show-interfaces", [], timeout=5)
    rows = {}
    for line in str(text or "").splitlines():
        name = line.split(":")[0]
        rows[name] = {k: int(v) for k, v in
                      re.findall(r"(\w+)=(\d+)", line)}
    return rows


def cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(workers: int, count: int, flows: int) -> dict:
    with Ovsctd("--interface=lv-p0", "--workers=%d" % workers) as d:
        time.sleep(0.2)
        base = show(d.socket)["lv-p0"]
        cpu0 = cpu_seconds(d.pid)
        t0 = time.monotonic()
        gen = subprocess.Popen(["ip", "netns", "exec", "lv-p-gen", GEN_BIN,
                                "lv-p1", str(count), str(flows)],
                               stdout=subprocess.PIPE, text=True)
        last, t_last = base["tracked"], t0
        while True:
            time.sleep(0.02)
            row = show(d.socket)["lv-p0"]
            now = time.monotonic()
            if row["tracked"] != last:
                last, t_last = row["tracked"], now
            elif gen.poll() is not None and now - t_last > 0.5:
                break
        out = gen.stdout.read().split()
        cpu = cpu_seconds(d.pid) - cpu0
        sent, gen_s = int(out[1]), float(out[3])
        tracked = row["tracked"] - base["tracked"]
        busy = t_last - t0
        nconns = d.appctl("dpctl/ct-get-nconns").stdout.decode().strip()
    return {
        "workers": workers, "sent": sent,
        "generator_pps": round(sent / gen_s),
        "received": row["received"] - base["received"],
        "tracked": tracked,
        "tracked_pps": round(tracked / busy),
        "ring_drops": row["ring_drops"] - base["ring_drops"],
        "ring_drop_ratio": round((row["ring_drops"] - base["ring_drops"])
                                 / sent, 4),
        "daemon_cpu_cores": round(cpu / busy, 2),
        "daemon_ns_per_frame": round(cpu / max(tracked, 1) * 1e9),
        "generator_ns_per_frame": round(gen_s / max(sent, 1) * 1e9),
        "nconns": int(nconns or 0),
    }


def rtt(ns: str, addr: str, count: int) -> dict:
    out = sh("ip", "netns", "exec", ns, "ping", "-q", "-c", str(count),
             "-i", "0.005", "-W", "1", addr)
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    loss = re.search(r"([\d.]+)% packet loss", out)
    return {"min_ms": float(m.group(1)), "avg_ms": float(m.group(2)),
            "max_ms": float(m.group(3)), "loss_pct": float(loss.group(1))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--pings", type=int, default=200)
    args = parser.parse_args()
    if os.geteuid():
        print("live_bench.py needs root", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(GEN_BIN), exist_ok=True)
    sh("cc", "-O2", "-I", os.path.join(ROOT, "bench"), "-o", GEN_BIN,
       GEN_SRC)
    result: dict = {"count": args.count, "flows": args.flows,
                    "frame_bytes": 60}
    cleanup()
    try:
        netns("lv-p-gen")
        veth_to_ns("lv-p0", "lv-p-gen", "lv-p1", None)
        result["throughput"] = [throughput(w, args.count, args.flows)
                                for w in (1, 2)]

        # Direct veth between two namespaces.
        netns("lv-p-a")
        netns("lv-p-b")
        sh("ip", "-n", "lv-p-a", "link", "add", "lv-pa1", "type", "veth",
           "peer", "name", "lv-pb1", "netns", "lv-p-b")
        sh("ip", "-n", "lv-p-a", "addr", "add", "10.83.0.1/24", "dev",
           "lv-pa1")
        sh("ip", "-n", "lv-p-b", "addr", "add", "10.83.0.2/24", "dev",
           "lv-pb1")
        sh("ip", "-n", "lv-p-a", "link", "set", "lv-pa1", "up")
        sh("ip", "-n", "lv-p-b", "link", "set", "lv-pb1", "up")
        rtt("lv-p-a", "10.83.0.2", 3)
        result["rtt_direct"] = rtt("lv-p-a", "10.83.0.2", args.pings)

        # The same through an ovsctd bridge with the firewall.
        netns("lv-p-c")
        netns("lv-p-d")
        veth_to_ns("lv-pc0", "lv-p-c", "lv-pc1", "10.84.0.1/24")
        veth_to_ns("lv-pd0", "lv-p-d", "lv-pd1", "10.84.0.2/24")
        with Ovsctd("--bridge=lv-pc0,lv-pd0", "--firewall"):
            rtt("lv-p-c", "10.84.0.2", 3)
            result["rtt_bridge"] = rtt("lv-p-c", "10.84.0.2", args.pings)
        result["bridge_added_ms"] = round(
            result["rtt_bridge"]["avg_ms"] - result["rtt_direct"]["avg_ms"],
            3)
    finally:
        cleanup()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
