#!/bin/sh
# compare_ovs.sh -- ovsct's "standard" benchmark next to Open vSwitch's own
# userspace conntrack, in the same run on the same machine, with ratios.
#
#   benchmarks/compare_ovs.sh [-n CONNS] [-b BATCH] [-t "1 2"] [-r REPEAT]
#
# Optional and slow the first time; never run in CI (it refuses when CI is
# set).  First use, as root: installs Debian's openvswitch-source package
# (apt-get), unpacks its tarball into $OVSCT_OVS_CACHE (default
# ~/.cache/ovsct-ovs), configures it and builds only lib/libopenvswitch.la
# at nice 19 (about 10 minutes on 2 vCPUs; OVS_MAKE_JOBS=N to use more),
# then links benchmarks/ovs_driver.c against it.  Later runs reuse the
# cache.  Debian 12 ships OVS 3.1.
#
# Each repetition runs, for each thread count, the OVS driver and then
# `ovsct bench standard --json` with the same connections, threads and batch
# size; the summary uses the best (lowest) figure of the repetitions.  Raw
# JSON lines go to $OVSCT_OVS_CACHE/last-run.jsonl.
set -eu

CONNS=1000000
BATCH=32
THREADS="1 2"
REPEAT=1
while getopts n:b:t:r:h opt; do
    case $opt in
    n) CONNS=$OPTARG ;;
    b) BATCH=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    r) REPEAT=$OPTARG ;;
    *) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done

if [ -n "${CI:-}" ]; then
    echo "compare_ovs.sh: not run in CI" >&2
    exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${OVSCT_OVS_CACHE:-$HOME/.cache/ovsct-ovs}
SRC=$CACHE/openvswitch
LIB=$SRC/lib/.libs/libopenvswitch.a
DRIVER=$CACHE/ovs_driver
JOBS=${OVS_MAKE_JOBS:-1}
mkdir -p "$CACHE"

log() { echo "compare_ovs.sh: $*" >&2; }

# 1. OVS sources.
if [ ! -x "$SRC/configure" ]; then
    TARBALL=/usr/src/openvswitch/openvswitch.tar.gz
    if [ ! -f "$TARBALL" ]; then
        log "installing openvswitch-source"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            openvswitch-source >&2 \
            || { apt-get update -q >&2 &&
                 DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                     openvswitch-source >&2; }
    fi
    log "unpacking $TARBALL into $CACHE"
    tar xzf "$TARBALL" -C "$CACHE"
fi

# 2. OVS library (generated headers first: a bare library target does not
#    build BUILT_SOURCES).
if [ ! -f "$LIB" ]; then
    log "building OVS's library in $SRC (log: $CACHE/build.log)"
    (
        cd "$SRC"
        if [ ! -f Makefile ]; then
            nice -n 19 ./configure --disable-ssl --disable-libcapng
        fi
        BUILT=$(printf 'print-built:\n\t@echo $(BUILT_SOURCES)\n' |
                make -s -f Makefile -f - print-built)
        nice -n 19 make -j"$JOBS" $BUILT
        nice -n 19 make -j"$JOBS" lib/libopenvswitch.la
    ) >"$CACHE/build.log" 2>&1 || {
        log "OVS build failed, see $CACHE/build.log"; exit 1; }
fi

# 3. The driver.
if [ ! -x "$DRIVER" ] || [ "$HERE/ovs_driver.c" -nt "$DRIVER" ] \
        || [ "$LIB" -nt "$DRIVER" ]; then
    log "linking $DRIVER"
    gcc -O2 -std=gnu11 -include "$SRC/config.h" -I"$SRC" -I"$SRC/include" \
        -I"$SRC/lib" -o "$DRIVER" "$HERE/ovs_driver.c" "$LIB" \
        -latomic -lm -lpthread -lrt
fi

# 4. The runs.
if command -v ovsct >/dev/null 2>&1 && ovsct bench --help >/dev/null 2>&1
then
    ovsct_bench() { ovsct bench "$@"; }
else
    ovsct_bench() {
        (cd "$ROOT" && python3 -c '
import argparse, sys
from ovsct import bench
p = argparse.ArgumentParser(prog="ovsct")
bench.add_parser(p.add_subparsers())
sys.exit(bench.run(p.parse_args(sys.argv[1:])))' bench "$@")
    }
fi

OUT=$CACHE/last-run.jsonl
: >"$OUT"
i=0
while [ "$i" -lt "$REPEAT" ]; do
    for t in $THREADS; do
        log "run $((i + 1))/$REPEAT: $CONNS conns, $t thread(s), batch $BATCH"
        "$DRIVER" "$CONNS" "$t" "$BATCH" >>"$OUT"
        ovsct_bench standard --conns "$CONNS" --threads "$t" \
            --batch "$BATCH" --json >>"$OUT"
    done
    i=$((i + 1))
done

# 5. Summary.
OVS_VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' \
              "$SRC/config.h")
python3 - "$OUT" "$OVS_VERSION" <<'EOF'
import json
import sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
best = {}
for r in runs:
    key = (r.get("engine", "ovsct"), r["threads"])
    b = best.setdefault(key, dict(r))
    for k, v in r.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            b[k] = min(b[k], v) if not k.endswith("mpps") else max(b[k], v)
    b["ok"] = b.get("ok", True) and r.get("ok", True)

reps = max(sum(1 for r in runs if (r.get("engine", "ovsct"), r["threads"])
               == key) for key in best)
print(f"OVS {sys.argv[2]} vs ovsct, {runs[0]['conns']:,} connections, "
      f"batch {runs[0]['batch']}, best of {reps}")
rows = [("metric", "threads", "OVS", "ovsct", "ovsct advantage")]
for t in sorted({k[1] for k in best}):
    o, c = best.get(("ovs", t)), best.get(("ovsct", t))
    if not o or not c:
        continue
    for k, unit in (("insert_ms", "ms"), ("lookup_ms", "ms"),
                    ("flush_ms", "ms"), ("bytes_per_conn_rss", "B/conn")):
        ratio = o[k] / c[k] if c[k] > 0 else float("inf")
        rows.append((k, str(t), f"{o[k]:.1f} {unit}", f"{c[k]:.1f} {unit}",
                     f"{ratio:.2f}x"))
one = best.get(("ovsct", 1))
for t in sorted({k[1] for k in best}):
    c = best.get(("ovsct", t))
    if one and c and t != 1:
        rows.append(("insert scaling", str(t), "", "",
                     f"{one['insert_ms'] / c['insert_ms']:.2f}x of 1 thread"))
# Memory is compared by resident set: OVS mallocs its connections, ovsct
# maps its own slabs, which malloc statistics do not see.
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
bad = [f"{e} t={t}" for (e, t), b in best.items() if not b.get("ok", True)]
if bad:
    print("checks FAILED: " + ", ".join(bad))
    sys.exit(1)
EOF
